//! remotewatch command line: everything lives in the library; this maps its result to an exit
//! code.

// mimalloc (Microsoft, MIT): per-thread heaps, so the analysis threads of `--workers` do not
// contend on a lock when they allocate or free each other's alerts, as they do on glibc's
// arenas. Measured on the 2 GB benchmark capture with 2 workers: about 2,000 sleeps on that lock
// per run and 0.78 s, against 60 sleeps and 0.65 s with mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(remotewatch::cli::main());
}
