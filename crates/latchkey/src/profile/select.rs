//! Which profile a command uses.

use super::{AuthKind, Profile, ProfileError, ProfilesFile, SecretRef, env};

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
    /// The file's `default`.
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
}

/// Picks the profile: `flag` (`--profile`), `LATCHKEY_PROFILE`, the env-only profile, then
/// the file's `default`. Unknown names list the known ones.
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
            })
            .ok_or_else(|| ProfileError::Unknown {
                name: name.to_owned(),
                path: file.path.clone(),
                known: file.names(),
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
        });
    }
    if let Some(name) = &file.default {
        return named(name, SelectionSource::Default);
    }
    Err(ProfileError::NoneSelected {
        path: file.path.clone(),
        known: file.names(),
    })
}

/// The profile described by environment variables alone, for CI jobs and containers:
/// `LATCHKEY_URL` (the API) with `LATCHKEY_TOKEN` (bearer, or `LATCHKEY_AUTH=api-token`
/// for DHIS2) or `LATCHKEY_USERNAME` + `LATCHKEY_PASSWORD` (basic).
fn env_only(set: &dyn Fn(&str) -> Option<String>) -> Result<Option<Profile>, ProfileError> {
    let Some(url) = set(env::URL) else {
        return Ok(None);
    };
    let env_ref = |var: &str| SecretRef::Env { env: var.into() };
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
}
