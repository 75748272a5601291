//! The `natop` binary.

use clap::Parser;

fn main() {
    let cli = natop::cli::Cli::parse();
    std::process::exit(natop::cli::run(cli));
}
