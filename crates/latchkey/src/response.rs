//! Tolerant parsing of token endpoint responses.
//!
//! Real providers bend RFC 6749 §5.1 in many ways: GitHub answers `200 OK` with an `error`
//! field and, without `Accept: application/json`, a form-encoded body; some send
//! `expires_in` as a string; scopes come space- or comma-separated or as an array;
//! `token_type` comes in any case. All of that parses here; anything else is a typed error
//! whose message never quotes the body (it may contain secrets).

use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::token::TokenSet;

/// Why a token endpoint body could not be turned into a [`TokenSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The body carries an OAuth `error` (whatever the HTTP status).
    OAuth {
        /// The `error` code.
        error: String,
        /// The `error_description`.
        description: Option<String>,
        /// The `error_uri`.
        uri: Option<String>,
    },
    /// The body is not a usable token response; the reason never quotes secret values.
    Malformed(String),
}

/// Parses a token endpoint body received at `now`.
///
/// `content_type` decides between JSON and form encoding; a body that is not valid JSON but
/// looks form-encoded is read as a form too, since some providers mislabel it.
pub fn parse_token_response(
    body: &[u8],
    content_type: Option<&str>,
    now: SystemTime,
) -> Result<TokenSet, ResponseError> {
    let fields = parse_fields(body, content_type)?;
    if let Some(error) = fields.get("error") {
        let error = match error {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Err(ResponseError::OAuth {
            error,
            description: string_field(&fields, "error_description"),
            uri: string_field(&fields, "error_uri"),
        });
    }
    tokens_from_fields(fields, now)
}

/// Parses an error body (any endpoint) into its OAuth `error`, if it has one.
pub fn parse_error_body(body: &[u8], content_type: Option<&str>) -> Option<ResponseError> {
    let fields = parse_fields(body, content_type).ok()?;
    let error = string_field(&fields, "error")?;
    Some(ResponseError::OAuth {
        error,
        description: string_field(&fields, "error_description"),
        uri: string_field(&fields, "error_uri"),
    })
}

fn parse_fields(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Map<String, Value>, ResponseError> {
    let is_form = content_type.is_some_and(|ct| {
        ct.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !is_form {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => return Ok(map),
            Ok(_) => {
                return Err(ResponseError::Malformed(
                    "the body is JSON but not an object".into(),
                ));
            }
            Err(json_err) => {
                if !looks_like_form(body) {
                    // serde_json's message names a position, never the content.
                    return Err(ResponseError::Malformed(format!(
                        "the body is not valid JSON ({json_err})"
                    )));
                }
            }
        }
    }
    let map = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect::<Map<String, Value>>();
    if map.is_empty() {
        return Err(ResponseError::Malformed("the body is empty".into()));
    }
    Ok(map)
}

fn looks_like_form(body: &[u8]) -> bool {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.trim(),
        Err(_) => return false,
    };
    !text.is_empty()
        && !text.starts_with(['{', '['])
        && text.contains('=')
        && text.bytes().all(|b| b.is_ascii_graphic())
}

fn string_field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    match fields.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn secret_field(
    fields: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<SecretString>, ResponseError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(SecretString::from(s))),
        Some(_) => Err(ResponseError::Malformed(format!(
            "`{name}` is not a string"
        ))),
    }
}

/// Reads a lifetime in seconds given as a number or a numeric string. Anything else is
/// treated as unknown rather than guessed.
fn seconds_field(fields: &mut Map<String, Value>, name: &str) -> Option<Duration> {
    let secs = match fields.remove(name)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Cap at 100 years: a larger value is nonsense and would overflow `SystemTime`.
    Some(Duration::from_secs_f64(secs.min(3_153_600_000.0)))
}

fn scopes_field(fields: &mut Map<String, Value>) -> Vec<String> {
    match fields.remove("scope") {
        Some(Value::String(s)) => split_scopes(&s),
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Splits a scope string on spaces (RFC 6749 §3.3) or commas (GitHub).
pub fn split_scopes(scope: &str) -> Vec<String> {
    scope
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn tokens_from_fields(
    mut fields: Map<String, Value>,
    now: SystemTime,
) -> Result<TokenSet, ResponseError> {
    let access_token = secret_field(&mut fields, "access_token")?
        .ok_or_else(|| ResponseError::Malformed("the response has no `access_token`".into()))?;
    let token_type = match fields.remove("token_type") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => "Bearer".to_string(),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop") => "DPoP".to_string(),
        Some(Value::String(t)) if !t.is_empty() => t,
        // RFC 6749 requires token_type, but a missing one almost always means Bearer.
        _ => "Bearer".to_string(),
    };
    let expires_in = seconds_field(&mut fields, "expires_in");
    // Keycloak: `refresh_expires_in: 0` means an offline token with no fixed end.
    let refresh_expires_in =
        seconds_field(&mut fields, "refresh_expires_in").filter(|d| !d.is_zero());
    let refresh_token = secret_field(&mut fields, "refresh_token")?;
    let id_token = secret_field(&mut fields, "id_token")?;
    let scopes = scopes_field(&mut fields);
    let mut tokens = TokenSet::new(access_token, now)
        .with_token_type(token_type)
        .with_expires_at(expires_in.and_then(|d| now.checked_add(d)))
        .with_refresh_token(refresh_token)
        .with_refresh_expires_at(refresh_expires_in.and_then(|d| now.checked_add(d)))
        .with_id_token(id_token)
        .with_scopes(scopes);
    tokens.extra = fields;
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
    }

    #[test]
    fn standard_json() {
        let body = br#"{"access_token":"at","token_type":"bearer","expires_in":300,"refresh_token":"rt","scope":"a b","session_state":"x"}"#;
        let t = parse_token_response(body, Some("application/json"), now()).unwrap();
        assert_eq!(t.access_token().expose_secret(), "at");
        assert_eq!(t.token_type(), "Bearer");
        assert_eq!(t.expires_at(), Some(now() + Duration::from_secs(300)));
        assert_eq!(t.refresh_token().unwrap().expose_secret(), "rt");
        assert_eq!(t.scopes(), ["a", "b"]);
        assert!(t.extra().contains_key("session_state"));
    }

    #[test]
    fn string_expires_in_and_comma_scopes_and_array_scopes() {
        let t = parse_token_response(
            br#"{"access_token":"at","expires_in":"3600","scope":"repo,gist"}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(t.expires_at(), Some(now() + Duration::from_secs(3600)));
        assert_eq!(t.scopes(), ["repo", "gist"]);
        let t = parse_token_response(br#"{"access_token":"at","scope":["x","y"]}"#, None, now())
            .unwrap();
        assert_eq!(t.scopes(), ["x", "y"]);
    }

    #[test]
    fn missing_expires_in_is_unknown_not_guessed() {
        let t = parse_token_response(
            br#"{"access_token":"at","token_type":"Bearer"}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(t.expires_at(), None);
    }

    #[test]
    fn keycloak_refresh_expires_in() {
        let t = parse_token_response(
            br#"{"access_token":"at","refresh_token":"r","refresh_expires_in":1800}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(
            t.refresh_expires_at(),
            Some(now() + Duration::from_secs(1800))
        );
        let offline = parse_token_response(
            br#"{"access_token":"at","refresh_token":"r","refresh_expires_in":0}"#,
            None,
            now(),
        )
        .unwrap();
        assert_eq!(offline.refresh_expires_at(), None);
    }

    #[test]
    fn error_field_detected_even_with_200_and_form_encoding() {
        let body = b"error=bad_verification_code&error_description=The+code+passed+is+incorrect";
        let err = parse_token_response(
            body,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ResponseError::OAuth {
                error: "bad_verification_code".into(),
                description: Some("The code passed is incorrect".into()),
                uri: None
            }
        );
        // Mislabelled as JSON.
        let t = parse_token_response(
            b"access_token=gho_x&scope=repo%2Cgist&token_type=bearer",
            Some("application/json"),
            now(),
        )
        .unwrap();
        assert_eq!(t.scopes(), ["repo", "gist"]);
    }

    #[test]
    fn malformed_bodies_are_typed_and_do_not_quote_secrets() {
        for body in [
            &b"{\"access_token\": \"sekrit\", "[..],
            b"[]",
            b"",
            b"<html>oops</html>",
            br#"{"token_type":"bearer"}"#,
            br#"{"access_token":5}"#,
        ] {
            match parse_token_response(body, Some("application/json"), now()) {
                Err(ResponseError::Malformed(reason)) => {
                    assert!(!reason.contains("sekrit"), "{reason}")
                }
                other => panic!(
                    "expected malformed for {:?}, got {other:?}",
                    String::from_utf8_lossy(body)
                ),
            }
        }
    }

    #[test]
    fn absurd_lifetimes_do_not_panic() {
        let t = parse_token_response(br#"{"access_token":"at","expires_in":1e300}"#, None, now())
            .unwrap();
        assert!(t.expires_at().is_some());
        let t =
            parse_token_response(br#"{"access_token":"at","expires_in":-5}"#, None, now()).unwrap();
        assert_eq!(t.expires_at(), None);
    }
}
