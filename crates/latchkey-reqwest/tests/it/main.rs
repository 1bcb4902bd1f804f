//! The integration tests of `latchkey-reqwest`, in one test binary with one module per concern.

mod dpop;
mod middleware;
mod step_up;
