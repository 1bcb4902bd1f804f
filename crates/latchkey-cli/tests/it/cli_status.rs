//! `status`, `profile list`'s login state, `--json` on the reporting commands, `token
//! --id-token`, `introspect`, `decode`'s relative times and `logout`, against the identity
//! provider fixture. Times that drift between runs are filtered (`[TIME]`, `[SPAN]`,
//! `[EPOCH]`); the direction ("valid for", "expired … ago") stays in the snapshot.

use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, SVC_POST};
use serde_json::Value;

use crate::support::{EPOCH, SPAN, World, snapshot, text};

const ALICE_ENV: [(&str, &str); 1] = [("ALICE_PASSWORD", ALICE.1)];

/// A password profile `NAME` signing in as alice with `openid offline_access` (an ID token
/// and a refresh token with `refresh_expires_in`).
async fn alice_profile(world: &World, idp: &Idp, name: &str, extra: &[&str]) {
    let mut options = vec!["--scope", "openid offline_access api:read"];
    options.extend_from_slice(extra);
    world
        .add_password_profile(idp, name, (ALICE.0, "ALICE_PASSWORD"), &options)
        .await;
}

/// `svc`: client credentials for `svc-post`, discovered from the issuer (so introspection
/// and doctor's JWKS check have endpoints), the default profile.
async fn svc_profile(world: &World, idp: &Idp) {
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
            "--default",
        ])
        .await;
}

const SVC_ENV: [(&str, &str); 1] = [("SVC_SECRET", SVC_POST.1)];

#[tokio::test]
async fn status_leads_with_a_headline_and_exits_1_when_not_logged_in() {
    let idp = Idp::start().await;
    let world = World::new();
    alice_profile(&world, &idp, "alice", &["--default"]).await;

    let out = world.run(&["status"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    snapshot!(world, "status_not_logged_in", out);

    let out = world.run(&["login", "--json"], &ALICE_ENV).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let login: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(login["subject"], "alice");
    snapshot!(world, "login_json", out);

    let out = world.run(&["status"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("ok alice — logged in as alice, token valid for "),
        "{stdout}"
    );
    snapshot!(world, "status_logged_in", out, SPAN => "[SPAN]");

    let out = world.run(&["status", "--json"], &[]).await;
    let status: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(status["logged_in"], true);
    assert!(status["refresh_expires_at"].is_string(), "{status}");
    snapshot!(world, "status_json_logged_in", out);
}

#[tokio::test]
async fn status_all_and_profile_list_show_each_profile_state() {
    let idp = Idp::start().await;
    let world = World::new();
    alice_profile(&world, &idp, "alice", &[]).await;
    alice_profile(&world, &idp, "bob-never", &[]).await;
    world
        .add_profile(&[
            "profile",
            "add",
            "fixed",
            "--auth",
            "bearer",
            "--token-env",
            "FIXED_TOKEN",
        ])
        .await;
    let out = world.run(&["login", "alice"], &ALICE_ENV).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A damaged token file: that profile's line says so, the others still show.
    alice_profile(&world, &idp, "broken", &[]).await;
    let tokens = world.state.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    #[allow(
        clippy::disallowed_methods,
        reason = "the test damages a token file on purpose"
    )]
    std::fs::write(tokens.join("broken.json"), "not json").unwrap();
    // Private, as the store requires, so what it reports is the content.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(tokens.join("broken.json"), private).unwrap();
    }

    let out = world.run(&["status", "--all"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "bob-never is not logged in");
    snapshot!(world, "status_all", out, SPAN => "[SPAN]");

    let out = world.run(&["status", "--all", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let all: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(4));
    assert!(all[2]["error"].is_string(), "{all}");

    let out = world.run(&["profile", "list"], &[]).await;
    snapshot!(world, "profile_list_login_state", out);
    let out = world.run(&["profile", "list", "--json"], &[]).await;
    snapshot!(world, "profile_list_json", out);

    let out = world.run(&["-p", "alice", "status", "--all"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn token_id_token_prints_the_stored_id_token_or_says_why_not() {
    let idp = Idp::start().await;
    let world = World::new();
    alice_profile(&world, &idp, "alice", &["--default"]).await;
    svc_profile_named(&world, &idp).await;

    let out = world.run(&["token", "--id-token"], &ALICE_ENV).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id_token = text(&out.stdout).trim().to_owned();
    assert_eq!(id_token.split('.').count(), 3, "{id_token}");
    // Again, from the store's fresh token (the path without a runtime): the same ID token,
    // no new request.
    let before = idp.counters().await.token_total();
    let again = world.run(&["token", "--id-token"], &ALICE_ENV).await;
    assert_eq!(text(&again.stdout).trim(), id_token);
    assert_eq!(idp.counters().await.token_total(), before);

    // The ID token decoded: exp "valid for", iat "ago".
    let out = world.run(&["decode", &id_token], &[]).await;
    let stdout = text(&out.stdout);
    assert!(stdout.contains(", valid for "), "{stdout}");
    assert!(stdout.contains(" ago)"), "{stdout}");
    snapshot!(
        world,
        "decode_id_token",
        out,
        SPAN => "[SPAN]",
        EPOCH => "[EPOCH]",
        r"(?m)^(  (?:kid|at_hash|sid|jti|iss)\s+).*$" => "$1[VALUE]",
    );

    let out = world
        .run(&["-p", "svc", "token", "--id-token"], &SVC_ENV)
        .await;
    assert_eq!(out.status.code(), Some(2));
    snapshot!(world, "token_id_token_missing", out);
}

async fn svc_profile_named(world: &World, idp: &Idp) {
    world
        .add_service_profile(idp, "svc", &["--scope", "api:read"])
        .await;
}

/// The form a terminal gets, forced through a pipe with `CLICOLOR_FORCE` (which `NO_COLOR`
/// overrides: the snapshots above have words, not marks).
#[test]
fn status_marks_are_glyphs_in_colour_on_a_terminal() {
    let world = World::new();
    let out = world
        .cmd()
        .args([
            "profile",
            "add",
            "fixed",
            "--auth",
            "bearer",
            "--token-env",
            "T",
            "--default",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = world
        .cmd()
        .arg("status")
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("\u{1b}[1m\u{1b}[32m✓"),
        "{}",
        text(&out.stdout)
    );
    snapshot!(world, "status_on_a_terminal", out, r"\x1b\[([0-9;]*)m" => "<$1>");
}

#[test]
fn decode_says_how_long_ago_a_token_expired() {
    let world = World::new();
    // {"alg":"RS256","kid":"k1"} . {"sub":"alice","exp":1700000000,"iat":1699996400}
    let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMCwiaWF0IjoxNjk5OTk2NDAwfQ.c2ln";
    let out = world.cmd().args(["decode", jwt]).output().unwrap();
    assert!(
        text(&out.stdout).contains("expired "),
        "{}",
        text(&out.stdout)
    );
    snapshot!(world, "decode_expired", out, SPAN => "[SPAN]");
    let out = world
        .cmd()
        .args(["decode", "--json", jwt])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["expired"], true);
    snapshot!(world, "decode_json", out);
}

#[tokio::test]
async fn introspect_asks_the_identity_provider() {
    let idp = Idp::start().await;
    let world = World::new();
    svc_profile(&world, &idp).await;

    let out = world.run(&["introspect"], &SVC_ENV).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("active      yes\n"));
    snapshot!(
        world,
        "introspect",
        out,
        SPAN => "[SPAN]",
        EPOCH => "[EPOCH]",
        r"(?m)^(jti\s+).*$" => "$1[JTI]",
    );

    let out = world.run(&["introspect", "--json"], &SVC_ENV).await;
    let answer: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], SVC_POST.0);
    snapshot!(
        world,
        "introspect_json",
        out,
        EPOCH => "[EPOCH]",
        r#""jti": "[^"]*""# => r#""jti": "[JTI]""#,
    );

    let out = world
        .run(&["introspect", "--refresh-token"], &SVC_ENV)
        .await;
    assert_eq!(out.status.code(), Some(2));
    snapshot!(world, "introspect_no_refresh_token", out);

    // Explicit URLs only: no endpoint to ask, and the error names it.
    world
        .add_service_profile(&idp, "plain", &["--scope", "api:read"])
        .await;
    let out = world.run(&["-p", "plain", "introspect"], &SVC_ENV).await;
    assert_eq!(out.status.code(), Some(2));
    snapshot!(world, "introspect_without_endpoint", out);
}

#[tokio::test]
async fn doctor_json_lists_each_check() {
    let idp = Idp::start().await;
    let world = World::new();
    svc_profile(&world, &idp).await;
    let out = world.run(&["doctor", "--json"], &SVC_ENV).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["ok"], true);
    snapshot!(world, "doctor_json", out);
}

#[tokio::test]
async fn logout_twice_asks_which_and_logs_out_of_all() {
    let idp = Idp::start().await;
    let world = World::new();
    alice_profile(&world, &idp, "a", &[]).await;
    alice_profile(&world, &idp, "b", &[]).await;
    for name in ["a", "b"] {
        let out = world.run(&["login", name], &ALICE_ENV).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    // No profile selected (the first profile added became the default: drop that), two
    // logged in, no terminal: an error naming them.
    let config = world.config.clone();
    let file = std::fs::read_to_string(&config).unwrap();
    let without_default: String = file
        .lines()
        .filter(|line| !line.starts_with("default ="))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(file, without_default, "the first profile was the default");
    #[expect(clippy::disallowed_methods, reason = "a test edits its fixture file")]
    std::fs::write(&config, without_default).unwrap();
    let out = world.run(&["logout"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    snapshot!(world, "logout_which_profile", out);

    let out = world.run(&["logout", "a"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    snapshot!(world, "logout_once", out);
    let out = world.run(&["logout", "a", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    snapshot!(world, "logout_twice", out);

    // One left logged in: `logout` with nothing selected picks it.
    let out = world.run(&["logout", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    snapshot!(world, "logout_picks_the_one_logged_in", out);

    for name in ["a", "b"] {
        let out = world.run(&["login", name], &ALICE_ENV).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = world.run(&["logout", "--all", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    snapshot!(world, "logout_all", out);
    let out = world.run(&["status", "--all"], &[]).await;
    assert_eq!(out.status.code(), Some(1), "nobody is logged in");
    let out = world.run(&["logout"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("No profile is logged in"));
}
