//! The `natop` command line.

pub mod crds;
pub mod emulator;
pub mod run;
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
    /// Run the operator: every controller, the health and metrics endpoints.
    Run(run::RunArgs),
    /// Serve the Alibaba VPC NAT and UCloud bandwidth-package API emulator.
    Emulator(emulator::EmulatorArgs),
    /// Print the Alibaba Cloud endpoints natop calls in a region when a
    /// ProviderConfig names none (JSON; every region the data knows without
    /// `--region`).
    Endpoints {
        /// The region, e.g. `eu-central-1`.
        #[arg(long)]
        region: Option<String>,
    },
    /// Print every CRD natop serves (YAML); `--write DIR` writes one file per CRD.
    Crds {
        /// Write `<plural>.natop.dev.yaml` files into this directory instead of printing.
        #[arg(long)]
        write: Option<std::path::PathBuf>,
        /// Print a Markdown reference of the CRDs instead (docs/crd-reference.md).
        #[arg(long, conflicts_with = "write")]
        reference: bool,
    },
}

/// Run the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Sign(cmd) => match sign::render(&cmd, &mut std::io::stdin().lock()) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        },
        Command::Endpoints { region } => {
            print!("{}", endpoints(region.as_deref()));
            0
        }
        Command::Crds {
            reference: true, ..
        } => {
            print!("{}", crds::reference());
            0
        }
        Command::Crds { write, .. } => match write {
            None => match crds::render() {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            },
            Some(dir) => {
                let written = crds::files().and_then(|files| {
                    files.iter().try_for_each(|(name, yaml)| {
                        std::fs::write(dir.join(name), yaml)
                            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
                    })
                });
                match written {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("error: {e}");
                        1
                    }
                }
            }
        },
        Command::Run(args) => run::run(&args),
        Command::Emulator(args) => {
            crate::telemetry::init("info", crate::telemetry::LogFormat::Text);
            emulator::run(&args)
        }
    }
}

/// `natop endpoints`: `{region: {"vpc": url, "sts": url}}` for `region`, or
/// for every region the endpoint data knows.
pub fn endpoints(region: Option<&str>) -> String {
    use crate::cloud::alibaba::{Service, endpoints};
    let regions = match region {
        Some(r) => vec![r.to_string()],
        None => endpoints::known_regions(),
    };
    let all: serde_json::Map<String, serde_json::Value> = regions
        .into_iter()
        .map(|r| {
            let urls = serde_json::json!({
                "vpc": endpoints::url(Service::Vpc, &r),
                "sts": endpoints::url(Service::Sts, &r),
            });
            (r, urls)
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&all).unwrap_or_default();
    text.push('\n');
    text
}
