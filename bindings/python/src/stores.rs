//! Token stores: where a manager keeps its tokens.

use std::sync::Arc;

use pyo3::prelude::*;
use secrecy::{ExposeSecret, SecretString};

use latchkey::TokenStore;

/// Tokens in this process's memory only (never on disk).
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct MemoryTokenStore {
    pub(crate) inner: Arc<dyn TokenStore>,
}

#[pymethods]
impl MemoryTokenStore {
    #[new]
    fn new() -> Self {
        Self {
            inner: Arc::new(latchkey::MemoryStore::new()),
        }
    }

    fn __repr__(&self) -> String {
        "MemoryTokenStore()".into()
    }
}

/// One 0600 file per key in `directory`, written atomically, with one `flock` per key:
/// processes sharing the directory share tokens and refresh once.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct FileTokenStore {
    pub(crate) inner: Arc<dyn TokenStore>,
    directory: std::path::PathBuf,
}

#[pymethods]
impl FileTokenStore {
    #[new]
    fn new(directory: std::path::PathBuf) -> Self {
        Self {
            inner: Arc::new(latchkey::FileStore::new(directory.clone())),
            directory,
        }
    }

    #[getter]
    fn directory(&self) -> std::path::PathBuf {
        self.directory.clone()
    }

    fn __repr__(&self) -> String {
        format!("FileTokenStore({:?})", self.directory)
    }
}

/// One SQLite database (WAL, 0600) with lease locks shared by processes (dhis2w's SQLite
/// store).
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct SqliteTokenStore {
    path: std::path::PathBuf,
}

#[pymethods]
impl SqliteTokenStore {
    #[new]
    fn new(path: std::path::PathBuf) -> Self {
        Self { path }
    }

    #[getter]
    fn path(&self) -> std::path::PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("SqliteTokenStore({:?})", self.path)
    }
}

/// Redis, shared by processes and machines (pywry's `RedisTokenStore`); the URL may hold a
/// password, so `repr()` does not show it.
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct RedisTokenStore {
    url: SecretString,
    prefix: String,
}

#[pymethods]
impl RedisTokenStore {
    #[new]
    #[pyo3(signature = (redis_url = "redis://localhost:6379/0".to_owned(), prefix = "latchkey".to_owned(), pool_size = None))]
    fn new(redis_url: String, prefix: String, pool_size: Option<u32>) -> Self {
        // pywry's pool size: one multiplexed connection serves every caller here.
        let _ = pool_size;
        Self {
            url: SecretString::from(redis_url),
            prefix,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "RedisTokenStore(redis_url=[REDACTED], prefix={:?})",
            self.prefix
        )
    }
}

/// The platform's secret store (Secret Service, Keychain, Credential Manager; pywry's
/// `KeyringTokenStore`). `fallback` says what happens where there is none: `"fail"` (the
/// default), `"memory"`, or `"file"` (0600 files under `state_dir`).
#[pyclass(frozen, subclass, module = "latchkey._core")]
pub(crate) struct KeyringTokenStore {
    service: String,
    state_dir: std::path::PathBuf,
    fallback: String,
}

#[pymethods]
impl KeyringTokenStore {
    #[new]
    #[pyo3(signature = (service_name = "latchkey".to_owned(), *, state_dir, fallback = "fail".to_owned()))]
    fn new(
        service_name: String,
        state_dir: std::path::PathBuf,
        fallback: String,
    ) -> PyResult<Self> {
        if !matches!(fallback.as_str(), "fail" | "memory" | "file") {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "fallback is `{fallback}`; use \"fail\", \"memory\" or \"file\""
            )));
        }
        Ok(Self {
            service: service_name,
            state_dir,
            fallback,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "KeyringTokenStore({:?}, fallback={:?})",
            self.service, self.fallback
        )
    }
}

/// Where a manager's tokens live. Stores holding a connection are opened again each time
/// a manager is built: a forked child must not use the parent's connection.
#[derive(Clone)]
pub(crate) enum StoreSource {
    Shared(Arc<dyn TokenStore>),
    Sqlite(std::path::PathBuf),
    Redis {
        url: SecretString,
        prefix: String,
    },
    Keyring {
        service: String,
        state_dir: std::path::PathBuf,
        fallback: String,
    },
}

impl StoreSource {
    pub(crate) async fn open(&self) -> Result<Arc<dyn TokenStore>, latchkey::Error> {
        Ok(match self {
            StoreSource::Shared(store) => store.clone(),
            StoreSource::Sqlite(path) => Arc::new(latchkey::SqliteStore::open(path.clone())?),
            StoreSource::Redis { url, prefix } => {
                let config = latchkey::RedisConfig::new(url.expose_secret())?.key_prefix(prefix);
                Arc::new(latchkey::RedisStore::connect_config(config).await?)
            }
            StoreSource::Keyring {
                service,
                state_dir,
                fallback,
            } => {
                let fallback = match fallback.as_str() {
                    "memory" => latchkey::KeyringFallback::Memory,
                    "file" => latchkey::KeyringFallback::File(state_dir.join("tokens")),
                    _ => latchkey::KeyringFallback::Fail,
                };
                Arc::new(
                    latchkey::KeyringStore::open(service.clone(), state_dir.clone(), fallback)
                        .await?,
                )
            }
        })
    }
}

/// The store behind a Python store object (latchkey's, or one written in Python); memory
/// when none is given.
pub(crate) fn extract(store: Option<&Bound<'_, PyAny>>) -> PyResult<StoreSource> {
    let Some(store) = store else {
        return Ok(StoreSource::Shared(Arc::new(latchkey::MemoryStore::new())));
    };
    if let Ok(s) = store.cast::<MemoryTokenStore>() {
        return Ok(StoreSource::Shared(s.get().inner.clone()));
    }
    if let Ok(s) = store.cast::<FileTokenStore>() {
        return Ok(StoreSource::Shared(s.get().inner.clone()));
    }
    if let Ok(s) = store.cast::<SqliteTokenStore>() {
        return Ok(StoreSource::Sqlite(s.get().path.clone()));
    }
    if let Ok(s) = store.cast::<RedisTokenStore>() {
        let s = s.get();
        return Ok(StoreSource::Redis {
            url: s.url.clone(),
            prefix: s.prefix.clone(),
        });
    }
    if let Ok(s) = store.cast::<KeyringTokenStore>() {
        let s = s.get();
        return Ok(StoreSource::Keyring {
            service: s.service.clone(),
            state_dir: s.state_dir.clone(),
            fallback: s.fallback.clone(),
        });
    }
    if let Some(s) = crate::py_store::PythonStore::adopt(store)? {
        return Ok(StoreSource::Shared(Arc::new(s)));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "store must be a MemoryTokenStore, FileTokenStore, SqliteTokenStore, RedisTokenStore or KeyringTokenStore, \
         or an object with load(key)/save(key, tokens) (pywry), get(key)/set(key, token) (dhis2w) \
         or load()/save(tokens)/clear() (cdse), not {}",
        store.get_type().name()?
    )))
}
