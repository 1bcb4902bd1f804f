//! OpenID Connect for Python (pywry's provider presets, `validate_id_token`, userinfo):
//! discovery or a preset's endpoints, ID token validation against the provider's keys, and
//! userinfo.

use std::sync::Arc;

use pyo3::prelude::*;
use secrecy::SecretString;

use latchkey::Preset;
use latchkey::preset::{PresetVars, Resolved};

use crate::errors;
use crate::runtime::{block_on, into_future};

/// An OpenID provider's endpoints and keys.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct OidcProvider {
    inner: latchkey::OidcProvider,
    pid: u32,
}

impl OidcProvider {
    fn wrap(inner: latchkey::OidcProvider) -> Self {
        Self {
            inner,
            pid: std::process::id(),
        }
    }

    /// This process's provider: a forked child builds its own HTTP client and key cache
    /// (the parent's belong to a runtime the child does not have).
    fn current(&self, py: Python<'_>) -> PyResult<latchkey::OidcProvider> {
        if self.pid == std::process::id() {
            return Ok(self.inner.clone());
        }
        latchkey::OidcProvider::from_metadata(Arc::new(self.inner.metadata().clone()), None)
            .map_err(|e| errors::core(py, &e))
    }

    fn url(url: Option<&url::Url>) -> Option<String> {
        url.map(|u| u.to_string())
    }
}

/// The event loop of the calling coroutine; outside one, asyncio's own `RuntimeError`.
fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("asyncio")?.call_method0("get_running_loop")
}

fn to_python(py: Python<'_>, value: &impl serde::Serialize) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

#[pymethods]
impl OidcProvider {
    /// Reads `issuer`'s discovery document (`/.well-known/openid-configuration`).
    #[staticmethod]
    fn discover(py: Python<'_>, issuer: String) -> PyResult<Self> {
        let found = block_on(py, async move {
            latchkey::OidcProvider::discover(&issuer).await
        })?
        .map_err(|e| errors::core(py, &e))?;
        Ok(Self::wrap(found))
    }

    /// A provider preset (`google`, `github`, `microsoft`, `keycloak`, `dhis2`, `cdse`,
    /// `oidc` …; `preset_names()` lists them), with the values some of them need
    /// (`client_id`: GitHub's revocation URL names it).
    #[staticmethod]
    #[pyo3(signature = (name, *, issuer = None, base_url = None, realm = None, tenant = None, client_id = None))]
    fn from_preset(
        py: Python<'_>,
        name: &str,
        issuer: Option<String>,
        base_url: Option<String>,
        realm: Option<String>,
        tenant: Option<String>,
        client_id: Option<String>,
    ) -> PyResult<Self> {
        let preset = Preset::by_name(name).map_err(|e| errors::core(py, &e))?;
        let mut vars = PresetVars::default();
        if let Some(v) = issuer {
            vars = vars.issuer(v);
        }
        if let Some(v) = base_url {
            vars = vars.base_url(v);
        }
        if let Some(v) = realm {
            vars = vars.realm(v);
        }
        if let Some(v) = tenant {
            vars = vars.tenant(v);
        }
        if let Some(v) = client_id {
            vars = vars.client_id(v);
        }
        let resolved = preset.resolve(&vars).map_err(|e| errors::core(py, &e))?;
        let found = match resolved {
            Resolved::Discover { issuer } => block_on(py, async move {
                latchkey::OidcProvider::discover(&issuer).await
            })?,
            Resolved::Static(metadata) => {
                latchkey::OidcProvider::from_metadata(Arc::new(*metadata), None)
            }
            _ => Err(latchkey::Error::Config(format!(
                "the `{name}` preset resolves to endpoints this version cannot use"
            ))),
        }
        .map_err(|e| errors::core(py, &e))?;
        Ok(Self::wrap(found))
    }

    /// The names `from_preset` accepts.
    #[staticmethod]
    fn preset_names() -> Vec<&'static str> {
        Preset::names()
    }

    #[getter]
    fn issuer(&self) -> String {
        self.inner.metadata().issuer.clone()
    }

    #[getter]
    fn token_url(&self) -> String {
        self.inner.metadata().token_endpoint.to_string()
    }

    #[getter]
    fn authorization_url(&self) -> Option<String> {
        Self::url(self.inner.metadata().authorization_endpoint.as_ref())
    }

    #[getter]
    fn device_authorization_url(&self) -> Option<String> {
        Self::url(self.inner.metadata().device_authorization_endpoint.as_ref())
    }

    #[getter]
    fn userinfo_url(&self) -> Option<String> {
        Self::url(self.inner.metadata().userinfo_endpoint.as_ref())
    }

    #[getter]
    fn revocation_url(&self) -> Option<String> {
        Self::url(self.inner.metadata().revocation_endpoint.as_ref())
    }

    /// The userinfo claims for `access_token`; with `expected_sub` (the ID token's `sub`) an
    /// answer about another subject is refused.
    #[pyo3(signature = (access_token, expected_sub = None))]
    fn userinfo(
        &self,
        py: Python<'_>,
        access_token: String,
        expected_sub: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let provider = self.current(py)?;
        let token = SecretString::from(access_token);
        let info = block_on(py, async move {
            provider.userinfo(&token, expected_sub.as_deref()).await
        })?
        .map_err(|e| errors::core(py, &e))?;
        to_python(py, &info)
    }

    /// Validates an ID token issued to `client_id` (signature against the provider's keys,
    /// issuer, audience, expiry, and `nonce` when given) and returns its claims.
    #[pyo3(signature = (id_token, client_id, nonce = None))]
    fn validate_id_token(
        &self,
        py: Python<'_>,
        id_token: String,
        client_id: String,
        nonce: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let provider = self.current(py)?;
        let token = SecretString::from(id_token);
        let claims = block_on(py, async move {
            let validator = provider.id_token_validator(client_id)?.build()?;
            validator.validate(&token, nonce.as_deref()).await
        })?
        .map_err(|e| errors::core(py, &e))?;
        to_python(py, &claims)
    }

    /// The async twin of `userinfo`: an asyncio future on the running event loop.
    #[pyo3(signature = (access_token, expected_sub = None))]
    fn auserinfo<'py>(
        &self,
        py: Python<'py>,
        access_token: String,
        expected_sub: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let provider = self.current(py)?;
        let token = SecretString::from(access_token);
        into_future(
            running_loop(py)?,
            async move { provider.userinfo(&token, expected_sub.as_deref()).await },
            |py, outcome| to_python(py, &outcome.map_err(|e| errors::core(py, &e))?),
        )
    }

    /// The async twin of `validate_id_token`: an asyncio future on the running event loop.
    #[pyo3(signature = (id_token, client_id, nonce = None))]
    fn avalidate_id_token<'py>(
        &self,
        py: Python<'py>,
        id_token: String,
        client_id: String,
        nonce: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let provider = self.current(py)?;
        let token = SecretString::from(id_token);
        into_future(
            running_loop(py)?,
            async move {
                let validator = provider.id_token_validator(client_id)?.build()?;
                validator.validate(&token, nonce.as_deref()).await
            },
            |py, outcome| to_python(py, &outcome.map_err(|e| errors::core(py, &e))?),
        )
    }

    fn __repr__(&self) -> String {
        format!("OidcProvider(issuer={:?})", self.inner.metadata().issuer)
    }
}
