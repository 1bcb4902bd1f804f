//! Token stores written in Python: any object that follows one of the seeds' store
//! protocols becomes a core `TokenStore` implemented over it.
//!
//! Which protocol an object follows, the private event loop its `async` methods run on and
//! the conversion of what it returns are in `latchkey/_store_bridge.py`; this module calls
//! them and waits with the interpreter released. A sync method runs on the runtime's
//! blocking pool, attached to the interpreter; a coroutine runs on the bridge's loop while
//! the task waiting for it holds no GIL.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use tokio::sync::oneshot;

use latchkey::store::{KeyLocks, validate_key};
use latchkey::{StoreError, StoreLock, TokenSet, TokenStore};

use crate::tokenset;

/// The seeds' store protocols (see `_store_bridge.shape`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// pywry: `load(key)`, `save(key, tokens)`, `delete(key)`, `exists(key)`, `list_keys()`.
    Keyed,
    /// dhis2w: `get(key)`, `set(key, token)`; `delete(key)` and `list_keys()` if present.
    GetSet,
    /// cdse: `load()`, `save(tokens)`, `clear()`: one token set, whatever the key.
    Single,
}

/// A Python object used as a token store. Its refresh lock is in-process only (one refresh
/// per key per process, as with the memory store): a Python object offers no lock shared
/// by processes.
pub(crate) struct PythonStore {
    object: Arc<Py<PyAny>>,
    shape: Shape,
    /// The optional methods it has, by name.
    optional: Vec<&'static str>,
    describe: String,
    locks: Mutex<Locks>,
}

/// The per-key refresh locks of one process. A forked child starts with none: a lock the
/// parent held at the fork would never be released in the child.
#[derive(Default)]
struct Locks {
    pid: u32,
    keys: Arc<KeyLocks>,
}

impl fmt::Debug for PythonStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PythonStore")
            .field("store", &self.describe)
            .field("shape", &self.shape)
            .finish()
    }
}

/// A helper of `latchkey._store_bridge`.
fn bridge<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.import(py, "latchkey._store_bridge", name)
}

impl PythonStore {
    /// The store behind `object`, or `None` when it follows none of the protocols.
    pub(crate) fn adopt(object: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        static SHAPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let shape: Option<String> = bridge(object.py(), &SHAPE, "shape")?
            .call1((object,))?
            .extract()?;
        let shape = match shape.as_deref() {
            Some("keyed") => Shape::Keyed,
            Some("get_set") => Shape::GetSet,
            Some("single") => Shape::Single,
            _ => return Ok(None),
        };
        static HAS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let has = bridge(object.py(), &HAS, "has_method")?;
        let mut optional = Vec::new();
        for method in ["delete", "clear", "exists", "list_keys"] {
            if has.call1((object, method))?.is_truthy()? {
                optional.push(method);
            }
        }
        Ok(Some(Self {
            object: Arc::new(object.clone().unbind()),
            shape,
            optional,
            describe: format!("python:{}", object.get_type().name()?),
            locks: Mutex::default(),
        }))
    }

    fn has(&self, method: &str) -> bool {
        self.optional.contains(&method)
    }

    /// Calls `method(*args)` on the object and converts its result (awaited first when it
    /// is a coroutine).
    async fn call<T: Send + 'static>(
        &self,
        key: &str,
        method: &'static str,
        args: Vec<Arg>,
        convert: Convert<T>,
    ) -> Result<T, StoreError> {
        let object = self.object.clone();
        let started = tokio::task::spawn_blocking(move || {
            Python::attach(|py| start(py, &object, method, args, convert))
        })
        .await
        .map_err(|e| Problem::Raised(format!("stopped before it returned ({e})")))
        .and_then(|started| started);
        let outcome = match started {
            Ok(Started::Done(value)) => Ok(value),
            Ok(Started::Pending(finished)) => match finished.await {
                Ok(future) => Python::attach(|py| {
                    let result = future.bind(py).call_method0("result");
                    result
                        .map_err(|e| Problem::Raised(raised(py, &e)))
                        .and_then(|value| convert(py, &value))
                }),
                Err(_) => Err(Problem::Raised(
                    "its coroutine was dropped before it finished (the store's event loop stopped)"
                        .into(),
                )),
            },
            Err(problem) => Err(problem),
        };
        outcome.map_err(|problem| self.error(key, method, problem))
    }

    fn error(&self, key: &str, method: &str, problem: Problem) -> StoreError {
        match problem {
            Problem::Raised(reason) => StoreError::Unavailable {
                backend: self.describe.clone(),
                reason: format!("{method}() {reason}"),
            },
            Problem::Corrupt(reason) => StoreError::Corrupt {
                location: format!("{}, key `{key}`", self.describe),
                reason: format!("{method}() returned {reason}"),
            },
        }
    }

    fn missing(&self, method: &str) -> StoreError {
        StoreError::Unavailable {
            backend: self.describe.clone(),
            reason: format!("it has no {method}() method"),
        }
    }
}

/// What a store call is given.
enum Arg {
    Key(String),
    Tokens(Arc<TokenSet>),
}

/// Turns what a store method returned into the core's type.
type Convert<T> = fn(Python<'_>, &Bound<'_, PyAny>) -> Result<T, Problem>;

enum Started<T> {
    Done(T),
    /// A coroutine on the bridge's loop; its `concurrent.futures.Future` arrives when done.
    Pending(oneshot::Receiver<Py<PyAny>>),
}

enum Problem {
    /// The store raised (its exception's type and message).
    Raised(String),
    /// The store returned something that is not a token set.
    Corrupt(String),
}

fn start<T>(
    py: Python<'_>,
    object: &Py<PyAny>,
    method: &'static str,
    args: Vec<Arg>,
    convert: Convert<T>,
) -> Result<Started<T>, Problem> {
    static CALL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let (sender, finished) = oneshot::channel();
    let done = Finished {
        sender: Mutex::new(Some(sender)),
    };
    let called: PyResult<Bound<'_, PyAny>> = (|| {
        let args = args
            .into_iter()
            .map(|arg| match arg {
                Arg::Key(key) => Ok(PyString::new(py, &key).into_any()),
                Arg::Tokens(inner) => Ok(Bound::new(py, tokenset::TokenSet { inner })?.into_any()),
            })
            .collect::<PyResult<Vec<_>>>()?;
        bridge(py, &CALL, "call")?.call1((object.bind(py), method, PyTuple::new(py, args)?, done))
    })();
    let called = called.map_err(|e| Problem::Raised(raised(py, &e)))?;
    if called.is_none() {
        return Ok(Started::Pending(finished));
    }
    let value = called
        .get_item(0)
        .map_err(|e| Problem::Raised(raised(py, &e)))?;
    convert(py, &value).map(Started::Done)
}

/// Called on the bridge's loop with the finished future of a store's coroutine.
#[pyclass(frozen, module = "latchkey._core")]
struct Finished {
    sender: Mutex<Option<oneshot::Sender<Py<PyAny>>>>,
}

#[pymethods]
impl Finished {
    fn __call__(&self, future: Bound<'_, PyAny>) {
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(sender) = sender {
            // The waiter may be gone (its caller gave up); nothing is left to tell.
            let _ = sender.send(future.unbind());
        }
    }
}

/// The shortest run of token-like characters [`scrub`] hides.
const TOKEN_LIKE_LEN: usize = 20;

/// `message` with every run of token characters (base64url, `.`, `~`, `+`, `=`; not `/`, so
/// paths stay readable) replaced by `[REDACTED]` when it is at least [`TOKEN_LIKE_LEN`] long
/// and mixes letters and digits, or twice that long. A store's exception may quote the value it failed on (pydantic's do), and
/// the message reaches errors and logs.
fn scrub(message: &str) -> String {
    let token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '=');
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let len = run.chars().count();
        let mixed =
            run.chars().any(|c| c.is_ascii_digit()) && run.chars().any(|c| c.is_ascii_alphabetic());
        let looks_like_token = len >= 2 * TOKEN_LIKE_LEN || (len >= TOKEN_LIKE_LEN && mixed);
        out.push_str(if looks_like_token { "[REDACTED]" } else { run });
        run.clear();
    };
    for c in message.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// "raised TypeName: message", at most 300 characters of message, token-like runs hidden.
fn raised(py: Python<'_>, err: &PyErr) -> String {
    let kind = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an exception".into());
    let mut message = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    message = scrub(&message);
    if message.chars().count() > 300 {
        message = message.chars().take(300).collect::<String>() + "…";
    }
    if message.is_empty() {
        format!("raised {kind}")
    } else {
        format!("raised {kind}: {message}")
    }
}

fn nothing(_: Python<'_>, _: &Bound<'_, PyAny>) -> Result<(), Problem> {
    Ok(())
}

fn truth(_: Python<'_>, value: &Bound<'_, PyAny>) -> Result<bool, Problem> {
    value
        .is_truthy()
        .map_err(|e| Problem::Raised(raised(value.py(), &e)))
}

fn keys(py: Python<'_>, value: &Bound<'_, PyAny>) -> Result<Vec<String>, Problem> {
    value.extract::<Vec<String>>().map_err(|e| {
        Problem::Raised(format!(
            "did not return a list of strings ({})",
            raised(py, &e)
        ))
    })
}

/// A token set from whatever the store returned: latchkey's `TokenSet`, its record (a dict
/// or JSON), or a token object of another library (see `_store_bridge.to_record`).
fn tokens(py: Python<'_>, value: &Bound<'_, PyAny>) -> Result<Option<TokenSet>, Problem> {
    if value.is_none() {
        return Ok(None);
    }
    tokenset::from_python(py, value)
        .map(Some)
        .map_err(|reason| Problem::Corrupt(format!("something that is not a token set ({reason})")))
}

#[async_trait]
impl TokenStore for PythonStore {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn load(&self, key: &str) -> Result<Option<TokenSet>, StoreError> {
        validate_key(key)?;
        let k = || vec![Arg::Key(key.to_owned())];
        match self.shape {
            Shape::Keyed => self.call(key, "load", k(), tokens).await,
            Shape::GetSet => self.call(key, "get", k(), tokens).await,
            Shape::Single => self.call(key, "load", vec![], tokens).await,
        }
    }

    async fn save(&self, key: &str, tokens: &TokenSet) -> Result<(), StoreError> {
        validate_key(key)?;
        let tokens = Arg::Tokens(Arc::new(tokens.clone()));
        let key_arg = Arg::Key(key.to_owned());
        match self.shape {
            Shape::Keyed => self.call(key, "save", vec![key_arg, tokens], nothing).await,
            Shape::GetSet => self.call(key, "set", vec![key_arg, tokens], nothing).await,
            Shape::Single => self.call(key, "save", vec![tokens], nothing).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let k = vec![Arg::Key(key.to_owned())];
        match self.shape {
            Shape::Single if self.has("clear") => self.call(key, "clear", vec![], nothing).await,
            Shape::Single => Err(self.missing("clear")),
            _ if self.has("delete") => self.call(key, "delete", k, nothing).await,
            _ => Err(self.missing("delete")),
        }
    }

    async fn list_keys(&self) -> Result<Vec<String>, StoreError> {
        if self.shape == Shape::Single || !self.has("list_keys") {
            return Err(self.missing("list_keys"));
        }
        let mut found = self.call("", "list_keys", vec![], keys).await?;
        found.sort();
        Ok(found)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        validate_key(key)?;
        if self.shape == Shape::Keyed && self.has("exists") {
            return self
                .call(key, "exists", vec![Arg::Key(key.to_owned())], truth)
                .await;
        }
        match self.load(key).await {
            Ok(found) => Ok(found.is_some()),
            Err(StoreError::Corrupt { .. }) => Ok(true),
            Err(other) => Err(other),
        }
    }

    async fn lock(&self, key: &str, wait: Duration) -> Result<StoreLock, StoreError> {
        validate_key(key)?;
        let keys = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            let pid = std::process::id();
            if locks.pid != pid {
                *locks = Locks {
                    pid,
                    keys: Arc::default(),
                };
            }
            locks.keys.clone()
        };
        let guard = keys.lock(key, wait, &self.describe()).await?;
        Ok(StoreLock::new(guard))
    }
}

/// The hint for an error raised by a Python store, whose own words say what failed.
pub(crate) fn hint(err: &latchkey::Error) -> Option<String> {
    let latchkey::Error::Store(StoreError::Unavailable { backend, reason }) = err else {
        return None;
    };
    let class = backend.strip_prefix("python:")?;
    Some(if reason.starts_with("it has no ") {
        format!(
            "give `{class}` the method named above, or use one of latchkey's stores \
             (MemoryTokenStore, FileTokenStore, …)"
        )
    } else {
        format!(
            "the Python store `{class}` failed (its exception is quoted above): fix the store, \
             or use one of latchkey's stores (MemoryTokenStore, FileTokenStore, …)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn token_like_runs_are_hidden_and_words_and_paths_kept() {
        let message = "bad token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln in /var/lib/app/tokens.sqlite: Permission denied";
        assert_eq!(
            scrub(message),
            "bad token [REDACTED] in /var/lib/app/tokens.sqlite: Permission denied"
        );
        assert_eq!(
            scrub("abcdefghijklmnopqrstuvwxyz"),
            "abcdefghijklmnopqrstuvwxyz"
        );
    }
}
