//! Roles: which ones a user gets at sign-in (`default_roles`, `admin` for `admin_users`), and
//! the [`RequireRole`] extractor that lets a handler run only for users holding one.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use latchkey::IdTokenClaims;

use crate::error::AuthRejection;
use crate::extract::AuthenticatedUser;

/// The role [`WebAuthBuilder::admin_users`](crate::WebAuthBuilder::admin_users) gives.
pub const ADMIN_ROLE: &str = "admin";

/// Who gets which role when they sign in.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleRules {
    pub(crate) default_roles: Vec<String>,
    /// Subjects (`sub`) and email addresses (lowercased) that get [`ADMIN_ROLE`].
    pub(crate) admin_users: Vec<String>,
}

impl RoleRules {
    /// The roles of a user signing in with `claims`: the default roles, then `admin` when
    /// the user is listed, without duplicates.
    ///
    /// An email address counts only when the provider vouches for it (`email_verified`):
    /// at many providers anyone can put any address on an account, and a listed address
    /// must not make whoever typed it an administrator.
    pub(crate) fn roles_for(&self, claims: &IdTokenClaims) -> Vec<String> {
        let mut roles: Vec<String> = Vec::with_capacity(self.default_roles.len() + 1);
        for role in &self.default_roles {
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        let verified_email = claims
            .email
            .as_deref()
            .filter(|_| claims.email_verified == Some(true))
            .map(str::to_lowercase);
        let listed = self.admin_users.iter().any(|user| {
            *user == claims.sub || verified_email.as_deref() == Some(user.to_lowercase().as_str())
        });
        if listed && !roles.iter().any(|r| r == ADMIN_ROLE) {
            roles.push(ADMIN_ROLE.to_owned());
        }
        roles
    }
}

/// A role a handler can require, named by a type so that the requirement shows in the
/// handler's signature:
///
/// ```
/// use latchkey_axum::{RequireRole, Role};
///
/// struct Editor;
/// impl Role for Editor {
///     const NAME: &'static str = "editor";
/// }
///
/// async fn edit(user: RequireRole<Editor>) -> String {
///     format!("{} may edit", user.sub())
/// }
/// ```
pub trait Role: Send + Sync + 'static {
    /// The role's name, as given by `default_roles` (or `admin`).
    const NAME: &'static str;
}

/// The `admin` role, given to [`admin_users`](crate::WebAuthBuilder::admin_users).
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl Role for Admin {
    const NAME: &'static str = ADMIN_ROLE;
}

/// The signed-in user, who holds role `R`. Rejects with `401` JSON when nobody is signed in
/// and `403` JSON when the user lacks the role (see [`AuthRejection`]). Dereferences to
/// [`AuthenticatedUser`].
///
/// For a role known only at run time, take [`AuthenticatedUser`] and call
/// [`AuthenticatedUser::require_role`].
pub struct RequireRole<R: Role> {
    user: AuthenticatedUser,
    role: PhantomData<R>,
}

/// The signed-in user, who is an administrator ([`RequireRole<Admin>`]).
pub type RequireAdmin = RequireRole<Admin>;

impl<R: Role> RequireRole<R> {
    /// The user, without the role marker.
    pub fn into_inner(self) -> AuthenticatedUser {
        self.user
    }
}

impl<R: Role> Deref for RequireRole<R> {
    type Target = AuthenticatedUser;

    fn deref(&self) -> &AuthenticatedUser {
        &self.user
    }
}

impl<R: Role> Clone for RequireRole<R> {
    fn clone(&self) -> Self {
        Self {
            user: self.user.clone(),
            role: PhantomData,
        }
    }
}

impl<R: Role> fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireRole")
            .field("role", &R::NAME)
            .field("user", &self.user)
            .finish()
    }
}

impl<S: Send + Sync, R: Role> FromRequestParts<S> for RequireRole<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = <AuthenticatedUser as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map_err(AuthRejection::from)?;
        user.require_role(R::NAME)?;
        Ok(Self {
            user,
            role: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, email: Option<&str>, verified: Option<bool>) -> IdTokenClaims {
        let mut claims: IdTokenClaims = serde_json::from_value(serde_json::json!({
            "iss": "https://idp.example", "sub": sub, "aud": "app", "exp": 2, "iat": 1
        }))
        .unwrap();
        claims.email = email.map(str::to_owned);
        claims.email_verified = verified;
        claims
    }

    fn rules(defaults: &[&str], admins: &[&str]) -> RoleRules {
        RoleRules {
            default_roles: defaults.iter().map(|s| s.to_string()).collect(),
            admin_users: admins.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_for_everyone_admin_for_listed_subjects_and_verified_emails() {
        let rules = rules(&["viewer", "viewer"], &["root", "Boss@Example.org"]);
        let of = |c: &IdTokenClaims| rules.roles_for(c);
        assert_eq!(of(&claims("someone", None, None)), ["viewer"]);
        assert_eq!(of(&claims("root", None, None)), ["viewer", "admin"]);
        assert_eq!(
            of(&claims("x", Some("boss@example.ORG"), Some(true))),
            ["viewer", "admin"]
        );
        for unverified in [None, Some(false)] {
            assert_eq!(
                of(&claims("x", Some("boss@example.org"), unverified)),
                ["viewer"],
                "an unverified address makes nobody an administrator"
            );
        }
    }

    #[test]
    fn admin_is_not_doubled() {
        let rules = rules(&["admin"], &["root"]);
        let roles = rules.roles_for(&claims("root", None, None));
        assert_eq!(roles, ["admin"]);
    }
}
