//! `decode JWT`: header and claims, pretty; the signature is not checked.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::CliError;
use crate::output;
use crate::when;

fn part(jwt: &str, index: usize, name: &str) -> Result<Value, CliError> {
    let raw = jwt.split('.').nth(index).ok_or_else(|| {
        CliError::usage("this is not a JWT: it needs three parts separated by `.`")
    })?;
    // Some issuers pad; the JWS compact form (RFC 7515 §2) does not, accept both.
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|e| CliError::usage(format!("the JWT {name} is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::usage(format!("the JWT {name} is not JSON: {e}")))
}

/// The claims of a JWT, unverified.
pub(super) fn payload(jwt: &str) -> Result<Value, CliError> {
    part(jwt, 1, "payload")
}

/// Prints the header and claims, times with their distance from now ("valid for 12 min",
/// "expired 5 min ago"); with `json`, `{"header":…,"payload":…,"signature":"not verified"}`.
/// Says on stderr that the signature was not checked.
pub(super) fn run(jwt: &str, json: bool) -> Result<(), CliError> {
    if jwt.split('.').count() != 3 {
        return Err(
            CliError::usage("this is not a JWT: it needs three parts separated by `.`").with_hint(
                "opaque access tokens cannot be decoded; ask the IdP's introspection endpoint",
            ),
        );
    }
    let header = part(jwt, 0, "header")?;
    let mut claims = payload(jwt)?;
    let now = SystemTime::now();
    eprintln!("note: the signature was NOT verified; do not trust these claims");
    if !json {
        return output::print(&human(&header, &claims, now));
    }
    let expired = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(when::from_epoch)
        .map(|exp| exp <= now);
    // Show the time claims readably next to the numbers.
    if let Some(map) = claims.as_object_mut() {
        let times: Vec<(String, String)> = TIME_CLAIMS
            .iter()
            .filter_map(|k| {
                let secs = map.get(*k)?.as_i64()?;
                let at = jiff::Timestamp::from_second(secs).ok()?;
                Some((format!("{k}_utc"), at.to_string()))
            })
            .collect();
        for (k, v) in times {
            map.insert(k, v.into());
        }
    }
    let shown = serde_json::json!({
        "header": header,
        "payload": claims,
        "expired": expired,
        "signature": "not verified",
    });
    output::print(&format!("{shown:#}\n"))
}

/// The claims holding `NumericDate`s (RFC 7519 §4.1, OIDC Core §2).
const TIME_CLAIMS: [&str; 4] = ["exp", "iat", "nbf", "auth_time"];

/// `header` and `claims` sections of `name  value` lines; a time claim reads
/// `1765000000 (2026-12-05T14:03:21Z, valid for 12 min)`.
fn human(header: &Value, claims: &Value, now: SystemTime) -> String {
    let mut text = String::new();
    for (title, section) in [("header", header), ("claims", claims)] {
        text.push_str(title);
        text.push('\n');
        let Some(map) = section.as_object() else {
            text.push_str(&format!("  {section}\n"));
            continue;
        };
        for (name, value) in map {
            let time = value
                .as_i64()
                .filter(|_| title == "claims" && TIME_CLAIMS.contains(&name.as_str()))
                .and_then(|secs| Some((secs, when::from_epoch(secs)?)));
            let shown = match (time, value) {
                (Some((secs, at)), _) => {
                    let distance = if name == "exp" {
                        when::validity(at, now)
                    } else {
                        when::relative(at, now)
                    };
                    format!("{secs} ({}, {distance})", output::rfc3339(at))
                }
                (None, Value::String(s)) => s.clone(),
                (None, other) => other.to_string(),
            };
            text.push_str(&format!("  {name:<14}{shown}\n"));
        }
    }
    text.push_str("signature: not verified\n");
    text
}
