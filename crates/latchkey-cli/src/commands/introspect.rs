//! `introspect [--refresh-token] [--json]`: asks the identity provider about the stored
//! token (RFC 7662), authenticated as the profile's client.

use std::time::SystemTime;

use latchkey::profile::LoginOptions;
use latchkey::{SecretString, TokenSet};
use serde_json::Value;

use crate::context::{Ctx, ENV};
use crate::error::CliError;
use crate::output;
use crate::when;

/// The members shown first, in this order; any others follow as the provider sent them.
const KNOWN: [&str; 9] = [
    "active",
    "scope",
    "client_id",
    "username",
    "sub",
    "token_type",
    "exp",
    "iat",
    "iss",
];

pub(super) async fn run(ctx: &Ctx, refresh_token: bool, json: bool) -> Result<(), CliError> {
    let selected = ctx.select()?;
    if selected.profile.auth.is_static() {
        return Err(CliError::usage(format!(
            "profile `{}` uses fixed credentials (auth `{}`); there is no OAuth token to introspect",
            selected.name, selected.profile.auth
        )));
    }
    let managed = selected
        .managed(&ctx.paths, ENV, &LoginOptions::default())
        .await?;
    // Checked before any token is fetched; the library's own error would suggest
    // configuring the URL, which a profile has no field for.
    if managed.metadata.introspection_endpoint.is_none() {
        return Err(CliError::usage(format!(
            "profile `{}` has no introspection endpoint: its identity provider's metadata does not announce `introspection_endpoint`",
            selected.name
        ))
        .with_hint(
            "introspection needs an `issuer` whose discovery document announces the endpoint (`latchkey profile add … --issuer URL`)",
        ));
    }
    // The access token as `token` would hand it out (refreshed if due); a refresh token is
    // only read from the store, since refreshing would replace the one asked about.
    let (token, hint): (SecretString, &str) = if refresh_token {
        let stored = managed.store.load(&selected.name).await?;
        let token = stored
            .as_ref()
            .and_then(TokenSet::refresh_token)
            .cloned()
            .ok_or_else(|| {
                CliError::usage(format!("profile `{}` holds no refresh token", selected.name))
                    .with_hint(format!(
                        "log in with `latchkey login {}` (the `offline_access` scope asks most providers for one)",
                        selected.name
                    ))
            })?;
        (token, "refresh_token")
    } else {
        let tokens = managed.manager.tokens().await?;
        (tokens.access_token().clone(), "access_token")
    };
    let answer = managed.introspect(&token, Some(hint)).await?;
    let value = serde_json::to_value(&answer).map_err(|e| {
        CliError::new(
            crate::error::code::OTHER,
            format!("cannot show the introspection response: {e}"),
        )
    })?;
    if json {
        return output::print(&format!("{value:#}\n"));
    }
    output::print(&human(&value, SystemTime::now()))
}

/// One `name  value` line per member; times with their RFC 3339 form and distance from now.
fn human(value: &Value, now: SystemTime) -> String {
    let Some(map) = value.as_object() else {
        return format!("{value}\n");
    };
    let mut names: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|k| map.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    names.extend(
        map.keys()
            .map(String::as_str)
            .filter(|k| !KNOWN.contains(k)),
    );
    let mut text = String::new();
    for name in names {
        let v = &map[name];
        let shown = match (name, v) {
            (_, Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
            ("exp" | "iat" | "nbf", Value::Number(n)) => {
                match n.as_i64().and_then(when::from_epoch) {
                    Some(at) => format!("{n} ({})", when::absolute_and_relative(at, now)),
                    None => n.to_string(),
                }
            }
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        text.push_str(&format!("{name:<12}{shown}\n"));
    }
    text
}
