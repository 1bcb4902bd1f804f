//! `profile verify`: one authenticated GET that shows whether the profile's credentials
//! work and who the server says they belong to (dhis2w's `profile verify`).

use http::{HeaderMap, Method, header};
use latchkey::profile::Selected;
use serde_json::Value;

use super::request::{self, Outgoing};
use crate::context::Ctx;
use crate::error::CliError;
use crate::output;

/// The fields that name the user: DHIS2's `/api/me` first, then OIDC userinfo claims.
const WHO: [&str; 5] = ["username", "name", "preferred_username", "email", "sub"];

/// GETs the profile's check target (or `url`) through `request`'s path, reports who the
/// server says you are on stdout, and fails with exit 1 (and `request`'s hints) when the
/// server refuses.
pub(super) async fn run(ctx: &Ctx, url: Option<String>) -> Result<u8, CliError> {
    let selected = ctx.select()?;
    let (url, allow_other_host) = match url {
        Some(target) => (request::resolve_url(&target, &selected)?, false),
        None => target(&selected).await?,
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    let shown = latchkey::DisplayUrl::new(&url).to_string();
    let answer = request::send(
        ctx,
        &selected,
        Outgoing {
            method: Method::GET,
            url,
            headers,
            body: None,
            allow_other_host,
            resource: None,
        },
    )
    .await?;
    if !answer.status.is_success() {
        return Err(request::failure(&answer, &selected));
    }
    let who = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .map(|body| identity(&body))
        .unwrap_or_default();
    eprintln!(
        "Profile `{}` works: {shown} answered HTTP {}.",
        selected.name, answer.status
    );
    if who.is_empty() {
        eprintln!("The answer does not say who you are (no username, name, sub or email).");
        return Ok(0);
    }
    let lines: String = who.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    output::print(&lines)?;
    Ok(0)
}

/// Where to check a profile without `--url`: the dhis2 preset's `/api/me`, an OAuth
/// profile's userinfo endpoint (on the identity provider, so outside the base_url's
/// origin), else the base_url itself.
async fn target(selected: &Selected) -> Result<(url::Url, bool), CliError> {
    let p = &selected.profile;
    if p.preset.as_deref() == Some("dhis2") && p.base_url.is_some() {
        // DHIS2's "who am I": the signed-in user (dhis2w's `profile verify` asks it too).
        return Ok((request::resolve_url("api/me", selected)?, false));
    }
    if !p.auth.is_static() && (p.issuer.is_some() || p.preset.is_some()) {
        let (metadata, _) = selected.endpoints().await?;
        if let Some(userinfo) = &metadata.userinfo_endpoint {
            return Ok((userinfo.clone(), true));
        }
    }
    match &p.base_url {
        Some(base) => Ok((request::resolve_url(base, selected)?, false)),
        None => Err(CliError::usage(format!(
            "profile `{}` has no base_url and no userinfo endpoint to check against",
            selected.name
        ))
        .with_hint(format!(
            "pass --url URL, or set it with `latchkey profile set {} base_url https://…`",
            selected.name
        ))),
    }
}

/// The identifying fields of a JSON answer, in [`WHO`]'s order.
fn identity(body: &Value) -> Vec<(&'static str, String)> {
    WHO.iter()
        .filter_map(|field| match body.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Some((*field, s.clone())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhis2_and_oidc_answers_name_the_user() {
        let dhis2 = serde_json::json!({ "username": "admin", "name": "John Traore", "id": "x" });
        assert_eq!(
            identity(&dhis2),
            [("username", "admin".into()), ("name", "John Traore".into())]
        );
        let oidc = serde_json::json!({ "sub": "alice", "email": "a@example.org" });
        assert_eq!(
            identity(&oidc),
            [("email", "a@example.org".into()), ("sub", "alice".into())]
        );
        assert!(identity(&serde_json::json!({ "sub": 3 })).is_empty());
    }
}
