//! `request` against the fixture's step-up resource (RFC 9470) with `--resource` (RFC 8707):
//! the token for that resource is audience-restricted to it, its sign-in is too weak, and
//! without a person to log in again the command says what to run.

use base64::Engine as _;
use latchkey_testkit::Idp;
use latchkey_testkit::clients::SVC_POST;

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
