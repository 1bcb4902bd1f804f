//! Server-side authorization-code login for web applications (OIDC Core §3.1, RFC 9700).
//!
//! Unlike [`super::AuthorizationCode`], which waits for its own redirect, a web server
//! handles the two halves in different requests (maybe on different instances): [`WebLogin::start`]
//! gives the authorization URL and a [`PendingLogin`] to keep server-side, and
//! [`WebLogin::finish`] judges the callback against it, exchanges the code with the PKCE
//! verifier and validates the ID token against the nonce.

use std::borrow::Cow;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::authorization::{AuthorizationRequest, OneTime, Pkce, Verdict, exchange_code, judge};
use crate::client::OAuthClient;
use crate::error::{Error, LoginError, Result};
use crate::oidc::{IdTokenClaims, IdTokenValidator};
use crate::token::TokenSet;

/// A server-side login: PKCE S256, `state` and `nonce`, for a fixed (usually HTTPS)
/// `redirect_uri` served by the web application itself.
#[derive(Clone)]
pub struct WebLogin {
    request: AuthorizationRequest,
    redirect_uri: Url,
    validator: Option<IdTokenValidator>,
}

/// The one-time values of a login in progress, kept server-side between
/// [`WebLogin::start`] and [`WebLogin::finish`]. Use it once, then discard it.
pub struct PendingLogin {
    state: SecretString,
    nonce: SecretString,
    verifier: SecretString,
}

impl PendingLogin {
    /// Rebuilds a pending login read back from a session store.
    pub fn from_parts(state: SecretString, nonce: SecretString, verifier: SecretString) -> Self {
        Self {
            state,
            nonce,
            verifier,
        }
    }

    /// The `state` sent in the authorization request.
    pub fn state(&self) -> &SecretString {
        &self.state
    }

    /// The `nonce` the ID token must carry.
    pub fn nonce(&self) -> &SecretString {
        &self.nonce
    }

    /// The PKCE code verifier.
    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingLogin([REDACTED])")
    }
}

/// A finished login: the tokens, and the validated ID token claims when a validator is set.
#[derive(Debug)]
#[non_exhaustive]
pub struct WebLoginOutcome {
    /// The fresh tokens.
    pub tokens: TokenSet,
    /// The validated claims of the ID token.
    pub claims: Option<IdTokenClaims>,
}

impl WebLogin {
    /// Starts building a login that sends `request` and comes back to `redirect_uri`.
    pub fn builder(
        request: AuthorizationRequest,
        redirect_uri: impl Into<String>,
    ) -> WebLoginBuilder {
        WebLoginBuilder {
            request,
            redirect_uri: redirect_uri.into(),
            validator: None,
            allow_insecure_http: false,
        }
    }

    /// The redirect URI the callback arrives at.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// A fresh authorization URL for `client_id`, and the values to keep until the callback.
    ///
    /// The parameters go in the URL as they are: a request that is pushed (PAR), signed
    /// (JAR) or answered with a JARM JWT needs [`begin`](Self::begin), which talks to the
    /// provider ([`AuthorizationRequest::is_protected`] tells).
    pub fn start(&self, client_id: &str) -> (Url, PendingLogin) {
        let one = OneTime::new();
        let url = self.request.url(client_id, &self.redirect_uri, &one);
        let Pkce { verifier, .. } = one.pkce;
        let pending = PendingLogin {
            state: one.state,
            nonce: one.nonce,
            verifier,
        };
        (url, pending)
    }

    /// A fresh authorization URL and the values to keep until the callback, for every
    /// kind of request: pushed to the provider first (RFC 9126) when configured or
    /// advertised, signed as a request object (RFC 9101) when asked, and with the
    /// provider's keys loaded for a JARM response.
    pub async fn begin(&self, client: &OAuthClient) -> Result<(Url, PendingLogin)> {
        let one = OneTime::new();
        let url = self.request.start(client, &self.redirect_uri, &one).await?;
        let Pkce { verifier, .. } = one.pkce;
        let pending = PendingLogin {
            state: one.state,
            nonce: one.nonce,
            verifier,
        };
        Ok((url, pending))
    }

    /// Judges the callback's query (`code`, `state`, `iss`, `error`…) against `pending`,
    /// exchanges the code and validates the ID token. A `state` that does not match is
    /// [`LoginError::StateMismatch`]; nothing else in such a response is looked at.
    pub async fn finish<'a, I>(
        &self,
        client: &OAuthClient,
        pending: &PendingLogin,
        query: I,
    ) -> Result<WebLoginOutcome>
    where
        I: IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    {
        self.request.load_response_keys().await?;
        let code = match judge(
            query,
            &self.request.expected(client.client_id(), &pending.state),
        ) {
            Verdict::Code(code) => code,
            Verdict::Failed(err) => return Err(err.into()),
            Verdict::Foreign => return Err(LoginError::StateMismatch.into()),
            Verdict::Refused(reason) => return Err(LoginError::InvalidRedirect(reason).into()),
        };
        let tokens = exchange_code(
            client,
            &self.request,
            &code,
            &self.redirect_uri,
            &pending.verifier,
        )
        .await?;
        let claims = match (&self.validator, tokens.id_token()) {
            (Some(validator), Some(id_token)) => Some(
                validator
                    .validate(id_token, Some(pending.nonce.expose_secret()))
                    .await?,
            ),
            (Some(_), None) => {
                return Err(Error::InvalidResponse {
                    url: crate::redact::DisplayUrl::new(client.token_url()),
                    reason: "the token response has no `id_token`; ask for the `openid` scope"
                        .into(),
                });
            }
            (None, _) => None,
        };
        Ok(WebLoginOutcome { tokens, claims })
    }
}

impl fmt::Debug for WebLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebLogin")
            .field("request", &self.request)
            .field(
                "redirect_uri",
                &crate::redact::DisplayUrl::new(&self.redirect_uri),
            )
            .field("validates_id_token", &self.validator.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`WebLogin`]; `build()` checks every field.
#[derive(Debug)]
pub struct WebLoginBuilder {
    request: AuthorizationRequest,
    redirect_uri: String,
    validator: Option<IdTokenValidator>,
    allow_insecure_http: bool,
}

impl WebLoginBuilder {
    /// Validates the ID token (signature, `iss`, `aud`, `exp`, `nonce`) and requires one.
    pub fn id_token_validator(mut self, validator: IdTokenValidator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Allows a plain-HTTP redirect URI that is not loopback. Only for testing.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and builds the login.
    pub fn build(self) -> Result<WebLogin> {
        let redirect_uri =
            crate::http::endpoint("redirect_uri", &self.redirect_uri, self.allow_insecure_http)?;
        Ok(WebLogin {
            request: self.request,
            redirect_uri,
            validator: self.validator,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> WebLogin {
        let request = AuthorizationRequest::builder("https://idp.example/auth")
            .scopes(["openid", "profile"])
            .build()
            .unwrap();
        WebLogin::builder(request, "https://app.example/auth/callback")
            .build()
            .unwrap()
    }

    #[test]
    fn start_sends_pkce_state_and_nonce_and_keeps_them() {
        let (url, pending) = login().start("web");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["state"], pending.state().expose_secret());
        assert_eq!(q["nonce"], pending.nonce().expose_secret());
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["redirect_uri"], "https://app.example/auth/callback");
        assert!(!url.as_str().contains(pending.verifier().expose_secret()));
        assert!(!format!("{pending:?}").contains(pending.state().expose_secret()));
    }

    #[tokio::test]
    async fn a_foreign_state_is_a_mismatch_before_any_request() {
        let client = OAuthClient::builder("web")
            .token_url("https://idp.example/token")
            .build()
            .unwrap();
        let (_, pending) = login().start("web");
        let query = [("code", "abc"), ("state", "other")]
            .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)));
        let err = login().finish(&client, &pending, query).await.unwrap_err();
        assert!(
            matches!(err, Error::Login(LoginError::StateMismatch)),
            "{err}"
        );
    }
}
