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

mod jarm;
mod pkce;
mod pushed;
mod request_object;
mod response;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use async_trait::async_trait;

use crate::client::{OAuthClient, Replay};
use crate::error::{Error, LoginError, Result};
use crate::oidc::{JwksCache, OidcProvider};
use crate::redact::DisplayUrl;
use crate::resource::{self, Resource};
use crate::step_up::StepUp;
use crate::token::TokenSet;

use jarm::JarmCheck;
pub use jarm::ResponseMode;
pub(crate) use pkce::{Pkce, random_token};
pub use pushed::ParMode;
use pushed::ParSettings;
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
    "request",
    "request_uri",
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
    par: ParSettings,
    request_object: bool,
    /// The provider's keys, when the response comes back as a JARM JWT.
    jarm: Option<JwksCache>,
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
            par_mode: ParMode::Auto,
            par_endpoint: None,
            par_required: false,
            request_object: false,
            request_object_required: false,
            jwt_response: false,
            jwks: None,
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

    /// Whether the request is pushed (RFC 9126), signed (RFC 9101) or answered with a
    /// signed response (JARM): such a request starts by talking to the provider
    /// ([`crate::WebLogin::begin`], the loopback grant), not with a URL built on the spot
    /// ([`crate::WebLogin::start`]).
    pub fn is_protected(&self) -> bool {
        self.par.target().is_some() || self.request_object || self.jarm.is_some()
    }

    /// The parameters of one attempt (RFC 6749 §4.1.1, RFC 7636 §4.3).
    fn params(&self, client_id: &str, redirect_uri: &Url, one: &OneTime) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client_id.into()),
            ("redirect_uri".into(), redirect_uri.as_str().into()),
        ];
        if let Some(scope) = scope_param(&self.scopes) {
            params.push(("scope".into(), scope));
        }
        params.extend([
            ("state".into(), one.state.expose_secret().to_owned()),
            ("nonce".into(), one.nonce.expose_secret().to_owned()),
            ("code_challenge".into(), one.pkce.challenge.clone()),
            ("code_challenge_method".into(), "S256".into()),
        ]);
        if self.jarm.is_some() {
            params.push(("response_mode".into(), jarm::RESPONSE_MODE.into()));
        }
        params.extend(self.params.iter().cloned());
        params.extend(resource::all_params(&self.resources).map(|(k, v)| (k.into(), v.into())));
        params.extend(
            self.step_up
                .params()
                .into_iter()
                .map(|(k, v)| (k.into(), v)),
        );
        params
    }

    /// The URL for one attempt with every parameter in its query, the request sent as it
    /// is: neither pushed nor signed.
    pub(crate) fn url(&self, client_id: &str, redirect_uri: &Url, one: &OneTime) -> Url {
        self.with_query(self.params(client_id, redirect_uri, one))
    }

    fn with_query(&self, params: Vec<(String, String)>) -> Url {
        let mut url = self.authorization_url.clone();
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    /// The URL the browser is sent to for one attempt: the parameters signed into a
    /// request object when asked (RFC 9101), pushed to the provider when it takes them
    /// (RFC 9126, leaving `client_id` and `request_uri` in the URL), else in the query.
    /// With a JARM response, the provider's keys are loaded here, before the browser
    /// opens, so the response can be checked the moment it arrives.
    pub(crate) async fn start(
        &self,
        client: &OAuthClient,
        redirect_uri: &Url,
        one: &OneTime,
    ) -> Result<Url> {
        self.load_response_keys().await?;
        let mut params = self.params(client.client_id(), redirect_uri, one);
        if self.request_object {
            // Checked at build: a request object is only asked for with an issuer.
            let audience = self.issuer.as_ref().map_or("", |i| i.issuer.as_str());
            params = request_object::sign(client, audience, &params)?;
        }
        let Some(endpoint) = self.par.target() else {
            return Ok(self.with_query(params));
        };
        // RFC 9126 §2: the issuer SHOULD be a client assertion's audience, and the PAR
        // endpoint MUST be accepted too; an issuer a URL would rewrite (a bare origin gains
        // a `/`) would no longer be the issuer, so the endpoint is used then.
        let audience = self.issuer.as_ref().and_then(|i| {
            Url::parse(&i.issuer)
                .ok()
                .filter(|u| u.as_str() == i.issuer)
        });
        let request_uri = pushed::push(client, endpoint, audience.as_ref(), params).await?;
        tracing::debug!(endpoint = %DisplayUrl::new(endpoint), "authorization request pushed");
        Ok(self.with_query(vec![
            ("client_id".into(), client.client_id().into()),
            ("request_uri".into(), request_uri),
        ]))
    }

    /// Loads the provider's keys for a JARM response unless they are cached: the response
    /// is judged synchronously, and a web login may finish on another instance than the
    /// one that started it.
    pub(crate) async fn load_response_keys(&self) -> Result<()> {
        match &self.jarm {
            Some(jwks) => jwks.ensure_loaded().await,
            None => Ok(()),
        }
    }

    /// What the redirect answering `client_id`'s attempt with `state` must match.
    pub(crate) fn expected(&self, client_id: &str, state: &SecretString) -> ExpectedResponse {
        let expected = ExpectedResponse::new(state.clone()).issuer_check(self.issuer.as_ref());
        match (&self.jarm, &self.issuer) {
            (Some(jwks), Some(issuer)) => expected.jwt_response(JarmCheck {
                issuer: issuer.issuer.clone(),
                client_id: client_id.into(),
                jwks: jwks.clone(),
            }),
            _ => expected,
        }
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
            .field("par", &self.par)
            .field("request_object", &self.request_object)
            .field("jwt_response", &self.jarm.is_some())
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
    par_mode: ParMode,
    par_endpoint: Option<String>,
    par_required: bool,
    request_object: bool,
    request_object_required: bool,
    jwt_response: bool,
    jwks: Option<JwksCache>,
}

impl AuthorizationRequestBuilder {
    /// Takes what the provider's metadata says about authorization requests: the issuer
    /// (RFC 9207), `pushed_authorization_request_endpoint` and
    /// `require_pushed_authorization_requests` (RFC 9126), `require_signed_request_object`
    /// (RFC 9101) and the JWKS a JARM response is checked against.
    pub fn provider(mut self, provider: &OidcProvider) -> Self {
        let m = provider.metadata();
        self = self.issuer(
            m.issuer.clone(),
            m.authorization_response_iss_parameter_supported,
        );
        let flag = |name: &str| m.extra.get(name).and_then(|v| v.as_bool()) == Some(true);
        if let Some(endpoint) = m
            .extra
            .get("pushed_authorization_request_endpoint")
            .and_then(|v| v.as_str())
        {
            self.par_endpoint = Some(endpoint.to_owned());
        }
        self.par_required = flag("require_pushed_authorization_requests");
        self.request_object_required = flag("require_signed_request_object");
        // No metadata says "JARM required"; a provider whose response modes are all JWT
        // ones (FAPI deployments) can only be answered that way.
        if let Some(modes) = m
            .extra
            .get("response_modes_supported")
            .and_then(|v| v.as_array())
        {
            let jwt_only = !modes.is_empty()
                && modes
                    .iter()
                    .all(|mode| mode.as_str().is_some_and(|mode| mode.ends_with("jwt")));
            self.jwt_response |= jwt_only;
        }
        self.jwks = provider.jwks().cloned();
        self
    }

    /// Whether to push the request (RFC 9126; default [`ParMode::Auto`]: when an endpoint
    /// is known).
    pub fn par(mut self, mode: ParMode) -> Self {
        self.par_mode = mode;
        self
    }

    /// The provider's `pushed_authorization_request_endpoint` (set by
    /// [`provider`](Self::provider) from discovery).
    pub fn pushed_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.par_endpoint = Some(url.into());
        self
    }

    /// The provider's `require_pushed_authorization_requests`: with it, [`ParMode::Never`]
    /// is a configuration error.
    pub fn require_pushed_authorization_requests(mut self, required: bool) -> Self {
        self.par_required = required;
        self
    }

    /// Sends the parameters as a request object (RFC 9101) signed with the client's
    /// `private_key_jwt` key, even when the provider does not require one. Needs the issuer
    /// (the object's `aud`).
    pub fn request_object(mut self, sign: bool) -> Self {
        self.request_object = sign;
        self
    }

    /// Asks for a JWT-secured response (JARM, `response_mode=query.jwt`), validated
    /// against the provider's JWKS, issuer and this client. Needs the issuer and the JWKS
    /// ([`provider`](Self::provider) or [`jwks`](Self::jwks)).
    pub fn jwt_response(mut self, jarm: bool) -> Self {
        self.jwt_response = jarm;
        self
    }

    /// [`jwt_response`](Self::jwt_response) for a [`ResponseMode`].
    pub fn response_mode(self, mode: ResponseMode) -> Self {
        self.jwt_response(mode == ResponseMode::Jwt)
    }

    /// The provider's keys, for a JARM response (set by [`provider`](Self::provider)).
    pub fn jwks(mut self, jwks: JwksCache) -> Self {
        self.jwks = Some(jwks);
        self
    }

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
        let par = ParSettings {
            mode: self.par_mode,
            endpoint: self
                .par_endpoint
                .as_deref()
                .map(|raw| {
                    crate::http::endpoint(
                        "pushed_authorization_request_endpoint",
                        raw,
                        self.allow_insecure_http,
                    )
                })
                .transpose()?,
            required: self.par_required,
        };
        par.check()?;
        let request_object = self.request_object || self.request_object_required;
        if request_object && self.issuer.is_none() {
            return Err(Error::Config(
                "a signed request object is addressed to the issuer (`aud`): set the issuer".into(),
            ));
        }
        let jarm = if self.jwt_response {
            if self.issuer.is_none() || self.jwks.is_none() {
                return Err(Error::Config(
                    "a JWT-secured response (`response_mode = \"jwt\"`) is checked against the \
                     provider's issuer and keys: set the issuer and the JWKS (discovery sets both)"
                        .into(),
                ));
            }
            if self.params.iter().any(|(name, _)| name == "response_mode") {
                return Err(Error::Config(
                    "`params`: `response_mode` is set by the JWT-secured response itself".into(),
                ));
            }
            self.jwks
        } else {
            None
        };
        Ok(AuthorizationRequest {
            authorization_url,
            scopes: self.scopes,
            params: self.params,
            issuer: self.issuer,
            resources: self.resources,
            step_up: self.step_up,
            par,
            request_object,
            jarm,
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
    request
        .step_up
        .check(&tokens, client.clock().now())
        .map_err(|reason| LoginError::StepUpNotMet {
            asked: request.step_up.clone(),
            reason,
        })?;
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
