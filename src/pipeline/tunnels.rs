//! The tunnel addresses of flows that arrived in a tunnel.
//!
//! A flow's slot keeps which tunnel carried it (one byte, in the slot's padding); the tunnel's
//! own addresses, which tell an analyst where the tunnel ran (the rented server at its far end,
//! the mirrored interface of a cloud traffic mirror), are kept here, by flow key, for as long
//! as the flow lives. Beside the table rather than in it: 32 more bytes in every slot would
//! break the flow table's 256-byte budget for every flow, to serve the few that arrive in a
//! tunnel.

use crate::decode::Tunnelled;
use crate::flow::FlowKey;
use std::collections::HashMap;

/// Tunnelled flows whose tunnel addresses are kept at once, per pipeline (about 80 bytes each:
/// a few MB at most). Past it, a new tunnelled flow's alerts name the tunnel without its
/// addresses; a flood of tunnelled flows cannot grow memory.
pub const TUNNEL_ENDS_MAX: usize = 65_536;

/// Tunnel addresses by flow key.
#[derive(Debug, Default)]
pub(super) struct TunnelEnds {
    by_flow: HashMap<FlowKey, Tunnelled>,
}

impl TunnelEnds {
    /// Keeps the tunnel of a new flow's first packet, while fewer than [`TUNNEL_ENDS_MAX`] are
    /// kept.
    pub(super) fn remember(&mut self, key: FlowKey, t: Tunnelled) {
        if self.by_flow.len() < TUNNEL_ENDS_MAX {
            self.by_flow.insert(key, t);
        }
    }

    /// The tunnel kept for the flow `key`.
    pub(super) fn get(&self, key: &FlowKey) -> Option<&Tunnelled> {
        self.by_flow.get(key)
    }

    /// Forgets the flow `key` (it ended).
    pub(super) fn forget(&mut self, key: &FlowKey) {
        self.by_flow.remove(key);
    }

    /// Flows kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_flow.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Tunnel;
    use std::net::IpAddr;

    fn key(port: u16) -> FlowKey {
        let (a, b): (IpAddr, IpAddr) = (
            "192.0.2.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        FlowKey::from_ends(0, 6, (a, port), (b, 3389)).0
    }

    fn gre() -> Tunnelled {
        Tunnelled {
            kind: Tunnel::Gre,
            src: "203.0.113.1".parse().unwrap(),
            dst: "203.0.113.200".parse().unwrap(),
        }
    }

    #[test]
    fn kept_until_forgotten_and_bounded() {
        let mut t = TunnelEnds::default();
        t.remember(key(1), gre());
        assert_eq!(t.get(&key(1)), Some(&gre()));
        assert_eq!(t.get(&key(2)), None);
        t.forget(&key(1));
        assert_eq!((t.get(&key(1)), t.len()), (None, 0));
        for port in 0..=u16::MAX {
            t.remember(key(port), gre());
        }
        let mut more = key(1);
        more.vlan = 9;
        t.remember(more, gre());
        assert_eq!((t.len(), t.get(&more)), (TUNNEL_ENDS_MAX, None));
    }
}
