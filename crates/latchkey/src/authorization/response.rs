//! Judging an authorization response (RFC 6749 §4.1.2) against the login that sent it.
//!
//! Shared by the loopback receiver, pluggable redirect capturers and server-side web logins,
//! so all of them check `state`, `iss` and `error` the same way.

use std::borrow::Cow;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::jarm::JarmCheck;
use crate::error::LoginError;

/// What an authorization response must match: the `state` that was sent and, for RFC 9207,
/// the issuer.
#[derive(Clone)]
pub struct ExpectedResponse {
    state: SecretString,
    issuer: Option<String>,
    require_iss: bool,
    jarm: Option<JarmCheck>,
}

impl ExpectedResponse {
    /// Expects this `state` (compared in constant time).
    pub fn new(state: SecretString) -> Self {
        Self {
            state,
            issuer: None,
            require_iss: false,
            jarm: None,
        }
    }

    /// Expects responses from `issuer`. With `required` (the provider advertises
    /// `authorization_response_iss_parameter_supported`) an `iss` parameter must be present
    /// (RFC 9207 §2.4); without it, an `iss` that is present must still match.
    pub fn issuer(mut self, issuer: impl Into<String>, required: bool) -> Self {
        self.issuer = Some(issuer.into());
        self.require_iss = required;
        self
    }

    /// Expects responses from the issuer `check` names, as [`issuer`](Self::issuer) does.
    pub fn issuer_check(self, check: Option<&super::IssuerCheck>) -> Self {
        match check {
            Some(check) => self.issuer(check.issuer.clone(), check.iss_parameter_supported),
            None => self,
        }
    }

    /// Expects a JARM response: a signed `response` JWT whose claims are the response.
    pub(crate) fn jwt_response(mut self, check: JarmCheck) -> Self {
        self.jarm = Some(check);
        self
    }
}

impl fmt::Debug for ExpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpectedResponse")
            .field("state", &"[REDACTED]")
            .field("issuer", &self.issuer)
            .field("require_iss", &self.require_iss)
            .field("jarm", &self.jarm)
            .finish()
    }
}

/// The verdict on one authorization response.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// The login succeeded with this code.
    Code(SecretString),
    /// The response belongs to this login and ends it with an error.
    Failed(LoginError),
    /// The response does not belong to this login (wrong or missing `state`): a stale tab
    /// or a forged request. The receiver answers 400 and keeps waiting.
    Foreign,
    /// A JARM response that cannot be believed (bad signature, another client's audience,
    /// expired): like [`Verdict::Foreign`] it does not end a loopback login, which keeps
    /// waiting for the real one; elsewhere it is [`LoginError::InvalidRedirect`].
    Refused(String),
}

/// Judges the query pairs of a redirect.
pub(crate) fn judge<'a, I>(pairs: I, expected: &ExpectedResponse) -> Verdict
where
    I: IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
{
    match &expected.jarm {
        // JARM: only the signed claims are looked at; the rest of the query is not the
        // provider's word.
        Some(jarm) => match jarm.open(pairs) {
            Ok(claims) => judge_plain(claims, expected),
            Err(reason) => Verdict::Refused(reason),
        },
        None => judge_plain(pairs, expected),
    }
}

fn judge_plain<'a, I>(pairs: I, expected: &ExpectedResponse) -> Verdict
where
    I: IntoIterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
{
    let mut state = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    for (name, value) in pairs {
        // A repeated parameter is ambiguous (RFC 6749 §3.1): the response is malformed.
        let slot = match name.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            "iss" => &mut iss,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return if name == "state" {
                Verdict::Foreign
            } else {
                Verdict::Failed(LoginError::InvalidRedirect(format!(
                    "the parameter `{name}` appears twice"
                )))
            };
        }
    }

    // State first: nothing in a response that fails it may end the login (RFC 6749 §10.12).
    let state_ok = state.is_some_and(|s| {
        bool::from(
            s.as_bytes()
                .ct_eq(expected.state.expose_secret().as_bytes()),
        )
    });
    if !state_ok {
        return Verdict::Foreign;
    }

    // RFC 9207 §2.4: compare `iss` whenever present; require it when advertised.
    if let Some(issuer) = &expected.issuer {
        match &iss {
            Some(got) if got == issuer => {}
            None if !expected.require_iss => {}
            _ => {
                return Verdict::Failed(LoginError::IssuerMismatch {
                    expected: issuer.clone(),
                    got: iss,
                });
            }
        }
    }

    if let Some(error) = error {
        return Verdict::Failed(if error == "access_denied" {
            LoginError::AccessDenied { description }
        } else {
            LoginError::Authorization { error, description }
        });
    }
    match code {
        Some(code) if !code.is_empty() => Verdict::Code(SecretString::from(code)),
        _ => Verdict::Failed(LoginError::InvalidRedirect(
            "it carries neither `code` nor `error`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, expected: &ExpectedResponse) -> Verdict {
        judge(url::form_urlencoded::parse(query.as_bytes()), expected)
    }

    fn expected() -> ExpectedResponse {
        ExpectedResponse::new(SecretString::from("st4te"))
    }

    #[test]
    fn right_state_and_code_succeeds() {
        match run("code=abc&state=st4te", &expected()) {
            Verdict::Code(code) => assert_eq!(code.expose_secret(), "abc"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_missing_or_repeated_state_is_foreign() {
        for q in [
            "code=abc&state=nope",
            "code=abc",
            "code=a&state=st4te&state=st4te",
            "state=st4",
        ] {
            assert!(matches!(run(q, &expected()), Verdict::Foreign), "{q}");
        }
    }

    #[test]
    fn error_with_wrong_state_does_not_end_the_login() {
        assert!(matches!(
            run("error=access_denied&state=other", &expected()),
            Verdict::Foreign
        ));
    }

    #[test]
    fn access_denied_is_typed_and_keeps_the_description() {
        match run(
            "error=access_denied&error_description=End-User+aborted&state=st4te",
            &expected(),
        ) {
            Verdict::Failed(LoginError::AccessDenied { description }) => {
                assert_eq!(description.as_deref(), Some("End-User aborted"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run("error=invalid_scope&state=st4te", &expected()),
            Verdict::Failed(LoginError::Authorization { .. })
        ));
    }

    #[test]
    fn iss_is_checked_when_present_and_required_when_advertised() {
        let lax = expected().issuer("https://idp.example", false);
        let strict = expected().issuer("https://idp.example", true);
        assert!(matches!(run("code=c&state=st4te", &lax), Verdict::Code(_)));
        assert!(matches!(
            run("code=c&state=st4te&iss=https%3A%2F%2Fidp.example", &strict),
            Verdict::Code(_)
        ));
        for (q, e) in [
            ("code=c&state=st4te", &strict),
            ("code=c&state=st4te&iss=https%3A%2F%2Fevil.example", &lax),
            ("code=c&state=st4te&iss=https%3A%2F%2Fevil.example", &strict),
        ] {
            assert!(
                matches!(
                    run(q, e),
                    Verdict::Failed(LoginError::IssuerMismatch { .. })
                ),
                "{q}"
            );
        }
    }

    #[test]
    fn missing_code_is_invalid() {
        assert!(matches!(
            run("state=st4te", &expected()),
            Verdict::Failed(LoginError::InvalidRedirect(_))
        ));
    }
}
