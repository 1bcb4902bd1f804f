//! DHIS2 routes (`/api/routes`): the object that carries an [`AuthScheme`] in its `auth`
//! field, read whole as DHIS2 returns it.

use serde_json::Value;

use super::scheme::classify;
use super::{AuthScheme, SchemeError};

/// One entry of a document `latchkey scheme check` reads: a bare auth scheme, or a route.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SchemeEntry {
    /// An auth scheme object (it has a `type`).
    Scheme(AuthScheme),
    /// A route object (`{"name", "url", "auth": {…}}`, no `type` of its own).
    Route {
        /// The route's `name`, when it has one.
        name: Option<String>,
        /// Its auth scheme; `None` when `auth` is missing or has no `type`.
        scheme: Option<AuthScheme>,
    },
}

impl AuthScheme {
    /// The auth scheme of a whole DHIS2 route object; `None` when its `auth` is missing, is
    /// `null` or has no `type` (a route without authentication).
    ///
    /// ```
    /// use latchkey::AuthScheme;
    /// let route = serde_json::json!({
    ///     "name": "chap", "url": "https://chap.example/**",
    ///     "auth": {"type": "api-token"}
    /// });
    /// // DHIS2 returns routes without their secrets: this parses, and fails only when used.
    /// let scheme = AuthScheme::from_route(&route)?.expect("an auth scheme");
    /// assert_eq!(scheme.missing_field(), Some("token"));
    /// assert!(AuthScheme::from_route(&serde_json::json!({"name": "open"}))?.is_none());
    /// # Ok::<(), latchkey::SchemeError>(())
    /// ```
    pub fn from_route(route: &Value) -> Result<Option<Self>, SchemeError> {
        let Value::Object(fields) = route else {
            return Err(invalid("a route is a JSON object"));
        };
        match fields.get("auth") {
            None | Some(Value::Null) => Ok(None),
            Some(auth @ Value::Object(scheme)) => match scheme.get("type") {
                None | Some(Value::Null) => Ok(None),
                Some(_) => Self::from_value(auth.clone()).map(Some),
            },
            Some(_) => Err(invalid("the route's `auth` is not a JSON object")),
        }
    }

    /// [`AuthScheme::from_route`] for a route as JSON text; errors name the line and column.
    pub fn from_route_json(json: &str) -> Result<Option<Self>, SchemeError> {
        let route: Value = serde_json::from_str(json).map_err(|e| classify(json, &e))?;
        Self::from_route(&route)
    }

    /// Parses a document of one entry or an array of them, each an auth scheme (an object
    /// with a `type`) or a route (an object with `auth`, `url` or `name` and no `type`).
    pub fn entries_from_json(json: &str) -> Result<Vec<SchemeEntry>, SchemeError> {
        let document: Value = serde_json::from_str(json).map_err(|e| classify(json, &e))?;
        let values = match document {
            Value::Array(values) => values,
            one => vec![one],
        };
        values.into_iter().map(entry).collect()
    }
}

fn entry(value: Value) -> Result<SchemeEntry, SchemeError> {
    let is_route = value.get("type").is_none()
        && ["auth", "url", "name"]
            .iter()
            .any(|field| value.get(field).is_some());
    if !is_route {
        return AuthScheme::from_value(value).map(SchemeEntry::Scheme);
    }
    Ok(SchemeEntry::Route {
        name: value.get("name").and_then(Value::as_str).map(str::to_owned),
        scheme: AuthScheme::from_route(&value)?,
    })
}

fn invalid(reason: &str) -> SchemeError {
    SchemeError::Invalid {
        line: 0,
        column: 0,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_without_auth_or_type_has_no_scheme() {
        for route in [
            r#"{"name":"r","url":"https://x"}"#,
            r#"{"name":"r","auth":null}"#,
            r#"{"name":"r","auth":{}}"#,
            r#"{"name":"r","auth":{"username":"u"}}"#,
        ] {
            assert!(
                AuthScheme::from_route_json(route).unwrap().is_none(),
                "{route}"
            );
        }
    }

    #[tokio::test]
    async fn a_route_read_back_from_dhis2_parses_and_fails_only_when_used() {
        // DHIS2 returns a route's auth without its secret (encrypted at rest).
        let json = r#"{"id":"ujvQ0frIFA6","name":"chap","url":"https://chap.example/**",
            "auth":{"type":"http-basic","username":"admin"},"disabled":false}"#;
        let scheme = AuthScheme::from_route_json(json).unwrap().unwrap();
        assert_eq!(scheme.type_name(), "http-basic");
        assert_eq!(scheme.missing_field(), Some("password"));
        let err = scheme.authenticator().await.map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("`password`"), "{err}");
    }

    #[test]
    fn a_route_with_a_bad_scheme_says_why() {
        let err =
            AuthScheme::from_route_json(r#"{"auth":{"type":"oauth2-password"}}"#).unwrap_err();
        assert!(matches!(err, SchemeError::UnknownType { .. }), "{err}");
        let err = AuthScheme::from_route_json(r#"{"auth":"basic"}"#).unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
        let err = AuthScheme::from_route_json("[1]").unwrap_err();
        assert!(
            err.to_string().contains("a route is a JSON object"),
            "{err}"
        );
        let err = AuthScheme::from_route_json("{\n\"auth\": {,}\n}").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn entries_mix_schemes_and_routes() {
        let entries = AuthScheme::entries_from_json(
            r#"[{"type":"api-token","token":"t"},
                {"name":"open","url":"https://x"},
                {"name":"basic","auth":{"type":"http-basic","username":"u","password":"p"}}]"#,
        )
        .unwrap();
        assert!(matches!(&entries[0], SchemeEntry::Scheme(s) if s.type_name() == "api-token"));
        assert!(
            matches!(&entries[1], SchemeEntry::Route { name: Some(n), scheme: None } if n == "open")
        );
        assert!(matches!(
            &entries[2],
            SchemeEntry::Route { scheme: Some(s), .. } if s.type_name() == "http-basic"
        ));
        let err = AuthScheme::entries_from_json(r#"{"username":"u"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `type`"), "{err}");
    }
}
