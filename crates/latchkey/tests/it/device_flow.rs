//! The device authorization grant (RFC 8628) against the real IdP fixture, approved or
//! denied through its device verification pages over HTTP.

use std::time::Duration;

use latchkey::{DeviceCode, DevicePrompt, Error, LoginError, OAuthClient, TokenManager};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP};
use latchkey_testkit::person::{UserAgent, approve_device, forms};
use serde_json::json;
use url::Url;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn manager(idp: &Idp, on_prompt: impl Fn(&DevicePrompt) + Send + Sync + 'static) -> TokenManager {
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let grant = DeviceCode::builder(idp.url("/device/auth"))
        .scopes(["openid", "offline_access"])
        .on_prompt(on_prompt)
        .build()
        .unwrap();
    TokenManager::builder(client, grant).build().unwrap()
}

/// Approves the login the way a person on a phone would: opens the complete verification
/// URI, confirms the code, logs in and consents.
fn approve(idp: &Idp) -> impl Fn(&DevicePrompt) + Send + Sync + 'static {
    let origin = idp.issuer().to_owned();
    move |prompt: &DevicePrompt| {
        let url: Url = prompt
            .verification_uri_complete
            .as_deref()
            .expect("oidc-provider sends verification_uri_complete")
            .parse()
            .unwrap();
        assert!(!prompt.user_code.is_empty());
        let origin = origin.clone();
        tokio::spawn(async move { approve_device(&url, &origin, ALICE).await });
    }
}

#[tokio::test]
async fn device_login_approved_through_the_verification_page() {
    let idp = Idp::start().await;
    idp.device_config(json!({ "interval": 1 })).await;
    let manager = manager(&idp, approve(&idp));
    let tokens = manager.login().await.expect("device login");
    assert!(tokens.refresh_token().is_some());
    assert!(tokens.id_token().is_some());
    let counters = idp.counters().await;
    assert_eq!(counters.endpoint("device_authorization"), 1);
    assert!(counters.token(DEVICE_GRANT) >= 1);

    idp.reset_counters().await;
    manager.invalidate().await.expect("refresh");
    assert_eq!(idp.counters().await.token("refresh_token"), 1);
}

#[tokio::test]
async fn slow_down_adds_five_seconds_to_the_interval() {
    let idp = Idp::start().await;
    // The first poll (after 1 s) gets slow_down; RFC 8628 §3.5 then wants 1 + 5 s before
    // the next one. Only lower bounds are checked: a sleep is never shorter than asked.
    idp.device_config(json!({ "interval": 1, "slow_down": 1 }))
        .await;
    let manager = manager(&idp, approve(&idp));
    let started = tokio::time::Instant::now();
    manager.login().await.expect("device login after slow_down");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(7),
        "two waits of 1 s and 6 s, took {elapsed:?}"
    );
    let polls = idp.counters().await.token(DEVICE_GRANT);
    assert!(
        (2..=3).contains(&polls),
        "after slow_down the next poll waits 6 s, so only a few polls happen: {polls}"
    );
}

#[tokio::test]
async fn denying_on_the_verification_page_is_access_denied() {
    let idp = Idp::start().await;
    idp.device_config(json!({ "interval": 1 })).await;
    let origin = idp.issuer().to_owned();
    let manager = manager(&idp, move |prompt: &DevicePrompt| {
        let url: Url = prompt
            .verification_uri_complete
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        let origin = origin.clone();
        tokio::spawn(async move {
            let agent = UserAgent::new();
            // The first page auto-submits (xsrf + user_code); the second is "Confirm Device".
            let first = agent.follow(agent.get(&url).await, &origin).await.unwrap();
            let form = forms(&first.url, &first.body).remove(0);
            let confirm = agent
                .follow(agent.submit(&form).await, &origin)
                .await
                .unwrap();
            assert!(confirm.body.contains("Confirm Device"), "{}", confirm.body);
            let mut form = forms(&confirm.url, &confirm.body).remove(0);
            // The "[ Abort ]" button: a browser sends its name and value.
            form.set("abort", "yes");
            agent.submit(&form).await;
        });
    });
    let err = manager.login().await.unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::AccessDenied { .. })),
        "{err:?}"
    );
    assert!(err.hint().is_some());
}

#[tokio::test]
async fn an_unapproved_code_expires_with_a_typed_error() {
    let idp = Idp::start().await;
    idp.device_config(json!({ "interval": 1 })).await;
    idp.set_ttl(json!({ "DeviceCode": 2 })).await;
    let manager = manager(&idp, |_prompt: &DevicePrompt| {});
    let err = manager.login().await.unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::DeviceCodeExpired)),
        "{err:?}"
    );
    assert!(
        idp.counters().await.token(DEVICE_GRANT) >= 1,
        "the IdP was polled while the code lived"
    );
}

#[tokio::test]
async fn an_explicit_expired_token_answer_is_typed() {
    let idp = Idp::start().await;
    idp.device_config(json!({ "interval": 1 })).await;
    // oidc-provider deletes expired codes (and then says invalid_grant); other providers
    // answer RFC 8628's `expired_token`, injected here into the real endpoint.
    idp.fault(json!({
        "path": "/token", "grant_type": DEVICE_GRANT, "action": "status", "status": 400,
        "body": r#"{"error":"expired_token","error_description":"device code expired"}"#,
    }))
    .await;
    let manager = manager(&idp, |_prompt: &DevicePrompt| {});
    let err = manager.login().await.unwrap_err();
    assert!(
        matches!(err, Error::Login(LoginError::DeviceCodeExpired)),
        "{err:?}"
    );
    assert_eq!(idp.counters().await.token(DEVICE_GRANT), 1);
}
