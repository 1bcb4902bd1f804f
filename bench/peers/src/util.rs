//! Timing and reporting shared by every system measured.

use std::future::Future;
use std::time::Instant;

use serde_json::{Value, json};

/// One result line on stdout: `bench/table.py` turns these into the table.
pub fn emit(row: &str, system: &str, fields: Value) {
    let mut line = json!({ "row": row, "system": system });
    if let (Some(line), Some(fields)) = (line.as_object_mut(), fields.as_object()) {
        line.extend(fields.clone());
    }
    println!("{line}");
}

/// Median ns/op of `rounds` rounds of `n` awaited calls, on a current-thread runtime.
pub fn ns_per_op<F, Fut>(rt: &tokio::runtime::Runtime, rounds: usize, n: u64, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    call().await;
                }
                start.elapsed().as_nanos() as f64 / n as f64
            })
        })
        .collect();
    median(&mut samples)
}

/// Wall ns per call with `threads` OS threads calling at once (throughput on all cores).
pub fn ns_per_op_all_cores<F, Fut>(threads: usize, rounds: usize, n: u64, call: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()>,
{
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let call = call.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime");
                        barrier.wait();
                        rt.block_on(async {
                            for _ in 0..n {
                                call().await;
                            }
                        });
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            for handle in handles {
                handle.join().expect("thread");
            }
            start.elapsed().as_nanos() as f64 / (n as f64 * threads as f64)
        })
        .collect();
    median(&mut samples)
}

pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
