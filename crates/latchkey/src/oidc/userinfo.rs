//! The userinfo endpoint (OIDC Core §5.3): claims about the user behind an access token.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::OidcError;
use super::fetch;
use crate::error::{Error, Result};
use crate::redact::DisplayUrl;

/// The userinfo response: `sub` plus every other claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserInfo {
    /// The subject; must equal the ID token's `sub` (OIDC Core §5.3.2).
    pub sub: String,
    /// Every other claim (`name`, `email`, …).
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl UserInfo {
    /// A string claim, e.g. `email`.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name)?.as_str()
    }
}

/// GETs `url` with `access_token` as a Bearer token (RFC 6750 §2.1). With `expected_sub`
/// (the ID token's subject) a response about someone else is refused (OIDC Core §5.3.2).
pub(crate) async fn fetch_userinfo(
    http: &reqwest::Client,
    url: &Url,
    access_token: &SecretString,
    expected_sub: Option<&str>,
) -> Result<UserInfo> {
    let fetched = fetch::get(http, url, Some(access_token)).await?;
    if fetched.status != 200 {
        return Err(Error::HttpStatus {
            url: DisplayUrl::new(url),
            status: fetched.status,
            retry_after: None,
        });
    }
    parse_userinfo(&fetched.body, fetched.content_type.as_deref(), expected_sub).map_err(|reason| {
        Error::from(OidcError::InvalidDocument {
            url: DisplayUrl::new(url),
            reason,
        })
    })
}

/// Reads a userinfo response body; the error says what is wrong without quoting the body.
pub(crate) fn parse_userinfo(
    body: &[u8],
    content_type: Option<&str>,
    expected_sub: Option<&str>,
) -> std::result::Result<UserInfo, String> {
    if content_type.is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/jwt")) {
        return Err("signed or encrypted userinfo responses are not supported".into());
    }
    let info: UserInfo = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not a userinfo object ({})",
            crate::redact::scrub_serde_error(&e)
        )
    })?;
    if let Some(expected) = expected_sub
        && info.sub != expected
    {
        return Err("its `sub` is not the ID token's subject".into());
    }
    Ok(info)
}
