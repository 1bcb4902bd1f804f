//! `profile add|list|show|remove|default`.

use latchkey::profile::edit;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output;
use crate::plan::ProfileAdd;

pub(super) fn add(ctx: &Ctx, add: ProfileAdd) -> Result<(), CliError> {
    let path = &ctx.paths.config;
    edit::add(
        path,
        &add.name,
        add.auth,
        &add.fields,
        add.make_default,
        add.overwrite,
    )?;
    eprintln!("Added profile `{}` to {}.", add.name, path.display());
    Ok(())
}

pub(super) fn list(ctx: &Ctx) -> Result<(), CliError> {
    let file = ctx.file()?;
    let mut out = String::new();
    for (name, profile) in &file.profiles {
        let mark = if file.default.as_deref() == Some(name) {
            "*"
        } else {
            " "
        };
        out.push_str(&format!("{mark} {name:<20} {}\n", profile.auth));
    }
    if file.profiles.is_empty() {
        eprintln!(
            "No profiles in {} yet; add one with `latchkey profile add`.",
            file.path.display()
        );
    }
    output::print(&out)
}

pub(super) fn show(ctx: &Ctx, name: Option<String>) -> Result<(), CliError> {
    let name = match name {
        Some(name) => name,
        None => ctx.select()?.name,
    };
    output::print(&edit::show(&ctx.paths.config, &name)?)
}

pub(super) fn remove(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    edit::remove(&ctx.paths.config, name)?;
    eprintln!("Removed profile `{name}`.");
    Ok(())
}

pub(super) fn set_default(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    edit::set_default(&ctx.paths.config, name)?;
    eprintln!("`{name}` is now the default profile.");
    Ok(())
}
