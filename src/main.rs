//! remotewatch command line: everything lives in the library; this maps its result to an exit
//! code.

fn main() {
    std::process::exit(remotewatch::cli::main());
}
