//! `natop emulator`: serve the cloud emulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::emulator::faults::{FaultConfig, FaultRule};
use crate::emulator::fixture::Fixture;
use crate::emulator::{Durations, EmulatorConfig, Tls};

/// Arguments of `natop emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Accept a non-loopback listen address (the admin endpoints still answer loopback only).
    #[arg(long)]
    pub allow_remote: bool,
    /// Fixture file (YAML); the built-in fixture when absent.
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// Keep state in this file across restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Seed of the fault and id generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the built-in fixture as YAML and exit.
    #[arg(long)]
    pub print_default_fixture: bool,
    /// Seconds a gateway or bandwidth package stays Creating.
    #[arg(long, default_value_t = 60.0)]
    pub creating_seconds: f64,
    /// Seconds a DNAT/SNAT entry stays Pending after a create or modify.
    #[arg(long, default_value_t = 3.0)]
    pub pending_seconds: f64,
    /// Seconds a resource stays Deleting.
    #[arg(long, default_value_t = 10.0)]
    pub deleting_seconds: f64,
    /// Seconds a gateway stays Modifying after a specification change.
    #[arg(long, default_value_t = 30.0)]
    pub modifying_seconds: f64,
    /// Seconds a Normal → Enhanced conversion takes.
    #[arg(long, default_value_t = 120.0)]
    pub converting_seconds: f64,
    /// Seconds an EIP stays Associating or Unassociating.
    #[arg(long, default_value_t = 3.0)]
    pub associating_seconds: f64,
    /// Clock speed factor (e.g. 60: a virtual minute per real second).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Fraction of all calls answered with throttling.
    #[arg(long, default_value_t = 0.0)]
    pub fault_throttling: f64,
    /// Fraction of all calls answered ServiceUnavailable.
    #[arg(long, default_value_t = 0.0)]
    pub fault_unavailable: f64,
    /// Fraction of all calls answered InternalError.
    #[arg(long, default_value_t = 0.0)]
    pub fault_internal_error: f64,
    /// Fraction of all calls answered by a "proxy" with a bare HTTP 404 page
    /// (not executed, no service error body).
    #[arg(long, default_value_t = 0.0)]
    pub fault_not_found_proxy: f64,
    /// Fraction of all calls whose change is made but whose answer is lost.
    #[arg(long, default_value_t = 0.0)]
    pub fault_commit_then_drop: f64,
    /// Milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Fraction of the pages after the first of a paginated describe before
    /// which time passes: an entry on an earlier page finishes deleting (or
    /// its Pending state), so later pages shift under the reader.
    #[arg(long, default_value_t = 0.0)]
    pub fault_page_shift: f64,
    /// Milliseconds after its creation during which a gateway, DNAT or SNAT
    /// entry or bandwidth package is missing from describes that do not name
    /// it by id, and an IPv6 address's new bandwidth is not in them yet
    /// (eventually consistent listings).
    #[arg(long, default_value_t = 0)]
    pub fault_list_lag_ms: u64,
    /// Serve https with this certificate chain (PEM; needs --tls-key), e.g.
    /// to try a ProviderConfig's caBundle. Plain http without it.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn seconds(s: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("--{name} must be a non-negative number"))
}

impl EmulatorArgs {
    /// The certificate and key to serve https with, read from their files.
    pub fn tls(&self) -> Result<Option<Tls>, String> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        Ok(Some(Tls {
            cert_pem: read(cert)?,
            key_pem: read(key)?,
        }))
    }

    /// The emulator configuration these arguments describe.
    pub fn config(&self) -> Result<EmulatorConfig, String> {
        if !self.listen.ip().is_loopback() && !self.allow_remote {
            return Err(format!(
                "--listen {} is not a loopback address; add --allow-remote to accept it",
                self.listen
            ));
        }
        let fixture = match &self.fixture {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Fixture::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Fixture::default_fixture(),
        };
        let faults = FaultConfig {
            default: FaultRule {
                throttling: self.fault_throttling,
                service_unavailable: self.fault_unavailable,
                internal_error: self.fault_internal_error,
                not_found_proxy: self.fault_not_found_proxy,
                latency_ms: self.fault_latency_ms,
                commit_then_drop: self.fault_commit_then_drop,
                page_shift: self.fault_page_shift,
                list_lag_ms: self.fault_list_lag_ms,
            },
            ..FaultConfig::default()
        };
        faults.validate()?;
        Ok(EmulatorConfig {
            fixture,
            state_file: self.state_file.clone(),
            seed: self.seed,
            durations: Durations {
                creating: seconds(self.creating_seconds, "creating-seconds")?,
                pending: seconds(self.pending_seconds, "pending-seconds")?,
                deleting: seconds(self.deleting_seconds, "deleting-seconds")?,
                modifying: seconds(self.modifying_seconds, "modifying-seconds")?,
                converting: seconds(self.converting_seconds, "converting-seconds")?,
                associating: seconds(self.associating_seconds, "associating-seconds")?,
            },
            faults,
            speed: self.speed,
        })
    }
}

/// Run `natop emulator`; returns the exit code.
pub fn run(args: &EmulatorArgs) -> i32 {
    if args.print_default_fixture {
        return match Fixture::default_fixture().to_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                0
            }
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        };
    }
    let config = match args.config().and_then(|c| Ok((c, args.tls()?))) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    let (config, tls) = config;
    let result = runtime.block_on(crate::emulator::serve(
        args.listen,
        config,
        tls.as_ref(),
        crate::telemetry::shutdown_signal(),
    ));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
