//! The authorization request and its response (RFC 6749 §4.1, RFC 7636, RFC 9207): one value
//! for every way latchkey sends a person to an identity provider.
//!
//! - [`AuthorizationRequest`]: the endpoint, scopes, extra parameters and issuer check,
//!   validated once at [`build`](AuthorizationRequestBuilder::build); the loopback grant
//!   ([`crate::grant::AuthorizationCode`]) and the server-side [`crate::grant::WebLogin`]
//!   both take one.
//! - [`ExpectedResponse`] and the judge of a redirect's query (`response`): shared by the
//!   loopback receiver, redirect capturers and web logins.
//! - The one-time values of an attempt (`state`, `nonce`, PKCE S256) and the code exchange.

mod pkce;
mod response;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use async_trait::async_trait;

use crate::client::{OAuthClient, Replay};
use crate::error::{Error, Result};
use crate::redact::DisplayUrl;
use crate::resource::{self, Resource};
use crate::step_up::StepUp;
use crate::token::TokenSet;

pub(crate) use pkce::{Pkce, random_token};
pub use response::ExpectedResponse;
pub(crate) use response::{Verdict, judge};

/// Parameters the request sets itself; extra parameters may not override them.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// Parameters with a typed option of their own, which validates them.
const TYPED: &[(&str, &str)] = &[
    ("resource", "AuthorizationRequestBuilder::resource"),
    ("acr_values", "AuthorizationRequestBuilder::step_up"),
    ("max_age", "AuthorizationRequestBuilder::step_up"),
];

/// The `scope` parameter for `scopes` (RFC 6749 §3.3), `None` when there are none.
pub(crate) fn scope_param(scopes: &[String]) -> Option<String> {
    (!scopes.is_empty()).then(|| scopes.join(" "))
}

/// Checks the ID token of a fresh login against the `nonce` that was sent (OIDC Core
/// §3.1.3.7), before the tokens are handed out.
///
/// latchkey's OIDC module provides the real validator (signature, `iss`, `aud`, `exp`,
/// `nonce`); plug it in with [`crate::grant::AuthorizationCodeBuilder::id_token_check`].
/// Closures `Fn(&TokenSet, &SecretString) -> Result<()>` implement this trait.
#[async_trait]
pub trait IdTokenCheck: Send + Sync {
    /// Fails when the ID token in `tokens` is invalid or does not carry `nonce`.
    async fn check(&self, tokens: &TokenSet, nonce: &SecretString) -> Result<()>;
}

#[async_trait]
impl<F> IdTokenCheck for F
where
    F: Fn(&TokenSet, &SecretString) -> Result<()> + Send + Sync,
{
    async fn check(&self, tokens: &TokenSet, nonce: &SecretString) -> Result<()> {
        self(tokens, nonce)
    }
}

/// The issuer a login is sent to, and whether its redirect must name it (RFC 9207).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerCheck {
    /// The issuer identifier.
    pub issuer: String,
    /// The provider's `authorization_response_iss_parameter_supported`: the redirect must
    /// carry a matching `iss`. Without it, an `iss` that is present must still match.
    pub iss_parameter_supported: bool,
}

impl IssuerCheck {
    /// Checks redirects against `issuer`.
    pub fn new(issuer: impl Into<String>, iss_parameter_supported: bool) -> Self {
        Self {
            issuer: issuer.into(),
            iss_parameter_supported,
        }
    }
}

/// What an authorization request asks for, independent of where its redirect lands.
#[derive(Clone)]
pub struct AuthorizationRequest {
    authorization_url: Url,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    issuer: Option<IssuerCheck>,
    resources: Vec<Resource>,
    step_up: StepUp,
}

impl AuthorizationRequest {
    /// Starts building a request to this authorization endpoint.
    pub fn builder(authorization_url: impl Into<String>) -> AuthorizationRequestBuilder {
        AuthorizationRequestBuilder {
            authorization_url: authorization_url.into(),
            scopes: Vec::new(),
            params: Vec::new(),
            issuer: None,
            resources: Vec::new(),
            step_up: StepUp::default(),
            allow_insecure_http: false,
        }
    }

    /// The resources asked for (RFC 8707), the token requests' first.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// The step-up asked for (RFC 9470), empty unless set.
    pub fn step_up(&self) -> &StepUp {
        &self.step_up
    }

    /// This request again, asking for `step_up` (a resource's `insufficient_user_authentication`).
    pub fn with_step_up(mut self, step_up: StepUp) -> Self {
        self.step_up = step_up;
        self
    }

    /// The authorization endpoint.
    pub fn authorization_url(&self) -> &Url {
        &self.authorization_url
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The issuer check, when one is set.
    pub fn issuer(&self) -> Option<&IssuerCheck> {
        self.issuer.as_ref()
    }

    /// The URL for one attempt (RFC 6749 §4.1.1, RFC 7636 §4.3).
    pub(crate) fn url(&self, client_id: &str, redirect_uri: &Url, one: &OneTime) -> Url {
        let mut url = self.authorization_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri.as_str());
            if let Some(scope) = scope_param(&self.scopes) {
                query.append_pair("scope", &scope);
            }
            query
                .append_pair("state", one.state.expose_secret())
                .append_pair("nonce", one.nonce.expose_secret())
                .append_pair("code_challenge", &one.pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            for (name, value) in &self.params {
                query.append_pair(name, value);
            }
            for (name, value) in resource::all_params(&self.resources) {
                query.append_pair(name, value);
            }
            for (name, value) in self.step_up.params() {
                query.append_pair(name, &value);
            }
        }
        url
    }

    /// What the redirect answering an attempt with `state` must match.
    pub(crate) fn expected(&self, state: &SecretString) -> ExpectedResponse {
        ExpectedResponse::new(state.clone()).issuer_check(self.issuer.as_ref())
    }
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field(
                "authorization_url",
                &DisplayUrl::new(&self.authorization_url),
            )
            .field("scopes", &self.scopes)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("resources", &self.resources)
            .field("step_up", &self.step_up)
            .finish()
    }
}

/// Builds an [`AuthorizationRequest`]; `build()` checks every field.
#[derive(Debug)]
pub struct AuthorizationRequestBuilder {
    authorization_url: String,
    scopes: Vec<String>,
    params: Vec<(String, String)>,
    issuer: Option<IssuerCheck>,
    resources: Vec<Resource>,
    step_up: StepUp,
    allow_insecure_http: bool,
}

impl AuthorizationRequestBuilder {
    /// Asks for these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a parameter, e.g. Google's `access_type=offline` and `prompt=consent`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The issuer the login is sent to. With `iss_parameter_supported` (the provider's
    /// `authorization_response_iss_parameter_supported`) the redirect must carry a matching
    /// `iss` (RFC 9207); without it, an `iss` that is present must still match.
    pub fn issuer(mut self, issuer: impl Into<String>, iss_parameter_supported: bool) -> Self {
        self.issuer = Some(IssuerCheck::new(issuer, iss_parameter_supported));
        self
    }

    /// Asks for tokens for this resource (RFC 8707): every resource is named in the
    /// authorization request, the first in the code exchange and refreshes (see [`Resource`]).
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }

    /// Asks for this sign-in (RFC 9470 via OIDC `acr_values` and `max_age`) and checks the
    /// login's ID token shows it (`acr` one of the values, `auth_time` recent enough).
    pub fn step_up(mut self, step_up: StepUp) -> Self {
        self.step_up = step_up;
        self
    }

    /// Allows a plain-HTTP authorization endpoint that is not loopback. Only for testing.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the endpoint and the parameters, and builds the request.
    pub fn build(self) -> Result<AuthorizationRequest> {
        let authorization_url = crate::http::endpoint(
            "authorization_url",
            &self.authorization_url,
            self.allow_insecure_http,
        )?;
        if let Some((name, _)) = self
            .params
            .iter()
            .find(|(name, _)| RESERVED.contains(&name.as_str()))
        {
            return Err(Error::Config(format!(
                "`params`: `{name}` is set by the grant itself and cannot be overridden"
            )));
        }
        if let Some((name, option)) = self
            .params
            .iter()
            .find_map(|(name, _)| TYPED.iter().find(|(typed, _)| typed == name))
        {
            return Err(Error::Config(format!(
                "`params`: set `{name}` with `{option}`, which validates it"
            )));
        }
        Ok(AuthorizationRequest {
            authorization_url,
            scopes: self.scopes,
            params: self.params,
            issuer: self.issuer,
            resources: self.resources,
            step_up: self.step_up,
        })
    }
}

/// The values that live for one login attempt.
pub(crate) struct OneTime {
    pub(crate) state: SecretString,
    pub(crate) nonce: SecretString,
    pub(crate) pkce: Pkce,
}

impl OneTime {
    pub(crate) fn new() -> Self {
        Self {
            state: random_token(),
            nonce: random_token(),
            pkce: Pkce::new(),
        }
    }
}

/// Exchanges an authorization code (RFC 6749 §4.1.3) with the PKCE verifier. The code is
/// single-use, so the request is never replayed once the server may have seen it.
pub(crate) async fn exchange_code(
    client: &OAuthClient,
    request: &AuthorizationRequest,
    code: &SecretString,
    redirect_uri: &Url,
    verifier: &SecretString,
) -> Result<TokenSet> {
    let mut params = vec![
        ("code", code.expose_secret()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.expose_secret()),
    ];
    params.extend(resource::token_param(&request.resources));
    let tokens = client
        .token_request("authorization_code", &params, Replay::OnlyIfNotProcessed)
        .await?;
    request.step_up.check(&tokens, client.clock().now())?;
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_parameters_cannot_be_overridden() {
        let err = AuthorizationRequest::builder("https://idp.example/auth")
            .param("state", "x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`state`"), "{err}");
    }

    #[test]
    fn typed_parameters_are_refused_as_raw_ones_and_sent_from_their_options() {
        for (name, option) in [("resource", "::resource`"), ("max_age", "::step_up`")] {
            let err = AuthorizationRequest::builder("https://idp.example/auth")
                .param(name, "x")
                .build()
                .unwrap_err();
            assert!(err.to_string().contains(option), "{err}");
        }
        let request = AuthorizationRequest::builder("https://idp.example/auth")
            .resource(crate::Resource::parse("https://a").unwrap())
            .resource(crate::Resource::parse("urn:b").unwrap())
            .step_up(StepUp::new(
                ["urn:mfa"],
                Some(std::time::Duration::from_secs(60)),
            ))
            .build()
            .unwrap();
        let redirect = Url::parse("http://127.0.0.1:1234/callback").unwrap();
        let url = request.url("cli", &redirect, &OneTime::new());
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let values = |n: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(values("resource"), ["https://a", "urn:b"]);
        assert_eq!(values("acr_values"), ["urn:mfa"]);
        assert_eq!(values("max_age"), ["60"]);
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_allowed() {
        assert!(
            AuthorizationRequest::builder("http://idp.example/auth")
                .build()
                .is_err()
        );
        assert!(
            AuthorizationRequest::builder("http://127.0.0.1:9/auth")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn one_attempt_carries_pkce_state_nonce_and_extra_parameters() {
        let request = AuthorizationRequest::builder("https://idp.example/auth")
            .scopes(["openid", "email"])
            .param("prompt", "consent")
            .build()
            .unwrap();
        let one = OneTime::new();
        let redirect = Url::parse("http://127.0.0.1:1234/callback").unwrap();
        let url = request.url("cli", &redirect, &one);
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["state"], one.state.expose_secret());
        assert_eq!(q["code_challenge"], one.pkce.challenge);
        assert!(!url.as_str().contains(one.pkce.verifier.expose_secret()));
    }
}
