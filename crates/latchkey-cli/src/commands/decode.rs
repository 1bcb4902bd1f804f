//! `decode JWT`: header and claims, pretty; the signature is not checked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::CliError;
use crate::output;

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

/// Prints `{"header":…,"payload":…,"signature":"not verified"}` and says so on stderr.
pub(super) fn run(jwt: &str) -> Result<(), CliError> {
    if jwt.split('.').count() != 3 {
        return Err(
            CliError::usage("this is not a JWT: it needs three parts separated by `.`").with_hint(
                "opaque access tokens cannot be decoded; ask the IdP's introspection endpoint",
            ),
        );
    }
    let header = part(jwt, 0, "header")?;
    let mut claims = payload(jwt)?;
    // Show the time claims readably next to the numbers.
    if let Some(map) = claims.as_object_mut() {
        let times: Vec<(String, String)> = ["exp", "iat", "nbf", "auth_time"]
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
        "signature": "not verified",
    });
    eprintln!("note: the signature was NOT verified; do not trust these claims");
    output::print(&format!("{shown:#}\n"))
}
