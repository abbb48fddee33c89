//! Isolation Forest speed against scikit-learn (a bench binary: `cargo bench -p nta-ml --bench
//! forest`). Fits `IsolationForest(n_estimators=100, max_samples=256)` and scores the training
//! matrix for 10k, 100k and 1M rows × 20 features (Gaussian clusters plus 1 % scattered
//! outliers), on 1 thread and on every core. sklearn 1.9.1 on this machine (n_jobs=1): fit
//! 0.24 / 0.49 / 0.97 s, score 0.06 / 0.45 / 4.4 s. Peak RSS is reported against the size of
//! the matrix itself. Last, how soon a stop flag set during scoring of the 1M matrix ends it
//! (the latency of cancelling a training job).

use nta_ml::{ForestParams, IsolationForest, MaxSamples};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Deterministic pseudo-random data: SplitMix64 + Box–Muller.
fn data(n: usize, d: usize) -> DenseMatrix<f64> {
    let mut s = 0x1234_5678u64;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut v = Vec::with_capacity(n * d);
    for i in 0..n {
        let outlier = i % 100 == 0;
        let center = (i % 3) as f64 * 5.0;
        for _ in 0..d {
            let g = (-2.0 * (1.0 - next()).ln()).sqrt() * (std::f64::consts::TAU * next()).cos();
            v.push(if outlier { next() * 40.0 - 20.0 } else { center + g });
        }
    }
    DenseMatrix::new(n, d, v, false).unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sklearn = [(10_000, 0.24, 0.06), (100_000, 0.49, 0.45), (1_000_000, 0.97, 4.4)];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (n, sk_fit, sk_score) in sklearn {
        let x = data(n, 20);
        let matrix_mb = (n * 20 * 8) as f64 / 1e6;
        for threads in [1, cores] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
            let (fit, score, outliers) = pool.install(|| {
                let params = ForestParams { max_samples: MaxSamples::Count(256), ..ForestParams::default() };
                let t = Instant::now();
                let f = IsolationForest::fit(&x, &params).unwrap_or_else(|e| panic!("{e}"));
                let fit = t.elapsed().as_secs_f64();
                let t = Instant::now();
                let s = f.score_samples(&x).unwrap_or_else(|e| panic!("{e}"));
                let score = t.elapsed().as_secs_f64();
                (fit, score, s.iter().filter(|v| **v < -0.5).count())
            });
            println!(
                "{n:>9} x 20, {threads} thread(s): fit {fit:.4} s, score {score:.3} s, total {:.3} s = {:.1}x sklearn ({:.2} s) | outliers {outliers} | peak RSS {:.0} MB (matrix {matrix_mb:.0} MB)",
                fit + score,
                (sk_fit + sk_score) / (fit + score),
                sk_fit + sk_score,
                peak_rss_mb()
            );
        }
        if n == 1_000_000 {
            cancel_latency(&x);
        }
    }
}

/// Sets the stop flag 100 ms into fit + score of `x` and reports how long the work took to
/// return `Cancelled` after it.
fn cancel_latency(x: &DenseMatrix<f64>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    let params = ForestParams { max_samples: MaxSamples::Count(256), ..ForestParams::default() };
    let (result, latency) = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = IsolationForest::fit_until(x, &params, &stop).and_then(|f| f.score_samples_until(x, &stop));
            (r, Instant::now())
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        let set = Instant::now();
        stop.store(true, Ordering::Relaxed);
        let (r, done) = worker.join().unwrap_or_else(|_| panic!("worker panicked"));
        (r, done.saturating_duration_since(set))
    });
    println!(
        "cancel 100 ms into fit + score of 1M x 20: {} after {:.2} ms",
        if matches!(result, Err(nta_ml::Error::Cancelled)) { "cancelled" } else { "NOT cancelled" },
        latency.as_secs_f64() * 1e3
    );
}
