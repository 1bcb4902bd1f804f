//! Resource indicators (RFC 8707) and step-up (RFC 9470) from the command line, against the
//! fixture: `--resource` tokens are audience-restricted and kept apart, and a step-up
//! challenge without a person to answer exits with the login to run, which then works.

use base64::Engine as _;
use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP, SVC_POST};

use crate::support::{World, text};

#[tokio::test]
async fn a_step_up_challenge_without_a_terminal_exits_with_the_login_to_run() {
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_service_profile(&idp, "svc", &["--base-url", idp.issuer()])
        .await;
    let env = [("SVC_SECRET", SVC_POST.1)];
    let url = idp.url("/__resource/stepup");

    idp.reset_counters().await;
    let out = world
        .run(
            &["request", "GET", &url, "-p", "svc", "--resource", &url],
            &env,
        )
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "login required: {stderr}");
    assert!(
        stderr.contains("insufficient_user_authentication"),
        "{stderr}"
    );
    assert!(
        stderr.contains("acr_values `urn:latchkey:loa:2` and a sign-in within 300 s"),
        "{stderr}"
    );
    // A client-credentials profile cannot sign a person in: the hint says so.
    assert!(stderr.contains("authorization-code"), "{stderr}");
    assert_eq!(idp.counters().await.token("client_credentials"), 1);

    // The token was for the resource (the fixture refuses a token for another audience
    // with invalid_token, not with a step-up), and it is kept under its own key: a second
    // request asks for no new token.
    idp.reset_counters().await;
    let again = world
        .run(
            &["request", "GET", &url, "-p", "svc", "--resource", &url],
            &env,
        )
        .await;
    assert_eq!(again.status.code(), Some(3), "{}", text(&again.stderr));
    assert_eq!(idp.counters().await.token_total(), 0);

    let bad = world
        .run(
            &[
                "request",
                "GET",
                &url,
                "-p",
                "svc",
                "--resource",
                "/relative",
            ],
            &env,
        )
        .await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("--resource"));
}

/// The `aud` claim of a JWT access token printed by `latchkey token`.
fn audience(jwt: &str) -> String {
    let payload = jwt.trim().split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("claims");
    claims["aud"].as_str().expect("one audience").to_owned()
}

#[tokio::test]
async fn token_resource_prints_a_token_per_resource_and_reuses_it() {
    let idp = Idp::start().await;
    let world = World::new();
    world.add_service_profile(&idp, "svc", &[]).await;
    let env = [("SVC_SECRET", SVC_POST.1)];
    let (a, b) = ("https://a.example", "https://b.example");

    idp.reset_counters().await;
    let out_a = world
        .run(&["token", "-p", "svc", "--resource", a], &env)
        .await;
    assert_eq!(out_a.status.code(), Some(0), "{}", text(&out_a.stderr));
    let out_b = world
        .run(&["token", "-p", "svc", "--resource", b], &env)
        .await;
    assert_eq!(out_b.status.code(), Some(0), "{}", text(&out_b.stderr));
    assert_eq!(audience(&text(&out_a.stdout)), a);
    assert_eq!(audience(&text(&out_b.stdout)), b);
    assert_eq!(idp.counters().await.token("client_credentials"), 2);

    // Each is stored under its own key: asked again, both come from the store.
    idp.reset_counters().await;
    let again_a = world
        .run(&["token", "-p", "svc", "--resource", a], &env)
        .await;
    let again_b = world
        .run(&["token", "-p", "svc", "--resource", b], &env)
        .await;
    assert_eq!(text(&again_a.stdout), text(&out_a.stdout));
    assert_eq!(text(&again_b.stdout), text(&out_b.stdout));
    assert_eq!(idp.counters().await.token_total(), 0);

    let both = world
        .run(&["token", "-p", "svc", "--resource", a, "--id-token"], &env)
        .await;
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
}

/// `latchkey login ARGS --no-browser`, the browser part played by alice.
async fn browser_login(world: &World, idp: &Idp, args: &[&str]) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut login = world.tokio_cmd();
    login
        .args(["login", "--no-browser"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the CLI printed the login URL")
            .unwrap()
            .expect("stderr ended before a URL");
        if let Some(url) = crate::support::login_url_in(&line) {
            break url;
        }
    };
    let agent = latchkey_testkit::person::UserAgent::new();
    let redirect = agent
        .log_in_and_consent(&url, idp.issuer(), ALICE)
        .await
        .expect_err("the IdP redirects to the CLI's loopback receiver");
    agent.get(&redirect).await;
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(child.wait().await.unwrap().success(), "{rest}");
    url.to_string()
}

#[tokio::test]
async fn a_browser_profile_is_told_the_login_to_run_and_that_login_satisfies_the_resource() {
    let idp = Idp::start().await;
    let world = World::new();
    let url = idp.url("/__resource/stepup");
    for args in [
        vec![
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
        vec!["profile", "set", "web", "resource", &url],
        // Parameters in the URL, so the test can read what the login asked for.
        vec!["profile", "set", "web", "par", "never"],
    ] {
        let out = world.run(&args, &[]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let first = browser_login(&world, &idp, &[]).await;
    assert!(first.contains("resource="), "{first}");
    assert!(!first.contains("acr_values"), "{first}");

    let out = world.run(&["request", "GET", &url], &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let command = "latchkey login web --acr-values urn:latchkey:loa:2 --max-age 300";
    assert!(stderr.contains(command), "{stderr}");

    // The command it names, run: the ID token shows the sign-in and the resource accepts.
    let args: Vec<&str> = command.split(' ').skip(2).collect();
    let second = browser_login(&world, &idp, &args).await;
    assert!(
        second.contains("acr_values=urn%3Alatchkey%3Aloa%3A2"),
        "{second}"
    );
    assert!(second.contains("max_age=300"), "{second}");
    let out = world.run(&["request", "GET", &url], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("urn:latchkey:loa:2"));
}
