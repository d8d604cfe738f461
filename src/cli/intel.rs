//! `remotewatch intel lookup`: what the sensor knows about addresses, one JSON line each.

use super::{fail, load_config, IntelCommand, EXIT_INPUT, EXIT_RUNTIME};
use crate::intel::feeds::{Category, Feed};
use crate::intel::Intel;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::Path;

/// Parses `CATEGORY:NAME=PATH`.
fn parse_feed_arg(s: &str) -> Result<(Category, &str, &str), String> {
    let bad = || format!("--feed {s:?} is not CATEGORY:NAME=PATH (e.g. vpn:astrill=astrill.txt)");
    let (cat, rest) = s.split_once(':').ok_or_else(bad)?;
    let (name, path) = rest.split_once('=').ok_or_else(bad)?;
    let category = Category::parse(cat)
        .ok_or_else(|| format!("--feed category {cat:?} is not vpn, tor, hosting or proxy"))?;
    if name.is_empty() || path.is_empty() {
        return Err(bad());
    }
    Ok((category, name, path))
}

pub(super) fn run(cmd: &IntelCommand) -> i32 {
    let IntelCommand::Lookup { config, feed, ips } = cmd;
    let cfg = match load_config(config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut intel = match Intel::load(&cfg.intel) {
        Ok(i) => i,
        Err(problems) => return fail(EXIT_INPUT, crate::config::ConfigError { problems }),
    };
    for f in feed {
        let (category, name, path) = match parse_feed_arg(f) {
            Ok(x) => x,
            Err(e) => return fail(EXIT_INPUT, e),
        };
        // A provider's own list names the provider.
        let provider =
            (category == Category::Vpn || category == Category::Proxy).then(|| name.to_owned());
        match Feed::load(name, category, provider, Path::new(path)) {
            Ok(l) => intel.add_feed(l),
            Err(problems) => return fail(EXIT_INPUT, crate::config::ConfigError { problems }),
        }
    }
    let mut out = std::io::stdout().lock();
    let mut bad = 0usize;
    let mut one = |text: &str, out: &mut std::io::StdoutLock<'_>| -> std::io::Result<()> {
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            return Ok(());
        }
        match t.parse::<IpAddr>() {
            Ok(ip) => {
                let line = serde_json::to_string(&intel.lookup(ip)).unwrap_or_default();
                writeln!(out, "{line}")
            }
            Err(_) => {
                bad += 1;
                eprintln!("remotewatch: error: {t:?} is not an IP address");
                Ok(())
            }
        }
    };
    let written = if ips.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .try_for_each(|l| one(&l, &mut out))
    } else {
        ips.iter().try_for_each(|ip| one(ip, &mut out))
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => fail(EXIT_RUNTIME, e),
        _ if bad > 0 => EXIT_INPUT,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_arguments() {
        assert_eq!(
            parse_feed_arg("vpn:astrill=/x/a.txt"),
            Ok((Category::Vpn, "astrill", "/x/a.txt"))
        );
        assert!(parse_feed_arg("vpn-astrill=/x").is_err());
        assert!(parse_feed_arg("cloud:x=/y")
            .unwrap_err()
            .contains("category"));
    }
}
