//! Stdout is for data only; a reader that goes away early is not an error.

use std::io::Write;

use crate::error::CliError;

/// Writes `text` to stdout and flushes; a closed pipe becomes a silent exit 0.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// Writes bytes to stdout (response bodies).
pub(crate) fn print_bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(write_error)
}

fn write_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::broken_pipe()
    } else {
        CliError::new(
            crate::error::code::OTHER,
            format!("cannot write to stdout: {e}"),
        )
    }
}

/// RFC 3339 in UTC, e.g. `2026-11-29T17:20:00Z`.
pub(crate) fn rfc3339(at: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| "invalid-time".into())
}

/// An error and its causes on one line (reqwest's own message is only "error sending request").
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
