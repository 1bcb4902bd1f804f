//! The CLI against `fake_dhis2`: the login's preflight, `doctor` on a DHIS2 without an
//! authorization server, a login through the token endpoint's trailing-slash redirect, the
//! hints for DHIS2's 401s, and `scheme check` on route objects.
#![allow(
    clippy::disallowed_methods,
    reason = "tests write their profiles and fixture files directly"
)]

use std::time::Duration;

use latchkey_testkit::fake_dhis2::{self, ApiAnswer, Dhis2Options, FakeDhis2};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{World, snapshot, text};

/// Writes a profiles file with one profile `d2` of `auth` kind: the `dhis2` preset at the
/// fake (or explicit URLs when `preset` is false), the fake's client, `extra` TOML lines.
fn dhis2_world(fake: &FakeDhis2, auth: &str, preset: bool, extra: &str) -> World {
    let world = World::new();
    let base = fake.base_url();
    let endpoints = if preset {
        format!("preset = \"dhis2\"\nbase_url = \"{base}\"\n")
    } else {
        format!(
            "token_url = \"{base}/oauth2/token\"\nauthorization_url = \"{base}/oauth2/authorize\"\nbase_url = \"{base}\"\n"
        )
    };
    let file = format!(
        "default = \"d2\"\n[profiles.d2]\nauth = \"{auth}\"\n{endpoints}client_id = \"{}\"\nclient_secret = {{ env = \"D2_SECRET\" }}\nstore = \"memory\"\n{extra}",
        fake_dhis2::CLIENT.0
    );
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(&world.config, file).unwrap();
    world
}

const SECRET: (&str, &str) = ("D2_SECRET", fake_dhis2::CLIENT.1);

fn off() -> FakeDhis2 {
    FakeDhis2::start(Dhis2Options {
        oauth_enabled: false,
        ..Dhis2Options::default()
    })
}

#[tokio::test]
async fn login_preflight_stops_before_the_browser_and_lists_the_dhis_conf_keys() {
    let fake = off();
    let world = dhis2_world(&fake, "authorization-code", true, "");
    let out = world.run(&["login"], &[SECRET]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(!err.contains("To log in, open"), "{err}");
    assert_eq!(fake.count("GET", "/oauth2/authorize"), 0);
    assert_eq!(fake.count("POST", "/oauth2/token"), 0);
    snapshot!(world, "dhis2_login_without_authorization_server", out);
}

#[tokio::test]
async fn doctor_fails_without_an_authorization_server() {
    // The dhis2 preset: its discovery document is missing.
    let fake = off();
    let world = dhis2_world(&fake, "authorization-code", true, "");
    let out = world.run(&["doctor"], &[SECRET]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    snapshot!(world, "dhis2_doctor_discovery_404", out);

    // Explicit URLs: the token endpoint answers DHIS2's HTML 401.
    let world = dhis2_world(&fake, "client-credentials", false, "");
    let out = world.run(&["doctor"], &[SECRET]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(
        report.contains("no authorization server behind this URL"),
        "{report}"
    );
    assert!(!report.contains("invalid_client"), "{report}");
    snapshot!(world, "dhis2_doctor_token_endpoint_html_401", out);
}

#[tokio::test]
async fn doctor_passes_against_dhis2_with_its_authorization_server_on() {
    let fake = FakeDhis2::start(Dhis2Options::default());
    let world = dhis2_world(&fake, "authorization-code", true, "");
    let out = world.run(&["doctor"], &[SECRET]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let report = text(&out.stdout);
    assert!(
        report.contains("http://localhost:8765 (loopback)"),
        "{report}"
    );
    snapshot!(world, "dhis2_doctor_ok", out);
}

#[tokio::test]
async fn login_completes_through_the_trailing_slash_redirect_and_request_works() {
    let fake = FakeDhis2::start(Dhis2Options::default());
    // An ephemeral port here: the preset's default (8765) may be taken on a test machine.
    let world = dhis2_world(
        &fake,
        "authorization-code",
        true,
        "redirect_uri = \"http://127.0.0.1:0/callback\"\n",
    );
    let mut login = world.tokio_cmd();
    login
        .args(["login", "--no-browser"])
        .env(SECRET.0, SECRET.1)
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
        if let Some(url) = crate::support::login_url_in(&line) {
            break url;
        }
    };
    assert!(url.as_str().contains("scope=ALL"), "{url}");
    // The fake signs in at once and redirects to the CLI's receiver.
    let http = latchkey::http_client().unwrap();
    let answer = http.get(url).send().await.unwrap();
    let to = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("http://127.0.0.1:"), "{to}");
    assert!(http.get(&to).send().await.unwrap().status().is_success());
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(child.wait().await.unwrap().success(), "{rest}");
    assert!(rest.contains("Logged in: profile `d2`"), "{rest}");
    // The code went to /oauth2/token, was redirected, and was exchanged at /oauth2/token/
    // with the secret in the body.
    let exchange: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|s| s.form.get("grant_type").map(String::as_str) == Some("authorization_code"))
        .filter(|s| s.form.contains_key("code"))
        .collect();
    let paths: Vec<_> = exchange.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/oauth2/token", "/oauth2/token/"]);
    assert!(
        exchange
            .iter()
            .all(|s| !s.authorization && s.form.contains_key("client_secret"))
    );
}

#[tokio::test]
async fn request_turns_dhis2_refusals_into_what_to_change() {
    let fake = FakeDhis2::start(Dhis2Options {
        api: ApiAnswer::UnmappedUser {
            claim: "sub".into(),
            value: "admin".into(),
        },
        ..Dhis2Options::default()
    });
    let world = dhis2_world(&fake, "client-credentials", true, "");
    let out = world.run(&["request", "GET", "/api/me"], &[SECRET]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("OpenID is `admin`"), "{err}");
    assert!(err.contains("/api/users/"), "{err}");
    snapshot!(world, "dhis2_request_unmapped_user", out);

    let fake = FakeDhis2::start(Dhis2Options {
        api: ApiAnswer::NoBearerSupport,
        ..Dhis2Options::default()
    });
    let world = dhis2_world(&fake, "client-credentials", true, "");
    let out = world.run(&["request", "GET", "/api/me"], &[SECRET]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("oidc.jwt.token.authentication.enabled = on"),
        "{err}"
    );
}

#[test]
fn scheme_check_reads_routes_and_names_a_missing_secret() {
    let world = World::new();
    let routes = world.dir.path().join("routes.json");
    std::fs::write(
        &routes,
        r#"[
  {"name":"chap","url":"https://chap.example/**","auth":{"type":"api-token","token":"d2p_x"}},
  {"name":"open","url":"https://open.example/"},
  {"name":"typeless","url":"https://x.example/","auth":{"username":"u"}},
  {"type":"http-basic","username":"admin","password":"district","sharing":{"public":"rw------"}}
]"#,
    )
    .unwrap();
    let out = world
        .cmd()
        .args(["scheme", "check"])
        .arg(&routes)
        .assert()
        .success()
        .get_output()
        .clone();
    snapshot!(world, "scheme_check_routes", out);

    // A route read back from DHIS2 has no secret: it parses, and fails when used.
    let read_back = world.dir.path().join("read-back.json");
    std::fs::write(
        &read_back,
        r#"{"id":"ujvQ0frIFA6","name":"chap","url":"https://chap.example/**","auth":{"type":"http-basic","username":"admin"}}"#,
    )
    .unwrap();
    let out = world
        .cmd()
        .args(["scheme", "check"])
        .arg(&read_back)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = text(&out.stderr);
    assert!(err.contains("`password`"), "{err}");
    snapshot!(world, "scheme_check_route_without_secret", out);
}
