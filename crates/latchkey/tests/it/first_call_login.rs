//! The first call may log in (dhis2w's behaviour), as an explicit opt-in: a device-code
//! login against the real IdP fixture, approved by the testkit's scripted person.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use latchkey::{DeviceCode, DevicePrompt, Error, FirstCallLogin, OAuthClient, TokenManager};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP};
use latchkey_testkit::person::approve_device;
use serde_json::json;
use url::Url;

fn manager(idp: &Idp, policy: FirstCallLogin, prompts: Arc<AtomicUsize>) -> TokenManager {
    let client = OAuthClient::builder(NATIVE_APP)
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let origin = idp.issuer().to_owned();
    let grant = DeviceCode::builder(idp.url("/device/auth"))
        .scopes(["openid", "offline_access"])
        .on_prompt(move |prompt: &DevicePrompt| {
            prompts.fetch_add(1, Ordering::SeqCst);
            let url: Url = prompt
                .verification_uri_complete
                .as_deref()
                .expect("oidc-provider sends verification_uri_complete")
                .parse()
                .unwrap();
            let origin = origin.clone();
            tokio::spawn(async move { approve_device(&url, &origin, ALICE).await });
        })
        .build()
        .unwrap();
    TokenManager::builder(client, grant)
        .key("dhis")
        .first_call_login(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn first_call_logs_in_once_for_concurrent_callers() {
    let idp = Idp::start().await;
    idp.device_config(json!({ "interval": 1 })).await;
    let prompts = Arc::new(AtomicUsize::new(0));
    let manager = manager(&idp, FirstCallLogin::On, prompts.clone());

    let callers = (0..8).map(|_| {
        let manager = manager.clone();
        tokio::spawn(async move { manager.authorization_header().await })
    });
    let headers = futures::future::join_all(callers).await;
    let first = headers[0]
        .as_ref()
        .unwrap()
        .as_ref()
        .expect("logged in")
        .clone();
    for header in &headers {
        assert_eq!(header.as_ref().unwrap().as_ref().unwrap(), &first);
    }
    assert_eq!(prompts.load(Ordering::SeqCst), 1, "one prompt for everyone");
    let counters = idp.counters().await;
    assert_eq!(
        counters.endpoint("device_authorization"),
        1,
        "one login at the IdP"
    );

    // Stored: the next call is the fast path, no new login.
    manager.authorization_header().await.unwrap();
    assert_eq!(idp.counters().await.endpoint("device_authorization"), 1);
}

#[tokio::test]
async fn without_the_opt_in_the_first_call_still_needs_a_login() {
    let idp = Idp::start().await;
    let prompts = Arc::new(AtomicUsize::new(0));
    let manager = manager(&idp, FirstCallLogin::default(), prompts.clone());
    let err = manager.authorization_header().await.unwrap_err();
    assert!(matches!(err, Error::LoginRequired { .. }), "{err:?}");
    assert!(!err.to_string().contains("login = \"auto\""), "{err}");
    assert_eq!(prompts.load(Ordering::SeqCst), 0);
    assert_eq!(idp.counters().await.endpoint("device_authorization"), 0);
}

#[tokio::test]
async fn the_opt_in_without_a_person_says_why_it_did_not_apply() {
    let idp = Idp::start().await;
    let prompts = Arc::new(AtomicUsize::new(0));
    let policy = FirstCallLogin::Unavailable {
        reason: "stdin is not a terminal and no display is set".into(),
    };
    let manager = manager(&idp, policy, prompts.clone());
    let err = manager.authorization_header().await.unwrap_err();
    assert!(matches!(err, Error::LoginRequired { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("login = \"auto\""), "{message}");
    assert!(message.contains("no display is set"), "{message}");
    assert_eq!(prompts.load(Ordering::SeqCst), 0);
    assert_eq!(idp.counters().await.endpoint("device_authorization"), 0);
}
