//! Fixed credentials (dhis2w's `BasicAuth`, `PatAuth`; bearer tokens, custom headers, query
//! parameters): the same object shape as a manager, with nothing to refresh.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use secrecy::{ExposeSecret, SecretString};

use latchkey::StaticAuth;

use crate::errors;

/// Fixed credentials. `header()` is the `Authorization` value (`None` for header or query
/// kinds without one); `headers()` and `query_params()` are everything to add.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct StaticCredentials {
    kind: &'static str,
    header: Option<Py<PyString>>,
    headers: Vec<(String, Py<PyString>)>,
    query: Vec<(String, Py<PyString>)>,
}

impl StaticCredentials {
    pub(crate) fn from_core(py: Python<'_>, auth: &StaticAuth) -> PyResult<Self> {
        let kind = match auth {
            StaticAuth::Basic { .. } => "basic",
            StaticAuth::ApiToken(_) => "api-token",
            StaticAuth::Bearer(_) => "bearer",
            StaticAuth::Headers(_) => "headers",
            StaticAuth::QueryParams(_) => "query",
            _ => "other",
        };
        let values = auth.header_values().map_err(|e| errors::core(py, &e))?;
        let mut header = None;
        let mut headers = Vec::new();
        for (name, value) in values {
            let text = PyString::new(py, &String::from_utf8_lossy(value.as_bytes())).unbind();
            if name == http::header::AUTHORIZATION {
                header = Some(text.clone_ref(py));
            }
            headers.push((name.as_str().to_owned(), text));
        }
        let query = match auth {
            StaticAuth::QueryParams(pairs) => pairs
                .iter()
                .map(|(k, v)| (k.clone(), PyString::new(py, v.expose_secret()).unbind()))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            kind,
            header,
            headers,
            query,
        })
    }
}

fn pairs(values: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, SecretString)>> {
    let mut out = Vec::new();
    if let Some(values) = values {
        for (k, v) in values.iter() {
            out.push((
                k.extract::<String>()?,
                SecretString::from(v.extract::<String>()?),
            ));
        }
    }
    Ok(out)
}

#[pymethods]
impl StaticCredentials {
    /// `kind` is `basic` (`username`, `secret` = password), `api-token` or `bearer`
    /// (`secret`), `headers` or `query` (`values`).
    #[new]
    #[pyo3(signature = (kind, *, username = None, secret = None, values = None))]
    fn new(
        py: Python<'_>,
        kind: &Bound<'_, PyAny>,
        username: Option<String>,
        secret: Option<String>,
        values: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        // Another view of existing credentials (what `latchkey.profile` wraps).
        if let Ok(existing) = kind.cast::<StaticCredentials>() {
            let e = existing.get();
            return Ok(Self {
                kind: e.kind,
                header: e.header.as_ref().map(|h| h.clone_ref(py)),
                headers: e
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone_ref(py)))
                    .collect(),
                query: e
                    .query
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone_ref(py)))
                    .collect(),
            });
        }
        let kind: &str = &kind.extract::<String>()?;
        let config = |what: String| errors::core(py, &latchkey::Error::Config(what));
        let needs_secret = || {
            secret
                .clone()
                .map(SecretString::from)
                .ok_or_else(|| config(format!("`{kind}` credentials need a secret")))
        };
        let auth = match kind {
            "basic" => StaticAuth::basic(
                username
                    .clone()
                    .ok_or_else(|| config("basic credentials need a username".into()))?,
                needs_secret()?,
            ),
            "api-token" => StaticAuth::ApiToken(needs_secret()?),
            "bearer" => StaticAuth::Bearer(needs_secret()?),
            "headers" => StaticAuth::headers(pairs(values)?).map_err(|e| errors::core(py, &e))?,
            "query" => StaticAuth::query_params(pairs(values)?),
            other => {
                return Err(config(format!(
                    "unknown credential kind `{other}`; use basic, api-token, bearer, headers or query"
                )));
            }
        };
        Self::from_core(py, &auth)
    }

    /// The `Authorization` header value, if these credentials set one.
    fn header(&self, py: Python<'_>) -> Option<Py<PyString>> {
        self.header.as_ref().map(|h| h.clone_ref(py))
    }

    /// Every header to add.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in &self.headers {
            dict.set_item(name, value.bind(py))?;
        }
        Ok(dict)
    }

    /// Every query parameter to add.
    fn query_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in &self.query {
            dict.set_item(name, value.bind(py))?;
        }
        Ok(dict)
    }

    /// Nothing to refresh: fixed credentials.
    fn refresh_if_needed(&self) {}

    /// Nothing to renew: a 401 with fixed credentials is final.
    #[pyo3(signature = (rejected = None))]
    fn invalidate(&self, rejected: Option<&str>) {
        let _ = rejected;
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn __repr__(&self) -> String {
        format!("StaticCredentials(kind={:?}, secret=[REDACTED])", self.kind)
    }
}
