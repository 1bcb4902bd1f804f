//! `status [--all] [--json]` and the login state `profile list` shows. Reads the token
//! store only: never refreshes, never contacts the identity provider.
//!
//! A person reads the first line per profile (`ok svc — logged in as alice, token valid
//! for 54 min (file store)`); a script reads the exit code (1 when not logged in, like
//! `gh auth status`) or `--json`.

use std::time::{Duration, SystemTime};

use latchkey::profile::Selected;
use latchkey::{ExposeSecret, TokenSet};
use serde_json::{Value, json};

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;
use crate::style::Marks;
use crate::when;

/// What the store holds for one profile.
pub(super) struct ProfileState {
    selected: Selected,
    /// The store as `describe()` words it; `None` for fixed credentials (nothing stored).
    store: Option<String>,
    tokens: Option<TokenSet>,
    /// Why the store could not be read (`status --all` shows the other profiles anyway).
    error: Option<String>,
}

impl ProfileState {
    /// Reads the selected profile's tokens from its store.
    pub(super) async fn load(ctx: &Ctx, selected: Selected) -> Result<Self, CliError> {
        if selected.profile.auth.is_static() {
            return Ok(Self {
                selected,
                store: None,
                tokens: None,
                error: None,
            });
        }
        let store = selected.open_store(&ctx.paths, ENV).await?;
        let tokens = store.load(&selected.name).await?;
        Ok(Self {
            selected,
            store: Some(store.describe()),
            tokens,
            error: None,
        })
    }

    /// As [`ProfileState::load`], but a store that cannot be opened or read becomes part of
    /// the state (not logged in, with the error) instead of ending the command.
    pub(super) async fn load_or_error(ctx: &Ctx, selected: Selected) -> Self {
        match Self::load(ctx, selected.clone()).await {
            Ok(state) => state,
            Err(e) => Self {
                selected,
                store: Some("unreadable".into()),
                tokens: None,
                error: Some(e.message),
            },
        }
    }

    /// Fixed credentials, a valid access token, or a refresh token not known to be expired:
    /// the next command that needs a token gets one without a person.
    pub(super) fn logged_in(&self, now: SystemTime) -> bool {
        if self.error.is_some() {
            return false;
        }
        if self.store.is_none() {
            return true;
        }
        self.tokens.as_ref().is_some_and(|t| {
            t.access_valid(now, Duration::ZERO)
                || (t.refresh_valid(now, Duration::ZERO)
                    && refresh_expiry(t).is_none_or(|at| now < at))
        })
    }

    /// The state in two words for `profile list`: `logged in`, `not logged in`,
    /// `login expired` or `fixed` (credentials, nothing to log in to).
    pub(super) fn word(&self, now: SystemTime) -> &'static str {
        if self.error.is_some() {
            return "store error";
        }
        match (&self.store, &self.tokens) {
            (None, _) => "fixed",
            (Some(_), None) => "not logged in",
            (Some(_), Some(_)) if self.logged_in(now) => "logged in",
            (Some(_), Some(_)) => "login expired",
        }
    }

    /// `file` for `file:/path`, `keyring` for `keyring`, …
    fn store_kind(&self) -> Option<&str> {
        let described = self.store.as_deref()?;
        Some(described.split(':').next().unwrap_or(described))
    }

    fn subject(&self) -> Option<String> {
        // Fixed credentials are "logged in" as their user name; an OAuth profile's user name
        // is who it logs in as, not who is logged in, so only the tokens say that.
        match (&self.store, &self.tokens) {
            (None, _) => self.selected.profile.username.clone(),
            (Some(_), Some(t)) => super::session::unverified_subject(t),
            (Some(_), None) => None,
        }
    }

    /// The documented `status --json` object (docs/cli.md).
    pub(super) fn json(&self, now: SystemTime) -> Value {
        let p = &self.selected.profile;
        let t = self.tokens.as_ref();
        json!({
            "profile": self.selected.name,
            "auth": p.auth.name(),
            "store": self.store.as_deref().unwrap_or("none"),
            "logged_in": self.logged_in(now),
            "valid": self.store.is_none() || t.is_some_and(|t| t.access_valid(now, Duration::ZERO)),
            "expires_at": t.and_then(TokenSet::expires_at).map(output::rfc3339),
            "has_refresh_token": t.is_some_and(|t| t.refresh_token().is_some()),
            "refresh_expires_at": t.and_then(refresh_expiry).map(output::rfc3339),
            "has_id_token": t.is_some_and(|t| t.id_token().is_some()),
            "scopes": t.map(|t| t.scopes().to_vec()).unwrap_or_default(),
            "subject": self.subject(),
            "issuer": p.issuer,
            "base_url": p.base_url,
            "error": self.error,
        })
    }

    /// `ok svc — logged in as alice, token valid for 54 min (file store)`.
    pub(super) fn headline(&self, now: SystemTime, marks: Marks) -> String {
        let name = &self.selected.name;
        let mark = marks.mark(self.logged_in(now));
        let Some(kind) = self.store_kind() else {
            return format!(
                "{mark} {name} — fixed credentials ({}), nothing to log in to",
                self.selected.profile.auth
            );
        };
        if let Some(error) = &self.error {
            return format!("{mark} {name} — cannot read its token store: {error}");
        }
        let Some(t) = &self.tokens else {
            return format!("{mark} {name} — not logged in ({kind} store)");
        };
        let who = self
            .subject()
            .map(|s| format!(" as {s}"))
            .unwrap_or_default();
        let access = match t.expires_at() {
            Some(at) => format!("token {}", when::validity(at, now)),
            None => "token with no known expiry".into(),
        };
        let summary = if t.access_valid(now, Duration::ZERO) {
            format!("logged in{who}, {access}")
        } else if self.logged_in(now) {
            format!("logged in{who}, {access}; refreshed on next use")
        } else {
            format!("login expired{who}, {access} and no usable refresh token")
        };
        format!("{mark} {name} — {summary} ({kind} store)")
    }

    /// The details under the headlines: one `key  value` line each.
    pub(super) fn details(&self, now: SystemTime, marks: Marks) -> String {
        let p = &self.selected.profile;
        let t = self.tokens.as_ref();
        let at = |time: Option<SystemTime>, held: bool| match (held, time) {
            (false, _) => "none".to_owned(),
            (true, Some(time)) => format!(
                "{} {}",
                if time > now { "expires" } else { "expired" },
                when::absolute_and_relative(time, now)
            ),
            (true, None) => "held, no known expiry".to_owned(),
        };
        let refresh_expires = t.and_then(refresh_expiry);
        let mut rows: Vec<(&str, String)> = vec![
            ("profile", self.selected.name.clone()),
            ("auth", p.auth.to_string()),
            ("store", self.store.clone().unwrap_or_else(|| "none".into())),
            ("subject", self.subject().unwrap_or_else(|| "-".into())),
            (
                "access token",
                at(t.and_then(TokenSet::expires_at), t.is_some()),
            ),
            (
                "refresh token",
                at(
                    refresh_expires,
                    t.is_some_and(|t| t.refresh_token().is_some()),
                ),
            ),
            (
                "id token",
                if t.is_some_and(|t| t.id_token().is_some()) {
                    "held"
                } else {
                    "none"
                }
                .into(),
            ),
            (
                "scopes",
                t.map(|t| t.scopes().join(" "))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "-".into()),
            ),
            ("issuer", p.issuer.clone().unwrap_or_else(|| "-".into())),
            ("base_url", p.base_url.clone().unwrap_or_else(|| "-".into())),
        ];

        if let Some(error) = &self.error {
            rows.push(("error", error.clone()));
        }
        // Fixed credentials hold no tokens, an unreadable store shows none: the token rows
        // would only say `none`.
        let fixed = self.store.is_none() || self.error.is_some();
        let token_rows = ["access token", "refresh token", "id token", "scopes"];
        rows.into_iter()
            .filter(|(k, _)| !(fixed && token_rows.contains(k)))
            .map(|(k, v)| format!("  {}{v}\n", marks.dim(&format!("{k:<16}"))))
            .collect()
    }
}

/// When the refresh token expires, if known: from the token response's
/// `refresh_expires_in`, else the refresh token's own `exp` when it is a JWT (Keycloak's are).
fn refresh_expiry(t: &TokenSet) -> Option<SystemTime> {
    if let Some(at) = t.refresh_expires_at() {
        return Some(at);
    }
    let raw = t.refresh_token()?;
    let claims = super::decode::payload(raw.expose_secret()).ok()?;
    when::from_epoch(claims.get("exp")?.as_i64()?)
}

/// The profiles `status --all` and `logout --all` go through: every profile of the files,
/// in name order.
pub(super) fn all_profiles(ctx: &Ctx) -> Result<Vec<Selected>, CliError> {
    let file = ctx.file()?;
    file.profiles
        .keys()
        .map(|name| Ok(latchkey::profile::select(&file, Some(name), ENV)?))
        .collect()
}

/// `status [--all] [--json]`: exit 0 when every profile shown is logged in, else 1.
pub(super) async fn run(ctx: &Ctx, all: bool, json: bool) -> Result<u8, CliError> {
    let selected = if all {
        all_profiles(ctx)?
    } else {
        vec![ctx.select()?]
    };
    let mut states = Vec::new();
    for s in selected {
        states.push(if all {
            ProfileState::load_or_error(ctx, s).await
        } else {
            ProfileState::load(ctx, s).await?
        });
    }
    let now = SystemTime::now();
    let everyone = states.iter().all(|s| s.logged_in(now));
    if json {
        let values: Vec<Value> = states.iter().map(|s| s.json(now)).collect();
        let shown = match (all, values.as_slice()) {
            (false, [one]) => one.clone(),
            _ => Value::Array(values),
        };
        output::print(&format!("{shown:#}\n"))?;
    } else {
        let marks = Marks::for_stdout();
        let mut text = String::new();
        for s in &states {
            text.push_str(&s.headline(now, marks));
            text.push('\n');
        }
        for s in &states {
            text.push('\n');
            text.push_str(&s.details(now, marks));
        }
        output::print(&text)?;
    }
    if states.is_empty() {
        eprintln!(
            "No profiles in {} yet; add one with `latchkey profile add`.",
            ctx.paths.config.display()
        );
    }
    let logged_out: Vec<&str> = states
        .iter()
        .filter(|s| !s.logged_in(now) && s.error.is_none())
        .map(|s| s.selected.name.as_str())
        .collect();
    if let [one] = logged_out.as_slice() {
        eprintln!("hint: log in with `latchkey login {one}`");
    } else if !logged_out.is_empty() {
        eprintln!(
            "hint: log in with `latchkey login NAME` for {}",
            logged_out.join(", ")
        );
    }
    Ok(if everyone && !states.is_empty() { 0 } else { 1 })
}

/// The login state word of each profile of `file`, in its order; `store error` when a
/// store cannot be opened or read (`profile list` still lists the rest).
pub(super) async fn login_states(
    ctx: &Ctx,
    file: &latchkey::profile::ProfilesFile,
) -> Vec<&'static str> {
    let now = SystemTime::now();
    let mut words = Vec::new();
    for name in file.profiles.keys() {
        let word = match latchkey::profile::select(file, Some(name), ENV) {
            Ok(selected) => ProfileState::load_or_error(ctx, selected).await.word(now),
            Err(_) => "store error",
        };
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use latchkey::{SecretString, TokenSet};

    use super::refresh_expiry;

    fn with_refresh(token: &str) -> TokenSet {
        TokenSet::new(SecretString::from("at"), SystemTime::now())
            .with_refresh_token(Some(SecretString::from(token.to_owned())))
    }

    #[test]
    fn refresh_expiry_from_the_response_else_from_a_jwt_refresh_token() {
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // {"alg":"HS256"} . {"exp":1700000000}
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln";
        assert_eq!(refresh_expiry(&with_refresh(jwt)), Some(exp));
        let said = exp + Duration::from_secs(60);
        assert_eq!(
            refresh_expiry(&with_refresh(jwt).with_refresh_expires_at(Some(said))),
            Some(said),
            "the token response wins"
        );
        assert_eq!(refresh_expiry(&with_refresh("opaque")), None);
    }
}
