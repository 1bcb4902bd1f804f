//! The small HTML pages the loopback receiver answers the browser with.

use crate::html::escape_html;

/// A complete HTML document with `title` and `message`, both escaped here.
pub(crate) fn document(title: &str, message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title></head>\n<body><h1>{title}</h1>\n<p>{message}</p></body></html>\n",
        title = escape_html(title),
        message = escape_html(message),
    )
}

pub(crate) fn success() -> String {
    document(
        "Login complete",
        "You are logged in. You can close this tab and return to the terminal.",
    )
}

pub(crate) fn failure(error: &str, description: Option<&str>) -> String {
    let message = match description {
        Some(d) => format!("The identity provider answered {error}: {d}"),
        None => format!("The identity provider answered {error}."),
    };
    document(
        "Login failed",
        &format!("{message} Return to the terminal."),
    )
}

pub(crate) fn foreign() -> String {
    document(
        "Unexpected login response",
        "This response does not belong to the login in progress (its state does not match). \
         Use the newest login tab, or start the login again.",
    )
}

pub(crate) fn not_found() -> String {
    document("Not found", "Nothing here.")
}

pub(crate) fn bad_request() -> String {
    document("Bad request", "This request cannot be understood.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_html_specials() {
        assert_eq!(
            escape_html(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#x27;y&#x27;)&lt;/script&gt;"
        );
        assert_eq!(escape_html("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn failure_page_escapes_the_providers_words() {
        let page = failure("access_denied", Some("<img src=x onerror=alert(1)>"));
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
    }
}
