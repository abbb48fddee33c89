//! [`ArpMemory`]: the one piece of host state that outlives a window.

use super::MAX_TRACKED_ARP;
use crate::evidence::MacAddr;
use rustc_hash::FxHashMap;
use std::net::Ipv4Addr;

/// Which MAC claimed an address first, and which address a MAC claimed first, over the whole
/// capture (at most [`MAX_TRACKED_ARP`] of each; later ones are not remembered).
#[derive(Debug, Default)]
pub(crate) struct ArpMemory {
    pub(super) owner: FxHashMap<Ipv4Addr, MacAddr>,
    pub(super) home: FxHashMap<MacAddr, Ipv4Addr>,
}

impl ArpMemory {
    pub(crate) fn claim(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if ip.is_unspecified() {
            return;
        }
        if self.owner.len() < MAX_TRACKED_ARP {
            self.owner.entry(ip).or_insert(mac);
        }
        if self.home.len() < MAX_TRACKED_ARP {
            self.home.entry(mac).or_insert(ip);
        }
    }
}
