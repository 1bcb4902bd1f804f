//! Auth0 (no preset: a plain OIDC profile, or the library) against `fake_auth0`: the
//! issuer's trailing slash, the `audience` parameter, refresh-token rotation with reuse
//! detection.
#![allow(
    clippy::disallowed_methods,
    reason = "a raw token request that replays a retired refresh token, as an attacker would"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::grant::Grant;
use latchkey::oidc::DiscoveryOptions;
use latchkey::profile::{AuthKind, Selected};
use latchkey::{
    ClientAuth, ClientCredentials, Error, ExposeSecret, ManualClock, OidcProvider, Password,
    Profile, SecretString, TokenManager,
};
use latchkey_testkit::fakes::fake_auth0::{self, Auth0Options, FakeAuth0};

use super::{following_browser, is_jwt, managed, secret};

async fn client(fake: &FakeAuth0, clock: Option<Arc<ManualClock>>) -> latchkey::OAuthClient {
    let provider = OidcProvider::discover_with(&fake.issuer(), &DiscoveryOptions::default())
        .await
        .expect("discovery");
    let mut builder = provider
        .metadata()
        .client_builder(fake_auth0::CLIENT.0)
        .auth(ClientAuth::SecretPost(SecretString::from(
            fake_auth0::CLIENT.1,
        )));
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn the_audience_is_sent_and_gets_a_jwt_for_the_api() {
    let fake = FakeAuth0::start(Auth0Options::default());
    let client = client(&fake, None).await;
    let tokens = ClientCredentials::new()
        .param("audience", fake_auth0::API_AUDIENCE)
        .obtain(&client)
        .await
        .expect("client credentials for the API");
    assert!(is_jwt(tokens.access_token().expose_secret()));
    let sent = fake.token_requests();
    assert_eq!(sent[0].path, "/oauth/token");
    assert_eq!(sent[0].param("audience"), Some(fake_auth0::API_AUDIENCE));

    // Without `audience`, Auth0 refuses client credentials outright.
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    match &err {
        Error::Provider(p) => {
            assert_eq!((p.status, p.error.as_str()), (403, "access_denied"));
            assert!(
                p.description
                    .as_deref()
                    .unwrap()
                    .contains("No audience parameter")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_login_without_audience_gets_an_opaque_token_and_the_trailing_slash_issuer_works() {
    let fake = FakeAuth0::start(Auth0Options::default());
    // Both spellings of the issuer, as users copy it from the dashboard or not.
    for issuer in [
        fake.issuer(),
        fake.issuer().trim_end_matches('/').to_owned(),
    ] {
        let mut p = Profile::new(AuthKind::AuthorizationCode);
        p.issuer = Some(issuer.clone());
        p.client_id = Some(fake_auth0::CLIENT.0.into());
        p.client_secret = secret(fake_auth0::CLIENT.1);
        p.scopes = vec!["openid".into(), "email".into(), "offline_access".into()];
        let shown = Arc::new(Mutex::new(None));
        let managed = managed(&Selected::new("a0", p), &following_browser(shown)).await;
        assert_eq!(managed.metadata.issuer, fake.issuer(), "{issuer}");
        // The ID token's `iss` has the slash too, and is accepted.
        let tokens = managed.manager.login().await.expect("browser login");
        assert!(tokens.id_token().is_some());
        assert!(
            !is_jwt(tokens.access_token().expose_secret()),
            "no audience: an opaque token, for /userinfo only"
        );
    }
}

#[tokio::test]
async fn rotation_replaces_the_refresh_token_and_a_replayed_one_is_refused() {
    let fake = FakeAuth0::start(Auth0Options::default());
    let clock = Arc::new(ManualClock::new());
    let client = client(&fake, Some(clock.clone())).await;
    let grant = Password::new(fake_auth0::USER.0, SecretString::from(fake_auth0::USER.1))
        .scopes(["openid", "offline_access"]);
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let first = manager.tokens().await.expect("password grant");
    let old = first.refresh_token().unwrap().expose_secret().to_owned();
    clock.advance(Duration::from_secs(90_000));
    let second = manager.tokens().await.expect("refreshed");
    let new = second.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(old, new, "rotation: a new refresh token, kept");

    // The retired token, replayed: refused, and its family is revoked...
    let token_url = format!("{}oauth/token", fake.issuer());
    let response = reqwest::Client::new()
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", old.as_str()),
            ("client_id", fake_auth0::CLIENT.0),
            ("client_secret", fake_auth0::CLIENT.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // ... so the manager's next refresh meets `invalid_grant` and signs in again.
    clock.advance(Duration::from_secs(90_000));
    manager.tokens().await.expect("re-authenticated");
    let grants: Vec<_> = fake
        .token_requests()
        .iter()
        .filter_map(|s| s.param("grant_type").map(str::to_owned))
        .collect();
    assert_eq!(
        grants,
        [
            "password",
            "refresh_token",
            "refresh_token",
            "refresh_token",
            "password"
        ]
    );
}

/// An Auth0 profile of `auth` kind for the fake's application and user.
fn auth0_profile(fake: &FakeAuth0, auth: AuthKind, audience: Option<&str>) -> Selected {
    let mut p = Profile::new(auth);
    p.issuer = Some(fake.issuer());
    p.client_id = Some(fake_auth0::CLIENT.0.into());
    p.client_secret = secret(fake_auth0::CLIENT.1);
    p.username = Some(fake_auth0::USER.0.into());
    p.password = secret(fake_auth0::USER.1);
    p.scopes = vec!["openid".into(), "offline_access".into()];
    p.audience = audience.map(Into::into);
    Selected::new("a0", p)
}

#[tokio::test]
async fn a_profile_audience_reaches_every_grant_that_takes_it() {
    let fake = FakeAuth0::start(Auth0Options::default());
    let api = Some(fake_auth0::API_AUDIENCE);
    let no_browser = latchkey::profile::LoginOptions::default();

    // Client credentials: refused without it, a JWT for the API with it.
    let err = managed(
        &auth0_profile(&fake, AuthKind::ClientCredentials, None),
        &no_browser,
    )
    .await
    .manager
    .tokens()
    .await
    .unwrap_err();
    assert!(err.to_string().contains("No audience parameter"), "{err}");
    let tokens = managed(
        &auth0_profile(&fake, AuthKind::ClientCredentials, api),
        &no_browser,
    )
    .await
    .manager
    .tokens()
    .await
    .expect("client credentials with audience");
    assert!(is_jwt(tokens.access_token().expose_secret()));

    // Password: opaque without, a JWT with.
    for (audience, jwt) in [(None, false), (api, true)] {
        let tokens = managed(
            &auth0_profile(&fake, AuthKind::Password, audience),
            &no_browser,
        )
        .await
        .manager
        .tokens()
        .await
        .expect("password grant");
        assert_eq!(
            is_jwt(tokens.access_token().expose_secret()),
            jwt,
            "{audience:?}"
        );
    }

    // Browser login: in the authorization request.
    let shown = Arc::new(Mutex::new(None));
    let tokens = managed(
        &auth0_profile(&fake, AuthKind::AuthorizationCode, api),
        &following_browser(shown.clone()),
    )
    .await
    .manager
    .login()
    .await
    .expect("browser login");
    assert!(is_jwt(tokens.access_token().expose_secret()));
    let url = shown.lock().unwrap().clone().unwrap();
    assert_eq!(
        super::param(&url, "audience").as_deref(),
        Some(fake_auth0::API_AUDIENCE)
    );
    let with_audience = fake
        .token_requests()
        .iter()
        .filter(|s| s.param("audience") == Some(fake_auth0::API_AUDIENCE))
        .count();
    assert_eq!(with_audience, 2, "client credentials and password sent it");
}
