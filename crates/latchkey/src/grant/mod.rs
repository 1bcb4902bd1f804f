//! How a first token set is obtained.
//!
//! A [`Grant`] knows the grant-specific part of a token request; the [`OAuthClient`] adds
//! client authentication and sends it; the [`crate::TokenManager`] decides when to call it.

mod authorization_code;
mod browser;
mod client_credentials;
pub(crate) mod device;
pub mod jwt_bearer;
mod password;
mod refresh_token;
pub mod token_exchange;
mod web_login;

use std::fmt;

use async_trait::async_trait;

pub use crate::authorization::IdTokenCheck;
pub use authorization_code::{AuthorizationCode, AuthorizationCodeBuilder};
pub use browser::{BrowserMode, RedirectCapturer, UrlOpener};
pub use client_credentials::ClientCredentials;
pub use device::{DeviceCode, DeviceCodeBuilder, DevicePrompt, DevicePromptCallback};
pub use jwt_bearer::{JwtBearer, JwtBearerBuilder};
pub use password::Password;
pub use refresh_token::RefreshTokenOnly;
pub use token_exchange::{TokenExchange, TokenExchangeBuilder, token_type};
pub use web_login::{PendingLogin, WebLogin, WebLoginBuilder, WebLoginOutcome};

use crate::client::OAuthClient;
use crate::error::Result;
use crate::resource::Resource;
use crate::token::TokenSet;

/// The grant kinds latchkey knows, for status output and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantKind {
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §4.3 (Keycloak / CDSE style, optionally with `totp`).
    Password,
    /// Only a refresh token obtained elsewhere; ends when it does.
    RefreshToken,
    /// RFC 6749 §4.1 with PKCE.
    AuthorizationCode,
    /// RFC 8628.
    DeviceCode,
    /// RFC 8693 token exchange.
    TokenExchange,
    /// RFC 7523 §2.1 JWT bearer assertion.
    JwtBearer,
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrantKind::ClientCredentials => "client-credentials",
            GrantKind::Password => "password",
            GrantKind::RefreshToken => "refresh-token",
            GrantKind::AuthorizationCode => "authorization-code",
            GrantKind::DeviceCode => "device-code",
            GrantKind::TokenExchange => "token-exchange",
            GrantKind::JwtBearer => "jwt-bearer",
        })
    }
}

/// Obtains a first [`TokenSet`] from the identity provider.
#[async_trait]
pub trait Grant: Send + Sync + fmt::Debug {
    /// Which grant this is.
    fn kind(&self) -> GrantKind;

    /// Whether [`Grant::obtain`] can run without a person (no browser, no one-time code).
    /// The manager re-authenticates on its own only when this is true.
    fn can_run_unattended(&self) -> bool;

    /// Runs the grant and returns fresh tokens.
    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet>;

    /// Tokens to start from before anything was obtained or stored (a refresh token given
    /// by the user). Most grants have none.
    fn seed(&self) -> Option<TokenSet> {
        None
    }

    /// The resources (RFC 8707) this grant asks tokens for; the first is the one every token
    /// request names, refreshes included (see [`crate::Resource`]). Most grants have none.
    fn resources(&self) -> &[Resource] {
        &[]
    }

    /// The same grant asking for a token for `resource` alone, when it can run unattended and
    /// knows how; [`crate::TokenManager::for_resource`] uses it. `None` otherwise: tokens for
    /// another resource then come from the refresh token (RFC 8707 §2.2).
    fn for_resource(&self, _resource: Resource) -> Option<std::sync::Arc<dyn Grant>> {
        None
    }
}

/// Joins scopes for a request (RFC 6749 §3.3: space-delimited).
/// A grant chosen at run time (from a profile, say) is a grant too.
#[async_trait]
impl<G: Grant + ?Sized> Grant for std::sync::Arc<G> {
    fn kind(&self) -> GrantKind {
        (**self).kind()
    }
    fn can_run_unattended(&self) -> bool {
        (**self).can_run_unattended()
    }
    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        (**self).obtain(client).await
    }
    fn seed(&self) -> Option<TokenSet> {
        (**self).seed()
    }
    fn resources(&self) -> &[Resource] {
        (**self).resources()
    }
    fn for_resource(&self, resource: Resource) -> Option<std::sync::Arc<dyn Grant>> {
        (**self).for_resource(resource)
    }
}

pub(crate) use crate::authorization::scope_param;
