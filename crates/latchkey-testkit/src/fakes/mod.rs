//! Named fakes of identity providers no registry can install, for the behaviours the
//! real fixtures cannot show: each `fake_<provider>` reproduces that provider's
//! *documented* discovery document and token-endpoint behaviour, citing the documentation
//! of each behaviour in its module comment. They are loopback HTTP servers on their own
//! thread (usable from async and blocking tests), counting the requests they receive, and
//! they sign ID tokens with a test key ([`signing::KEY_ID`]) published at their JWKS URL.
//!
//! They are not the provider: they answer what its documentation says, not every detail
//! of the live service (`docs/interop.md` marks what was checked against them).
//!
//! DHIS2's fake predates this module: [`crate::fake_dhis2`].

pub mod fake_auth0;
pub mod fake_entra;
pub mod fake_github;
pub mod fake_google;
pub mod fake_keycloak;
pub mod fake_okta;
mod server;
pub mod signing;

pub use server::Seen;
