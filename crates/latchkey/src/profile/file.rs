//! Where the profiles file and token state live, and reading the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use etcetera::BaseStrategy as _;
use serde::Deserialize;

use super::project::{self, Origin};
use super::{Profile, ProfileError, SecretRef};

/// The profiles files and the state directory, from the environment or XDG defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Paths {
    /// The user's profiles file.
    pub config: PathBuf,
    /// The directory for token state (file store, SQLite database, lock files).
    pub state_dir: PathBuf,
    /// The project folder (`.latchkey`) whose `profiles.toml` is read on top of the user's
    /// file, when one was found.
    pub project: Option<PathBuf>,
}

impl Paths {
    /// `$LATCHKEY_CONFIG` or `<config>/latchkey/profiles.toml`, and `$LATCHKEY_STATE_DIR`
    /// or `<state>/latchkey`, reading variables through `env`; and the project folder
    /// nearest the working directory (see [`from_env_in`](Self::from_env_in)).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProfileError> {
        let cwd = std::env::current_dir().ok();
        Self::from_env_in(env, cwd.as_deref())
    }

    /// As [`from_env`](Self::from_env), searching for the project folder (`.latchkey` with
    /// a `profiles.toml`) from `cwd` upwards. `$LATCHKEY_CONFIG` names the one file to
    /// read: when it is set, no project file is searched for.
    pub fn from_env_in(
        env: &dyn Fn(&str) -> Option<String>,
        cwd: Option<&Path>,
    ) -> Result<Self, ProfileError> {
        let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        // Only ask for the home directory when a variable is missing: it can fail in
        // minimal containers, where setting both variables must be enough.
        let (config, project) = match set(super::env::CONFIG) {
            Some(path) => (path, None),
            None => (
                base("config")?.config_dir().join("latchkey/profiles.toml"),
                cwd.and_then(project::find_project_dir),
            ),
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
        Ok(Self {
            config,
            state_dir,
            project,
        })
    }

    /// The project's profiles file, when a project folder was found.
    pub fn project_file(&self) -> Option<PathBuf> {
        self.project
            .as_ref()
            .map(|dir| dir.join(project::PROJECT_FILE))
    }

    /// The profiles file that holds profiles of `origin`, if there is one.
    pub fn file_of(&self, origin: Origin) -> Option<PathBuf> {
        match origin {
            Origin::User => Some(self.config.clone()),
            Origin::Project => self.project_file(),
        }
    }

    /// The paths a profile of `origin` keeps its tokens under: a project profile's state
    /// lives in the project folder beside its file (`.latchkey/tokens/`…), not in the
    /// user's state directory.
    pub fn for_origin(&self, origin: Origin) -> Paths {
        match (origin, &self.project) {
            (Origin::Project, Some(dir)) => Paths {
                state_dir: dir.clone(),
                ..self.clone()
            },
            _ => self.clone(),
        }
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
    /// Where each profile of [`load_all`](Self::load_all) was defined; a name not listed
    /// is the user's.
    pub origins: BTreeMap<String, Origin>,
    /// A project profiles file that [`load_all`](Self::load_all) found but did not use,
    /// because the user has not trusted its content (see [`project`](super::project)).
    pub untrusted_project: Option<UntrustedProject>,
}

/// A project profiles file left out until the user trusts it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UntrustedProject {
    /// The file.
    pub path: PathBuf,
    /// The profiles it defines (none of them is used).
    pub names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    default: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

impl ProfilesFile {
    /// Reads `path`; a missing file is an empty one (nothing configured yet). A file that
    /// holds a literal secret and that other users can read is used, but warned about (once
    /// per file and process), with the command that fixes it.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        Ok(Self::load_text(path)?.0)
    }

    /// As [`load`](Self::load), also returning the text read (`None` for a missing file),
    /// so what is checked and what is parsed are the same bytes.
    fn load_text(path: &Path) -> Result<(Self, Option<String>), ProfileError> {
        let Some((text, file)) = crate::fs::read_text_capped(path, crate::fs::MAX_READ)
            .map_err(|e| ProfileError::io(path, e))?
        else {
            let empty = Self {
                path: path.to_path_buf(),
                ..Self::default()
            };
            return Ok((empty, None));
        };
        let parsed = Self::parse(path, &text)?;
        let literals = parsed.literal_secrets();
        if !literals.is_empty() {
            // Failing to read the permissions must not make a working file unusable.
            if let Ok(Some(exposure)) = crate::fs::readable_by_others(&file) {
                warn_exposed_once(path, &literals, &exposure);
            }
        }
        Ok((parsed, Some(text)))
    }

    /// The user's file and, on top, the project's (when [`Paths::project`] names one and
    /// the user trusted its content, see [`project`](super::project)): a project profile
    /// replaces the user's profile of the same name, and the project's `default` wins over
    /// the user's. An untrusted project file is left out, named in
    /// [`untrusted_project`](Self::untrusted_project) and warned about.
    pub fn load_all(paths: &Paths) -> Result<Self, ProfileError> {
        let mut all = Self::load(&paths.config)?;
        let Some(path) = paths.project_file() else {
            return Ok(all);
        };
        let (project, text) = Self::load_text(&path)?;
        let Some(text) = text else {
            return Ok(all);
        };
        if !project::is_trusted(paths, &path, text.as_bytes())? {
            warn_untrusted_once(&path);
            all.untrusted_project = Some(UntrustedProject {
                path,
                names: project.names(),
            });
            return Ok(all);
        }
        for (name, profile) in project.profiles {
            all.origins.insert(name.clone(), Origin::Project);
            all.profiles.insert(name, profile);
        }
        if project.default.is_some() {
            all.default = project.default;
        }
        Ok(all)
    }

    /// Where profile `name` was defined.
    pub fn origin(&self, name: &str) -> Origin {
        self.origins.get(name).copied().unwrap_or_default()
    }

    /// `profile.field` for every secret written in the file itself.
    fn literal_secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (name, profile) in &self.profiles {
            let single = [
                ("client_secret", &profile.client_secret),
                ("private_key", &profile.private_key),
                ("password", &profile.password),
                ("token", &profile.token),
                ("refresh_token", &profile.refresh_token),
            ];
            for (field, value) in single {
                if matches!(value, Some(SecretRef::Literal(_))) {
                    found.push(format!("{name}.{field}"));
                }
            }
            for (field, table) in [("headers", &profile.headers), ("query", &profile.query)] {
                for (key, value) in table {
                    if matches!(value, SecretRef::Literal(_)) {
                        found.push(format!("{name}.{field}.{key}"));
                    }
                }
            }
        }
        found
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
                message: crate::redact::scrub_toml_message(&e),
            }
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            default: raw.default,
            profiles: raw.profiles,
            origins: BTreeMap::new(),
            untrusted_project: None,
        })
    }

    /// The profile names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }
}

/// Whether `path` is new to `seen`: each warning about a file is given once per process.
fn first_time(seen: &Mutex<BTreeSet<PathBuf>>, path: &Path) -> bool {
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_path_buf())
}

fn warn_untrusted_once(path: &Path) {
    static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    if first_time(&WARNED, path) {
        tracing::warn!(
            path = %path.display(),
            hint = "read it, then run `latchkey profile trust` to use its profiles",
            "the project profiles file is not trusted (new, or changed since it was trusted), so its profiles are not used"
        );
    }
}

fn warn_exposed_once(path: &Path, literals: &[String], exposure: &crate::fs::Exposure) {
    static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    if !first_time(&WARNED, path) {
        return;
    }
    let hint = if cfg!(windows) {
        format!(
            "run `icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%:F\"`, or move the secrets to \
             {{ env = \"VAR\" }} or {{ keyring = \"name\" }}",
            path.display()
        )
    } else {
        format!(
            "run `chmod 600 {}`, or move the secrets to {{ env = \"VAR\" }} or \
             {{ keyring = \"name\" }}",
            path.display()
        )
    };
    tracing::warn!(
        path = %path.display(),
        fields = literals.join(", "),
        %hint,
        "the profiles file holds literal secrets and other users can read it ({exposure})"
    );
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
    fn login_mode_parses_when_the_file_loads() {
        let text = "[profiles.a]\nauth = \"device-code\"\nlogin = \"auto\"\n";
        let file = ProfilesFile::parse(Path::new("p.toml"), text).unwrap();
        assert_eq!(
            file.profiles["a"].login,
            Some(crate::profile::LoginMode::Auto)
        );
        let text = "[profiles.a]\nauth = \"device-code\"\nlogin = \"always\"\n";
        let err = ProfilesFile::parse(Path::new("p.toml"), text).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("p.toml:3:"), "{message}");
        assert!(
            message.contains("`manual`") && message.contains("`auto`"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_file_is_empty() {
        let file = ProfilesFile::load(Path::new("/nonexistent/latchkey.toml")).unwrap();
        assert!(file.profiles.is_empty());
    }

    #[cfg(unix)]
    #[derive(Clone, Default)]
    struct Logs(std::sync::Arc<Mutex<Vec<u8>>>);

    #[cfg(unix)]
    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Loads `path` twice with a log capture; what was logged.
    #[cfg(unix)]
    fn load_twice_logged(path: &Path) -> String {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            ProfilesFile::load(path).unwrap();
            ProfilesFile::load(path).unwrap();
        });
        String::from_utf8(logs.0.lock().unwrap().clone()).unwrap()
    }

    /// Security finding 9: a profiles file that other users can read and that holds a
    /// literal secret was used without a word.
    #[cfg(unix)]
    #[test]
    fn finding_9_a_world_readable_file_with_a_literal_secret_is_warned_about_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        let chmod =
            |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        crate::fs::write_atomic(
            &path,
            b"[profiles.api]\nauth = \"bearer\"\ntoken = \"hunter2-literal\"\n",
        )
        .unwrap();
        chmod(0o644);
        let logs = load_twice_logged(&path);
        assert_eq!(logs.matches("WARN").count(), 1, "once: {logs}");
        assert!(logs.contains("api.token"), "{logs}");
        assert!(
            logs.contains(&format!("chmod 600 {}", path.display())),
            "{logs}"
        );
        assert!(!logs.contains("hunter2"), "never the secret: {logs}");

        // No warning for a private file, nor for a readable one without literals.
        let private = dir.path().join("private.toml");
        std::fs::copy(&path, &private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_twice_logged(&private), "");
        let by_env = dir.path().join("env.toml");
        crate::fs::write_atomic(
            &by_env,
            b"[profiles.api]\nauth = \"bearer\"\ntoken = { env = \"TOKEN\" }\n",
        )
        .unwrap();
        std::fs::set_permissions(&by_env, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load_twice_logged(&by_env), "");
    }
}
