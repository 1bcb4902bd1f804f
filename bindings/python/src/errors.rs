//! latchkey's errors as the Python classes of `latchkey.errors`, grouped like the CLI's
//! exit codes, with the hint attached as a note.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

use latchkey::{Error, ProfileError};

/// The Python class for a core error: the group of its CLI exit code, or a finer class
/// inside that group.
fn class_of(err: &Error) -> &'static str {
    match err {
        Error::Config(_) => "ConfigError",
        Error::Oidc(latchkey::oidc::OidcError::UnknownPreset { .. }) => "ConfigError",
        Error::LoginRequired { .. } => "LoginRequiredError",
        Error::Provider(_) => "ProviderError",
        Error::Login(_) => "LoginError",
        Error::IdToken(_) => "IdTokenError",
        Error::Oidc(_)
        | Error::InvalidResponse { .. }
        | Error::HttpStatus { .. }
        | Error::TokenRefused { .. } => "IdentityProviderError",
        Error::Network {
            timed_out: true, ..
        } => "NetworkTimeout",
        Error::Network { .. } => "NetworkError",
        Error::Store(_) => "StoreError",
        _ => "LatchkeyError",
    }
}

/// A core error as a Python exception, with the library's hint.
pub(crate) fn core(py: Python<'_>, err: &Error) -> PyErr {
    let hint = crate::py_store::hint(err).or_else(|| err.hint());
    build(py, class_of(err), err.to_string(), hint, err)
}

/// A profile error as a Python exception, with the hint worded for the command line (the
/// profile is shared with `latchkey`, so its commands are the way out).
pub(crate) fn profile(py: Python<'_>, err: &ProfileError) -> PyErr {
    match err {
        ProfileError::Core(inner) => build(py, class_of(inner), err.to_string(), err.hint(), inner),
        _ => {
            let made = make(py, "ConfigError", err.to_string(), err.hint(), None);
            made.unwrap_or_else(|e| e)
        }
    }
}

fn build(py: Python<'_>, class: &str, message: String, hint: Option<String>, err: &Error) -> PyErr {
    let attrs = PyDict::new(py);
    let filled: PyResult<()> = (|| {
        attrs.set_item("retryable", err.is_retryable())?;
        if let Error::Provider(p) = err {
            attrs.set_item("error", &p.error)?;
            attrs.set_item("description", p.description.as_deref())?;
            attrs.set_item("status", p.status)?;
        }
        if let Error::LoginRequired { key, .. } = err {
            attrs.set_item("key", key)?;
        }
        if let Error::HttpStatus { status, .. } = err {
            attrs.set_item("status", status)?;
        }
        Ok(())
    })();
    if let Err(e) = filled {
        return e;
    }
    make(py, class, message, hint, Some(attrs)).unwrap_or_else(|e| e)
}

fn make(
    py: Python<'_>,
    class: &str,
    message: String,
    hint: Option<String>,
    attrs: Option<Bound<'_, PyDict>>,
) -> PyResult<PyErr> {
    static FROM_CORE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let from_core = FROM_CORE.import(py, "latchkey.errors", "_from_core")?;
    let exc = from_core.call1((class, message, hint, attrs))?;
    Ok(PyErr::from_value(exc))
}

/// A configuration error found by the binding itself.
pub(crate) fn config(py: Python<'_>, message: String, hint: Option<String>) -> PyErr {
    make(py, "ConfigError", message, hint, None).unwrap_or_else(|e| e)
}
