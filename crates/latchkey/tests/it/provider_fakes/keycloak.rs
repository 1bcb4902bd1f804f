//! The `keycloak` preset against `fake_keycloak`: realm paths, `refresh_expires_in`,
//! Keycloak's extra token fields, the RFC 9207 `iss` in the redirect, its error codes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use latchkey::profile::{AuthKind, LoginOptions, Selected};
use latchkey::{
    ClientAuth, Error, ExposeSecret, ManualClock, OAuthClient, Password, Profile, SecretString,
    TokenManager,
};
use latchkey_testkit::fakes::fake_keycloak::{self, FakeKeycloak, KeycloakOptions};

use super::{following_browser, managed, param, secret};

fn keycloak_profile(fake: &FakeKeycloak, auth: AuthKind) -> Selected {
    let mut p = Profile::new(auth);
    p.preset = Some("keycloak".into());
    p.base_url = Some(fake.base_url().into());
    p.realm = Some(fake_keycloak::REALM.into());
    p.client_id = Some(fake_keycloak::CLIENT.0.into());
    p.client_secret = secret(fake_keycloak::CLIENT.1);
    p.username = Some(fake_keycloak::USER.0.into());
    p.password = secret(fake_keycloak::USER.1);
    Selected::new("kc", p)
}

#[tokio::test]
async fn the_keycloak_preset_obtains_and_refreshes_at_the_realm_paths() {
    // Access tokens of one second: a call after it refreshes.
    let fake = FakeKeycloak::start(KeycloakOptions {
        expires_in: 1,
        ..KeycloakOptions::default()
    });
    let selected = keycloak_profile(&fake, AuthKind::Password);
    let managed = managed(&selected, &LoginOptions::default()).await;
    assert_eq!(
        managed.metadata.token_endpoint.as_str(),
        format!("{}/protocol/openid-connect/token", fake.issuer())
    );
    let before = SystemTime::now();
    let first = managed.manager.tokens().await.expect("password grant");
    // `refresh_expires_in: 1800` became the refresh token's end.
    let refresh_end = first.refresh_expires_at().expect("refresh_expires_in read");
    assert!(
        refresh_end >= before + Duration::from_secs(1799)
            && refresh_end <= SystemTime::now() + Duration::from_secs(1800),
        "{refresh_end:?}"
    );
    assert!(first.id_token().is_some(), "scope openid: an ID token");
    super::until_due().await;
    let second = managed.manager.tokens().await.expect("refreshed");
    assert!(!second.same_access_token(&first));
    assert_eq!(
        (
            fake.token_requests("password"),
            fake.token_requests("refresh_token")
        ),
        (1, 1)
    );
    // The preset's `client_secret_basic`: the secret in the header, never in the form.
    for request in fake.seen().iter().filter(|s| s.method == "POST") {
        assert!(request.authorization && request.param("client_secret").is_none());
    }
}

/// A manager on a manual clock, for the fake's token endpoint, with the password grant.
fn manager(fake: &FakeKeycloak, clock: &Arc<ManualClock>) -> TokenManager {
    let client = OAuthClient::builder(fake_keycloak::CLIENT.0)
        .auth(ClientAuth::SecretBasic(SecretString::from(
            fake_keycloak::CLIENT.1,
        )))
        .token_url(format!("{}{}", fake.base_url(), FakeKeycloak::token_path()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let grant = Password::new(
        fake_keycloak::USER.0,
        SecretString::from(fake_keycloak::USER.1),
    )
    .scopes(["openid"]);
    TokenManager::builder(client, grant).build().unwrap()
}

#[tokio::test]
async fn a_refresh_token_past_refresh_expires_in_is_not_sent() {
    // The fake's clock is real time, latchkey's a manual one: after 400 s on latchkey's
    // clock the fake would still take the refresh token, so which grant latchkey sends
    // shows what it believes about `refresh_expires_in`.
    let within = FakeKeycloak::start(KeycloakOptions {
        expires_in: 300,
        refresh_expires_in: 1800,
    });
    let clock = Arc::new(ManualClock::new());
    let m = manager(&within, &clock);
    m.tokens().await.unwrap();
    clock.advance(Duration::from_secs(400));
    m.tokens().await.unwrap();
    assert_eq!(
        (
            within.token_requests("password"),
            within.token_requests("refresh_token")
        ),
        (1, 1),
        "within refresh_expires_in: a refresh"
    );

    let past = FakeKeycloak::start(KeycloakOptions {
        expires_in: 300,
        refresh_expires_in: 350,
    });
    let clock = Arc::new(ManualClock::new());
    let m = manager(&past, &clock);
    m.tokens().await.unwrap();
    clock.advance(Duration::from_secs(400));
    m.tokens().await.unwrap();
    assert_eq!(
        (
            past.token_requests("password"),
            past.token_requests("refresh_token")
        ),
        (2, 0),
        "past refresh_expires_in: the password grant again, no doomed refresh"
    );
}

#[tokio::test]
async fn keycloak_errors_are_provider_errors_with_their_codes() {
    let fake = FakeKeycloak::start(KeycloakOptions::default());
    let mut selected = keycloak_profile(&fake, AuthKind::Password);
    selected.profile.password = secret("wrong");
    let err = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    match &err {
        Error::Provider(p) => {
            assert_eq!((p.status, p.error.as_str()), (401, "invalid_grant"));
            assert_eq!(p.description.as_deref(), Some("Invalid user credentials"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.hint().unwrap().contains("password"), "{:?}", err.hint());

    // Keycloak says `unauthorized_client` for a wrong client secret.
    let mut selected = keycloak_profile(&fake, AuthKind::ClientCredentials);
    selected.profile.client_secret = secret("wrong");
    let err = managed(&selected, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Provider(p) if p.error == "unauthorized_client" && p.status == 401),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("Invalid client or Invalid client credentials"),
        "{err}"
    );
}

#[tokio::test]
async fn a_keycloak_browser_login_takes_the_iss_and_session_state_in_the_redirect() {
    let fake = FakeKeycloak::start(KeycloakOptions::default());
    let selected = keycloak_profile(&fake, AuthKind::AuthorizationCode);
    let shown = Arc::new(Mutex::new(None));
    let managed = managed(&selected, &following_browser(shown.clone())).await;
    let tokens = managed.manager.login().await.expect("browser login");
    assert!(tokens.refresh_token().is_some());
    assert!(
        !tokens.access_token().expose_secret().is_empty() && tokens.id_token().is_some(),
        "the ID token was validated against the realm's JWKS"
    );
    let url = shown.lock().unwrap().clone().unwrap();
    assert_eq!(
        url.path(),
        format!(
            "/realms/{}/protocol/openid-connect/auth",
            fake_keycloak::REALM
        )
    );
    assert!(param(&url, "code_challenge").is_some() && param(&url, "nonce").is_some());
}
