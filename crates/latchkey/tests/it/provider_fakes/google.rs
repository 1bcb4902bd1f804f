//! The `google` preset against `fake_google`: `access_type=offline` for a refresh token,
//! the ID token in every answer, a refresh without a new refresh token, and the device
//! flow's `verification_url` with its HTTP 428 `authorization_pending`.

use std::sync::{Arc, Mutex};

use latchkey::profile::{AuthKind, LoginOptions, Selected};
use latchkey::{ExposeSecret, Profile};
use latchkey_testkit::fakes::fake_google::{self, FakeGoogle, GoogleOptions};

use super::{following_browser, managed, param, secret};

fn google_profile(fake: &FakeGoogle, auth: AuthKind) -> Selected {
    let mut p = Profile::new(auth);
    p.preset = Some("google".into());
    p.issuer = Some(fake.issuer().into());
    p.client_id = Some(fake_google::CLIENT.0.into());
    p.client_secret = secret(fake_google::CLIENT.1);
    Selected::new("g", p)
}

#[tokio::test]
async fn the_google_preset_asks_for_offline_access_and_refreshes() {
    let fake = FakeGoogle::start(GoogleOptions {
        expires_in: 1,
        ..GoogleOptions::default()
    });
    let shown = Arc::new(Mutex::new(None));
    let managed = managed(
        &google_profile(&fake, AuthKind::AuthorizationCode),
        &following_browser(shown.clone()),
    )
    .await;
    let first = managed.manager.login().await.expect("browser login");
    let url = shown.lock().unwrap().clone().unwrap();
    assert_eq!(param(&url, "access_type").as_deref(), Some("offline"));
    assert_eq!(param(&url, "prompt").as_deref(), Some("consent"));
    let refresh_token = first
        .refresh_token()
        .expect("access_type=offline: a refresh token")
        .expose_secret()
        .to_owned();
    assert!(first.id_token().is_some());
    assert!(
        first
            .scopes()
            .contains(&"https://www.googleapis.com/auth/userinfo.email".to_owned()),
        "{:?}",
        first.scopes()
    );

    // Google answers a refresh without a refresh token: the one held is kept.
    super::until_due().await;
    let second = managed.manager.tokens().await.expect("refreshed");
    assert!(!second.same_access_token(&first));
    assert_eq!(
        second.refresh_token().unwrap().expose_secret(),
        refresh_token,
        "the refresh token survives a refresh that does not repeat it"
    );
    assert_eq!(fake.count("POST", "/token"), 2);
}

#[tokio::test]
async fn without_the_preset_google_gives_no_refresh_token() {
    // A plain OIDC profile sends no `access_type=offline`: Google then issues no refresh
    // token, which is why the preset adds it.
    let fake = FakeGoogle::start(GoogleOptions::default());
    let mut selected = google_profile(&fake, AuthKind::AuthorizationCode);
    selected.profile.preset = None;
    selected.profile.scopes = vec!["openid".into(), "email".into()];
    selected.profile.client_auth = Some(latchkey::ClientAuthMethod::ClientSecretPost);
    let shown = Arc::new(Mutex::new(None));
    let tokens = managed(&selected, &following_browser(shown.clone()))
        .await
        .manager
        .login()
        .await
        .expect("browser login");
    assert_eq!(
        param(&shown.lock().unwrap().clone().unwrap(), "access_type"),
        None
    );
    assert!(tokens.refresh_token().is_none());
}

#[tokio::test]
async fn the_google_device_flow_shows_verification_url() {
    let fake = FakeGoogle::start(GoogleOptions {
        device_interval: 1,
        ..GoogleOptions::default()
    });
    let shown = Arc::new(Mutex::new(None));
    let record = shown.clone();
    let mut options = LoginOptions::default();
    options.on_device_prompt = Some(Arc::new(move |p: &latchkey::DevicePrompt| {
        *record.lock().unwrap() = Some((p.verification_uri.clone(), p.user_code.clone()));
    }));
    let tokens = managed(&google_profile(&fake, AuthKind::DeviceCode), &options)
        .await
        .manager
        .login()
        .await
        .expect("device login");
    assert_eq!(
        shown.lock().unwrap().clone(),
        Some((
            "https://www.google.com/device".to_owned(),
            fake_google::USER_CODE.to_owned()
        )),
        "Google's `verification_url` is what the user is shown"
    );
    assert!(tokens.refresh_token().is_some() && tokens.id_token().is_some());
    assert_eq!(
        fake.count("POST", "/token"),
        2,
        "one 428 authorization_pending, then the tokens"
    );
}
