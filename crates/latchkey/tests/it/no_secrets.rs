//! No secret reaches `Debug` output or logs, even at `trace` level.

use std::sync::Arc;
use std::time::Duration;

use latchkey::{
    Algorithm, ClientAuth, ClientCredentials, ExposeSecret, FileStore, Grant, ManualClock,
    Password, PrivateKeyJwt, RefreshTokenOnly, SecretString, StaticAuth, TokenManager,
};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::*;
use latchkey_testkit::logs::{CapturedLogs, assert_no_secret, in_own_process};
use serde_json::json;

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_output_and_trace_logs_contain_no_secret() {
    if !in_own_process("no_secrets::debug_output_and_trace_logs_contain_no_secret") {
        return;
    }
    let logs = CapturedLogs::install("trace");

    let idp = Idp::start().await;
    let clock = Arc::new(ManualClock::new());
    let mut secrets: Vec<String> = vec![
        SVC_BASIC.1.into(),
        SVC_POST.1.into(),
        ALICE.1.into(),
        CAROL.1.into(),
    ];

    // Every config, grant and credential type.
    let jwt_key = PrivateKeyJwt::from_pem(
        &SecretString::from(svc_jwt_rsa_pem()),
        Algorithm::RS256,
        Some(SVC_JWT_RSA_KID.into()),
    )
    .unwrap();
    let pem_body: String = svc_jwt_rsa_pem().lines().nth(2).unwrap().to_owned();
    secrets.push(pem_body);
    let basic = support::svc_basic(&idp, &clock);
    let post = support::client(
        &idp,
        SVC_POST.0,
        ClientAuth::SecretPost(SecretString::from(SVC_POST.1)),
        &clock,
    );
    let jwt = support::client(
        &idp,
        SVC_JWT,
        ClientAuth::PrivateKeyJwt(jwt_key.clone()),
        &clock,
    );
    let pw = support::pw_client(&idp, &clock);
    let totp = idp.totp(CAROL.0).await;
    let carol =
        Password::new(CAROL.0, SecretString::from(CAROL.1)).totp(SecretString::from(totp.clone()));
    let statics = [
        StaticAuth::basic("admin", SecretString::from("basic-pass-7781")),
        StaticAuth::ApiToken(SecretString::from("d2pat_secret_7781")),
        StaticAuth::Bearer(SecretString::from("bearer-secret-7781")),
        StaticAuth::headers([("X-Api-Key", SecretString::from("hdr-secret-7781"))]).unwrap(),
        StaticAuth::query_params([("api_key", SecretString::from("query-secret-7781"))]),
    ];
    secrets.extend(
        [
            "basic-pass-7781",
            "d2pat_secret_7781",
            "bearer-secret-7781",
            "hdr-secret-7781",
            "query-secret-7781",
        ]
        .map(String::from),
    );

    // Run real flows so the logs have something to say: success, refresh, failures, retries.
    let dir = tempfile::tempdir().unwrap();
    let cc = TokenManager::builder(basic.clone(), ClientCredentials::new())
        .key("svc")
        .store(Arc::new(FileStore::new(dir.path())))
        .build()
        .unwrap();
    let cc_tokens = cc.tokens().await.unwrap();
    let post_tokens = ClientCredentials::new().obtain(&post).await.unwrap();
    let jwt_tokens = ClientCredentials::new().obtain(&jwt).await.unwrap();
    let carol_tokens = carol.obtain(&pw).await.unwrap();
    let alice = TokenManager::builder(pw.clone(), support::alice())
        .key("alice")
        .build()
        .unwrap();
    let first = alice.tokens().await.unwrap();
    clock.advance(Duration::from_secs(3600));
    idp.fault(json!({"path": "/token", "grant_type": "refresh_token", "action": "status", "status": 500, "times": 1})).await;
    let second = alice.tokens().await.unwrap();
    let refresh_only = RefreshTokenOnly::new(second.refresh_token().unwrap().clone());
    let bad = support::client(
        &idp,
        SVC_BASIC.0,
        ClientAuth::SecretBasic(SecretString::from("wrong-secret-7781")),
        &clock,
    );
    secrets.push("wrong-secret-7781".into());
    let _ = ClientCredentials::new().obtain(&bad).await.unwrap_err();
    let wrong_pw = Password::new(ALICE.0, SecretString::from("wrong-password-7781"));
    secrets.push("wrong-password-7781".into());
    let failure = wrong_pw.obtain(&pw).await.unwrap_err();

    for tokens in [
        &*cc_tokens,
        &post_tokens,
        &jwt_tokens,
        &carol_tokens,
        &*first,
        &*second,
    ] {
        secrets.push(tokens.access_token().expose_secret().to_owned());
        if let Some(r) = tokens.refresh_token() {
            secrets.push(r.expose_secret().to_owned());
        }
        if let Some(id) = tokens.id_token() {
            secrets.push(id.expose_secret().to_owned());
        }
    }
    secrets.push(totp.clone());

    let debug = format!(
        "{basic:?} {post:?} {jwt:?} {pw:?} {jwt_key:?} {carol:?} {statics:?} {cc:?} {alice:?} {refresh_only:?} {cc_tokens:?} {second:?} {failure:?} {failure} {:?}",
        ClientAuth::SecretPost(SecretString::from(SVC_POST.1))
    );
    assert_no_secret(&debug, &secrets);

    let logs = logs.text();
    assert!(logs.contains("token request"), "trace logging was captured");
    assert!(logs.contains("retrying"), "the retry was logged");
    assert_no_secret(&logs, &secrets);
}
