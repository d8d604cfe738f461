//! Configuration, inventory, catalogue and list parsing never panic: seeded mutations of the
//! real files (the deploy configuration and inventory, the product catalogue, the shipped
//! feeds) go through `Config::parse` (with the inventory, catalogue and list files it names
//! written next to it), `Catalogue::parse`, `Feed::parse` and `AsnList::parse`. Each returns a
//! configuration or a list of problems, whatever the bytes.
//!
//! This is the `cargo test` counterpart of the `config`, `catalogue` and `feed` fuzz targets
//! (`fuzz/`), which explore further when run for longer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use remotewatch::config::Config;
use remotewatch::detect::catalogue::Catalogue;
use remotewatch::intel::feeds::{AsnList, Category, Feed};
use std::path::{Path, PathBuf};

/// Deterministic xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that stress number, string and address parsing.
const EXTREMES: [&str; 10] = [
    "0",
    "-1",
    "99999999999999999999999",
    "1e400",
    "nan",
    "\"\"",
    "\"\\u0000\"",
    "300.300.300.300/99",
    "::ffff:0.0.0.0/129",
    "[[[[[[[[",
];

/// One to four edits of `text`: bit flips, a line deleted, duplicated or swapped, a number or
/// value replaced by an extreme, a NUL or a cut.
fn mutate(text: &[u8], rng: &mut Rng) -> String {
    let mut lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    for _ in 0..1 + rng.below(4) {
        let i = rng.below(lines.len());
        match rng.below(7) {
            0 => {
                let l = &mut lines[i];
                if !l.is_empty() {
                    let j = rng.below(l.len());
                    l[j] ^= 1 << rng.below(8);
                }
            }
            1 if lines.len() > 1 => {
                lines.remove(i);
            }
            2 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            3 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            4 => {
                // The value after `=` or `,` (or the whole line) becomes an extreme.
                let l = &mut lines[i];
                let at = l
                    .iter()
                    .position(|b| *b == b'=' || *b == b',')
                    .map_or(0, |p| p + 1);
                l.truncate(at);
                l.extend_from_slice(EXTREMES[rng.below(EXTREMES.len())].as_bytes());
            }
            5 => {
                let l = &mut lines[i];
                let j = rng.below(l.len() + 1);
                l.insert(j, 0);
            }
            _ => {
                let l = &mut lines[i];
                l.truncate(rng.below(l.len() + 1));
            }
        }
    }
    String::from_utf8_lossy(&lines.join(&b'\n')).into_owned()
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// At most the first `n` bytes of a repository file: big lists would only slow the test down.
fn head(p: &str, n: usize) -> Vec<u8> {
    let mut b = std::fs::read(repo(p)).unwrap();
    b.truncate(n);
    b
}

#[test]
fn mutated_configurations_with_their_files_give_a_config_or_problems() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = std::fs::read(repo("deploy/remotewatch.toml")).unwrap();
    // The deploy configuration, and one naming every kind of file a configuration can name.
    let naming =
        b"[inventory]\ncsv = \"contractors.csv\"\n[detect]\ncatalogue = \"products.toml\"\n\
[[intel.feed]]\nname = \"exits\"\ncategory = \"vpn\"\npath = \"list.txt\"\n\
[[intel.asn_list]]\nname = \"hosting\"\ncategory = \"hosting\"\npath = \"asn.txt\"\n"
            .to_vec();
    let csv = std::fs::read(repo("deploy/contractors.csv")).unwrap();
    let catalogue = std::fs::read(repo("catalogue/products.toml")).unwrap();
    let list = head("feeds/x4bnet/vpn-ipv4.txt", 2000);
    let asn = head("feeds/x4bnet/vpn-asn.txt", 2000);
    let mut rng = Rng(0x5eed_c0f1);
    let (mut ok, mut refused) = (0, 0);
    for i in 0..1200 {
        let base = if i % 2 == 0 { &deploy } else { &naming };
        let text = if i % 5 == 0 {
            String::from_utf8_lossy(base).into_owned()
        } else {
            mutate(base, &mut rng)
        };
        // The named files: intact or mutated.
        for (name, bytes) in [
            ("contractors.csv", &csv),
            ("products.toml", &catalogue),
            ("list.txt", &list),
            ("asn.txt", &asn),
        ] {
            let content = if rng.below(3) == 0 {
                mutate(bytes, &mut rng)
            } else {
                String::from_utf8_lossy(bytes).into_owned()
            };
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        match Config::parse(&dir.path().join("rw.toml"), &text) {
            Ok(cfg) => {
                ok += 1;
                let mut intel = cfg.intel;
                intel.builtin_feeds = false;
                intel.builtin_dbs = false;
                let _ = remotewatch::intel::Intel::load(&intel);
            }
            Err(e) => {
                refused += 1;
                for p in &e.problems {
                    assert!(!p.reason.is_empty(), "a problem without a reason: {p}");
                }
            }
        }
    }
    assert!(ok > 0 && refused > 0, "{ok} accepted, {refused} refused");
}

#[test]
fn mutated_catalogues_give_a_catalogue_or_problems() {
    let text = std::fs::read(repo("catalogue/products.toml")).unwrap();
    let mut rng = Rng(0x5eed_ca7a);
    let path = Path::new("products.toml");
    let (mut ok, mut refused) = (0, 0);
    for i in 0..300 {
        let mutant = if i % 5 == 0 {
            String::from_utf8_lossy(&text).into_owned()
        } else {
            mutate(&text, &mut rng)
        };
        match Catalogue::parse(path, &mutant) {
            Ok(_) => ok += 1,
            Err(p) => {
                assert!(!p.is_empty());
                refused += 1;
            }
        }
    }
    assert!(ok > 0 && refused > 0, "{ok} accepted, {refused} refused");
}

#[test]
fn mutated_lists_give_a_list_or_problems_with_lines() {
    let lists = [
        head("feeds/x4bnet/vpn-ipv4.txt", 4000),
        head("feeds/x4bnet/vpn-ipv6.txt", 4000),
        head("feeds/tor/tor-exit-ips.txt", 4000),
        head("feeds/x4bnet/vpn-asn.txt", 4000),
        head("feeds/asn/brianhama-bad-asn-list.csv", 4000),
    ];
    let mut rng = Rng(0x5eed_f33d);
    let src = Path::new("list.txt");
    let mut refused = 0;
    for i in 0..2000 {
        let text = mutate(&lists[i % lists.len()], &mut rng);
        match Feed::parse("x", Category::Vpn, None, src, &text) {
            Ok(f) => {
                let _ = f.hit("11.22.33.44".parse().unwrap());
            }
            Err(problems) => {
                refused += 1;
                assert!(problems.iter().all(|p| p.line > 0), "{problems:?}");
            }
        }
        let _ = AsnList::parse("x", Category::Hosting, src, &text);
    }
    assert!(refused > 0);
}
