//! remotewatch command line: everything lives in the library; this maps its result to an exit
//! code.

// mimalloc (Microsoft, MIT): per-thread heaps, so the analysis threads of `--workers` do not
// contend on one lock when they allocate or free each other's alerts, as they do with glibc's
// arenas (measured: about 2,000 sleeps on its lock per run of the 2 GB benchmark capture with 2
// workers, and a fifth of the run's time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(remotewatch::cli::main());
}
