//! The `token-exchange` and `jwt-bearer` profile kinds and workload `client_assertion`s,
//! through `latchkey token -p …` against the fixture's grant handlers.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write token, key and profile files as another system would, not through the private-file helper"
)]

use std::path::Path;
use std::time::Duration;

use latchkey_testkit::Idp;
use latchkey_testkit::fake_github_actions::{self, FakeGithubActions};
use latchkey_testkit::workload::{self, *};
use serde_json::json;

use crate::support::{World, text};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

fn write(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn profiles(world: &World, body: &str) {
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(&world.config, body).unwrap();
}

#[tokio::test]
async fn token_exchange_profile_reads_the_rotated_file_and_jwt_bearer_reads_a_key_file() {
    let idp = Idp::start().await;
    let world = World::new();
    let token_file = world.state.with_file_name("sa-token");
    let key_file = world.state.with_file_name("sa-key.json");
    write(
        &token_file,
        &service_account_token(
            &idp,
            "system:serviceaccount:ci:first",
            Duration::from_secs(300),
        ),
    );
    write(&key_file, &service_account_json(&idp));
    profiles(
        &world,
        &format!(
            r#"
[profiles.k8s]
auth = "token-exchange"
issuer = "{issuer}"
client_id = "{exchanger}"
client_secret = {{ env = "EXCHANGER_SECRET" }}
subject_token = {{ file = "{token_file}" }}
audience = "{audience}"

[profiles.gcp]
auth = "jwt-bearer"
issuer = "{issuer}"
client_id = "{sa}"
service_account_key = "{key_file}"
scopes = ["api:read"]
"#,
            issuer = idp.issuer(),
            exchanger = EXCHANGER.0,
            token_file = token_file.display(),
            key_file = key_file.display(),
            audience = EXCHANGE_AUDIENCES[0],
            sa = SA_BEARER,
        ),
    );
    let secret = [("EXCHANGER_SECRET", EXCHANGER.1)];

    // A token is renewed once half its life is gone (the refresh margin is capped at half):
    // with 2 s tokens, the next process a second later exchanges again, unattended, with
    // whatever the file holds then.
    idp.set_ttl(json!({ "ClientCredentials": 2 })).await;
    let first = ok(&world.run(&["token", "-p", "k8s"], &secret).await);
    let seen = workload::inspect(&idp, &first).await;
    assert_eq!(seen["aud"], EXCHANGE_AUDIENCES[0], "{seen}");
    assert_eq!(seen["extra"]["sub"], "system:serviceaccount:ci:first");

    // The kubelet rotates the token.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    write(
        &token_file,
        &service_account_token(
            &idp,
            "system:serviceaccount:ci:second",
            Duration::from_secs(300),
        ),
    );
    let second = ok(&world.run(&["token", "-p", "k8s"], &secret).await);
    assert_ne!(second, first);
    let seen = workload::inspect(&idp, &second).await;
    assert_eq!(
        seen["extra"]["sub"], "system:serviceaccount:ci:second",
        "{seen}"
    );
    assert_eq!(idp.counters().await.token(TOKEN_EXCHANGE), 2);

    let gcp = ok(&world.run(&["token", "-p", "gcp"], &[]).await);
    let seen = workload::inspect(&idp, &gcp).await;
    assert_eq!(seen["extra"]["assertion_iss"], SERVICE_ACCOUNT, "{seen}");
}

#[tokio::test]
async fn workload_client_assertion_and_github_actions_subject_profiles() {
    let idp = Idp::start().await;
    let world = World::new();
    let runner = FakeGithubActions::start(fake_github_actions::Subject::default());
    let assertion_file = world.state.with_file_name("assertion");
    write(
        &assertion_file,
        &workload_jwt(
            WORKLOAD_CLIENT,
            WORKLOAD_CLIENT,
            &idp.token_url(),
            Duration::from_secs(300),
        ),
    );
    profiles(
        &world,
        &format!(
            r#"
[profiles.wif]
auth = "client-credentials"
issuer = "{issuer}"
client_id = "{workload_client}"
client_assertion = {{ file = "{assertion_file}" }}
scopes = ["api:read"]

[profiles.gha]
auth = "token-exchange"
issuer = "{issuer}"
client_id = "{exchanger}"
client_secret = {{ env = "EXCHANGER_SECRET" }}
subject_token = {{ github_actions = "{issuer}" }}
"#,
            issuer = idp.issuer(),
            workload_client = WORKLOAD_CLIENT,
            assertion_file = assertion_file.display(),
            exchanger = EXCHANGER.0,
        ),
    );
    let wif = ok(&world.run(&["token", "-p", "wif"], &[]).await);
    assert!(idp.is_active(&wif).await);
    assert_eq!(idp.counters().await.by_client(WORKLOAD_CLIENT), 1);

    let envs = [
        ("EXCHANGER_SECRET", EXCHANGER.1),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", runner.request_url()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            fake_github_actions::REQUEST_TOKEN,
        ),
    ];
    let gha = ok(&world.run(&["token", "-p", "gha"], &envs).await);
    let seen = workload::inspect(&idp, &gha).await;
    assert_eq!(
        seen["extra"]["sub"], "repo:latchkey/latchkey:ref:refs/heads/main",
        "{seen}"
    );
    assert_eq!(runner.audiences(), vec![Some(idp.issuer().to_owned())]);

    // Outside a job: the error names what the workflow needs.
    ok(&world.run(&["logout", "-p", "gha"], &envs).await);
    let out = world
        .run(
            &["token", "-p", "gha"],
            &[("EXCHANGER_SECRET", EXCHANGER.1)],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("id-token: write"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn token_exchange_profile_takes_another_profiles_access_token() {
    let idp = Idp::start().await;
    let world = World::new();
    profiles(
        &world,
        &format!(
            r#"
[profiles.svc]
auth = "client-credentials"
issuer = "{issuer}"
client_id = "{svc}"
client_secret = {{ env = "SVC_SECRET" }}
client_auth = "client_secret_post"

[profiles.delegated]
auth = "token-exchange"
issuer = "{issuer}"
client_id = "{exchanger}"
client_secret = {{ env = "EXCHANGER_SECRET" }}
subject_token = {{ profile = "svc" }}
subject_token_type = "urn:ietf:params:oauth:token-type:access_token"
resource = "{resource}"

[profiles.chained]
auth = "token-exchange"
issuer = "{issuer}"
client_id = "{exchanger}"
client_secret = {{ env = "EXCHANGER_SECRET" }}
subject_token = {{ profile = "delegated" }}
"#,
            issuer = idp.issuer(),
            svc = latchkey_testkit::clients::SVC_POST.0,
            exchanger = EXCHANGER.0,
            resource = EXCHANGE_AUDIENCES[1],
        ),
    );
    let envs = [
        ("SVC_SECRET", latchkey_testkit::clients::SVC_POST.1),
        ("EXCHANGER_SECRET", EXCHANGER.1),
    ];
    let token = ok(&world.run(&["token", "-p", "delegated"], &envs).await);
    let seen = workload::inspect(&idp, &token).await;
    assert_eq!(seen["aud"], EXCHANGE_AUDIENCES[1], "{seen}");
    assert_eq!(seen["extra"]["sub"], latchkey_testkit::clients::SVC_POST.0);
    let counters = idp.counters().await;
    assert_eq!(counters.token("client_credentials"), 1);
    assert_eq!(counters.token(TOKEN_EXCHANGE), 1);

    let out = world.run(&["token", "-p", "chained"], &envs).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("chains are not followed"),
        "{}",
        text(&out.stderr)
    );
}
