//! The sign-out page served at `GET /auth/logout`.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use latchkey::html::escape_html;

/// No scripts, styles, images or frames; the form may post only to this origin; no site may
/// frame the page (a framed sign-out button is a clickjacking target).
const CSP: &str = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The sign-out page: a form that POSTs to `/auth/logout`, naming `who` (escaped here) when
/// someone is signed in.
pub(crate) fn sign_out(who: Option<&str>) -> Response {
    let line = match who {
        Some(who) => format!("You are signed in as {}.", escape_html(who)),
        None => "You are not signed in.".to_owned(),
    };
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Sign out</title></head>\n<body><h1>Sign out</h1>\n<p>{line}</p>\n\
         <form method=\"post\" action=\"/auth/logout\"><button type=\"submit\">Sign out</button>\
         </form></body></html>\n"
    );
    let mut response = Html(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it a browser sends `Origin: null` on the form's POST (Fetch
    // standard, "append a request Origin header"), and the same-origin check would refuse it.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_name_is_escaped_and_the_page_has_its_csp() {
        let response = sign_out(Some("<script>alert('x')</script> & \"co\""));
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(!body.contains("<script>"), "{body}");
        assert!(
            body.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;co&quot;"),
            "{body}"
        );
    }
}
