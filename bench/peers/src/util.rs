//! Timing and reporting shared by every system measured.

use serde_json::{Value, json};

/// One result line on stdout: `bench/table.py` turns these into the table.
pub fn emit(row: &str, system: &str, fields: Value) {
    let mut line = json!({ "row": row, "system": system });
    if let (Some(line), Some(fields)) = (line.as_object_mut(), fields.as_object()) {
        line.extend(fields.clone());
    }
    println!("{line}");
}

/// Median ns/op of `$rounds` rounds of `$n` runs of the async block `$body` (which may
/// borrow), on the current-thread runtime `$rt`. A macro, not a closure: no per-call clone
/// or boxing is added to what is measured.
#[macro_export]
macro_rules! ns_per_op {
    ($rt:expr, $rounds:expr, $n:expr, $body:expr) => {{
        let mut samples: Vec<f64> = (0..$rounds)
            .map(|_| {
                $rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..$n {
                        $body.await;
                    }
                    start.elapsed().as_nanos() as f64 / $n as f64
                })
            })
            .collect();
        $crate::util::median(&mut samples)
    }};
}

/// Wall ns per call with `$threads` OS threads (one current-thread runtime each) running
/// `$body` at once: throughput on all cores. `$handle` is cloned once per thread and bound
/// to `$name` inside `$body`. The wall time runs from the first thread's first call to the
/// last thread's last call: starting and joining threads and building and dropping their
/// runtimes stay outside it (they cost about as much as 20,000 fast calls).
#[macro_export]
macro_rules! ns_per_op_all_cores {
    ($threads:expr, $rounds:expr, $n:expr, $handle:expr, |$name:ident| $body:expr) => {{
        let mut samples: Vec<f64> = (0..$rounds)
            .map(|_| {
                let barrier = std::sync::Barrier::new($threads);
                let spans: Vec<(std::time::Instant, std::time::Instant)> =
                    std::thread::scope(|scope| {
                        let workers: Vec<_> = (0..$threads)
                            .map(|_| {
                                let $name = $handle.clone();
                                let barrier = &barrier;
                                scope.spawn(move || {
                                    let rt = tokio::runtime::Builder::new_current_thread()
                                        .enable_all()
                                        .build()
                                        .expect("runtime");
                                    barrier.wait();
                                    rt.block_on(async {
                                        let start = std::time::Instant::now();
                                        for _ in 0..$n {
                                            $body.await;
                                        }
                                        (start, std::time::Instant::now())
                                    })
                                })
                            })
                            .collect();
                        workers
                            .into_iter()
                            .map(|w| w.join().expect("worker"))
                            .collect()
                    });
                let first = spans.iter().map(|s| s.0).min().expect("threads");
                let last = spans.iter().map(|s| s.1).max().expect("threads");
                (last - first).as_nanos() as f64 / ($n as f64 * $threads as f64)
            })
            .collect();
        $crate::util::median(&mut samples)
    }};
}

pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
