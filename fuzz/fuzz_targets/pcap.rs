//! Capture files: the input written to a file, opened with the file capture (libpcap) and
//! replayed through the pipeline, as `remotewatch analyze` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::capture::{FileCapture, Step};
use remotewatch::config::Config;
use remotewatch::pipeline::VecSink;
use remotewatch_fuzz::{pipeline, scratch};

fuzz_target!(|data: &[u8]| {
    let path = scratch().join("input.pcap");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let Ok(mut cap) = FileCapture::open(&path) else {
        return;
    };
    let cfg = Config::defaults();
    let mut sink = VecSink::default();
    let mut pipe = pipeline(&cfg, cap.linktype(), &mut sink);
    while let Ok(Step::Frames(_)) = cap.pump(|f| {
        let _ = pipe.frame(f);
    }) {}
    let _ = pipe.finish();
});
