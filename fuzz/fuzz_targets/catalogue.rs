//! The product catalogue loader (`detect.catalogue` files).
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::detect::catalogue::Catalogue;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Catalogue::parse(Path::new("products.toml"), &text);
});
