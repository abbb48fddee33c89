//! Software prefetch: the accumulator asks for the cache lines a packet a few places ahead
//! will touch (its half-open attempt's slot, its port counters, the filters of full tables),
//! so that under a flood — every packet a new key, every access a miss — the misses of
//! several packets overlap instead of following one another (as DPDK and VPP pipelines do).
//!
//! `prefetcht0` through `safe_arch` (safe functions over references: a prefetch never faults
//! and changes nothing but timing); a no-op where SSE is not available.

/// Brings the cache line holding `x` toward the core, to be read.
#[inline(always)]
pub(crate) fn read<T>(x: &T) {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
    safe_arch::prefetch_t0(x);
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse")))]
    let _ = x;
}

/// Brings the cache line holding `x` toward the core, to be written.
#[inline(always)]
pub(crate) fn write<T>(x: &T) {
    #[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
    safe_arch::prefetch_et0(x);
    #[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse")))]
    let _ = x;
}
