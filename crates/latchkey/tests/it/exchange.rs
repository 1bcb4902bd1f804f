//! Token exchange (RFC 8693), the jwt-bearer grant (RFC 7523 §2.1) and workload identity
//! (tokens another system rotates, as subject tokens and as client assertions), against the
//! fixture's grant handlers (`tests/idp/exchange.mjs`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests write token, key and profile files as another system would, not through the private-file helper"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use latchkey::grant::{JwtBearer, TokenExchange, token_type};
use latchkey::token_source::{FileToken, GithubActionsToken, StaticToken};
use latchkey::{
    Algorithm, ClientAuth, ClientCredentials, ExposeSecret, Grant, ManualClock, OAuthClient,
    PrivateKeyJwt, SecretString, TokenManager,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;
use latchkey_testkit::fake_github_actions::{self, FakeGithubActions};
use latchkey_testkit::workload::{self, *};

use crate::support;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn exchanger(idp: &Idp, clock: &Arc<ManualClock>) -> OAuthClient {
    support::client(
        idp,
        EXCHANGER.0,
        ClientAuth::SecretBasic(SecretString::from(EXCHANGER.1)),
        clock,
    )
}

async fn svc_post_token(idp: &Idp, clock: &Arc<ManualClock>) -> SecretString {
    let client = support::client(
        idp,
        SVC_POST.0,
        ClientAuth::SecretPost(SecretString::from(SVC_POST.1)),
        clock,
    );
    ClientCredentials::new()
        .obtain(&client)
        .await
        .expect("subject token")
        .access_token()
        .clone()
}

fn write(path: &Path, token: &str) {
    // A kubelet swaps the file in whole; a rename is the same for a reader.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, token).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn token_exchange_trades_an_access_token_for_one_for_the_audience() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let subject = svc_post_token(&idp, &clock).await;
    let tokens = TokenExchange::builder(StaticToken::new(subject), token_type::ACCESS_TOKEN)
        .audience(EXCHANGE_AUDIENCES[0])
        .requested_token_type(token_type::ACCESS_TOKEN)
        .scopes(["api:read"])
        .build()
        .obtain(&exchanger(&idp, &clock))
        .await
        .expect("exchanged");
    assert_eq!(tokens.issued_token_type(), Some(token_type::ACCESS_TOKEN));
    assert_eq!(tokens.scopes(), ["api:read"]);
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["aud"], EXCHANGE_AUDIENCES[0]);
    assert_eq!(seen["extra"]["sub"], SVC_POST.0, "{seen}");
    assert_eq!(idp.counters().await.token(TOKEN_EXCHANGE), 1);
}

#[tokio::test]
async fn token_exchange_presents_an_actor_token_and_a_resource() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let subject = service_account_token(
        &idp,
        "system:serviceaccount:ci:deployer",
        Duration::from_secs(300),
    );
    let actor = svc_post_token(&idp, &clock).await;
    let tokens = TokenExchange::builder(StaticToken::new(subject.into()), token_type::JWT)
        .actor(StaticToken::new(actor), token_type::ACCESS_TOKEN)
        .resource(EXCHANGE_AUDIENCES[1])
        .build()
        .obtain(&exchanger(&idp, &clock))
        .await
        .expect("exchanged");
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(seen["aud"], EXCHANGE_AUDIENCES[1]);
    assert_eq!(seen["extra"]["sub"], "system:serviceaccount:ci:deployer");
    assert_eq!(seen["extra"]["act"]["sub"], SVC_POST.0, "{seen}");
}

#[tokio::test]
async fn an_audience_the_provider_does_not_serve_is_invalid_target_with_a_hint() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let subject = svc_post_token(&idp, &clock).await;
    let err = TokenExchange::builder(StaticToken::new(subject), token_type::ACCESS_TOKEN)
        .audience("https://elsewhere.example")
        .build()
        .obtain(&exchanger(&idp, &clock))
        .await
        .unwrap_err();
    let latchkey::Error::Provider(provider) = &err else {
        panic!("expected a provider error, got {err:?}")
    };
    assert_eq!(provider.error, "invalid_target");
    assert!(
        err.to_string().contains("https://elsewhere.example"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("audience"), "{:?}", err.hint());
}

#[tokio::test]
async fn a_subject_token_for_another_audience_is_refused_and_the_message_says_why() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let subject = workload_jwt(
        WORKLOAD_ISSUER,
        "system:serviceaccount:ci:deployer",
        "https://not-this-idp.example",
        Duration::from_secs(300),
    );
    let err = TokenExchange::builder(StaticToken::new(subject.clone().into()), token_type::JWT)
        .build()
        .obtain(&exchanger(&idp, &clock))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("invalid_grant") && msg.contains("audience"),
        "{msg}"
    );
    assert!(
        !msg.contains(&subject),
        "the token stays out of the message"
    );
}

#[tokio::test]
async fn jwt_bearer_with_a_service_account_key_file() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let key = SecretString::from(service_account_json(&idp));
    let grant = JwtBearer::service_account(&key)
        .expect("key file")
        .scopes(["api:read"])
        .build();
    assert!(!format!("{grant:?}").contains("PRIVATE KEY"));
    let client = support::client(&idp, SA_BEARER, ClientAuth::None, &clock);
    let tokens = grant.obtain(&client).await.expect("token");
    assert_eq!(tokens.scopes(), ["api:read"]);
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(seen["extra"]["assertion_iss"], SERVICE_ACCOUNT, "{seen}");
    assert_eq!(idp.counters().await.token(JWT_BEARER), 1);
}

#[tokio::test]
async fn jwt_bearer_signed_by_a_key_the_provider_does_not_hold_is_refused_clearly() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let wrong = PrivateKeyJwt::from_pem(
        &SecretString::from(svc_jwt_rsa_pem()),
        Algorithm::RS256,
        None,
    )
    .unwrap();
    let client = support::client(&idp, SA_BEARER, ClientAuth::None, &clock);
    let err = JwtBearer::builder(wrong, SERVICE_ACCOUNT)
        .build()
        .obtain(&client)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("invalid_grant") && msg.contains("signature"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jwt_bearer_renewal_is_unattended_and_single_flight() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let signer = PrivateKeyJwt::from_pem(
        &SecretString::from(service_account_pem()),
        Algorithm::RS256,
        Some("sa-bearer-1".into()),
    )
    .unwrap();
    let grant = JwtBearer::builder(signer, SERVICE_ACCOUNT)
        .subject("alice")
        .build();
    let client = support::client(&idp, SA_BEARER, ClientAuth::None, &clock);
    let manager = TokenManager::builder(client, grant).build().unwrap();
    let first = manager.authorization_header().await.expect("first");
    clock.advance(Duration::from_secs(3600 + 1));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.authorization_header().await })
        })
        .collect();
    for task in tasks {
        let header = task.await.unwrap().expect("renewed without a person");
        assert_ne!(header, first);
    }
    // Two assertions, two `jti`s: the fixture refuses a replayed one.
    assert_eq!(idp.counters().await.token(JWT_BEARER), 2);
    let tokens = manager.tokens().await.unwrap();
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(seen["extra"]["sub"], "alice");
}

#[tokio::test]
async fn a_rotated_workload_token_file_is_read_again_and_the_new_token_sent() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    write(
        &path,
        &service_account_token(
            &idp,
            "system:serviceaccount:ns:first",
            Duration::from_secs(300),
        ),
    );
    let grant = TokenExchange::builder(FileToken::new(&path), token_type::JWT)
        .audience(EXCHANGE_AUDIENCES[0])
        .build();
    let manager = TokenManager::builder(exchanger(&idp, &clock), grant)
        .build()
        .unwrap();
    let tokens = manager.tokens().await.unwrap();
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(seen["extra"]["sub"], "system:serviceaccount:ns:first");

    // The kubelet rotates the token; the next exchange must present the new one.
    write(
        &path,
        &service_account_token(
            &idp,
            "system:serviceaccount:ns:second",
            Duration::from_secs(300),
        ),
    );
    clock.advance(Duration::from_secs(3600 + 1));
    let tokens = manager.tokens().await.expect("renewed without a person");
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(seen["extra"]["sub"], "system:serviceaccount:ns:second");
    assert_eq!(idp.counters().await.token(TOKEN_EXCHANGE), 2);
}

#[tokio::test]
async fn a_workload_token_is_a_client_assertion_and_is_read_again_when_it_changes() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    let mint = || {
        workload_jwt(
            WORKLOAD_CLIENT,
            WORKLOAD_CLIENT,
            &idp.token_url(),
            Duration::from_secs(300),
        )
    };
    let first = mint();
    write(&path, &first);
    let client = support::client(
        &idp,
        WORKLOAD_CLIENT,
        ClientAuth::Assertion(Arc::new(FileToken::new(&path))),
        &clock,
    );
    assert_eq!(client.auth().method_name(), "private_key_jwt");
    let manager = TokenManager::builder(client, ClientCredentials::new().scopes(["api:read"]))
        .build()
        .unwrap();
    manager.tokens().await.expect("first token");
    // The fixture refuses an assertion's `jti` twice, so this renewal only works if the file
    // is read again after it changed.
    write(&path, &mint());
    clock.advance(Duration::from_secs(3600 + 1));
    manager
        .tokens()
        .await
        .expect("renewed with the rotated assertion");
    let counters = idp.counters().await;
    assert_eq!(counters.by_client(WORKLOAD_CLIENT), 2);

    // Had it kept the first token, the provider would have refused the replay:
    write(&path, &first);
    clock.advance(Duration::from_secs(3600 + 1));
    let err = manager.tokens().await.unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn a_missing_or_expired_workload_token_file_says_what_to_check() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    let grant = TokenExchange::builder(FileToken::new(&path), token_type::JWT).build();
    let client = exchanger(&idp, &clock);
    let err = grant.obtain(&client).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("mounted"),
        "{msg}"
    );
    let expired = service_account_token(&idp, "system:serviceaccount:ns:old", Duration::ZERO);
    write(&path, &expired);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = grant.obtain(&client).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("expired") && msg.contains("renewing"), "{msg}");
    assert_eq!(
        idp.counters().await.token(TOKEN_EXCHANGE),
        0,
        "nothing was sent"
    );
}

#[tokio::test]
async fn a_github_actions_token_is_a_token_exchange_subject_fetched_per_exchange() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let runner = FakeGithubActions::start(fake_github_actions::Subject::default());
    let source = GithubActionsToken::new(
        runner.request_url(),
        SecretString::from(fake_github_actions::REQUEST_TOKEN),
        Some(idp.issuer().to_owned()),
    )
    .unwrap();
    let grant = TokenExchange::builder(source, token_type::JWT)
        .audience(EXCHANGE_AUDIENCES[0])
        .build();
    let manager = TokenManager::builder(exchanger(&idp, &clock), grant)
        .build()
        .unwrap();
    let tokens = manager.tokens().await.expect("exchanged");
    let seen = workload::inspect(&idp, tokens.access_token().expose_secret()).await;
    assert_eq!(
        seen["extra"]["sub"],
        "repo:latchkey/latchkey:ref:refs/heads/main"
    );
    clock.advance(Duration::from_secs(3600 + 1));
    manager.tokens().await.expect("renewed without a person");
    assert_eq!(
        runner.audiences(),
        vec![Some(idp.issuer().to_owned()); 2],
        "one runner token per exchange, each for the audience asked"
    );
    assert_eq!(idp.counters().await.token(TOKEN_EXCHANGE), 2);
}

#[tokio::test]
async fn a_github_actions_token_is_a_client_assertion() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let runner = FakeGithubActions::start(fake_github_actions::Subject {
        iss: WORKLOAD_CLIENT.into(),
        sub: WORKLOAD_CLIENT.into(),
    });
    let source = GithubActionsToken::new(
        runner.request_url(),
        SecretString::from(fake_github_actions::REQUEST_TOKEN),
        Some(idp.token_url()),
    )
    .unwrap();
    let client = support::client(
        &idp,
        WORKLOAD_CLIENT,
        ClientAuth::Assertion(Arc::new(source)),
        &clock,
    );
    let tokens = ClientCredentials::new()
        .obtain(&client)
        .await
        .expect("token");
    assert!(idp.is_active(tokens.access_token().expose_secret()).await);
    assert_eq!(runner.issued().len(), 1);

    // A wrong request token: the runner refuses, and the message says what to check.
    let source =
        GithubActionsToken::new(runner.request_url(), SecretString::from("nope"), None).unwrap();
    let client = support::client(
        &idp,
        WORKLOAD_CLIENT,
        ClientAuth::Assertion(Arc::new(source)),
        &clock,
    );
    let err = ClientCredentials::new().obtain(&client).await.unwrap_err();
    assert!(err.to_string().contains("id-token: write"), "{err}");
}

#[test]
fn outside_a_github_actions_job_the_error_says_what_the_workflow_needs() {
    let err = GithubActionsToken::from_env(|_| None, None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ACTIONS_ID_TOKEN_REQUEST_URL") && msg.contains("id-token: write"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_exchange_renewal_is_single_flight() {
    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    write(
        &path,
        &service_account_token(
            &idp,
            "system:serviceaccount:ns:app",
            Duration::from_secs(300),
        ),
    );
    let grant = TokenExchange::builder(FileToken::new(&path), token_type::JWT).build();
    let manager = TokenManager::builder(exchanger(&idp, &clock), grant)
        .build()
        .unwrap();
    manager.authorization_header().await.expect("first");
    // The same Kubernetes token is presented again: it lasts longer than the issued one.
    clock.advance(Duration::from_secs(3600 + 1));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.authorization_header().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("renewed");
    }
    assert_eq!(idp.counters().await.token(TOKEN_EXCHANGE), 2);
}
