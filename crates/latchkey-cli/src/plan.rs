//! Step two of the command line: raw clap arguments → a resolved, validated plan. Commands
//! receive these types only (the ripgrep split), so they can be reasoned about and tested
//! without clap.

use std::path::PathBuf;

use http::{HeaderName, HeaderValue, Method};
use latchkey::BrowserMode;
use latchkey::profile::AuthKind;
use latchkey::profile::edit::FieldValue;

use crate::args::{self, Cli, CredentialCommand, ProfileCommand, SchemeCommand};
use crate::error::CliError;
use crate::wire::{self, BodySource};

/// Everything a run needs, resolved.
#[derive(Debug)]
pub(crate) struct Plan {
    /// `--profile` (or a command's positional profile).
    pub profile: Option<String>,
    /// The most detailed log level to show on stderr.
    pub log_level: tracing::Level,
    /// Whether to show warnings at all.
    pub quiet: bool,
    /// Show the exchanges with the identity provider (`--debug-http`, `-vv`).
    pub debug_http: bool,
    /// What to do.
    pub command: Cmd,
}

/// A command with validated options.
#[derive(Debug)]
pub(crate) enum Cmd {
    ProfileAdd(ProfileAdd),
    ProfileList {
        json: bool,
    },
    ProfileShow(Option<String>),
    ProfileRemove {
        name: String,
        project: bool,
    },
    ProfileDefault {
        name: String,
        project: bool,
    },
    ProfileRename {
        old: String,
        new: String,
        project: bool,
    },
    ProfileTrust,
    /// `profile set` (`value: None`: `profile unset`).
    ProfileSet {
        name: String,
        key: String,
        value: Option<String>,
        project: bool,
    },
    ProfileEdit {
        name: String,
        project: bool,
    },
    /// `profile verify`: GET this URL (else the profile's own check target).
    ProfileVerify {
        url: Option<String>,
    },
    Login {
        device: bool,
        browser: BrowserMode,
        /// Read a one-time code from stdin.
        totp: bool,
        json: bool,
        /// `--acr-values` / `--max-age`: the sign-in to ask for (RFC 9470 step-up).
        step_up: Option<latchkey::StepUp>,
    },
    Token,
    /// `token --resource URI`: a token for that resource (RFC 8707).
    TokenFor(latchkey::Resource),
    /// `token --id-token`.
    IdToken,
    Header,
    /// `proof --method M --url U`: both headers of one DPoP request.
    Proof {
        method: Method,
        url: url::Url,
        json: bool,
    },
    Status {
        json: bool,
        all: bool,
    },
    Logout {
        revoke: bool,
        all: bool,
        json: bool,
    },
    Introspect {
        refresh_token: bool,
        json: bool,
    },
    Request(Request),
    Exec {
        program: String,
        args: Vec<String>,
    },
    Decode {
        jwt: String,
        json: bool,
    },
    Doctor {
        json: bool,
    },
    CredentialGit {
        operation: GitOperation,
    },
    /// `credential git setup`: configure git (the user's config with `global`).
    CredentialGitSetup {
        global: bool,
    },
    CredentialKubectl,
    /// `credential kubectl --print-kubeconfig`.
    CredentialKubeconfig,
    /// The completion script, generated while planning (it needs clap's command tree).
    Completions(Vec<u8>),
    /// Write the man pages into this folder.
    Man {
        dir: PathBuf,
    },
    SchemeCheck {
        file: PathBuf,
    },
}

/// `profile add`.
#[derive(Debug)]
pub(crate) struct ProfileAdd {
    /// `None`: asked for (guided setup).
    pub name: Option<String>,
    /// `None`: asked for on a terminal (guided setup), a usage error elsewhere.
    pub auth: Option<AuthKind>,
    pub fields: Vec<(String, FieldValue)>,
    pub make_default: bool,
    pub overwrite: bool,
    /// Write to the project's file.
    pub project: bool,
    /// Discover this issuer and write what was found.
    pub from_discovery: Option<String>,
}

/// `request`.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: Method,
    pub target: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
    /// `--allow-other-host`: an absolute URL may leave the origin of the profile's base_url.
    pub allow_other_host: bool,
    /// How to show the answer.
    pub show: Show,
    /// `-o FILE`: the body goes there.
    pub output: Option<PathBuf>,
    /// `--paginate`: follow `rel="next"` links, at most this many pages in all.
    pub paginate: Option<u32>,
    /// `--resource`: a token for this resource (RFC 8707) instead of the profile's first.
    pub resource: Option<latchkey::Resource>,
}

/// What `request` prints of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// The body.
    Body,
    /// `-i`: status line and headers, then the body.
    Include,
    /// `--json`: one object with status, headers and body.
    Json,
}

/// git's credential helper operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GitOperation {
    Get,
    /// `store` and `erase`: latchkey owns its tokens, so these are acknowledged and ignored.
    Ignored,
}

impl Plan {
    /// Validates the parsed arguments.
    pub(crate) fn from_cli(cli: Cli) -> Result<Self, CliError> {
        let mut profile = cli.profile;
        let command = match cli.command {
            args::Command::Profile(p) => match p {
                ProfileCommand::Add(add) => Cmd::ProfileAdd(profile_add(*add)?),
                ProfileCommand::List { json } => Cmd::ProfileList { json },
                ProfileCommand::Show { name, target: t } => {
                    profile = positional(profile, t.profile)?;
                    Cmd::ProfileShow(name)
                }
                ProfileCommand::Remove { name, project } => Cmd::ProfileRemove { name, project },
                ProfileCommand::Default { name, project } => Cmd::ProfileDefault { name, project },
                ProfileCommand::Rename { old, new, project } => {
                    Cmd::ProfileRename { old, new, project }
                }
                ProfileCommand::Trust => Cmd::ProfileTrust,
                ProfileCommand::Set {
                    name,
                    key,
                    value,
                    project,
                } => Cmd::ProfileSet {
                    name,
                    key,
                    value: Some(value),
                    project,
                },
                ProfileCommand::Unset { name, key, project } => Cmd::ProfileSet {
                    name,
                    key,
                    value: None,
                    project,
                },
                ProfileCommand::Edit { name, project } => Cmd::ProfileEdit { name, project },
                ProfileCommand::Verify {
                    name,
                    url,
                    target: t,
                } => {
                    profile = positional(profile, t.profile)?;
                    profile = positional(profile, name)?;
                    Cmd::ProfileVerify { url }
                }
            },
            args::Command::Login {
                name,
                target: t,
                no_browser,
                device,
                totp,
                acr_values,
                max_age,
                json,
            } => {
                profile = positional(profile, t.profile)?;
                profile = positional(profile, name)?;
                let step_up = (acr_values.is_some() || max_age.is_some()).then(|| {
                    latchkey::StepUp::new(
                        acr_values.as_deref().unwrap_or_default().split_whitespace(),
                        max_age.map(std::time::Duration::from_secs),
                    )
                });
                Cmd::Login {
                    device,
                    totp,
                    json,
                    step_up,
                    browser: latchkey::profile::env::browser_mode(no_browser, &crate::context::ENV),
                }
            }
            args::Command::Token {
                target: t,
                id_token,
                resource,
            } => {
                profile = positional(profile, t.profile)?;
                match resource {
                    Some(uri) => Cmd::TokenFor(
                        latchkey::Resource::parse(&uri)
                            .map_err(|e| CliError::usage(format!("--resource: {e}")))?,
                    ),
                    None if id_token => Cmd::IdToken,
                    None => Cmd::Token,
                }
            }
            args::Command::Header(t) => {
                profile = positional(profile, t.profile)?;
                Cmd::Header
            }
            args::Command::Proof {
                target: t,
                method,
                url,
                json,
            } => {
                profile = positional(profile, t.profile)?;
                Cmd::Proof {
                    method: Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(
                        |_| CliError::usage(format!("`{method}` is not an HTTP method")),
                    )?,
                    url: url::Url::parse(&url).map_err(|e| {
                        CliError::usage(format!("`--url {url}` is not an absolute URL ({e})"))
                    })?,
                    json,
                }
            }
            args::Command::Status {
                target: t,
                json,
                all,
            } => {
                profile = positional(profile, t.profile)?;
                if all && profile.is_some() {
                    return Err(CliError::usage(
                        "`status --all` shows every profile: drop --profile",
                    ));
                }
                Cmd::Status { json, all }
            }
            args::Command::Logout {
                name,
                target: t,
                revoke,
                all,
                json,
            } => {
                profile = positional(profile, t.profile)?;
                if all && profile.is_some() {
                    return Err(CliError::usage(
                        "`logout --all` logs out of every profile: drop --profile",
                    ));
                }
                profile = positional(profile, name)?;
                Cmd::Logout { revoke, all, json }
            }
            args::Command::Introspect {
                target: t,
                refresh_token,
                json,
            } => {
                profile = positional(profile, t.profile)?;
                Cmd::Introspect {
                    refresh_token,
                    json,
                }
            }
            args::Command::Request {
                target: t,
                method,
                url,
                headers,
                data,
                allow_other_host,
                include,
                json,
                output,
                paginate,
                max_pages,
                resource,
            } => {
                profile = positional(profile, t.profile)?;
                let resource = resource
                    .map(|uri| latchkey::Resource::parse(&uri))
                    .transpose()
                    .map_err(|e| CliError::usage(format!("--resource: {e}")))?;
                Cmd::Request(Request {
                    resource,
                    show: match (json, include) {
                        (true, _) => Show::Json,
                        (false, true) => Show::Include,
                        (false, false) => Show::Body,
                    },
                    output,
                    paginate: paginate.then_some(max_pages),
                    ..request(&method, url, &headers, data, allow_other_host)?
                })
            }
            args::Command::Exec { command, target: t } => {
                profile = positional(profile, t.profile)?;
                let mut command = command.into_iter();
                let program = command
                    .next()
                    .ok_or_else(|| CliError::usage("`exec` needs a command to run"))?;
                Cmd::Exec {
                    program,
                    args: command.collect(),
                }
            }
            args::Command::Decode { jwt, json } => Cmd::Decode {
                json,
                jwt: if jwt == "-" {
                    std::io::read_to_string(std::io::stdin()).map_err(|e| {
                        CliError::usage(format!("cannot read the JWT from stdin: {e}"))
                    })?
                } else {
                    jwt
                }
                .trim()
                .to_owned(),
            },
            args::Command::Doctor { target: t, json } => {
                profile = positional(profile, t.profile)?;
                Cmd::Doctor { json }
            }
            args::Command::Credential(CredentialCommand::Git {
                operation,
                global,
                target: t,
            }) => {
                profile = positional(profile, t.profile)?;
                match (operation.as_str(), global) {
                    ("setup", global) => Cmd::CredentialGitSetup { global },
                    (_, true) => {
                        return Err(CliError::usage(
                            "--global goes with `credential git setup` only",
                        ));
                    }
                    (operation, false) => Cmd::CredentialGit {
                        operation: git_operation(operation)?,
                    },
                }
            }
            args::Command::Credential(CredentialCommand::Kubectl {
                print_kubeconfig,
                target: t,
            }) => {
                profile = positional(profile, t.profile)?;
                if print_kubeconfig {
                    Cmd::CredentialKubeconfig
                } else {
                    Cmd::CredentialKubectl
                }
            }
            args::Command::Completions { shell } => {
                Cmd::Completions(crate::completion::script(shell)?)
            }
            args::Command::Man { dir } => Cmd::Man { dir },
            args::Command::Scheme(SchemeCommand::Check { file }) => Cmd::SchemeCheck { file },
        };
        if let Some(name) = &profile
            && !command.uses_profile()
        {
            return Err(CliError::usage(format!(
                "--profile {name} was given to a command that uses no profile"
            ))
            .with_hint(
                "`latchkey COMMAND --help` lists --profile under \"Global options\" where it applies",
            ));
        }
        Ok(Plan {
            profile,
            log_level: match cli.verbose {
                0 => tracing::Level::WARN,
                1 => tracing::Level::INFO,
                2 => tracing::Level::DEBUG,
                _ => tracing::Level::TRACE,
            },
            quiet: cli.quiet,
            debug_http: cli.debug_http || cli.verbose >= 2,
            command,
        })
    }
}

impl Cmd {
    /// Whether the command acts on a profile (and so takes `--profile`).
    fn uses_profile(&self) -> bool {
        !matches!(
            self,
            Cmd::ProfileAdd(_)
                | Cmd::ProfileList { .. }
                | Cmd::ProfileRemove { .. }
                | Cmd::ProfileDefault { .. }
                | Cmd::ProfileRename { .. }
                | Cmd::ProfileTrust
                | Cmd::ProfileSet { .. }
                | Cmd::ProfileEdit { .. }
                | Cmd::Decode { .. }
                | Cmd::Completions(_)
                | Cmd::Man { .. }
                | Cmd::SchemeCheck { .. }
        )
    }
}

fn git_operation(operation: &str) -> Result<GitOperation, CliError> {
    match operation {
        "get" => Ok(GitOperation::Get),
        "store" | "erase" => Ok(GitOperation::Ignored),
        other => Err(
            CliError::usage(format!("unknown git credential operation `{other}`")).with_hint(
                "git calls the helper with get, store or erase; \
                     `latchkey credential git setup` configures git",
            ),
        ),
    }
}

fn positional(flag: Option<String>, name: Option<String>) -> Result<Option<String>, CliError> {
    match (flag, name) {
        (Some(a), Some(b)) if a != b => Err(CliError::usage(format!(
            "two different profiles given: --profile {a} and {b}"
        ))),
        (a, b) => Ok(b.or(a)),
    }
}

fn secret(
    field: &str,
    env: Option<String>,
    keyring: Option<String>,
) -> Result<Option<(String, FieldValue)>, CliError> {
    Ok(match (env, keyring) {
        (Some(_), Some(_)) => {
            return Err(CliError::usage(format!(
                "`{field}`: give either an environment variable or a keyring entry, not both"
            )));
        }
        (Some(var), None) => Some((field.to_owned(), FieldValue::Env(var))),
        (None, Some(name)) => Some((field.to_owned(), FieldValue::Keyring(name))),
        (None, None) => None,
    })
}

fn profile_add(a: args::ProfileAdd) -> Result<ProfileAdd, CliError> {
    let mut fields: Vec<(String, FieldValue)> = Vec::new();
    let strings = [
        ("preset", a.preset),
        ("issuer", a.issuer),
        ("token_url", a.token_url),
        ("authorization_url", a.authorization_url),
        ("device_authorization_url", a.device_authorization_url),
        ("revocation_url", a.revocation_url),
        ("client_id", a.client_id),
        ("client_auth", a.client_auth),
        ("redirect_uri", a.redirect_uri),
        ("username", a.username),
        ("store", a.store),
        ("base_url", a.base_url),
        ("realm", a.realm),
        ("tenant", a.tenant),
        ("audience", a.audience),
        ("key_id", a.key_id),
        ("login", a.login),
    ];
    for (field, value) in strings {
        if let Some(value) = value {
            fields.push((field.to_owned(), FieldValue::Str(value)));
        }
    }
    let scopes: Vec<String> = a
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect();
    if !scopes.is_empty() {
        fields.push(("scopes".to_owned(), FieldValue::List(scopes)));
    }
    fields.extend(secret(
        "client_secret",
        a.client_secret_env,
        a.client_secret_keyring,
    )?);
    fields.extend(secret("password", a.password_env, a.password_keyring)?);
    fields.extend(secret("token", a.token_env, a.token_keyring)?);
    fields.extend(secret(
        "private_key",
        a.private_key_env,
        a.private_key_keyring,
    )?);
    fields.extend(secret(
        "refresh_token",
        a.refresh_token_env,
        a.refresh_token_keyring,
    )?);
    for (table, entries) in [("headers", &a.headers), ("query", &a.query)] {
        for entry in entries {
            let flag = if table == "headers" {
                "header"
            } else {
                "query"
            };
            let (key, source) = entry.split_once('=').ok_or_else(|| {
                CliError::usage(format!("--{flag} `{entry}` is not NAME=SOURCE"))
                    .with_hint(format!("e.g. --{flag} X-Api-Key=env:API_KEY"))
            })?;
            let field = format!("{table}.{key}");
            let profile = a.name.as_deref().unwrap_or("new");
            let value = FieldValue::parse(profile, &field, source)?;
            fields.push((field, value));
        }
    }
    Ok(ProfileAdd {
        name: a.name,
        auth: a.auth,
        fields,
        make_default: a.default,
        overwrite: a.force,
        project: a.project,
        from_discovery: a.from_discovery,
    })
}

fn request(
    method: &str,
    target: String,
    headers: &[String],
    data: Option<String>,
    allow_other_host: bool,
) -> Result<Request, CliError> {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| CliError::usage(format!("`{method}` is not an HTTP method")))?;
    let headers = headers
        .iter()
        .map(|raw| wire::header_argument(raw).map_err(CliError::usage))
        .collect::<Result<_, CliError>>()?;
    let body = match data.as_deref().map(wire::body_source) {
        None => None,
        Some(BodySource::Stdin) => Some(read_all(std::io::stdin(), "stdin")?),
        Some(BodySource::File(path)) => Some(
            std::fs::read(path).map_err(|e| CliError::usage(format!("cannot read {path}: {e}")))?,
        ),
        Some(BodySource::Text(text)) => Some(text.as_bytes().to_vec()),
    };
    Ok(Request {
        method,
        target,
        headers,
        body,
        allow_other_host,
        show: Show::Body,
        output: None,
        paginate: None,
        resource: None,
    })
}

fn read_all(mut reader: impl std::io::Read, what: &str) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    reader
        .read_to_end(&mut buf)
        .map_err(|e| CliError::usage(format!("cannot read {what}: {e}")))?;
    Ok(buf)
}
