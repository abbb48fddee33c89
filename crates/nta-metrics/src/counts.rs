//! Counting helpers of a window: [`PortCounts`] (dense, cleared by the ports touched), the
//! Shannon [`entropy`] of a distribution, summed in sorted order (order-independent to the bit),
//! and [`TopN`], the first items of a list in memory bounded by the list's length.

use std::cmp::Ordering;

/// The `n` first items by `cmp` of whatever is pushed, in memory for `2n + 1` items whatever
/// the number pushed (a flood's evidence ranks hundreds of thousands of sources for ten places).
/// `cmp` must be a total order (ties broken by a unique key): the result is then the same as
/// sorting everything and keeping the first `n`, in any order of pushes. Once `2n` are held,
/// the best `n` are kept with the next best as a bar: an item not ahead of the bar cannot be
/// among the first `n` and is dropped after one comparison.
pub(crate) struct TopN<T, F> {
    n: usize,
    /// The best `n` so far (unordered), then (once `barred`) the bar at index `n`, then the
    /// items pushed since.
    buf: Vec<T>,
    barred: bool,
    cmp: F,
    /// Items pushed.
    pub(crate) seen: u64,
}

impl<T, F: Fn(&T, &T) -> Ordering> TopN<T, F> {
    pub(crate) fn new(n: usize, cmp: F) -> TopN<T, F> {
        TopN { n, buf: Vec::new(), barred: false, cmp, seen: 0 }
    }

    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        self.seen += 1;
        if self.n == 0 {
            return;
        }
        if self.barred
            && let Some(bar) = self.buf.get(self.n)
            && (self.cmp)(&item, bar) != Ordering::Less
        {
            return;
        }
        self.buf.push(item);
        if self.buf.len() > self.n.saturating_mul(2) {
            let cmp = &self.cmp;
            self.buf.select_nth_unstable_by(self.n, |a, b| cmp(a, b));
            self.buf.truncate(self.n + 1);
            self.barred = true;
        }
    }

    /// The first `n`, in order.
    pub(crate) fn into_sorted(self) -> Vec<T> {
        let (mut buf, cmp) = (self.buf, self.cmp);
        buf.sort_unstable_by(|a, b| cmp(a, b));
        buf.truncate(self.n);
        buf
    }
}

/// [`TopN`] of `items`.
pub(crate) fn top_n<T>(items: impl IntoIterator<Item = T>, n: usize, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut top = TopN::new(n, cmp);
    items.into_iter().for_each(|i| top.push(i));
    top.into_sorted()
}

/// Packets per TCP/UDP port, dense, with the list of ports touched (for cheap clearing).
#[derive(Debug)]
pub(crate) struct PortCounts {
    counts: Box<[u32]>,
    pub(crate) touched: Vec<u16>,
}

impl PortCounts {
    pub(crate) fn new() -> PortCounts {
        PortCounts { counts: vec![0; 65_536].into_boxed_slice(), touched: Vec::new() }
    }

    pub(crate) fn none() -> PortCounts {
        PortCounts { counts: Box::new([]), touched: Vec::new() }
    }

    #[inline]
    pub(crate) fn add(&mut self, port: u16, n: u32) {
        if let Some(c) = self.counts.get_mut(usize::from(port)) {
            if *c == 0 {
                self.touched.push(port);
            }
            *c = c.saturating_add(n);
        }
    }

    /// Asks for the line of `port`'s count (called a few packets ahead).
    #[inline]
    pub(crate) fn prefetch(&self, port: u16) {
        if let Some(c) = self.counts.get(usize::from(port)) {
            crate::prefetch::write(c);
        }
    }

    pub(crate) fn get(&self, port: u16) -> u32 {
        self.counts.get(usize::from(port)).copied().unwrap_or(0)
    }

    /// Adds the counts of `other`.
    pub(crate) fn merge(&mut self, other: &PortCounts) {
        for p in &other.touched {
            self.add(*p, other.get(*p));
        }
    }

    pub(crate) fn clear(&mut self) {
        for p in self.touched.drain(..) {
            if let Some(c) = self.counts.get_mut(usize::from(p)) {
                *c = 0;
            }
        }
    }
}

/// Shannon entropy (bits) of a distribution given by counts, summed in sorted order. The
/// counts are consumed: only those above 1 are kept and sorted (a count of 1 adds nothing to
/// the sum, and a spoofed flood's window holds a hundred thousand of them).
pub(crate) fn entropy(counts: &mut Vec<u64>) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 || counts.len() < 2 {
        return 0.0;
    }
    counts.retain(|c| *c > 1);
    counts.sort_unstable();
    let n = total as f64;
    // H = log2(n) - (1/n) sum c log2 c
    let s: f64 = counts.iter().map(|c| *c as f64 * (*c as f64).log2()).sum();
    (n.log2() - s / n).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::entropy;

    #[test]
    fn top_n_is_the_head_of_the_sorted_list() {
        use super::top_n;
        // A pseudo-random permutation with repeated counts: ties broken by the key.
        let items: Vec<(u64, u32)> =
            (0..10_000u32).map(|i| (u64::from(i.wrapping_mul(2_654_435_761) % 97), i)).collect();
        let cmp = |a: &(u64, u32), b: &(u64, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        let mut all = items.clone();
        all.sort_by(cmp);
        for n in [0, 1, 10, 500, 9_999, 10_000, 20_000] {
            let want: Vec<_> = all.iter().take(n).copied().collect();
            assert_eq!(top_n(items.iter().copied(), n, cmp), want, "n = {n}");
            assert_eq!(top_n(items.iter().rev().copied(), n, cmp), want, "n = {n}, reversed");
            // Best first (every later item falls at the bar) and worst first (every one passes it).
            assert_eq!(top_n(all.iter().copied(), n, cmp), want, "n = {n}, best first");
            assert_eq!(top_n(all.iter().rev().copied(), n, cmp), want, "n = {n}, worst first");
        }
    }

    #[test]
    fn entropy_of_simple_distributions() {
        assert_eq!(entropy(&mut vec![]), 0.0);
        assert_eq!(entropy(&mut vec![7]), 0.0);
        assert!((entropy(&mut vec![5, 5]) - 1.0).abs() < 1e-12);
        assert!((entropy(&mut vec![1, 1, 1, 1]) - 2.0).abs() < 1e-12);
        // p = (1/2, 1/4, 1/4): 1.5 bits
        assert!((entropy(&mut vec![2, 1, 1]) - 1.5).abs() < 1e-12);
        // Order does not matter, to the last bit.
        let a = entropy(&mut vec![3, 9, 1, 27, 4]);
        let b = entropy(&mut vec![27, 4, 3, 1, 9]);
        assert_eq!(a.to_bits(), b.to_bits());
    }
}
