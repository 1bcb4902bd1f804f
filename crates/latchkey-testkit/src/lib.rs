//! Test harness for latchkey (not published).
//!
//! - [`Idp`]: starts the bundled identity provider fixture (`tests/idp`, oidc-provider from
//!   npm) on a free loopback port, and talks to its admin side: request counters, fault
//!   injection, token lifetimes, TOTP codes, key rotation.
//! - [`conformance`]: the store conformance suite every `TokenStore` backend must pass.
//! - [`browser`]: real headless Chromium through chromedriver, for browser tests, and the
//!   fixture's login and consent typed into it.
//! - [`clients`]: the fixture's registered clients and users.
//! - [`person`]: a scripted person with a browser (cookie jar, real IdP forms): logs in,
//!   consents, approves device logins, cancels.
//! - [`keyring`]: GNOME Keyring in a private D-Bus session.
//! - [`RedisServer`]: a throwaway `redis-server` on a free loopback port.
//! - [`glewlwyd`]: a fresh, provisioned glewlwyd (a second, independent OpenID provider) per
//!   test, and a person driving its login API.
//! - [`lemonldap`]: a fresh LemonLDAP::NG portal (a third, independent OpenID provider) per
//!   test, served by `plackup`, and its HTML login form filled in.
//! - [`matrix`]: the providers the scenario matrix runs against and what each supports.
//! - [`fake_dhis2`]: a loopback server with DHIS2's OAuth quirks (authorization server off,
//!   the token endpoint's trailing-slash redirect, the API's bearer-token refusals).
//! - [`fakes`]: `fake_keycloak`, `fake_entra`, `fake_okta`, `fake_auth0`, `fake_google`
//!   and `fake_github`, each reproducing its provider's documented discovery and
//!   token-endpoint behaviour.
//! - [`workload`]: the fixture's token exchange and jwt-bearer clients, its trusted "workload
//!   issuer" and service account, JWTs signed as them, and a Google-style key file.
//! - [`fake_github_actions`]: a loopback stand-in for the GitHub Actions ID-token endpoint.

pub mod browser;
pub mod clients;
pub mod conformance;
pub mod fake_dhis2;
pub mod fake_github_actions;
pub mod fakes;
pub mod glewlwyd;
mod idp;
pub mod keyring;
pub mod lemonldap;
pub mod logs;
pub mod matrix;
mod mtls;
pub mod person;
mod redis;
#[cfg(feature = "stores")]
pub mod worker_store;
pub mod workload;

pub use glewlwyd::Glewlwyd;
pub use idp::{Counters, Idp};
pub use lemonldap::LemonLdap;
pub use mtls::MtlsFiles;
pub use redis::{
    RedisCluster, RedisSentinels, RedisServer, RedisServerBuilder, SENTINEL_SERVICE, SlotMigration,
    TestPki,
};
