//! Revoking a token at the identity provider: RFC 7009, or GitHub's own API.

use base64::Engine as _;
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::client::{OAuthClient, RevocationMethod};
use crate::client_auth::ClientAuth;
use crate::error::{Error, ProviderError, Result};
use crate::redact::DisplayUrl;

impl OAuthClient {
    /// Revokes `token` at the revocation endpoint, by its
    /// [`revocation_method`](Self::revocation_method) (RFC 7009 unless configured
    /// otherwise). `hint` is `refresh_token` or `access_token`.
    pub async fn revoke(&self, token: &SecretString, hint: &str) -> Result<()> {
        let Some(url) = self.revocation_url() else {
            return Err(Error::Config(
                "the provider has no revocation endpoint configured".into(),
            ));
        };
        revoke(self, url, token, hint).await
    }
}

/// Revokes `token` at `url` the way `client` is configured to.
async fn revoke(client: &OAuthClient, url: &Url, token: &SecretString, hint: &str) -> Result<()> {
    match client.revocation_method() {
        RevocationMethod::Rfc7009 => rfc7009(client, url, token, hint).await,
        RevocationMethod::GitHubAppToken if hint == "refresh_token" => {
            tracing::debug!(url = %DisplayUrl::new(url), "GitHub revokes access tokens only; the refresh token is not sent");
            Ok(())
        }
        RevocationMethod::GitHubAppToken => github_app_token(client, url, token).await,
    }
}

async fn rfc7009(client: &OAuthClient, url: &Url, token: &SecretString, hint: &str) -> Result<()> {
    let mut form = vec![
        ("token".to_owned(), token.expose_secret().to_owned()),
        ("token_type_hint".to_owned(), hint.to_owned()),
    ];
    let basic = client
        .auth()
        .apply(client.client_id(), url, &mut form)
        .await?;
    let response = client.post_form(url, &form, basic).await?;
    if response.status.is_success() {
        return Ok(());
    }
    Err(response.error(url))
}

async fn github_app_token(client: &OAuthClient, url: &Url, token: &SecretString) -> Result<()> {
    let secret = match client.auth() {
        ClientAuth::SecretBasic(secret)
        | ClientAuth::SecretBasicRaw(secret)
        | ClientAuth::SecretPost(secret) => secret,
        _ => {
            return Err(Error::Config(
                "GitHub revokes tokens only for a client that authenticates with its client \
                 secret: configure `client_secret`"
                    .into(),
            ));
        }
    };
    let body = serde_json::json!({ "access_token": token.expose_secret() }).to_string();
    let basic = rfc7617_basic(client.client_id(), secret)?;
    let response = client
        .send(
            http::Method::DELETE,
            url,
            "application/json",
            body,
            Some(basic),
        )
        .await?;
    if response.status == http::StatusCode::NO_CONTENT {
        return Ok(());
    }
    Err(github_error(
        url,
        response.status.as_u16(),
        &response.body,
        token,
    ))
}

/// GitHub's REST API takes RFC 7617 Basic credentials as they are, not form-encoded first
/// as an RFC 6749 §2.3.1 token endpoint does (its client ids and secrets are plain ASCII
/// either way).
fn rfc7617_basic(client_id: &str, secret: &SecretString) -> Result<HeaderValue> {
    let raw = zeroize::Zeroizing::new(format!("{client_id}:{}", secret.expose_secret()));
    let mut value = HeaderValue::try_from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    ))
    .map_err(|_| Error::Config("client credentials cannot be put in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// GitHub's answer to a refused revocation: its `message` (e.g. `Not Found` for unknown
/// client credentials, `Validation Failed` for a token it does not know) as the error,
/// capped and never holding the token, with its `documentation_url`.
fn github_error(url: &Url, status: u16, body: &[u8], token: &SecretString) -> Error {
    #[derive(serde::Deserialize)]
    struct GitHubError {
        message: Option<String>,
        documentation_url: Option<String>,
    }
    const MAX_MESSAGE: usize = 200;
    let parsed = serde_json::from_slice::<GitHubError>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map(|m| m.chars().take(MAX_MESSAGE).collect::<String>())
        .filter(|m| !m.is_empty() && !m.contains(token.expose_secret()));
    match message {
        Some(message) => Error::from(ProviderError {
            endpoint: DisplayUrl::new(url),
            status,
            error: message,
            description: None,
            uri: parsed.and_then(|e| e.documentation_url),
            retry_after: None,
        }),
        None => Error::HttpStatus {
            url: DisplayUrl::new(url),
            status,
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_errors_keep_the_message_but_never_the_token() {
        let url = Url::parse("https://api.github.com/applications/id/token").unwrap();
        let token = SecretString::from("gho_secret");
        let err = github_error(
            &url,
            422,
            br#"{"message":"Validation Failed","documentation_url":"https://docs.github.com/rest"}"#,
            &token,
        );
        assert!(err.to_string().contains("Validation Failed"), "{err}");
        assert!(err.to_string().contains("422"), "{err}");
        let echoed = github_error(&url, 422, br#"{"message":"bad token gho_secret"}"#, &token);
        assert!(!echoed.to_string().contains("gho_secret"), "{echoed}");
        assert!(matches!(echoed, Error::HttpStatus { status: 422, .. }));
        let html = github_error(&url, 502, b"<html>bad gateway</html>", &token);
        assert!(html.is_retryable(), "{html:?}");
    }

    #[test]
    fn basic_credentials_are_sent_as_they_are() {
        let value = rfc7617_basic("Iv1.abc", &SecretString::from("s3cr:t")).unwrap();
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"Iv1.abc:s3cr:t");
    }
}
