//! The integration tests of latchkey-axum, one binary: the route tests through `oneshot`
//! against the IdP fixture, roles, the protect-all layer, session tokens without cookies,
//! the no-secrets check, two instances sharing Redis (feature `redis`), `return_to`
//! properties, and the example app and a protected app in headless Chromium.

mod deploy_browser;
mod no_secrets;
mod protect_all;
mod protected_login;
mod return_to;
mod roles;
mod routes;
mod session_tokens;
#[cfg(feature = "redis")]
mod shared_sessions;
mod support;
mod web_app_browser;
