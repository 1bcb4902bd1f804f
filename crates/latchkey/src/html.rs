//! Text into HTML: the one escaper for every page latchkey and `latchkey-axum` serve.

/// Escapes text for an HTML element body or a quoted attribute value.
///
/// The five characters below are the complete set that can change the meaning of text in
/// those contexts (OWASP XSS prevention rule #1); everything else is copied as is.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
