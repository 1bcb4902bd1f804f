//! `profile add|list|show|remove|default|rename`.

use std::path::PathBuf;

use latchkey::oidc::OidcProvider;
use latchkey::profile::edit::{self, FieldValue};
use latchkey::profile::project::{self, PROJECT_DIR, PROJECT_FILE};
use latchkey::profile::{AuthKind, Origin, TokensMoved};

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;
use crate::plan::ProfileAdd;

/// The file a writing command changes: the user's, or with `--project` the project's (the
/// one found from the working directory, else a new `.latchkey/` there, created private
/// and git-ignored).
fn target_file(ctx: &Ctx, project: bool) -> Result<PathBuf, CliError> {
    if !project {
        return Ok(ctx.paths.config.clone());
    }
    let dir = match &ctx.paths.project {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| CliError::usage(format!("cannot read the working directory: {e}")))?
            .join(PROJECT_DIR),
    };
    project::create_project_dir(&dir)?;
    if crate::context::env(latchkey::profile::env::CONFIG).is_some_and(|v| !v.is_empty()) {
        tracing::warn!(
            "LATCHKEY_CONFIG is set: it is the one profiles file read, so the project file \
             written here is ignored until it is unset"
        );
    }
    Ok(dir.join(PROJECT_FILE))
}

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
    edit::add(
        &path,
        &add.name,
        add.auth,
        &add.fields,
        add.make_default,
        add.overwrite,
    )?;
    eprintln!("Added profile `{}` to {}.", add.name, path.display());
    Ok(())
}

/// The issuer and the endpoints `add.auth` needs, from discovery; an endpoint given on the
/// command line wins.
fn discovered_fields(add: &mut ProfileAdd, metadata: &latchkey::oidc::ProviderMetadata) {
    let interactive = matches!(add.auth, AuthKind::AuthorizationCode | AuthKind::DeviceCode);
    let found = [
        ("issuer", Some(metadata.issuer.clone())),
        ("token_url", Some(metadata.token_endpoint.to_string())),
        (
            "authorization_url",
            metadata
                .authorization_endpoint
                .as_ref()
                .filter(|_| add.auth == AuthKind::AuthorizationCode)
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
        let given = add.fields.iter().any(|(f, _)| *f == field);
        if let Some(value) = value.filter(|_| !given) {
            add.fields.push((field, FieldValue::Str(value)));
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
    edit::remove(&target_file(ctx, project)?, name)?;
    eprintln!("Removed profile `{name}`.");
    Ok(())
}

pub(super) fn set_default(ctx: &Ctx, name: &str, project: bool) -> Result<(), CliError> {
    check_user_owns(ctx, name, project)?;
    edit::set_default(&target_file(ctx, project)?, name)?;
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
