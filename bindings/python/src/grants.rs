//! How a manager obtains its first tokens: the seeds' grant objects (cdse's `PasswordAuth`,
//! `RefreshTokenAuth`, `ClientCredentialsAuth`; pywry's and dhis2w's browser and device
//! logins). Each holds its settings and builds a fresh core grant whenever a manager is
//! (re)built, e.g. in a forked child.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use secrecy::SecretString;

use latchkey::{
    AuthorizationCode, BrowserMode, ClientCredentials, DeviceCode, DevicePrompt, Grant, Password,
    Preset, RefreshTokenOnly,
};

/// A Python callable run from latchkey's threads; its exceptions go to `sys.unraisablehook`.
#[derive(Clone)]
pub(crate) struct Callback(Arc<Py<PyAny>>);

impl Callback {
    fn new(callable: Option<Py<PyAny>>) -> Option<Self> {
        callable.map(|c| Self(Arc::new(c)))
    }

    fn call<A>(&self, args: impl FnOnce(Python<'_>) -> PyResult<A>)
    where
        A: for<'py> pyo3::call::PyCallArgs<'py>,
    {
        Python::attach(|py| {
            if let Err(err) = args(py).and_then(|a| self.0.call1(py, a)) {
                err.write_unraisable(py, Some(self.0.bind(py)));
            }
        });
    }
}

/// Settings of one grant, enough to build it again.
#[derive(Clone)]
pub(crate) enum GrantSpec {
    ClientCredentials {
        scopes: Vec<String>,
        params: BTreeMap<String, String>,
    },
    Password {
        username: String,
        password: SecretString,
        totp: Option<SecretString>,
        scopes: Vec<String>,
    },
    RefreshToken(SecretString),
    Device {
        url: String,
        scopes: Vec<String>,
        on_prompt: Option<Callback>,
    },
    Browser {
        url: String,
        scopes: Vec<String>,
        redirect_uri: Option<String>,
        open_browser: bool,
        timeout: Duration,
        on_url: Option<Callback>,
    },
}

impl GrantSpec {
    /// The core grant; `preset` adds its authorization-request parameters to a browser
    /// login (Google's `access_type=offline`, `prompt=consent`).
    pub(crate) fn build(&self, preset: Option<&Preset>) -> latchkey::Result<Arc<dyn Grant>> {
        Ok(match self {
            GrantSpec::ClientCredentials { scopes, params } => {
                let mut grant = ClientCredentials::new().scopes(scopes.clone());
                for (name, value) in params {
                    grant = grant.param(name.clone(), value.clone());
                }
                Arc::new(grant)
            }
            GrantSpec::Password {
                username,
                password,
                totp,
                scopes,
            } => {
                let mut grant =
                    Password::new(username.clone(), password.clone()).scopes(scopes.clone());
                if let Some(code) = totp {
                    grant = grant.totp(code.clone());
                }
                Arc::new(grant)
            }
            GrantSpec::RefreshToken(token) => Arc::new(RefreshTokenOnly::new(token.clone())),
            GrantSpec::Device {
                url,
                scopes,
                on_prompt,
            } => {
                let mut builder = DeviceCode::builder(url.clone()).scopes(scopes.clone());
                if let Some(callback) = on_prompt.clone() {
                    builder = builder.on_prompt(move |prompt: &DevicePrompt| {
                        let prompt = prompt.clone();
                        callback.call(move |_| {
                            Ok((
                                prompt.verification_uri,
                                prompt.user_code,
                                prompt.verification_uri_complete,
                            ))
                        })
                    });
                }
                Arc::new(builder.build()?)
            }
            GrantSpec::Browser {
                url,
                scopes,
                redirect_uri,
                open_browser,
                timeout,
                on_url,
            } => {
                let mut request =
                    latchkey::authorization::AuthorizationRequest::builder(url.clone())
                        .scopes(scopes.clone());
                if let Some(preset) = preset {
                    request = preset.configure_authorization(request);
                }
                let request = request.build()?;
                let mut builder = AuthorizationCode::builder(request)
                    .timeout(*timeout)
                    .browser(if *open_browser {
                        BrowserMode::Auto
                    } else {
                        BrowserMode::Never
                    });
                if let Some(uri) = redirect_uri {
                    builder = builder.redirect_uri(uri.clone());
                }
                if let Some(callback) = on_url.clone() {
                    builder = builder.on_authorization_url(move |url| {
                        let url = url.to_string();
                        callback.call(move |_| Ok((url,)))
                    });
                }
                Arc::new(builder.build()?)
            }
        })
    }
}

fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

/// The client-credentials grant (a service account). `client_id`/`client_secret` may be
/// given here, as cdse does, or to the manager.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct ClientCredentialsAuth {
    pub(crate) spec: GrantSpec,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
}

#[pymethods]
impl ClientCredentialsAuth {
    #[new]
    #[pyo3(signature = (client_id = None, client_secret = None, *, scopes = Vec::new(), params = BTreeMap::new()))]
    fn new(
        client_id: Option<String>,
        client_secret: Option<String>,
        scopes: Vec<String>,
        params: BTreeMap<String, String>,
    ) -> Self {
        Self {
            spec: GrantSpec::ClientCredentials { scopes, params },
            client_id,
            client_secret: client_secret.map(secret),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "ClientCredentialsAuth(client_id={:?}, client_secret=...)",
            self.client_id
        )
    }
}

/// The resource-owner password grant, with an optional one-time code (`totp`, Keycloak
/// style; cdse's two-factor login).
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct PasswordAuth {
    pub(crate) spec: GrantSpec,
    pub(crate) client_id: Option<String>,
    username: String,
}

#[pymethods]
impl PasswordAuth {
    #[new]
    #[pyo3(signature = (username, password, *, totp = None, client_id = None, scopes = Vec::new()))]
    fn new(
        username: String,
        password: String,
        totp: Option<String>,
        client_id: Option<String>,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            spec: GrantSpec::Password {
                username: username.clone(),
                password: secret(password),
                totp: totp.map(secret),
                scopes,
            },
            client_id,
            username,
        }
    }

    fn __repr__(&self) -> String {
        format!("PasswordAuth(username={:?}, password=...)", self.username)
    }
}

/// Starts from a refresh token obtained elsewhere; when it stops working a person must log in.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct RefreshTokenAuth {
    pub(crate) spec: GrantSpec,
    pub(crate) client_id: Option<String>,
}

#[pymethods]
impl RefreshTokenAuth {
    #[new]
    #[pyo3(signature = (refresh_token, *, client_id = None))]
    fn new(refresh_token: String, client_id: Option<String>) -> Self {
        Self {
            spec: GrantSpec::RefreshToken(secret(refresh_token)),
            client_id,
        }
    }

    fn __repr__(&self) -> String {
        "RefreshTokenAuth(refresh_token=...)".into()
    }
}

/// The device flow (RFC 8628): `on_prompt(verification_uri, user_code, verification_uri_complete)`
/// shows the code (default: written to stderr), then the manager polls until approved.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct DeviceCodeAuth {
    pub(crate) spec: GrantSpec,
    pub(crate) client_id: Option<String>,
}

#[pymethods]
impl DeviceCodeAuth {
    #[new]
    #[pyo3(signature = (device_authorization_url, *, client_id = None, scopes = Vec::new(), on_prompt = None))]
    fn new(
        device_authorization_url: String,
        client_id: Option<String>,
        scopes: Vec<String>,
        on_prompt: Option<Py<PyAny>>,
    ) -> Self {
        Self {
            spec: GrantSpec::Device {
                url: device_authorization_url,
                scopes,
                on_prompt: Callback::new(on_prompt),
            },
            client_id,
        }
    }

    fn __repr__(&self) -> String {
        "DeviceCodeAuth(...)".into()
    }
}

/// Authorization code + PKCE in a browser, the redirect caught on a loopback port
/// (dhis2w's `OAuth2Auth`, pywry's `AuthFlowManager`). `on_url(url)` is called with the
/// login URL (to show it, or to drive a browser in tests).
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct AuthorizationCodeAuth {
    pub(crate) spec: GrantSpec,
    pub(crate) client_id: Option<String>,
}

#[pymethods]
impl AuthorizationCodeAuth {
    #[new]
    #[pyo3(signature = (authorization_url, *, client_id = None, scopes = Vec::new(), redirect_uri = None, open_browser = true, timeout = 300.0, on_url = None))]
    fn new(
        authorization_url: String,
        client_id: Option<String>,
        scopes: Vec<String>,
        redirect_uri: Option<String>,
        open_browser: bool,
        timeout: f64,
        on_url: Option<Py<PyAny>>,
    ) -> Self {
        Self {
            spec: GrantSpec::Browser {
                url: authorization_url,
                scopes,
                redirect_uri,
                open_browser,
                timeout: Duration::try_from_secs_f64(timeout.max(0.0))
                    .unwrap_or(Duration::from_secs(300)),
                on_url: Callback::new(on_url),
            },
            client_id,
        }
    }

    fn __repr__(&self) -> String {
        "AuthorizationCodeAuth(...)".into()
    }
}

/// The grant settings and the client credentials a grant object carries.
pub(crate) struct Extracted {
    pub(crate) spec: GrantSpec,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
}

pub(crate) fn extract(grant: &Bound<'_, PyAny>) -> PyResult<Extracted> {
    if let Ok(g) = grant.cast::<ClientCredentialsAuth>() {
        let g = g.get();
        return Ok(Extracted {
            spec: g.spec.clone(),
            client_id: g.client_id.clone(),
            client_secret: g.client_secret.clone(),
        });
    }
    macro_rules! plain {
        ($($ty:ty),*) => {$(
            if let Ok(g) = grant.cast::<$ty>() {
                let g = g.get();
                return Ok(Extracted { spec: g.spec.clone(), client_id: g.client_id.clone(), client_secret: None });
            }
        )*};
    }
    plain!(
        PasswordAuth,
        RefreshTokenAuth,
        DeviceCodeAuth,
        AuthorizationCodeAuth
    );
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "grant must be one of ClientCredentialsAuth, PasswordAuth, RefreshTokenAuth, DeviceCodeAuth, AuthorizationCodeAuth, not {}",
        grant.get_type().name()?
    )))
}
