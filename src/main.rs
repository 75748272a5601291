//! The `natop` binary.

use clap::Parser;

/// jemalloc: with many small allocations (every watched object's strings)
/// it keeps less resident than the C library's allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let cli = natop::cli::Cli::parse();
    std::process::exit(natop::cli::run(cli));
}
