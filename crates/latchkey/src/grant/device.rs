//! The device authorization grant (RFC 8628): log in on another device with a short code.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::browser::Callback;
use super::{Grant, GrantKind, scope_param};
use crate::client::{OAuthClient, Replay};
use crate::error::{Error, LoginError, ProviderError, Result};
use crate::redact::DisplayUrl;
use crate::resource::{self, Resource};
use crate::response::{ResponseError, parse_error_body};
use crate::token::TokenSet;

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the interval to use when the provider announces none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: each `slow_down` adds this to the interval, for good.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Polling never waits longer than this between requests, whatever the provider asks.
const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// Device codes live minutes in practice (RFC 8628 examples: 1800 s); a larger
/// `expires_in` is capped to this.
const MAX_DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What the user must see to approve the login on another device.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DevicePrompt {
    /// Where to go (`verification_uri`; Google calls it `verification_url`).
    pub verification_uri: String,
    /// The same with the code filled in, when the provider sends it (show it as a link or
    /// QR code).
    pub verification_uri_complete: Option<String>,
    /// The code to type in.
    pub user_code: String,
    /// How long the code is good for.
    pub expires_in: Duration,
}

/// Shows a [`DevicePrompt`] to the user.
pub type DevicePromptCallback = Arc<dyn Fn(&DevicePrompt) + Send + Sync>;

/// The device authorization grant (RFC 8628): shows a URL and code, then polls the token
/// endpoint until the user approved, denied, or the code expired.
///
/// Needs a person, so [`Grant::can_run_unattended`] is false.
#[derive(Clone)]
pub struct DeviceCode {
    device_authorization_url: Url,
    scopes: Vec<String>,
    resources: Vec<Resource>,
    prompt: DevicePromptCallback,
}

impl DeviceCode {
    /// Starts building a device login against this device authorization endpoint
    /// (`device_authorization_endpoint` in the provider's metadata).
    pub fn builder(device_authorization_url: impl Into<String>) -> DeviceCodeBuilder {
        DeviceCodeBuilder {
            device_authorization_url: device_authorization_url.into(),
            scopes: Vec::new(),
            resources: Vec::new(),
            prompt: None,
            allow_insecure_http: false,
        }
    }

    /// Asks for a device code and user code (RFC 8628 §3.1–3.2).
    async fn authorize(
        &self,
        client: &OAuthClient,
    ) -> Result<(SecretString, DevicePrompt, Duration)> {
        let url = &self.device_authorization_url;
        let mut form: Vec<(String, String)> = Vec::new();
        if let Some(scope) = scope_param(&self.scopes) {
            form.push(("scope".into(), scope));
        }
        // The device authorization names every resource, so one approval covers them all.
        form.extend(resource::all_params(&self.resources).map(|(k, v)| (k.into(), v.into())));
        let basic = client
            .auth()
            .apply(client.client_id(), url, &mut form)
            .await?;
        let response = client.post_form(url, &form, basic).await?;
        let (status, body) = (response.status, &response.body);
        // An `error` field wins whatever the status (some providers answer 200 with one).
        if let Some(ResponseError::OAuth {
            error,
            description,
            uri,
        }) = parse_error_body(body, response.content_type.as_deref())
        {
            return Err(ProviderError {
                endpoint: DisplayUrl::new(url),
                status: status.as_u16(),
                error,
                description,
                uri,
                retry_after: response.retry_after,
            }
            .into());
        }
        if !status.is_success() {
            return Err(Error::HttpStatus {
                url: DisplayUrl::new(url),
                status: status.as_u16(),
                retry_after: response.retry_after,
            });
        }
        parse_device_authorization(body).map_err(|reason| Error::InvalidResponse {
            url: DisplayUrl::new(url),
            reason,
        })
    }
}

/// Parses a device authorization response tolerantly: numbers may arrive as strings and
/// Google names the URI `verification_url`.
pub(crate) fn parse_device_authorization(
    body: &[u8],
) -> std::result::Result<(SecretString, DevicePrompt, Duration), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not a JSON object ({})",
            crate::redact::scrub_serde_error(&e)
        )
    })?;
    let text = |name: &str| match value.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let seconds = |name: &str| match value.get(name) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let device_code = text("device_code").ok_or("no `device_code`")?;
    let user_code = text("user_code").ok_or("no `user_code`")?;
    let verification_uri = text("verification_uri")
        .or_else(|| text("verification_url"))
        .ok_or("no `verification_uri`")?;
    // Capped: a provider's absurd `expires_in` must not overflow the deadline arithmetic,
    // and no device code lives longer than a day in practice.
    let expires_in = seconds("expires_in")
        .ok_or("no `expires_in`")?
        .min(MAX_DEVICE_CODE_LIFETIME.as_secs());
    let interval = seconds("interval")
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_INTERVAL);
    let prompt = DevicePrompt {
        verification_uri,
        verification_uri_complete: text("verification_uri_complete")
            .or_else(|| text("verification_url_complete")),
        user_code,
        expires_in: Duration::from_secs(expires_in),
    };
    Ok((SecretString::from(device_code), prompt, interval))
}

#[async_trait]
impl Grant for DeviceCode {
    fn kind(&self) -> GrantKind {
        GrantKind::DeviceCode
    }

    fn can_run_unattended(&self) -> bool {
        false
    }

    fn resources(&self) -> &[Resource] {
        &self.resources
    }

    async fn obtain(&self, client: &OAuthClient) -> Result<TokenSet> {
        // Taken before the request: the provider's clock for `expires_in` starts later, so
        // this deadline never outlives the code.
        let started = tokio::time::Instant::now();
        let (device_code, prompt, mut interval) = self.authorize(client).await?;
        interval = interval.min(MAX_INTERVAL);
        let deadline = started
            .checked_add(prompt.expires_in)
            .unwrap_or_else(|| started + MAX_DEVICE_CODE_LIFETIME);
        (self.prompt)(&prompt);
        loop {
            // RFC 8628 §3.5: wait `interval` before every request, the first included.
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(LoginError::DeviceCodeExpired.into());
            }
            let mut params = vec![("device_code", device_code.expose_secret())];
            params.extend(resource::token_param(&self.resources));
            let result = client
                .token_request(DEVICE_CODE_GRANT, &params, Replay::OnlyIfNotProcessed)
                .await;
            let err = match result {
                Ok(tokens) => return Ok(tokens),
                Err(err) => err,
            };
            match &err {
                Error::Provider(p) => match p.error.as_str() {
                    "authorization_pending" => {}
                    "slow_down" => {
                        interval = (interval + SLOW_DOWN_STEP).min(MAX_INTERVAL);
                        tracing::debug!(interval_s = interval.as_secs(), "device flow: slow_down");
                    }
                    "access_denied" => {
                        return Err(LoginError::AccessDenied {
                            description: p.description.clone(),
                        }
                        .into());
                    }
                    "expired_token" => return Err(LoginError::DeviceCodeExpired.into()),
                    // Providers that delete expired codes (oidc-provider) answer
                    // `invalid_grant` instead; `exp` has whole-second precision, so the
                    // code may die up to a second before our deadline.
                    "invalid_grant"
                        if deadline.saturating_duration_since(tokio::time::Instant::now())
                            <= Duration::from_secs(1) =>
                    {
                        return Err(LoginError::DeviceCodeExpired.into());
                    }
                    _ if err.is_retryable() => interval = backoff(interval),
                    _ => return Err(err),
                },
                // RFC 8628 §3.5: on a connection timeout, back off exponentially.
                _ if err.is_retryable() => {
                    tracing::warn!(error = %err, "device flow: polling failed, backing off");
                    interval = backoff(interval);
                }
                _ => return Err(err),
            }
        }
    }
}

fn backoff(interval: Duration) -> Duration {
    (interval * 2).min(MAX_INTERVAL)
}

/// Writes the prompt to stderr (a library never writes to stdout).
fn default_prompt(prompt: &DevicePrompt) {
    let mut stderr = std::io::stderr().lock();
    let _ = match &prompt.verification_uri_complete {
        Some(complete) => writeln!(
            stderr,
            "To log in, open\n\n    {complete}\n\nand check that it shows the code {}",
            prompt.user_code
        ),
        None => writeln!(
            stderr,
            "To log in, open\n\n    {}\n\nand enter the code {}",
            prompt.verification_uri, prompt.user_code
        ),
    };
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCode")
            .field(
                "device_authorization_url",
                &DisplayUrl::new(&self.device_authorization_url),
            )
            .field("scopes", &self.scopes)
            .field("resources", &self.resources)
            .field("prompt", &Callback("DevicePromptCallback"))
            .finish()
    }
}

/// Builds a [`DeviceCode`] grant.
pub struct DeviceCodeBuilder {
    device_authorization_url: String,
    scopes: Vec<String>,
    resources: Vec<Resource>,
    prompt: Option<DevicePromptCallback>,
    allow_insecure_http: bool,
}

impl DeviceCodeBuilder {
    /// Asks for these scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Asks for tokens for this resource (RFC 8707): every resource is named in the device
    /// authorization, the first in the token request (see [`Resource`]).
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }

    /// Shows the prompt some other way than writing it to stderr (a CLI spinner, a GUI).
    pub fn on_prompt(mut self, prompt: impl Fn(&DevicePrompt) + Send + Sync + 'static) -> Self {
        self.prompt = Some(Arc::new(prompt));
        self
    }

    /// Allows a plain-HTTP endpoint that is not loopback. Only for testing.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and builds the grant.
    pub fn build(self) -> Result<DeviceCode> {
        let device_authorization_url = crate::http::endpoint(
            "device_authorization_url",
            &self.device_authorization_url,
            self.allow_insecure_http,
        )?;
        Ok(DeviceCode {
            device_authorization_url,
            scopes: self.scopes,
            resources: self.resources,
            prompt: self.prompt.unwrap_or_else(|| Arc::new(default_prompt)),
        })
    }
}

impl fmt::Debug for DeviceCodeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeBuilder")
            .field("device_authorization_url", &self.device_authorization_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_google_style_strings_and_alias() {
        let body = br#"{"device_code":"dc","user_code":"ABCD-EFGH","verification_url":"https://www.google.com/device","expires_in":"1800","interval":"5"}"#;
        let (code, prompt, interval) = parse_device_authorization(body).unwrap();
        assert_eq!(code.expose_secret(), "dc");
        assert_eq!(prompt.verification_uri, "https://www.google.com/device");
        assert_eq!(prompt.expires_in, Duration::from_secs(1800));
        assert_eq!(interval, Duration::from_secs(5));
    }

    #[test]
    fn interval_defaults_to_five_seconds() {
        let body = br#"{"device_code":"dc","user_code":"U","verification_uri":"https://x/device","verification_uri_complete":"https://x/device?user_code=U","expires_in":600}"#;
        let (_, prompt, interval) = parse_device_authorization(body).unwrap();
        assert_eq!(interval, DEFAULT_INTERVAL);
        assert_eq!(
            prompt.verification_uri_complete.as_deref(),
            Some("https://x/device?user_code=U")
        );
    }

    #[test]
    fn a_huge_expires_in_is_capped_instead_of_overflowing_the_deadline() {
        let body = br#"{"device_code":"dc","user_code":"U","verification_uri":"https://x/device","expires_in":18446744073709551615}"#;
        let (_, prompt, _) = parse_device_authorization(body).unwrap();
        assert_eq!(prompt.expires_in, MAX_DEVICE_CODE_LIFETIME);
        let started = tokio::time::Instant::now();
        assert!(started.checked_add(prompt.expires_in).is_some());
    }

    #[test]
    fn missing_fields_are_named() {
        let err = parse_device_authorization(br#"{"user_code":"U"}"#).unwrap_err();
        assert!(err.contains("device_code"), "{err}");
    }
}
