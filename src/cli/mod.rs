//! Command line: parse arguments, load configuration, run a command, map the outcome to an exit
//! code. Exit codes: 0 success; 2 bad input (usage, configuration, unreadable or non-capture
//! file); 1 a failure while running (alert output failed, capture device lost).

mod alerts;
mod analyze;
mod intel;
mod privilege;
mod reload;
mod run;
mod summary;

use crate::config::Config;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Exit code for bad input.
pub const EXIT_INPUT: i32 = 2;
/// Exit code for a failure while running.
pub const EXIT_RUNTIME: i32 = 1;

/// remotewatch: flags remote-control tools, VPN tunnels and anonymizers on monitored endpoints.
#[derive(Debug, Parser)]
#[command(name = "remotewatch", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyze capture files (pcap or pcapng): alerts as JSON Lines on stdout, a summary on stderr.
    Analyze(AnalyzeArgs),
    /// Run the sensor on a live interface (or replay a capture through it) until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Validate a configuration file and its inventory; lists every problem and exits 2 if any.
    CheckConfig(CheckConfigArgs),
    /// List stored alerts (from the daemon's store), oldest first.
    Alerts(AlertsArgs),
    /// Export the alerts of a period for auditors, or verify such an export.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// IP intelligence: what the databases and lists say about addresses.
    #[command(subcommand)]
    Intel(IntelCommand),
}

#[derive(Debug, Subcommand)]
enum IntelCommand {
    /// One JSON line per address: country, ASN, organisation and verdicts (vpn_exit, tor_exit,
    /// hosting_egress, proxy), each with its source. Addresses from stdin when none are given.
    Lookup {
        /// Configuration (databases, lists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// An extra list on top of the configured and built-in ones: CATEGORY:NAME=PATH with
        /// CATEGORY vpn, tor, hosting or proxy.
        #[arg(long, value_name = "CATEGORY:NAME=PATH")]
        feed: Vec<String>,
        /// Addresses to look up.
        ips: Vec<String>,
    },
}

/// Where `alerts` and `audit export` find the alert store.
#[derive(Debug, Args)]
struct StoreArgs {
    /// Alert store database (default: `store.path` of --config).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// The daemon's --data-dir: its store is DIR/alerts.db.
    #[arg(long, value_name = "DIR", conflicts_with = "db")]
    data_dir: Option<PathBuf>,
    /// Configuration whose `store.path` names the database.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AlertsArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// At or after this time: RFC 3339, or a span back from now (90m, 24h, 7d).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this contractor id.
    #[arg(long, value_name = "ID")]
    contractor: Option<String>,
    /// Only this kind (remote_access, vpn_tunnel, anonymizer).
    #[arg(long)]
    kind: Option<String>,
    /// Only this family (rdp, openvpn, …).
    #[arg(long)]
    family: Option<String>,
    /// At least this severity (info, low, medium, high, critical).
    #[arg(long)]
    severity: Option<String>,
    /// At most this many alerts.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "jsonl"])]
    format: String,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Write the alerts of [--from, --to) and a manifest (SHA-256 of the file, hash chain over the
    /// records, counts) into --out, a new or empty directory.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Start of the period (RFC 3339 or a span back from now, e.g. 30d).
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the period, exclusive.
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Data file format.
        #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
        format: String,
        /// Output directory (new or empty); with --data-dir, DIR/exports/<from>_<to> by default.
        #[arg(long, value_name = "DIR", required_unless_present = "data_dir")]
        out: Option<PathBuf>,
    },
    /// Check an export against its manifest: file hashes, record counts, hash chain. Exit 1 when
    /// anything differs.
    Verify {
        /// The export directory.
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// Configuration file (inventory, policy, limits). Built-in defaults without it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
    /// Analyse with N worker threads, flows sharded by their address pair (same alerts as one).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = workers_arg)]
    workers: usize,
    /// Capture files to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Configuration file (built-in defaults without it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep the alert store, the JSON Lines log and scheduled exports in DIR (alerts.db,
    /// alerts.jsonl, exports/), overriding the configuration.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve /metrics, /healthz, /readyz and /api/alerts on ADDR (overrides `http.listen`).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Pace a replay at this many packets per second (default: as fast as possible).
    #[arg(long, value_name = "PPS", requires = "replay")]
    replay_rate: Option<u32>,
    /// Interface to capture on (overrides `capture.interface`).
    #[arg(long, value_name = "NAME", conflicts_with = "replay")]
    interface: Option<String>,
    /// Drive the sensor from a capture file instead of an interface.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// After a replay, keep serving the HTTP endpoints until SIGINT/SIGTERM.
    #[arg(long, requires = "replay")]
    stay: bool,
    /// Switch to this unprivileged user once the capture and files are open (overrides
    /// `sensor.run_as`).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Analyse with N worker threads, flows sharded by their address pair. On an interface,
    /// each reads its own socket of a kernel fanout group (`capture.fanout`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = workers_arg)]
    workers: usize,
}

/// `--workers`: 1 to [`crate::pipeline::WORKERS_MAX`].
fn workers_arg(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=crate::pipeline::WORKERS_MAX).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of workers from 1 to {}",
            crate::pipeline::WORKERS_MAX
        )),
    }
}

#[derive(Debug, Args)]
struct CheckConfigArgs {
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return e.exit_code();
        }
    };
    init_logging();
    match cli.command {
        Command::Analyze(a) => analyze::run(&a),
        Command::Run(r) => run::run(&r),
        Command::CheckConfig(c) => check_config(&c),
        Command::Alerts(a) => alerts::alerts(&a),
        Command::Audit(c) => alerts::audit(&c),
        Command::Intel(c) => intel::run(&c),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REMOTEWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints a one-line error on stderr.
fn fail(code: i32, msg: impl std::fmt::Display) -> i32 {
    eprintln!("remotewatch: error: {msg}");
    code
}

/// Loads `path`, or prints every problem and returns the exit code.
fn load_config(path: Option<&PathBuf>) -> Result<Config, i32> {
    match path {
        None => Ok(Config::defaults()),
        Some(p) => Config::load(p).map_err(|e| fail(EXIT_INPUT, e)),
    }
}

/// The number of worker pipelines to run: `asked`, or one when the identity stage has work
/// (an inventory, gateways or a session log). Identity findings rest on every flow, login and
/// alert of a contractor seen in order, which sharded workers cannot give; one pipeline applies
/// them, with hot reload. Said in the log, never silently.
pub(crate) fn workers_for(asked: usize, cfg: &Config) -> usize {
    let identity = !cfg.inventory.is_empty()
        || !cfg.identity.gateways.is_empty()
        || cfg.identity.session_log.is_some();
    if asked > 1 && identity {
        tracing::warn!(
            workers = asked,
            "identity checks (inventory, gateways, session log) and reload run on one pipeline: using --workers 1"
        );
        return 1;
    }
    asked
}

/// What the identity stage reads besides the configuration: the intel databases and lists (only
/// when there is someone to apply them to: an inventory or a gateway), and the session log.
/// Every problem of every file is reported together.
/// `check-config` passes `always_intel` to load the databases and lists even when nothing would
/// use them yet.
pub(crate) fn identity_inputs(
    cfg: &Config,
    always_intel: bool,
) -> Result<
    (
        std::sync::Arc<crate::intel::Intel>,
        Vec<crate::identity::session::Login>,
    ),
    crate::config::ConfigError,
> {
    let mut problems = Vec::new();
    let needed = always_intel || !cfg.inventory.is_empty() || !cfg.identity.gateways.is_empty();
    let intel = if needed {
        crate::intel::Intel::load(&cfg.intel).unwrap_or_else(|mut p| {
            problems.append(&mut p);
            crate::intel::Intel::default()
        })
    } else {
        crate::intel::Intel::default()
    };
    let logins = match &cfg.identity.session_log {
        None => Vec::new(),
        Some(p) => crate::identity::session::read_all(p).unwrap_or_else(|mut e| {
            problems.append(&mut e);
            Vec::new()
        }),
    };
    if problems.is_empty() {
        Ok((std::sync::Arc::new(intel), logins))
    } else {
        Err(crate::config::ConfigError { problems })
    }
}

fn check_config(a: &CheckConfigArgs) -> i32 {
    match load_config(Some(&a.config)) {
        Ok(cfg) => {
            // Databases, lists, the session log and the HTTP token and certificate are part of
            // the configuration: check they load too, and report every problem at once.
            let mut problems = identity_inputs(&cfg, true)
                .err()
                .map(|e| e.problems)
                .unwrap_or_default();
            problems.extend(run::http_secrets(&cfg).err().unwrap_or_default());
            if !problems.is_empty() {
                return fail(EXIT_INPUT, crate::config::ConfigError { problems });
            }
            eprintln!(
                "{}: ok ({} contractor{})",
                a.config.display(),
                cfg.inventory.contractors().len(),
                if cfg.inventory.contractors().len() == 1 {
                    ""
                } else {
                    "s"
                }
            );
            0
        }
        Err(code) => code,
    }
}
