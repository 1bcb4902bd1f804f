//! Every log line of a test binary, captured: for tests that prove no secret reaches logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// What the `tracing` subscriber installed by [`CapturedLogs::install`] has written.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs the global `tracing` subscriber, at `filter` (an `EnvFilter` directive such
    /// as `"trace"`), writing plain text here. Once per test binary: a second call panics.
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

/// Panics, naming the secret and showing `text`, if `text` contains any of `secrets`.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "secret {secret:?} leaked into:\n{text}"
        );
    }
}
