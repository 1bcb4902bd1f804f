//! Every machine grant against the real identity provider fixture.

use std::sync::Arc;

use latchkey::{
    Algorithm, ClientAuth, ClientCredentials, ExposeSecret, Grant, ManualClock, Password,
    PrivateKeyJwt, SecretString,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;

use crate::support;

#[tokio::test]
async fn client_credentials_with_client_secret_basic_form_encodes_the_secret() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::svc_basic(&idp, &clock);
    let tokens = ClientCredentials::new()
        .scopes(["api:read"])
        .obtain(&client)
        .await
        .expect("token");
    assert!(!tokens.access_token().expose_secret().is_empty());
    assert_eq!(tokens.token_type(), "Bearer");
    assert!(tokens.expires_at().is_some());
    assert_eq!(tokens.scopes(), ["api:read"]);
    let counters = idp.counters().await;
    assert_eq!(counters.by_client(SVC_BASIC.0), 1);
    assert!(idp.is_active(tokens.access_token().expose_secret()).await);
}

#[tokio::test]
async fn client_credentials_with_client_secret_post() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::client(
        &idp,
        SVC_POST.0,
        ClientAuth::SecretPost(SecretString::from(SVC_POST.1)),
        &clock,
    );
    let tokens = ClientCredentials::new()
        .obtain(&client)
        .await
        .expect("token");
    assert!(idp.is_active(tokens.access_token().expose_secret()).await);
}

#[tokio::test]
async fn the_registered_method_matters_and_the_error_keeps_the_idp_text() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    // svc-post is registered for client_secret_post: Basic must be refused.
    let client = support::client(
        &idp,
        SVC_POST.0,
        ClientAuth::SecretBasic(SecretString::from(SVC_POST.1)),
        &clock,
    );
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    let latchkey::Error::Provider(provider) = &err else {
        panic!("expected a provider error, got {err:?}")
    };
    assert_eq!(provider.error, "invalid_client");
    assert_eq!(provider.status, 401);
    assert!(
        err.hint().unwrap().contains("client_auth"),
        "{:?}",
        err.hint()
    );
    assert!(!err.is_retryable());
    // A wrong secret: also invalid_client, and the secret is not in the message.
    let client = support::client(
        &idp,
        SVC_BASIC.0,
        ClientAuth::SecretBasic(SecretString::from("wrong-secret-xyz")),
        &clock,
    );
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret-xyz"));
}

#[tokio::test]
async fn private_key_jwt_with_rsa_and_ec_keys() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    for (pem, alg, kid) in [
        (svc_jwt_rsa_pem(), Algorithm::RS256, SVC_JWT_RSA_KID),
        (svc_jwt_ec_pem(), Algorithm::ES256, SVC_JWT_EC_KID),
    ] {
        let key = PrivateKeyJwt::from_pem(&SecretString::from(pem), alg, Some(kid.to_string()))
            .expect("key");
        let client = support::client(&idp, SVC_JWT, ClientAuth::PrivateKeyJwt(key), &clock);
        let tokens = ClientCredentials::new()
            .scopes(["api:write"])
            .obtain(&client)
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert!(idp.is_active(tokens.access_token().expose_secret()).await);
    }
    assert_eq!(idp.counters().await.by_client(SVC_JWT), 2);
}

#[tokio::test]
async fn password_grant_without_totp_gets_refresh_token_and_its_lifetime() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::pw_client(&idp, &clock);
    let grant = support::alice();
    assert!(grant.can_run_unattended());
    let tokens = grant.obtain(&client).await.expect("password grant");
    assert!(tokens.refresh_token().is_some());
    assert!(
        tokens.refresh_expires_at().is_some(),
        "Keycloak-style refresh_expires_in is read"
    );
    assert!(tokens.id_token().is_some());
}

#[tokio::test]
async fn password_grant_with_totp() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::pw_client(&idp, &clock);
    let code = idp.totp(CAROL.0).await;
    let grant = Password::new(CAROL.0, SecretString::from(CAROL.1)).totp(SecretString::from(code));
    assert!(
        !grant.can_run_unattended(),
        "a one-time code cannot be replayed for re-authentication"
    );
    let tokens = grant.obtain(&client).await.expect("password + totp");
    assert!(idp.is_active(tokens.access_token().expose_secret()).await);
}

#[tokio::test]
async fn wrong_or_missing_totp_is_a_typed_error_with_the_idp_text() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let client = support::pw_client(&idp, &clock);
    let right = idp.totp(CAROL.0).await;
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    for grant in [
        Password::new(CAROL.0, SecretString::from(CAROL.1)).totp(SecretString::from(wrong.clone())),
        Password::new(CAROL.0, SecretString::from(CAROL.1)),
    ] {
        let err = grant.obtain(&client).await.unwrap_err();
        assert!(err.is_invalid_grant(), "{err:?}");
        let latchkey::Error::Provider(provider) = &err else {
            unreachable!()
        };
        assert_eq!(
            provider.description.as_deref(),
            Some("Invalid user credentials")
        );
        assert!(
            err.to_string().contains("Invalid user credentials"),
            "{err}"
        );
        assert!(!err.to_string().contains(CAROL.1) && !err.to_string().contains(&wrong));
    }
    // Wrong credentials are not retried: exactly one request each.
    assert_eq!(idp.counters().await.token("password"), 2);
}
