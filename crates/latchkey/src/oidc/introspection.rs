//! Token introspection (RFC 7662): ask the provider whether a token is active.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::OidcError;
use crate::client::OAuthClient;
use crate::error::Result;
use crate::redact::DisplayUrl;

/// An introspection response (RFC 7662 §2.2). Only `active` is guaranteed; an inactive
/// token carries nothing else.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is currently active.
    pub active: bool,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The resource owner's username.
    #[serde(default)]
    pub username: Option<String>,
    /// The token type.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default)]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<u64>,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// POSTs `token` to the introspection endpoint `url`, authenticated as `client`
/// (RFC 7662 §2.1 requires the caller to be authorized; client authentication is the usual way).
pub(crate) async fn introspect(
    client: &OAuthClient,
    url: &Url,
    token: &SecretString,
    hint: Option<&str>,
) -> Result<Introspection> {
    let mut form = vec![("token".to_owned(), token.expose_secret().to_owned())];
    if let Some(hint) = hint {
        form.push(("token_type_hint".to_owned(), hint.to_owned()));
    }
    let basic = client
        .auth()
        .apply(client.client_id(), url, &mut form)
        .await?;
    let response = client.post_form(url, &form, basic).await?;
    if !response.status.is_success() {
        return Err(response.error(url));
    }
    parse_introspection(&response.body).map_err(|reason| {
        OidcError::InvalidDocument {
            url: DisplayUrl::new(url),
            reason,
        }
        .into()
    })
}

/// Reads an introspection response body; the error keeps where and what kind, never the
/// values (serde's own message can quote them).
pub(crate) fn parse_introspection(body: &[u8]) -> std::result::Result<Introspection, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "not an introspection response ({})",
            crate::redact::scrub_serde_error(&e)
        )
    })
}
