//! The scenario matrix's CLI rows (`latchkey_testkit::matrix::Flow::CLI`): `token`, `login`
//! with `status`, `logout --revoke` and `doctor`, the same code against each real identity
//! provider fixture (oidc-provider, glewlwyd and LemonLDAP::NG) with profiles by discovery.
//! A test per (flow, provider): `cli_matrix::<flow>_row::<provider>`; what a provider does
//! not support is printed, not skipped silently (`latchkey_testkit::matrix::run_cell`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests write their profiles files directly, and a browser opens the loopback redirect"
)]

use std::sync::Arc;
use std::time::Duration;

use latchkey_testkit::matrix::{Fixture, Flow, Provider, run_cell};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{World, text};

type Outcome = Result<(), String>;

/// `Err(message)` unless `condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

async fn run(provider: Provider, flow: Flow) {
    run_cell(provider, flow, |fixture| async move {
        match flow {
            Flow::CliToken => token(&fixture).await,
            Flow::CliLoginStatus => login_status(&fixture).await,
            Flow::CliLogoutRevoke => logout_revoke(&fixture).await,
            Flow::CliDoctor => doctor(&fixture).await,
            other => panic!("{other:?} runs in the library's tests"),
        }
    })
    .await;
}

/// The environment variable the machine profile's secret comes from.
const SECRET_ENV: &str = "MATRIX_SECRET";

/// Writes the profiles file: `machine` (client credentials, `client_secret_basic`) and `user`
/// (authorization code + PKCE with the native client, the default).
fn write_profiles(world: &World, fixture: &Fixture) {
    let issuer = fixture.issuer();
    let machine = fixture.basic_client();
    let scopes = |list: Vec<&str>| {
        list.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let redirect = fixture
        .fixed_redirect_uri()
        .map(|uri| format!("redirect_uri = \"{uri}\"\n"))
        .unwrap_or_default();
    std::fs::create_dir_all(world.config.parent().unwrap()).unwrap();
    std::fs::write(
        &world.config,
        format!(
            "default = \"user\"\n\
             [profiles.machine]\nauth = \"client-credentials\"\nissuer = \"{issuer}\"\n\
             client_id = \"{}\"\nclient_secret = {{ env = \"{SECRET_ENV}\" }}\nscopes = [{}]\n\
             [profiles.user]\nauth = \"authorization-code\"\nissuer = \"{issuer}\"\n\
             client_id = \"{}\"\nscopes = [{}]\n{redirect}",
            machine.id,
            scopes(fixture.machine_scopes()),
            fixture.native_client(),
            scopes(fixture.user_scopes()),
        ),
    )
    .unwrap();
}

fn machine_env(fixture: &Fixture) -> [(&'static str, &'static str); 1] {
    [(SECRET_ENV, fixture.basic_client().secret.unwrap())]
}

/// The output's stdout when it exited 0, else what it said.
fn success(out: &std::process::Output) -> Result<String, String> {
    if out.status.success() {
        return Ok(text(&out.stdout));
    }
    Err(format!(
        "exit {:?}: {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    ))
}

async fn token(fixture: &Fixture) -> Outcome {
    let world = World::new();
    write_profiles(&world, fixture);
    let env = machine_env(fixture);
    let first = success(&world.run(&["-p", "machine", "token"], &env).await)?;
    ensure!(first.trim().len() > 10, "a token: {first}");
    let second = success(&world.run(&["-p", "machine", "token"], &env).await)?;
    ensure!(second == first, "the stored token was not reused");
    Ok(())
}

async fn doctor(fixture: &Fixture) -> Outcome {
    let world = World::new();
    write_profiles(&world, fixture);
    let out = success(
        &world
            .run(&["-p", "machine", "doctor"], &machine_env(fixture))
            .await,
    )?;
    ensure!(!out.trim().is_empty(), "doctor printed nothing");
    Ok(())
}

/// `latchkey login --no-browser` for the `user` profile: the person opens the printed URL,
/// logs in at the provider, and the browser follows the redirect to the CLI's receiver.
async fn login(world: &World, fixture: &Arc<Fixture>) -> Outcome {
    let mut login = world.tokio_cmd();
    login
        .args(["login", "--no-browser"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| format!("no login URL within 30 s: {seen:?}"))?
            .unwrap()
            .ok_or_else(|| format!("stderr ended before a URL: {seen:?}"))?;
        seen.push(line.clone());
        if let Some(url) = crate::support::login_url_in(&line) {
            break url;
        }
    };
    let redirect = fixture.authorize(&url).await;
    let status = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(redirect.clone())
        .send()
        .await
        .map_err(|e| format!("the redirect {redirect}: {e}"))?
        .status();
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
        rest.push('\n');
    }
    ensure!(
        status.is_success(),
        "the receiver answered {status}: {rest}"
    );
    ensure!(
        child.wait().await.unwrap().success(),
        "login failed: {rest}"
    );
    Ok(())
}

async fn status(world: &World) -> Result<Value, String> {
    let out = world.run(&["status", "--json"], &[]).await;
    serde_json::from_str(&text(&out.stdout)).map_err(|e| format!("status --json: {e}"))
}

async fn login_status(fixture: &Arc<Fixture>) -> Outcome {
    let world = World::new();
    write_profiles(&world, fixture);
    login(&world, fixture).await?;
    let status = status(&world).await?;
    ensure!(status["valid"] == true, "status after login: {status}");
    ensure!(
        status["subject"].as_str().is_some_and(|s| !s.is_empty()),
        "no subject: {status}"
    );
    let token = success(&world.run(&["token"], &[]).await)?;
    ensure!(token.trim().len() > 10, "a token: {token}");
    Ok(())
}

async fn logout_revoke(fixture: &Arc<Fixture>) -> Outcome {
    let world = World::new();
    write_profiles(&world, fixture);
    login(&world, fixture).await?;
    success(&world.run(&["logout", "--revoke"], &[]).await)?;
    let out = world.run(&["status", "--json"], &[]).await;
    ensure!(
        out.status.code() == Some(1),
        "status after logout: exit {:?}",
        out.status.code()
    );
    let status: Value = serde_json::from_str(&text(&out.stdout)).map_err(|e| e.to_string())?;
    ensure!(
        status["logged_in"] == false,
        "status after logout: {status}"
    );
    Ok(())
}

latchkey_testkit::matrix_rows! {
    CliToken => token_row,
    CliLoginStatus => login_status_row,
    CliLogoutRevoke => logout_revoke_row,
    CliDoctor => doctor_row,
}

#[test]
fn every_cli_flow_has_a_row_of_tests() {
    assert_eq!(ROWS, Flow::CLI.as_slice());
}
