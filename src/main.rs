//! remotewatch command line.
fn main() {}
