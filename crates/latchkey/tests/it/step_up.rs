//! Step-up (RFC 9470) against the fixture: its `/__resource/stepup` refuses a token from a
//! basic sign-in with `insufficient_user_authentication`, a login asking for the classes it
//! names gets a token it accepts, and a login that comes back without them fails.

use std::sync::Arc;

use latchkey::authorization::AuthorizationRequest;
use latchkey::{
    Error, LoginError, MemoryStore, OAuthClient, Resource, StepUp, TokenManager, TokenStore,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::NATIVE_APP;

use crate::resource_indicators::{audience, login_for};

const STRONG: &str = "urn:latchkey:loa:2";

fn stepup_url(idp: &Idp) -> String {
    idp.url("/__resource/stepup")
}

fn request(idp: &Idp) -> AuthorizationRequest {
    AuthorizationRequest::builder(idp.url("/auth"))
        .scopes(["openid"])
        .resource(Resource::parse(&stepup_url(idp)).unwrap())
        .build()
        .unwrap()
}

fn native(idp: &Idp) -> OAuthClient {
    OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap()
}

/// GETs the step-up resource with the manager's token.
async fn call(idp: &Idp, manager: &TokenManager) -> reqwest::Response {
    let header = manager.authorization_header().await.unwrap();
    latchkey::http_client()
        .unwrap()
        .get(stepup_url(idp))
        .header(http::header::AUTHORIZATION, header)
        .send()
        .await
        .unwrap()
}

async fn resource_hits(idp: &Idp) -> (u64, u64) {
    let hits: serde_json::Value = latchkey::http_client()
        .unwrap()
        .get(idp.url("/__resource/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        hits["stepup"].as_u64().unwrap(),
        hits["accepted"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_step_up_challenge_leads_to_a_login_the_resource_accepts() {
    let idp = Idp::start().await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let basic = TokenManager::builder(native(&idp), login_for(&idp, request(&idp)))
        .store(store.clone())
        .key("stepup")
        .build()
        .unwrap();
    let tokens = basic.login().await.expect("basic login");
    assert_eq!(audience(&tokens), stepup_url(&idp));

    let refused = call(&idp, &basic).await;
    assert_eq!(refused.status(), 401);
    let step_up = StepUp::from_headers(refused.headers()).expect("a step-up challenge");
    assert_eq!(step_up.acr_values, [STRONG]);
    assert_eq!(step_up.max_age.map(|d| d.as_secs()), Some(300));
    let err = Error::StepUpRequired(step_up.clone());
    assert!(err.to_string().contains(STRONG), "{err}");
    assert!(err.hint().unwrap().contains("--acr-values"), "{err:?}");

    // The same session logs in again asking for the step-up, under the same key.
    idp.reset_counters().await;
    let stronger = TokenManager::builder(
        native(&idp),
        login_for(&idp, request(&idp).with_step_up(step_up)),
    )
    .store(store.clone())
    .key("stepup")
    .build()
    .unwrap();
    let strong_tokens = stronger.login().await.expect("step-up login");
    assert!(!strong_tokens.same_access_token(&tokens));
    assert_eq!(idp.counters().await.token("authorization_code"), 1);
    let accepted = call(&idp, &stronger).await;
    assert_eq!(accepted.status(), 200, "{:?}", accepted.text().await);
    assert_eq!(resource_hits(&idp).await, (2, 1));
    let stored = store.load("stepup").await.unwrap().unwrap();
    assert!(
        stored.same_access_token(&strong_tokens),
        "the stronger token is kept"
    );
}

#[tokio::test]
async fn a_login_without_the_asked_sign_in_fails() {
    let idp = Idp::start().await;
    // The fixture knows no such class: it signs the user in with its basic one.
    let asked = StepUp::new(["urn:example:unknown"], None);
    let manager = TokenManager::builder(
        native(&idp),
        login_for(&idp, request(&idp).with_step_up(asked)),
    )
    .build()
    .unwrap();
    let err = manager.login().await.unwrap_err();
    match &err {
        Error::Login(LoginError::StepUpNotMet { asked, reason }) => {
            assert_eq!(asked.acr_values, ["urn:example:unknown"]);
            assert!(reason.contains("urn:latchkey:loa:1"), "{reason}");
        }
        other => panic!("expected StepUpNotMet, got {other:?}"),
    }
    assert!(
        manager.status().await.unwrap().expires_at.is_none(),
        "nothing kept"
    );
}
