//! CLI behaviour that needs no identity provider: profiles, static credentials, errors,
//! exit codes, schemes, decode, credential helper shapes, closed pipes.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write fixture files and damage them on purpose, bypassing the private-file helper"
)]

use std::io::Read;
use std::process::Stdio;

use crate::support::{World, bin, snapshot, text};

fn write_profiles(world: &World, text: &str) {
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(&world.config, text).unwrap();
}

#[test]
fn broken_profiles_file_exits_2_with_path_line_and_column() {
    let world = World::new();
    write_profiles(
        &world,
        "default = \"svc\"\n[profiles.svc]\nauth = \"client-credentials\"\nscopes = [\"a\" \"b\"]\n",
    );
    let out = world
        .cmd()
        .arg("token")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("[TMP]") || err.contains("profiles.toml:4:"),
        "{err}"
    );
    snapshot!(world, "broken_profiles_file", out);
}

#[test]
fn unknown_profile_lists_the_known_ones() {
    let world = World::new();
    write_profiles(
        &world,
        "[profiles.alpha]\nauth = \"bearer\"\n[profiles.beta]\nauth = \"basic\"\n",
    );
    let out = world
        .cmd()
        .args(["-p", "gamma", "token"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = text(&out.stderr);
    assert!(err.contains("alpha, beta"), "{err}");
    snapshot!(world, "unknown_profile", out);
}

#[test]
fn missing_secret_env_var_is_named() {
    let world = World::new();
    world
        .cmd()
        .args([
            "profile",
            "add",
            "d2",
            "--auth",
            "api-token",
            "--token-env",
            "DHIS2_PAT_FOR_TEST",
            "--default",
        ])
        .assert()
        .success();
    let out = world
        .cmd()
        .arg("header")
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = text(&out.stderr);
    assert!(err.contains("`DHIS2_PAT_FOR_TEST`"), "{err}");
    snapshot!(world, "missing_secret_env", out);
}

#[test]
fn dhis2_pat_profile_prints_an_apitoken_header() {
    let world = World::new();
    world
        .cmd()
        .args([
            "profile",
            "add",
            "d2",
            "--auth",
            "api-token",
            "--token-env",
            "DHIS2_PAT",
            "--base-url",
            "https://play.dhis2.org/dev",
        ])
        .assert()
        .success();
    world
        .cmd()
        .args(["-p", "d2", "header"])
        .env("DHIS2_PAT", "d2p_abc123")
        .assert()
        .success()
        .stdout("Authorization: ApiToken d2p_abc123\n");
    world
        .cmd()
        .args(["-p", "d2", "token"])
        .env("DHIS2_PAT", "d2p_abc123")
        .assert()
        .success()
        .stdout("d2p_abc123\n");
}

#[test]
fn env_only_profile_needs_no_file() {
    let world = World::new();
    world
        .cmd()
        .arg("header")
        .env("LATCHKEY_URL", "https://api.example.org")
        .env("LATCHKEY_TOKEN", "tok-1")
        .assert()
        .success()
        .stdout("Authorization: Bearer tok-1\n");
    world
        .cmd()
        .arg("header")
        .env("LATCHKEY_URL", "https://api.example.org")
        .env("LATCHKEY_USERNAME", "admin")
        .env("LATCHKEY_PASSWORD", "district")
        .assert()
        .success()
        .stdout("Authorization: Basic YWRtaW46ZGlzdHJpY3Q=\n");
    // A named profile wins over the env-only one.
    write_profiles(
        &world,
        "[profiles.p]\nauth = \"bearer\"\ntoken = { env = \"P_TOKEN\" }\n",
    );
    world
        .cmd()
        .args(["-p", "p", "token"])
        .env("LATCHKEY_URL", "https://api.example.org")
        .env("LATCHKEY_TOKEN", "tok-1")
        .env("P_TOKEN", "from-profile")
        .assert()
        .success()
        .stdout("from-profile\n");
}

#[test]
fn profile_commands_keep_comments_and_redact_literals() {
    let world = World::new();
    write_profiles(
        &world,
        "# team profiles\n[profiles.legacy] # do not touch\nauth = \"bearer\"\ntoken = \"literal-sekrit\"\n",
    );
    world
        .cmd()
        .args([
            "profile",
            "add",
            "svc",
            "--auth",
            "client-credentials",
            "--issuer",
            "https://idp.example.org",
            "--client-id",
            "svc",
            "--client-secret-env",
            "SVC_SECRET",
            "--scope",
            "api:read api:write",
            "--default",
        ])
        .assert()
        .success();
    let file = std::fs::read_to_string(&world.config).unwrap();
    assert!(
        file.contains("# team profiles") && file.contains("# do not touch"),
        "{file}"
    );
    snapshot!(world, "profiles_file_after_add", file);
    let out = world
        .cmd()
        .args(["profile", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    snapshot!(world, "profile_list", out);
    let shown = world
        .cmd()
        .args(["profile", "show", "legacy"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!text(&shown).contains("literal-sekrit"));
    world
        .cmd()
        .args(["profile", "default", "legacy"])
        .assert()
        .success();
    world
        .cmd()
        .args(["profile", "remove", "svc"])
        .assert()
        .success();
    let list = world
        .cmd()
        .args(["profile", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        text(&list),
        "* legacy               bearer               user     fixed\n"
    );
    // Adding a profile whose name is taken fails without --force.
    world
        .cmd()
        .args(["profile", "add", "legacy", "--auth", "bearer"])
        .assert()
        .code(2);
}

#[test]
fn scheme_check_accepts_the_five_variants_and_rejects_unknown_types() {
    let world = World::new();
    let good = world.dir.path().join("schemes.json");
    std::fs::write(
        &good,
        r#"[
  {"type":"http-basic","username":"admin","password":"district"},
  {"type":"api-token","token":"d2p_abc"},
  {"type":"api-headers","headers":{"X-API-Key":"k1"}},
  {"type":"api-query-params","queryParams":{"api_key":"q1"}},
  {"type":"oauth2-client-credentials","clientId":"c","clientSecret":"s","tokenUri":"https://idp.example/token","scopes":"read write"}
]"#,
    )
    .unwrap();
    let out = world
        .cmd()
        .args(["scheme", "check"])
        .arg(&good)
        .assert()
        .success()
        .get_output()
        .clone();
    snapshot!(world, "scheme_check_ok", out);
    let bad = world.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"type":"oauth2-password","username":"u"}"#).unwrap();
    let out = world
        .cmd()
        .args(["scheme", "check"])
        .arg(&bad)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = text(&out.stderr);
    for t in [
        "http-basic",
        "api-token",
        "api-headers",
        "api-query-params",
        "oauth2-client-credentials",
    ] {
        assert!(err.contains(t), "{err}");
    }
    snapshot!(world, "scheme_check_unknown_type", out);
}

#[test]
fn decode_pretty_prints_and_says_not_verified() {
    let world = World::new();
    // {"alg":"RS256","kid":"k1"} . {"sub":"alice","exp":1700000000}
    let jwt =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAwMH0.c2ln";
    let out = world
        .cmd()
        .args(["decode", "--json", jwt])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(text(&out.stderr).contains("NOT verified"));
    snapshot!(world, "decode", out);
    world.cmd().args(["decode", "not-a-jwt"]).assert().code(2);
}

#[test]
fn credential_git_answers_for_the_profile_host_only() {
    let world = World::new();
    write_profiles(
        &world,
        "default = \"git\"\n[profiles.git]\nauth = \"bearer\"\ntoken = { env = \"GIT_TOKEN\" }\nbase_url = \"https://git.example.org\"\n",
    );
    let out = world
        .cmd()
        .args(["credential", "git", "get"])
        .env("GIT_TOKEN", "ghp_test")
        .write_stdin("protocol=https\nhost=git.example.org\n\n")
        .assert()
        .success()
        .get_output()
        .clone();
    snapshot!(world, "credential_git", out);
    world
        .cmd()
        .args(["credential", "git", "get"])
        .env("GIT_TOKEN", "ghp_test")
        .write_stdin("protocol=https\nhost=other.example.org\n\n")
        .assert()
        .success()
        .stdout("");
    world
        .cmd()
        .args(["credential", "git", "store"])
        .write_stdin("protocol=https\nhost=git.example.org\nusername=x\npassword=y\n\n")
        .assert()
        .success()
        .stdout("");
}

#[test]
fn closed_stdout_exits_0() {
    let world = World::new();
    let long = "t".repeat(100_000);
    // Deterministic: the reading end is closed before latchkey writes, so the write fails
    // with EPIPE (a token larger than the pipe buffer makes it fail even if it raced).
    let mut child = std::process::Command::new(bin())
        .args(["token"])
        .env("LATCHKEY_CONFIG", &world.config)
        .env("LATCHKEY_STATE_DIR", &world.state)
        .env("LATCHKEY_URL", "https://api.example.org")
        .env("LATCHKEY_TOKEN", &long)
        .env_remove("LATCHKEY_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // And the shell way, `latchkey token | head -c1`.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' token | head -c1; echo \" $?\"",
                bin()
            ),
        ])
        .env("LATCHKEY_CONFIG", &world.config)
        .env("LATCHKEY_STATE_DIR", &world.state)
        .env("LATCHKEY_URL", "https://api.example.org")
        .env("LATCHKEY_TOKEN", &long)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "t 0\n", "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_2_and_completions_work() {
    let world = World::new();
    world.cmd().arg("no-such-command").assert().code(2);
    world.cmd().args(["request", "GET"]).assert().code(2);
    let out = world
        .cmd()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(text(&out.stdout).contains("latchkey"));
}

#[test]
fn literal_secrets_work_but_are_warned_about() {
    let world = World::new();
    write_profiles(
        &world,
        "[profiles.lit]\nauth = \"bearer\"\ntoken = \"literal-tok\"\n",
    );
    let out = world
        .cmd()
        .args(["-p", "lit", "token"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(text(&out.stdout), "literal-tok\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("literal secret") && !err.contains("literal-tok"),
        "{err}"
    );
}

#[test]
fn exec_passes_the_token_and_the_exit_status() {
    let world = World::new();
    let out = world
        .cmd()
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "echo \"$LATCHKEY_TOKEN|$LATCHKEY_AUTHORIZATION\"; exit 7",
        ])
        .env("LATCHKEY_URL", "https://api.example.org")
        .env("LATCHKEY_TOKEN", "tok-9")
        .assert()
        .code(7)
        .get_output()
        .clone();
    assert_eq!(text(&out.stdout), "tok-9|Bearer tok-9\n");
}

#[test]
fn a_preset_fills_the_endpoints() {
    let world = World::new();
    // The dhis2 preset derives its OAuth2 endpoints from base_url (a fake DHIS2 with its
    // authorization server on: doctor's preflight needs one to answer).
    let fake = latchkey_testkit::fake_dhis2::FakeDhis2::start(Default::default());
    let base_url = format!("{}/", fake.base_url());
    world
        .cmd()
        .args([
            "profile",
            "add",
            "d2",
            "--auth",
            "client-credentials",
            "--preset",
            "dhis2",
            "--base-url",
            &base_url,
            "--client-id",
            "c",
            "--client-secret-env",
            "D2_SECRET",
            "--default",
        ])
        .assert()
        .success();
    let out = world
        .cmd()
        .arg("doctor")
        .env("D2_SECRET", "s")
        .assert()
        .success()
        .get_output()
        .clone();
    let report = text(&out.stdout);
    assert!(
        report.contains(&format!("{}/oauth2/token", fake.base_url())),
        "{report}"
    );
    snapshot!(world, "doctor_dhis2_preset", out);
}

/// `token` and `header` answer from a fresh stored token before any runtime or network is
/// involved (the identity provider here does not even resolve), and that shortcut never
/// hides a problem with the stored file: the normal path then reports it.
// Unix only: it damages the token file with a mode that Windows has no counterpart for.
#[cfg(unix)]
#[test]
fn a_fresh_stored_token_is_served_and_a_bad_file_is_still_reported() {
    use std::os::unix::fs::PermissionsExt;

    let world = World::new();
    write_profiles(
        &world,
        "default = \"svc\"\n[profiles.svc]\nauth = \"client-credentials\"\n\
         token_url = \"https://idp.invalid/token\"\nclient_id = \"svc\"\n\
         client_secret = \"{env:SVC_SECRET}\"\n",
    );
    let tokens = world.state.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = tokens.join("svc.json");
    let write_token = |expires_in_ms: i64| {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        std::fs::write(
            &file,
            format!(
                "{{\"version\":1,\"access_token\":\"stored-token\",\"token_type\":\"Bearer\",\
                 \"scopes\":[],\"expires_at_ms\":{},\"obtained_at_ms\":{}}}\n",
                now_ms + expires_in_ms,
                now_ms - 3_600_000
            ),
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let run = |args: &[&str]| {
        world
            .cmd()
            .args(args)
            .env("SVC_SECRET", "unused")
            .output()
            .unwrap()
    };

    write_token(3_600_000);
    let out = run(&["token"]);
    assert_eq!(text(&out.stdout), "stored-token\n", "{}", text(&out.stderr));
    let out = run(&["header"]);
    assert_eq!(text(&out.stdout), "Authorization: Bearer stored-token\n");

    // Readable by others: refused, with the fix in the hint, and nothing printed.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["token"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );

    // Expired: not served from the store; getting a new one fails here (the provider does
    // not resolve), and the error says so.
    write_token(-1_000);
    let out = run(&["token"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("idp.invalid"),
        "{}",
        text(&out.stderr)
    );
}

/// `credential git get` for a bearer profile with `base_url` (or none), `request` on stdin:
/// the whole outcome.
fn git_get(base_url: Option<&str>, request: &str) -> std::process::Output {
    let world = World::new();
    let base_url = base_url.map_or(String::new(), |u| format!("base_url = \"{u}\"\n"));
    write_profiles(
        &world,
        &format!(
            "default = \"git\"\n[profiles.git]\nauth = \"bearer\"\n\
             token = {{ env = \"GIT_TOKEN\" }}\n{base_url}"
        ),
    );
    world
        .cmd()
        .args(["credential", "git", "get"])
        .env("GIT_TOKEN", "ghp_secret")
        .write_stdin(request)
        .output()
        .unwrap()
}

/// Exit 0, nothing on stdout (git asks its next helper), and a hint on stderr naming why.
fn assert_git_declined(out: &std::process::Output, why: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(text(&out.stdout), "", "{err}");
    assert!(!err.contains("ghp_secret"), "{err}");
    assert!(err.contains(why), "expected `{why}` in: {err}");
}

#[test]
fn finding_git_helper_fails_closed_without_base_url() {
    let out = git_get(None, "protocol=https\nhost=git.example.org\n\n");
    assert_git_declined(&out, "no base_url");
}

#[test]
fn finding_git_helper_fails_closed_without_a_host_line() {
    let out = git_get(Some("https://git.example.org"), "protocol=https\n\n");
    assert_git_declined(&out, "no host");
}

#[test]
fn finding_git_helper_fails_closed_for_another_host() {
    let out = git_get(
        Some("https://git.example.org"),
        "protocol=https\nhost=evil.example.net\n\n",
    );
    assert_git_declined(&out, "https://git.example.org");
    // A host that merely starts or ends like ours is another host.
    let out = git_get(
        Some("https://git.example.org"),
        "protocol=https\nhost=git.example.org.evil.net\n\n",
    );
    assert_git_declined(&out, "https://git.example.org");
}

#[test]
fn finding_git_helper_fails_closed_for_another_port() {
    let out = git_get(
        Some("https://git.example.org"),
        "protocol=https\nhost=git.example.org:8443\n\n",
    );
    assert_git_declined(&out, "https://git.example.org");
    let out = git_get(
        Some("https://git.example.org:8443"),
        "protocol=https\nhost=git.example.org\n\n",
    );
    assert_git_declined(&out, "https://git.example.org:8443");
}

#[test]
fn finding_git_helper_fails_closed_for_plain_http_to_a_remote_host() {
    // Even with a profile that names the http origin: the token would cross the network
    // in clear text.
    for base_url in ["https://git.example.org", "http://git.example.org"] {
        let out = git_get(Some(base_url), "protocol=http\nhost=git.example.org\n\n");
        assert_git_declined(&out, "clear text");
    }
    // No protocol, or another one, is no https either.
    for request in [
        "host=git.example.org\n\n",
        "protocol=ftp\nhost=git.example.org\n\n",
    ] {
        let out = git_get(Some("https://git.example.org"), request);
        assert_git_declined(&out, "answers https");
    }
}

#[test]
fn finding_git_helper_answers_its_own_origin_with_default_ports_and_loopback_http() {
    for (base_url, request) in [
        (
            "https://git.example.org",
            "protocol=https\nhost=GIT.example.org:443\n\n",
        ),
        (
            "https://git.example.org:443/org/",
            "protocol=https\nhost=git.example.org\n\n",
        ),
        (
            "http://127.0.0.1:8080",
            "protocol=http\nhost=127.0.0.1:8080\n\n",
        ),
        (
            "http://localhost:8080",
            "protocol=http\nhost=localhost:8080\n\n",
        ),
    ] {
        let out = git_get(Some(base_url), request);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("password=ghp_secret\n"),
            "{base_url}: {}",
            text(&out.stderr)
        );
    }
}

/// The host is decided before any token is fetched: a login that has lapsed (here: no
/// stored token, an identity provider that does not resolve) is no error for a host the
/// profile would not answer anyway.
#[test]
fn finding_git_helper_fails_closed_before_fetching_a_token() {
    let world = World::new();
    write_profiles(
        &world,
        "default = \"git\"\n[profiles.git]\nauth = \"client-credentials\"\n\
         token_url = \"https://idp.invalid/token\"\nclient_id = \"svc\"\n\
         client_secret = { env = \"SVC_SECRET\" }\nbase_url = \"https://git.example.org\"\n",
    );
    let out = world
        .cmd()
        .args(["credential", "git", "get"])
        .env("SVC_SECRET", "unused")
        .write_stdin("protocol=https\nhost=github.com\n\n")
        .output()
        .unwrap();
    assert_git_declined(&out, "https://git.example.org");
    assert!(
        !text(&out.stderr).contains("error"),
        "{}",
        text(&out.stderr)
    );
    // The profile's own host still tries, and reports the failure.
    let out = world
        .cmd()
        .args(["credential", "git", "get"])
        .env("SVC_SECRET", "unused")
        .write_stdin("protocol=https\nhost=git.example.org\n\n")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("idp.invalid"),
        "{}",
        text(&out.stderr)
    );
}

/// `request ARGS` with a bearer profile whose `base_url` is `base_url` (or none); nothing
/// here resolves, so whatever gets past the origin checks fails with a network error (5).
fn request_with(base_url: Option<&str>, args: &[&str]) -> std::process::Output {
    let world = World::new();
    let base_url = base_url.map_or(String::new(), |u| format!("base_url = \"{u}\"\n"));
    write_profiles(
        &world,
        &format!(
            "default = \"api\"\n[profiles.api]\nauth = \"bearer\"\n\
             token = {{ env = \"API_TOKEN\" }}\n{base_url}"
        ),
    );
    world
        .cmd()
        .arg("request")
        .args(args)
        .env("API_TOKEN", "api_secret")
        .output()
        .unwrap()
}

fn assert_request_refused(out: &std::process::Output, why: &str, hint: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "{err}");
    assert!(err.contains(why), "expected `{why}` in: {err}");
    assert!(
        err.contains(&format!("hint: {hint}")),
        "expected hint `{hint}` in: {err}"
    );
    assert!(!err.contains("api_secret"), "{err}");
}

#[test]
fn finding_request_refuses_other_origins_than_base_url() {
    let base = Some("https://api.invalid");
    for url in [
        "https://elsewhere.invalid/x",
        "https://api.invalid:8443/x",
        "https://api.invalid.elsewhere.invalid/x",
    ] {
        let out = request_with(base, &["GET", url]);
        assert_request_refused(&out, "https://api.invalid", "pass --allow-other-host");
    }
    // The flag lets it through to the network (which fails here: nothing resolves).
    let out = request_with(
        base,
        &["GET", "https://elsewhere.invalid/x", "--allow-other-host"],
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    // The profile's own origin, absolute or relative, needs no flag.
    for url in ["https://API.invalid:443/x", "/x"] {
        let out = request_with(base, &["GET", url]);
        assert_eq!(out.status.code(), Some(5), "{url}: {}", text(&out.stderr));
    }
}

#[test]
fn finding_request_refuses_plain_http_to_remote_hosts() {
    // Always: with a base_url on another origin, on the same host, without a base_url, and
    // with --allow-other-host.
    for (base, args) in [
        (
            Some("https://api.invalid"),
            vec!["GET", "http://elsewhere.invalid/x"],
        ),
        (
            Some("https://api.invalid"),
            vec!["GET", "http://api.invalid/x"],
        ),
        (Some("http://api.invalid"), vec!["GET", "/x"]),
        (None, vec!["GET", "http://api.invalid/x"]),
        (
            Some("https://api.invalid"),
            vec!["GET", "http://elsewhere.invalid/x", "--allow-other-host"],
        ),
    ] {
        let out = request_with(base, &args);
        assert_request_refused(&out, "plain http", "use https");
    }
    // Loopback stays open over http: the request reaches the (closed) port.
    let out = request_with(Some("http://127.0.0.1:9"), &["GET", "/x"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}
