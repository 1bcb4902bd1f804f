//! The two metadata documents a provider may publish, fetched and merged.
//!
//! OpenID Connect Discovery 1.0 §4 puts the document at `<issuer>/.well-known/openid-configuration`;
//! RFC 8414 §3.1 puts OAuth authorization-server metadata at
//! `https://host/.well-known/oauth-authorization-server/<issuer path>`, and many servers
//! serve it OIDC-style at `<issuer>/.well-known/oauth-authorization-server` as well. Some
//! providers list an endpoint only in the RFC 8414 document (a Django OAuth Toolkit server
//! names its revocation and introspection endpoints there, not in its OpenID document), so
//! [`RawMetadata::fill_from`] lets one document complete the other.

use url::Url;

use super::error::OidcError;
use super::fetch;
use crate::error::{Error, Result};
use crate::redact::DisplayUrl;

/// A metadata document as sent: every field optional, checked later by
/// `ProviderMetadata::from_raw`.
#[derive(Debug, Clone, serde::Deserialize)]
pub(super) struct RawMetadata {
    pub(super) issuer: Option<String>,
    pub(super) token_endpoint: Option<String>,
    pub(super) authorization_endpoint: Option<String>,
    pub(super) device_authorization_endpoint: Option<String>,
    pub(super) jwks_uri: Option<String>,
    pub(super) userinfo_endpoint: Option<String>,
    pub(super) revocation_endpoint: Option<String>,
    pub(super) introspection_endpoint: Option<String>,
    pub(super) end_session_endpoint: Option<String>,
    #[serde(default)]
    pub(super) scopes_supported: Vec<String>,
    #[serde(default)]
    pub(super) grant_types_supported: Vec<String>,
    #[serde(default)]
    pub(super) token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub(super) id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub(super) code_challenge_methods_supported: Vec<String>,
    pub(super) authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(flatten)]
    pub(super) extra: serde_json::Map<String, serde_json::Value>,
}

impl RawMetadata {
    /// The endpoints an OpenID document may leave to the RFC 8414 one and that latchkey
    /// uses (`logout --revoke`, introspection, `login --device`): only when one of these is
    /// missing is the second document worth a request.
    pub(super) fn missing_oauth_endpoints(&self) -> Vec<&'static str> {
        let absent = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
        [
            ("revocation_endpoint", &self.revocation_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
            (
                "device_authorization_endpoint",
                &self.device_authorization_endpoint,
            ),
        ]
        .into_iter()
        .filter(|(_, v)| absent(v))
        .map(|(name, _)| name)
        .collect()
    }

    /// Takes from `other` every field this document does not name; where both name one,
    /// this document's value stays. The issuer is never taken: both must already match.
    pub(super) fn fill_from(&mut self, other: RawMetadata) {
        fn url(mine: &mut Option<String>, theirs: Option<String>) {
            if mine.as_deref().is_none_or(str::is_empty) {
                *mine = theirs;
            }
        }
        fn list(mine: &mut Vec<String>, theirs: Vec<String>) {
            if mine.is_empty() {
                *mine = theirs;
            }
        }
        url(&mut self.token_endpoint, other.token_endpoint);
        url(
            &mut self.authorization_endpoint,
            other.authorization_endpoint,
        );
        url(
            &mut self.device_authorization_endpoint,
            other.device_authorization_endpoint,
        );
        url(&mut self.jwks_uri, other.jwks_uri);
        url(&mut self.userinfo_endpoint, other.userinfo_endpoint);
        url(&mut self.revocation_endpoint, other.revocation_endpoint);
        url(
            &mut self.introspection_endpoint,
            other.introspection_endpoint,
        );
        url(&mut self.end_session_endpoint, other.end_session_endpoint);
        list(&mut self.scopes_supported, other.scopes_supported);
        list(&mut self.grant_types_supported, other.grant_types_supported);
        list(
            &mut self.token_endpoint_auth_methods_supported,
            other.token_endpoint_auth_methods_supported,
        );
        list(
            &mut self.id_token_signing_alg_values_supported,
            other.id_token_signing_alg_values_supported,
        );
        list(
            &mut self.code_challenge_methods_supported,
            other.code_challenge_methods_supported,
        );
        if self
            .authorization_response_iss_parameter_supported
            .is_none()
        {
            self.authorization_response_iss_parameter_supported =
                other.authorization_response_iss_parameter_supported;
        }
        for (name, value) in other.extra {
            self.extra.entry(name).or_insert(value);
        }
    }
}

/// Where `issuer`'s documents may be.
pub(super) struct WellKnown {
    /// OIDC Discovery §4: `<issuer>/.well-known/openid-configuration`.
    pub(super) openid: Url,
    /// RFC 8414 §3.1 first (the segment before the issuer's path), then the OIDC-style
    /// suffix; one URL when the issuer has no path, where both are the same.
    pub(super) oauth: Vec<Url>,
}

impl WellKnown {
    pub(super) fn new(issuer: &Url) -> Self {
        let path = issuer.path().trim_end_matches('/').to_owned();
        let mut base = issuer.clone();
        base.set_query(None);
        base.set_fragment(None);
        let at = |path: &str| {
            let mut url = base.clone();
            url.set_path(path);
            url
        };
        let rfc8414 = at(&format!("/.well-known/oauth-authorization-server{path}"));
        let suffix = at(&format!("{path}/.well-known/oauth-authorization-server"));
        let mut oauth = vec![rfc8414];
        if !oauth.contains(&suffix) {
            oauth.push(suffix);
        }
        Self {
            openid: at(&format!("{path}/.well-known/openid-configuration")),
            oauth,
        }
    }
}

/// What one well-known URL gave.
pub(super) enum Fetched {
    /// A JSON object in the shape of a metadata document.
    Document(Box<RawMetadata>),
    /// Nothing usable, and why (`HTTP 404`, `an HTML page`, `not a JSON object`): the
    /// provider may still publish at the other location.
    Nothing(String),
}

/// GETs one well-known URL. A 5xx is a retryable error (the provider exists but is
/// failing), and so is a JSON object that is not a metadata document.
pub(super) async fn fetch_document(http: &reqwest::Client, url: &Url) -> Result<Fetched> {
    let fetched = fetch::get(http, url, None).await?;
    if fetched.status >= 500 {
        return Err(Error::HttpStatus {
            url: DisplayUrl::new(url),
            status: fetched.status,
            retry_after: None,
        });
    }
    if fetched.status != 200 {
        return Ok(Fetched::Nothing(format!("HTTP {}", fetched.status)));
    }
    if fetched.is_html() {
        return Ok(Fetched::Nothing("an HTML page".into()));
    }
    match serde_json::from_slice::<serde_json::Value>(&fetched.body) {
        Ok(serde_json::Value::Object(_)) => serde_json::from_slice::<RawMetadata>(&fetched.body)
            .map(|raw| Fetched::Document(Box::new(raw)))
            .map_err(|e| {
                OidcError::InvalidDocument {
                    url: DisplayUrl::new(url),
                    reason: crate::redact::scrub_serde_error(&e),
                }
                .into()
            }),
        _ => Ok(Fetched::Nothing("not a JSON object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_both_specs() {
        let urls = WellKnown::new(&Url::parse("https://idp.example/realms/demo/").unwrap());
        assert_eq!(
            urls.openid.as_str(),
            "https://idp.example/realms/demo/.well-known/openid-configuration"
        );
        let oauth: Vec<&str> = urls.oauth.iter().map(Url::as_str).collect();
        assert_eq!(
            oauth,
            [
                "https://idp.example/.well-known/oauth-authorization-server/realms/demo",
                "https://idp.example/realms/demo/.well-known/oauth-authorization-server",
            ]
        );
        let urls = WellKnown::new(&Url::parse("https://idp.example").unwrap());
        assert_eq!(
            urls.openid.as_str(),
            "https://idp.example/.well-known/openid-configuration"
        );
        let oauth: Vec<&str> = urls.oauth.iter().map(Url::as_str).collect();
        assert_eq!(
            oauth,
            ["https://idp.example/.well-known/oauth-authorization-server"],
            "one location when the issuer has no path"
        );
    }

    fn raw(json: serde_json::Value) -> RawMetadata {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_first_document_wins_and_the_second_fills_gaps() {
        let mut openid = raw(serde_json::json!({
            "issuer": "https://i",
            "token_endpoint": "https://i/token",
            "revocation_endpoint": "",
            "scopes_supported": ["openid"],
            "authorization_response_iss_parameter_supported": false,
            "custom": 1
        }));
        assert_eq!(
            openid.missing_oauth_endpoints(),
            [
                "revocation_endpoint",
                "introspection_endpoint",
                "device_authorization_endpoint"
            ]
        );
        openid.fill_from(raw(serde_json::json!({
            "issuer": "https://i",
            "token_endpoint": "https://elsewhere/token",
            "revocation_endpoint": "https://i/revoke",
            "device_authorization_endpoint": "https://i/device",
            "scopes_supported": ["other"],
            "grant_types_supported": ["refresh_token"],
            "authorization_response_iss_parameter_supported": true,
            "custom": 2,
            "registration_endpoint": "https://i/register"
        })));
        assert_eq!(openid.token_endpoint.as_deref(), Some("https://i/token"));
        assert_eq!(
            openid.revocation_endpoint.as_deref(),
            Some("https://i/revoke")
        );
        assert_eq!(
            openid.device_authorization_endpoint.as_deref(),
            Some("https://i/device")
        );
        assert_eq!(openid.introspection_endpoint, None);
        assert_eq!(openid.scopes_supported, ["openid"]);
        assert_eq!(openid.grant_types_supported, ["refresh_token"]);
        assert_eq!(
            openid.authorization_response_iss_parameter_supported,
            Some(false)
        );
        assert_eq!(openid.extra["custom"], 1);
        assert_eq!(openid.extra["registration_endpoint"], "https://i/register");
        assert_eq!(openid.missing_oauth_endpoints(), ["introspection_endpoint"]);
    }
}
