//! Every capture under `fixtures/pcap/<scenario>/capture.pcap` is built by code in
//! `tests/scenarios/`: this test rebuilds each one and checks the committed file is identical,
//! so a fixture can always be traced to the bytes that made it. `REMOTEWATCH_BLESS=1 cargo test
//! --test fixtures` rewrites them after a deliberate change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
mod scenarios;

use std::path::PathBuf;

#[test]
fn committed_fixtures_match_their_builders() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");
    let bless = std::env::var_os("REMOTEWATCH_BLESS").is_some();
    let tmp = tempfile::tempdir().unwrap();
    let mut stale = Vec::new();
    for sc in scenarios::all() {
        let built = tmp.path().join(format!("{}.pcap", sc.name));
        (sc.build)().write_pcap(&built);
        let bytes = std::fs::read(&built).unwrap();
        let dir = root.join(sc.name);
        let committed = dir.join("capture.pcap");
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&committed, &bytes).unwrap();
        } else if std::fs::read(&committed).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(sc.name);
        }
    }
    assert!(
        stale.is_empty(),
        "fixtures differ from their builders (run REMOTEWATCH_BLESS=1 cargo test --test fixtures): {stale:?}"
    );
}
