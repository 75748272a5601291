//! The `natop` command line.

pub mod emulator;
pub mod sign;

use clap::{Parser, Subcommand};

/// natop: reconcile cloud NAT gateways, DNAT/SNAT entries and bandwidth
/// packages from Kubernetes custom resources.
#[derive(Debug, Parser)]
#[command(name = "natop", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute a request signature, to debug `SignatureDoesNotMatch`.
    #[command(subcommand)]
    Sign(sign::SignCommand),
    /// Serve the Alibaba VPC NAT and UCloud bandwidth-package API emulator.
    Emulator(emulator::EmulatorArgs),
}

/// Run the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Sign(cmd) => {
            print!("{}", sign::render(&cmd));
            0
        }
        Command::Emulator(args) => {
            crate::telemetry::init("info", crate::telemetry::LogFormat::Text);
            emulator::run(&args)
        }
    }
}
