//! Address lists and ASN lists (`[[intel.feed]]`, `[[intel.asn_list]]`), and lookups in a list
//! that parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remotewatch::intel::feeds::{AsnList, Category, Feed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let src = Path::new("list.txt");
    if let Ok(feed) = Feed::parse("fuzz", Category::Vpn, None, src, &text) {
        for ip in [
            IpAddr::V4(Ipv4Addr::new(11, 22, 33, 44)),
            IpAddr::V4(Ipv4Addr::BROADCAST),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ] {
            let _ = feed.hit(ip);
        }
    }
    let _ = AsnList::parse("fuzz", Category::Hosting, src, &text);
});
