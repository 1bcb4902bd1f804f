//! Secrets by reference: `{ env = "VAR" }`, `{ keyring = "name" }`, or a literal.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

use super::ProfileError;

/// The keyring service secret references are looked up under.
pub const KEYRING_SERVICE: &str = "latchkey";

/// Where a profile's secret comes from.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum SecretRef {
    /// An environment variable.
    Env {
        /// The variable name.
        env: String,
    },
    /// An entry in the platform keyring (service `latchkey`, this user name).
    Keyring {
        /// The entry's user name.
        keyring: String,
    },
    /// The secret itself, written in the file: works, but is warned about.
    Literal(SecretString),
    /// A secret handed over by code (a DHIS2 route's scheme, a caller): used as is.
    #[serde(skip)]
    Value(SecretString),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env { env } => write!(f, "{{ env = {env:?} }}"),
            SecretRef::Keyring { keyring } => write!(f, "{{ keyring = {keyring:?} }}"),
            SecretRef::Literal(_) | SecretRef::Value(_) => f.write_str("[REDACTED]"),
        }
    }
}

impl SecretRef {
    /// Reads the secret. `env` reads variables; keyring lookups run off the runtime with a
    /// timeout (a wedged D-Bus must not hang the CLI).
    pub async fn resolve(
        &self,
        profile: &str,
        field: &str,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<SecretString, ProfileError> {
        match self {
            SecretRef::Env { env: var } => {
                env(var)
                    .map(SecretString::from)
                    .ok_or_else(|| ProfileError::MissingEnv {
                        profile: profile.into(),
                        field: field.into(),
                        var: var.clone(),
                    })
            }
            SecretRef::Keyring { keyring } => keyring_get(profile, field, keyring).await,
            SecretRef::Literal(secret) => {
                tracing::warn!(
                    profile,
                    field,
                    "the profile holds a literal secret; prefer {{ env = \"VAR\" }} or {{ keyring = \"name\" }}"
                );
                Ok(secret.clone())
            }
            SecretRef::Value(secret) => Ok(secret.clone()),
        }
    }
}

#[cfg(feature = "keyring")]
async fn keyring_get(profile: &str, field: &str, name: &str) -> Result<SecretString, ProfileError> {
    use crate::store::StoreError;
    use std::time::Duration;
    let fail = |reason: String| ProfileError::Keyring {
        profile: profile.into(),
        field: field.into(),
        name: name.into(),
        reason,
    };
    let owned = name.to_owned();
    let lookup = crate::store::blocking::run("keyring", Duration::from_secs(5), move || {
        keyring::Entry::new(KEYRING_SERVICE, &owned)
            .and_then(|entry| entry.get_password())
            .map(SecretString::from)
            // keyring errors never carry the secret, but some carry raw bytes: keep the kind.
            .map_err(|e| StoreError::Unavailable {
                backend: "keyring".into(),
                reason: e.to_string(),
            })
    });
    match lookup.await {
        Ok(secret) => Ok(secret),
        Err(StoreError::Unavailable { reason, .. }) => Err(fail(reason)),
        Err(other) => Err(fail(other.to_string())),
    }
}

#[cfg(not(feature = "keyring"))]
async fn keyring_get(profile: &str, field: &str, name: &str) -> Result<SecretString, ProfileError> {
    Err(ProfileError::Keyring {
        profile: profile.into(),
        field: field.into(),
        name: name.into(),
        reason: "this build of latchkey has no `keyring` feature".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[tokio::test]
    async fn env_references_name_the_missing_variable() {
        let env = |name: &str| (name == "SET").then(|| "value".to_string());
        let set = SecretRef::Env { env: "SET".into() };
        assert_eq!(
            set.resolve("p", "token", &env)
                .await
                .unwrap()
                .expose_secret(),
            "value"
        );
        let unset = SecretRef::Env {
            env: "UNSET_VAR".into(),
        };
        let err = unset.resolve("p", "token", &env).await.unwrap_err();
        assert!(err.to_string().contains("`UNSET_VAR`"), "{err}");
        assert!(err.hint().unwrap().contains("UNSET_VAR"));
    }

    #[test]
    fn debug_hides_literals() {
        let literal = SecretRef::Literal("hunter2".to_string().into());
        assert!(!format!("{literal:?}").contains("hunter2"));
    }
}
