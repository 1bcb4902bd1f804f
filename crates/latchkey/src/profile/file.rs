//! Where the profiles file and token state live, and reading the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use etcetera::BaseStrategy as _;
use serde::Deserialize;

use super::{Profile, ProfileError};

/// The profiles file and the state directory, from the environment or XDG defaults.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The profiles file.
    pub config: PathBuf,
    /// The directory for token state (file store, SQLite database, lock files).
    pub state_dir: PathBuf,
}

impl Paths {
    /// `$LATCHKEY_CONFIG` or `<config>/latchkey/profiles.toml`, and `$LATCHKEY_STATE_DIR`
    /// or `<state>/latchkey`, reading variables through `env`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProfileError> {
        let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        // Only ask for the home directory when a variable is missing: it can fail in
        // minimal containers, where setting both variables must be enough.
        let config = match set(super::env::CONFIG) {
            Some(path) => path,
            None => base("config")?.config_dir().join("latchkey/profiles.toml"),
        };
        let state_dir = match set(super::env::STATE_DIR) {
            Some(path) => path,
            None => {
                let base = base("state")?;
                base.state_dir()
                    .unwrap_or_else(|| base.data_dir())
                    .join("latchkey")
            }
        };
        Ok(Self { config, state_dir })
    }
}

fn base(what: &'static str) -> Result<impl etcetera::BaseStrategy, ProfileError> {
    etcetera::choose_base_strategy().map_err(|e| ProfileError::NoDirectory {
        what,
        reason: e.to_string(),
    })
}

/// The parsed profiles file.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProfilesFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The `default` profile name.
    pub default: Option<String>,
    /// The profiles by name.
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    default: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

impl ProfilesFile {
    /// Reads `path`; a missing file is an empty one (nothing configured yet).
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                path: path.to_path_buf(),
                ..Self::default()
            }),
            Err(e) => Err(ProfileError::io(path, e)),
        }
    }

    /// Parses `text` as the file at `path`; errors carry `path:line:column`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ProfileError> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((1, 1));
            ProfileError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            default: raw.default,
            profiles: raw.profiles,
        })
    }

    /// The profile names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    // A span always ends on a character boundary; stepping back keeps a bad one harmless.
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::AuthKind;

    #[test]
    fn the_documented_shape_parses() {
        let text = r#"
default = "svc"
[profiles.svc]
auth = "client-credentials"   # comment
preset = "keycloak"
issuer = "https://idp.example.org/realms/x"
client_id = "svc-client"
client_secret = { env = "SVC_SECRET" }
client_auth = "client_secret_post"
scopes = ["openid", "offline_access"]
redirect_uri = "http://127.0.0.1:0/callback"
username = "alice"
password = { env = "ALICE_PASSWORD" }
token = { keyring = "dhis2-pat" }
store = "file"
base_url = "https://api.example.org"
"#;
        let file = ProfilesFile::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!(file.default.as_deref(), Some("svc"));
        let svc = &file.profiles["svc"];
        assert_eq!(svc.auth, AuthKind::ClientCredentials);
        assert_eq!(svc.scopes, ["openid", "offline_access"]);
        assert!(matches!(
            svc.token,
            Some(crate::profile::SecretRef::Keyring { .. })
        ));
    }

    #[test]
    fn errors_name_path_line_and_column() {
        let text = "[profiles.a]\nauth = \"basic\"\nusername = \"x\"\npasword = \"y\"\n";
        let err = ProfilesFile::parse(Path::new("/tmp/p.toml"), text).unwrap_err();
        assert!(err.to_string().starts_with("/tmp/p.toml:4:1: "), "{err}");
        assert!(err.to_string().contains("pasword"), "{err}");
        let err = ProfilesFile::parse(Path::new("p.toml"), "[profiles.a]\nauth = \"nope\"\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("p.toml:2:8: "), "{err}");
        let err = ProfilesFile::parse(Path::new("p.toml"), "[profiles\n").unwrap_err();
        assert!(err.to_string().starts_with("p.toml:1:"), "{err}");
    }

    #[test]
    fn a_missing_file_is_empty() {
        let file = ProfilesFile::load(Path::new("/nonexistent/latchkey.toml")).unwrap();
        assert!(file.profiles.is_empty());
    }
}
