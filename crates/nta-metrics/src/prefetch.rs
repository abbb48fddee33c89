//! Software prefetch: the accumulator asks for the cache lines a packet a few places ahead
//! will touch (its half-open attempt's slot, its port counters, the filters of full tables),
//! so that under a flood — every packet a new key, every access a miss — the misses of
//! several packets overlap instead of following one another (as DPDK and VPP pipelines do).
//!
//! `read` brings the line holding a value toward the core to be read, `write` to be written:
//! `prefetcht0` through `safe_arch` (safe functions over references: a prefetch never faults
//! and changes nothing but timing); no-ops where SSE is not available.

#[cfg(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse"))]
pub(crate) use safe_arch::{prefetch_et0 as write, prefetch_t0 as read};

#[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse")))]
#[inline(always)]
pub(crate) fn read<T>(_: &T) {}

#[cfg(not(all(any(target_arch = "x86", target_arch = "x86_64"), target_feature = "sse")))]
#[inline(always)]
pub(crate) fn write<T>(_: &T) {}
