//! A refillable byte window over a reader: the only place that allocates, and only when a
//! block is larger than anything seen before.

use std::io::{ErrorKind, Read};

/// Default read size: large enough to amortise system calls, small enough for any machine.
const CHUNK: usize = 1 << 20;

pub(crate) struct Window {
    data: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Stream offset of `data[start]`.
    offset: u64,
}

impl Window {
    pub(crate) fn new(prefix: Vec<u8>) -> Window {
        let end = prefix.len();
        let mut data = prefix;
        data.resize(CHUNK.max(end), 0);
        Window { data, start: 0, end, eof: false, offset: 0 }
    }

    /// Stream offset of the first unconsumed byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Unconsumed bytes available right now.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        self.data.get(self.start..self.end).unwrap_or_default()
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes at least `need` bytes available unless the stream ends first.
    /// Returns whether they are available.
    #[inline]
    pub(crate) fn fill(&mut self, src: &mut dyn Read, need: usize) -> std::io::Result<bool> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        self.refill(src, need)
    }

    /// [`Window::fill`] when the bytes are not all there: reads (the rare case, once per chunk).
    #[inline(never)]
    fn refill(&mut self, src: &mut dyn Read, need: usize) -> std::io::Result<bool> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.data.len() - self.end < need - (self.end - self.start) {
            // Move the tail to the front, growing if even the whole buffer is too small.
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.data.len() < need {
                self.data.resize(need.next_power_of_two().max(CHUNK), 0);
            }
        }
        while self.end - self.start < need && !self.eof {
            let spare = self.data.get_mut(self.end..).unwrap_or_default();
            match src.read(spare) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start >= need)
    }
}
