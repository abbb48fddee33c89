//! One isolation tree: [`Node`] and [`Tree`] (flat, children after their parent), how a tree
//! is grown on a sample of rows ([`grow`], scikit-learn's rules: see the forest's docs), the
//! random stream each tree draws from ([`SplitMix`]) and `c(n)` ([`average_path_length`]).

use serde::{Deserialize, Serialize};

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Average path length of an unsuccessful search in a binary search tree of `n` nodes:
/// sklearn's `_average_path_length`.
pub fn average_path_length(n: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
    }
}

/// SplitMix64: a small, fast, seedable generator with value stability we control.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64, stream: u64) -> SplitMix {
        let mut s = SplitMix(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
        s.next();
        s
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// One node: a split (`feature >= 0`: go to `left` if `x[feature] <= value`, else `left + 1`)
/// or a leaf (`feature = -1`: `value` is the path length, edges + c(n)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Split feature (column of the full matrix), or −1 for a leaf.
    pub feature: i32,
    /// Index of the left child; the right child follows it.
    pub left: u32,
    /// Threshold of a split, or the path length of a leaf.
    pub value: f64,
}

/// A tree, flat: node 0 is the root; children always come after their parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The path length of `row` (which must have all the forest's features).
    #[inline]
    pub fn path_length(&self, row: &[f64]) -> f64 {
        let mut i = 0usize;
        loop {
            let Some(n) = self.nodes.get(i) else { return 0.0 };
            if n.feature < 0 {
                return n.value;
            }
            let x = row.get(n.feature as usize).copied().unwrap_or(0.0);
            i = n.left as usize + usize::from(x > n.value);
        }
    }

    /// The split features on the path of `row`, with their depths (root = 0).
    pub fn path(&self, row: &[f64], mut visit: impl FnMut(usize, usize)) {
        let (mut i, mut depth) = (0usize, 0usize);
        while let Some(n) = self.nodes.get(i) {
            if n.feature < 0 {
                return;
            }
            visit(n.feature as usize, depth);
            let x = row.get(n.feature as usize).copied().unwrap_or(0.0);
            i = n.left as usize + usize::from(x > n.value);
            depth += 1;
        }
    }

    /// Checks what a loaded tree must satisfy: children after parents and in range, features
    /// in range, finite values.
    pub(crate) fn validate(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("empty tree".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.value.is_finite() {
                return Err(format!("node {i}: value is not finite"));
            }
            if n.feature < -1 {
                return Err(format!("node {i}: feature {} (a leaf is -1)", n.feature));
            }
            if n.feature >= 0 {
                if n.feature as usize >= n_features {
                    return Err(format!("node {i}: feature {} out of range", n.feature));
                }
                if (n.left as usize) <= i || n.left as usize + 1 >= self.nodes.len() {
                    return Err(format!("node {i}: children {} out of order or range", n.left));
                }
            }
        }
        Ok(())
    }
}

/// `k` distinct indices of `0..n` (Floyd's algorithm, then in draw order).
pub(crate) fn sample_without_replacement(rng: &mut SplitMix, n: usize, k: usize) -> Vec<usize> {
    if k >= n {
        let mut all: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            all.swap(i, rng.below(i + 1));
        }
        return all;
    }
    let mut chosen = std::collections::HashSet::with_capacity(k);
    let mut out = Vec::with_capacity(k);
    for j in n - k..n {
        let t = rng.below(j + 1);
        let pick = if chosen.contains(&t) { j } else { t };
        chosen.insert(pick);
        out.push(pick);
    }
    out
}

/// Grows one tree on `rows` of the row-major `data` (d columns), splitting on `features`.
pub(crate) fn grow(
    data: &[f64],
    d: usize,
    mut rows: Vec<usize>,
    features: &[usize],
    max_depth: usize,
    rng: &mut SplitMix,
) -> Tree {
    let mut nodes: Vec<Node> = Vec::with_capacity(2 * rows.len());
    nodes.push(Node { feature: -1, left: 0, value: 0.0 });
    // (node index, range of `rows`, depth)
    let mut stack = vec![(0usize, 0usize, rows.len(), 0usize)];
    let mut candidates: Vec<usize> = Vec::with_capacity(features.len());
    let at = |r: usize, f: usize| data.get(r * d + f).copied().unwrap_or(0.0);
    while let Some((node, lo, hi, depth)) = stack.pop() {
        let n = hi - lo;
        let leaf = Node { feature: -1, left: 0, value: depth as f64 + average_path_length(n as f64) };
        if n <= 1 || depth >= max_depth {
            if let Some(slot) = nodes.get_mut(node) {
                *slot = leaf;
            }
            continue;
        }
        let slice = rows.get_mut(lo..hi).unwrap_or_default();
        // A feature drawn uniformly among those not constant in the node.
        candidates.clear();
        candidates.extend_from_slice(features);
        let mut split = None;
        while !candidates.is_empty() {
            let k = rng.below(candidates.len());
            let f = candidates.swap_remove(k);
            let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
            for &r in slice.iter() {
                let v = at(r, f);
                min = min.min(v);
                max = max.max(v);
            }
            if max > min {
                let mut threshold = min + (max - min) * rng.unit();
                if threshold >= max {
                    threshold = min;
                }
                split = Some((f, threshold));
                break;
            }
        }
        let Some((f, threshold)) = split else {
            if let Some(slot) = nodes.get_mut(node) {
                *slot = leaf;
            }
            continue;
        };
        // Partition: rows <= threshold first.
        let mut i = 0;
        for j in 0..slice.len() {
            if slice.get(j).is_some_and(|r| at(*r, f) <= threshold) {
                slice.swap(i, j);
                i += 1;
            }
        }
        let left = nodes.len();
        nodes.push(Node { feature: -1, left: 0, value: 0.0 });
        nodes.push(Node { feature: -1, left: 0, value: 0.0 });
        if let Some(slot) = nodes.get_mut(node) {
            *slot = Node { feature: f as i32, left: left as u32, value: threshold };
        }
        stack.push((left + 1, lo + i, hi, depth + 1));
        stack.push((left, lo, lo + i, depth + 1));
    }
    rows.clear();
    Tree { nodes }
}
