//! What a token endpoint most likely means when it refuses a request with a bare 400, 401 or
//! 403 and no OAuth error in the body.
//!
//! RFC 6749 §5.2 asks for an `error` code, but some certified servers send nothing: glewlwyd
//! answers bad client credentials, a missing scope and a user's wrong password with an empty
//! 403, and a grant the client may not use or a bad refresh token with an empty 400. The URL
//! was right (the request reached a token endpoint), so the message names the likely causes
//! instead, ordered by what the status and the request make most likely.

use std::fmt;

/// One likely reason for a token endpoint's empty refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalCause {
    /// The client secret has characters that RFC 6749 §2.3.1 form-encoding changes before
    /// Basic encoding, and the provider may compare it without decoding (glewlwyd does).
    BasicEncoding,
    /// The client id or its credentials are wrong, or `client_auth` is not the method the
    /// client is registered with.
    ClientCredentials,
    /// No `scope` was sent, and the provider wants one.
    NoScope,
    /// A scope was asked for that the client (or user) may not have.
    Scope,
    /// The grant type is not enabled for the client.
    GrantType,
    /// The user's name or password is wrong.
    UserCredentials,
    /// The refresh token is unknown, expired, revoked or already used (rotation).
    RefreshToken,
    /// The authorization code is unknown, expired or used, or the redirect URI or PKCE
    /// verifier does not match.
    AuthorizationCode,
    /// The device code is unknown or expired.
    DeviceCode,
}

impl RefusalCause {
    /// The cause, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            RefusalCause::BasicEncoding => {
                "the client secret has characters that Basic form-encoding (RFC 6749 §2.3.1) changes, and the provider may not decode them"
            }
            RefusalCause::ClientCredentials => {
                "the client id or secret is wrong, or `client_auth` is not the method the client is registered with"
            }
            RefusalCause::NoScope => "no scope was requested and the provider requires one",
            RefusalCause::Scope => "a requested scope is not allowed for the client",
            RefusalCause::GrantType => "this grant type is not enabled for the client",
            RefusalCause::UserCredentials => "the username or password is wrong",
            RefusalCause::RefreshToken => {
                "the refresh token is invalid, expired, revoked or was already used (rotation)"
            }
            RefusalCause::AuthorizationCode => {
                "the authorization code is invalid, expired or used, or the redirect URI or PKCE verifier does not match"
            }
            RefusalCause::DeviceCode => "the device code is invalid or expired",
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            RefusalCause::BasicEncoding => {
                "send the secret with `client_auth = \"client_secret_post\"` if the client allows it, or as raw Basic credentials (`basic_credentials = \"raw\"`, `ClientAuth::SecretBasicRaw`)"
            }
            RefusalCause::ClientCredentials => {
                "check the client id and secret, and that `client_auth` matches the method the client is registered with at the identity provider"
            }
            RefusalCause::NoScope => {
                "set the scopes the client may ask for (`scopes`), or allow a default scope at the identity provider"
            }
            RefusalCause::Scope => "ask only for scopes the client is allowed to request",
            RefusalCause::GrantType => {
                "enable this grant type for the client at the identity provider, or pick another `auth` kind"
            }
            RefusalCause::UserCredentials => "check the username and password",
            RefusalCause::RefreshToken => "log in again",
            RefusalCause::AuthorizationCode => {
                "log in again, and check the redirect URI registered for the client"
            }
            RefusalCause::DeviceCode => "start the device login again",
        }
    }
}

impl fmt::Display for RefusalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The causes, numbered: `1) …; 2) …`.
pub(crate) fn numbered(causes: &[RefusalCause]) -> String {
    causes
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}) {c}", i + 1))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The likely causes of an empty `status` answer to a `grant_type` request sent with
/// `params`, most likely first; empty when the status is not a refusal this reasoning
/// covers. `basic_encoding_changed_secret`: the client's Basic header carried its secret
/// form-encoded, and the encoding changed it ([`ClientAuth::basic_encoding_changes_secret`](crate::ClientAuth)).
pub(crate) fn likely_causes(
    grant_type: &str,
    status: u16,
    params: &[(&str, &str)],
    basic_encoding_changed_secret: bool,
) -> Vec<RefusalCause> {
    use RefusalCause::*;
    if !matches!(status, 400 | 401 | 403) {
        return Vec::new();
    }
    let token = match grant_type {
        "refresh_token" => Some(RefreshToken),
        "authorization_code" => Some(AuthorizationCode),
        "urn:ietf:params:oauth:grant-type:device_code" => Some(DeviceCode),
        _ => None,
    };
    let user = (grant_type == "password").then_some(UserCredentials);
    // A refresh keeps the scopes it was granted: sending none is normal there.
    let scope = if params.iter().any(|(k, _)| *k == "scope") || token.is_some() {
        None
    } else {
        Some(NoScope)
    };
    let mut client = Vec::new();
    if basic_encoding_changed_secret {
        client.push(BasicEncoding);
    }
    client.push(ClientCredentials);
    let ordered: Vec<Option<RefusalCause>> = if status == 400 {
        // A 400 says the request, not the caller, is wrong: the token or the grant first.
        let mut v = vec![token, Some(GrantType), scope];
        v.extend(client.into_iter().map(Some));
        v.extend([user, Some(Scope)]);
        v
    } else {
        // 401/403: who is asking. A request without a scope is the one certain oddity.
        let mut v = vec![scope];
        v.extend(client.into_iter().map(Some));
        v.extend([user, Some(Scope), token, Some(GrantType)]);
        v
    };
    let mut causes: Vec<RefusalCause> = Vec::new();
    for cause in ordered.into_iter().flatten() {
        if !causes.contains(&cause) {
            causes.push(cause);
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use RefusalCause::*;

    #[test]
    fn a_403_names_the_client_first_and_a_missing_scope_before_it() {
        let with_scope = likely_causes("client_credentials", 403, &[("scope", "api")], false);
        assert_eq!(with_scope[..2], [ClientCredentials, Scope]);
        let without = likely_causes("client_credentials", 403, &[], false);
        assert_eq!(without[..2], [NoScope, ClientCredentials]);
    }

    #[test]
    fn a_400_names_the_token_or_the_grant_type_first() {
        let refresh = likely_causes("refresh_token", 400, &[("refresh_token", "x")], false);
        assert_eq!(refresh[..2], [RefreshToken, GrantType]);
        let password = likely_causes("password", 400, &[("scope", "api")], false);
        assert_eq!(password[0], GrantType);
    }

    #[test]
    fn a_secret_basic_encoding_changes_is_named_before_the_credentials() {
        let causes = likely_causes("client_credentials", 403, &[("scope", "a")], true);
        assert_eq!(causes[..2], [BasicEncoding, ClientCredentials]);
        assert!(!likely_causes("client_credentials", 403, &[], false).contains(&BasicEncoding));
        assert!(likely_causes("client_credentials", 500, &[], true).is_empty());
    }
}
