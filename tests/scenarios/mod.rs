//! Fixture scenarios, one file per detector group. Each scenario is one directory under
//! `fixtures/pcap/`, holding the capture, a README saying what it proves, and `expected.json`.

use crate::common::Scenario;

mod anonymizers;
mod demo;
mod identity;
mod products;
mod remote_access;
mod tunnels;
mod wire;

/// Every scenario.
pub fn all() -> Vec<Scenario> {
    let mut v = demo::scenarios();
    v.extend(remote_access::scenarios());
    v.extend(tunnels::scenarios());
    v.extend(anonymizers::scenarios());
    v.extend(products::scenarios());
    v.extend(identity::scenarios());
    v
}
