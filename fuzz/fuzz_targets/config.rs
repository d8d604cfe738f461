//! Configuration validation with the files it names: the input holds up to four NUL-separated
//! parts, the TOML text, then an inventory CSV (`inv.csv`), a product catalogue
//! (`products.toml`) and an address list (`list.txt`), written next to it so that
//! `inventory.csv`, `detect.catalogue` and `[[intel.feed]]` entries resolve.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::config::Config;
use remotewatch_fuzz::scratch;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0);
    let toml = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let dir = scratch();
    for name in ["inv.csv", "products.toml", "list.txt"] {
        let _ = std::fs::write(dir.join(name), parts.next().unwrap_or_default());
    }
    if let Ok(cfg) = Config::parse(&dir.join("rw.toml"), &toml) {
        // Lists and databases are loaded the way `check-config` and `run` load them; the
        // built-in ones are the same every time and would only slow the run down.
        let mut intel = cfg.intel;
        intel.builtin_feeds = false;
        intel.builtin_dbs = false;
        let _ = remotewatch::intel::Intel::load(&intel);
    }
});
