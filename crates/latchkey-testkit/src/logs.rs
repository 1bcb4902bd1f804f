//! Every log line of a test process, captured: for tests that prove no secret reaches logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// What the `tracing` subscriber installed by [`CapturedLogs::install`] has written.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the global `tracing` subscriber, at `filter` (an `EnvFilter` directive such
    /// as `"trace"`), writing plain text here. Once per process: a second call panics. The
    /// subscriber sees every test running in the process; a test that checks what was
    /// logged runs in a process of its own ([`in_own_process`]).
    pub fn install(filter: &str) -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The variable that tells a child started by [`in_own_process`] which test it runs.
const OWN_PROCESS_VAR: &str = "LATCHKEY_TEST_OWN_PROCESS";

/// Gives the test `test` (its path in the calling test binary, such as
/// `no_secrets::trace_logs_contain_no_secret`) a process of its own: runs it again, alone,
/// in a child process of the same binary and returns `false` once it passed there (panicking
/// with the child's output if it did not); in that child it returns `true`, and the caller
/// goes on with the test's body.
///
/// For tests that install [`CapturedLogs`]: in a process shared with other tests, the global
/// subscriber would also capture their log lines, which could meet this test's checks in its
/// stead, and it would slow every later test down by tracing it.
pub fn in_own_process(test: &str) -> bool {
    if std::env::var_os(OWN_PROCESS_VAR).is_some_and(|running| running == test) {
        return true;
    }
    let binary = std::env::current_exe().expect("the path of the test binary");
    let output = std::process::Command::new(&binary)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS_VAR, test)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // "1 passed" also proves that `test` named a test of this binary.
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{test} in its own process ({}):\n{stdout}\n{stderr}",
        output.status
    );
    false
}

/// Panics, naming the secret and showing `text`, if `text` contains any of `secrets`.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "secret {secret:?} leaked into:\n{text}"
        );
    }
}
