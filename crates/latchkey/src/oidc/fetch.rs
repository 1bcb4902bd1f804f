//! One GET helper for the OIDC documents (discovery, JWKS, userinfo).

use http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::error::{Error, Result};
use crate::http::read_body;

pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Fetched {
    /// Whether the answer declares itself HTML (a login page, a proxy's error page).
    pub(crate) fn is_html(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
    }
}

/// GETs `url` asking for JSON, optionally with a Bearer token.
pub(crate) async fn get(
    http: &reqwest::Client,
    url: &Url,
    bearer: Option<&SecretString>,
) -> Result<Fetched> {
    let mut request = http.get(url.clone()).header(ACCEPT, "application/json");
    let mut traced = vec![("accept", "application/json")];
    let authorization = match bearer {
        Some(token) => {
            let mut value =
                http::HeaderValue::try_from(format!("Bearer {}", token.expose_secret())).map_err(
                    |_| Error::Config("the access token cannot be put in a header".into()),
                )?;
            value.set_sensitive(true);
            Some(value)
        }
        None => None,
    };
    if let Some(value) = &authorization {
        traced.push(("authorization", value.to_str().unwrap_or("Bearer")));
    }
    crate::http_trace::request(&http::Method::GET, url, &traced, None, b"");
    if let Some(value) = authorization.clone() {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.map_err(|e| Error::network(url, e))?;
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let cache_control = header(CACHE_CONTROL);
    let status_code = response.status();
    let status = status_code.as_u16();
    let headers = response.headers().clone();
    let body = read_body(response, url).await?;
    crate::http_trace::response(url, status_code, &headers, Some(&body));
    Ok(Fetched {
        status,
        content_type,
        cache_control,
        body,
    })
}
