//! Commands that hand the current credential to someone: `token`, `header`, `exec`,
//! `credential git`, `credential kubectl`.

use std::time::SystemTime;

use http::header::AUTHORIZATION;
use latchkey::profile::{LoginOptions, Selected};
use latchkey::{ExposeSecret, SecretString, StaticAuth, TokenManager, TokenSet};

use crate::context::{Ctx, ENV};
use crate::error::{CliError, code};
use crate::output;
use crate::plan::GitOperation;
use crate::wire;

/// The credential of the selected profile, fresh.
pub(super) struct Access {
    pub selected: Selected,
    /// The `Authorization` value, when the credential is a header.
    pub header: Option<SecretString>,
    /// The bare token (OAuth access token, bearer or API token).
    pub token: Option<SecretString>,
    /// When the token expires, if known.
    pub expires_at: Option<SystemTime>,
    /// The OpenID Connect ID token stored with it, if any.
    pub id_token: Option<SecretString>,
    /// The token is DPoP-bound: an `Authorization` header alone is refused by its server.
    pub dpop: bool,
}

/// Resolves the selected profile's credential, refreshing OAuth tokens when needed.
pub(super) async fn access(ctx: &Ctx) -> Result<Access, CliError> {
    let selected = ctx.select()?;
    if selected.profile.auth.is_static() {
        let auth = selected.static_auth(ENV).await?;
        let token = match &auth {
            StaticAuth::ApiToken(t) | StaticAuth::Bearer(t) => Some(t.clone()),
            _ => None,
        };
        let header = auth
            .header_values()?
            .into_iter()
            .find(|(name, _)| name == AUTHORIZATION)
            .and_then(|(_, v)| v.to_str().ok().map(|s| SecretString::from(s.to_owned())));
        return Ok(Access {
            selected,
            header,
            token,
            expires_at: None,
            id_token: None,
            dpop: false,
        });
    }
    let store = selected.open_store(&ctx.paths, ENV).await?;
    // Fast path: a stored token that needs no refresh is used without resolving endpoints
    // (no discovery request), building an HTTP client or reading secrets.
    let tokens = match store.load(&selected.name).await? {
        Some(tokens) if is_fresh(&tokens) => tokens,
        _ => {
            let managed = selected
                .managed_with_store_at(&ctx.paths, store, ENV, &LoginOptions::default())
                .await?;
            TokenSet::clone(&*managed.manager.tokens().await?)
        }
    };
    Access::from_tokens(selected, &tokens)
}

/// The selected profile's credential if the file store holds a fresh token for it, read
/// without a runtime; `None` in every other case (errors included: [`access`] reports them).
pub(super) fn access_from_store(ctx: &Ctx) -> Option<Access> {
    let selected = ctx.select().ok()?;
    if selected.profile.auth.is_static() {
        return None;
    }
    let tokens = selected.stored_tokens_now(&ctx.paths).filter(is_fresh)?;
    Access::from_tokens(selected, &tokens).ok()
}

fn is_fresh(tokens: &TokenSet) -> bool {
    tokens.is_fresh(SystemTime::now(), TokenManager::DEFAULT_REFRESH_MARGIN)
}

impl Access {
    fn from_tokens(selected: Selected, tokens: &TokenSet) -> Result<Self, CliError> {
        let header = tokens
            .authorization_header()
            .map_err(latchkey::Error::from)?
            .to_str()
            .ok()
            .map(|s| SecretString::from(s.to_owned()));
        // A DPoP-bound token's header is useless without a proof per request: not handed out.
        let dpop = tokens.is_dpop();
        Ok(Self {
            selected,
            header: header.filter(|_| !dpop),
            dpop,
            token: Some(tokens.access_token().clone()),
            expires_at: tokens.expires_at(),
            id_token: tokens.id_token().cloned(),
        })
    }
}

fn no_token(access: &Access) -> CliError {
    CliError::usage(format!(
        "profile `{}` (auth `{}`) has no single token to print",
        access.selected.name, access.selected.profile.auth
    ))
    .with_hint("use `latchkey header` or `latchkey request` with this profile")
}

/// `token`: the access token and a newline, nothing else.
pub(super) async fn token(ctx: &Ctx) -> Result<(), CliError> {
    print_token(&access(ctx).await?)
}

/// `token --resource URI`: a token for that resource, kept under its own store key (no
/// store fast path: the profile's own entry is another resource's).
pub(super) async fn token_for(ctx: &Ctx, resource: latchkey::Resource) -> Result<(), CliError> {
    let selected = ctx.select()?;
    if selected.profile.auth.is_static() {
        return Err(CliError::usage(format!(
            "profile `{}` uses fixed credentials (auth `{}`); --resource needs an OAuth profile",
            selected.name, selected.profile.auth
        )));
    }
    let mut options = LoginOptions::default();
    options.resource = Some(resource);
    let managed = selected.managed(&ctx.paths, ENV, &options).await?;
    let tokens = TokenSet::clone(&*managed.manager.tokens().await?);
    print_token(&Access::from_tokens(selected, &tokens)?)
}

pub(super) fn print_token(access: &Access) -> Result<(), CliError> {
    let token = access.token.as_ref().ok_or_else(|| no_token(access))?;
    output::print(&format!("{}\n", token.expose_secret()))
}

/// `token --id-token`: the stored ID token and a newline.
pub(super) async fn id_token(ctx: &Ctx) -> Result<(), CliError> {
    print_id_token(&access(ctx).await?)
}

pub(super) fn print_id_token(access: &Access) -> Result<(), CliError> {
    let name = &access.selected.name;
    let token = access.id_token.as_ref().ok_or_else(|| {
        if access.selected.profile.auth.is_static() {
            return CliError::usage(format!(
                "profile `{name}` (auth `{}`) has no ID token: only OpenID Connect logins get one",
                access.selected.profile.auth
            ));
        }
        CliError::usage(format!("profile `{name}` holds no ID token")).with_hint(format!(
            "ID tokens come with the `openid` scope: add it to the profile's `scopes`, then `latchkey login {name}`"
        ))
    })?;
    output::print(&format!("{}\n", token.expose_secret()))
}

/// `header`: `Authorization: …`.
pub(super) async fn header(ctx: &Ctx) -> Result<(), CliError> {
    print_header(&access(ctx).await?)
}

pub(super) fn print_header(access: &Access) -> Result<(), CliError> {
    if access.dpop {
        let name = &access.selected.name;
        return Err(CliError::usage(format!(
            "profile `{name}` holds a DPoP-bound token: its server wants a new proof, signed for \
             the method and URL, with every request, so a bare Authorization header is refused"
        ))
        .with_hint(format!(
            "use `latchkey proof -p {name} --method GET --url URL` for both headers of one \
             request, or `latchkey request -p {name} GET URL`, which signs each request"
        )));
    }
    let header = access.header.as_ref().ok_or_else(|| {
        CliError::usage(format!(
            "profile `{}` (auth `{}`) sends no Authorization header",
            access.selected.name, access.selected.profile.auth
        ))
    })?;
    output::print(&format!("Authorization: {}\n", header.expose_secret()))
}

/// `exec -- CMD`: runs CMD with `LATCHKEY_TOKEN` (and `LATCHKEY_AUTHORIZATION`) set and
/// exits with its status.
pub(super) async fn exec(ctx: &Ctx, program: &str, args: &[String]) -> Result<u8, CliError> {
    let access = access(ctx).await?;
    let mut command = std::process::Command::new(program);
    command.args(args);
    if let Some(token) = &access.token {
        command.env(latchkey::profile::env::TOKEN, token.expose_secret());
    }
    if let Some(header) = &access.header {
        command.env(
            latchkey::profile::env::AUTHORIZATION,
            header.expose_secret(),
        );
    }
    let status = command.status().map_err(|e| {
        CliError::new(code::OTHER, format!("cannot run `{program}`: {e}"))
            .with_hint("check the command name and your PATH")
    })?;
    Ok(match status.code() {
        Some(code) => u8::try_from(code).unwrap_or(1),
        // Killed by a signal: the shell convention is 128 + signal.
        #[cfg(unix)]
        None => {
            use std::os::unix::process::ExitStatusExt;
            status.signal().map_or(1, |s| 128u8.saturating_add(s as u8))
        }
        // Windows always has an exit code; no signals to translate.
        #[cfg(not(unix))]
        None => 1,
    })
}

/// `credential git get`: git's helper protocol (key=value lines up to a blank line). Answers
/// `username` and `password` (the token) only when git asks for exactly the origin of the
/// profile's `base_url` (scheme, host and port, default ports by scheme) over `https`, or
/// `http` to a loopback host. Anything else gets no answer (exit 0, empty output, a note
/// on stderr), so git asks its next helper: a helper configured for every host must never
/// hand the token to a host it was not issued for.
pub(super) async fn git(ctx: &Ctx, operation: GitOperation) -> Result<(), CliError> {
    let request = wire::git_request(std::io::stdin().lock())
        .map_err(|e| CliError::usage(format!("cannot read git's request: {e}")))?;
    if operation == GitOperation::Ignored {
        return Ok(());
    }
    // Decided before the token is fetched: a lapsed login must not turn a request for a
    // foreign host into an error, and nothing is fetched for a host that gets no answer.
    let selected = ctx.select()?;
    if let Err(reason) = wire::git_origin_matches(&request, selected.profile.base_url.as_deref()) {
        tracing::warn!(
            "profile `{}` gives git no credential: {reason}; git asks its next helper",
            selected.name
        );
        return Ok(());
    }
    let access = access(ctx).await?;
    let token = access.token.as_ref().ok_or_else(|| no_token(&access))?;
    let username = access
        .selected
        .profile
        .username
        .clone()
        .unwrap_or_else(|| "x-access-token".into());
    let mut answer = String::new();
    for (k, v) in &request {
        if k == "protocol" || k == "host" || k == "path" {
            answer.push_str(&format!("{k}={v}\n"));
        }
    }
    answer.push_str(&format!(
        "username={username}\npassword={}\n",
        token.expose_secret()
    ));
    if let Some(at) = access.expires_at {
        // git ≥ 2.41 drops the credential from its cache when it expires.
        if let Ok(secs) = at.duration_since(SystemTime::UNIX_EPOCH) {
            answer.push_str(&format!("password_expiry_utc={}\n", secs.as_secs()));
        }
    }
    output::print(&answer)
}

/// `credential kubectl`: an ExecCredential for kubectl's exec plugin mechanism.
pub(super) async fn kubectl(ctx: &Ctx) -> Result<(), CliError> {
    let access = kubectl_access(ctx).await?;
    let token = access.token.as_ref().ok_or_else(|| no_token(&access))?;
    let mut status = serde_json::json!({ "token": token.expose_secret() });
    if let Some(at) = access.expires_at {
        status["expirationTimestamp"] = output::rfc3339(at).into();
    }
    let credential = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": status,
    });
    output::print(&format!("{credential:#}\n"))
}

/// `KUBERNETES_EXEC_INFO`: kubectl's ExecCredential input; `spec.interactive` says whether a
/// person can answer on the terminal (kubectl sets it with `interactiveMode: IfAvailable`
/// when its stdin is one).
fn kubectl_is_interactive() -> bool {
    crate::context::env("KUBERNETES_EXEC_INFO")
        .and_then(|info| serde_json::from_str::<serde_json::Value>(&info).ok())
        .and_then(|info| info["spec"]["interactive"].as_bool())
        .unwrap_or(false)
}

/// The credential for kubectl: when nothing valid is stored and kubectl says a person is
/// there, the profile's login runs first (on stderr), as kubelogin does; without a person,
/// the login-required error (exit 3).
async fn kubectl_access(ctx: &Ctx) -> Result<Access, CliError> {
    match access(ctx).await {
        Err(err) if err.code == code::LOGIN_REQUIRED && kubectl_is_interactive() => {
            eprintln!("kubectl needs a credential and there is no valid login: logging in.");
            let browser = latchkey::profile::env::browser_mode(false, ENV);
            super::session::login(ctx, false, browser, false, false, None).await?;
            access(ctx).await
        }
        other => other,
    }
}

/// `credential kubectl --print-kubeconfig`: the kubeconfig `users:` entry whose exec plugin
/// runs `credential kubectl` for the selected profile (YAML; the scalars JSON-quoted, which
/// YAML reads as double-quoted strings).
pub(super) fn kubeconfig(ctx: &Ctx) -> Result<(), CliError> {
    let selected = ctx.select()?;
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let exe = this_binary()?;
    let mut text = format!(
        "users:\n- name: {}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args:\n",
        quote(&format!("latchkey-{}", selected.name)),
        quote(&exe)
    );
    for arg in ["-p", &selected.name, "credential", "kubectl"] {
        text.push_str(&format!("      - {}\n", quote(arg)));
    }
    // kubectl runs the plugin in its own environment: the files this run used are pinned.
    let pinned: Vec<(&str, String)> = ["LATCHKEY_CONFIG", "LATCHKEY_STATE_DIR"]
        .into_iter()
        .filter_map(|name| crate::context::env(name).map(|value| (name, value)))
        .collect();
    if pinned.is_empty() {
        text.push_str("      env: null\n");
    } else {
        text.push_str("      env:\n");
        for (name, value) in pinned {
            text.push_str(&format!(
                "      - name: {name}\n        value: {}\n",
                quote(&value)
            ));
        }
    }
    text.push_str("      interactiveMode: IfAvailable\n      provideClusterInfo: false\n");
    output::print(&text)
}

/// The absolute path of this `latchkey`, for configs that run it later from elsewhere.
fn this_binary() -> Result<String, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::new(code::OTHER, format!("cannot find this program's path: {e}")))?;
    exe.to_str().map(str::to_owned).ok_or_else(|| {
        CliError::new(
            code::OTHER,
            format!("this program's path {} is not UTF-8", exe.display()),
        )
    })
}

/// `credential git setup [--global]`: tells git to ask this profile for the credentials of
/// its base_url's origin, as `gh auth setup-git` does: the helper list for that URL is
/// reset (an empty value), then `!'/path/to/latchkey' -p NAME credential git` is added.
/// Without `--global` the current repository's config is written (refused outside one).
pub(super) fn git_setup(ctx: &Ctx, global: bool) -> Result<(), CliError> {
    let selected = ctx.select()?;
    let base_url = selected.profile.base_url.as_deref().ok_or_else(|| {
        CliError::usage(format!(
            "profile `{}` has no base_url, so there is no host to configure git for",
            selected.name
        ))
        .with_hint("add `base_url = \"https://git.example.org\"` to the profile")
    })?;
    let origin = url::Url::parse(base_url)
        .map_err(|e| CliError::usage(format!("the profile's base_url is not a URL: {e}")))?
        .origin();
    if !origin.is_tuple() {
        return Err(CliError::usage(format!(
            "the profile's base_url `{base_url}` has no host for git"
        )));
    }
    let origin = origin.ascii_serialization();
    let scope = if global { "--global" } else { "--local" };
    if !global && !run_git(&["rev-parse", "--git-dir"]).is_ok_and(|out| out.status.success()) {
        return Err(CliError::usage(
            "not inside a git repository; there is no repository config to write",
        )
        .with_hint("run it inside the repository, or pass --global for every repository"));
    }
    let quoted = |s: &str| {
        shlex::try_quote(s)
            .map(|q| q.into_owned())
            .map_err(|e| CliError::usage(format!("cannot quote `{s}` for git: {e}")))
    };
    let helper = format!(
        "!{} -p {} credential git",
        quoted(&this_binary()?)?,
        quoted(&selected.name)?
    );
    let key = format!("credential.{origin}.helper");
    for args in [
        ["config", scope, "--replace-all", key.as_str(), ""],
        ["config", scope, "--add", key.as_str(), helper.as_str()],
    ] {
        let out = run_git(&args).map_err(|e| {
            CliError::new(code::OTHER, format!("cannot run git: {e}"))
                .with_hint("install git, or check your PATH")
        })?;
        if !out.status.success() {
            return Err(CliError::new(
                code::OTHER,
                format!(
                    "`git {}` failed: {}",
                    args[..3].join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ));
        }
    }
    eprintln!(
        "git now asks profile `{}` for {origin} ({} config):\n  {key} = {helper}",
        selected.name,
        if global {
            "your global"
        } else {
            "this repository's"
        }
    );
    Ok(())
}

fn run_git(args: &[&str]) -> std::io::Result<std::process::Output> {
    std::process::Command::new("git").args(args).output()
}
