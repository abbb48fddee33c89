//! Training and scoring a numeric table as whole processes, against scikit-learn doing the same
//! (a bench binary: `NTA_SKLEARN_PYTHON=/path/to/python cargo bench -p nta-cli --bench
//! train_csv`, that Python having scikit-learn and pandas).
//!
//! A 200,000 × 20 CSV (Gaussian clusters plus 1 % scattered outliers, written here with 17
//! significant digits, as pandas writes floats) is trained on and scored by `nta-cli train
//! --csv` then `nta-cli score --csv`, and by a Python process that reads it with pandas, fits
//! `IsolationForest(n_estimators=100)`, scores it and writes the same four columns. Best of
//! `NTA_BENCH_RUNS` (default 3) for each; the ratio is the goal of issue 20 (≥ 5×).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const SKLEARN: &str = r#"
import sys, pandas as pd
from sklearn.ensemble import IsolationForest
x = pd.read_csv(sys.argv[1]).values
f = IsolationForest(n_estimators=100, random_state=0).fit(x)
pd.DataFrame({"row": range(len(x)), "score_samples": f.score_samples(x),
              "decision_function": f.decision_function(x), "predict": f.predict(x)}).to_csv(sys.argv[2], index=False)
"#;

/// Writes the table: SplitMix64 + Box–Muller, deterministic.
fn table(path: &Path, rows: usize, cols: usize) -> std::io::Result<()> {
    let mut s = 0x5eed_u64;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let names: Vec<String> = (0..cols).map(|c| format!("f{c}")).collect();
    writeln!(out, "{}", names.join(","))?;
    for i in 0..rows {
        let center = (i % 3) as f64 * 5.0;
        for c in 0..cols {
            let v = if i % 100 == 0 {
                next() * 40.0 - 20.0
            } else {
                center + 3.0 * (-2.0 * (1.0 - next()).ln()).sqrt() * (std::f64::consts::TAU * next()).cos()
            };
            write!(out, "{}{v:.16e}", if c == 0 { "" } else { "," })?;
        }
        writeln!(out)?;
    }
    out.flush()
}

/// Wall seconds of `cmd`, which must succeed.
fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    t.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("NTA_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("nta-train-csv-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let csv = dir.join("table.csv");
    table(&csv, 200_000, 20).unwrap_or_else(|e| panic!("{e}"));
    let mb = std::fs::metadata(&csv).map_or(0.0, |m| m.len() as f64 / 1e6);
    println!("table: 200,000 × 20, {mb:.1} MB");
    let nta = env!("CARGO_BIN_EXE_nta-cli");
    let (mut train, mut score, mut both) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..runs {
        let models = dir.join("models");
        let t = timed(
            Command::new(nta)
                .args(["train", "--csv"])
                .arg(&csv)
                .args(["--name", "bench", "--models-dir"])
                .arg(&models)
                .env("NTA_DATA_DIR", &dir),
        );
        let s = timed(
            Command::new(nta)
                .args(["score", "--model", "bench", "--models-dir"])
                .arg(&models)
                .arg("--csv")
                .arg(&csv)
                .arg("--out")
                .arg(dir.join("nta-scores.csv"))
                .env("NTA_DATA_DIR", &dir),
        );
        (train, score, both) = (train.min(t), score.min(s), both.min(t + s));
    }
    println!("nta-cli train --csv: {train:.3} s, score --csv: {score:.3} s, both: {both:.3} s (best of {runs})");
    let Ok(python) = std::env::var("NTA_SKLEARN_PYTHON") else {
        println!("scikit-learn: skipped (set NTA_SKLEARN_PYTHON to a Python with scikit-learn and pandas)");
        return;
    };
    let script = dir.join("sklearn_bench.py");
    std::fs::write(&script, SKLEARN).unwrap_or_else(|e| panic!("{e}"));
    let mut sk = f64::MAX;
    for _ in 0..runs {
        sk = sk.min(timed(Command::new(&python).arg(&script).arg(&csv).arg(dir.join("sk-scores.csv"))));
    }
    println!("scikit-learn (pandas read, fit, score, write): {sk:.3} s (best of {runs})");
    println!("nta is {:.1}× faster as whole processes", sk / both);
    std::fs::remove_dir_all(&dir).ok();
}
