//! Real third-party captures (the labelled corpus next to the checkout, when present): every file
//! must be read to the end with no frame counted as malformed, whatever its link type (Ethernet,
//! raw IP, Linux SLL, BSD null) or format (pcap, pcapng). Detection quality on the same files is
//! scored by the corpus scorecard that CI runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::process::Command;

#[test]
fn every_corpus_capture_decodes_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("skipped: no labelled corpus at {}", corpus.display());
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(
        files.len() > 50,
        "corpus looks incomplete: {} files",
        files.len()
    );
    let mut bad = Vec::new();
    for f in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
            .arg("analyze")
            .arg(f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(0)
            || !err.contains("malformed  0\n")
            || err.contains("truncated  yes")
        {
            bad.push(format!(
                "{}: exit {:?}\n{err}",
                f.display(),
                out.status.code()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
