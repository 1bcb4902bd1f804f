//! `request` against the fixture's step-up resource (RFC 9470) with `--resource` (RFC 8707):
//! the token for that resource is audience-restricted to it, its sign-in is too weak, and
//! without a person to log in again the command says what to run.

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
