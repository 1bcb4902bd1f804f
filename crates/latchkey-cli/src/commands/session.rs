//! `login` (`status` and `logout` have their own modules).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use latchkey::profile::{AuthKind, LoginOptions};
use latchkey::{BrowserMode, DevicePrompt, ExposeSecret, SecretString, TokenSet};

use crate::context::{Ctx, ENV};
use crate::error::{CliError, code};
use crate::output;

fn spinner() -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message("waiting for the login to complete");
    bar
}

/// `login [--device] [--no-browser] [--totp] [--acr-values V --max-age S]`.
pub(super) async fn login(
    ctx: &Ctx,
    device: bool,
    browser: BrowserMode,
    totp: bool,
    json: bool,
    step_up: Option<latchkey::StepUp>,
) -> Result<(), CliError> {
    let selected = ctx.select()?;
    if selected.profile.auth.is_static() {
        return Err(CliError::usage(format!(
            "profile `{}` uses fixed credentials (auth `{}`); there is nothing to log in to",
            selected.name, selected.profile.auth
        )));
    }
    // Before a browser opens or a code is shown: is there an authorization server at all?
    // (A non-interactive grant's first token request is its own check.)
    let interactive = device
        || matches!(
            selected.profile.auth,
            AuthKind::AuthorizationCode | AuthKind::DeviceCode
        );
    if interactive {
        selected.preflight().await?;
    }
    let totp = if totp {
        Some(read_one_time_code()?)
    } else {
        None
    };
    let bar = spinner();
    let device_display = Arc::new(super::device_prompt::DeviceDisplay::new(bar.clone()));
    let show_url = bar.clone();
    let options = {
        let mut o = LoginOptions::default();
        o.device = device;
        o.browser = browser;
        o.totp = totp;
        o.step_up = step_up;
        // The URL and code go out first, as plain lines, before the countdown starts: on a
        // headless machine (SSH, CI) they are all the user gets.
        o.on_device_prompt = Some(Arc::new(move |p: &DevicePrompt| device_display.show(p)));
        o.on_authorization_url = Some(Arc::new(move |url: &url::Url| {
            show_url.suspend(|| {
                eprintln!("To log in, open this URL in a browser:\n  {url}");
                if browser.can_open(|name| std::env::var(name).ok())
                    && webbrowser::open(url.as_str()).is_ok()
                {
                    eprintln!("(a browser window was opened)");
                }
            });
            show_url.enable_steady_tick(Duration::from_millis(120));
        }));
        o
    };
    let managed = selected.managed(&ctx.paths, ENV, &options).await?;
    let result = managed
        .manager
        .login()
        .await
        .map_err(|e| selected.advise(e));
    bar.finish_and_clear();
    let tokens = result?;
    let verified = match managed.validate_id_token(&tokens).await {
        Ok(Some(claims)) => Some(claims.sub),
        Ok(None) => None,
        Err(err) => {
            // Do not keep tokens whose ID token failed validation.
            let _ = managed.store.delete(&selected.name).await;
            return Err(err.into());
        }
    };
    if json {
        let shown = serde_json::json!({
            "profile": selected.name,
            "subject": verified.clone().or_else(|| unverified_subject(&tokens)),
            "id_token_verified": verified.is_some(),
            "expires_at": tokens.expires_at().map(output::rfc3339),
            "has_refresh_token": tokens.refresh_token().is_some(),
            "scopes": tokens.scopes(),
            "store": managed.store.describe(),
        });
        output::print(&format!("{shown:#}\n"))?;
    }
    match verified {
        Some(sub) => eprintln!(
            "Logged in: profile `{}` as `{sub}` (ID token verified).",
            selected.name
        ),
        None => eprintln!("Logged in: profile `{}`.", selected.name),
    }
    Ok(())
}

/// The `sub` claim of an ID token, read without verifying it (for display only).
pub(super) fn unverified_subject(tokens: &TokenSet) -> Option<String> {
    let id_token = tokens.id_token()?;
    let claims = super::decode::payload(id_token.expose_secret()).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// One line from stdin: the one-time code for `login --totp`. Read here, not taken as an
/// argument, because arguments are visible to every user of the machine.
fn read_one_time_code() -> Result<SecretString, CliError> {
    use std::io::BufRead;
    if std::io::stdin().is_terminal() {
        eprint!("One-time code: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::new(code::OTHER, format!("cannot read the one-time code: {e}")))?;
    let code = line.trim();
    if code.is_empty() {
        return Err(CliError::usage(
            "`--totp` reads a one-time code from stdin, and none was given",
        )
        .with_hint("echo 123456 | latchkey login --totp"));
    }
    Ok(SecretString::from(code.to_owned()))
}
