//! The CLI's words for what to do next: the core's hints speak the library API, these speak
//! the `latchkey` commands and flags a person types.

use super::Selected;
use crate::challenge::BearerChallenge;
use crate::error::{Error, LoginError};
use crate::store::StoreError;

/// What a person at the `latchkey` command line should try next after `err`, in one
/// sentence; falls back to the library's own [`Error::hint`].
pub fn cli_hint(err: &Error) -> Option<String> {
    match err {
        Error::LoginRequired { key, .. } => Some(format!("run `latchkey login {key}`")),
        Error::Login(LoginError::Timeout { .. }) => Some(
            "run the login again and finish it in the browser; without a browser on this machine use `--no-browser` or `--device`".into(),
        ),
        Error::Store(StoreError::Corrupt { .. }) => Some(
            "delete the entry (`latchkey logout`) and log in again; other keys are untouched"
                .into(),
        ),
        other => other.hint(),
    }
}

/// What to change after an API refused a request of `selected`'s with 401/403, when the
/// refusal names a known cause; `None` leaves the caller's generic advice. `challenge` is the
/// answer's Bearer challenge, when it had one.
///
/// DHIS2 says why it refused a bearer token in `error_description` (Spring Security's
/// `WWW-Authenticate: Bearer error="invalid_token", error_description="…"`): a token whose
/// mapping claim matches no DHIS2 user, an issuer it does not trust, a mapping claim it does
/// not support. A DHIS2 that does not take bearer tokens at all sends no Bearer challenge.
pub fn refusal_hint(selected: &Selected, challenge: Option<&BearerChallenge>) -> Option<String> {
    let description = challenge.and_then(|c| c.error_description.as_deref());
    if let Some(description) = description {
        if let Some((claim, value)) = dhis2_unmapped_user(description) {
            return Some(unmapped_user_hint(&claim, &value));
        }
        if description.trim() == "Invalid issuer" {
            return Some(
                "DHIS2 does not trust the token's issuer: in dhis.conf set `server.base.url` to the URL clients reach DHIS2 at and `oidc.provider.dhis2.issuer_uri` to the same URL, then restart DHIS2"
                    .into(),
            );
        }
        if description.trim() == "Invalid mapping claim" {
            return Some(
                "DHIS2 maps tokens to users only by `username` or `email`: set `oidc.provider.<key>.mapping_claim` in dhis.conf to one of them, then restart DHIS2"
                    .into(),
            );
        }
    }
    let dhis2 = selected
        .preset()
        .ok()
        .flatten()
        .is_some_and(|p| p.name == "dhis2");
    if dhis2 && challenge.is_none() && !selected.profile.auth.is_static() {
        return Some(
            "DHIS2 did not take the bearer token: set `oidc.jwt.token.authentication.enabled = on` in dhis.conf and restart DHIS2"
                .into(),
        );
    }
    None
}

/// The claim and its value in DHIS2's "Found no matching DHIS2 user for the mapping claim:
/// 'sub' with the value: 'admin'" (older releases leave out the spaces after the colons).
fn dhis2_unmapped_user(description: &str) -> Option<(String, String)> {
    let rest = description
        .trim()
        .strip_prefix("Found no matching DHIS2 user for the mapping claim:")?;
    let (claim, rest) = quoted(rest)?;
    let rest = rest.trim_start().strip_prefix("with the value:")?;
    let (value, _) = quoted(rest)?;
    Some((claim, value))
}

/// The text between the next pair of single quotes, made safe to print (no control
/// characters: the server wrote it), and what follows.
fn quoted(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start().strip_prefix('\'')?;
    let (inside, rest) = text.split_once('\'')?;
    let safe = inside
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect();
    Some((safe, rest))
}

fn unmapped_user_hint(claim: &str, value: &str) -> String {
    if value == "null" || value.is_empty() {
        return format!(
            "the token has no `{claim}` claim, which DHIS2 maps to its users: set `oidc.provider.<key>.mapping_claim` in dhis.conf to a claim the token carries (e.g. `sub`, `email`), then restart DHIS2"
        );
    }
    format!(
        "DHIS2 looks up the user whose OpenID is `{value}` (mapping claim `{claim}`) and finds none: set that user's OpenID to `{value}` (Users app, or PATCH /api/users/USER_ID with [{{\"op\":\"add\",\"path\":\"/openId\",\"value\":\"{value}\"}}]), or map by another claim with `mapping_claim` in dhis.conf; DHIS2 2.43 looks `username` up by user name instead"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{AuthKind, Profile};

    #[test]
    fn login_required_names_the_command() {
        let err = Error::LoginRequired {
            key: "svc".into(),
            reason: "no refresh token".into(),
        };
        assert_eq!(cli_hint(&err).unwrap(), "run `latchkey login svc`");
        assert!(err.hint().unwrap().contains("TokenManager::login"));
    }

    fn dhis2_oauth() -> Selected {
        let mut p = Profile::new(AuthKind::AuthorizationCode);
        p.preset = Some("dhis2".into());
        Selected::new("d2", p)
    }

    fn hint_for(header: &str) -> Option<String> {
        let challenge = BearerChallenge::parse(header).expect("a Bearer challenge");
        refusal_hint(&dhis2_oauth(), Some(&challenge))
    }

    #[test]
    fn dhis2_unmapped_user_names_the_openid_to_set() {
        // As DHIS2 2.42 sends it (the seed's fixture), and the older spelling without spaces.
        for header in [
            r#"Bearer error="invalid_token", error_description="Found no matching DHIS2 user for the mapping claim: 'sub' with the value: 'admin'", error_uri="https://tools.ietf.org/html/rfc6750#section-3.1""#,
            r#"Bearer error="invalid_token", error_description="Found no matching DHIS2 user for the mapping claim:'sub' with the value:'admin'""#,
        ] {
            let hint = hint_for(header).expect("a hint");
            assert!(hint.contains("OpenID is `admin`"), "{hint}");
            assert!(hint.contains("mapping claim `sub`"), "{hint}");
            assert!(hint.contains("/api/users/"), "{hint}");
            assert!(
                hint.contains(r#""path":"/openId","value":"admin""#),
                "{hint}"
            );
            assert!(hint.contains("2.43"), "{hint}");
        }
        let hint = hint_for(
            r#"Bearer error="invalid_token", error_description="Found no matching DHIS2 user for the mapping claim: 'email' with the value: 'null'""#,
        )
        .expect("a hint");
        assert!(hint.contains("no `email` claim"), "{hint}");
    }

    #[test]
    fn other_dhis2_refusals_and_the_missing_challenge() {
        let hint = hint_for(r#"Bearer error="invalid_token", error_description="Invalid issuer""#)
            .expect("a hint");
        assert!(hint.contains("server.base.url"), "{hint}");
        let hint =
            hint_for(r#"Bearer error="invalid_token", error_description="Invalid mapping claim""#)
                .expect("a hint");
        assert!(hint.contains("mapping_claim"), "{hint}");
        // Something DHIS2 did not explain: the caller's generic advice.
        assert_eq!(
            hint_for(
                r#"Bearer error="invalid_token", error_description="Jwt expired at 2021-03-05T16:19:50Z""#
            ),
            None
        );
        let hint = refusal_hint(&dhis2_oauth(), None).expect("a hint");
        assert!(
            hint.contains("oidc.jwt.token.authentication.enabled = on"),
            "{hint}"
        );
        // Not a DHIS2 profile, or fixed credentials: nothing to say without a challenge.
        let mut other = Profile::new(AuthKind::AuthorizationCode);
        other.issuer = Some("https://idp.example".into());
        assert_eq!(refusal_hint(&Selected::new("o", other), None), None);
        let mut pat = Profile::new(AuthKind::ApiToken);
        pat.preset = Some("dhis2".into());
        assert_eq!(refusal_hint(&Selected::new("p", pat), None), None);
    }

    #[test]
    fn a_hostile_description_is_cut_and_cleaned() {
        let long = "x".repeat(500);
        let header = format!(
            r#"Bearer error="invalid_token", error_description="Found no matching DHIS2 user for the mapping claim: 'sub' with the value: '{long}'""#
        );
        let hint = hint_for(&header).expect("a hint");
        assert!(!hint.contains(&"x".repeat(129)), "{hint}");
    }
}
