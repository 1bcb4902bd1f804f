//! What a resource server says when it refuses a bearer token: the `WWW-Authenticate`
//! challenge of [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3), with the
//! step-up parameters of [RFC 9470](https://www.rfc-editor.org/rfc/rfc9470).
//!
//! HTTP clients use it to decide whether a 401 is worth a new token: an expired or revoked
//! token (`invalid_token`) is, a token that lacks a scope (`insufficient_scope`) or a
//! stronger sign-in (`insufficient_user_authentication`) is not, because renewing it grants
//! the same scopes and the same authentication level again.

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;
use http_auth::parser::ChallengeParser;

/// The `error` code of a Bearer challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// `invalid_request`: the request itself is malformed.
    InvalidRequest,
    /// `invalid_token`: the token is expired, revoked or malformed; a new one may pass.
    InvalidToken,
    /// `insufficient_scope`: the token lacks a scope this resource needs.
    InsufficientScope,
    /// `insufficient_user_authentication` (RFC 9470): the user must sign in again, more
    /// strongly or more recently (see [`BearerChallenge::acr_values`] and
    /// [`BearerChallenge::max_age`]).
    InsufficientUserAuthentication,
    /// Any other code, as the server sent it.
    Other(String),
}

impl BearerError {
    fn from_code(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            "insufficient_user_authentication" => Self::InsufficientUserAuthentication,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InsufficientUserAuthentication => "insufficient_user_authentication",
            Self::Other(code) => code,
        }
    }
}

/// A `Bearer` challenge from a `WWW-Authenticate` response header.
///
/// ```
/// use latchkey::{BearerChallenge, BearerError};
///
/// let challenge = BearerChallenge::parse(
///     r#"Bearer realm="api", error="insufficient_scope", scope="orders:write orders:read""#,
/// )
/// .expect("a Bearer challenge");
/// assert_eq!(challenge.error, Some(BearerError::InsufficientScope));
/// assert_eq!(challenge.scope, ["orders:write", "orders:read"]);
/// assert!(!challenge.new_token_may_help());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerChallenge {
    /// `realm`: the protection space.
    pub realm: Option<String>,
    /// `scope`: the scopes the resource needs, space-separated on the wire.
    pub scope: Vec<String>,
    /// `error`: why the token was refused; `None` when the request carried no token.
    pub error: Option<BearerError>,
    /// `error_description`: the server's explanation, for people.
    pub error_description: Option<String>,
    /// `error_uri`: a page about the error.
    pub error_uri: Option<String>,
    /// `acr_values` (RFC 9470): the authentication context classes to sign in with,
    /// space-separated on the wire.
    pub acr_values: Vec<String>,
    /// `max_age` (RFC 9470): the longest time, in seconds, since the user last signed in.
    pub max_age: Option<u64>,
}

impl BearerChallenge {
    /// The first `Bearer` challenge in a response's `WWW-Authenticate` fields, if any.
    ///
    /// Fields that are not UTF-8 or do not parse are skipped; challenges for other schemes
    /// are ignored.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(Self::parse)
    }

    /// The first `Bearer` challenge in one `WWW-Authenticate` value, which may list several
    /// challenges. Parsing stops at the first malformed challenge: what came before it
    /// still counts.
    pub fn parse(value: &str) -> Option<Self> {
        let challenge = ChallengeParser::new(value)
            .map_while(Result::ok)
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))?;
        let mut parsed = Self::default();
        // Parameter names compare case-insensitively; a repeated one keeps its first value.
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &challenge.params {
            if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                continue;
            }
            seen.push(name);
            let value = value.to_unescaped();
            match name.to_ascii_lowercase().as_str() {
                "realm" => parsed.realm = Some(value),
                "scope" => parsed.scope = words(&value),
                "error" => parsed.error = Some(BearerError::from_code(&value)),
                "error_description" => parsed.error_description = Some(value),
                "error_uri" => parsed.error_uri = Some(value),
                "acr_values" => parsed.acr_values = words(&value),
                "max_age" => parsed.max_age = value.parse().ok(),
                _ => {}
            }
        }
        Some(parsed)
    }

    /// Whether renewing the token could make the same request pass: true unless the server
    /// said the request is malformed, or that the token lacks a scope or a stronger sign-in
    /// (a renewed token carries the same scopes and authentication level).
    pub fn new_token_may_help(&self) -> bool {
        !matches!(
            self.error,
            Some(
                BearerError::InvalidRequest
                    | BearerError::InsufficientScope
                    | BearerError::InsufficientUserAuthentication
            )
        )
    }
}

fn words(value: &str) -> Vec<String> {
    value.split_ascii_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn rfc_6750_examples() {
        let c = BearerChallenge::parse(r#"Bearer realm="example""#).expect("bearer");
        assert_eq!(c.realm.as_deref(), Some("example"));
        assert_eq!(c.error, None);
        assert!(c.new_token_may_help());

        let c = BearerChallenge::parse(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        )
        .expect("bearer");
        assert_eq!(c.error, Some(BearerError::InvalidToken));
        assert_eq!(
            c.error_description.as_deref(),
            Some("The access token expired")
        );
        assert!(c.new_token_may_help());
    }

    #[test]
    fn step_up_and_scope_errors_are_not_helped_by_a_new_token() {
        let c = BearerChallenge::parse(
            r#"Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR phr", max_age=5"#,
        )
        .expect("bearer");
        assert_eq!(c.error, Some(BearerError::InsufficientUserAuthentication));
        assert_eq!(c.acr_values, ["myACR", "phr"]);
        assert_eq!(c.max_age, Some(5));
        assert!(!c.new_token_may_help());

        let c = BearerChallenge::parse(r#"bearer ERROR=insufficient_scope, Scope="a  b""#)
            .expect("scheme and names compare case-insensitively");
        assert_eq!(c.error, Some(BearerError::InsufficientScope));
        assert_eq!(c.scope, ["a", "b"]);
        assert!(!c.new_token_may_help());
    }

    #[test]
    fn the_bearer_challenge_is_found_among_others() {
        let c =
            BearerChallenge::parse(r#"Basic realm="x", Bearer error="invalid_token", realm="api""#)
                .expect("second challenge");
        assert_eq!(c.realm.as_deref(), Some("api"));
        assert_eq!(c.error, Some(BearerError::InvalidToken));

        let mut headers = HeaderMap::new();
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="x""#),
        );
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_bytes(b"\xff").expect("opaque"),
        );
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
        );
        let c = BearerChallenge::from_headers(&headers).expect("third field");
        assert_eq!(c.error, Some(BearerError::InsufficientScope));
    }

    #[test]
    fn quoted_values_are_unescaped_and_repeats_keep_the_first() {
        let c = BearerChallenge::parse(
            r#"Bearer error_description="say \"hi\", then go", error="invalid_token", error="insufficient_scope""#,
        )
        .expect("bearer");
        assert_eq!(c.error_description.as_deref(), Some(r#"say "hi", then go"#));
        assert_eq!(c.error, Some(BearerError::InvalidToken));
    }

    #[test]
    fn unknown_codes_are_kept_and_still_allow_a_retry() {
        let c = BearerChallenge::parse("Bearer error=use_dpop_nonce").expect("bearer");
        assert_eq!(c.error, Some(BearerError::Other("use_dpop_nonce".into())));
        assert_eq!(
            c.error.as_ref().map(BearerError::as_str),
            Some("use_dpop_nonce")
        );
        assert!(c.new_token_may_help());
    }

    #[test]
    fn no_bearer_or_malformed_is_none() {
        assert_eq!(BearerChallenge::parse(""), None);
        assert_eq!(BearerChallenge::parse(r#"Basic realm="x""#), None);
        assert_eq!(
            BearerChallenge::parse(r#"Bearer realm="unterminated"#),
            None
        );
        assert_eq!(BearerChallenge::parse(r#"Bearer realm="a" junk"#), None);
        // A malformed challenge before the Bearer one hides it: the list cannot be read on.
        assert_eq!(
            BearerChallenge::parse(r#"Basic realm="x" junk, Bearer error="insufficient_scope""#),
            None
        );
        assert_eq!(BearerChallenge::from_headers(&HeaderMap::new()), None);
        // A malformed challenge ends the list, but one before it still counts.
        let c = BearerChallenge::parse(r#"Bearer realm="a", Basic realm="unterminated"#)
            .expect("first");
        assert_eq!(c.realm.as_deref(), Some("a"));
        // A max_age that is not a number is left out rather than guessed.
        let c = BearerChallenge::parse("Bearer max_age=soon").expect("bearer");
        assert_eq!(c.max_age, None);
    }
}
