//! `profile add` on a terminal without `--auth`: the profile asked for step by step (provider,
//! discovery, grant, client, where the secret lives, scopes), each answer checked against
//! the provider's discovery document, ending with an offer to log in (as `gh auth login`).

use std::io::IsTerminal;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, Password, Select};
use latchkey::Preset;
use latchkey::oidc::{OidcProvider, ProviderMetadata};
use latchkey::preset::{Endpoints, PresetVars, Resolved};
use latchkey::profile::AuthKind;
use latchkey::profile::edit::FieldValue;

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::plan::ProfileAdd;

/// Whether a person can answer questions here: stdin and stderr (where prompts go) are
/// terminals.
pub(super) fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The grants a profile can use, with the discovery name that announces each.
const GRANTS: [(AuthKind, &str, &str); 5] = [
    (
        AuthKind::DeviceCode,
        "urn:ietf:params:oauth:grant-type:device_code",
        "device-code: approve on another device with a URL and a code",
    ),
    (
        AuthKind::AuthorizationCode,
        "authorization_code",
        "authorization-code: log in in a browser on this machine",
    ),
    (
        AuthKind::ClientCredentials,
        "client_credentials",
        "client-credentials: a service account (client id and secret, no person)",
    ),
    (
        AuthKind::Password,
        "password",
        "password: a user name and password sent to the provider",
    ),
    (
        AuthKind::RefreshToken,
        "refresh_token",
        "refresh-token: a refresh token obtained elsewhere",
    ),
];

/// Asks for the profile, writes it, and offers to log in.
pub(super) async fn guided(ctx: &Ctx, mut add: ProfileAdd) -> Result<(), CliError> {
    let ask = Asker::new();
    eprintln!("Adding a profile. Answer each question; Ctrl-C stops without writing anything.");
    let name = match add.name.take() {
        Some(name) => name,
        None => ask.input("Profile name (letters, digits, `.`, `_`, `-`)", None, |s| {
            valid_name(s)
        })?,
    };
    let (provider_fields, preset, metadata) = provider(&ask).await?;
    let auth = grant(&ask, &metadata)?;
    let mut fields = provider_fields;
    let public_id = preset.and_then(|p| p.public_client_id);
    let client_id = ask.input(
        "Client id (as registered at the provider)",
        public_id,
        |s| {
            if s.trim().is_empty() {
                Err("the client id cannot be empty".into())
            } else {
                Ok(())
            }
        },
    )?;
    if public_id != Some(client_id.as_str()) {
        fields.push(("client_id".into(), FieldValue::Str(client_id)));
    }
    if let Some(secret) = client_secret(&ask, auth, &metadata)? {
        fields.push(("client_secret".into(), secret));
    }
    match auth {
        AuthKind::Password => {
            let user = ask.input("User name", None, |_| Ok(()))?;
            fields.push(("username".into(), FieldValue::Str(user)));
            let password = secret_source(&ask, "The password", false)?
                .ok_or_else(|| CliError::usage("a password profile needs a password"))?;
            fields.push(("password".into(), password));
        }
        AuthKind::RefreshToken => {
            let token = secret_source(&ask, "The refresh token", false)?
                .ok_or_else(|| CliError::usage("a refresh-token profile needs its token"))?;
            fields.push(("refresh_token".into(), token));
        }
        _ => {}
    }
    // A preset's fixed endpoints come with its default scopes, not a list of what the
    // provider supports: only a discovery document says that.
    let discovered = preset.is_none_or(|p| matches!(p.endpoints, Endpoints::Discovery { .. }));
    let supported: &[String] = if discovered {
        &metadata.scopes_supported
    } else {
        &[]
    };
    let scopes = scopes(&ask, supported, preset, auth)?;
    if !scopes.is_empty() {
        fields.push(("scopes".into(), FieldValue::List(scopes)));
    }
    // Flags given with the guided setup (--store, --base-url, …) come on top.
    for (field, value) in add.fields.drain(..) {
        if !fields.iter().any(|(f, _)| *f == field) {
            fields.push((field, value));
        }
    }
    add.fields = fields;
    let path = super::profile_file::target_file(ctx, add.project)?;
    super::profile_file::write_to(ctx, &path, add.project, || {
        super::profile_file::write_new(&path, &name, auth, &add)
    })?;
    if !ask.confirm(&format!("Log in to `{name}` now?"), true)? {
        eprintln!("Log in later with `latchkey login {name}`.");
        return Ok(());
    }
    let ctx = Ctx {
        paths: ctx.paths.clone(),
        profile: Some(name),
    };
    let browser = latchkey::profile::env::browser_mode(false, ENV);
    super::session::login(&ctx, false, browser, false, false, None).await
}

/// Prompts on stderr, in colour unless NO_COLOR says otherwise.
struct Asker {
    theme: Box<dyn Theme>,
}

impl Asker {
    fn new() -> Self {
        let plain = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let theme: Box<dyn Theme> = if plain {
            Box::new(SimpleTheme)
        } else {
            Box::new(ColorfulTheme::default())
        };
        Self { theme }
    }

    fn input(
        &self,
        prompt: &str,
        default: Option<&str>,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, CliError> {
        let mut input = Input::<String>::with_theme(&*self.theme)
            .with_prompt(prompt)
            .validate_with(|s: &String| check(s.trim()));
        match default {
            // An empty answer is a valid one (no scopes), without an empty `()` shown.
            Some("") => input = input.allow_empty(true),
            Some(default) => input = input.default(default.to_owned()),
            None => input = input.allow_empty(false),
        }
        Ok(input.interact_text().map_err(stopped)?.trim().to_owned())
    }

    fn select(&self, prompt: &str, items: &[String]) -> Result<usize, CliError> {
        Select::with_theme(&*self.theme)
            .with_prompt(prompt)
            .items(items)
            .default(0)
            .interact()
            .map_err(stopped)
    }

    fn confirm(&self, prompt: &str, default: bool) -> Result<bool, CliError> {
        Confirm::with_theme(&*self.theme)
            .with_prompt(prompt)
            .default(default)
            .interact()
            .map_err(stopped)
    }
}

fn stopped(e: dialoguer::Error) -> CliError {
    CliError::usage(format!("stopped before the profile was written ({e})"))
}

fn valid_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err("use letters, digits, `.`, `_` and `-` only".into())
    }
}

/// The provider: a preset (and the values its URLs need) or an issuer, asked again until
/// discovery answers. Returns the fields to write, the preset and the endpoints found.
async fn provider(
    ask: &Asker,
) -> Result<
    (
        Vec<(String, FieldValue)>,
        Option<&'static Preset>,
        ProviderMetadata,
    ),
    CliError,
> {
    let presets: Vec<&'static Preset> = Preset::names()
        .into_iter()
        .filter(|n| *n != "oidc")
        .filter_map(|n| Preset::by_name(n).ok())
        .collect();
    let mut items = vec!["another OpenID Connect provider, by its issuer URL".to_owned()];
    items.extend(
        presets
            .iter()
            .map(|p| format!("{}: {}", p.name, p.description)),
    );
    let choice = ask.select("Which identity provider?", &items)?;
    let preset = choice.checked_sub(1).map(|i| presets[i]);
    loop {
        let mut fields = Vec::new();
        let mut vars = PresetVars::default();
        let discover = match preset {
            None => {
                let issuer = ask.input("Issuer URL", None, url_check)?;
                fields.push(("issuer".into(), FieldValue::Str(issuer.clone())));
                Some(issuer)
            }
            Some(preset) => {
                fields.push(("preset".into(), FieldValue::Str(preset.name.into())));
                for var in template_vars(preset) {
                    let (prompt, default) = match var {
                        "base_url" => ("Base URL of the server (https://…)", None),
                        "realm" => ("Keycloak realm", None),
                        "tenant" => ("Microsoft tenant", Some("common")),
                        _ => ("Issuer URL", None),
                    };
                    let value = ask.input(prompt, default, |s| {
                        if var.ends_with("url") || var == "issuer" {
                            url_check(s)
                        } else {
                            Ok(())
                        }
                    })?;
                    vars = match var {
                        "base_url" => vars.base_url(&value),
                        "realm" => vars.realm(&value),
                        "tenant" => vars.tenant(&value),
                        _ => vars.issuer(&value),
                    };
                    fields.push((var.to_owned(), FieldValue::Str(value)));
                }
                match preset.resolve(&vars) {
                    Ok(Resolved::Static(metadata)) => return Ok((fields, Some(preset), *metadata)),
                    Ok(Resolved::Discover { issuer }) => Some(issuer),
                    Ok(_) => None,
                    Err(e) => {
                        eprintln!("That does not work: {e}. Try again.");
                        continue;
                    }
                }
            }
        };
        let Some(issuer) = discover else { continue };
        eprintln!("Fetching {issuer}/.well-known/openid-configuration …");
        match OidcProvider::discover(&issuer).await {
            Ok(found) => {
                eprintln!("Found the provider {}.", found.metadata().issuer);
                return Ok((fields, preset, found.metadata().clone()));
            }
            Err(e) => {
                let err = CliError::from(e);
                eprintln!("Discovery of {issuer} failed: {}", err.message);
                for cause in &err.causes {
                    eprintln!("  caused by: {cause}");
                }
                eprintln!("Check the URL and try again.");
            }
        }
    }
}

/// The `{…}` variables a preset's URL templates use, in order of first use.
fn template_vars(preset: &Preset) -> Vec<&'static str> {
    let templates: Vec<&str> = match preset.endpoints {
        Endpoints::Discovery { issuer } => vec![issuer],
        Endpoints::Static {
            issuer,
            authorization,
            token,
            ..
        } => vec![issuer, authorization, token],
        #[allow(unreachable_patterns, reason = "Endpoints may grow")]
        _ => vec![],
    };
    let mut vars = Vec::new();
    for var in ["issuer", "base_url", "realm", "tenant"] {
        if templates.iter().any(|t| t.contains(&format!("{{{var}}}"))) {
            vars.push(var);
        }
    }
    vars
}

fn url_check(s: &str) -> Result<(), String> {
    match url::Url::parse(s) {
        Err(e) => Err(format!("not a URL ({e})")),
        Ok(u) if u.scheme() == "https" => Ok(()),
        Ok(u) if u.scheme() == "http" && latchkey::is_loopback(&u) => Ok(()),
        Ok(u) => Err(format!(
            "`{}` URLs cannot be used: https, or http for this machine only",
            u.scheme()
        )),
    }
}

/// The grants the provider announces (RFC 8414's default when it lists none) and has the
/// endpoints for.
fn grant(ask: &Asker, metadata: &ProviderMetadata) -> Result<AuthKind, CliError> {
    let announced = |name: &str| {
        if metadata.grant_types_supported.is_empty() {
            // RFC 8414 §2: omitted means authorization_code and implicit.
            name == "authorization_code"
        } else {
            metadata.grant_types_supported.iter().any(|g| g == name)
        }
    };
    let offered: Vec<&(AuthKind, &str, &str)> = GRANTS
        .iter()
        .filter(|(kind, name, _)| match kind {
            AuthKind::DeviceCode => metadata.device_authorization_endpoint.is_some(),
            AuthKind::AuthorizationCode => {
                metadata.authorization_endpoint.is_some() && announced(name)
            }
            _ => announced(name),
        })
        .collect();
    if offered.is_empty() {
        return Err(CliError::usage(format!(
            "{} announces no grant latchkey can use (grant_types_supported: {})",
            metadata.issuer,
            metadata.grant_types_supported.join(", ")
        ))
        .with_hint("add the profile with flags (`latchkey profile add NAME --auth KIND …`)"));
    }
    let items: Vec<String> = offered
        .iter()
        .map(|(_, _, label)| label.to_string())
        .collect();
    let choice = ask.select(
        "How will you log in? (the grants this provider supports)",
        &items,
    )?;
    Ok(offered[choice].0)
}

/// Where the client secret comes from; `None` for a public client.
fn client_secret(
    ask: &Asker,
    auth: AuthKind,
    metadata: &ProviderMetadata,
) -> Result<Option<FieldValue>, CliError> {
    let methods = &metadata.token_endpoint_auth_methods_supported;
    let public_ok = auth != AuthKind::ClientCredentials
        && (methods.is_empty() || methods.iter().any(|m| m == "none"));
    if !public_ok {
        return secret_source(ask, "The client secret", false);
    }
    secret_source(ask, "The client secret", true)
}

/// Asks where a secret lives: an environment variable, a keyring entry, nowhere (when
/// `none_ok`, first), or (said in so many words) the file itself.
fn secret_source(ask: &Asker, what: &str, none_ok: bool) -> Result<Option<FieldValue>, CliError> {
    let mut items = Vec::new();
    if none_ok {
        items.push("none: a public client (no secret)".to_owned());
    }
    items.extend([
        "an environment variable (read each time it is needed)".to_owned(),
        "the platform keyring (service `latchkey`)".to_owned(),
        "typed here and written into the profiles file in plain text".to_owned(),
    ]);
    let mut choice = ask.select(&format!("{what}: where is it kept?"), &items)?;
    if !none_ok {
        choice += 1;
    }
    Ok(match choice {
        0 => None,
        1 => Some(FieldValue::Env(ask.input(
            "Environment variable name",
            None,
            |s| {
                let ok = !s.is_empty()
                    && !s.starts_with(|c: char| c.is_ascii_digit())
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if ok {
                    Ok(())
                } else {
                    Err("letters, digits and `_`, not starting with a digit".into())
                }
            },
        )?)),
        2 => Some(FieldValue::Keyring(ask.input(
            "Keyring entry name",
            None,
            |_| Ok(()),
        )?)),
        _ => {
            let value = Password::with_theme(&*ask.theme)
                .with_prompt(format!("{what} (not shown)"))
                .interact()
                .map_err(stopped)?;
            Some(FieldValue::Str(value))
        }
    })
}

/// The scopes, each one checked against `supported` (discovery's `scopes_supported`) when
/// the provider lists them. Offered: a preset's default scopes, else `openid offline_access`
/// for a person's login where supported.
fn scopes(
    ask: &Asker,
    supported: &[String],
    preset: Option<&Preset>,
    auth: AuthKind,
) -> Result<Vec<String>, CliError> {
    let person = matches!(auth, AuthKind::DeviceCode | AuthKind::AuthorizationCode);
    let default: Vec<&str> = match preset {
        Some(preset) if !preset.default_scopes.is_empty() => preset.default_scopes.to_vec(),
        _ => ["openid", "offline_access"]
            .into_iter()
            .filter(|s| person && supported.iter().any(|x| x == s))
            .collect(),
    };
    let prompt = if supported.is_empty() && default.is_empty() {
        "Scopes, separated by spaces (empty for none)".to_owned()
    } else if supported.is_empty() {
        "Scopes, separated by spaces".to_owned()
    } else {
        format!(
            "Scopes, separated by spaces (the provider lists: {})",
            supported.join(" ")
        )
    };
    let default = default.join(" ");
    let answer = ask.input(&prompt, Some(&default), |s| {
        let unknown: Vec<&str> = s
            .split_whitespace()
            .filter(|scope| !supported.is_empty() && !supported.iter().any(|x| x == scope))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("the provider does not list {}", unknown.join(", ")))
        }
    })?;
    Ok(answer.split_whitespace().map(str::to_owned).collect())
}
