//! The commands. Each takes the context and its validated options from the plan.

mod access;
mod decode;
mod device_prompt;
mod doctor;
mod introspect;
mod logout;
mod profile;
mod profile_file;
mod proof;
mod request;
mod scheme;
mod session;
mod setup;
mod status;
mod step_up;
mod verify;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output;
use crate::plan::Cmd;

/// Answers `token` and `header` from a fresh token in the file store, on this thread and
/// without an async runtime: scripts call these in loops, so their start-up time matters.
/// `None` when the command needs more (refreshing, another store, a static credential):
/// then [`run`] does everything, including reporting any error.
pub(crate) fn run_from_store(ctx: &Ctx, command: &Cmd) -> Option<Result<u8, CliError>> {
    let printed = match command {
        Cmd::Token => access::print_token(&access::access_from_store(ctx)?),
        Cmd::IdToken => access::print_id_token(&access::access_from_store(ctx)?),
        Cmd::Header => access::print_header(&access::access_from_store(ctx)?),
        _ => return None,
    };
    Some(printed.map(|()| 0))
}

/// Runs one command; returns the exit code on success (`exec` passes its child's through).
pub(crate) async fn run(ctx: &Ctx, command: Cmd) -> Result<u8, CliError> {
    match command {
        Cmd::ProfileAdd(add) => profile::add(ctx, add).await?,
        Cmd::ProfileList { json } => profile::list(ctx, json).await?,
        Cmd::ProfileShow(name) => profile::show(ctx, name)?,
        Cmd::ProfileRemove { name, project } => profile::remove(ctx, &name, project)?,
        Cmd::ProfileDefault { name, project } => profile::set_default(ctx, &name, project)?,
        Cmd::ProfileRename { old, new, project } => {
            profile::rename(ctx, &old, &new, project).await?
        }
        Cmd::ProfileTrust => profile::trust(ctx)?,
        Cmd::ProfileSet {
            name,
            key,
            value,
            project,
        } => profile::set(ctx, &name, &key, value.as_deref(), project)?,
        Cmd::ProfileEdit { name, project } => profile::edit(ctx, &name, project)?,
        Cmd::ProfileVerify { url } => return verify::run(ctx, url).await,
        Cmd::Login {
            device,
            browser,
            totp,
            json,
            step_up,
        } => session::login(ctx, device, browser, totp, json, step_up).await?,
        Cmd::Token => access::token(ctx).await?,
        Cmd::TokenFor(resource) => access::token_for(ctx, resource).await?,
        Cmd::IdToken => access::id_token(ctx).await?,
        Cmd::Header => access::header(ctx).await?,
        Cmd::Proof { method, url, json } => proof::run(ctx, &method, &url, json).await?,
        Cmd::Status { json, all } => return status::run(ctx, all, json).await,
        Cmd::Logout { revoke, all, json } => logout::run(ctx, revoke, all, json).await?,
        Cmd::Introspect {
            refresh_token,
            json,
        } => introspect::run(ctx, refresh_token, json).await?,
        Cmd::Request(request) => return request::run(ctx, request).await,
        Cmd::Exec { program, args } => return access::exec(ctx, &program, &args).await,
        Cmd::Decode { jwt, json } => decode::run(&jwt, json)?,
        Cmd::Doctor { json } => return doctor::run(ctx, json).await,
        Cmd::CredentialGit { operation } => access::git(ctx, operation).await?,
        Cmd::CredentialGitSetup { global } => access::git_setup(ctx, global)?,
        Cmd::CredentialKubectl => access::kubectl(ctx).await?,
        Cmd::CredentialKubeconfig => access::kubeconfig(ctx)?,
        Cmd::Completions(script) => output::print_bytes(&script)?,
        Cmd::Man { dir } => {
            let files = crate::man::write_all(&dir)?;
            let list: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
            output::print(&list)?;
        }
        Cmd::SchemeCheck { file } => scheme::check(&file).await?,
    }
    Ok(0)
}
