//! The `natop` command line.

pub mod account;
pub mod crds;
pub mod emulator;
pub mod import;
pub mod plan;
pub mod run;
pub mod sign;
pub mod status;

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
    /// Read NAT gateways, their DNAT and SNAT entries, NAT bandwidth packages
    /// and IPv6 bandwidths from a cloud account and write manifests that adopt
    /// them (`managementPolicy: Observe` unless `--manage`).
    Import(import::ImportArgs),
    /// Show gateways with their tables, entries, packages and IPv6 bandwidths
    /// as natop sees them (also `kubectl natop status`, with the binary on the
    /// PATH as `kubectl-natop`).
    Status(status::StatusArgs),
    /// The cloud calls natop would make for manifests (files or directories),
    /// read-only; exit 0: no changes, 2: changes, 1: error.
    Plan(plan::PlanArgs),
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
        Command::Import(args) => import::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Plan(args) => plan::run(&args),
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

/// A current-thread runtime for a terminal command; `None` (said on
/// stderr) when the system refuses one.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}
