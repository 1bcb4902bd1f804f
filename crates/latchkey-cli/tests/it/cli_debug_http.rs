//! `--debug-http` (and `-vv`): every exchange with the identity provider on stderr, the
//! field and header names shown and every secret value masked.

use latchkey::{ExposeSecret, FileStore, TokenStore};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, SVC_POST};

use crate::support::{World, regex_escape, snapshot, text};

/// Response headers whose values change from run to run.
/// (The discovery document's length changes with the port's digits.)
const VOLATILE_HEADERS: &str = r"(?m)^< (date|etag|keep-alive|x-request-id|content-length): .*$";

#[tokio::test]
async fn debug_http_shows_the_exchanges_with_every_secret_masked() {
    let idp = Idp::start().await;
    let world = World::new();
    // Discovery (a GET) and a client-credentials token request (a form POST).
    world
        .add_profile(&[
            "profile",
            "add",
            "svc",
            "--auth",
            "client-credentials",
            "--issuer",
            idp.issuer(),
            "--client-id",
            SVC_POST.0,
            "--client-secret-env",
            "SVC_SECRET",
            "--client-auth",
            "client_secret_post",
            "--scope",
            "api:read",
        ])
        .await;
    let env = [("SVC_SECRET", SVC_POST.1), ("ALICE_PASSWORD", ALICE.1)];
    let out = world
        .run(&["-p", "svc", "--debug-http", "token"], &env)
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let stderr = text(&out.stderr);
    for shown in [
        "> GET http://",
        "/.well-known/openid-configuration",
        "> POST http://",
        "> grant_type=client_credentials",
        &format!("> client_id={}", SVC_POST.0),
        &format!("> client_secret=••••({})", SVC_POST.1.chars().count()),
        "< HTTP 200 OK",
        "\"access_token\": \"••••(",
    ] {
        assert!(stderr.contains(shown), "`{shown}` missing:\n{stderr}");
    }
    for secret in [SVC_POST.1, token.as_str()] {
        assert!(!stderr.contains(secret), "a secret leaked:\n{stderr}");
    }
    snapshot!(
        world,
        "debug_http_client_credentials",
        out,
        regex_escape(&token) => "[TOKEN]",
        VOLATILE_HEADERS => "< $1: [VALUE]",
        r"••••\((\d+)\)" => "••••($1)",
    );

    // A password login with a refresh token, shown by -vv: the password, the tokens and the
    // refresh token stay masked, and the transport libraries' own debug logs stay out.
    world
        .add_password_profile(
            &idp,
            "alice",
            (ALICE.0, "ALICE_PASSWORD"),
            &["--scope", "openid offline_access"],
        )
        .await;
    let out = world.run(&["-p", "alice", "-vv", "login"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let store = FileStore::new(world.state.join("tokens"));
    let stored = store.load("alice").await.unwrap().expect("stored tokens");
    let refresh = stored.refresh_token().expect("a refresh token");
    let mut secrets = vec![
        ALICE.1.to_owned(),
        stored.access_token().expose_secret().to_owned(),
        refresh.expose_secret().to_owned(),
    ];
    secrets.extend(stored.id_token().map(|t| t.expose_secret().to_owned()));
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()),
            "a secret leaked:\n{stderr}"
        );
    }
    for shown in [
        "> grant_type=password",
        &format!("> username={}", ALICE.0),
        &format!("> password=••••({})", ALICE.1.chars().count()),
        "\"refresh_token\": \"••••(",
        "\"id_token\": \"••••(",
    ] {
        assert!(stderr.contains(shown), "`{shown}` missing:\n{stderr}");
    }
    assert!(!stderr.contains("hyper"), "transport noise:\n{stderr}");

    // A refresh (the stored access token made stale): the refresh token goes out masked.
    let now = std::time::SystemTime::now();
    let stale = stored
        .clone()
        .with_expires_at(Some(now - std::time::Duration::from_secs(60)));
    store.save("alice", &stale).await.unwrap();
    let out = world
        .run(&["-p", "alice", "--debug-http", "token"], &env)
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    secrets.push(text(&out.stdout).trim().to_owned());
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()),
            "a secret leaked:\n{stderr}"
        );
    }
    assert!(
        stderr.contains(&format!(
            "> refresh_token=••••({})",
            refresh.expose_secret().chars().count()
        )),
        "{stderr}"
    );
}
