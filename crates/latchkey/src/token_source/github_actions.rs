use std::fmt;

use async_trait::async_trait;
use http::header::{ACCEPT, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::TokenSource;
use crate::error::{Error, Result};
use crate::redact::DisplayUrl;

/// The variable GitHub Actions sets to the ID-token request URL in a job with
/// `permissions: id-token: write`.
pub(crate) const REQUEST_URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The variable holding the bearer token for that request.
pub(crate) const REQUEST_TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// The GitHub Actions OIDC token of the running job, for an audience: a GET of
/// `$ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with `Authorization: Bearer
/// $ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answered with `{"value": "<JWT>"}`
/// (<https://docs.github.com/en/actions/reference/security/oidc>). The runner's tokens live
/// minutes, so a new one is fetched for every token request that needs one.
#[derive(Clone)]
pub struct GithubActionsToken {
    request_url: Url,
    request_token: SecretString,
    audience: Option<String>,
    http: reqwest::Client,
}

impl GithubActionsToken {
    /// The runner at `request_url`, authorised by `request_token`.
    pub fn new(
        request_url: &str,
        request_token: SecretString,
        audience: Option<String>,
    ) -> Result<Self> {
        let request_url = Url::parse(request_url).map_err(|e| {
            Error::Config(format!(
                "{REQUEST_URL_VAR} is not a URL ({e}); it is set by GitHub Actions, not by hand"
            ))
        })?;
        Ok(Self {
            request_url,
            request_token,
            audience,
            http: crate::http::http_client()?,
        })
    }

    /// The runner named by `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
    /// read through `var`. Outside a job with `id-token: write` they are unset, and the error
    /// says so.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        audience: Option<String>,
    ) -> Result<Self> {
        match (var(REQUEST_URL_VAR), var(REQUEST_TOKEN_VAR)) {
            (Some(url), Some(token)) => Self::new(&url, SecretString::from(token), audience),
            _ => Err(Error::TokenSource {
                from: "GitHub Actions".into(),
                reason: format!(
                    "{REQUEST_URL_VAR} and {REQUEST_TOKEN_VAR} are not set; run inside a GitHub Actions job whose workflow grants `permissions: id-token: write`"
                ),
            }),
        }
    }

    /// Uses this HTTP client instead of [`crate::http_client`].
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    fn url(&self) -> Url {
        let mut url = self.request_url.clone();
        if let Some(audience) = &self.audience {
            url.query_pairs_mut().append_pair("audience", audience);
        }
        url
    }
}

impl fmt::Debug for GithubActionsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubActionsToken")
            .field("request_url", &DisplayUrl::new(&self.request_url))
            .field("request_token", &"[REDACTED]")
            .field("audience", &self.audience)
            .finish()
    }
}

#[async_trait]
impl TokenSource for GithubActionsToken {
    async fn token(&self) -> Result<SecretString> {
        let url = self.url();
        let from = self.describe();
        let mut bearer =
            http::HeaderValue::try_from(format!("Bearer {}", self.request_token.expose_secret()))
                .map_err(|_| Error::TokenSource {
                from: from.clone(),
                reason: format!("{REQUEST_TOKEN_VAR} holds characters a header cannot carry"),
            })?;
        bearer.set_sensitive(true);
        let response = self
            .http
            .get(url.clone())
            .header(AUTHORIZATION, bearer)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Error::network(&url, e))?;
        let status = response.status();
        let body = crate::http::read_body(response, &url).await?;
        if !status.is_success() {
            return Err(Error::TokenSource {
                from,
                reason: format!(
                    "the runner answered HTTP {}; the request token may have expired (it lasts as long as the job) or the workflow lacks `permissions: id-token: write`",
                    status.as_u16()
                ),
            });
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            value: Option<String>,
        }
        match serde_json::from_slice::<Answer>(&body) {
            Ok(Answer { value: Some(value) }) if !value.is_empty() => Ok(SecretString::from(value)),
            _ => Err(Error::InvalidResponse {
                url: DisplayUrl::new(&url),
                reason: "the answer has no `value` holding the ID token".into(),
            }),
        }
    }

    fn describe(&self) -> String {
        format!("GitHub Actions ({})", DisplayUrl::new(&self.request_url))
    }
}
