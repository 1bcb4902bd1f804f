//! Setting up the credential helpers: `credential git setup` writes git's config through
//! `git config` (a repository's, or the user's with `--global`) and git then gets the token
//! from latchkey; `credential kubectl --print-kubeconfig` prints the exec plugin entry, and
//! `credential kubectl` logs in first when kubectl says a person is there.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use latchkey_testkit::Idp;
use latchkey_testkit::clients::{ALICE, NATIVE_APP, SVC_POST};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{World, bin, regex_escape, snapshot, text};

/// Runs `program ARGS` in `cwd` with the world's environment, `HOME` in the world (git's
/// global config there), no system git config, and `stdin` as input.
async fn run_in(
    world: &World,
    program: &str,
    cwd: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: &str,
) -> Output {
    let mut cmd = world.tokio_cmd_of(program);
    cmd.current_dir(cwd)
        .args(args)
        .envs(envs.iter().copied())
        .env("HOME", world.dir.path().join("home"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_CONFIG_GLOBAL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.expect("run")
}

#[tokio::test]
async fn git_setup_configures_the_profiles_host_and_git_gets_the_token() {
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_service_profile(
            &idp,
            "svc",
            &[
                "--scope",
                "api:read",
                "--base-url",
                idp.issuer(),
                "--default",
            ],
        )
        .await;
    let env = [("SVC_SECRET", SVC_POST.1)];
    let origin = url::Url::parse(idp.issuer())
        .unwrap()
        .origin()
        .ascii_serialization();
    let key = format!("credential.{origin}.helper");
    let home = world.dir.path().join("home");
    let repo = world.dir.path().join("repo");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    let outside = home.as_path();

    // Outside a repository, only --global has a config to write.
    let out = run_in(
        &world,
        &bin(),
        outside,
        &["credential", "git", "setup"],
        &env,
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    snapshot!(world, "git_setup_outside_a_repository", out);

    let git = |args: &'static [&'static str], cwd: &'static str| {
        let cwd = world.dir.path().join(cwd);
        let world = &world;
        async move {
            let out = run_in(world, "git", &cwd, args, &[], "").await;
            assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
            text(&out.stdout)
        }
    };
    git(&["init", "-q"], "repo").await;
    let out = run_in(
        &world,
        &bin(),
        &repo,
        &["credential", "git", "setup"],
        &env,
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    snapshot!(world, "git_setup_repository", out, regex_escape(&bin()) => "[LATCHKEY]");
    let helpers = run_in(
        &world,
        "git",
        &repo,
        &["config", "--local", "--get-all", &key],
        &[],
        "",
    )
    .await;
    assert_eq!(
        text(&helpers.stdout),
        format!("\n!{} -p svc credential git\n", bin()),
        "the helper list is reset, then latchkey added"
    );

    // git asks latchkey through the configured helper and gets the profile's token.
    let host = origin.trim_start_matches("http://");
    let fill = run_in(
        &world,
        "git",
        &repo,
        &["credential", "fill"],
        &env,
        &format!("protocol=http\nhost={host}\n\n"),
    )
    .await;
    assert!(fill.status.success(), "{}", text(&fill.stderr));
    let token = text(&world.run(&["token"], &env).await.stdout)
        .trim()
        .to_owned();
    assert!(!token.is_empty());
    assert!(
        text(&fill.stdout).contains(&format!("\npassword={token}\n")),
        "{}",
        text(&fill.stdout)
    );

    // --global writes the user's config (in HOME), from anywhere; running it again keeps one
    // latchkey entry.
    for _ in 0..2 {
        let out = run_in(
            &world,
            &bin(),
            outside,
            &["credential", "git", "setup", "--global"],
            &env,
            "",
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let global = run_in(
        &world,
        "git",
        outside,
        &["config", "--global", "--get-all", &key],
        &[],
        "",
    )
    .await;
    assert_eq!(
        text(&global.stdout),
        format!("\n!{} -p svc credential git\n", bin())
    );
}

#[tokio::test]
async fn kubeconfig_entry_and_interactive_kubectl_login() {
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_profile(&[
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
            "--default",
        ])
        .await;

    let out = world
        .run(&["credential", "kubectl", "--print-kubeconfig"], &[])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    snapshot!(world, "kubeconfig_user_entry", out, regex_escape(&bin()) => "[LATCHKEY]");

    // kubectl says nobody can answer: no login, the login-required error.
    let info = |interactive: bool| {
        format!(
            r#"{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{{"interactive":{interactive}}}}}"#
        )
    };
    let not_interactive = info(false);
    let out = world
        .run(
            &["credential", "kubectl"],
            &[("KUBERNETES_EXEC_INFO", &not_interactive)],
        )
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    snapshot!(world, "kubectl_not_interactive_login_required", out);

    // A person is there: the device login runs on stderr, then the credential is printed.
    let mut cmd = world.tokio_cmd();
    cmd.args(["credential", "kubectl"])
        .env("KUBERNETES_EXEC_INFO", info(true))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the login printed its URL")
            .unwrap()
            .unwrap_or_else(|| panic!("stderr ended before a URL: {seen:?}"));
        seen.push(line.clone());
        if let Some(url) = line.split_whitespace().find(|w| w.contains("user_code=")) {
            break url::Url::parse(url).unwrap();
        }
    };
    latchkey_testkit::person::approve_device(&url, idp.issuer(), ALICE).await;
    let mut stdout = child.stdout.take().unwrap();
    let mut printed = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut printed)
        .await
        .unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen.push(line);
    }
    assert!(child.wait().await.unwrap().success(), "{seen:?}");
    assert!(
        seen[0].contains("logging in"),
        "says why a login starts: {seen:?}"
    );
    let credential: Value = serde_json::from_str(&printed).expect("only the credential on stdout");
    assert_eq!(credential["kind"], "ExecCredential");
    let token = credential["status"]["token"].as_str().unwrap();
    assert!(idp.is_active(token).await);
}
