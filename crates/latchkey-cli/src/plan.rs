//! Step two of the command line: raw clap arguments → a resolved, validated plan. Commands
//! receive these types only (the ripgrep split), so they can be reasoned about and tested
//! without clap.

use std::path::PathBuf;

use clap::CommandFactory;
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
    },
    Token,
    /// `token --id-token`.
    IdToken,
    Header,
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
    CredentialKubectl,
    /// The completion script, generated while planning (it needs clap's command tree).
    Completions(Vec<u8>),
    SchemeCheck {
        file: PathBuf,
    },
}

/// `profile add`.
#[derive(Debug)]
pub(crate) struct ProfileAdd {
    pub name: String,
    pub auth: AuthKind,
    pub fields: Vec<(&'static str, FieldValue)>,
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
                ProfileCommand::Show { name } => Cmd::ProfileShow(name.or(profile.clone())),
                ProfileCommand::Remove { name, project } => Cmd::ProfileRemove { name, project },
                ProfileCommand::Default { name, project } => Cmd::ProfileDefault { name, project },
                ProfileCommand::Rename { old, new, project } => {
                    Cmd::ProfileRename { old, new, project }
                }
                ProfileCommand::Verify { name, url } => {
                    profile = positional(profile, name)?;
                    Cmd::ProfileVerify { url }
                }
            },
            args::Command::Login {
                name,
                no_browser,
                device,
                totp,
                json,
            } => {
                profile = positional(profile, name)?;
                Cmd::Login {
                    device,
                    totp,
                    json,
                    browser: latchkey::profile::env::browser_mode(no_browser, &crate::context::ENV),
                }
            }
            args::Command::Token { id_token: false } => Cmd::Token,
            args::Command::Token { id_token: true } => Cmd::IdToken,
            args::Command::Header => Cmd::Header,
            args::Command::Status { json, all } => {
                if all && profile.is_some() {
                    return Err(CliError::usage(
                        "`status --all` shows every profile: drop --profile",
                    ));
                }
                Cmd::Status { json, all }
            }
            args::Command::Logout {
                name,
                revoke,
                all,
                json,
            } => {
                if all && profile.is_some() {
                    return Err(CliError::usage(
                        "`logout --all` logs out of every profile: drop --profile",
                    ));
                }
                profile = positional(profile, name)?;
                Cmd::Logout { revoke, all, json }
            }
            args::Command::Introspect {
                refresh_token,
                json,
            } => Cmd::Introspect {
                refresh_token,
                json,
            },
            args::Command::Request {
                method,
                url,
                headers,
                data,
                allow_other_host,
            } => Cmd::Request(request(&method, url, &headers, data, allow_other_host)?),
            args::Command::Exec { command } => {
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
            args::Command::Doctor { json } => Cmd::Doctor { json },
            args::Command::Credential(CredentialCommand::Git { operation }) => Cmd::CredentialGit {
                operation: match operation.as_str() {
                    "get" => GitOperation::Get,
                    "store" | "erase" => GitOperation::Ignored,
                    other => {
                        return Err(CliError::usage(format!(
                            "unknown git credential operation `{other}`"
                        ))
                        .with_hint("git calls the helper with get, store or erase"));
                    }
                },
            },
            args::Command::Credential(CredentialCommand::Kubectl) => Cmd::CredentialKubectl,
            args::Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "latchkey", &mut script);
                Cmd::Completions(script)
            }
            args::Command::Scheme(SchemeCommand::Check { file }) => Cmd::SchemeCheck { file },
        };
        Ok(Plan {
            profile,
            log_level: match cli.verbose {
                0 => tracing::Level::WARN,
                1 => tracing::Level::INFO,
                2 => tracing::Level::DEBUG,
                _ => tracing::Level::TRACE,
            },
            quiet: cli.quiet,
            command,
        })
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
    field: &'static str,
    env: Option<String>,
    keyring: Option<String>,
) -> Result<Option<(&'static str, FieldValue)>, CliError> {
    Ok(match (env, keyring) {
        (Some(_), Some(_)) => {
            return Err(CliError::usage(format!(
                "`{field}`: give either an environment variable or a keyring entry, not both"
            )));
        }
        (Some(var), None) => Some((field, FieldValue::Env(var))),
        (None, Some(name)) => Some((field, FieldValue::Keyring(name))),
        (None, None) => None,
    })
}

fn profile_add(a: args::ProfileAdd) -> Result<ProfileAdd, CliError> {
    let mut fields: Vec<(&'static str, FieldValue)> = Vec::new();
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
    ];
    for (field, value) in strings {
        if let Some(value) = value {
            fields.push((field, FieldValue::Str(value)));
        }
    }
    let scopes: Vec<String> = a
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect();
    if !scopes.is_empty() {
        fields.push(("scopes", FieldValue::List(scopes)));
    }
    fields.extend(secret(
        "client_secret",
        a.client_secret_env,
        a.client_secret_keyring,
    )?);
    fields.extend(secret("password", a.password_env, a.password_keyring)?);
    fields.extend(secret("token", a.token_env, a.token_keyring)?);
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
    })
}

fn read_all(mut reader: impl std::io::Read, what: &str) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    reader
        .read_to_end(&mut buf)
        .map_err(|e| CliError::usage(format!("cannot read {what}: {e}")))?;
    Ok(buf)
}
