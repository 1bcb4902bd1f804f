//! The integration tests of latchkey-axum, one binary: the route tests through `oneshot`
//! against the IdP fixture, the no-secrets check, two instances sharing Redis (feature
//! `redis`), `return_to` properties, and the example app in headless Chromium.

mod no_secrets;
mod return_to;
mod routes;
#[cfg(feature = "redis")]
mod shared_sessions;
mod support;
mod web_app_browser;
