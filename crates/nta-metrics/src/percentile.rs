//! [`percentile`] and [`percentile_sorted`]: numpy's default percentile, once for every crate.

/// numpy's default percentile (`method="linear"`) of values already sorted ascending:
/// linear interpolation between the closest ranks. `q` is in [0, 100] (clamped); `NaN` when
/// `sorted` is empty.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * (q / 100.0).clamp(0.0, 1.0);
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let a = sorted.get(lo).copied().unwrap_or(f64::NAN);
    let b = sorted.get(hi).copied().unwrap_or(f64::NAN);
    a + (b - a) * (pos - lo as f64)
}

/// [`percentile_sorted`] of `values`, which it sorts in place (total order: `NaN` last).
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile_sorted(values, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // numpy.percentile([1, 2, 3, 4, 100], [0, 1, 25, 50, 75, 99, 100])
        let v = [1.0, 2.0, 3.0, 4.0, 100.0];
        let got: Vec<f64> = [0.0, 1.0, 25.0, 50.0, 75.0, 99.0, 100.0].map(|q| percentile_sorted(&v, q)).into();
        let want = [1.0, 1.04, 2.0, 3.0, 4.0, 96.16, 100.0];
        assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-9), "{got:?}");
        assert_eq!(percentile(&mut [4.0, 1.0, 3.0, 2.0], 25.0), 1.75);
        assert!(percentile(&mut [], 50.0).is_nan());
    }
}
