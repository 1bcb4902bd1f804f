//! A resource asked for a stronger or more recent sign-in (RFC 9470): offer the login again
//! with what it asked for, or say how to.

use std::io::IsTerminal;

use latchkey::StepUp;
use latchkey::profile::{AuthKind, Selected};

use crate::context::Ctx;
use crate::error::{CliError, code};

/// Logs in again asking for `step_up` when a person here agrees; otherwise an error (exit 3,
/// login required) whose hint is the command to run.
pub(super) async fn log_in_again(
    ctx: &Ctx,
    selected: &Selected,
    step_up: &StepUp,
) -> Result<(), CliError> {
    let profile = selected.name.as_str();
    let needed = || {
        CliError::new(
            code::LOGIN_REQUIRED,
            format!(
                "the server answered HTTP 401: insufficient_user_authentication: the resource \
                 asks profile `{profile}` for {step_up}"
            ),
        )
    };
    if selected.profile.auth != AuthKind::AuthorizationCode {
        return Err(needed().with_hint(format!(
            "only a browser login can sign in more strongly; profile `{profile}` uses `{}`: \
             use an `authorization-code` profile for this resource",
            selected.profile.auth
        )));
    }
    let command = login_command(profile, step_up);
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(needed().with_hint(format!(
            "log in again asking for it, then repeat the request: `{command}`"
        )));
    }
    let again = dialoguer::Confirm::new()
        .with_prompt(format!(
            "The resource asks for {step_up}. Log in to profile `{profile}` again now?"
        ))
        .default(true)
        .interact()
        .map_err(|e| CliError::usage(format!("cannot ask whether to log in again: {e}")))?;
    if !again {
        return Err(needed().with_hint(format!("when ready: `{command}`")));
    }
    let browser = latchkey::profile::env::browser_mode(false, &crate::context::ENV);
    super::session::login(ctx, false, browser, false, false, Some(step_up.clone())).await
}

/// `latchkey login PROFILE --acr-values '…' --max-age N`, quoted for a POSIX shell.
fn login_command(profile: &str, step_up: &StepUp) -> String {
    let mut command = format!("latchkey login {}", shell_word(profile));
    if !step_up.acr_values.is_empty() {
        command.push_str(&format!(
            " --acr-values {}",
            shell_word(&step_up.acr_values.join(" "))
        ));
    }
    if let Some(max_age) = step_up.max_age {
        command.push_str(&format!(" --max-age {}", max_age.as_secs()));
    }
    command
}

fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@%+=,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_hint_is_a_command_to_paste() {
        let s = StepUp::new(["urn:a", "b c"], Some(Duration::from_secs(300)));
        assert_eq!(
            login_command("work", &s),
            "latchkey login work --acr-values 'urn:a b c' --max-age 300"
        );
        let s = StepUp::new(["urn:mfa"], None);
        assert_eq!(
            login_command("it's", &s),
            r"latchkey login 'it'\''s' --acr-values urn:mfa"
        );
    }
}
