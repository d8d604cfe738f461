//! The run summary printed on stderr after a capture is analysed.

use crate::decode::{Malformed, Tunnel};
use crate::detect::Kind;
use crate::pipeline::Stats;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Prints the summary of one input.
pub(super) fn print(path: &Path, s: &Stats, elapsed: Duration, truncated: Option<&str>) {
    eprint!("{}", render(path, s, elapsed, truncated, peak_rss_bytes()));
}

fn render(
    path: &Path,
    s: &Stats,
    elapsed: Duration,
    truncated: Option<&str>,
    peak_rss: Option<u64>,
) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut o = String::new();
    let _ = writeln!(o, "{}:", path.display());
    let _ = writeln!(
        o,
        "  packets    {} frames, {} bytes, {:.3} s, {:.0} packets/s",
        s.frames,
        s.bytes,
        elapsed.as_secs_f64(),
        s.frames as f64 / secs
    );
    let _ = writeln!(
        o,
        "  flows      {} (peak {} in table, {} evicted, {} inspections cut short for lack of buffers)",
        s.flows.created, s.flows.peak, s.flows.evicted, s.flows.inspect_skipped
    );
    // The detection kinds always; identity kinds only when they occurred.
    let kinds: Vec<String> = Kind::ALL
        .iter()
        .zip(s.alerts)
        .filter(|(k, n)| Kind::DETECTED.contains(k) || *n > 0)
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    let _ = writeln!(
        o,
        "  alerts     {} ({}; {} duplicates suppressed)",
        s.alerts_total(),
        kinds.join(", "),
        s.suppressed
    );
    let bad = nonzero(Malformed::ALL.map(Malformed::as_str), s.malformed);
    let _ = writeln!(
        o,
        "  malformed  {}{}",
        s.malformed_total(),
        if bad.is_empty() {
            String::new()
        } else {
            format!(" ({})", bad.join(", "))
        }
    );
    let _ = writeln!(
        o,
        "  other      {} non-IP, {} later fragments",
        s.not_ip, s.fragments
    );
    if s.unwrapped_total() > 0 {
        let _ = writeln!(
            o,
            "  tunnels    {} packets unwrapped ({})",
            s.unwrapped_total(),
            nonzero(Tunnel::ALL.map(Tunnel::name), s.unwrapped).join(", ")
        );
    }
    if let Some(rss) = peak_rss {
        let _ = writeln!(
            o,
            "  memory     peak RSS {:.1} MiB",
            rss as f64 / 1_048_576.0
        );
    }
    if let Some(why) = truncated {
        let _ = writeln!(o, "  truncated  yes: the capture ends mid-record ({why}); everything before the cut was analysed");
    }
    o
}

/// `name count` for each name whose count is not zero, in order.
fn nonzero<const N: usize>(names: [&str; N], counts: [u64; N]) -> Vec<String> {
    names
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect()
}

/// Peak resident set size of this process (Linux `VmHWM`), when the platform reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_counts_reasons_and_truncation() {
        let mut s = Stats {
            frames: 10,
            bytes: 1000,
            ..Stats::default()
        };
        s.malformed[Malformed::Truncated.index()] = 2;
        s.alerts[1] = 3;
        let mut tunnelled = s.clone();
        tunnelled.unwrapped[Tunnel::Vxlan.index()] = 7;
        tunnelled.unwrapped[Tunnel::Gre.index()] = 2;
        let out = render(
            Path::new("x.pcap"),
            &tunnelled,
            Duration::from_secs(2),
            None,
            None,
        );
        assert!(
            out.contains("  tunnels    9 packets unwrapped (gre 2, vxlan 7)\n"),
            "{out}"
        );
        let out = render(
            Path::new("x.pcap"),
            &s,
            Duration::from_secs(2),
            Some("cut"),
            Some(2 << 20),
        );
        assert!(out.starts_with("x.pcap:\n"));
        assert!(
            out.contains("10 frames, 1000 bytes, 2.000 s, 5 packets/s"),
            "{out}"
        );
        assert!(
            out.contains("alerts     3 (remote_access 0, vpn_tunnel 3, anonymizer 0"),
            "{out}"
        );
        assert!(out.contains("malformed  2 (truncated 2)"), "{out}");
        assert!(
            !out.contains("tunnels"),
            "no tunnel line without tunnels: {out}"
        );
        assert!(out.contains("peak RSS 2.0 MiB"), "{out}");
        assert!(out.contains("truncated  yes"), "{out}");
        let clean = render(Path::new("x.pcap"), &s, Duration::from_secs(2), None, None);
        assert!(!clean.contains("truncated  yes"));
    }
}
