//! `profile add|set|unset|edit|list|show|remove|default|rename`.

use std::path::PathBuf;

use latchkey::oidc::OidcProvider;
use latchkey::profile::edit::{self, FieldValue};
use latchkey::profile::project::{self, PROJECT_DIR, PROJECT_FILE};
use latchkey::profile::{AuthKind, Origin, ProfileError, ProfilesFile, TokensMoved};

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;
use crate::plan::ProfileAdd;

use super::profile_file::{target_file, write_new, write_to};

/// Refuses to change the user's file for a profile that only the project file defines:
/// the change would not touch the profile the user sees.
fn check_user_owns(ctx: &Ctx, name: &str, project: bool) -> Result<(), CliError> {
    if project {
        return Ok(());
    }
    let all = ctx.file()?;
    let in_user_file = || {
        latchkey::profile::ProfilesFile::load(&ctx.paths.config)
            .map(|user| user.profiles.contains_key(name))
            .unwrap_or(false)
    };
    if all.origin(name) == Origin::Project && !in_user_file() {
        let path = ctx.paths.project_file().unwrap_or_default();
        return Err(CliError::usage(format!(
            "profile `{name}` is defined in the project file {}",
            path.display()
        ))
        .with_hint("pass --project to change the project's file"));
    }
    Ok(())
}

pub(super) async fn add(ctx: &Ctx, mut add: ProfileAdd) -> Result<(), CliError> {
    let (Some(name), Some(auth)) = (add.name.clone(), add.auth) else {
        if super::setup::can_ask() {
            return super::setup::guided(ctx, add).await;
        }
        let missing = if add.auth.is_none() {
            "--auth KIND"
        } else {
            "NAME"
        };
        return Err(CliError::usage(format!(
            "`profile add` needs {missing} when there is no terminal to ask on"
        ))
        .with_hint(
            "pass `latchkey profile add NAME --auth KIND …` (see `latchkey profile add --help`), \
             or run it on a terminal without --auth to be asked step by step",
        ));
    };
    if let Some(issuer) = add.from_discovery.take() {
        // Before anything is written: a failed discovery leaves every file as it was.
        let provider = OidcProvider::discover(&issuer).await.map_err(|e| {
            CliError::from(e).with_hint(format!(
                "check that {issuer} is the issuer URL (its /.well-known/openid-configuration \
                 must answer), or pass the endpoints instead (--token-url, --authorization-url, \
                 --device-authorization-url)"
            ))
        })?;
        discovered_fields(&mut add, provider.metadata());
    }
    let path = target_file(ctx, add.project)?;
    write_to(ctx, &path, add.project, || {
        write_new(&path, &name, auth, &add)
    })
    .map_err(with_flag_hint)?;
    Ok(())
}

/// An unusable profile from the flags: the hint names the flags to add.
fn with_flag_hint(err: ProfileError) -> CliError {
    let flags: Vec<String> = match &err {
        ProfileError::Unusable { problems, .. } => problems
            .iter()
            .map(|problem| match problem {
                ProfileError::MissingField { field, .. } => flag_for(field),
                ProfileError::Invalid { field, .. } => {
                    format!("a valid --{}", field.replace('_', "-"))
                }
                other => other.to_string(),
            })
            .collect(),
        _ => return err.into(),
    };
    CliError::from(err).with_hint(format!("pass {}", flags.join(", ")))
}

/// The `profile add` flag that sets `field`.
fn flag_for(field: &str) -> String {
    let field = field.split('`').next().unwrap_or(field);
    match field {
        "client_secret" | "password" | "token" | "refresh_token" | "private_key" => {
            format!("--{}-env VAR", field.replace('_', "-"))
        }
        "headers" => "--header NAME=env:VAR".into(),
        "query" => "--query NAME=env:VAR".into(),
        "scopes" => "--scope SCOPE".into(),
        "issuer" => "--issuer URL (or --token-url URL)".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// `profile set NAME KEY VALUE` (and `profile unset NAME KEY` when `value` is `None`).
pub(super) fn set(
    ctx: &Ctx,
    name: &str,
    key: &str,
    value: Option<&str>,
    project: bool,
) -> Result<(), CliError> {
    check_user_owns(ctx, name, project)?;
    let path = target_file_of(ctx, name, project)?;
    match value {
        Some(text) => {
            let value = FieldValue::parse(name, key, text)?;
            write_to(ctx, &path, project, || edit::set(&path, name, key, &value))?;
            eprintln!("Set `{key}` of profile `{name}`.");
        }
        None => {
            write_to(ctx, &path, project, || edit::unset(&path, name, key))?;
            eprintln!("Removed `{key}` from profile `{name}`.");
        }
    }
    Ok(())
}

/// The file holding profile `name` for a change: the project's with `--project`, else the
/// user's (which must exist: set and edit change a profile, they do not create one).
fn target_file_of(ctx: &Ctx, name: &str, project: bool) -> Result<PathBuf, CliError> {
    let path = target_file(ctx, project)?;
    let file = ProfilesFile::load(&path)?;
    if !file.profiles.contains_key(name) {
        return Err(ProfileError::Unknown {
            name: name.into(),
            path,
            known: file.names(),
        }
        .into());
    }
    Ok(path)
}

/// `profile edit NAME`: the file in the editor, checked before it replaces the original.
pub(super) fn edit(ctx: &Ctx, name: &str, project: bool) -> Result<(), CliError> {
    check_user_owns(ctx, name, project)?;
    let path = target_file_of(ctx, name, project)?;
    let original = std::fs::read_to_string(&path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    let editor = ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(crate::context::env)
        .find(|command| !command.trim().is_empty())
        .ok_or_else(|| {
            CliError::usage("no editor: VISUAL and EDITOR are unset")
                .with_hint("set EDITOR to your editor's command (e.g. `export EDITOR=nano`)")
        })?;
    let mut text = original.clone();
    loop {
        let edited = dialoguer::Editor::new()
            .executable(&editor)
            .extension(".toml")
            .require_save(false)
            .edit(&text)
            .map_err(|e| {
                CliError::usage(format!("cannot run the editor: {e}"))
                    .with_hint("set VISUAL or EDITOR to your editor's command")
            })?
            .unwrap_or_else(|| text.clone());
        if edited == original {
            eprintln!("No changes to profile `{name}`.");
            return Ok(());
        }
        match edit::check_profile(&path, &edited, name) {
            Ok(()) => {
                write_to(ctx, &path, project, || edit::replace(&path, &edited))?;
                eprintln!("Saved profile `{name}` to {}.", path.display());
                return Ok(());
            }
            Err(err) => {
                let err = CliError::from(err);
                if !super::setup::can_ask() || !reopen(&err)? {
                    return Err(CliError::usage(format!(
                        "{}\n(the edited copy was not saved: {} is unchanged)",
                        err.message,
                        path.display()
                    ))
                    .with_hint(format!(
                        "run `latchkey profile edit {name}` again and fix what is listed, or \
                         change one field with `latchkey profile set {name} FIELD VALUE`"
                    )));
                }
                text = edited;
            }
        }
    }
}

/// Shows `err` and asks whether to edit again.
fn reopen(err: &CliError) -> Result<bool, CliError> {
    err.print();
    dialoguer::Confirm::new()
        .with_prompt("Edit again? (no leaves the file unchanged)")
        .default(true)
        .interact()
        .map_err(|e| CliError::usage(format!("cannot ask: {e}")))
}

/// The issuer and the endpoints `add.auth` needs, from discovery; an endpoint given on the
/// command line wins.
fn discovered_fields(add: &mut ProfileAdd, metadata: &latchkey::oidc::ProviderMetadata) {
    let interactive = matches!(
        add.auth.unwrap_or(AuthKind::Basic),
        AuthKind::AuthorizationCode | AuthKind::DeviceCode
    );
    let found = [
        ("issuer", Some(metadata.issuer.clone())),
        ("token_url", Some(metadata.token_endpoint.to_string())),
        (
            "authorization_url",
            metadata
                .authorization_endpoint
                .as_ref()
                .filter(|_| add.auth == Some(AuthKind::AuthorizationCode))
                .map(ToString::to_string),
        ),
        (
            // `login --device` works for authorization-code profiles too.
            "device_authorization_url",
            metadata
                .device_authorization_endpoint
                .as_ref()
                .filter(|_| interactive)
                .map(ToString::to_string),
        ),
        (
            "revocation_url",
            metadata
                .revocation_endpoint
                .as_ref()
                .map(ToString::to_string),
        ),
    ];
    for (field, value) in found {
        let given = add.fields.iter().any(|(f, _)| f == field);
        if let Some(value) = value.filter(|_| !given) {
            add.fields.push((field.to_owned(), FieldValue::Str(value)));
        }
    }
}

pub(super) async fn list(ctx: &Ctx, json: bool) -> Result<(), CliError> {
    let file = ctx.file()?;
    let states = super::status::login_states(ctx, &file).await;
    let mut out = String::new();
    let mut rows = Vec::new();
    for ((name, profile), state) in file.profiles.iter().zip(&states) {
        let is_default = file.default.as_deref() == Some(name);
        let mark = if is_default { "*" } else { " " };
        let auth = profile.auth.to_string();
        let origin = file.origin(name).name();
        out.push_str(&format!(
            "{mark} {name:<20} {auth:<20} {origin:<8} {state}\n"
        ));
        rows.push(serde_json::json!({
            "name": name, "auth": auth, "origin": origin, "default": is_default, "state": state,
        }));
    }
    if file.profiles.is_empty() {
        eprintln!(
            "No profiles in {} yet; add one with `latchkey profile add`.",
            file.path.display()
        );
    }
    if json {
        return output::print(&format!("{:#}\n", serde_json::Value::Array(rows)));
    }
    output::print(&out)
}

pub(super) fn show(ctx: &Ctx, name: Option<String>) -> Result<(), CliError> {
    let name = match name {
        Some(name) => name,
        None => ctx.select()?.name,
    };
    let origin = ctx.file()?.origin(&name);
    let path = ctx
        .paths
        .file_of(origin)
        .unwrap_or_else(|| ctx.paths.config.clone());
    output::print(&edit::show(&path, &name)?)
}

pub(super) fn remove(ctx: &Ctx, name: &str, project: bool) -> Result<(), CliError> {
    check_user_owns(ctx, name, project)?;
    let path = target_file(ctx, project)?;
    write_to(ctx, &path, project, || edit::remove(&path, name))?;
    eprintln!("Removed profile `{name}`.");
    Ok(())
}

pub(super) fn set_default(ctx: &Ctx, name: &str, project: bool) -> Result<(), CliError> {
    check_user_owns(ctx, name, project)?;
    let path = target_file(ctx, project)?;
    write_to(ctx, &path, project, || edit::set_default(&path, name))?;
    eprintln!("`{name}` is now the default profile.");
    Ok(())
}

pub(super) async fn rename(ctx: &Ctx, old: &str, new: &str, project: bool) -> Result<(), CliError> {
    check_user_owns(ctx, old, project)?;
    let origin = if project {
        if ctx.paths.project.is_none() {
            return Err(CliError::usage(format!(
                "no {PROJECT_DIR}/{PROJECT_FILE} in the working directory or above"
            ))
            .with_hint("run it in the project, or drop --project to rename a user profile"));
        }
        Origin::Project
    } else {
        Origin::User
    };
    let moved = latchkey::profile::rename(&ctx.paths, origin, old, new, ENV).await?;
    report_rename(old, new, moved)
}

/// `profile trust`: the user has read the project's profiles file and wants it used.
pub(super) fn trust(ctx: &Ctx) -> Result<(), CliError> {
    let Some(file) = ctx.paths.project_file() else {
        return Err(CliError::usage(format!(
            "no {PROJECT_DIR}/{PROJECT_FILE} in the working directory or above"
        ))
        .with_hint("run it inside the project whose profiles file you read"));
    };
    let digest = project::trust(&ctx.paths, &file)?;
    let names = latchkey::profile::ProfilesFile::load(&file)?.names();
    eprintln!(
        "Trusted {} (sha256 {}); its profiles are used from now on: {}. A change to the file \
         needs a new `latchkey profile trust`.",
        file.display(),
        &digest[..16],
        if names.is_empty() {
            "none yet".to_owned()
        } else {
            names.join(", ")
        }
    );
    Ok(())
}

fn report_rename(old: &str, new: &str, moved: TokensMoved) -> Result<(), CliError> {
    let tokens = match moved {
        TokensMoved::Moved(store) => {
            format!(" Its stored tokens moved with it ({store}): no new login needed.")
        }
        TokensMoved::NoneStored => " No tokens were stored for it.".into(),
        _ => String::new(),
    };
    eprintln!("Renamed profile `{old}` to `{new}`.{tokens}");
    Ok(())
}
