//! Counting helpers of a window: [`PortCounts`] (dense, cleared by the ports touched) and the
//! Shannon [`entropy`] of a distribution, summed in sorted order (order-independent to the bit).

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

    pub(crate) fn get(&self, port: u16) -> u32 {
        self.counts.get(usize::from(port)).copied().unwrap_or(0)
    }

    pub(crate) fn clear(&mut self) {
        for p in self.touched.drain(..) {
            if let Some(c) = self.counts.get_mut(usize::from(p)) {
                *c = 0;
            }
        }
    }
}

/// Shannon entropy (bits) of a distribution given by counts, summed in sorted order.
pub(crate) fn entropy(counts: &mut [u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 || counts.len() < 2 {
        return 0.0;
    }
    counts.sort_unstable();
    let n = total as f64;
    // H = log2(n) - (1/n) sum c log2 c
    let s: f64 = counts.iter().filter(|c| **c > 1).map(|c| *c as f64 * (*c as f64).log2()).sum();
    (n.log2() - s / n).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::entropy;

    #[test]
    fn entropy_of_simple_distributions() {
        assert_eq!(entropy(&mut []), 0.0);
        assert_eq!(entropy(&mut [7]), 0.0);
        assert!((entropy(&mut [5, 5]) - 1.0).abs() < 1e-12);
        assert!((entropy(&mut [1, 1, 1, 1]) - 2.0).abs() < 1e-12);
        // p = (1/2, 1/4, 1/4): 1.5 bits
        assert!((entropy(&mut [2, 1, 1]) - 1.5).abs() < 1e-12);
        // Order does not matter, to the last bit.
        let a = entropy(&mut [3, 9, 1, 27, 4]);
        let b = entropy(&mut [27, 4, 3, 1, 9]);
        assert_eq!(a.to_bits(), b.to_bits());
    }
}
