//! The CLI's error: a message, its causes, a hint and an exit code.

use std::io::IsTerminal;

use latchkey::oidc::OidcError;
use latchkey::{Error, ProfileError, SchemeError};

/// Exit codes (documented in docs/cli.md and `latchkey --help`).
pub(crate) mod code {
    /// Any other failure.
    pub(crate) const OTHER: u8 = 1;
    /// Bad usage or configuration.
    pub(crate) const USAGE: u8 = 2;
    /// A person has to log in.
    pub(crate) const LOGIN_REQUIRED: u8 = 3;
    /// The identity provider refused or failed.
    pub(crate) const IDP: u8 = 4;
    /// The network failed.
    pub(crate) const NETWORK: u8 = 5;
    /// The token store failed.
    pub(crate) const STORE: u8 = 6;
}

/// What went wrong, ready to print.
#[derive(Debug)]
pub(crate) struct CliError {
    /// The process exit code.
    pub code: u8,
    /// The message after `error: `; empty for a silent exit (closed stdout).
    pub message: String,
    /// The chain of causes, outermost first.
    pub causes: Vec<String>,
    /// What to do next.
    pub hint: Option<String>,
}

impl CliError {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            causes: Vec::new(),
            hint: None,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(code::USAGE, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Stdout was closed by the reader (`latchkey token | head -c1`): not an error.
    pub(crate) fn broken_pipe() -> Self {
        Self::new(0, "")
    }

    /// Prints `error: …`, the causes and `hint: …` to stderr.
    pub(crate) fn print(&self) {
        if self.message.is_empty() {
            return;
        }
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        let paint = |code: &str, text: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_owned()
            }
        };
        let mut text = format!("{} {}\n", paint("1;31", "error:"), self.message);
        for cause in &self.causes {
            text.push_str(&format!("  {} {cause}\n", paint("2", "caused by:")));
        }
        if let Some(hint) = &self.hint {
            text.push_str(&format!("{} {hint}\n", paint("1;36", "hint:")));
        }
        eprint!("{text}");
    }
}

fn exit_code(err: &ProfileError) -> u8 {
    let ProfileError::Core(err) = err else {
        return code::USAGE;
    };
    match err {
        Error::Config(_) => code::USAGE,
        Error::Oidc(OidcError::UnknownPreset { .. }) => code::USAGE,
        Error::LoginRequired { .. } => code::LOGIN_REQUIRED,
        Error::Provider(_)
        | Error::Login(_)
        | Error::Oidc(_)
        | Error::IdToken(_)
        | Error::InvalidResponse { .. }
        | Error::HttpStatus { .. }
        | Error::TokenRefused { .. } => code::IDP,
        Error::Network { .. } => code::NETWORK,
        Error::Store(_) => code::STORE,
        _ => code::OTHER,
    }
}

impl From<Error> for CliError {
    fn from(err: Error) -> Self {
        ProfileError::from(err).into()
    }
}

/// Every library error reaches the user through the profile layer, which words its hints
/// for the command line.
impl From<ProfileError> for CliError {
    fn from(err: ProfileError) -> Self {
        if let ProfileError::Unusable { profile, problems } = &err {
            return Self::new(code::USAGE, unusable_message(profile, problems))
                .with_hint(err.hint().unwrap_or_default());
        }
        let message = err.to_string();
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let text = cause.to_string();
            // Several of latchkey's messages already include their cause's text.
            if !message.contains(&text) && !causes.contains(&text) {
                causes.push(text);
            }
            source = cause.source();
        }
        Self {
            code: exit_code(&err),
            message,
            causes,
            hint: err.hint(),
        }
    }
}

/// Every problem of an unusable profile, one a line.
fn unusable_message(profile: &str, problems: &[ProfileError]) -> String {
    let prefix = format!("profile `{profile}`: ");
    let mut message = format!("profile `{profile}` cannot be used as written:");
    for problem in problems {
        let text = problem.to_string();
        message.push_str("\n  - ");
        message.push_str(text.strip_prefix(&prefix).unwrap_or(&text));
    }
    message
}

impl From<latchkey::StoreError> for CliError {
    fn from(err: latchkey::StoreError) -> Self {
        Error::from(err).into()
    }
}

impl From<SchemeError> for CliError {
    fn from(err: SchemeError) -> Self {
        CliError::usage(err.to_string()).with_hint(err.hint())
    }
}
