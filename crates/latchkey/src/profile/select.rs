//! Which profile a command uses.

use super::{AuthKind, Origin, Profile, ProfileError, ProfilesFile, SecretRef, env};

/// The name the env-only profile is shown under.
pub(super) const ENV_PROFILE: &str = "env";

/// How the profile was chosen, for `status` and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectionSource {
    /// `--profile NAME`.
    Flag,
    /// `LATCHKEY_PROFILE`.
    EnvVar,
    /// `LATCHKEY_URL` with `LATCHKEY_TOKEN` or `LATCHKEY_USERNAME` + `LATCHKEY_PASSWORD`.
    EnvOnly,
    /// The file's `default` (or its only profile).
    Default,
}

/// A chosen profile.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Selected {
    /// Its name (also the token store key).
    pub name: String,
    /// Its configuration.
    pub profile: Profile,
    /// How it was chosen.
    pub source: SelectionSource,
    /// Where it was defined: a project profile keeps its tokens in the project folder.
    pub origin: Origin,
}

/// Picks the profile: `flag` (`--profile`), `LATCHKEY_PROFILE`, the env-only profile, then
/// the file's `default`, then the file's only profile when it has exactly one. Unknown names list the known ones.
pub fn select(
    file: &ProfilesFile,
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Selected, ProfileError> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let named = |name: &str, source| {
        file.profiles
            .get(name)
            .map(|profile| Selected {
                name: name.to_owned(),
                profile: profile.clone(),
                source,
                origin: file.origin(name),
            })
            .ok_or_else(|| match &file.untrusted_project {
                Some(untrusted) if untrusted.names.iter().any(|n| n == name) => {
                    ProfileError::UntrustedProject {
                        name: name.to_owned(),
                        path: untrusted.path.clone(),
                    }
                }
                _ => ProfileError::Unknown {
                    name: name.to_owned(),
                    path: file.path.clone(),
                    known: file.names(),
                },
            })
    };
    if let Some(name) = flag {
        return named(name, SelectionSource::Flag);
    }
    if let Some(name) = set(env::PROFILE) {
        return named(&name, SelectionSource::EnvVar);
    }
    if let Some(profile) = env_only(&set)? {
        return Ok(Selected {
            name: ENV_PROFILE.into(),
            profile,
            source: SelectionSource::EnvOnly,
            origin: Origin::User,
        });
    }
    if let Some(name) = &file.default {
        return named(name, SelectionSource::Default);
    }
    // With exactly one profile there is nothing to choose between.
    if let [only] = file.names().as_slice() {
        return named(only, SelectionSource::Default);
    }
    Err(ProfileError::NoneSelected {
        path: file.path.clone(),
        known: file.names(),
    })
}

/// The profile described by environment variables alone, for CI jobs and containers:
/// an OAuth profile when `LATCHKEY_ISSUER` or `LATCHKEY_TOKEN_URL` is set ([`env_oauth`]),
/// else `LATCHKEY_URL` (the API) with `LATCHKEY_TOKEN` (bearer, or `LATCHKEY_AUTH=api-token`
/// for DHIS2) or `LATCHKEY_USERNAME` + `LATCHKEY_PASSWORD` (basic).
fn env_only(set: &dyn Fn(&str) -> Option<String>) -> Result<Option<Profile>, ProfileError> {
    if set(env::ISSUER).is_some() || set(env::TOKEN_URL).is_some() {
        return env_oauth(set).map(Some);
    }
    let Some(url) = set(env::URL) else {
        return Ok(None);
    };
    let mut profile = if set(env::TOKEN).is_some() {
        let auth = match set(env::AUTH).as_deref() {
            None | Some("bearer") => AuthKind::Bearer,
            Some("api-token") => AuthKind::ApiToken,
            Some(other) => {
                return Err(ProfileError::invalid(
                    ENV_PROFILE,
                    env::AUTH,
                    format!("is `{other}`; with LATCHKEY_TOKEN use `bearer` or `api-token`"),
                ));
            }
        };
        let mut p = Profile::new(auth);
        p.token = Some(env_ref(env::TOKEN));
        p
    } else if let Some(username) = set(env::USERNAME) {
        let mut p = Profile::new(AuthKind::Basic);
        p.username = Some(username);
        p.password = Some(env_ref(env::PASSWORD));
        p
    } else {
        return Err(ProfileError::invalid(
            ENV_PROFILE,
            env::URL,
            "is set, but neither LATCHKEY_TOKEN nor LATCHKEY_USERNAME + LATCHKEY_PASSWORD is",
        ));
    };
    profile.base_url = Some(url);
    profile.store = Some(super::StoreSpec::Memory);
    Ok(Some(profile))
}

fn env_ref(var: &str) -> SecretRef {
    SecretRef::Env { env: var.into() }
}

/// The env-only OAuth profile (pywry's settings from the environment): `LATCHKEY_ISSUER`
/// (discovery) and/or `LATCHKEY_TOKEN_URL`, `LATCHKEY_CLIENT_ID`, `LATCHKEY_CLIENT_SECRET`,
/// `LATCHKEY_CLIENT_AUTH`, `LATCHKEY_GRANT` (default `client-credentials`),
/// `LATCHKEY_SCOPES`, `LATCHKEY_USERNAME` + `LATCHKEY_PASSWORD` (password grant),
/// `LATCHKEY_REFRESH_TOKEN`, `LATCHKEY_STORE` (default `memory`) and `LATCHKEY_URL` (the
/// API). Secrets stay in the environment: the profile refers to them. `LATCHKEY_TOKEN`
/// is ignored here: `latchkey exec` sets it for its child, which may run latchkey again.
fn env_oauth(set: &dyn Fn(&str) -> Option<String>) -> Result<Profile, ProfileError> {
    let auth = match set(env::GRANT) {
        None => AuthKind::ClientCredentials,
        Some(name) => AuthKind::from_name(&name)
            .filter(|kind| !kind.is_static())
            .ok_or_else(|| {
                let grants: Vec<&str> = AuthKind::ALL
                    .into_iter()
                    .filter(|k| !k.is_static())
                    .map(AuthKind::name)
                    .collect();
                ProfileError::invalid(
                    ENV_PROFILE,
                    env::GRANT,
                    format!("is `{name}`; valid grants: {}", grants.join(", ")),
                )
            })?,
    };
    let needs = |var: &str| set(var).ok_or_else(|| ProfileError::missing(ENV_PROFILE, auth, var));
    let mut p = Profile::new(auth);
    p.issuer = set(env::ISSUER);
    p.token_url = set(env::TOKEN_URL);
    p.client_id = Some(needs(env::CLIENT_ID)?);
    p.base_url = set(env::URL);
    if set(env::CLIENT_SECRET).is_some() {
        p.client_secret = Some(env_ref(env::CLIENT_SECRET));
    }
    if let Some(method) = set(env::CLIENT_AUTH) {
        p.client_auth = Some(
            crate::client_auth::ClientAuthMethod::ALL
                .into_iter()
                .find(|m| m.name() == method)
                .ok_or_else(|| {
                    let names: Vec<&str> = crate::client_auth::ClientAuthMethod::ALL
                        .into_iter()
                        .map(|m| m.name())
                        .collect();
                    ProfileError::invalid(
                        ENV_PROFILE,
                        env::CLIENT_AUTH,
                        format!("is `{method}`; valid: {}", names.join(", ")),
                    )
                })?,
        );
    }
    p.scopes = set(env::SCOPES)
        .map(|s| {
            s.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match auth {
        AuthKind::Password => {
            p.username = Some(needs(env::USERNAME)?);
            p.password = Some(env_ref(env::PASSWORD));
        }
        AuthKind::RefreshToken => p.refresh_token = Some(env_ref(env::REFRESH_TOKEN)),
        _ => {}
    }
    p.store = Some(match set(env::STORE) {
        None => super::StoreSpec::Memory,
        Some(text) => text
            .parse()
            .map_err(|reason: String| ProfileError::invalid(ENV_PROFILE, env::STORE, reason))?,
    });
    Ok(p)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;

    fn file() -> ProfilesFile {
        ProfilesFile::parse(
            Path::new("p.toml"),
            "default = \"b\"\n[profiles.a]\nauth = \"bearer\"\n[profiles.b]\nauth = \"basic\"\n",
        )
        .unwrap()
    }

    fn pick(flag: Option<&str>, vars: &[(&str, &str)]) -> Result<Selected, ProfileError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        select(&file(), flag, &|name| vars.get(name).cloned())
    }

    #[test]
    fn selection_order() {
        let env_only = [("LATCHKEY_URL", "https://x"), ("LATCHKEY_TOKEN", "t")];
        assert_eq!(
            pick(Some("a"), &[("LATCHKEY_PROFILE", "b")]).unwrap().name,
            "a"
        );
        assert_eq!(pick(None, &[("LATCHKEY_PROFILE", "a")]).unwrap().name, "a");
        let chosen = pick(None, &env_only).unwrap();
        assert_eq!(
            (chosen.name.as_str(), chosen.profile.auth),
            ("env", AuthKind::Bearer)
        );
        assert_eq!(pick(None, &[]).unwrap().source, SelectionSource::Default);
    }

    #[test]
    fn unknown_names_list_known_ones() {
        let err = pick(Some("zzz"), &[]).unwrap_err().to_string();
        assert!(err.contains("`zzz`") && err.contains("a, b"), "{err}");
    }

    #[test]
    fn env_only_variants() {
        let pat = pick(
            None,
            &[
                ("LATCHKEY_URL", "https://x"),
                ("LATCHKEY_TOKEN", "d2p_x"),
                ("LATCHKEY_AUTH", "api-token"),
            ],
        )
        .unwrap();
        assert_eq!(pat.profile.auth, AuthKind::ApiToken);
        let basic = pick(
            None,
            &[
                ("LATCHKEY_URL", "https://x"),
                ("LATCHKEY_USERNAME", "admin"),
            ],
        )
        .unwrap();
        assert_eq!(basic.profile.auth, AuthKind::Basic);
        assert!(pick(None, &[("LATCHKEY_URL", "https://x")]).is_err());
    }

    #[test]
    fn env_only_oauth_profiles() {
        let chosen = pick(
            None,
            &[
                ("LATCHKEY_ISSUER", "https://idp.example.org"),
                ("LATCHKEY_CLIENT_ID", "svc"),
                ("LATCHKEY_CLIENT_SECRET", "s3cret"),
                ("LATCHKEY_CLIENT_AUTH", "client_secret_post"),
                ("LATCHKEY_SCOPES", "a b,c"),
                ("LATCHKEY_STORE", "file"),
                // `exec` sets it for its child; the OAuth variables win.
                ("LATCHKEY_TOKEN", "from-a-parent"),
            ],
        )
        .unwrap();
        let p = &chosen.profile;
        assert_eq!(
            (chosen.name.as_str(), chosen.source, p.auth),
            ("env", SelectionSource::EnvOnly, AuthKind::ClientCredentials)
        );
        assert_eq!(p.scopes, ["a", "b", "c"]);
        assert!(matches!(p.store, Some(crate::profile::StoreSpec::File)));
        assert!(
            matches!(&p.client_secret, Some(SecretRef::Env { env }) if env == "LATCHKEY_CLIENT_SECRET")
        );
        assert!(p.token.is_none());

        let password = pick(
            None,
            &[
                ("LATCHKEY_TOKEN_URL", "https://idp.example.org/token"),
                ("LATCHKEY_CLIENT_ID", "pw"),
                ("LATCHKEY_GRANT", "password"),
                ("LATCHKEY_USERNAME", "alice"),
            ],
        )
        .unwrap();
        assert_eq!(password.profile.auth, AuthKind::Password);
        assert!(matches!(
            password.profile.store,
            Some(crate::profile::StoreSpec::Memory)
        ));

        let err = |vars: &[(&str, &str)]| pick(None, vars).unwrap_err().to_string();
        let issuer = ("LATCHKEY_ISSUER", "https://idp.example.org");
        let id = ("LATCHKEY_CLIENT_ID", "svc");
        assert_eq!(
            err(&[issuer]),
            "profile `env`: auth `client-credentials` needs `LATCHKEY_CLIENT_ID`"
        );
        let message = err(&[issuer, id, ("LATCHKEY_GRANT", "api-token")]);
        assert!(
            message.contains("LATCHKEY_GRANT") && message.contains("device-code"),
            "{message}"
        );
        let message = err(&[issuer, id, ("LATCHKEY_GRANT", "password")]);
        assert!(message.contains("needs `LATCHKEY_USERNAME`"), "{message}");
        let message = err(&[issuer, id, ("LATCHKEY_STORE", "floppy")]);
        assert!(
            message.contains("LATCHKEY_STORE") && message.contains("sqlite"),
            "{message}"
        );
        let message = err(&[issuer, id, ("LATCHKEY_CLIENT_AUTH", "magic")]);
        assert!(message.contains("client_secret_post"), "{message}");
    }
}
