//! `request`'s output options against real servers: the fixture IdP's userinfo endpoint for
//! `-i`, `--json` and `-o`, and a small paginated API (an axum server on loopback, an API
//! under test rather than an identity provider) for `--paginate`.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_testkit::Idp;
use latchkey_testkit::clients::ALICE;
use serde_json::{Value, json};

use crate::support::{World, snapshot, text};

/// Response headers whose values change from run to run.
const VOLATILE_HEADERS: &str = r"(?m)^(date|etag|keep-alive|x-request-id): .*$";

#[tokio::test]
async fn include_json_and_output_file_on_userinfo() {
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_password_profile(
            &idp,
            "alice",
            (ALICE.0, "ALICE_PASSWORD"),
            &["--scope", "openid", "--base-url", idp.issuer(), "--default"],
        )
        .await;
    let env = [("ALICE_PASSWORD", ALICE.1)];

    let out = world.run(&["request", "GET", "me", "-i"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("HTTP/1.1 200 OK\n"), "{shown}");
    assert!(shown.contains("\n\n{\"sub\":\"alice\""), "{shown}");
    snapshot!(world, "request_include", out, VOLATILE_HEADERS => "$1: [VALUE]");

    let out = world.run(&["request", "GET", "me", "--json"], &env).await;
    let answer: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["body"]["sub"], "alice");
    assert!(
        answer["headers"]["content-type"]
            .as_str()
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{answer}"
    );
    snapshot!(
        world,
        "request_json",
        out,
        r#""(date|etag|keep-alive)":"[^"]*""# => r#""$1":"[VALUE]""#,
    );

    let file = world.dir.path().join("me.json");
    let file_arg = file.to_str().unwrap();
    let out = world
        .run(&["request", "GET", "me", "-o", file_arg], &env)
        .await;
    snapshot!(world, "request_output_file", out);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["sub"], "alice");
    // Like curl, a second run replaces the file.
    let out = world
        .run(&["request", "GET", "me", "-o", file_arg, "-i"], &env)
        .await;
    assert!(text(&out.stdout).starts_with("HTTP/1.1 200 OK\n"));
    assert!(
        !text(&out.stdout).contains("alice"),
        "the body went to the file"
    );
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(again, written);
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), a JSON body is
/// pretty-printed; the tests above show it unchanged in a pipe.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn json_is_pretty_on_a_terminal() {
    let idp = Idp::start().await;
    let world = World::new();
    world
        .add_password_profile(
            &idp,
            "alice",
            (ALICE.0, "ALICE_PASSWORD"),
            &["--scope", "openid", "--base-url", idp.issuer(), "--default"],
        )
        .await;
    let command = format!("'{}' request GET me", crate::support::bin());
    let mut script = world.tokio_cmd_of("script");
    script
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("ALICE_PASSWORD", ALICE.1);
    let out = script.output().await.expect("util-linux `script` runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    snapshot!(world, "request_pretty_on_a_terminal", out, "\r" => "");
}

/// The token the paginated API accepts.
const API_TOKEN: &str = "api-token-4711";

/// A paginated API: `/items?page=N` (three pages of two items, `Link: rel="next"` relative
/// and absolute), `/endless?page=N` (always another page), `/leaky` (its next page is on
/// another origin), `/object` (not an array). Every route wants the Bearer token.
async fn paginated_api() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    async fn page(
        State(addr): State<SocketAddr>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
        uri: axum::http::Uri,
    ) -> Response {
        let authorized = headers
            .get(header::AUTHORIZATION)
            .is_some_and(|v| v == format!("Bearer {API_TOKEN}").as_str());
        if !authorized {
            return (StatusCode::UNAUTHORIZED, "no").into_response();
        }
        let n: u32 = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let items = json!([{ "id": n * 2 - 1 }, { "id": n * 2 }]);
        let link = match uri.path() {
            "/items" if n == 1 => Some("</items?page=2>; rel=\"next\"".to_owned()),
            "/items" if n == 2 => Some(format!(
                "<http://{addr}/items?page=1>; rel=\"prev\", <http://{addr}/items?page=3>; rel=\"next\""
            )),
            "/endless" => Some(format!("</endless?page={}>; rel=\"next\"", n + 1)),
            "/leaky" => Some(format!(
                "<http://localhost:{}/items?page=2>; rel=\"next\"",
                addr.port()
            )),
            "/object" => return axum::Json(json!({ "items": [] })).into_response(),
            _ => None,
        };
        let mut response = axum::Json(items).into_response();
        if let Some(link) = link {
            response
                .headers_mut()
                .insert(header::LINK, link.parse().unwrap());
        }
        response
    }
    let app = axum::Router::new()
        .route("/items", axum::routing::get(page))
        .route("/endless", axum::routing::get(page))
        .route("/leaky", axum::routing::get(page))
        .route("/object", axum::routing::get(page))
        .with_state(addr);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn paginate_joins_same_origin_pages_up_to_the_cap() {
    let addr = paginated_api().await;
    let world = World::new();
    let base = format!("http://{addr}");
    world
        .add_profile(&[
            "profile",
            "add",
            "api",
            "--auth",
            "bearer",
            "--token-env",
            "API_TOKEN",
            "--base-url",
            &base,
            "--default",
        ])
        .await;
    let env = [("API_TOKEN", API_TOKEN)];

    let out = world
        .run(&["request", "GET", "items", "--paginate"], &env)
        .await;
    let ids: Value = serde_json::from_slice(&out.stdout).expect("one JSON array");
    assert_eq!(
        ids,
        json!([{"id":1},{"id":2},{"id":3},{"id":4},{"id":5},{"id":6}])
    );
    snapshot!(world, "request_paginate", out);

    let out = world
        .run(
            &[
                "request",
                "GET",
                "endless",
                "--paginate",
                "--max-pages",
                "2",
            ],
            &env,
        )
        .await;
    assert_eq!(out.status.code(), Some(0));
    snapshot!(world, "request_paginate_cap", out);

    let out = world
        .run(&["request", "GET", "leaky", "--paginate"], &env)
        .await;
    assert_eq!(out.status.code(), Some(1));
    snapshot!(world, "request_paginate_other_origin", out, r"localhost:\d+" => "localhost:[PORT]");

    let out = world
        .run(&["request", "GET", "object", "--paginate"], &env)
        .await;
    assert_eq!(out.status.code(), Some(1));
    snapshot!(world, "request_paginate_not_an_array", out);

    // Without the token the API refuses, and --paginate stops at the first page.
    let out = world
        .run(
            &["request", "GET", "items", "--paginate"],
            &[("API_TOKEN", "wrong")],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    snapshot!(world, "request_paginate_refused", out);
}
