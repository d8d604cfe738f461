//! Configuration: one TOML file, validated as a whole.
//!
//! [`Config::load`] reads the file (and the inventory CSV it may name), checks every value and
//! returns either a usable [`Config`] or a [`ConfigError`] listing every problem found, each with
//! file, line, column and reason. A TOML syntax or type error stops parsing at that point (the
//! parser cannot continue past it); every value-level problem is collected.

mod error;
mod identity;
pub(crate) mod inventory;
mod inventory_csv;
mod raw;

pub use error::{ConfigError, Problem};
pub use inventory::{canonical, Contractor, Inventory, Residence};

use crate::alert::{Policy, Severity};
use crate::flow::FlowConfig;
use crate::ts::Ts;
pub(crate) use error::{read_bounded, Problems};
use raw::RawConfig;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Largest accepted snap length (libpcap's own maximum, MAXIMUM_SNAPLEN).
pub const SNAPLEN_MAX: i64 = 262_144;
/// Largest accepted kernel capture buffer, in MiB.
pub const BUFFER_MB_MAX: i64 = 4096;
/// Largest accepted flow table.
pub const MAX_FLOWS_MAX: i64 = 100_000_000;
/// Largest accepted number of payload packets inspected per flow.
pub const INSPECT_PACKETS_MAX: i64 = 1024;
/// Default number of payload packets inspected per flow before detection concludes.
pub const INSPECT_PACKETS_DEFAULT: u32 = 32;
/// Largest accepted configuration file (a config is text, not data).
pub const CONFIG_BYTES_MAX: u64 = 16 << 20;

/// Live capture settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Interface for `run` (overridden by `--interface`).
    pub interface: Option<String>,
    /// BPF filter expression.
    pub bpf: String,
    /// Snap length in bytes.
    pub snaplen: i32,
    /// Promiscuous mode.
    pub promiscuous: bool,
    /// Kernel buffer size in bytes.
    pub buffer_bytes: Option<i32>,
    /// With several workers on an interface, one socket per worker in a kernel fanout group
    /// (`pipeline::Fanout`); otherwise one socket whose frames are routed in user space.
    pub fanout: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interface: None,
            bpf: String::new(),
            snaplen: 65_535,
            promiscuous: true,
            buffer_bytes: None,
            fanout: true,
        }
    }
}

/// Detection settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectConfig {
    /// Payload-bearing packets per flow handed to detectors before they must conclude.
    pub inspect_packets: u32,
    /// Whether a flow on a well-known remote-access or VPN port with no recognised protocol gets a
    /// low-severity port-hint alert.
    pub port_hints: bool,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            inspect_packets: INSPECT_PACKETS_DEFAULT,
            port_hints: true,
        }
    }
}

/// Alert output settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertConfig {
    /// One alert per identity per this many seconds.
    pub dedup_window_secs: u64,
    /// Alerts count as active (metrics gauge) for this many seconds of packet time.
    pub active_window_secs: u64,
    /// JSON Lines output of the daemon (`None` or `-`: standard output).
    pub jsonl: Option<PathBuf>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            dedup_window_secs: 3600,
            active_window_secs: 86_400,
            jsonl: None,
        }
    }
}

/// Default address of the daemon's HTTP endpoints: loopback only, so nothing is exposed to the
/// network unless the configuration says so.
pub const HTTP_LISTEN_DEFAULT: &str = "127.0.0.1:9753";

/// The daemon's HTTP endpoints (`/metrics`, `/healthz`, `/readyz`, `/api/alerts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address to listen on; `None` disables the endpoints.
    pub listen: Option<std::net::SocketAddr>,
    /// A file holding the bearer token `/api/alerts` requires (`None`: no token).
    pub token_file: Option<PathBuf>,
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP.
    pub tls: Option<TlsFiles>,
}

/// The certificate chain and key of the HTTPS endpoints (PEM files).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: HTTP_LISTEN_DEFAULT.parse().ok(),
            token_file: None,
            tls: None,
        }
    }
}

/// How often the daemon writes an audit export of the period that just ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Every UTC day.
    Daily,
    /// Every ISO week (Monday to Monday, UTC).
    Weekly,
    /// Every calendar month (UTC).
    Monthly,
}

/// Scheduled audit exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Period; `None`: no scheduled exports.
    pub schedule: Option<Schedule>,
    /// Directory the exports are written under (one subdirectory per period).
    pub dir: Option<PathBuf>,
    /// `true` for CSV, `false` for JSON Lines.
    pub csv: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            schedule: None,
            dir: None,
            csv: true,
        }
    }
}

/// A validated configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The file it came from (`None` for built-in defaults).
    pub source: Option<PathBuf>,
    /// Sensor name reported with alerts and metrics.
    pub sensor_name: String,
    /// The unprivileged user `run` switches to once the capture and its files are open.
    pub run_as: Option<String>,
    /// Live capture.
    pub capture: CaptureConfig,
    /// Flow table limits.
    pub flow: FlowConfig,
    /// Detection.
    pub detect: DetectConfig,
    /// Alerts.
    pub alerts: AlertConfig,
    /// The alert store (`None`: alerts are not stored).
    pub store: Option<crate::store::Location>,
    /// HTTP endpoints.
    pub http: HttpConfig,
    /// Scheduled audit exports.
    pub audit: AuditConfig,
    /// IP intelligence: databases and lists.
    pub intel: crate::intel::IntelConfig,
    /// Weights of the contractor risk score.
    pub risk: crate::alert::risk::RiskWeights,
    /// Identity checks: gateways, session log, thresholds.
    pub identity: std::sync::Arc<crate::identity::IdentityConfig>,
    /// A product catalogue from `detect.catalogue` (extending or replacing the built-in one).
    pub catalogue: Option<std::sync::Arc<crate::detect::catalogue::Catalogue>>,
    /// Severity policy.
    pub policy: Policy,
    /// Contractors.
    pub inventory: Inventory,
    /// Files read besides the configuration itself (inventory CSV, catalogue), for reload.
    pub read_files: Vec<PathBuf>,
}

impl Config {
    /// Every file this configuration is made of: the file itself, the inventory and catalogue it
    /// names, and the intel databases, lists and geofeeds. A change to any of them is a reason
    /// to reload. (The session log is followed as it grows, not reloaded.)
    pub fn input_files(&self) -> Vec<PathBuf> {
        let i = &self.intel;
        self.source
            .iter()
            .chain(&self.read_files)
            .chain(i.dbs.country.iter())
            .chain(i.dbs.city.iter())
            .chain(i.dbs.asn.iter())
            .chain(&i.dbs.anonymous)
            .chain(i.feeds.iter().map(|f| &f.path))
            .chain(i.asn_lists.iter().map(|f| &f.path))
            .chain(&i.geofeeds)
            .cloned()
            .collect()
    }

    /// Puts the store, the JSON Lines log and scheduled exports under `dir`
    /// (`alerts.db`, `alerts.jsonl`, `exports/`), as `--data-dir` asks.
    pub fn use_data_dir(&mut self, dir: &Path) {
        self.store = Some(crate::store::Location::Sqlite(dir.join("alerts.db")));
        self.alerts.jsonl = Some(dir.join("alerts.jsonl"));
        self.audit.dir = Some(dir.join("exports"));
    }

    /// Built-in defaults: no inventory, every flow's initiator is the monitored endpoint.
    pub fn defaults() -> Config {
        Config {
            sensor_name: "remotewatch".into(),
            policy: Policy::default(),
            ..Config::default()
        }
    }

    /// Loads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_bounded(path, CONFIG_BYTES_MAX, "configuration")
            .map_err(|p| ConfigError { problems: vec![p] })?;
        Config::parse(path, &text)
    }

    /// Validates `text` as if read from `path` (relative paths inside resolve against its folder).
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut pr = Problems::new(path, text);
        let raw: RawConfig = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                pr.at(e.span().map(|s| s.start), e.message().trim().to_owned());
                return Err(ConfigError { problems: pr.list });
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut cfg = Config::defaults();
        cfg.source = Some(path.to_owned());
        validate(&raw, base, &mut cfg, &mut pr);
        let mut problems = pr.list;
        let mut contractors = inline_contractors(&raw, path, text, &mut problems);
        if let Some(csv) = &raw.inventory.csv {
            let csv_path = base.join(csv.get_ref());
            cfg.read_files.push(csv_path.clone());
            match inventory_csv::load(&csv_path) {
                Ok(mut more) => contractors.append(&mut more),
                Err(mut e) => problems.append(&mut e),
            }
        }
        if let Some(c) = &raw.detect.catalogue {
            cfg.read_files.push(base.join(c.get_ref()));
            match crate::detect::catalogue::Catalogue::load(&base.join(c.get_ref())) {
                Ok(cat) => cfg.catalogue = Some(std::sync::Arc::new(cat)),
                Err(mut e) => problems.append(&mut e),
            }
        }
        check_unique(&contractors, path, &mut problems);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        cfg.inventory = Inventory::new(contractors);
        Ok(cfg)
    }
}

/// `http.token_file`, `http.tls_cert` and `http.tls_key`: paths relative to the configuration.
/// The files are read when the daemon starts (and by `check-config`), never kept in [`Config`].
fn http_files(raw: &raw::RawHttp, base: &Path, cfg: &mut Config, pr: &mut Problems<'_>) {
    let path = |v: &Spanned<String>, what: &str, pr: &mut Problems<'_>| {
        if v.get_ref().trim().is_empty() {
            pr.at(Some(v.span().start), format!("{what} is empty"));
            None
        } else {
            Some(base.join(v.get_ref()))
        }
    };
    if let Some(t) = &raw.token_file {
        cfg.http.token_file = path(t, "http.token_file", pr);
    }
    match (&raw.tls_cert, &raw.tls_key) {
        (None, None) => {}
        (Some(c), Some(k)) => {
            if let (Some(cert), Some(key)) =
                (path(c, "http.tls_cert", pr), path(k, "http.tls_key", pr))
            {
                cfg.http.tls = Some(TlsFiles { cert, key });
            }
        }
        (Some(v), None) | (None, Some(v)) => pr.at(
            Some(v.span().start),
            "http.tls_cert and http.tls_key go together: set both to serve HTTPS",
        ),
    }
}

/// `v` in `lo..=hi`, or a problem at its span.
fn ranged(pr: &mut Problems<'_>, v: &Spanned<i64>, what: &str, lo: i64, hi: i64) -> Option<i64> {
    let x = *v.get_ref();
    if (lo..=hi).contains(&x) {
        Some(x)
    } else {
        pr.at(
            Some(v.span().start),
            format!("{what} = {x} is outside {lo}..={hi}"),
        );
        None
    }
}

fn validate(raw: &RawConfig, base: &Path, cfg: &mut Config, pr: &mut Problems<'_>) {
    if let Some(n) = &raw.sensor.name {
        match inventory::parse_id(n.get_ref()) {
            Ok(v) => cfg.sensor_name = v,
            Err(e) => pr.at(Some(n.span().start), format!("sensor.name: {e}")),
        }
    }
    if let Some(u) = &raw.sensor.run_as {
        let name = u.get_ref();
        // POSIX portable user names (IEEE 1003.1 §3.437), as useradd accepts them.
        let portable = !name.is_empty()
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if portable {
            cfg.run_as = Some(name.clone());
        } else {
            pr.at(
                Some(u.span().start),
                format!("sensor.run_as {name:?} is not a user name"),
            );
        }
    }
    let c = &raw.capture;
    if let Some(i) = &c.interface {
        if i.get_ref().trim().is_empty() {
            pr.at(Some(i.span().start), "capture.interface is empty");
        } else {
            cfg.capture.interface = Some(i.get_ref().clone());
        }
    }
    if let Some(b) = &c.bpf {
        cfg.capture.bpf = b.get_ref().clone();
    }
    if let Some(v) = c
        .snaplen
        .as_ref()
        .and_then(|v| ranged(pr, v, "capture.snaplen", 64, SNAPLEN_MAX))
    {
        cfg.capture.snaplen = i32::try_from(v).unwrap_or(65_535);
    }
    if let Some(p) = c.promiscuous {
        cfg.capture.promiscuous = p;
    }
    if let Some(f) = c.fanout {
        cfg.capture.fanout = f;
    }
    if let Some(v) = c
        .buffer_mb
        .as_ref()
        .and_then(|v| ranged(pr, v, "capture.buffer_mb", 1, BUFFER_MB_MAX))
    {
        cfg.capture.buffer_bytes = i32::try_from(v << 20).ok();
    }
    let f = &raw.flow;
    if let Some(v) = f
        .max_flows
        .as_ref()
        .and_then(|v| ranged(pr, v, "flow.max_flows", 1, MAX_FLOWS_MAX))
    {
        cfg.flow.max_flows = usize::try_from(v).unwrap_or(1);
    }
    if let Some(v) = f
        .idle_timeout_secs
        .as_ref()
        .and_then(|v| ranged(pr, v, "flow.idle_timeout_secs", 1, 86_400))
    {
        cfg.flow.idle_timeout_ns = u64::try_from(v).unwrap_or(1) * Ts::NANOS_PER_SEC;
    }
    if let Some(v) = f
        .max_inspecting
        .as_ref()
        .and_then(|v| ranged(pr, v, "flow.max_inspecting", 1, MAX_FLOWS_MAX))
    {
        cfg.flow.max_inspecting = usize::try_from(v).unwrap_or(1);
    }
    if let Some(v) = f
        .inspect_packets
        .as_ref()
        .and_then(|v| ranged(pr, v, "flow.inspect_packets", 1, INSPECT_PACKETS_MAX))
    {
        cfg.detect.inspect_packets = u32::try_from(v).unwrap_or(INSPECT_PACKETS_DEFAULT);
    }
    let a = &raw.alerts;
    if let Some(v) = a
        .dedup_window_secs
        .as_ref()
        .and_then(|v| ranged(pr, v, "alerts.dedup_window_secs", 1, 30 * 86_400))
    {
        cfg.alerts.dedup_window_secs = u64::try_from(v).unwrap_or(3600);
    }
    if let Some(v) = a
        .active_window_secs
        .as_ref()
        .and_then(|v| ranged(pr, v, "alerts.active_window_secs", 60, 90 * 86_400))
    {
        cfg.alerts.active_window_secs = u64::try_from(v).unwrap_or(86_400);
    }
    if let Some(p) = &raw.store.path {
        if p.get_ref().trim().is_empty() {
            pr.at(
                Some(p.span().start),
                "store.path is empty (leave it out to run without a store)",
            );
        } else {
            cfg.store = Some(crate::store::Location::Sqlite(base.join(p.get_ref())));
        }
    }
    if let Some(c) = &raw.store.postgres {
        if raw.store.path.is_some() {
            pr.at(
                Some(c.span().start),
                "store.postgres and store.path are exclusive: one store per sensor",
            );
        } else if c.get_ref().parse::<postgres::Config>().is_err() {
            // The connection string may hold a password: never echo it.
            pr.at(
                Some(c.span().start),
                "store.postgres is not a PostgreSQL connection string (\"host=… user=… dbname=…\" or \"postgresql://…\")",
            );
        } else {
            cfg.store = Some(crate::store::Location::Postgres(c.get_ref().clone()));
        }
    }
    if let Some(l) = &raw.http.listen {
        let t = l.get_ref().trim();
        if t.is_empty() {
            cfg.http.listen = None;
        } else {
            match t.parse::<std::net::SocketAddr>() {
                Ok(a) => cfg.http.listen = Some(a),
                Err(_) => pr.at(
                    Some(l.span().start),
                    format!("http.listen {t:?} is not an address:port (e.g. \"127.0.0.1:9753\"; \"\" disables)"),
                ),
            }
        }
    }
    http_files(&raw.http, base, cfg, pr);
    intel(&raw.intel, base, cfg, pr);
    cfg.identity = std::sync::Arc::new(identity::validate(&raw.identity, base, pr));
    for (kind, v) in raw.risk.weights() {
        if let Some(v) = v {
            let x = *v.get_ref();
            if (0.0..=100.0).contains(&x) {
                cfg.risk.set_weight(kind, x);
            } else {
                pr.at(
                    Some(v.span().start),
                    format!("risk.{} = {x} is outside 0..=100", kind.as_str()),
                );
            }
        }
    }
    if let Some(v) = &raw.risk.alert_at {
        let x = *v.get_ref();
        if x > 0.0 && x <= 100.0 {
            cfg.risk.alert_at = x;
        } else {
            pr.at(
                Some(v.span().start),
                format!("risk.alert_at = {x} must be above 0 and at most 100"),
            );
        }
    }
    let au = &raw.audit;
    if let Some(sch) = &au.schedule {
        match sch.get_ref().as_str() {
            "daily" => cfg.audit.schedule = Some(Schedule::Daily),
            "weekly" => cfg.audit.schedule = Some(Schedule::Weekly),
            "monthly" => cfg.audit.schedule = Some(Schedule::Monthly),
            other => pr.at(
                Some(sch.span().start),
                format!("audit.schedule {other:?} is not daily, weekly or monthly"),
            ),
        }
    }
    if let Some(d) = &au.dir {
        cfg.audit.dir = Some(base.join(d.get_ref()));
    }
    if let Some(f) = &au.format {
        match f.get_ref().as_str() {
            "csv" => cfg.audit.csv = true,
            "jsonl" => cfg.audit.csv = false,
            other => pr.at(
                Some(f.span().start),
                format!("audit.format {other:?} is not csv or jsonl"),
            ),
        }
    }
    if let Some(j) = &a.jsonl {
        let p = j.get_ref();
        if p.trim().is_empty() {
            pr.at(
                Some(j.span().start),
                "alerts.jsonl is empty (use \"-\" for standard output)",
            );
        } else if p != "-" {
            cfg.alerts.jsonl = Some(base.join(p));
        }
    }
    if let Some(p) = raw.policy.port_hints {
        cfg.detect.port_hints = p;
    }
    for (fam, sev) in &raw.policy.severity {
        if let Err(e) = inventory::parse_tool(fam.get_ref()) {
            pr.at(Some(fam.span().start), format!("policy.severity: {e}"));
            continue;
        }
        match sev.get_ref().parse::<Severity>() {
            Ok(s) => {
                cfg.policy.family_severity.insert(fam.get_ref().clone(), s);
            }
            Err(e) => pr.at(
                Some(sev.span().start),
                format!("policy.severity.{}: {e}", fam.get_ref()),
            ),
        }
    }
}

fn intel(raw: &raw::RawIntel, base: &Path, cfg: &mut Config, pr: &mut Problems<'_>) {
    let path = |p: &Option<Spanned<String>>| p.as_ref().map(|p| base.join(p.get_ref()));
    let i = &mut cfg.intel;
    i.dbs.country = path(&raw.country_db);
    i.dbs.city = path(&raw.city_db);
    i.dbs.asn = path(&raw.asn_db);
    i.dbs.anonymous = raw
        .anonymous_db
        .iter()
        .map(|p| base.join(p.get_ref()))
        .collect();
    if let Some(b) = raw.builtin_feeds {
        i.builtin_feeds = b;
    }
    i.geofeeds = raw.geofeed.iter().map(|p| base.join(p.get_ref())).collect();
    i.satellite_asns = raw
        .satellite_asns
        .iter()
        .filter_map(|a| ranged(pr, a, "intel.satellite_asns", 1, i64::from(u32::MAX)))
        .filter_map(|a| u32::try_from(a).ok())
        .collect();
    for (lists, what) in [(&raw.feed, "intel.feed"), (&raw.asn_list, "intel.asn_list")] {
        for l in lists {
            let at = Some(l.span().start);
            let l = l.get_ref();
            let (Some(name), Some(cat), Some(p)) = (&l.name, &l.category, &l.path) else {
                pr.at(at, format!("[[{what}]] needs name, category and path"));
                continue;
            };
            let Some(category) = crate::intel::feeds::Category::parse(cat.get_ref()) else {
                pr.at(
                    Some(cat.span().start),
                    format!(
                        "{what}.category {:?} is not vpn, tor, hosting or proxy",
                        cat.get_ref()
                    ),
                );
                continue;
            };
            if let Err(e) = inventory::parse_tool(name.get_ref()) {
                pr.at(Some(name.span().start), format!("{what}.name: {e}"));
                continue;
            }
            let spec = crate::intel::ListSpec {
                name: name.get_ref().clone(),
                category,
                path: base.join(p.get_ref()),
                provider: l.provider.as_ref().map(|p| p.get_ref().clone()),
            };
            if what == "intel.feed" {
                i.feeds.push(spec);
            } else {
                i.asn_lists.push(spec);
            }
        }
    }
}

fn inline_contractors(
    raw: &RawConfig,
    path: &Path,
    text: &str,
    out: &mut Vec<Problem>,
) -> Vec<Contractor> {
    let mut pr = Problems::new(path, text);
    let mut list = Vec::new();
    for c in &raw.contractor {
        let at = Some(c.span().start);
        let c = c.get_ref();
        let before = pr.list.len();
        let id = match &c.id {
            Some(id) => pr.take(id.span().start, inventory::parse_id(id.get_ref())),
            None => pr.take(at, Err("[[contractor]] needs an id".into())),
        };
        let name = match &c.name {
            Some(n) => pr.take(n.span().start, inventory::parse_name("name", n.get_ref())),
            None => id.clone(),
        };
        let mut endpoints = Vec::new();
        for e in &c.endpoints {
            match inventory::parse_endpoint(e.get_ref()) {
                Ok(n) => endpoints.push(n),
                Err(msg) => pr.at(Some(e.span().start), msg),
            }
        }
        let mut tools = Vec::new();
        for t in &c.approved_tools {
            if let Some(v) = pr.take(t.span().start, inventory::parse_tool(t.get_ref())) {
                tools.push(v);
            }
        }
        let mut egress = Vec::new();
        for e in &c.egress {
            match inventory::parse_endpoint(e.get_ref()) {
                Ok(n) => egress.push(n),
                Err(msg) => pr.at(Some(e.span().start), format!("egress: {msg}")),
            }
        }
        let mut accounts = Vec::new();
        for a in &c.accounts {
            if let Some(v) = pr.take(a.span().start, inventory::parse_account(a.get_ref())) {
                accounts.push(v);
            }
        }
        let residence = c.residence.as_ref().and_then(|r| residence(r, &mut pr));
        if let (true, Some(id), Some(name)) = (pr.list.len() == before, id, name) {
            list.push(Contractor {
                id,
                name,
                endpoints,
                residence,
                approved_tools: tools,
                egress,
                accounts,
            });
        }
    }
    out.append(&mut pr.list);
    list
}

fn residence(r: &Spanned<raw::RawResidence>, pr: &mut Problems<'_>) -> Option<Residence> {
    let start = Some(r.span().start);
    let r = r.get_ref();
    let before = pr.list.len();
    let country = match &r.country {
        Some(c) => inventory::parse_country(c.get_ref())
            .map_err(|e| pr.at(Some(c.span().start), e))
            .ok(),
        None => {
            pr.at(start, "residence needs a country (ISO 3166-1 alpha-2)");
            None
        }
    };
    let city = r.city.as_ref().and_then(|c| {
        inventory::parse_name("city", c.get_ref())
            .map_err(|e| pr.at(Some(c.span().start), e))
            .ok()
    });
    let num =
        |v: &Option<Spanned<f64>>, check: fn(f64) -> Result<f64, String>, pr: &mut Problems<'_>| {
            v.as_ref().and_then(|x| {
                check(*x.get_ref())
                    .map_err(|e| pr.at(Some(x.span().start), e))
                    .ok()
            })
        };
    let lat = num(&r.latitude, inventory::check_latitude, pr);
    let lon = num(&r.longitude, inventory::check_longitude, pr);
    let radius_km = num(&r.radius_km, inventory::check_radius, pr);
    if r.latitude.is_some() != r.longitude.is_some() {
        pr.at(
            start,
            "residence needs both latitude and longitude, or neither",
        );
    }
    let timezone = r.timezone.as_ref().and_then(|t| {
        inventory::parse_timezone(t.get_ref())
            .map_err(|e| pr.at(Some(t.span().start), e))
            .ok()
    });
    if pr.list.len() > before {
        return None;
    }
    Some(Residence {
        country: country?,
        city,
        lat_lon: lat.zip(lon),
        radius_km,
        timezone,
    })
}

/// Ids must be unique and no address may belong to two contractors.
fn check_unique(list: &[Contractor], path: &Path, out: &mut Vec<Problem>) {
    let problem = |reason: String| Problem {
        file: path.to_owned(),
        line: 0,
        col: 0,
        reason,
    };
    let mut ids = std::collections::BTreeSet::new();
    for c in list {
        if !ids.insert(c.id.as_str()) {
            out.push(problem(format!("contractor id {:?} is listed twice", c.id)));
        }
    }
    for (i, a) in list.iter().enumerate() {
        for b in list.iter().skip(i + 1) {
            for na in &a.endpoints {
                if let Some(nb) = b
                    .endpoints
                    .iter()
                    .find(|nb| na.contains(*nb) || nb.contains(na))
                {
                    out.push(problem(format!(
                        "endpoint {na} of contractor {:?} overlaps {nb} of contractor {:?}",
                        a.id, b.id
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
