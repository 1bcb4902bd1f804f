//! Changing the profiles file in place with `toml_edit`: comments, order and layout of
//! everything not touched survive, and the result is checked before it replaces the file.

use std::path::Path;

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use super::{AuthKind, ProfileError, ProfilesFile};

/// A field value for [`add`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FieldValue {
    /// A plain string.
    Str(String),
    /// A list of strings (`scopes`).
    List(Vec<String>),
    /// A secret in this environment variable: `{ env = "VAR" }`.
    Env(String),
    /// A secret in the keyring: `{ keyring = "name" }`.
    Keyring(String),
    /// `true` or `false` (`dpop`).
    Bool(bool),
}

/// Every field of a `[profiles.NAME]` table, in the order of [`super::Profile`].
pub const FIELDS: [&str; 40] = [
    "auth",
    "preset",
    "issuer",
    "token_url",
    "authorization_url",
    "device_authorization_url",
    "revocation_url",
    "client_id",
    "client_secret",
    "client_auth",
    "private_key",
    "key_id",
    "assertion_audience",
    "client_cert",
    "client_key",
    "scopes",
    "redirect_uri",
    "username",
    "password",
    "token",
    "refresh_token",
    "headers",
    "query",
    "store",
    "base_url",
    "realm",
    "tenant",
    "login",
    "dpop",
    "par",
    "request_object",
    "response_mode",
    "subject_token_type",
    "actor_token_type",
    "audience",
    "resource",
    "requested_token_type",
    "service_account_key",
    "assertion_issuer",
    "assertion_subject",
];

/// What to write after `latchkey profile set NAME FIELD` in a hint about `field`.
pub fn placeholder(field: &str) -> &'static str {
    match field {
        f if SECRET_FIELDS.contains(&f) => "env:VAR",
        "scopes" => "\"SCOPE …\"",
        f if f.ends_with("_url") || f == "issuer" || f == "redirect_uri" => "https://…",
        _ => "VALUE",
    }
}

impl FieldValue {
    /// `text` as a value of `field`, as `latchkey profile set` takes it: scopes and
    /// resources split on spaces and commas; a secret as `env:VAR`, `keyring:NAME` or, only when asked for in
    /// so many words, `literal:VALUE` (written into the file); anything else as given.
    pub fn parse(profile: &str, field: &str, text: &str) -> Result<Self, ProfileError> {
        if field == "scopes" || field == "resource" {
            return Ok(FieldValue::List(
                text.split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ));
        }
        if field == "dpop" || field == "request_object" {
            return match text {
                "true" => Ok(FieldValue::Bool(true)),
                "false" => Ok(FieldValue::Bool(false)),
                _ => Err(ProfileError::invalid(
                    profile,
                    field,
                    "is `true` or `false`",
                )),
            };
        }
        let secret = SECRET_FIELDS.contains(&field.split('.').next().unwrap_or(field));
        if !secret {
            return Ok(FieldValue::Str(text.to_owned()));
        }
        let (kind, rest) = text.split_once(':').unwrap_or(("", text));
        match kind {
            "env" if !rest.is_empty() => Ok(FieldValue::Env(rest.to_owned())),
            "keyring" if !rest.is_empty() => Ok(FieldValue::Keyring(rest.to_owned())),
            "literal" => Ok(FieldValue::Str(rest.to_owned())),
            _ => Err(ProfileError::invalid(
                profile,
                field,
                "holds a secret: give `env:VAR` (read from that environment variable), \
                 `keyring:NAME` (the platform keyring, service `latchkey`), or \
                 `literal:VALUE` to write the secret itself into the file",
            )),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            FieldValue::Str(s) => s.as_str().into(),
            FieldValue::List(items) => {
                Value::Array(items.iter().map(String::as_str).collect::<Array>())
            }
            FieldValue::Env(var) => reference("env", var),
            FieldValue::Keyring(entry) => reference("keyring", entry),
            FieldValue::Bool(value) => (*value).into(),
        }
    }
}

/// Fields that hold secrets: `show` never prints their literal values.
const SECRET_FIELDS: [&str; 7] = [
    "client_secret",
    "password",
    "token",
    "refresh_token",
    "private_key",
    "headers",
    "query",
];

fn read(path: &Path) -> Result<(String, DocumentMut), ProfileError> {
    let text = crate::fs::read_text_capped(path, crate::fs::MAX_READ)
        .map_err(|e| ProfileError::io(path, e))?
        .map(|(text, _)| text)
        .unwrap_or_default();
    // Parse with the strict reader first, so a broken file is reported with its position.
    ProfilesFile::parse(path, &text)?;
    let doc = text
        .parse::<DocumentMut>()
        .map_err(|e| ProfileError::Parse {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: e.to_string(),
        })?;
    Ok((text, doc))
}

fn write(path: &Path, doc: &DocumentMut) -> Result<(), ProfileError> {
    let text = doc.to_string();
    ProfilesFile::parse(path, &text)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fs::create_private_dir(dir).map_err(|e| ProfileError::io(dir, e))?;
    }
    // Temp file (0600 from its creation) + fsync + rename: a crash leaves the old file or
    // the new one, never half.
    crate::fs::write_atomic(path, text.as_bytes()).map_err(|e| ProfileError::io(path, e))
}

fn profiles_table<'a>(
    doc: &'a mut DocumentMut,
    path: &Path,
) -> Result<&'a mut Table, ProfileError> {
    let item = doc.entry("profiles").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    item.as_table_mut().ok_or_else(|| ProfileError::Parse {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message: "`profiles` must be a table".into(),
    })
}

/// Adds profile `name` (replacing one of that name only with `overwrite`), optionally making
/// it the default; the first profile of a file without a `default` becomes the default.
/// A profile that could not be used is refused with all its problems
/// ([`ProfileError::Unusable`]), and the file is left as it was.
pub fn add(
    path: &Path,
    name: &str,
    auth: AuthKind,
    fields: &[(&str, FieldValue)],
    make_default: bool,
    overwrite: bool,
) -> Result<(), ProfileError> {
    crate::store::validate_key(name)
        .map_err(|e| ProfileError::invalid(name, "name", e.to_string()))?;
    let (_, mut doc) = read(path)?;
    let profiles = profiles_table(&mut doc, path)?;
    if profiles.contains_key(name) && !overwrite {
        return Err(ProfileError::invalid(
            name,
            "name",
            "is taken: remove the profile first, or pass --force",
        ));
    }
    let first = profiles.is_empty();
    let mut table = Table::new();
    table.insert("auth", toml_edit::value(auth.name()));
    for (field, value) in fields {
        insert_field(&mut table, field, value);
    }
    profiles.insert(name, Item::Table(table));
    let make_default = make_default || (first && doc.get("default").is_none());
    if make_default {
        doc.insert("default", toml_edit::value(name));
        // `default` reads best at the top of the file.
        if let Some(mut key) = doc.key_mut("default") {
            key.leaf_decor_mut().set_prefix("");
        }
        doc.sort_values_by(|a, _, b, _| (a.get() != "default").cmp(&(b.get() != "default")));
    }
    check_profile(path, &doc.to_string(), name)?;
    write(path, &doc)
}

/// Replaces the whole file at `path` with `text` (an edited copy) once it parses; check the
/// profile it was edited for with [`check_profile`] first.
pub fn replace(path: &Path, text: &str) -> Result<(), ProfileError> {
    ProfilesFile::parse(path, text)?;
    crate::fs::write_atomic(path, text.as_bytes()).map_err(|e| ProfileError::io(path, e))
}

/// Sets `field` (`headers.NAME` and `query.NAME` for one entry of those tables) of profile
/// `name` to `value`, keeping the rest of the file as it is. The profile must still be
/// usable afterwards ([`ProfileError::Unusable`] otherwise, the file untouched).
pub fn set(path: &Path, name: &str, field: &str, value: &FieldValue) -> Result<(), ProfileError> {
    known_field(name, field)?;
    let (_, mut doc) = read(path)?;
    let table = profile_table(&mut doc, path, name)?;
    insert_field(table, field, value);
    check_profile(path, &doc.to_string(), name)?;
    write(path, &doc)
}

/// Removes `field` (or one `headers.NAME` / `query.NAME` entry) from profile `name`; as
/// [`set`], the profile must still be usable afterwards.
pub fn unset(path: &Path, name: &str, field: &str) -> Result<(), ProfileError> {
    known_field(name, field)?;
    if field == "auth" {
        return Err(ProfileError::invalid(
            name,
            "auth",
            "cannot be removed: every profile has one (change it with `profile set`)",
        ));
    }
    let (_, mut doc) = read(path)?;
    let table = profile_table(&mut doc, path, name)?;
    let removed = match field.split_once('.') {
        Some((outer, key)) => table
            .get_mut(outer)
            .and_then(Item::as_table_like_mut)
            .and_then(|t| t.remove(key))
            .is_some(),
        None => table.remove(field).is_some(),
    };
    if !removed {
        return Err(ProfileError::invalid(name, field, "is not set"));
    }
    check_profile(path, &doc.to_string(), name)?;
    write(path, &doc)
}

/// Checks `text`, the would-be content of the profiles file at `path`: it must parse, hold
/// profile `name`, and that profile must be usable ([`ProfileError::Unusable`] lists every
/// problem).
pub fn check_profile(path: &Path, text: &str, name: &str) -> Result<(), ProfileError> {
    let file = ProfilesFile::parse(path, text)?;
    let Some(profile) = file.profiles.get(name) else {
        return Err(ProfileError::Unknown {
            name: name.into(),
            path: path.to_path_buf(),
            known: file.names(),
        });
    };
    let problems = super::Selected::new(name, profile.clone()).problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ProfileError::Unusable {
            profile: name.into(),
            problems,
        })
    }
}

fn known_field(profile: &str, field: &str) -> Result<(), ProfileError> {
    let known = match field.split_once('.') {
        Some((outer, key)) => matches!(outer, "headers" | "query") && !key.is_empty(),
        None => FIELDS.contains(&field),
    };
    if known {
        Ok(())
    } else {
        Err(ProfileError::UnknownField {
            profile: profile.into(),
            field: field.into(),
        })
    }
}

fn profile_table<'a>(
    doc: &'a mut DocumentMut,
    path: &Path,
    name: &str,
) -> Result<&'a mut Table, ProfileError> {
    let known = ProfilesFile::parse(path, &doc.to_string())?.names();
    profiles_table(doc, path)?
        .get_mut(name)
        .and_then(Item::as_table_mut)
        .ok_or_else(|| ProfileError::Unknown {
            name: name.into(),
            path: path.to_path_buf(),
            known,
        })
}

/// Writes `field = value` into `table`; `headers.NAME` and `query.NAME` go into those
/// sub-tables (created inline when missing).
fn insert_field(table: &mut Table, field: &str, value: &FieldValue) {
    if let Some((outer, key)) = field.split_once('.') {
        let entry = table
            .entry(outer)
            .or_insert_with(|| Item::Value(Value::InlineTable(InlineTable::new())));
        if let Some(inner) = entry.as_table_like_mut() {
            inner.insert(key, Item::Value(value.to_value()));
        }
        return;
    }
    let decor = table
        .get(field)
        .and_then(Item::as_value)
        .map(|v| v.decor().clone());
    let mut new = value.to_value();
    if let Some(decor) = decor {
        *new.decor_mut() = decor;
    }
    table.insert(field, Item::Value(new));
}

fn reference(kind: &str, name: &str) -> Value {
    let mut t = InlineTable::new();
    t.insert(kind, name.into());
    Value::InlineTable(t)
}

/// Removes profile `name` (and `default` when it named it).
pub fn remove(path: &Path, name: &str) -> Result<(), ProfileError> {
    let (_, mut doc) = read(path)?;
    let known = ProfilesFile::load(path)?.names();
    let profiles = profiles_table(&mut doc, path)?;
    if profiles.remove(name).is_none() {
        return Err(ProfileError::Unknown {
            name: name.into(),
            path: path.to_path_buf(),
            known,
        });
    }
    if doc.get("default").and_then(Item::as_str) == Some(name) {
        doc.remove("default");
    }
    write(path, &doc)
}

/// Renames profile `old` to `new` in place: its comments, its place in the file and
/// `default` (when it named `old`) follow. Refuses when `new` is taken or `old` is missing.
/// Only the file: moving the stored tokens is [`super::rename`]'s job.
pub fn rename(path: &Path, old: &str, new: &str) -> Result<(), ProfileError> {
    crate::store::validate_key(new)
        .map_err(|e| ProfileError::invalid(new, "name", e.to_string()))?;
    let known = ProfilesFile::load(path)?.names();
    let (_, mut doc) = read(path)?;
    let profiles = profiles_table(&mut doc, path)?;
    if profiles.contains_key(new) {
        return Err(ProfileError::invalid(
            new,
            "name",
            format!("is taken in {}: remove that profile first", path.display()),
        ));
    }
    let Some((key, item)) = profiles.remove_entry(old) else {
        return Err(ProfileError::Unknown {
            name: old.into(),
            path: path.to_path_buf(),
            known,
        });
    };
    let mut renamed = toml_edit::Key::new(new);
    *renamed.leaf_decor_mut() = key.leaf_decor().clone();
    // A `[profiles.NAME]` table keeps its position in the document, so it stays where it was.
    profiles.insert_formatted(&renamed, item);
    if let Some(default) = doc.get_mut("default").and_then(Item::as_value_mut)
        && default.as_str() == Some(old)
    {
        let decor = default.decor().clone();
        *default = new.into();
        *default.decor_mut() = decor;
    }
    write(path, &doc)
}

/// Makes `name` the default profile.
pub fn set_default(path: &Path, name: &str) -> Result<(), ProfileError> {
    let file = ProfilesFile::load(path)?;
    if !file.profiles.contains_key(name) {
        return Err(ProfileError::Unknown {
            name: name.into(),
            path: path.to_path_buf(),
            known: file.names(),
        });
    }
    let (_, mut doc) = read(path)?;
    doc.insert("default", toml_edit::value(name));
    write(path, &doc)
}

/// Profile `name` as TOML, as written in the file but with literal secrets redacted.
pub fn show(path: &Path, name: &str) -> Result<String, ProfileError> {
    let file = ProfilesFile::load(path)?;
    let (_, mut doc) = read(path)?;
    let table = doc
        .get_mut("profiles")
        .and_then(|p| p.get_mut(name))
        .and_then(Item::as_table_mut)
        .ok_or_else(|| ProfileError::Unknown {
            name: name.into(),
            path: path.to_path_buf(),
            known: file.names(),
        })?;
    for field in SECRET_FIELDS {
        if let Some(item) = table.get_mut(field) {
            redact(item);
        }
    }
    let mut out = DocumentMut::new();
    let mut profiles = Table::new();
    profiles.set_implicit(true);
    profiles.insert(name, Item::Table(table.clone()));
    out.insert("profiles", Item::Table(profiles));
    Ok(out.to_string())
}

fn redact(item: &mut Item) {
    match item {
        Item::Value(Value::String(_)) => *item = toml_edit::value("[REDACTED]"),
        Item::Value(Value::InlineTable(t))
            if !(t.contains_key("env") || t.contains_key("keyring")) =>
        {
            for (_, v) in t.iter_mut() {
                if v.is_str() {
                    *v = "[REDACTED]".into();
                }
            }
        }
        Item::Table(t) => {
            for (_, v) in t.iter_mut() {
                redact(v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests write fixtures directly, including ones the helper would refuse"
)]
mod tests {
    use super::*;

    #[test]
    fn add_keeps_comments_and_show_redacts_literals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(
            &path,
            "# my profiles\n[profiles.old]   # keep me\nauth = \"bearer\"\ntoken = \"literal-sekrit\"\n",
        )
        .unwrap();
        add(
            &path,
            "svc",
            AuthKind::ClientCredentials,
            &[
                ("issuer", FieldValue::Str("https://idp.example".into())),
                ("client_id", FieldValue::Str("svc".into())),
                ("client_secret", FieldValue::Env("SVC_SECRET".into())),
                ("scopes", FieldValue::List(vec!["a".into(), "b".into()])),
            ],
            true,
            false,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# my profiles") && text.contains("# keep me"),
            "{text}"
        );
        assert!(text.starts_with("default = \"svc\""), "{text}");
        let file = ProfilesFile::load(&path).unwrap();
        assert_eq!(file.default.as_deref(), Some("svc"));
        assert!(add(&path, "svc", AuthKind::Bearer, &[], false, false).is_err());
        let shown = show(&path, "old").unwrap();
        assert!(
            !shown.contains("literal-sekrit") && shown.contains("[REDACTED]"),
            "{shown}"
        );
        assert!(show(&path, "svc").unwrap().contains("SVC_SECRET"));
        remove(&path, "svc").unwrap();
        let file = ProfilesFile::load(&path).unwrap();
        assert_eq!(file.names(), ["old"]);
        assert!(file.default.is_none());
        assert!(
            remove(&path, "svc")
                .unwrap_err()
                .to_string()
                .contains("old")
        );
    }

    #[test]
    fn rename_keeps_comments_place_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        let before = "# mine\ndefault = \"old\"   # the usual one\n\n[profiles.first]\nauth = \"bearer\"\n\n# the old one\n[profiles.old]   # keep me\nauth = \"basic\"  # basic!\nusername = \"u\"\n\n[profiles.last]\nauth = \"bearer\"\n";
        std::fs::write(&path, before).unwrap();
        rename(&path, "old", "new").unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            after,
            before
                .replace("default = \"old\"", "default = \"new\"")
                .replace("[profiles.old]", "[profiles.new]")
        );
        let err = rename(&path, "new", "first").unwrap_err().to_string();
        assert!(err.contains("is taken"), "{err}");
        let err = rename(&path, "nwe", "x").unwrap_err();
        assert!(err.to_string().contains("`nwe`"), "{err}");
        assert!(
            err.hint().unwrap().contains("did you mean `new`"),
            "{err:?}"
        );
        assert!(rename(&path, "new", "bad name").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), after);
    }

    #[test]
    fn set_and_unset_keep_the_profile_usable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(
            &path,
            "[profiles.svc]\nauth = \"client-credentials\"  # why\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let scopes = FieldValue::parse("svc", "scopes", "a b,c").unwrap();
        set(&path, "svc", "scopes", &scopes).unwrap();
        set(&path, "svc", "headers.X-Key", &FieldValue::Env("K".into())).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("scopes = [\"a\", \"b\", \"c\"]"), "{text}");
        assert!(text.contains("X-Key = { env = \"K\" }"), "{text}");
        let err = set(&path, "svc", "issuer", &FieldValue::Str("htps://x".into())).unwrap_err();
        assert!(matches!(err, ProfileError::Unusable { .. }), "{err}");
        let err = unset(&path, "svc", "client_id").unwrap_err();
        assert!(err.to_string().contains("needs `client_id`"), "{err}");
        let err = set(&path, "svc", "scoeps", &scopes).unwrap_err();
        assert_eq!(err.hint().unwrap(), "did you mean `scopes`?");
        assert!(FieldValue::parse("svc", "client_secret", "s3cret").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        unset(&path, "svc", "headers.X-Key").unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("X-Key"));
    }

    #[test]
    fn the_first_profile_becomes_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        let token = [("token", FieldValue::Env("T".into()))];
        add(&path, "one", AuthKind::Bearer, &token, false, false).unwrap();
        add(&path, "two", AuthKind::Bearer, &token, false, false).unwrap();
        assert_eq!(
            ProfilesFile::load(&path).unwrap().default.as_deref(),
            Some("one")
        );
    }
}
