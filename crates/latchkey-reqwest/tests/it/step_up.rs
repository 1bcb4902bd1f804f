//! A step-up challenge (RFC 9470) from the fixture's resource, as a response (the default) or
//! as `latchkey::Error::StepUpRequired` (opt-in), and never worth a new token.
#![allow(
    clippy::disallowed_methods,
    reason = "the middleware wraps a caller's own client; the tests build one as callers do"
)]

use latchkey::{ClientAuth, ClientCredentials, OAuthClient, Resource, SecretString, TokenManager};
use latchkey_reqwest::AuthMiddleware;
use latchkey_testkit::Idp;
use latchkey_testkit::clients::SVC_POST;

/// A client-credentials token for the step-up resource: its sign-in (none) never satisfies it.
fn manager(idp: &Idp) -> TokenManager {
    let client = OAuthClient::builder(SVC_POST.0)
        .auth(ClientAuth::SecretPost(SecretString::from(SVC_POST.1)))
        .token_url(idp.token_url())
        .build()
        .unwrap();
    let resource = Resource::parse(&idp.url("/__resource/stepup")).unwrap();
    TokenManager::builder(client, ClientCredentials::new().resource(resource))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_step_up_challenge_is_a_response_or_on_request_a_typed_error() {
    let idp = Idp::start().await;
    let url = idp.url("/__resource/stepup");
    let manager = manager(&idp);

    let plain = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(manager.clone()))
        .build();
    idp.reset_counters().await;
    let response = plain.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        idp.counters().await.token_total(),
        1,
        "no token spent on a retry"
    );

    let typed = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthMiddleware::new(manager).step_up_as_error(true))
        .build();
    let err = typed.get(&url).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(err) = err else {
        panic!("expected a middleware error, got {err:?}");
    };
    match err.downcast::<latchkey::Error>().unwrap() {
        latchkey::Error::StepUpRequired(step_up) => {
            assert_eq!(step_up.acr_values, ["urn:latchkey:loa:2"]);
            assert_eq!(step_up.max_age.map(|d| d.as_secs()), Some(300));
        }
        other => panic!("expected StepUpRequired, got {other:?}"),
    }
    assert_eq!(
        idp.counters().await.token_total(),
        1,
        "the stored token was reused"
    );
}
