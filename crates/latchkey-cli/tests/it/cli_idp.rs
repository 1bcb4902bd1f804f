//! The CLI against the real identity provider fixture (`tests/idp`): device login approved
//! over HTTP by a scripted person, token reuse from the file store, the cross-process
//! single flight, revocation, credential helper shapes, `request` and `doctor`.

use std::time::{Duration, SystemTime};

use latchkey::{ExposeSecret, FileStore, TokenSet, TokenStore};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, CAROL, NATIVE_APP, SVC_POST};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{World, regex_escape, snapshot, text};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The service profile most tests use: `svc`, scope `api:read`, the default.
const SVC_DEFAULT: &[&str] = &["--scope", "api:read", "--default"];

#[tokio::test]
async fn device_login_token_status_request_and_revoking_logout() {
    let idp = Idp::start().await;
    let world = World::new();
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "dev",
                "--auth",
                "device-code",
                "--issuer",
                idp.issuer(),
                "--client-id",
                NATIVE_APP,
                "--scope",
                "openid offline_access api:read",
                "--base-url",
                idp.issuer(),
                "--default",
            ],
            &[],
        )
        .await);

    // Before login: a token needs a person.
    let out = world.run(&["token"], &[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("latchkey login dev"),
        "{}",
        text(&out.stderr)
    );

    let mut login = world.tokio_cmd();
    login
        .args(["login", "--device"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the CLI printed the verification URL")
            .unwrap()
            .unwrap_or_else(|| panic!("stderr ended before a URL: {seen:?}"));
        seen.push(line.clone());
        if let Some(url) = line.split_whitespace().find(|w| w.contains("user_code=")) {
            break url::Url::parse(url).unwrap();
        }
    };
    latchkey_testkit::person::approve_device(&url, idp.issuer(), ALICE).await;
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "login failed: {rest}");
    assert!(rest.contains("as `alice` (ID token verified)"), "{rest}");

    let before = idp.counters().await.token_total();
    let token = ok(&world.run(&["token"], &[]).await).trim().to_owned();
    assert!(!token.is_empty() && !token.contains(' '));
    assert_eq!(
        idp.counters().await.token_total(),
        before,
        "token came from the store"
    );
    assert!(idp.is_active(&token).await);

    let out = world.run(&["status", "--json"], &[]).await;
    let status: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(status["valid"], true);
    assert_eq!(status["subject"], "alice");
    assert_eq!(status["has_refresh_token"], true);
    snapshot!(
        world,
        "device_status_json",
        out,
        r#""store": "[^"]*""# => r#""store": "[STORE]""#,
    );

    // `request` joins a relative URL to base_url and sends the token: userinfo answers.
    let me: Value =
        serde_json::from_str(&ok(&world.run(&["request", "GET", "me"], &[]).await)).unwrap();
    assert_eq!(me["sub"], "alice");

    let out = world.run(&["logout", "--revoke"], &[]).await;
    ok(&out);
    assert!(!idp.is_active(&token).await, "revoked at the IdP");
    // Not logged in: exit 1, and the JSON still says why.
    let out = world.run(&["status", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let status: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(status["logged_in"], false);
}

#[tokio::test]
async fn client_credentials_token_is_reused_from_the_file_store() {
    let idp = Idp::start().await;
    let world = World::new();
    world.add_service_profile(&idp, "svc", SVC_DEFAULT).await;
    let env = [("SVC_SECRET", SVC_POST.1)];
    let first = ok(&world.run(&["token"], &env).await);
    assert_eq!(idp.counters().await.token("client_credentials"), 1);
    let second = ok(&world.run(&["token"], &env).await);
    assert_eq!(first, second);
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "second run reused the stored token"
    );
    let header = ok(&world.run(&["header"], &env).await);
    assert_eq!(header, format!("Authorization: Bearer {first}"));

    // The same with the SQLite store.
    world
        .add_service_profile(&idp, "svc-db", &["--store", "sqlite"])
        .await;
    let a = ok(&world.run(&["-p", "svc-db", "token"], &env).await);
    let b = ok(&world.run(&["-p", "svc-db", "token"], &env).await);
    assert_eq!(a, b);
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "one request for the sqlite profile"
    );
    assert!(world.state.join("tokens.sqlite").exists());
}

#[tokio::test]
async fn eight_processes_on_an_expired_token_make_one_request() {
    let idp = Idp::start().await;
    let world = World::new();
    world.add_service_profile(&idp, "svc", SVC_DEFAULT).await;
    let env = [("SVC_SECRET", SVC_POST.1)];
    let old = ok(&world.run(&["token"], &env).await);

    // Expire the stored token (no sleeping): same token, expiry an hour ago.
    let store = FileStore::new(world.state.join("tokens"));
    let stored = store.load("svc").await.unwrap().expect("stored token");
    let now = SystemTime::now();
    let expired = TokenSet::new(
        stored.access_token().clone(),
        now - Duration::from_secs(7200),
    )
    .with_expires_at(Some(now - Duration::from_secs(3600)))
    .with_scopes(stored.scopes().to_vec());
    store.save("svc", &expired).await.unwrap();
    idp.reset_counters().await;

    // Spawn all eight before waiting for any, so they race for the refresh.
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut cmd = world.tokio_cmd();
            cmd.arg("token")
                .envs(env)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut outputs = Vec::new();
    for child in children {
        outputs.push(child.wait_with_output().await.unwrap());
    }
    let tokens: std::collections::BTreeSet<String> = outputs.iter().map(ok).collect();
    assert_eq!(
        tokens.len(),
        1,
        "every process printed the same new token: {tokens:?}"
    );
    assert_ne!(tokens.first().unwrap(), &old);
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        1,
        "one refresh for 8 processes"
    );
    let fresh = store.load("svc").await.unwrap().unwrap();
    assert_eq!(
        format!("{}\n", fresh.access_token().expose_secret()),
        *tokens.first().unwrap()
    );
}

#[tokio::test]
async fn credential_kubectl_and_doctor() {
    let idp = Idp::start().await;
    let world = World::new();
    world.add_service_profile(&idp, "svc", SVC_DEFAULT).await;
    let env = [("SVC_SECRET", SVC_POST.1)];
    let out = world.run(&["credential", "kubectl"], &env).await;
    let credential: Value = serde_json::from_str(&ok(&out)).unwrap();
    let token = credential["status"]["token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    snapshot!(world, "kubectl_exec_credential", out, regex_escape(&token) => "[TOKEN]");

    // doctor with discovery: an issuer-based profile for the same client.
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "oidc-svc",
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
            ],
            &[],
        )
        .await);
    let out = world.run(&["-p", "oidc-svc", "doctor"], &env).await;
    ok(&out);
    snapshot!(world, "doctor_ok", out);
    let out = world.run(&["-p", "oidc-svc", "doctor"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("SVC_SECRET"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn browser_login_without_a_browser_prints_the_url_and_receives_the_redirect() {
    let idp = Idp::start().await;
    let world = World::new();
    ok(&world
        .run(
            &[
                "profile",
                "add",
                "web",
                "--auth",
                "authorization-code",
                "--issuer",
                idp.issuer(),
                "--client-id",
                NATIVE_APP,
                "--scope",
                "openid offline_access",
                "--default",
            ],
            &[],
        )
        .await);
    let mut login = world.tokio_cmd();
    login
        .args(["login", "--no-browser"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the CLI printed the login URL")
            .unwrap()
            .expect("stderr ended before a URL");
        if let Some(url) = line
            .split_whitespace()
            // The fixture advertises PAR: the URL names the pushed request, not PKCE.
            .find(|w| w.starts_with(idp.issuer()) && w.contains("request_uri="))
        {
            break url::Url::parse(url).unwrap();
        }
    };
    let agent = latchkey_testkit::person::UserAgent::new();
    let redirect = agent
        .log_in_and_consent(&url, idp.issuer(), ALICE)
        .await
        .expect_err("the IdP redirects to the CLI's loopback receiver");
    assert!(
        redirect.as_str().starts_with("http://127.0.0.1:"),
        "{redirect}"
    );
    let page = agent.get(&redirect).await;
    assert!(page.status.is_success(), "{}", page.body);
    assert!(
        page.body
            .contains("You are logged in to profile <strong>web</strong>."),
        "the page names the profile: {}",
        page.body
    );
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(child.wait().await.unwrap().success(), "{rest}");
    assert!(rest.contains("as `alice` (ID token verified)"), "{rest}");
    let status: Value =
        serde_json::from_str(&ok(&world.run(&["status", "--json"], &[]).await)).unwrap();
    assert_eq!(status["subject"], "alice");
    assert_eq!(status["valid"], true);
}

async fn login_with_stdin(
    world: &World,
    stdin: &str,
    envs: &[(&str, &str)],
) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = world.tokio_cmd();
    cmd.args(["login", "--totp"])
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn latchkey");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    child.wait_with_output().await.expect("latchkey login")
}

/// A password account with two-factor login: the one-time code comes from stdin, a wrong or
/// missing one is refused, and the code never shows up in the output.
#[tokio::test]
async fn password_login_with_a_one_time_code_from_stdin() {
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_password_profile(&idp, "carol", (CAROL.0, "CAROL_PASSWORD"), &["--default"])
        .await;
    let env = [("CAROL_PASSWORD", CAROL.1)];

    let out = world.run(&["login"], &env).await;
    assert!(!out.status.success(), "carol needs a one-time code");
    let out = login_with_stdin(&world, "\n", &env).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("stdin"), "{}", text(&out.stderr));

    let code = idp.totp(CAROL.0).await;
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let out = login_with_stdin(&world, &format!("{wrong}\n"), &env).await;
    assert!(!out.status.success(), "a wrong code is refused");
    assert!(!text(&out.stderr).contains(&wrong), "{}", text(&out.stderr));

    let code = idp.totp(CAROL.0).await;
    let out = login_with_stdin(&world, &format!("{code}\n"), &env).await;
    ok(&out);
    assert!(!text(&out.stderr).contains(&code), "{}", text(&out.stderr));
    let token = ok(&world.run(&["token"], &env).await);
    assert!(token.trim().len() > 10, "{token}");

    // Only password profiles take a code.
    world.add_service_profile(&idp, "svc", SVC_DEFAULT).await;
    let out = login_with_stdin(&world, &format!("{code}\n"), &[("SVC_SECRET", SVC_POST.1)]).await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("only applies to `password` profiles"),
        "{}",
        text(&out.stderr)
    );
}

/// `request` reads the resource server's Bearer challenge: the IdP's userinfo endpoint
/// refuses a client-credentials token (`invalid_token`, 401: renewed once, as any 401) and a
/// token without `openid` (`insufficient_scope`, 403), and the error says what it needs.
#[tokio::test]
async fn request_names_what_the_resource_server_refused() {
    let idp = Idp::start().await;
    let world = World::new();
    let env = [("SVC_SECRET", SVC_POST.1), ("ALICE_PASSWORD", ALICE.1)];
    world
        .add_service_profile(
            &idp,
            "svc",
            &["--scope", "api:read", "--base-url", idp.issuer()],
        )
        .await;
    let out = world
        .run(&["-p", "svc", "request", "GET", "me"], &env)
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("HTTP 401 Unauthorized: invalid_token (invalid token provided)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        idp.counters().await.token("client_credentials"),
        2,
        "invalid_token: one renewal, as for any 401"
    );

    world
        .add_password_profile(
            &idp,
            "alice",
            (ALICE.0, "ALICE_PASSWORD"),
            &["--scope", "api:read", "--base-url", idp.issuer()],
        )
        .await;
    idp.reset_counters().await;
    let out = world
        .run(&["-p", "alice", "request", "GET", "me"], &env)
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("HTTP 403 Forbidden: insufficient_scope (access token missing openid scope)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the resource needs scope `openid`: add it to profile `alice`'s scopes"),
        "{stderr}"
    );
    assert_eq!(
        idp.counters().await.token_total(),
        1,
        "no renewal for a 403"
    );
    assert!(!stderr.contains(ALICE.1), "{stderr}");
}

#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "a test writes the profiles file and CA a user would have written"
)]
async fn a_redis_store_over_tls_with_its_password_from_the_environment() {
    let redis = latchkey_testkit::RedisServer::builder()
        .tls()
        .acl_user("cli", "cli-s3cret")
        .start();
    let world = World::new();
    let ca = world.dir.path().join("redis-ca.pem");
    std::fs::write(&ca, &redis.pki().unwrap().ca).unwrap();
    let url = redis.url().replace("rediss://", "rediss://cli@");
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(
        &world.config,
        format!(
            "default = \"svc\"\n[profiles.svc]\nauth = \"client-credentials\"\n\
             token_url = \"https://127.0.0.1:9/token\"\nclient_id = \"svc\"\n\
             [profiles.svc.store]\nredis = \"{url}\"\npassword = {{ env = \"REDIS_PW\" }}\n\
             ca = {ca:?}\n"
        ),
    )
    .unwrap();
    // Another process put a valid token there (a worker sharing the service identity).
    let config = latchkey::RedisConfig::new(&url)
        .unwrap()
        .ca_pem(redis.pki().unwrap().ca.clone().into_bytes())
        .password("cli-s3cret".to_string().into());
    let store = latchkey::RedisStore::connect_config(config).await.unwrap();
    let now = SystemTime::now();
    let tokens = TokenSet::new("at-over-tls".to_string().into(), now)
        .with_expires_at(Some(now + Duration::from_secs(3600)));
    store.save("svc", &tokens).await.unwrap();

    let out = world.run(&["token"], &[("REDIS_PW", "cli-s3cret")]).await;
    assert_eq!(ok(&out).trim(), "at-over-tls");
    let out = world
        .run(&["status", "--json"], &[("REDIS_PW", "cli-s3cret")])
        .await;
    let status: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(status["logged_in"], true);
    assert_eq!(
        status["store"],
        redis.url().as_str(),
        "shown without user and password"
    );

    let out = world
        .run(&["token"], &[("REDIS_PW", "not-the-password")])
        .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    assert!(stderr.contains(&redis.url()), "names the server: {stderr}");
    let out = world.run(&["token"], &[]).await;
    assert!(
        text(&out.stderr).contains("REDIS_PW"),
        "{}",
        text(&out.stderr)
    );
}
