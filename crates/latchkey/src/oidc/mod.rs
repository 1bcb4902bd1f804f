//! OpenID Connect: discovery, JWKS, ID token validation, userinfo, introspection and the
//! end-session URL.
//!
//! [`OidcProvider`] is the handle most callers want: it discovers the provider's metadata once
//! (cached per issuer), owns a [`JwksCache`], and hands out [`IdTokenValidator`]s, pre-filled
//! [`crate::OAuthClientBuilder`]s, userinfo and introspection calls.
//!
//! ```no_run
//! # async fn demo() -> Result<(), latchkey::Error> {
//! use latchkey::oidc::OidcProvider;
//! let provider = OidcProvider::discover("https://idp.example.org/realms/demo").await?;
//! let client = provider.client_builder("my-app").build()?;
//! let validator = provider.id_token_validator("my-app")?.build()?;
//! # let _ = (client, validator); Ok(()) }
//! ```

mod discovery;
mod end_session;
mod error;
mod fetch;
mod id_token;
pub(crate) mod introspection;
mod jwks;
mod mtls_aliases;
mod provider;
pub(crate) mod userinfo;
mod well_known;

pub use discovery::{DiscoveryCache, DiscoveryOptions, ProviderMetadata};
pub use end_session::EndSessionUrl;
pub use error::{IdTokenError, OidcError};
pub use id_token::{
    Audience, IdTokenClaims, IdTokenValidator, IdTokenValidatorBuilder, issuer_from_template,
};
pub use introspection::Introspection;
pub use jwks::{JwksCache, JwksCacheBuilder};
pub use mtls_aliases::MtlsEndpointAliases;
pub use provider::OidcProvider;
pub use userinfo::UserInfo;
