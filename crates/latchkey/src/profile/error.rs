//! What can be wrong with a profile, and what to do about it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;

/// A profile could not be read, selected or turned into credentials, or the credentials it
/// built failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The library failed while resolving or using the profile (discovery, the identity
    /// provider, the store, a login).
    #[error(transparent)]
    Core(#[from] Error),
    /// The profiles file is not valid TOML or has a bad field.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The profiles file could not be read or written.
    #[error("cannot access the profiles file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The profile is defined only in a project file the user has not trusted.
    #[error(
        "profile `{name}` is defined in the project file {}, which is not trusted (new, or changed since it was trusted)",
        path.display()
    )]
    UntrustedProject {
        /// The name asked for.
        name: String,
        /// The project's profiles file.
        path: std::path::PathBuf,
    },
    /// No profile of that name.
    #[error("no profile named `{name}` in {}; known profiles: {}", path.display(), list(known))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The file searched.
        path: PathBuf,
        /// The profiles the file has.
        known: Vec<String>,
    },
    /// Nothing chose a profile.
    #[error("{}", none_selected(path, known))]
    NoneSelected {
        /// The file searched.
        path: PathBuf,
        /// The profiles the file has.
        known: Vec<String>,
    },
    /// A secret references an environment variable that is not set.
    #[error(
        "profile `{profile}`: `{field}` refers to environment variable `{var}`, which is not set"
    )]
    MissingEnv {
        /// The profile.
        profile: String,
        /// The field holding the reference.
        field: String,
        /// The variable.
        var: String,
    },
    /// A secret references a keyring entry that cannot be read.
    #[error(
        "profile `{profile}`: `{field}` refers to keyring entry `{name}`, which cannot be read: {reason}"
    )]
    Keyring {
        /// The profile.
        profile: String,
        /// The field holding the reference.
        field: String,
        /// The keyring entry (service `latchkey`).
        name: String,
        /// Why.
        reason: String,
    },
    /// A field the auth kind needs is missing.
    #[error("profile `{profile}`: auth `{auth}` needs `{field}`")]
    MissingField {
        /// The profile.
        profile: String,
        /// The auth kind.
        auth: String,
        /// The missing field.
        field: String,
    },
    /// A field has a value that cannot be used.
    #[error("profile `{profile}`: `{field}` {reason}")]
    Invalid {
        /// The profile.
        profile: String,
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field name the profiles file does not have.
    #[error("profile `{profile}`: there is no field `{field}`")]
    UnknownField {
        /// The profile.
        profile: String,
        /// The name given.
        field: String,
    },
    /// A profile would not be usable as written: every problem found, at once.
    #[error("profile `{profile}` cannot be used as written: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Unusable {
        /// The profile.
        profile: String,
        /// What is wrong, one error per field.
        problems: Vec<ProfileError>,
    },
    /// No home, config or state directory could be determined.
    #[error("cannot determine the {what} directory: {reason}")]
    NoDirectory {
        /// `config` or `state`.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

fn none_selected(path: &std::path::Path, known: &[String]) -> String {
    if known.is_empty() {
        return format!("no profiles yet (none in {})", path.display());
    }
    format!(
        "no profile selected (no --profile, LATCHKEY_PROFILE, LATCHKEY_URL or `default` in {}); known profiles: {}",
        path.display(),
        list(known)
    )
}

fn list(known: &[String]) -> String {
    if known.is_empty() {
        "(none)".into()
    } else {
        known.join(", ")
    }
}

/// The known name nearest `name` when it is close enough to be a typo (at most two edits,
/// fewer than the name's length).
pub(super) fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, _)| *d <= 2 && *d < name.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

impl ProfileError {
    /// What to do about it, in the words of the `latchkey` command line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ProfileError::Core(err) => return super::cli_hint(err),
            ProfileError::Parse { .. } => {
                "fix the file at that position (docs/cli.md describes every field)".into()
            }
            ProfileError::Io { .. } => {
                "check that the file exists and is readable, or set LATCHKEY_CONFIG".into()
            }
            ProfileError::UntrustedProject { path, .. } => format!(
                "read {}: it decides where the profile's credentials are sent; then run `latchkey profile trust` to use it",
                path.display()
            ),
            ProfileError::Unknown { name, known, .. } if known.is_empty() => {
                format!("there are no profiles yet: add it with `latchkey profile add {name}`")
            }
            ProfileError::Unknown { name, known, .. } => match closest(name, known) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "pick one of the known profiles, or create it with `latchkey profile add`"
                    .into(),
            },
            ProfileError::NoneSelected { known, .. } if known.is_empty() => {
                "add one with `latchkey profile add NAME` (on a terminal it asks step by step; \
                 see `latchkey profile add --help` for the flags)"
                    .into()
            }
            ProfileError::NoneSelected { .. } => {
                "pass --profile NAME, set LATCHKEY_PROFILE, or run `latchkey profile default NAME`"
                    .into()
            }
            ProfileError::MissingEnv { var, .. } => format!("export {var}=… and run again"),
            ProfileError::Keyring { name, .. } => format!(
                "store the secret with `secret-tool store --label=latchkey service latchkey username {name}` (or your platform's keyring tool), or use {{ env = \"VAR\" }}"
            ),
            // The env-only profile names its variables, not file fields.
            ProfileError::MissingField { field, .. } if field.starts_with("LATCHKEY_") => {
                format!("export {field}=… and run again")
            }
            ProfileError::MissingField { profile, field, .. } => {
                // `issuer` or `token_url`: name the first, which is the usual choice.
                let field = field.split('`').next().unwrap_or(field);
                format!(
                    "run `latchkey profile set {profile} {field} {}`",
                    super::edit::placeholder(field)
                )
            }
            ProfileError::Invalid { profile, field, .. }
                if super::edit::FIELDS.contains(&field.as_str()) =>
            {
                format!(
                    "fix it with `latchkey profile set {profile} {field} {}` (docs/cli.md lists valid values)",
                    super::edit::placeholder(field)
                )
            }
            ProfileError::Invalid { .. } => "fix the field (docs/cli.md lists valid values)".into(),
            ProfileError::UnknownField { field, .. } => {
                let known: Vec<String> =
                    super::edit::FIELDS.iter().map(|f| f.to_string()).collect();
                match closest(field, &known) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("the fields are: {}", known.join(", ")),
                }
            }
            ProfileError::Unusable { problems, .. } => {
                let hints: Vec<String> = problems.iter().filter_map(ProfileError::hint).collect();
                return (!hints.is_empty()).then(|| hints.join("; "));
            }
            ProfileError::NoDirectory { what, .. } => format!(
                "set HOME, or set {} explicitly",
                if *what == "config" {
                    "LATCHKEY_CONFIG"
                } else {
                    "LATCHKEY_STATE_DIR"
                }
            ),
        })
    }

    /// The library error inside, when this is one.
    ///
    /// (Conversions from the core's narrower errors go through [`Error`].)
    pub fn core(&self) -> Option<&Error> {
        match self {
            ProfileError::Core(err) => Some(err),
            _ => None,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ProfileError::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn invalid(profile: &str, field: &str, reason: impl Into<String>) -> Self {
        ProfileError::Invalid {
            profile: profile.into(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn missing(profile: &str, auth: super::AuthKind, field: &str) -> Self {
        ProfileError::MissingField {
            profile: profile.into(),
            auth: auth.name().into(),
            field: field.into(),
        }
    }
}

impl From<crate::store::StoreError> for ProfileError {
    fn from(err: crate::store::StoreError) -> Self {
        ProfileError::Core(err.into())
    }
}

impl From<crate::oidc::OidcError> for ProfileError {
    fn from(err: crate::oidc::OidcError) -> Self {
        ProfileError::Core(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_is_suggested() {
        let known = vec!["prod".to_owned(), "staging".to_owned()];
        let unknown = |name: &str| ProfileError::Unknown {
            name: name.into(),
            path: "p.toml".into(),
            known: known.clone(),
        };
        assert!(
            unknown("prdo")
                .hint()
                .unwrap()
                .contains("did you mean `prod`")
        );
        assert!(unknown("stagin").hint().unwrap().contains("`staging`"));
        assert!(!unknown("dev").hint().unwrap().contains("did you mean"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
