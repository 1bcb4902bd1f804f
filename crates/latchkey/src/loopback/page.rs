//! The pages the loopback receiver answers the browser with, and their branding.
//!
//! Every word on a page that comes from the identity provider, the embedder or the user
//! (the product and profile names, the provider's `error` and `error_description`) goes
//! through [`escape_html`]. The one inline style is allowed by its SHA-256 hash in the
//! `Content-Security-Policy`; the pages carry no script, so the policy allows none.

use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{Error, Result};
use crate::html::escape_html;

/// The stylesheet; `__ACCENT__` becomes the validated accent colour.
const STYLE: &str = include_str!("page.css");
/// Product name on pages when the embedder names none.
pub const DEFAULT_PRODUCT_NAME: &str = "latchkey";
/// Accent colour on pages when the embedder picks none.
pub const DEFAULT_ACCENT_COLOR: &str = "#3b5bdb";
/// Where the user goes back to when the embedder names nothing else.
const DEFAULT_RETURN_TO: &str = "the terminal";
/// Long enough for any product or profile name; a page is no place for an essay.
const MAX_LABEL_CHARS: usize = 100;

/// How the loopback receiver's pages look and what they name: the product, its accent
/// colour and logo, the profile that is logging in, and where the user goes back to.
///
/// The default is latchkey's own branding. Build one with [`LoopbackPage::builder`] and
/// hand it to [`crate::grant::AuthorizationCodeBuilder::page`].
///
/// ```
/// use latchkey::loopback::LoopbackPage;
///
/// let page = LoopbackPage::builder()
///     .product_name("Acme Desktop")
///     .accent_color("#0a7d55")
///     .profile("prod")
///     .return_to("Acme Desktop")
///     .build()?;
/// assert!(page.content_security_policy().starts_with("default-src 'none'"));
/// # Ok::<(), latchkey::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LoopbackPage {
    product: String,
    logo: Option<Url>,
    profile: Option<String>,
    return_to: String,
    /// The stylesheet with the accent filled in, and its CSP hash source.
    style: String,
    style_hash: String,
}

impl LoopbackPage {
    /// Starts from latchkey's branding.
    pub fn builder() -> LoopbackPageBuilder {
        LoopbackPageBuilder {
            product_name: DEFAULT_PRODUCT_NAME.into(),
            accent_color: DEFAULT_ACCENT_COLOR.into(),
            logo_url: None,
            profile: None,
            return_to: DEFAULT_RETURN_TO.into(),
        }
    }

    /// The `Content-Security-Policy` every page is sent with: nothing may load or run but
    /// the page's own stylesheet (by hash) and, when set, the logo's origin.
    pub fn content_security_policy(&self) -> String {
        let img = match &self.logo {
            Some(logo) => format!("img-src {}; ", logo.origin().ascii_serialization()),
            None => String::new(),
        };
        format!(
            "default-src 'none'; style-src '{hash}'; {img}base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            hash = self.style_hash
        )
    }

    fn with_style(
        product: String,
        accent: &str,
        logo: Option<Url>,
        profile: Option<String>,
        return_to: String,
    ) -> Self {
        let style = STYLE.replace("__ACCENT__", accent);
        let digest = Sha256::digest(style.as_bytes());
        let style_hash = format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        Self {
            product,
            logo,
            profile,
            return_to,
            style,
            style_hash,
        }
    }
}

impl Default for LoopbackPage {
    fn default() -> Self {
        Self::with_style(
            DEFAULT_PRODUCT_NAME.into(),
            DEFAULT_ACCENT_COLOR,
            None,
            None,
            DEFAULT_RETURN_TO.into(),
        )
    }
}

impl fmt::Debug for LoopbackPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackPage")
            .field("product", &self.product)
            .field("logo", &self.logo.as_ref().map(Url::as_str))
            .field("profile", &self.profile)
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// Builds a [`LoopbackPage`]; `build()` checks every field.
#[derive(Debug, Clone)]
pub struct LoopbackPageBuilder {
    product_name: String,
    accent_color: String,
    logo_url: Option<String>,
    profile: Option<String>,
    return_to: String,
}

impl LoopbackPageBuilder {
    /// The product named in the page's header and title (default `latchkey`).
    pub fn product_name(mut self, name: impl Into<String>) -> Self {
        self.product_name = name.into();
        self
    }

    /// The accent colour, a CSS hex colour: `#` and 3, 4, 6 or 8 hex digits (default
    /// `#3b5bdb`). Anything else is refused at `build()`, so nothing but a colour can reach
    /// the stylesheet.
    pub fn accent_color(mut self, color: impl Into<String>) -> Self {
        self.accent_color = color.into();
        self
    }

    /// A logo shown next to the product name: an `https` URL without user info. The page's
    /// policy then allows images from that origin only. The browser fetches it with no
    /// `Referer`, so the redirect's code never reaches the logo's host.
    pub fn logo_url(mut self, url: impl Into<String>) -> Self {
        self.logo_url = Some(url.into());
        self
    }

    /// The profile (or account label) the login is for, named on the success page. The
    /// page is served as soon as the redirect arrives, before the code is exchanged and
    /// the ID token checked, so it names the profile rather than an account from the ID
    /// token, and says that the rest of the login finishes in the application.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Where the user goes back to, completing "return to …" (default `the terminal`).
    pub fn return_to(mut self, place: impl Into<String>) -> Self {
        self.return_to = place.into();
        self
    }

    /// Checks the configuration and builds the page settings.
    pub fn build(self) -> Result<LoopbackPage> {
        let product = label("product_name", self.product_name)?;
        let return_to = label("return_to", self.return_to)?;
        let profile = self.profile.map(|p| label("profile", p)).transpose()?;
        if !is_hex_color(&self.accent_color) {
            return Err(Error::Config(format!(
                "`accent_color` must be a CSS hex colour: `#` and 3, 4, 6 or 8 hex digits, \
                 such as {DEFAULT_ACCENT_COLOR}; got {:?}",
                self.accent_color.chars().take(40).collect::<String>()
            )));
        }
        let logo = self.logo_url.as_deref().map(logo_url).transpose()?;
        Ok(LoopbackPage::with_style(
            product,
            &self.accent_color,
            logo,
            profile,
            return_to,
        ))
    }
}

fn label(field: &str, value: String) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::Config(format!("`{field}` must not be empty")));
    }
    if trimmed.chars().count() > MAX_LABEL_CHARS {
        return Err(Error::Config(format!(
            "`{field}` must be at most {MAX_LABEL_CHARS} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::Config(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa` (CSS Color 4 §5.2).
fn is_hex_color(color: &str) -> bool {
    color.strip_prefix('#').is_some_and(|hex| {
        matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn logo_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw)
        .map_err(|e| Error::Config(format!("`logo_url` is not a valid URL ({e})")))?;
    if url.scheme() != "https" || url.host().is_none() {
        return Err(Error::Config(
            "`logo_url` must be an https URL: the page may load images from that origin only"
                .into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "`logo_url` must not carry a user name or password".into(),
        ));
    }
    Ok(url)
}

/// Whether a page reports a success or a failure (its mark and colours).
#[derive(Clone, Copy)]
enum Tone {
    Ok,
    Fail,
}

/// A complete HTML document; every text argument is escaped here.
fn document(page: &LoopbackPage, tone: Tone, title: &str, lines: &[Line<'_>]) -> String {
    let product = escape_html(&page.product);
    let title = escape_html(title);
    let logo = match &page.logo {
        Some(url) => format!("<img src=\"{}\" alt=\"\">", escape_html(url.as_str())),
        None => String::new(),
    };
    let (class, mark) = match tone {
        Tone::Ok => ("ok", "&#x2713;"),
        Tone::Fail => ("fail", "&#x2715;"),
    };
    let mut body = String::new();
    for line in lines {
        body.push_str(&line.render());
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} \u{2013} {product}</title><style>{style}</style></head>\n\
         <body class=\"{class}\"><main>\n<header>{logo}<span class=\"product\">{product}</span></header>\n\
         <div class=\"mark\" aria-hidden=\"true\">{mark}</div>\n<h1>{title}</h1>\n{body}</main></body></html>\n",
        style = page.style,
    )
}

/// One paragraph: plain text, or text around one emphasised value.
enum Line<'a> {
    Text(&'a str),
    Next(String),
    Named {
        before: &'a str,
        name: &'a str,
        after: &'a str,
    },
}

impl Line<'_> {
    fn render(&self) -> String {
        match self {
            Line::Text(text) => format!("<p>{}</p>\n", escape_html(text)),
            Line::Next(text) => format!("<p class=\"next\">{}</p>\n", escape_html(text)),
            Line::Named {
                before,
                name,
                after,
            } => format!(
                "<p>{}<strong>{}</strong>{}</p>\n",
                escape_html(before),
                escape_html(name),
                escape_html(after)
            ),
        }
    }
}

pub(crate) fn success(page: &LoopbackPage) -> String {
    let next = format!(
        "You can close this tab and return to {}, which finishes the login.",
        page.return_to
    );
    let mut lines = Vec::new();
    match &page.profile {
        Some(profile) => lines.push(Line::Named {
            before: "You are logged in to profile ",
            name: profile,
            after: ".",
        }),
        None => lines.push(Line::Text("You are logged in.")),
    }
    lines.push(Line::Next(next));
    document(page, Tone::Ok, "Login complete", &lines)
}

pub(crate) fn failure(page: &LoopbackPage, error: &str, description: Option<&str>) -> String {
    let answer = match description {
        Some(d) => format!("The identity provider answered {error}: {d}"),
        None => format!("The identity provider answered {error}."),
    };
    failed(page, &answer)
}

/// A login that ended with an error other than the provider's own answer.
pub(crate) fn failed(page: &LoopbackPage, message: &str) -> String {
    let next = format!(
        "Return to {} to see what to do next, then start the login again.",
        page.return_to
    );
    let mut lines = Vec::new();
    if let Some(profile) = &page.profile {
        lines.push(Line::Named {
            before: "Profile ",
            name: profile,
            after: " is not logged in.",
        });
    }
    lines.push(Line::Text(message));
    lines.push(Line::Next(next));
    document(page, Tone::Fail, "Login failed", &lines)
}

pub(crate) fn foreign(page: &LoopbackPage) -> String {
    document(
        page,
        Tone::Fail,
        "Unexpected login response",
        &[
            Line::Text(
                "This response does not belong to the login in progress (its state does not \
                 match).",
            ),
            Line::Next("Use the newest login tab, or start the login again.".into()),
        ],
    )
}

pub(crate) fn not_found(page: &LoopbackPage) -> String {
    document(
        page,
        Tone::Fail,
        "Not found",
        &[Line::Text("Nothing here.")],
    )
}

pub(crate) fn bad_request(page: &LoopbackPage) -> String {
    document(
        page,
        Tone::Fail,
        "Bad request",
        &[Line::Text("This request cannot be understood.")],
    )
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
        let page = failure(
            &LoopbackPage::default(),
            "access_denied",
            Some("<img src=x onerror=alert(1)>"),
        );
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
    }

    #[test]
    fn the_style_hash_is_the_hash_of_the_style_on_the_page() {
        let branded = LoopbackPage::builder()
            .accent_color("#0a7d55")
            .build()
            .unwrap();
        for page in [LoopbackPage::default(), branded] {
            let html = success(&page);
            let style = html
                .split_once("<style>")
                .and_then(|(_, rest)| rest.split_once("</style>"))
                .map(|(style, _)| style)
                .unwrap();
            let digest = Sha256::digest(style.as_bytes());
            let expected = format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            );
            assert!(
                page.content_security_policy().contains(&expected),
                "{}",
                page.content_security_policy()
            );
            assert!(!html.contains("<script"), "{html}");
        }
    }

    #[test]
    fn hex_colours_only() {
        for ok in ["#abc", "#ABCD", "#0a7d55", "#0a7d55cc"] {
            assert!(is_hex_color(ok), "{ok}");
        }
        for bad in [
            "red",
            "abc",
            "#ab",
            "#abcde",
            "#ggg",
            "#abc;}body{x:y",
            "#0a7d55 ",
            "",
        ] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }

    #[test]
    fn a_logo_must_be_https_and_its_origin_alone_is_allowed() {
        let page = LoopbackPage::builder()
            .logo_url("https://cdn.example/a/logo.svg?v=1")
            .build()
            .unwrap();
        assert!(
            page.content_security_policy()
                .contains("img-src https://cdn.example;"),
            "{}",
            page.content_security_policy()
        );
        assert!(success(&page).contains("<img src=\"https://cdn.example/a/logo.svg?v=1\""));
        for bad in [
            "http://cdn.example/logo.png",
            "data:image/png;base64,AAAA",
            "javascript:alert(1)",
            "https://user:pw@cdn.example/logo.png",
            "not a url",
        ] {
            let err = LoopbackPage::builder().logo_url(bad).build().unwrap_err();
            assert!(err.to_string().contains("logo_url"), "{bad}: {err}");
        }
    }

    #[test]
    fn labels_must_be_short_printable_text() {
        for (builder, field) in [
            (LoopbackPage::builder().product_name("  "), "product_name"),
            (LoopbackPage::builder().profile("a\nb"), "profile"),
            (
                LoopbackPage::builder().return_to("x".repeat(101)),
                "return_to",
            ),
        ] {
            let err = builder.build().unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
