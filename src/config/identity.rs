//! `[identity]`: gateways, session log, sensor location, watch list, allowlists and the
//! thresholds of the identity checks.

use super::raw::{RawIdentity, RawNetNote};
use super::{inventory, ranged, Problems};
use crate::identity::{Gateway, IdentityConfig, NetNote};
use std::path::Path;
use toml::Spanned;

/// Longest reason text of an allowlist entry.
const REASON_MAX: usize = 200;

pub(super) fn validate(raw: &RawIdentity, base: &Path, pr: &mut Problems<'_>) -> IdentityConfig {
    let mut c = IdentityConfig::default();
    for g in &raw.gateway {
        let at = Some(g.span().start);
        let g = g.get_ref();
        let Some(name) = &g.name else {
            pr.at(at, "[[identity.gateway]] needs a name");
            continue;
        };
        let name = match inventory::parse_tool(name.get_ref()) {
            Ok(n) => n,
            Err(e) => {
                pr.at(
                    Some(name.span().start),
                    format!("identity.gateway.name: {e}"),
                );
                continue;
            }
        };
        if g.addresses.is_empty() {
            pr.at(
                at,
                format!("gateway {name:?} needs addresses (IPs or CIDR networks)"),
            );
        }
        let mut nets = Vec::new();
        for a in &g.addresses {
            match inventory::parse_endpoint(a.get_ref()) {
                Ok(n) => nets.push(n),
                Err(e) => pr.at(
                    Some(a.span().start),
                    format!("identity.gateway.addresses: {e}"),
                ),
            }
        }
        let ports = g
            .ports
            .iter()
            .filter_map(|p| ranged(pr, p, "identity.gateway.ports", 1, 65_535))
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        c.gateways.push(Gateway { name, nets, ports });
    }
    if let Some(p) = &raw.session_log {
        c.session_log = Some(base.join(p.get_ref()));
    }
    let secs = |v: &Option<Spanned<i64>>, what: &str, lo: i64, hi: i64, pr: &mut Problems<'_>| {
        v.as_ref()
            .and_then(|v| ranged(pr, v, what, lo, hi))
            .and_then(|v| u64::try_from(v).ok())
    };
    if let Some(v) = secs(
        &raw.session_ttl_secs,
        "identity.session_ttl_secs",
        60,
        30 * 86_400,
        pr,
    ) {
        c.session_ttl_secs = v;
    }
    match (&raw.sensor_latitude, &raw.sensor_longitude) {
        (Some(la), Some(lo)) => {
            let lat = inventory::check_latitude(*la.get_ref())
                .map_err(|e| {
                    pr.at(
                        Some(la.span().start),
                        format!("identity.sensor_latitude: {e}"),
                    )
                })
                .ok();
            let lon = inventory::check_longitude(*lo.get_ref())
                .map_err(|e| {
                    pr.at(
                        Some(lo.span().start),
                        format!("identity.sensor_longitude: {e}"),
                    )
                })
                .ok();
            c.sensor_location = lat.zip(lon);
        }
        (None, None) => {}
        (Some(v), None) | (None, Some(v)) => pr.at(
            Some(v.span().start),
            "identity.sensor_latitude and identity.sensor_longitude go together",
        ),
    }
    if let Some(list) = &raw.watch_countries {
        c.watch_countries = list
            .iter()
            .filter_map(|cc| {
                inventory::parse_country(cc.get_ref())
                    .map_err(|e| {
                        pr.at(
                            Some(cc.span().start),
                            format!("identity.watch_countries: {e}"),
                        )
                    })
                    .ok()
            })
            .collect();
    }
    c.allow = notes(&raw.allow, "identity.allow", pr);
    c.shared = notes(&raw.shared, "identity.shared", pr);
    if let Some(v) = raw
        .farm_min
        .as_ref()
        .and_then(|v| ranged(pr, v, "identity.farm_min", 2, 64))
    {
        c.farm_min = usize::try_from(v).unwrap_or(3);
    }
    if let Some(v) = secs(
        &raw.farm_window_secs,
        "identity.farm_window_secs",
        60,
        90 * 86_400,
        pr,
    ) {
        c.farm_window_secs = v;
    }
    if let Some(v) = secs(
        &raw.travel_window_secs,
        "identity.travel_window_secs",
        60,
        7 * 86_400,
        pr,
    ) {
        c.travel_window_secs = v;
    }
    if let Some(v) = &raw.travel_speed_kmh {
        let x = *v.get_ref();
        if (100.0..=5_000.0).contains(&x) {
            c.travel_speed_kmh = x;
        } else {
            pr.at(
                Some(v.span().start),
                format!("identity.travel_speed_kmh = {x} is outside 100..=5000"),
            );
        }
    }
    let hour = |v: &Option<Spanned<i64>>, what: &str, lo: i64, hi: i64, pr: &mut Problems<'_>| {
        v.as_ref()
            .and_then(|v| ranged(pr, v, what, lo, hi))
            .and_then(|v| u8::try_from(v).ok())
    };
    if let Some(v) = hour(&raw.work_start, "identity.work_start", 0, 23, pr) {
        c.hours.work_start = v;
    }
    if let Some(v) = hour(&raw.work_end, "identity.work_end", 1, 24, pr) {
        c.hours.work_end = v;
    }
    if c.hours.work_end <= c.hours.work_start {
        if let Some(v) = raw.work_end.as_ref().or(raw.work_start.as_ref()) {
            pr.at(
                Some(v.span().start),
                "identity.work_end must be after identity.work_start",
            );
        }
    }
    if let Some(v) = raw
        .off_hours_min_days
        .as_ref()
        .and_then(|v| ranged(pr, v, "identity.off_hours_min_days", 1, 28))
    {
        c.hours.min_days = usize::try_from(v).unwrap_or(5);
    }
    if let Some(v) = raw
        .off_hours_min_hours
        .as_ref()
        .and_then(|v| ranged(pr, v, "identity.off_hours_min_hours", 1, 672))
    {
        c.hours.min_hours = u32::try_from(v).unwrap_or(20);
    }
    if let Some(v) = raw
        .off_hours_shift_hours
        .as_ref()
        .and_then(|v| ranged(pr, v, "identity.off_hours_shift_hours", 1, 12))
    {
        c.hours.shift_hours = i32::try_from(v).unwrap_or(5);
    }
    if let Some(v) = secs(
        &raw.continuous_secs,
        "identity.continuous_secs",
        3_600,
        30 * 86_400,
        pr,
    ) {
        c.continuous_secs = v;
    }
    for (v, slot, what, lo, hi) in [
        (
            &raw.rtt_slack_ms,
            &mut c.rtt_slack_ms,
            "identity.rtt_slack_ms",
            0.0,
            1_000.0,
        ),
        (
            &raw.rtt_factor,
            &mut c.rtt_factor,
            "identity.rtt_factor",
            1.0,
            20.0,
        ),
    ] {
        if let Some(v) = v {
            let x = *v.get_ref();
            if (lo..=hi).contains(&x) {
                *slot = x;
            } else {
                pr.at(
                    Some(v.span().start),
                    format!("{what} = {x} is outside {lo}..={hi}"),
                );
            }
        }
    }
    c
}

fn notes(list: &[Spanned<RawNetNote>], what: &str, pr: &mut Problems<'_>) -> Vec<NetNote> {
    let mut out = Vec::new();
    for n in list {
        let at = Some(n.span().start);
        let n = n.get_ref();
        let (Some(net), Some(reason)) = (&n.net, &n.reason) else {
            pr.at(at, format!("[[{what}]] needs net and reason"));
            continue;
        };
        let r = reason.get_ref().trim();
        if r.is_empty() || r.chars().count() > REASON_MAX || r.chars().any(char::is_control) {
            pr.at(
                Some(reason.span().start),
                format!("{what}.reason must be 1 to {REASON_MAX} printable characters"),
            );
            continue;
        }
        match inventory::parse_endpoint(net.get_ref()) {
            Ok(net) => out.push(NetNote {
                net,
                reason: r.to_owned(),
            }),
            Err(e) => pr.at(Some(net.span().start), format!("{what}.net: {e}")),
        }
    }
    out
}
