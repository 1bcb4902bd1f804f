//! The header cell: a one-item Python list holding the current `Authorization` value (or
//! `None`), which `aheader` reads without calling into the extension.
//!
//! An `async def` that makes any call into the extension already costs a quarter of the
//! fastest Python peer's async call (docs/python.md), so the async fast path reads a list this
//! side keeps current instead. The cell must never hold a header the manager would not hand
//! out:
//! - it is filled only with a header the core says is fresh, together with the moment its
//!   refresh becomes due, and a sweeper task empties it at that moment;
//! - the sweeper looks at the wall clock at least every [`TICK`], because the runtime's
//!   timers run on a clock that stops while the machine sleeps, and token expiry does not;
//! - an invalidation, a login and a logout empty it (before their work and again after it,
//!   since the core rejects a token on the runtime, outside the interpreter);
//! - a forked child empties every cell (its copy of the sweeper does not run there).
//!
//! Every write happens with the interpreter attached, so writes never race each other; the
//! sweeper reads the due moment from atomics without attaching.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::runtime;

/// The longest the sweeper sleeps before it looks at the wall clock again.
const TICK: Duration = Duration::from_secs(1);

/// `due` when the cell holds a header that never becomes due (unknown expiry).
const NEVER: u64 = u64::MAX;
/// `due` when the cell is empty.
const EMPTY: u64 = 0;

/// Every live cell of this process, so a forked child can empty them all.
static CELLS: Mutex<Vec<Weak<HeaderCell>>> = Mutex::new(Vec::new());

/// See the module documentation.
pub(crate) struct HeaderCell {
    list: Py<PyList>,
    /// When the held header's refresh becomes due, in nanoseconds since the Unix epoch.
    due: AtomicU64,
    /// Whether a sweeper task is running for this cell.
    sweeping: AtomicBool,
}

impl HeaderCell {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Arc<Self>> {
        let list = PyList::new(py, [py.None()])?.unbind();
        let cell = Arc::new(Self {
            list,
            due: AtomicU64::new(EMPTY),
            sweeping: AtomicBool::new(false),
        });
        let mut cells = CELLS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cells.retain(|weak| weak.strong_count() > 0);
        cells.push(Arc::downgrade(&cell));
        Ok(cell)
    }

    /// The list `aheader` reads (`cell[0]`).
    pub(crate) fn list(&self, py: Python<'_>) -> Py<PyList> {
        self.list.clone_ref(py)
    }

    /// Holds `text` until `due` (`None`: until emptied).
    pub(crate) fn fill(
        self: &Arc<Self>,
        py: Python<'_>,
        text: &Py<PyString>,
        due: Option<SystemTime>,
    ) -> PyResult<()> {
        let due = due.map_or(NEVER, |at| {
            // A due moment before 1970 is already past: hold nothing.
            at.duration_since(UNIX_EPOCH)
                .map_or(EMPTY, |d| u64::try_from(d.as_nanos()).unwrap_or(NEVER))
        });
        if due == EMPTY || due <= now_nanos() {
            return Ok(());
        }
        self.list.bind(py).set_item(0, text.clone_ref(py))?;
        self.due.store(due, Ordering::Release);
        if due != NEVER && !self.sweeping.swap(true, Ordering::AcqRel) {
            let runtime = runtime::runtime()?;
            runtime.spawn(sweep(Arc::downgrade(self)));
        }
        Ok(())
    }

    /// Whether the cell holds a header.
    pub(crate) fn is_filled(&self) -> bool {
        self.due.load(Ordering::Acquire) != EMPTY
    }

    /// Holds nothing: the next `aheader` asks the manager.
    pub(crate) fn clear(&self, py: Python<'_>) {
        self.due.store(EMPTY, Ordering::Release);
        // Setting index 0 of a one-item list cannot fail.
        let _ = self.list.bind(py).set_item(0, py.None());
    }

    /// Empties the cell if its header has become due.
    fn expire(&self, py: Python<'_>) {
        let due = self.due.load(Ordering::Acquire);
        if due != EMPTY && due != NEVER && due <= now_nanos() {
            self.clear(py);
        }
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(NEVER - 1))
}

/// Empties the cell when its header becomes due; ends when the cell is empty, holds a header
/// that never becomes due, is dropped, or the interpreter is shutting down.
async fn sweep(cell: Weak<HeaderCell>) {
    loop {
        let Some(strong) = cell.upgrade() else { return };
        let due = strong.due.load(Ordering::Acquire);
        if due == EMPTY || due == NEVER {
            strong.sweeping.store(false, Ordering::Release);
            // A fill between the load and the store saw `sweeping` set and started no
            // sweeper: look once more.
            let again = strong.due.load(Ordering::Acquire);
            if (again == EMPTY || again == NEVER) || strong.sweeping.swap(true, Ordering::AcqRel) {
                return;
            }
            continue;
        }
        let now = now_nanos();
        if due > now {
            drop(strong);
            tokio::time::sleep(Duration::from_nanos(due - now).min(TICK)).await;
            continue;
        }
        if Python::try_attach(|py| strong.expire(py)).is_none() {
            return;
        }
    }
}

/// In a forked child: empty every cell (the parent's sweepers do not run here).
pub(crate) fn after_fork(py: Python<'_>) {
    let cells = CELLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for cell in cells.iter().filter_map(Weak::upgrade) {
        cell.sweeping.store(false, Ordering::Release);
        cell.clear(py);
    }
}
