//! Where a key sits in a blocked filter (the full host tables' Bloom filters, hosts/capped.rs;
//! the crowded flow index's counting filter, flows/index.rs): one block — a 64-bit word, a
//! 64-byte line — chosen by the hash's high bits, and two of the block's 64 places chosen by
//! the twelve bits below. Both places share the block's one cache line, read ahead of time.

/// The block of hash `h` in a filter of 2^(64 − `shift`) blocks (a shift of 64: one block)
/// and its two places in it (0–63; now and then the same one twice).
#[inline]
pub(crate) fn places(h: u64, shift: u32) -> (usize, usize, usize) {
    let block = h.checked_shr(shift).unwrap_or(0) as usize;
    let low = h >> shift.saturating_sub(12);
    (block, (low & 63) as usize, ((low >> 6) & 63) as usize)
}
