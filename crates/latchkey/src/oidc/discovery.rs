//! Provider metadata: OIDC Discovery 1.0 completed or replaced by RFC 8414 metadata, cached
//! per issuer.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use url::Url;

use super::error::OidcError;
use super::well_known::{Fetched, RawMetadata, WellKnown, fetch_document};
use crate::client::OAuthClientBuilder;
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::redact::DisplayUrl;

/// What an authorization server announces about itself (OIDC Discovery §3, RFC 8414 §2).
///
/// Endpoints are parsed and checked (HTTPS unless loopback, or allowed for testing).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier, exactly as the provider spells it (Microsoft's multi-tenant
    /// metadata holds the template `…/{tenantid}/v2.0`).
    pub issuer: String,
    /// The token endpoint.
    pub token_endpoint: Url,
    /// The authorization endpoint.
    pub authorization_endpoint: Option<Url>,
    /// The device authorization endpoint (RFC 8628).
    pub device_authorization_endpoint: Option<Url>,
    /// The JWKS URI, needed to validate ID tokens.
    pub jwks_uri: Option<Url>,
    /// The userinfo endpoint.
    pub userinfo_endpoint: Option<Url>,
    /// The revocation endpoint (RFC 7009).
    pub revocation_endpoint: Option<Url>,
    /// The introspection endpoint (RFC 7662).
    pub introspection_endpoint: Option<Url>,
    /// The end-session endpoint (OIDC RP-Initiated Logout).
    pub end_session_endpoint: Option<Url>,
    /// `scopes_supported`.
    pub scopes_supported: Vec<String>,
    /// `grant_types_supported`.
    pub grant_types_supported: Vec<String>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `id_token_signing_alg_values_supported` (OIDC requires RS256 to be among them).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `code_challenge_methods_supported` (RFC 7636).
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: the authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// Every other field of the document.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ProviderMetadata {
    /// Metadata for a provider without discovery (GitHub, a bare OAuth 2 server).
    pub fn new(issuer: impl Into<String>, token_endpoint: Url) -> Self {
        Self {
            issuer: issuer.into(),
            token_endpoint,
            authorization_endpoint: None,
            device_authorization_endpoint: None,
            jwks_uri: None,
            userinfo_endpoint: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            end_session_endpoint: None,
            scopes_supported: Vec::new(),
            grant_types_supported: Vec::new(),
            token_endpoint_auth_methods_supported: Vec::new(),
            id_token_signing_alg_values_supported: Vec::new(),
            code_challenge_methods_supported: Vec::new(),
            authorization_response_iss_parameter_supported: false,
            extra: serde_json::Map::new(),
        }
    }

    /// Fetches and checks the metadata of `issuer` (uncached; see [`DiscoveryCache`]).
    ///
    /// The OpenID document (`<issuer>/.well-known/openid-configuration`) comes first. When it
    /// lacks an endpoint that a provider may list only in its RFC 8414 document (revocation,
    /// introspection, device authorization), that document is fetched too and fills the
    /// gaps; where both name a field, the OpenID document wins. The RFC 8414 document is
    /// looked for at its §3.1 location, then at the OIDC-style suffix (the same URL, so one
    /// request, for an issuer without a path). A provider whose OpenID document is complete
    /// costs one request; one that lacks such an endpoint and has no RFC 8414 document
    /// costs one or two 404s more, once per cache lifetime. The supplement is optional: a
    /// document that is missing, failing, malformed or about another issuer is ignored
    /// (logged at debug level), never merged. Without an OpenID document, the RFC 8414
    /// document alone is used.
    pub async fn discover(issuer: &str, options: &DiscoveryOptions) -> Result<Self> {
        let issuer_url = crate::http::endpoint("issuer", issuer, options.allow_insecure_http)?;
        let http = match &options.http {
            Some(http) => http.clone(),
            None => crate::http::http_client()?,
        };
        let insecure = options.allow_insecure_http;
        let urls = WellKnown::new(&issuer_url);
        let mut reasons = Vec::with_capacity(3);
        match fetch_document(&http, &urls.openid).await? {
            Fetched::Document(raw) => {
                // Checked alone first: a wrong issuer or a missing token endpoint in the
                // OpenID document is an error whatever the other document says.
                Self::from_raw((*raw).clone(), issuer, &urls.openid, insecure)?;
                let mut raw = *raw;
                let missing = raw.missing_oauth_endpoints();
                if !missing.is_empty()
                    && let Some(oauth) =
                        Self::supplement(&http, &urls.oauth, issuer, insecure, &missing).await
                {
                    raw.fill_from(oauth);
                }
                return Self::from_raw(raw, issuer, &urls.openid, insecure);
            }
            Fetched::Nothing(reason) => reasons.push(format!("openid-configuration: {reason}")),
        }
        for url in &urls.oauth {
            match fetch_document(&http, url).await? {
                Fetched::Document(raw) => return Self::from_raw(*raw, issuer, url, insecure),
                Fetched::Nothing(reason) => {
                    reasons.push(format!("oauth-authorization-server: {reason}"));
                }
            }
        }
        Err(OidcError::NotAnAuthorizationServer {
            url: DisplayUrl::new(&issuer_url),
            reason: reasons.join("; "),
            server_setup: &[],
        }
        .into())
    }

    /// The RFC 8414 document that completes an OpenID document lacking `missing`, when
    /// there is a usable one about `issuer`. Every failure here only means "no supplement".
    async fn supplement(
        http: &reqwest::Client,
        urls: &[Url],
        issuer: &str,
        insecure: bool,
        missing: &[&str],
    ) -> Option<RawMetadata> {
        for url in urls {
            let shown = DisplayUrl::new(url);
            match fetch_document(http, url).await {
                Ok(Fetched::Document(raw)) => {
                    // Checked alone: a document about another issuer, or with unusable
                    // endpoints, must not lend its fields to this one.
                    match Self::from_raw((*raw).clone(), issuer, url, insecure) {
                        Ok(_) => return Some(*raw),
                        Err(err) => {
                            tracing::debug!(url = %shown, error = %err, "RFC 8414 metadata ignored");
                        }
                    }
                }
                Ok(Fetched::Nothing(reason)) => {
                    tracing::debug!(url = %shown, reason, ?missing, "no RFC 8414 metadata here");
                }
                Err(err) => {
                    tracing::debug!(url = %shown, error = %err, "RFC 8414 metadata not fetched");
                }
            }
        }
        None
    }

    fn from_raw(raw: RawMetadata, requested: &str, url: &Url, insecure: bool) -> Result<Self> {
        let advertised = raw.issuer.ok_or_else(|| OidcError::InvalidDocument {
            url: DisplayUrl::new(url),
            reason: "no `issuer`".into(),
        })?;
        if !issuer_matches(requested, &advertised) {
            return Err(OidcError::IssuerMismatch {
                requested: requested.into(),
                advertised,
            }
            .into());
        }
        let token_raw = raw
            .token_endpoint
            .ok_or_else(|| OidcError::MissingEndpoint {
                issuer: advertised.clone(),
                field: "token_endpoint",
            })?;
        let parse = |field: &str, raw: Option<String>| -> Result<Option<Url>> {
            raw.filter(|s| !s.is_empty())
                .map(|s| crate::http::endpoint(field, &s, insecure))
                .transpose()
        };
        Ok(Self {
            token_endpoint: crate::http::endpoint("token_endpoint", &token_raw, insecure)?,
            authorization_endpoint: parse("authorization_endpoint", raw.authorization_endpoint)?,
            device_authorization_endpoint: parse(
                "device_authorization_endpoint",
                raw.device_authorization_endpoint,
            )?,
            jwks_uri: parse("jwks_uri", raw.jwks_uri)?,
            userinfo_endpoint: parse("userinfo_endpoint", raw.userinfo_endpoint)?,
            revocation_endpoint: parse("revocation_endpoint", raw.revocation_endpoint)?,
            introspection_endpoint: parse("introspection_endpoint", raw.introspection_endpoint)?,
            end_session_endpoint: parse("end_session_endpoint", raw.end_session_endpoint)?,
            issuer: advertised,
            scopes_supported: raw.scopes_supported,
            grant_types_supported: raw.grant_types_supported,
            token_endpoint_auth_methods_supported: raw.token_endpoint_auth_methods_supported,
            id_token_signing_alg_values_supported: raw.id_token_signing_alg_values_supported,
            code_challenge_methods_supported: raw.code_challenge_methods_supported,
            authorization_response_iss_parameter_supported: raw
                .authorization_response_iss_parameter_supported
                .unwrap_or(false),
            extra: raw.extra,
        })
    }

    /// Fuzzing entry point: parses and checks a discovery document for `issuer` as
    /// [`ProviderMetadata::discover`] does after the fetch.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn fuzz_parse(body: &[u8], issuer: &str) -> bool {
        let url = Url::parse("https://fuzz.invalid/.well-known/openid-configuration")
            .expect("a constant, valid URL");
        serde_json::from_slice::<RawMetadata>(body)
            .is_ok_and(|raw| Self::from_raw(raw, issuer, &url, true).is_ok())
    }

    /// An [`OAuthClientBuilder`] with the token and revocation endpoints filled in.
    pub fn client_builder(&self, client_id: impl Into<String>) -> OAuthClientBuilder {
        let mut builder =
            crate::client::OAuthClient::builder(client_id).token_url(self.token_endpoint.as_str());
        if let Some(revocation) = &self.revocation_endpoint {
            builder = builder.revocation_url(revocation.as_str());
        }
        builder
    }
}

/// OIDC Discovery §4.3 wants the issuer to be identical; a trailing slash typed by a user
/// is forgiven. Microsoft's multi-tenant metadata advertises `{tenantid}`, which matches
/// `common`, `organizations`, `consumers` or a tenant id in the requested issuer; a tenant
/// asked for by its domain answers with its id (see [`tenant_domain_alias`]).
fn issuer_matches(requested: &str, advertised: &str) -> bool {
    let requested = requested.trim_end_matches('/');
    let advertised_trimmed = advertised.trim_end_matches('/');
    if requested == advertised_trimmed || tenant_domain_alias(requested, advertised_trimmed) {
        return true;
    }
    match advertised_trimmed.split_once(super::id_token::TENANT_PLACEHOLDER) {
        Some((prefix, suffix)) => requested
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/')),
        None => false,
    }
}

/// Options for discovery. Cheap to build; more fields may come, so it is built by methods.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryOptions {
    pub(crate) http: Option<reqwest::Client>,
    pub(crate) allow_insecure_http: bool,
}

impl DiscoveryOptions {
    /// Uses this HTTP client instead of [`crate::http_client`].
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Allows plain-HTTP issuers and endpoints that are not loopback. Only for testing.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

/// Metadata and when it was fetched.
type CacheEntry = (Arc<ProviderMetadata>, SystemTime);

/// Caches discovered metadata per issuer for a TTL (default one hour). Concurrent lookups of
/// the same issuer make one request. `Clone` shares the cache.
#[derive(Debug, Clone)]
pub struct DiscoveryCache {
    entries: Arc<tokio::sync::Mutex<HashMap<String, CacheEntry>>>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl Default for DiscoveryCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(3600), Arc::new(SystemClock))
    }
}

impl DiscoveryCache {
    /// A cache keeping metadata for `ttl`, timed by `clock`.
    pub fn new(ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Arc::default(),
            ttl,
            clock,
        }
    }

    /// The process-wide cache used by [`super::OidcProvider::discover`].
    pub fn global() -> &'static DiscoveryCache {
        static GLOBAL: OnceLock<DiscoveryCache> = OnceLock::new();
        GLOBAL.get_or_init(DiscoveryCache::default)
    }

    /// The metadata of `issuer`, from the cache while fresh.
    pub async fn get(
        &self,
        issuer: &str,
        options: &DiscoveryOptions,
    ) -> Result<Arc<ProviderMetadata>> {
        let key = issuer.trim_end_matches('/').to_owned();
        // A tokio mutex held across the fetch is the single flight: discovery is rare, and a
        // second caller for the same issuer should wait for the first answer, not repeat it.
        let mut entries = self.entries.lock().await;
        let now = self.clock.now();
        if let Some((metadata, fetched_at)) = entries.get(&key)
            && now
                .duration_since(*fetched_at)
                .is_ok_and(|age| age < self.ttl)
        {
            return Ok(metadata.clone());
        }
        let metadata = Arc::new(ProviderMetadata::discover(issuer, options).await?);
        entries.insert(key, (metadata.clone(), now));
        Ok(metadata)
    }

    /// Forgets `issuer` (e.g. after its keys or endpoints changed).
    pub async fn invalidate(&self, issuer: &str) {
        self.entries
            .lock()
            .await
            .remove(issuer.trim_end_matches('/'));
    }
}

/// Entra ID's document for a tenant named by its domain
/// (`…/contoso.onmicrosoft.com/v2.0`) advertises the tenant's id instead
/// (`…/aaaabbbb-0000-cccc-1111-dddd2222eeee/v2.0`), and its ID tokens say the same
/// (learn.microsoft.com, "OpenID Connect on the Microsoft identity platform"). Accepted
/// only in that shape: the same origin and path but one path segment, which was a domain
/// name (it has a dot) and is a GUID. The advertised issuer is then the one ID tokens are
/// checked against.
fn tenant_domain_alias(requested: &str, advertised: &str) -> bool {
    let requested: Vec<&str> = requested.split('/').collect();
    let advertised: Vec<&str> = advertised.split('/').collect();
    if requested.len() != advertised.len() {
        return false;
    }
    let mut differing = requested
        .iter()
        .zip(&advertised)
        .enumerate()
        .filter(|(_, (r, a))| r != a);
    match (differing.next(), differing.next()) {
        // Index 3 on is the path: `scheme:`, ``, `host` come first.
        (Some((at, (domain, id))), None) => at >= 3 && domain.contains('.') && is_guid(id),
        _ => false,
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_domain_may_be_advertised_as_its_id() {
        let id = "https://login.microsoftonline.com/aaaabbbb-0000-cccc-1111-dddd2222eeee/v2.0";
        assert!(issuer_matches(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            id
        ));
        // Not another host, not a name without a dot, not a non-GUID, not two segments.
        assert!(!issuer_matches(
            "https://evil.example/contoso.onmicrosoft.com/v2.0",
            id
        ));
        assert!(!issuer_matches(
            "https://login.microsoftonline.com/contoso/v2.0",
            id
        ));
        assert!(!issuer_matches(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            "https://login.microsoftonline.com/not-a-guid/v2.0"
        ));
        assert!(!issuer_matches(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v1.0",
            id
        ));
    }

    #[test]
    fn issuer_comparison() {
        assert!(issuer_matches("https://a.example/", "https://a.example"));
        assert!(!issuer_matches("https://a.example", "https://b.example"));
        let ms = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(
            "https://login.microsoftonline.com/common/v2.0",
            ms
        ));
        assert!(!issuer_matches(
            "https://login.microsoftonline.com/v2.0",
            ms
        ));
        assert!(!issuer_matches("https://evil.example/common/v2.0", ms));
    }
}
