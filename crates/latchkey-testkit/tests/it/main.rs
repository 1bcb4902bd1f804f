//! The integration tests of `latchkey-testkit`, in one test binary with one module per concern.
//! The cross-process tests need the store worker, built only with the `stores` feature.

#[cfg(feature = "stores")]
mod cross_process;
