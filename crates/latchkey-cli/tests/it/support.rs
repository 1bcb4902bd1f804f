//! Shared by the CLI tests: an isolated config + state directory per test, and snapshots of
//! a command's whole outcome (exit code, stdout, stderr) through filters that hide what
//! changes between runs (ports, paths, times).

use std::path::PathBuf;
use std::process::Output;

use latchkey_testkit::Idp;
use latchkey_testkit::clients::{PW_CLIENT, SVC_POST};

/// The binary under test: this crate's build, or the one `LATCHKEY_TEST_CLI` names
/// (`scripts/test.sh` runs these tests again against the shipped static build).
pub(crate) fn bin() -> String {
    std::env::var("LATCHKEY_TEST_CLI").unwrap_or_else(|_| env!("CARGO_BIN_EXE_latchkey").to_owned())
}

/// One test's world: its own profiles file and state directory.
pub(crate) struct World {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
}

impl World {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config/profiles.toml");
        let state = dir.path().join("state");
        Self { dir, config, state }
    }

    fn prepare<C: CommandEnv>(&self, cmd: &mut C) {
        for var in [
            "LATCHKEY_PROFILE",
            "LATCHKEY_URL",
            "LATCHKEY_TOKEN",
            "LATCHKEY_AUTH",
            "LATCHKEY_USERNAME",
            "LATCHKEY_PASSWORD",
            "LATCHKEY_ISSUER",
            "LATCHKEY_TOKEN_URL",
            "LATCHKEY_CLIENT_ID",
            "LATCHKEY_CLIENT_SECRET",
            "LATCHKEY_CLIENT_AUTH",
            "LATCHKEY_GRANT",
            "LATCHKEY_SCOPES",
            "LATCHKEY_REFRESH_TOKEN",
            "LATCHKEY_STORE",
            // A developer's own browser must not open (or count as someone to answer).
            "BROWSER",
        ] {
            cmd.remove(var);
        }
        cmd.set("LATCHKEY_CONFIG", self.config.as_os_str().to_str().unwrap());
        cmd.set(
            "LATCHKEY_STATE_DIR",
            self.state.as_os_str().to_str().unwrap(),
        );
        cmd.set("NO_COLOR", "1");
        cmd.set("LATCHKEY_NO_BROWSER", "1");
        cmd.set("LATCHKEY_NO_CLIPBOARD", "1");
    }

    /// A blocking `latchkey` command (assert_cmd).
    pub(crate) fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(bin());
        self.prepare(&mut cmd);
        cmd
    }

    /// A `std::process::Command` for `latchkey`, for tests that run it on a pseudo-terminal.
    #[cfg(unix)]
    pub(crate) fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        self.prepare(&mut cmd);
        cmd
    }

    /// An async `latchkey` command, for tests that talk to the IdP fixture meanwhile.
    pub(crate) fn tokio_cmd(&self) -> tokio::process::Command {
        self.tokio_cmd_of(&bin())
    }

    /// Any program, with this world's `latchkey` environment (for a wrapper that runs
    /// `latchkey` itself).
    pub(crate) fn tokio_cmd_of(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        self.prepare(&mut cmd);
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs `latchkey ARGS` asynchronously with `envs`, returning its output.
    pub(crate) async fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.tokio_cmd();
        cmd.args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().await.expect("run latchkey")
    }

    /// Where the user's profiles file is when `LATCHKEY_CONFIG` is not set: the XDG config
    /// dir that [`World::run_in`] points at.
    pub(crate) fn user_config(&self) -> PathBuf {
        self.dir.path().join("xdg-config/latchkey/profiles.toml")
    }

    /// Runs `latchkey ARGS` in `cwd` without `LATCHKEY_CONFIG` (so the project file is
    /// searched for from `cwd`), the user's file at [`World::user_config`].
    pub(crate) async fn run_in(
        &self,
        cwd: &std::path::Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Output {
        let mut cmd = self.tokio_cmd();
        cmd.env_remove("LATCHKEY_CONFIG")
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg-config"))
            .current_dir(cwd)
            .args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().await.expect("run latchkey")
    }

    /// `profile add NAME`: a client-credentials profile for the fixture's `svc-post` client,
    /// its secret read from `SVC_SECRET`, plus `extra` options. Fails the test if refused.
    pub(crate) async fn add_service_profile(&self, idp: &Idp, name: &str, extra: &[&str]) {
        let token_url = idp.token_url();
        let mut args = vec![
            "profile",
            "add",
            name,
            "--auth",
            "client-credentials",
            "--token-url",
            &token_url,
            "--client-id",
            SVC_POST.0,
            "--client-secret-env",
            "SVC_SECRET",
            "--client-auth",
            "client_secret_post",
        ];
        args.extend_from_slice(extra);
        self.add_profile(&args).await;
    }

    /// `profile add NAME`: a password profile for the fixture's `pw-client`, signing in as
    /// `user.0` with the password read from the variable `user.1`, plus `extra` options.
    /// Fails the test if refused.
    pub(crate) async fn add_password_profile(
        &self,
        idp: &Idp,
        name: &str,
        user: (&str, &str),
        extra: &[&str],
    ) {
        let token_url = idp.token_url();
        let mut args = vec![
            "profile",
            "add",
            name,
            "--auth",
            "password",
            "--token-url",
            &token_url,
            "--client-id",
            PW_CLIENT,
            "--username",
            user.0,
            "--password-env",
            user.1,
        ];
        args.extend_from_slice(extra);
        self.add_profile(&args).await;
    }

    /// Runs `args` (a whole `profile add …` line); fails the test if refused.
    pub(crate) async fn add_profile(&self, args: &[&str]) {
        let out = self.run(args, &[]).await;
        assert!(
            out.status.success(),
            "{}: {}",
            args[..3].join(" "),
            text(&out.stderr)
        );
    }

    /// Snapshot settings whose filters hide this world's paths, loopback ports and RFC 3339
    /// times.
    pub(crate) fn snapshot_settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(&regex_escape(self.dir.path().to_str().unwrap()), "[TMP]");
        settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
        settings.add_filter(r"skew \d+ s", "skew [N] s");
        // Windows joins paths with `\` and words OS errors its own way; the snapshots are
        // written as Linux shows them.
        #[cfg(windows)]
        {
            settings.add_filter(r"\\", "/");
            settings.add_filter(
                r"Connection refused\. \(os error 10061\)",
                "Connection refused (os error 111)",
            );
        }
        settings
    }
}

/// A distance in time as the CLI words it (`40 s`, `54 min`, `2 h 5 min`, `3 days`): pass
/// `SPAN.to_string() => "[SPAN]"` to [`snapshot!`] where the exact figure drifts by run.
pub(crate) const SPAN: &str = r"\b\d+ (?:h \d+ min|s|min|h|days?)\b";

/// Seconds since the epoch in JWT and introspection claims (`"exp": 1765000000`).
pub(crate) const EPOCH: &str = r"\b1\d{9}\b";

/// Asserts the snapshot `$name` of `$shown` (a command's [`Output`], shown whole, or a file's
/// text) through `$world`'s filters, then through any `regex => replacement` pairs given
/// after it (for what only this test knows, like a token it received).
macro_rules! snapshot {
    ($world:expr, $name:expr, $shown:expr $(, $from:expr => $to:expr)* $(,)?) => {{
        #[allow(unused_mut, reason = "only with extra filters")]
        let mut settings = $world.snapshot_settings();
        $(settings.add_filter(&$from, $to);)*
        let shown = $crate::support::Shown::shown(&$shown);
        settings.bind(|| insta::assert_snapshot!($name, shown, stringify!($shown)));
    }};
}
pub(crate) use snapshot;

/// What a snapshot shows of a value.
pub(crate) trait Shown {
    /// The text to snapshot.
    fn shown(&self) -> String;
}

/// A command's outcome in one piece, so a changed exit code or a new warning on stderr
/// shows up in review next to the output it belongs to.
impl Shown for Output {
    fn shown(&self) -> String {
        let exit = match self.status.code() {
            Some(code) => code.to_string(),
            None => self.status.to_string(),
        };
        format!(
            "exit_code: {exit}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            text(&self.stdout),
            text(&self.stderr)
        )
    }
}

impl Shown for String {
    fn shown(&self) -> String {
        self.clone()
    }
}

trait CommandEnv {
    fn set(&mut self, k: &str, v: &str);
    fn remove(&mut self, k: &str);
}

impl CommandEnv for assert_cmd::Command {
    fn set(&mut self, k: &str, v: &str) {
        self.env(k, v);
    }
    fn remove(&mut self, k: &str) {
        self.env_remove(k);
    }
}

impl CommandEnv for std::process::Command {
    fn set(&mut self, k: &str, v: &str) {
        self.env(k, v);
    }
    fn remove(&mut self, k: &str) {
        self.env_remove(k);
    }
}

impl CommandEnv for tokio::process::Command {
    fn set(&mut self, k: &str, v: &str) {
        self.env(k, v);
    }
    fn remove(&mut self, k: &str) {
        self.env_remove(k);
    }
}

pub(crate) fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The authorization URL in a line the CLI printed, if the line has one: a plain request
/// (`code_challenge=…`) or a pushed one (`request_uri=…`, the fixture advertises PAR), so the
/// tests that play the person do not depend on how the request reached the provider.
pub(crate) fn login_url_in(line: &str) -> Option<url::Url> {
    line.split_whitespace()
        .filter(|w| w.contains("code_challenge=") || w.contains("request_uri="))
        .find_map(|w| url::Url::parse(w).ok())
}
