//! The command line as clap sees it. Nothing outside `plan.rs` reads these types;
//! `help.rs` adds each command's examples to the tree clap builds from them.

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
    // Not `global`: only the commands that use a profile offer it after their name
    // (`ProfileArg`); `plan.rs` refuses it before one that uses none.
    /// The profile to use (else LATCHKEY_PROFILE, the env-only profile, the file's default).
    #[arg(short, long, value_name = "NAME", help_heading = GLOBAL, add = crate::completion::profile_names())]
    pub profile: Option<String>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    /// No warnings or logs on stderr (errors and progress still show).
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,

    /// Show each request to the identity provider and its answer on stderr, secrets masked
    /// (also shown by -vv).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub debug_http: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the options every command (that uses a profile) takes.
const GLOBAL: &str = "Global options";

/// `-p/--profile` after a command's name (`latchkey token -p NAME`), flattened into the
/// commands that use a profile only, so `decode`, `completions`... do not offer it.
#[derive(Debug, Args)]
pub(crate) struct ProfileArg {
    /// The profile to use (else LATCHKEY_PROFILE, the env-only profile, the file's default).
    #[arg(short, long, value_name = "NAME", help_heading = GLOBAL, add = crate::completion::profile_names())]
    pub profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage profiles in the profiles file (the user's, or the project's with --project).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Log in interactively (browser, or --device) and store the tokens.
    ///
    /// Opens a browser when one can reach this machine: not over SSH, and on Linux and the
    /// BSDs only with a display (DISPLAY, WAYLAND_DISPLAY), unless $BROWSER names one (then
    /// it is used, display or not); the URL is always printed. --device prints a URL and a
    /// code to approve on any device, with a QR code and the code's time left on a terminal.
    Login {
        /// The profile (same as --profile).
        #[arg(value_name = "PROFILE", add = crate::completion::profile_names())]
        name: Option<String>,
        #[command(flatten)]
        target: ProfileArg,
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
        /// Ask for these authentication context classes (space-separated; RFC 9470 step-up,
        /// OIDC `acr_values`); the ID token's `acr` must be one of them.
        #[arg(long, value_name = "VALUES")]
        acr_values: Option<String>,
        /// Ask for a sign-in no older than SECONDS (OIDC `max_age`); the ID token's
        /// `auth_time` must show it.
        #[arg(long, value_name = "SECONDS")]
        max_age: Option<u64>,
        /// Print what the login got as JSON on stdout (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Print the access token, refreshing it if needed (nothing else on stdout).
    Token {
        #[command(flatten)]
        target: ProfileArg,
        /// Print the stored OpenID Connect ID token instead (needs the `openid` scope).
        #[arg(long)]
        id_token: bool,
        /// Print a token for this resource (RFC 8707 resource indicator) instead of the
        /// profile's first `resource`; it is kept apart from the profile's own token.
        #[arg(long, value_name = "URI", conflicts_with = "id_token")]
        resource: Option<String>,
    },
    /// Print the `Authorization: …` header.
    Header(ProfileArg),
    /// Print both headers of one DPoP request (`Authorization: DPoP …` and `DPoP: …`).
    ///
    /// For profiles with `dpop = true`: the server wants a new proof, signed for the method
    /// and URL, with every request, so run this once per request. `latchkey request` does it
    /// by itself, and also answers a resource server's nonce demand.
    Proof {
        #[command(flatten)]
        target: ProfileArg,
        /// The request's HTTP method.
        #[arg(long, short = 'X', value_name = "METHOD")]
        method: String,
        /// The request's absolute URL.
        #[arg(long, value_name = "URL")]
        url: String,
        /// Print {"authorization": …, "dpop": …} as JSON instead of two header lines.
        #[arg(long)]
        json: bool,
    },
    /// Show the profile's login and token state (exit 1 when not logged in).
    Status {
        #[command(flatten)]
        target: ProfileArg,
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
        #[arg(value_name = "PROFILE", add = crate::completion::profile_names())]
        name: Option<String>,
        #[command(flatten)]
        target: ProfileArg,
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
    /// Send an authenticated request and print the response body (or, with -i or --json, the
    /// status and headers too).
    ///
    /// The profile's credentials go only to the origin (scheme, host, port) of its base_url,
    /// unless --allow-other-host; never over plain http to a host other than loopback.
    Request {
        #[command(flatten)]
        target: ProfileArg,
        /// The HTTP method.
        method: String,
        /// The URL; a relative one is joined to the profile's base_url.
        url: String,
        /// Send the credentials to an absolute URL outside the profile's base_url origin.
        #[arg(long)]
        allow_other_host: bool,
        /// Use a token for this resource (RFC 8707 resource indicator) instead of the
        /// profile's first `resource`; it is kept apart from the profile's own token.
        #[arg(long, value_name = "URI")]
        resource: Option<String>,
        /// Extra request headers, `Name: value`.
        #[arg(short = 'H', long = "header", value_name = "HEADER")]
        headers: Vec<String>,
        /// The request body (`@FILE` reads a file, `@-` stdin).
        #[arg(short, long)]
        data: Option<String>,
        /// Print the status line and the response headers before the body.
        #[arg(short, long)]
        include: bool,
        /// Print one JSON object: {"status", "headers", "body"} (implies --include).
        #[arg(long)]
        json: bool,
        /// Write the body to FILE (replacing it) instead of stdout.
        #[arg(short, long, value_name = "FILE", conflicts_with = "json")]
        output: Option<PathBuf>,
        /// Follow `Link: <…>; rel="next"` on the same origin and print the pages' JSON
        /// arrays as one array.
        #[arg(long, conflicts_with_all = ["include", "json"])]
        paginate: bool,
        /// The most pages --paginate fetches.
        #[arg(long, value_name = "N", default_value_t = 100, requires = "paginate",
              value_parser = clap::value_parser!(u32).range(1..))]
        max_pages: u32,
    },
    /// Run a command with the access token in LATCHKEY_TOKEN.
    Exec {
        #[command(flatten)]
        target: ProfileArg,
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
        #[command(flatten)]
        target: ProfileArg,
        /// Ask about the refresh token instead of the access token.
        #[arg(long)]
        refresh_token: bool,
        /// JSON output: the provider's answer as it sent it.
        #[arg(long)]
        json: bool,
    },
    /// Check the profile end to end: discovery, JWKS, clock skew, redirect URI, store.
    Doctor {
        #[command(flatten)]
        target: ProfileArg,
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
    /// Write a man page per command into DIR (for packagers: `scripts/build-dist.sh`).
    #[command(hide = true)]
    Man {
        /// The folder to write `latchkey.1`, `latchkey-token.1`, … into (created if missing).
        dir: PathBuf,
    },
    /// Work with DHIS2 route auth schemes (JSON).
    #[command(subcommand)]
    Scheme(SchemeCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProfileCommand {
    /// Add a profile: on a terminal without --auth, asked step by step; else from the flags.
    ///
    /// The profile is checked before it is written: every missing or unusable field is listed
    /// at once and nothing is written. The first profile of a file becomes its default.
    Add(Box<ProfileAdd>),
    /// Set one field of a profile (`profile set svc scopes "a b"`), checked like the file.
    ///
    /// Secrets take `env:VAR`, `keyring:NAME`, or `literal:VALUE` (written into the file);
    /// `headers.NAME` and `query.NAME` set one entry of those tables.
    Set {
        /// The profile.
        name: String,
        /// The field (docs/cli.md lists them).
        key: String,
        /// Its new value.
        value: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Remove one field of a profile (it must still be usable without it).
    Unset {
        /// The profile.
        name: String,
        /// The field.
        key: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Edit the profiles file holding a profile in $VISUAL or $EDITOR, checked on save.
    ///
    /// The editor gets a private copy; the file changes only when the copy is valid. An invalid
    /// copy is offered again on a terminal, else refused with its problems.
    Edit {
        /// The profile.
        name: String,
        /// Edit the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
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
        #[arg(add = crate::completion::profile_names())]
        name: Option<String>,
        #[command(flatten)]
        target: ProfileArg,
    },
    /// Remove a profile.
    Remove {
        /// The profile.
        #[arg(add = crate::completion::profile_names())]
        name: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Make a profile the default.
    Default {
        /// The profile.
        #[arg(add = crate::completion::profile_names())]
        name: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Rename a profile, keeping its comments and its stored tokens (no new login).
    Rename {
        /// The profile's name now.
        #[arg(add = crate::completion::profile_names())]
        old: String,
        /// Its new name.
        new: String,
        /// Change the project's `.latchkey/profiles.toml`, not the user's file.
        #[arg(long)]
        project: bool,
    },
    /// Use the project's `.latchkey/profiles.toml`, after reading it.
    ///
    /// A project file comes with a checkout and decides where its profiles send
    /// credentials, so it is used only once trusted with its current content; a change to
    /// the file needs a new `trust` (latchkey's own --project edits keep it trusted).
    Trust,
    /// Check a profile's credentials against its server and show who it says you are.
    ///
    /// GETs the dhis2 preset's `/api/me`, an OIDC profile's userinfo endpoint, or the
    /// profile's base_url, through the same path as `request`. Exit 1 when refused.
    Verify {
        /// The profile (same as --profile).
        #[arg(value_name = "PROFILE", add = crate::completion::profile_names())]
        name: Option<String>,
        #[command(flatten)]
        target: ProfileArg,
        /// GET this URL instead (relative: joined to the profile's base_url).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ProfileAdd {
    /// The profile name (letters, digits, `.`, `_`, `-`); asked for on a terminal.
    pub name: Option<String>,
    /// How to authenticate (without it, on a terminal, every answer is asked step by step).
    #[arg(long, value_parser = auth_kind_parser())]
    pub auth: Option<AuthKind>,
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
    /// client_secret_basic | client_secret_post | client_secret_jwt | private_key_jwt |
    /// tls_client_auth | self_signed_tls_client_auth | none.
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
    /// The Microsoft tenant (microsoft preset; default `common`).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The API the tokens are for, sent as `audience` (Auth0).
    #[arg(long)]
    pub audience: Option<String>,
    /// Read the PEM private key (private_key_jwt) from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub private_key_env: Option<String>,
    /// Read the PEM private key from this keyring entry.
    #[arg(long, value_name = "NAME")]
    pub private_key_keyring: Option<String>,
    /// The key id (`kid`) sent with private_key_jwt.
    #[arg(long)]
    pub key_id: Option<String>,
    /// Read the refresh token (refresh-token) from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub refresh_token_env: Option<String>,
    /// Read the refresh token from this keyring entry.
    #[arg(long, value_name = "NAME")]
    pub refresh_token_keyring: Option<String>,
    /// A header to send (headers): `NAME=env:VAR`, `NAME=keyring:ENTRY` or
    /// `NAME=literal:VALUE` (written into the file). Repeat for more.
    #[arg(long = "header", value_name = "NAME=SOURCE")]
    pub headers: Vec<String>,
    /// A query parameter to send (query), as --header.
    #[arg(long = "query", value_name = "NAME=SOURCE")]
    pub query: Vec<String>,
    /// manual (default: run `latchkey login` first) | auto (log in on first use when a
    /// person can answer).
    #[arg(long, value_parser = ["manual", "auto"])]
    pub login: Option<String>,
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
    ///
    /// `latchkey credential git setup [--global]` configures git to ask latchkey for the
    /// profile's host.
    Git {
        /// git's operation: get, store or erase; or `setup` to write the git config.
        operation: String,
        /// With `setup`: write the user's git config, not the current repository's.
        #[arg(long)]
        global: bool,
        #[command(flatten)]
        target: ProfileArg,
    },
    /// A kubectl exec credential (client.authentication.k8s.io/v1 ExecCredential).
    ///
    /// With `interactiveMode: IfAvailable` and a person at the terminal, a missing login
    /// starts one.
    Kubectl {
        /// Print the kubeconfig `users:` entry that runs this command, instead.
        #[arg(long)]
        print_kubeconfig: bool,
        #[command(flatten)]
        target: ProfileArg,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchemeCommand {
    /// Validate a JSON file holding one auth scheme object or an array of them.
    Check {
        /// The file (`-` reads stdin).
        file: PathBuf,
    },
}
