//! `logout [PROFILE] [--revoke] [--all] [--json]`.
//!
//! Which profile: the selected one; with none selected, the one logged-in profile, or on a
//! terminal a prompt among several (without a terminal: an error listing them, exit 2).
//! Logging out of a profile that holds no tokens says so and succeeds.

use std::io::IsTerminal;

use latchkey::ProfileError;
use latchkey::profile::{LoginOptions, Selected};
use serde_json::{Value, json};

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;

/// What one profile's logout did (the `logout --json` object, docs/cli.md).
struct Outcome {
    profile: String,
    was_logged_in: bool,
    revoked: bool,
}

impl Outcome {
    fn json(&self) -> Value {
        json!({
            "profile": self.profile,
            "was_logged_in": self.was_logged_in,
            "revoked": self.revoked,
        })
    }
}

/// `logout`.
pub(super) async fn run(ctx: &Ctx, revoke: bool, all: bool, json: bool) -> Result<(), CliError> {
    let targets = if all {
        super::status::all_profiles(ctx)?
            .into_iter()
            .filter(|s| !s.profile.auth.is_static())
            .collect()
    } else {
        match chosen(ctx).await? {
            Some(selected) => vec![selected],
            None => {
                eprintln!("No profile is logged in; nothing to log out of.");
                return print_json(json, all, &[]);
            }
        }
    };
    let mut outcomes = Vec::new();
    for selected in targets {
        outcomes.push(one(ctx, selected, revoke).await?);
    }
    if all && outcomes.is_empty() {
        eprintln!("No profiles hold tokens; nothing to log out of.");
    }
    print_json(json, all, &outcomes)
}

fn print_json(json: bool, all: bool, outcomes: &[Outcome]) -> Result<(), CliError> {
    if !json {
        return Ok(());
    }
    let shown = match (all, outcomes) {
        (false, [one]) => one.json(),
        _ => Value::Array(outcomes.iter().map(Outcome::json).collect()),
    };
    output::print(&format!("{shown:#}\n"))
}

/// The profile to log out of; `None` when none is selected and none is logged in.
async fn chosen(ctx: &Ctx) -> Result<Option<Selected>, CliError> {
    let file = ctx.file()?;
    match latchkey::profile::select(&file, ctx.profile.as_deref(), ENV) {
        Ok(selected) => return Ok(Some(selected)),
        Err(ProfileError::NoneSelected { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let mut logged_in = Vec::new();
    for selected in super::status::all_profiles(ctx)? {
        if selected.profile.auth.is_static() {
            continue;
        }
        let store = selected.open_store(&ctx.paths, ENV).await?;
        // An unreadable entry counts: logging out is how a user clears it.
        if !matches!(store.load(&selected.name).await, Ok(None)) {
            logged_in.push(selected);
        }
    }
    if logged_in.len() <= 1 {
        return Ok(logged_in.pop());
    }
    let names: Vec<&str> = logged_in.iter().map(|s| s.name.as_str()).collect();
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::usage(format!(
            "no profile selected, and several are logged in: {}",
            names.join(", ")
        ))
        .with_hint(
            "name one (`latchkey logout NAME`), or log out of all with `latchkey logout --all`",
        ));
    }
    let picked = dialoguer::Select::new()
        .with_prompt("Log out of which profile?")
        .items(&names)
        .default(0)
        .interact_opt()
        .map_err(|e| CliError::usage(format!("cannot ask which profile: {e}")))?;
    match picked {
        Some(index) => Ok(Some(logged_in.swap_remove(index))),
        None => Err(CliError::usage("no profile chosen; nothing was logged out")),
    }
}

/// Logs one profile out, saying what happened on stderr.
async fn one(ctx: &Ctx, selected: Selected, revoke: bool) -> Result<Outcome, CliError> {
    let name = selected.name.clone();
    let mut outcome = Outcome {
        profile: name.clone(),
        was_logged_in: false,
        revoked: false,
    };
    if selected.profile.auth.is_static() {
        eprintln!(
            "Profile `{name}` uses fixed credentials; nothing is stored, nothing to log out of."
        );
        return Ok(outcome);
    }
    let store = selected.open_store(&ctx.paths, ENV).await?;
    outcome.was_logged_in = !matches!(store.load(&name).await, Ok(None));
    if !outcome.was_logged_in {
        eprintln!("Profile `{name}` was not logged in; nothing to remove.");
        return Ok(outcome);
    }
    if !revoke {
        store.delete(&name).await?;
        eprintln!("Logged out: profile `{name}` (tokens removed locally; not revoked).");
        return Ok(outcome);
    }
    let managed = selected
        .managed_with_store_at(&ctx.paths, store, ENV, &LoginOptions::default())
        .await?;
    managed.manager.logout().await?;
    if managed.metadata.revocation_endpoint.is_some() {
        outcome.revoked = true;
        eprintln!("Logged out: profile `{name}` (tokens removed and revoked).");
    } else {
        eprintln!(
            "Logged out: profile `{name}` (tokens removed; the identity provider has no revocation endpoint)."
        );
    }
    Ok(outcome)
}
