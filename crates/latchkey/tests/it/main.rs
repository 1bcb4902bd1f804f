//! The integration tests of `latchkey`, one module per concern, in one test binary (one link
//! instead of one per file). Run one module with a filter: `cargo test -p latchkey
//! --all-features --test it -- grants::`.

mod support;

mod client_auth_methods;
mod client_redirects;
mod device_flow;
mod dhis2;
mod dpop;
mod exchange;
mod fault_tolerance;
mod first_call_login;
mod glewlwyd;
mod grants;
mod login_browser;
mod login_http;
mod login_protected;
mod loopback;
mod manager_concurrency;
mod manager_faults;
mod manager_refresh;
mod manager_store_key;
mod matrix;
mod no_secrets;
mod oidc_discovery;
mod oidc_id_token;
mod oidc_jwks;
mod profiles_project;
mod properties;
mod provider_fakes;
mod provider_quirks;
mod resource_indicators;
mod revocation_github;
mod step_up;
mod store_file;
#[cfg(feature = "keyring")]
mod store_keyring;
#[cfg(any(feature = "sqlite", feature = "redis"))]
mod store_lease;
#[cfg(feature = "redis")]
mod store_redis;
// The SQLite tests check unix modes; Windows runs only the file store and CLI tests.
#[cfg(all(feature = "sqlite", unix))]
mod store_sqlite;
