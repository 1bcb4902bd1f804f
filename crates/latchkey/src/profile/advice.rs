//! The CLI's words for what to do next: the core's hints speak the library API, these speak
//! the `latchkey` commands and flags a person types.

use crate::error::{Error, LoginError};
use crate::store::StoreError;

/// What a person at the `latchkey` command line should try next after `err`, in one
/// sentence; falls back to the library's own [`Error::hint`].
pub fn cli_hint(err: &Error) -> Option<String> {
    match err {
        Error::LoginRequired { key, .. } => Some(format!("run `latchkey login {key}`")),
        Error::Login(LoginError::Timeout { .. }) => Some(
            "run the login again and finish it in the browser; without a browser on this machine use `--no-browser` or `--device`".into(),
        ),
        Error::Store(StoreError::Corrupt { .. }) => Some(
            "delete the entry (`latchkey logout`) and log in again; other keys are untouched"
                .into(),
        ),
        other => other.hint(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_required_names_the_command() {
        let err = Error::LoginRequired {
            key: "svc".into(),
            reason: "no refresh token".into(),
        };
        assert_eq!(cli_hint(&err).unwrap(), "run `latchkey login svc`");
        assert!(err.hint().unwrap().contains("TokenManager::login"));
    }
}
