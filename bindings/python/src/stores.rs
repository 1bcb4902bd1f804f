//! Token stores: where a manager keeps its tokens.

use std::sync::Arc;

use pyo3::prelude::*;

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

/// The store behind a Python store object, or `None` for the default (memory).
pub(crate) fn extract(store: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Arc<dyn TokenStore>>> {
    let Some(store) = store else { return Ok(None) };
    if let Ok(s) = store.cast::<MemoryTokenStore>() {
        return Ok(Some(s.get().inner.clone()));
    }
    if let Ok(s) = store.cast::<FileTokenStore>() {
        return Ok(Some(s.get().inner.clone()));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "store must be a MemoryTokenStore or FileTokenStore, not {}",
        store.get_type().name()?
    )))
}
