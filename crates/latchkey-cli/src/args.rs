//! The command line as clap sees it. Nothing outside `plan.rs` reads these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use latchkey::profile::AuthKind;

/// Authenticate HTTP API clients from the shell: profiles, logins, tokens, credential helpers.
///
/// Exit codes: 0 ok, 1 other failure, 2 usage or configuration, 3 login required,
/// 4 identity provider error, 5 network, 6 token store.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, max_term_width = 100)]
pub(crate) struct Cli {
    /// The profile to use (else LATCHKEY_PROFILE, the env-only profile, the file's default).
    #[arg(short, long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// No warnings or logs on stderr (errors and progress still show).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage profiles in the profiles file (the user's, or the project's with --project).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Log in interactively (browser, or --device) and store the tokens.
    Login {
        /// The profile (same as --profile).
        #[arg(value_name = "PROFILE")]
        name: Option<String>,
        /// Do not open a browser; print the URL and wait.
        #[arg(long)]
        no_browser: bool,
        /// Use the device flow (a URL and a code to approve on another device).
        #[arg(long)]
        device: bool,
        /// Send a one-time code (password profiles with two-factor login), read as one line
        /// from stdin; never put on the command line, where other users could see it.
        #[arg(long)]
        totp: bool,
        /// Print what the login got as JSON on stdout (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Print the access token, refreshing it if needed (nothing else on stdout).
    Token {
        /// Print the stored OpenID Connect ID token instead (needs the `openid` scope).
        #[arg(long)]
        id_token: bool,
    },
    /// Print the `Authorization: …` header.
    Header,
    /// Show the profile's login and token state (exit 1 when not logged in).
    Status {
        /// JSON output (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
        /// Every profile (exit 1 when any is not logged in).
        #[arg(long)]
        all: bool,
    },
    /// Forget the stored tokens.
    ///
    /// With no profile selected: the one logged-in profile; with several, a prompt on a
    /// terminal (elsewhere an error listing them, exit 2).
    Logout {
        /// The profile (same as --profile).
        #[arg(value_name = "PROFILE")]
        name: Option<String>,
        /// Also revoke them at the identity provider (RFC 7009, or GitHub's app-token API).
        #[arg(long)]
        revoke: bool,
        /// Log out of every profile.
        #[arg(long, conflicts_with = "name")]
        all: bool,
        /// Say what was done as JSON on stdout (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Send an authenticated request and print the response body.
    ///
    /// The profile's credentials go only to the origin (scheme, host, port) of its base_url,
    /// unless --allow-other-host; never over plain http to a host other than loopback.
    Request {
        /// The HTTP method.
        method: String,
        /// The URL; a relative one is joined to the profile's base_url.
        url: String,
        /// Send the credentials to an absolute URL outside the profile's base_url origin.
        #[arg(long)]
        allow_other_host: bool,
        /// Extra request headers, `Name: value`.
        #[arg(short = 'H', long = "header", value_name = "HEADER")]
        headers: Vec<String>,
        /// The request body (`@FILE` reads a file, `@-` stdin).
        #[arg(short, long)]
        data: Option<String>,
    },
    /// Run a command with the access token in LATCHKEY_TOKEN.
    Exec {
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Pretty-print a JWT's header and claims (the signature is NOT verified).
    Decode {
        /// The JWT (`-` reads stdin).
        jwt: String,
        /// JSON output (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Ask the identity provider about the stored token (RFC 7662 introspection).
    Introspect {
        /// Ask about the refresh token instead of the access token.
        #[arg(long)]
        refresh_token: bool,
        /// JSON output: the provider's answer as it sent it.
        #[arg(long)]
        json: bool,
    },
    /// Check the profile end to end: discovery, JWKS, clock skew, redirect URI, store.
    Doctor {
        /// JSON output (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Credential helper modes for other tools.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Work with DHIS2 route auth schemes (JSON).
    #[command(subcommand)]
    Scheme(SchemeCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Add a profile.
    Add(Box<ProfileAdd>),
    /// List the profiles (`*` marks the default), where each is defined (user, project) and
    /// its login state.
    List {
        /// JSON output (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Show a profile as TOML (literal secrets redacted).
    Show {
        /// The profile (default: the selected one).
        name: Option<String>,
    },
    /// Remove a profile.
    Remove {
        /// The profile.
        name: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Make a profile the default.
    Default {
        /// The profile.
        name: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Rename a profile, keeping its comments and its stored tokens (no new login).
    Rename {
        /// The profile's name now.
        old: String,
        /// Its new name.
        new: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Check a profile's credentials against its server and show who it says you are.
    ///
    /// GETs the dhis2 preset's `/api/me`, an OIDC profile's userinfo endpoint, or the
    /// profile's base_url, through the same path as `request`. Exit 1 when refused.
    Verify {
        /// The profile (same as --profile).
        #[arg(value_name = "PROFILE")]
        name: Option<String>,
        /// GET this URL instead (relative: joined to the profile's base_url).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ProfileAdd {
    /// The profile name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// How to authenticate.
    #[arg(long, value_parser = auth_kind_parser())]
    pub auth: AuthKind,
    /// A provider preset (oidc, google, github, microsoft, keycloak, dhis2, cdse).
    #[arg(long)]
    pub preset: Option<String>,
    /// The issuer (OIDC discovery).
    #[arg(long)]
    pub issuer: Option<String>,
    /// Run OIDC discovery on this issuer now and write it with the endpoints found (a
    /// discovery failure writes nothing).
    #[arg(long, value_name = "ISSUER", conflicts_with = "issuer")]
    pub from_discovery: Option<String>,
    /// The token endpoint (when not discovered).
    #[arg(long)]
    pub token_url: Option<String>,
    /// The authorization endpoint (when not discovered).
    #[arg(long)]
    pub authorization_url: Option<String>,
    /// The device authorization endpoint (when not discovered).
    #[arg(long)]
    pub device_authorization_url: Option<String>,
    /// The revocation endpoint (when not discovered).
    #[arg(long)]
    pub revocation_url: Option<String>,
    /// The OAuth client id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Read the client secret from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
    /// Read the client secret from this keyring entry (service `latchkey`).
    #[arg(long, value_name = "NAME")]
    pub client_secret_keyring: Option<String>,
    /// client_secret_basic | client_secret_post | private_key_jwt | none.
    #[arg(long)]
    pub client_auth: Option<String>,
    /// Scopes (repeat or separate with spaces).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// The loopback redirect URI for browser logins.
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// The user name (password grant, basic).
    #[arg(long)]
    pub username: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the password from this keyring entry.
    #[arg(long, value_name = "NAME")]
    pub password_keyring: Option<String>,
    /// Read the token (api-token, bearer) from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Read the token from this keyring entry.
    #[arg(long, value_name = "NAME")]
    pub token_keyring: Option<String>,
    /// memory | file | sqlite | keyring | redis://host:port/db (default file).
    #[arg(long)]
    pub store: Option<String>,
    /// The API base URL (for `request` and presets).
    #[arg(long)]
    pub base_url: Option<String>,
    /// The Keycloak realm (keycloak preset).
    #[arg(long)]
    pub realm: Option<String>,
    /// Make it the default profile.
    #[arg(long)]
    pub default: bool,
    /// Replace a profile of the same name.
    #[arg(long)]
    pub force: bool,
    /// Write to the project's `.latchkey/profiles.toml` (the nearest one, else one created
    /// in the working directory), not the user's file.
    #[arg(long)]
    pub project: bool,
}

/// `--auth`: the kinds the profiles file accepts, from its one list.
fn auth_kind_parser() -> impl clap::builder::TypedValueParser<Value = AuthKind> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(AuthKind::NAMES)
        .try_map(|name| AuthKind::from_name(&name).ok_or("unknown auth kind"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum CredentialCommand {
    /// git's credential helper protocol: `git config credential.helper '!latchkey -p NAME credential git'`.
    Git {
        /// git's operation: get, store or erase.
        operation: String,
    },
    /// A kubectl exec credential (client.authentication.k8s.io/v1 ExecCredential).
    Kubectl,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchemeCommand {
    /// Validate a JSON file holding one auth scheme object or an array of them.
    Check {
        /// The file (`-` reads stdin).
        file: PathBuf,
    },
}
