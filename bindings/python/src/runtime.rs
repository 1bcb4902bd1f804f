//! One tokio runtime per process for every object of the module, and the two ways Python
//! waits on it: blocking (detached from the interpreter, Ctrl-C honoured) and through an
//! asyncio future.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tokio::runtime::Runtime;

/// The runtime and the process that built it. A forked child inherits the memory but none of
/// the worker threads, so a runtime from another pid is never used (its tasks would hang).
struct Owned {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: ArcSwapOption<Owned> = ArcSwapOption::const_empty();

/// How often a blocked call comes back to the interpreter to look for Ctrl-C.
const SIGNAL_TICK: Duration = Duration::from_millis(100);

/// This process's runtime, built on first use (importing the module starts no thread).
pub(crate) fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let current = RUNTIME.load_full();
    if let Some(owned) = &current
        && owned.pid == pid
    {
        return Ok(owned.runtime.clone());
    }
    if let Some(inherited) = &current {
        // Dropping a runtime joins its worker threads; a forked child has none, so the
        // parent's runtime is leaked on purpose instead of hanging the child.
        std::mem::forget(inherited.clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("latchkey")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start latchkey's runtime: {e}")))?;
    let owned = Arc::new(Owned {
        pid,
        runtime: Arc::new(runtime),
    });
    let previous = RUNTIME.compare_and_swap(&current, Some(owned.clone()));
    match &*previous {
        // Another thread built one first: use that one (ours is dropped, unused).
        Some(winner) if winner.pid == pid && !Arc::ptr_eq(winner, &owned) => {
            Ok(winner.runtime.clone())
        }
        _ => Ok(owned.runtime.clone()),
    }
}

/// Forgets the parent's runtime in a forked child (`os.register_at_fork`); the next call
/// builds a new one. The pid check in [`runtime`] does the same lazily.
pub(crate) fn after_fork() {
    if let Some(inherited) = RUNTIME.swap(None)
        && inherited.pid != std::process::id()
    {
        std::mem::forget(inherited);
    }
}

/// Runs `work` on the runtime and waits for it with the interpreter released, coming back
/// every [`SIGNAL_TICK`] to run signal handlers: Ctrl-C raises `KeyboardInterrupt` here and
/// abandons the work (a shared refresh goes on in its own task for the other waiters).
pub(crate) fn block_on<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PyRuntimeError::new_err(
            "a blocking latchkey call was made on one of latchkey's own threads (from a callback); \
             call the `a`-prefixed async method, or call it from another thread",
        ));
    }
    let runtime = runtime()?;
    let mut task = runtime.spawn(work);
    loop {
        let outcome = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_TICK, &mut task).await.ok() })
        });
        match outcome {
            Some(Ok(value)) => return Ok(value),
            Some(Err(failed)) => {
                return Err(PyRuntimeError::new_err(format!(
                    "latchkey's background task failed: {failed}"
                )));
            }
            None => {
                if let Err(interrupted) = py.check_signals() {
                    task.abort();
                    return Err(interrupted);
                }
            }
        }
    }
}

/// Runs `work` on the runtime and returns an `asyncio.Future` of `event_loop` that it
/// completes. `finish` turns the outcome into the future's result or exception, attached.
/// Cancelling the future only drops this waiter.
pub(crate) fn into_future<'py, T, F, C>(
    event_loop: Bound<'py, PyAny>,
    work: F,
    finish: C,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let future = event_loop.call_method0("create_future")?;
    let waiter = future.clone().unbind();
    let event_loop = event_loop.unbind();
    let runtime = runtime()?;
    runtime.spawn(async move {
        let outcome = work.await;
        Python::attach(|py| {
            let (ok, value) = match finish(py, outcome) {
                Ok(value) => (true, value),
                Err(err) => (false, err.into_value(py).into_any()),
            };
            let settle = match complete(py) {
                Ok(settle) => settle,
                Err(err) => return err.write_unraisable(py, None),
            };
            // A closed loop has no one left waiting; nothing to report.
            let _ =
                event_loop.call_method1(py, "call_soon_threadsafe", (settle, waiter, ok, value));
        });
    });
    Ok(future)
}

fn complete(py: Python<'_>) -> PyResult<Py<PyAny>> {
    static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    Ok(SETTLE
        .import(py, "latchkey._core", "_settle")?
        .clone()
        .unbind())
}

/// Completes an asyncio future from the loop's own thread, unless it was cancelled.
#[pyfunction]
pub(crate) fn _settle(
    future: &Bound<'_, PyAny>,
    ok: bool,
    value: Bound<'_, PyAny>,
) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        future.call_method1("set_result", (value,))?;
    } else {
        future.call_method1("set_exception", (value,))?;
    }
    Ok(())
}
