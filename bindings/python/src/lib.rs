//! `latchkey._core`: the Rust side of the `latchkey` Python package. The public, typed API
//! is the pure-Python package (`python/latchkey/`); this module holds thin views over the
//! core's objects and the one runtime they wait on.

mod errors;
mod grants;
mod header_cell;
mod manager;
mod oidc;
mod preset;
mod profile;
mod py_store;
mod revoke;
mod runtime;
mod scheme;
mod static_auth;
mod stores;
mod tokenset;

use pyo3::prelude::*;

/// Whether a 401 with this `WWW-Authenticate` value can be fixed by a new token (not for
/// `insufficient_scope` or a demand for a stronger sign-in).
#[pyfunction]
fn new_token_may_help(www_authenticate: &str) -> bool {
    latchkey::BearerChallenge::parse(www_authenticate).is_none_or(|c| c.new_token_may_help())
}

static LOG_RESET: std::sync::OnceLock<pyo3_log::ResetHandle> = std::sync::OnceLock::new();

/// Makes latchkey's logs follow a `logging` configuration changed after import.
/// In a forked child (`os.register_at_fork`): forget the parent's runtime and empty every
/// manager's header cell (the parent's sweepers do not run here).
#[pyfunction]
fn _after_fork(py: Python<'_>) {
    runtime::after_fork();
    header_cell::after_fork(py);
}

#[pyfunction]
fn reset_log_cache() {
    if let Some(handle) = LOG_RESET.get() {
        handle.reset();
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // latchkey's `tracing` events reach Python's `logging` (logger names = Rust targets,
    // e.g. `latchkey.manager.refresh`). Levels are cached (a disabled level costs nothing);
    // `reset_log_cache()` picks up a changed configuration. A failure means a logger is
    // already set, which is fine.
    if let Ok(handle) =
        pyo3_log::Logger::new(m.py(), pyo3_log::Caching::LoggersAndLevels)?.install()
    {
        let _ = LOG_RESET.set(handle);
    }
    m.add_class::<manager::Manager>()?;
    m.add_class::<tokenset::TokenSet>()?;
    m.add_class::<oidc::OidcProvider>()?;
    m.add_class::<static_auth::StaticCredentials>()?;
    m.add_class::<stores::MemoryTokenStore>()?;
    m.add_class::<stores::FileTokenStore>()?;
    m.add_class::<stores::SqliteTokenStore>()?;
    m.add_class::<stores::RedisTokenStore>()?;
    m.add_class::<stores::KeyringTokenStore>()?;
    m.add_class::<grants::ClientCredentialsAuth>()?;
    m.add_class::<grants::PasswordAuth>()?;
    m.add_class::<grants::RefreshTokenAuth>()?;
    m.add_class::<grants::DeviceCodeAuth>()?;
    m.add_class::<grants::AuthorizationCodeAuth>()?;
    m.add_function(wrap_pyfunction!(profile::_profile, m)?)?;
    m.add_function(wrap_pyfunction!(scheme::_scheme, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(revoke::_revoke_future, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_settle, m)?)?;
    m.add_function(wrap_pyfunction!(new_token_may_help, m)?)?;
    m.add_function(wrap_pyfunction!(reset_log_cache, m)?)?;
    Ok(())
}
