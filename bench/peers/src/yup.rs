//! yup-oauth2 set up the way an application would: an installed-app authenticator whose
//! token cache is loaded from its own JSON file (`persist_tokens_to_disk`), refreshing with
//! the refresh token at the fixture's token endpoint when the cached token expires.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use time::OffsetDateTime;
use yup_oauth2::authenticator::DefaultAuthenticator;
use yup_oauth2::authenticator_delegate::InstalledFlowDelegate;
use yup_oauth2::storage::TokenInfo;
use yup_oauth2::{ApplicationSecret, InstalledFlowAuthenticator, InstalledFlowReturnMethod};

pub const SCOPES: &[&str] = &["openid"];

/// Never opens a browser or reads stdin: when yup falls back to a new login, it fails fast.
struct NoLogin;

impl InstalledFlowDelegate for NoLogin {
    fn present_user_url<'a>(
        &'a self,
        _url: &'a str,
        _need_code: bool,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async { Err("bench: no interactive login".to_owned()) })
    }
}

/// An authenticator for the public client `client_id` whose cache holds `access`/`refresh`,
/// expiring at `expires_at`.
pub async fn authenticator(
    token_url: &str,
    client_id: &str,
    access: &str,
    refresh: &str,
    expires_at: OffsetDateTime,
    dir: &Path,
) -> DefaultAuthenticator {
    let secret = ApplicationSecret {
        client_id: client_id.into(),
        client_secret: String::new(),
        token_uri: token_url.into(),
        auth_uri: token_url.replace("/token", "/auth"),
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        ..Default::default()
    };
    let token = TokenInfo {
        access_token: Some(access.into()),
        refresh_token: Some(refresh.into()),
        expires_at: Some(expires_at),
        id_token: None,
    };
    let path = dir.join(format!(
        "yup-{}.json",
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    let file = serde_json::json!([{ "scopes": SCOPES, "token": token }]);
    std::fs::write(&path, file.to_string()).expect("write yup token cache");
    InstalledFlowAuthenticator::builder(secret, InstalledFlowReturnMethod::Interactive)
        .persist_tokens_to_disk(path)
        .flow_delegate(Box::new(NoLogin))
        .build()
        .await
        .expect("yup authenticator")
}
