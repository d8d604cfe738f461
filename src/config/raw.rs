//! The TOML file as written: a serde mirror with spans, validated into [`super::Config`].

use serde::Deserialize;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub sensor: RawSensor,
    #[serde(default)]
    pub capture: RawCapture,
    #[serde(default)]
    pub flow: RawFlow,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub intel: RawIntel,
    #[serde(default)]
    pub detect: RawDetect,
    #[serde(default)]
    pub risk: RawRisk,
    #[serde(default)]
    pub identity: RawIdentity,
    #[serde(default)]
    pub inventory: RawInventory,
    #[serde(default)]
    pub contractor: Vec<S<RawContractor>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSensor {
    pub name: Option<S<String>>,
    pub run_as: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapture {
    pub interface: Option<S<String>>,
    pub bpf: Option<S<String>>,
    pub snaplen: Option<S<i64>>,
    pub promiscuous: Option<bool>,
    pub buffer_mb: Option<S<i64>>,
    pub fanout: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub max_flows: Option<S<i64>>,
    pub idle_timeout_secs: Option<S<i64>>,
    pub max_inspecting: Option<S<i64>>,
    pub inspect_packets: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    pub dedup_window_secs: Option<S<i64>>,
    pub active_window_secs: Option<S<i64>>,
    pub jsonl: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub path: Option<S<String>>,
    pub postgres: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRisk {
    pub alert_at: Option<S<f64>>,
    pub remote_access: Option<S<f64>>,
    pub vpn_tunnel: Option<S<f64>>,
    pub anonymizer: Option<S<f64>>,
    pub vpn_exit: Option<S<f64>>,
    pub tor_exit: Option<S<f64>>,
    pub hosting_egress: Option<S<f64>>,
    pub geo_mismatch: Option<S<f64>>,
    pub impossible_travel: Option<S<f64>>,
    pub laptop_farm: Option<S<f64>>,
    pub off_hours: Option<S<f64>>,
    pub continuous_session: Option<S<f64>>,
    pub rtt_implausible: Option<S<f64>>,
}

impl RawRisk {
    /// (kind, weight) of every weight the file sets.
    pub fn weights(&self) -> [(crate::detect::Kind, &Option<S<f64>>); 12] {
        use crate::detect::Kind;
        [
            (Kind::RemoteAccess, &self.remote_access),
            (Kind::VpnTunnel, &self.vpn_tunnel),
            (Kind::Anonymizer, &self.anonymizer),
            (Kind::VpnExit, &self.vpn_exit),
            (Kind::TorExit, &self.tor_exit),
            (Kind::HostingEgress, &self.hosting_egress),
            (Kind::GeoMismatch, &self.geo_mismatch),
            (Kind::ImpossibleTravel, &self.impossible_travel),
            (Kind::LaptopFarm, &self.laptop_farm),
            (Kind::OffHours, &self.off_hours),
            (Kind::ContinuousSession, &self.continuous_session),
            (Kind::RttImplausible, &self.rtt_implausible),
        ]
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDetect {
    pub catalogue: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIntel {
    pub country_db: Option<S<String>>,
    pub city_db: Option<S<String>>,
    pub asn_db: Option<S<String>>,
    #[serde(default)]
    pub anonymous_db: Vec<S<String>>,
    pub builtin_feeds: Option<bool>,
    #[serde(default)]
    pub feed: Vec<S<RawList>>,
    #[serde(default)]
    pub asn_list: Vec<S<RawList>>,
    #[serde(default)]
    pub geofeed: Vec<S<String>>,
    #[serde(default)]
    pub satellite_asns: Vec<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIdentity {
    #[serde(default)]
    pub gateway: Vec<S<RawGateway>>,
    pub session_log: Option<S<String>>,
    pub session_ttl_secs: Option<S<i64>>,
    pub sensor_latitude: Option<S<f64>>,
    pub sensor_longitude: Option<S<f64>>,
    pub watch_countries: Option<Vec<S<String>>>,
    #[serde(default)]
    pub allow: Vec<S<RawNetNote>>,
    #[serde(default)]
    pub shared: Vec<S<RawNetNote>>,
    pub farm_min: Option<S<i64>>,
    pub farm_window_secs: Option<S<i64>>,
    pub travel_window_secs: Option<S<i64>>,
    pub travel_speed_kmh: Option<S<f64>>,
    pub work_start: Option<S<i64>>,
    pub work_end: Option<S<i64>>,
    pub off_hours_min_days: Option<S<i64>>,
    pub off_hours_min_hours: Option<S<i64>>,
    pub off_hours_shift_hours: Option<S<i64>>,
    pub continuous_secs: Option<S<i64>>,
    pub rtt_slack_ms: Option<S<f64>>,
    pub rtt_factor: Option<S<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    pub name: Option<S<String>>,
    #[serde(default)]
    pub addresses: Vec<S<String>>,
    #[serde(default)]
    pub ports: Vec<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNetNote {
    pub net: Option<S<String>>,
    pub reason: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawList {
    pub name: Option<S<String>>,
    pub category: Option<S<String>>,
    pub path: Option<S<String>>,
    pub provider: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub schedule: Option<S<String>>,
    pub dir: Option<S<String>>,
    pub format: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub listen: Option<S<String>>,
    pub token_file: Option<S<String>>,
    pub tls_cert: Option<S<String>>,
    pub tls_key: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub port_hints: Option<bool>,
    #[serde(default)]
    pub severity: std::collections::BTreeMap<S<String>, S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInventory {
    pub csv: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContractor {
    pub id: Option<S<String>>,
    pub name: Option<S<String>>,
    #[serde(default)]
    pub endpoints: Vec<S<String>>,
    #[serde(default)]
    pub approved_tools: Vec<S<String>>,
    #[serde(default)]
    pub egress: Vec<S<String>>,
    #[serde(default)]
    pub accounts: Vec<S<String>>,
    pub residence: Option<S<RawResidence>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResidence {
    pub country: Option<S<String>>,
    pub city: Option<S<String>>,
    pub latitude: Option<S<f64>>,
    pub longitude: Option<S<f64>>,
    pub radius_km: Option<S<f64>>,
    pub timezone: Option<S<String>>,
}
