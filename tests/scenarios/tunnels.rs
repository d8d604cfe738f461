//! Scenarios for this detector group.

use crate::common::Scenario;

pub fn scenarios() -> Vec<Scenario> {
    Vec::new()
}
