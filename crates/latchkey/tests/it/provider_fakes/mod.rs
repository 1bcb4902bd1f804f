//! The presets (and plain OIDC profiles, for Okta and Auth0) against the named fakes of
//! `latchkey_testkit::fakes`: each provider's documented discovery and token-endpoint
//! behaviour, through the same profile → manager path the CLI uses. Each fake cites the
//! documentation of what it reproduces.

mod auth0;
mod entra;
mod github;
mod google;
mod keycloak;
mod okta;

use std::sync::{Arc, Mutex};

use latchkey::profile::{LoginOptions, ManagedProfile, SecretRef, Selected};
use latchkey::{BrowserMode, Error, MemoryStore, ProfileError, SecretString};
use url::Url;

pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

/// A secret given in the profile itself.
pub(super) fn secret(value: &str) -> Option<SecretRef> {
    Some(SecretRef::Value(SecretString::from(value)))
}

/// The library error inside a profile error.
pub(super) fn core(err: ProfileError) -> Error {
    match err {
        ProfileError::Core(err) => err,
        other => panic!("expected a library error, got {other:?}"),
    }
}

/// The profile resolved with a memory store, as the CLI resolves it.
pub(super) async fn managed(selected: &Selected, options: &LoginOptions) -> ManagedProfile {
    selected
        .managed_with_store(Arc::new(MemoryStore::new()), &no_env, options)
        .await
        .map_err(core)
        .expect("a managed profile")
}

/// Login options whose "browser" is an HTTP client following the authorization URL: the
/// fakes sign the user in at once and redirect to latchkey's loopback receiver. The URL is
/// kept in `shown`.
pub(super) fn following_browser(shown: Arc<Mutex<Option<Url>>>) -> LoginOptions {
    let mut options = LoginOptions::default();
    options.browser = BrowserMode::Never;
    options.on_authorization_url = Some(Arc::new(move |url: &Url| {
        *shown.lock().unwrap() = Some(url.clone());
        let url = url.clone();
        tokio::spawn(async move {
            let _ = reqwest::get(url).await;
        });
    }));
    options
}

/// The query parameter `name` of `url`.
pub(super) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether `token` has the shape of a JWT (three base64url parts).
pub(super) fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && !token.contains(' ')
}

/// Waits until a token the fake issued with `expires_in: 1` is due for a refresh.
pub(super) async fn until_due() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}
