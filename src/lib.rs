//! remotewatch: a network sensor that tells a SOC, with evidence, when a contractor endpoint is
//! driven by a remote-desktop tool, tunnels through a VPN or hides behind an anonymizer.
//!
//! The pipeline, one stage per module, data flowing one way:
//!
//! `capture::Frame → decode::Packet → flow::FlowTable → detect::Cascade → identity (+ intel) →
//! alert::Alert → export`
//!
//! Only [`capture`] touches libpcap. Every later stage takes bytes and an explicit [`ts::Ts`], so a
//! live interface, a replayed capture, a bench and a test drive exactly the same code.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::print_stdout
    )
)]

pub mod alert;
pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod detect;
pub mod export;
pub mod flow;
mod hex;
pub mod identity;
pub mod intel;
pub mod pipeline;
pub mod store;
pub mod ts;
