//! The `github` preset against `fake_github`: JSON only with `Accept`, HTTP 200 errors,
//! comma-separated scopes, the device flow's `slow_down` with its new `interval`, and the
//! expiring user tokens of GitHub Apps with their `bad_refresh_token`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latchkey::profile::{AuthKind, LoginOptions, Selected};
use latchkey::{Error, ExposeSecret, Profile};
use latchkey_testkit::fakes::fake_github::{self, FakeGitHub, GitHubOptions};

use super::{following_browser, managed, secret};

/// A `github` preset profile with the fake's URLs in place of github.com's.
fn github_profile(fake: &FakeGitHub, auth: AuthKind) -> Selected {
    let mut p = Profile::new(auth);
    p.preset = Some("github".into());
    p.token_url = Some(fake.url(fake_github::TOKEN_PATH));
    p.authorization_url = Some(fake.url(fake_github::AUTHORIZE_PATH));
    p.device_authorization_url = Some(fake.url(fake_github::DEVICE_PATH));
    p.client_id = Some(fake_github::CLIENT.0.into());
    p.client_secret = secret(fake_github::CLIENT.1);
    p.scopes = vec!["repo".into(), "gist".into()];
    Selected::new("gh", p)
}

#[tokio::test]
async fn the_github_preset_logs_in_reads_comma_scopes_and_refreshes() {
    let fake = FakeGitHub::start(GitHubOptions::default());
    let shown = Arc::new(Mutex::new(None));
    let managed = managed(
        &github_profile(&fake, AuthKind::AuthorizationCode),
        &following_browser(shown),
    )
    .await;
    let first = managed.manager.login().await.expect("browser login");
    assert!(first.access_token().expose_secret().starts_with("ghu_"));
    assert_eq!(first.scopes(), ["repo", "gist"], "`repo,gist` split");
    assert!(
        first.id_token().is_none(),
        "GitHub is not an OpenID provider"
    );
    // GitHub answers JSON only when asked: every token request asked.
    let token_requests: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path == fake_github::TOKEN_PATH)
        .collect();
    assert!(
        token_requests
            .iter()
            .all(|s| s.accept.as_deref() == Some("application/json")),
        "{token_requests:?}"
    );

    // The 8-hour user token, refreshed; the `ghr_` refresh token is replaced.
    managed.manager.invalidate().await.expect("refreshed");
    let second = managed.manager.tokens().await.unwrap();
    assert!(!second.same_access_token(&first));
    assert_ne!(
        first.refresh_token().unwrap().expose_secret(),
        second.refresh_token().unwrap().expose_secret()
    );
    assert_eq!(
        fake.seen()
            .iter()
            .filter(|s| s.param("grant_type") == Some("refresh_token"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_github_200_with_error_is_a_typed_refusal_naming_the_github_error() {
    let fake = FakeGitHub::start(GitHubOptions::default());
    let mut selected = github_profile(&fake, AuthKind::DeviceCode);
    selected.profile.client_id = Some("Iv1.someoneelse".into());
    let err = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .login()
        .await
        .unwrap_err();
    match &err {
        Error::Provider(p) => {
            assert_eq!(
                (p.status, p.error.as_str()),
                (200, "incorrect_client_credentials")
            );
            assert!(
                p.uri
                    .as_deref()
                    .unwrap()
                    .starts_with("https://docs.github.com/")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("incorrect_client_credentials"),
        "{err}"
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("client id and secret")),
        "GitHub's name for invalid_client gets its hint: {:?}",
        err.hint()
    );
}

#[tokio::test]
async fn a_rejected_github_refresh_token_means_log_in_again() {
    // GitHub's `bad_refresh_token` (HTTP 200) is its `invalid_grant`: the session needs a
    // login, instead of failing the same refresh on every call.
    let fake = FakeGitHub::start(GitHubOptions::default());
    let mut selected = github_profile(&fake, AuthKind::RefreshToken);
    selected.profile.refresh_token = secret("ghr_revoked");
    let err = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    assert!(err.needs_login(), "{err:?}");
}

#[tokio::test]
async fn the_github_device_flow_slows_down_to_the_new_interval() {
    let fake = FakeGitHub::start(GitHubOptions {
        device_interval: 1,
        pending_polls: 1,
        slow_down_first: true,
        ..GitHubOptions::default()
    });
    let shown = Arc::new(Mutex::new(None));
    let record = shown.clone();
    let mut options = LoginOptions::default();
    options.on_device_prompt = Some(Arc::new(move |p: &latchkey::DevicePrompt| {
        *record.lock().unwrap() = Some(p.verification_uri.clone());
    }));
    let started = Instant::now();
    let tokens = managed(&github_profile(&fake, AuthKind::DeviceCode), &options)
        .await
        .manager
        .login()
        .await
        .expect("device login");
    assert_eq!(tokens.scopes(), ["repo", "gist"]);
    assert_eq!(
        shown.lock().unwrap().as_deref(),
        Some("https://github.com/login/device")
    );
    // First poll after 1 s: slow_down (interval 6); the next after 6 more seconds, which
    // the fake accepts (sooner would be slow_down again). Exactly two polls.
    let polls = fake
        .seen()
        .iter()
        .filter(|s| s.param("grant_type") == Some("urn:ietf:params:oauth:grant-type:device_code"))
        .count();
    assert_eq!(polls, 2);
    assert!(started.elapsed() >= Duration::from_secs(7));
}
