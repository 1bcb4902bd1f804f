//! `TokenSet`: a read-only view of the tokens a manager holds (cdse's `TokenSet`, pywry's
//! `OAuthTokenSet`). `repr()` never shows a token.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyFloat, PyList, PyString};
use secrecy::ExposeSecret;

/// The tokens from one grant or refresh. Times are Unix seconds (`float`).
#[pyclass(frozen, module = "latchkey._core")]
pub(crate) struct TokenSet {
    pub(crate) inner: Arc<latchkey::TokenSet>,
}

fn unix(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn skew(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or_default()
}

#[pymethods]
impl TokenSet {
    /// The access token. This is the secret itself: keep it out of logs.
    #[getter]
    fn access_token(&self) -> &str {
        self.inner.access_token().expose_secret()
    }

    #[getter]
    fn token_type(&self) -> &str {
        self.inner.token_type()
    }

    #[getter]
    fn refresh_token(&self) -> Option<&str> {
        self.inner.refresh_token().map(|t| t.expose_secret())
    }

    #[getter]
    fn id_token(&self) -> Option<&str> {
        self.inner.id_token().map(|t| t.expose_secret())
    }

    #[getter]
    fn scopes(&self) -> Vec<String> {
        self.inner.scopes().to_vec()
    }

    #[getter]
    fn expires_at(&self) -> Option<f64> {
        self.inner.expires_at().map(unix)
    }

    #[getter]
    fn refresh_expires_at(&self) -> Option<f64> {
        self.inner.refresh_expires_at().map(unix)
    }

    #[getter]
    fn obtained_at(&self) -> f64 {
        unix(self.inner.obtained_at())
    }

    /// Whether the access token is still valid `skew` seconds from now.
    #[pyo3(signature = (skew_seconds = 0.0))]
    fn access_valid(&self, skew_seconds: f64) -> bool {
        self.inner
            .access_valid(SystemTime::now(), skew(skew_seconds))
    }

    /// Whether a refresh token is held and still valid `skew` seconds from now.
    #[pyo3(signature = (skew_seconds = 0.0))]
    fn refresh_valid(&self, skew_seconds: f64) -> bool {
        self.inner
            .refresh_valid(SystemTime::now(), skew(skew_seconds))
    }

    /// pywry's `OAuthTokenSet.issued_at`: when the tokens were obtained (Unix seconds).
    #[getter]
    fn issued_at(&self) -> f64 {
        self.obtained_at()
    }

    /// pywry's `OAuthTokenSet.expires_in`: the access token's lifetime from `issued_at`, in
    /// whole seconds.
    #[getter]
    fn expires_in(&self) -> Option<u64> {
        let at = self.inner.expires_at()?;
        Some(
            at.duration_since(self.inner.obtained_at())
                .unwrap_or_default()
                .as_secs(),
        )
    }

    /// pywry's `OAuthTokenSet.scope`: the scopes, space-separated.
    #[getter]
    fn scope(&self) -> String {
        self.inner.scopes().join(" ")
    }

    /// pywry's `OAuthTokenSet.raw`: the token response's fields that latchkey does not model
    /// (the standard ones are the attributes above).
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let extra = serde_json::to_string(self.inner.extra())
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (extra,))
    }

    /// pywry's name: the access token has expired.
    #[getter]
    fn is_expired(&self) -> bool {
        !self.inner.access_valid(SystemTime::now(), Duration::ZERO)
    }

    /// The `Authorization` header value (`Bearer …`).
    #[getter]
    fn authorization_header(&self) -> PyResult<String> {
        let value = self
            .inner
            .authorization_header()
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(String::from_utf8_lossy(value.as_bytes()).into_owned())
    }

    /// latchkey's stored record of these tokens (versioned, the file store's form): what a
    /// store written in Python keeps. It holds the secrets: keep it in protected places.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.to_json(),))
    }

    /// [`to_dict`](Self::to_dict) as JSON text.
    fn to_json(&self) -> String {
        String::from_utf8_lossy(&latchkey::store::record::encode(&self.inner)).into_owned()
    }

    /// Tokens from a record made by `to_dict()`/`to_json()`, or from a token object or dict
    /// of the seed libraries (`access_token`, `expires_at`/`expires_in`/`access_expiry`…).
    #[staticmethod]
    fn from_dict(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        from_python(py, value)
            .map(|tokens| Self {
                inner: Arc::new(tokens),
            })
            .map_err(|reason| {
                pyo3::exceptions::PyValueError::new_err(format!("not a token set: {reason}"))
            })
    }

    /// [`from_dict`](Self::from_dict) for JSON text.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Self> {
        Self::from_dict(py, text.as_any())
    }

    /// Python's own notation for every value (`None`, numbers, a list of `str`), and no
    /// token: only whether one is there.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let secret = |present: bool| if present { "'[REDACTED]'" } else { "None" };
        let scopes = PyList::new(py, self.inner.scopes())?.repr()?;
        let expires_at = match self.inner.expires_at() {
            Some(at) => PyFloat::new(py, unix(at)).repr()?.to_string(),
            None => "None".to_owned(),
        };
        Ok(format!(
            "TokenSet(token_type={}, access_token='[REDACTED]', refresh_token={}, id_token={}, scopes={scopes}, expires_at={expires_at})",
            PyString::new(py, self.inner.token_type()).repr()?,
            secret(self.inner.refresh_token().is_some()),
            secret(self.inner.id_token().is_some()),
        ))
    }
}

/// A token set from latchkey's `TokenSet`, its record (a dict or JSON text), or a token
/// object of another library; the error says what is wrong without quoting a value.
pub(crate) fn from_python(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
) -> Result<latchkey::TokenSet, String> {
    static TO_RECORD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    if let Ok(ours) = value.cast::<TokenSet>() {
        return Ok(latchkey::TokenSet::clone(&ours.get().inner));
    }
    let text: String = TO_RECORD
        .import(py, "latchkey._store_bridge", "to_record")
        .and_then(|to_record| to_record.call1((value,)))
        .and_then(|text| text.extract())
        .map_err(|e| e.value(py).str().map(|s| s.to_string()).unwrap_or_default())?;
    latchkey::store::record::decode(text.as_bytes())
}
