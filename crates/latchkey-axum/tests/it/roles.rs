//! Roles (pywry deploy mode's `default_roles` and `admin_users`): given at sign-in through
//! the IdP fixture, kept in the session, shown by `/auth/status` and `/auth/userinfo`, and
//! required by `RequireRole` / `require_role` with `403` JSON (`401` JSON signed out).

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::routing::get;
use latchkey_axum::{AuthRejection, AuthenticatedUser, RequireAdmin, RequireRole, Role, WebAuth};
use latchkey_testkit::Idp;

use crate::support::*;

struct Editor;
impl Role for Editor {
    const NAME: &'static str = "editor";
}

/// `/admin` needs `admin`, `/edit` needs `editor`, `/team/{name}` needs `team-<name>`
/// (checked at run time).
fn role_app(auth: &WebAuth) -> Router {
    auth.attach(
        Router::new()
            .route(
                "/admin",
                get(|user: RequireAdmin| async move { format!("admin {}", user.sub()) }),
            )
            .route(
                "/edit",
                get(|user: RequireRole<Editor>| async move { format!("editor {}", user.sub()) }),
            )
            .route(
                "/team/{name}",
                get(
                    |user: AuthenticatedUser, Path(name): Path<String>| async move {
                        user.require_role(&format!("team-{name}"))?;
                        Ok::<_, AuthRejection>(format!("team {name}"))
                    },
                ),
            ),
    )
}

async fn get_as(app: &Router, path: &str, jar: &Jar) -> (StatusCode, String) {
    let (response, body) = send(app, request("GET", path, jar, [10, 0, 0, 1])).await;
    (response.status(), body)
}

#[tokio::test]
async fn default_and_admin_roles_reach_status_userinfo_and_the_extractors() {
    let idp = Idp::start().await;
    let auth = builder(&idp)
        .await
        .default_roles(["viewer", "team-blue"])
        .admin_users(["alice"])
        .build()
        .unwrap();
    let app = role_app(&auth);
    let jar = log_in(&idp, &app).await;

    let expected = serde_json::json!(["viewer", "team-blue", "admin"]);
    let (status, body) = get_as(&app, "/auth/status", &jar).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["roles"], expected, "{body}");
    let (status, body) = get_as(&app, "/auth/userinfo", &jar).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let info = json(&body);
    assert_eq!(info["roles"], expected, "{body}");
    assert_eq!(
        info["sub"], "alice",
        "still the provider's userinfo: {body}"
    );

    assert_eq!(
        get_as(&app, "/admin", &jar).await,
        (StatusCode::OK, "admin alice".into())
    );
    assert_eq!(
        get_as(&app, "/team/blue", &jar).await,
        (StatusCode::OK, "team blue".into())
    );
}

#[tokio::test]
async fn a_verified_email_in_admin_users_makes_an_admin() {
    let idp = Idp::start().await;
    // The fixture's alice has `email_verified: true`; the entry's case does not matter.
    let auth = builder(&idp)
        .await
        .admin_users(["ALICE@example.org"])
        .build()
        .unwrap();
    let app = role_app(&auth);
    let jar = log_in(&idp, &app).await;
    let (_, body) = get_as(&app, "/auth/status", &jar).await;
    assert_eq!(json(&body)["roles"], serde_json::json!(["admin"]), "{body}");
    assert_eq!(get_as(&app, "/admin", &jar).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_missing_role_is_403_json_and_no_session_is_401_json() {
    let idp = Idp::start().await;
    let auth = builder(&idp)
        .await
        .default_roles(["viewer"])
        .admin_users(["bob", "bob@example.org"])
        .build()
        .unwrap();
    let app = role_app(&auth);
    let jar = log_in(&idp, &app).await;
    let (_, body) = get_as(&app, "/auth/status", &jar).await;
    assert_eq!(
        json(&body)["roles"],
        serde_json::json!(["viewer"]),
        "{body}"
    );

    for (path, role) in [
        ("/admin", "admin"),
        ("/edit", "editor"),
        ("/team/red", "team-red"),
    ] {
        let (response, body) = send(&app, request("GET", path, &jar, [10, 0, 0, 1])).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let body = json(&body);
        assert_eq!(body["error"], "missing_role", "{body}");
        assert_eq!(body["role"], role, "{body}");
        assert!(body["message"].as_str().unwrap().contains(role), "{body}");
    }

    for path in ["/admin", "/edit", "/team/red"] {
        let (response, body) =
            send(&app, request("GET", path, &Jar::default(), [10, 0, 0, 1])).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{path}: {body}"
        );
        // `/team/{name}` takes the plain extractor, whose rejection stays a text page.
        if path != "/team/red" {
            assert_eq!(json(&body)["error"], "not_signed_in", "{body}");
        }
    }
}

#[tokio::test]
async fn the_builder_refuses_blank_roles_and_admin_entries() {
    let idp = Idp::start().await;
    for (roles, admins) in [(vec!["ok", ""], vec![]), (vec![], vec!["a b"])] {
        let err = builder(&idp)
            .await
            .default_roles(roles)
            .admin_users(admins)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("must be non-empty"), "{err}");
    }
}
