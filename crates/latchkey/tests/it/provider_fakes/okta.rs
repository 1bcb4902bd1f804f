//! Okta (no preset: a plain OIDC profile) against `fake_okta`: custom authorization
//! servers (`/oauth2/default`, `/oauth2/{id}`) and the org server, and refresh with and
//! without rotation.

use latchkey::profile::{AuthKind, LoginOptions, Selected};
use latchkey::{Error, ExposeSecret, Profile};
use latchkey_testkit::fakes::fake_okta::{self, FakeOkta, OktaOptions};

use super::{core, managed, secret};

fn okta_profile(issuer: String, auth: AuthKind, scopes: &[&str]) -> Selected {
    let mut p = Profile::new(auth);
    p.issuer = Some(issuer);
    p.client_id = Some(fake_okta::CLIENT.0.into());
    p.client_secret = secret(fake_okta::CLIENT.1);
    p.username = Some(fake_okta::USER.0.into());
    p.password = secret(fake_okta::USER.1);
    p.scopes = scopes.iter().map(|s| s.to_string()).collect();
    Selected::new("okta", p)
}

#[tokio::test]
async fn client_credentials_at_the_default_custom_server() {
    let fake = FakeOkta::start(OktaOptions::default());
    let selected = okta_profile(
        fake.custom_issuer("default"),
        AuthKind::ClientCredentials,
        &["api:read"],
    );
    let managed = managed(&selected, &LoginOptions::default()).await;
    assert_eq!(
        managed.metadata.token_endpoint.as_str(),
        format!("{}/oauth2/default/v1/token", fake.org_issuer())
    );
    let tokens = managed.manager.tokens().await.expect("client credentials");
    assert_eq!(tokens.scopes(), ["api:read"]);
    assert_eq!(fake.count("POST", "/oauth2/default/v1/token"), 1);
    assert_eq!(fake.count("POST", "/oauth2/v1/token"), 0);
}

#[tokio::test]
async fn the_org_server_and_a_missing_scope_are_named_refusals() {
    let fake = FakeOkta::start(OktaOptions::default());
    // The org server (issuer = the org) does not grant custom scopes.
    let org = okta_profile(
        fake.org_issuer().into(),
        AuthKind::ClientCredentials,
        &["api:read"],
    );
    let err = managed(&org, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Provider(p) if p.error == "invalid_scope"
            && p.description.as_deref() == Some("Custom scopes are not allowed for this request.")),
        "{err:?}"
    );
    assert_eq!(fake.count("POST", "/oauth2/v1/token"), 1);

    // A custom server has no default scopes: a profile without scopes is refused.
    let no_scope = okta_profile(
        fake.custom_issuer("default"),
        AuthKind::ClientCredentials,
        &[],
    );
    let err = managed(&no_scope, &LoginOptions::default())
        .await
        .manager
        .tokens()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("'scope' must be provided"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("scope"), "{:?}", err.hint());

    // An authorization server id that does not exist: discovery fails on Okta's 404.
    let unknown = okta_profile(
        fake.custom_issuer("nosuchserver"),
        AuthKind::ClientCredentials,
        &["api:read"],
    );
    let err = core(
        unknown
            .managed_with_store(
                std::sync::Arc::new(latchkey::MemoryStore::new()),
                &super::no_env,
                &LoginOptions::default(),
            )
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn refresh_with_and_without_rotation_at_a_custom_server() {
    for rotate in [false, true] {
        let fake = FakeOkta::start(OktaOptions {
            rotate_refresh_tokens: rotate,
            expires_in: 1,
        });
        let selected = okta_profile(
            fake.custom_issuer(fake_okta::AUTH_SERVER_ID),
            AuthKind::Password,
            &["openid", "offline_access", "api:read"],
        );
        let managed = managed(&selected, &LoginOptions::default()).await;
        let first = managed.manager.tokens().await.expect("password grant");
        super::until_due().await;
        let second = managed.manager.tokens().await.expect("refreshed");
        super::until_due().await;
        let third = managed.manager.tokens().await.expect("refreshed again");
        assert!(!second.same_access_token(&first) && !third.same_access_token(&second));
        let refresh =
            |t: &latchkey::TokenSet| t.refresh_token().unwrap().expose_secret().to_owned();
        assert_eq!(
            refresh(&first) != refresh(&second),
            rotate,
            "rotate={rotate}: a new refresh token only with rotation"
        );
        let path = format!("/oauth2/{}/v1/token", fake_okta::AUTH_SERVER_ID);
        assert_eq!(fake.count("POST", &path), 3, "rotate={rotate}");
    }
}
