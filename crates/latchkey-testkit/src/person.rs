//! A scripted "person with a browser" for login tests: plain HTTP with a cookie jar that
//! honours cookie paths (oidc-provider scopes `_interaction` to `/interaction/<uid>`), filling
//! the identity provider's real HTML forms. Used by the library's login tests, the CLI tests
//! (device approval) and the web-app route tests.

use reqwest::StatusCode;
use scraper::{Html, Selector};
use url::Url;

/// The name of the user-name input of the identity provider fixture's login form.
pub(crate) const LOGIN_FIELD: &str = "login";
/// The name of its password input.
pub(crate) const PASSWORD_FIELD: &str = "password";

/// One page as the user agent saw it.
#[derive(Debug)]
pub struct Page {
    /// The URL that was requested.
    pub url: Url,
    /// The response status.
    pub status: StatusCode,
    /// The `Location` header, resolved against `url`.
    pub location: Option<Url>,
    /// The response body.
    pub body: String,
}

/// A form on a page: where it posts and the fields a browser would send.
#[derive(Debug, Clone)]
pub struct Form {
    /// Where the form is sent.
    pub action: Url,
    /// `get` or `post`, lowercase.
    pub method: String,
    /// The named inputs with their values.
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// Sets (or adds) a field.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Whether the form has a field named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
}

/// The forms of an HTML page (inputs with a name; buttons are not included: a browser sends
/// only the clicked one, which the test adds explicitly).
pub fn forms(page_url: &Url, html: &str) -> Vec<Form> {
    let document = Html::parse_document(html);
    let form_sel = Selector::parse("form").expect("selector");
    let input_sel = Selector::parse("input[name]").expect("selector");
    document
        .select(&form_sel)
        .map(|form| {
            let action = form
                .value()
                .attr("action")
                .map(|a| page_url.join(a).expect("form action resolves"))
                .unwrap_or_else(|| page_url.clone());
            let method = form
                .value()
                .attr("method")
                .unwrap_or("get")
                .to_ascii_lowercase();
            let fields = form
                .select(&input_sel)
                .map(|input| {
                    let name = input.value().attr("name").unwrap_or_default().to_owned();
                    let value = input.value().attr("value").unwrap_or_default().to_owned();
                    (name, value)
                })
                .collect();
            Form {
                action,
                method,
                fields,
            }
        })
        .collect()
}

/// A cookie-keeping HTTP client that never follows redirects by itself.
#[derive(Debug, Clone)]
pub struct UserAgent {
    http: reqwest::Client,
}

impl Default for UserAgent {
    fn default() -> Self {
        Self::new()
    }
}

impl UserAgent {
    /// A fresh user agent with an empty cookie jar.
    pub fn new() -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "a browser stand-in needs a cookie jar, which http_client() has not"
        )]
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("test HTTP client");
        Self { http }
    }

    /// GETs `url` without following redirects.
    pub async fn get(&self, url: &Url) -> Page {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        Self::page(url, response).await
    }

    /// Submits `form` as a browser would.
    pub async fn submit(&self, form: &Form) -> Page {
        let request = if form.method == "post" {
            self.http.post(form.action.clone()).form(&form.fields)
        } else {
            let mut url = form.action.clone();
            url.query_pairs_mut().extend_pairs(&form.fields);
            self.http.get(url)
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("submitting to {}: {e}", form.action));
        Self::page(&form.action, response).await
    }

    async fn page(url: &Url, response: reqwest::Response) -> Page {
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| url.join(l).expect("Location resolves"));
        let body = response.text().await.unwrap_or_default();
        Page {
            url: url.clone(),
            status,
            location,
            body,
        }
    }

    /// Follows redirects from `page` until one leaves the identity provider (`idp_origin`)
    /// — that Location is returned, not followed — or a page with content is reached.
    pub async fn follow(&self, mut page: Page, idp_origin: &str) -> Result<Page, Url> {
        for _ in 0..20 {
            let Some(next) = page.location.clone() else {
                return Ok(page);
            };
            if !next.as_str().starts_with(idp_origin) {
                return Err(next);
            }
            page = self.get(&next).await;
        }
        panic!("too many redirects");
    }

    /// Logs in as `user` and consents, starting at `start` (an authorization URL or a device
    /// verification page), and returns where the identity provider finally sends the
    /// browser: `Err(url)` for a redirect leaving the IdP (the client's redirect URI), or
    /// `Ok(page)` for a final page at the IdP (the device flow's success page).
    pub async fn log_in_and_consent(
        &self,
        start: &Url,
        idp_origin: &str,
        (user, password): (&str, &str),
    ) -> Result<Page, Url> {
        let mut page = self.follow(self.get(start).await, idp_origin).await?;
        for _ in 0..10 {
            let mut all = forms(&page.url, &page.body);
            let Some(form) = all.first_mut() else {
                return Ok(page);
            };
            if form.has(PASSWORD_FIELD) {
                form.set(LOGIN_FIELD, user).set(PASSWORD_FIELD, password);
            }
            // The device flow's "Confirm Device" form: its Continue button is outside the
            // form and sends nothing extra; the hidden `confirm=yes` approves.
            page = self.follow(self.submit(form).await, idp_origin).await?;
            assert!(
                !page.body.contains("Invalid username or password"),
                "login as {user} was rejected"
            );
        }
        panic!("the login did not finish; last page: {}", page.body);
    }
}

/// The `Location` a cancelled interaction sends the browser to: follows the login page's
/// "Cancel" link (`/interaction/<uid>/abort`), which oidc-provider answers with
/// `error=access_denied` at the redirect URI.
pub async fn cancel_login(agent: &UserAgent, start: &Url, idp_origin: &str) -> Url {
    let page = agent
        .follow(agent.get(start).await, idp_origin)
        .await
        .expect("the login page, not a redirect");
    let abort = page
        .url
        .join(&format!("{}/abort", page.url.path()))
        .expect("abort URL");
    match agent.follow(agent.get(&abort).await, idp_origin).await {
        Err(redirect) => redirect,
        Ok(page) => panic!("cancelling did not redirect: {}", page.body),
    }
}

/// Approves a device login the way a person on a phone would: opens the complete verification
/// URI (`verification_uri_complete`), confirms the code, logs in as `user` and consents.
/// Panics unless the identity provider ends on its "Sign-in Success" page.
pub async fn approve_device(verification_uri_complete: &Url, idp_origin: &str, user: (&str, &str)) {
    let page = UserAgent::new()
        .log_in_and_consent(verification_uri_complete, idp_origin, user)
        .await
        .expect("the device flow ends on an IdP page");
    assert!(
        page.body.contains("Sign-in Success"),
        "the device approval did not succeed: {}",
        page.body
    );
}
