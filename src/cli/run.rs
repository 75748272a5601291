//! `natop run`: the operator itself. Connects to Kubernetes, serves the
//! health and metrics endpoints, optionally waits for leadership, and runs
//! every controller until SIGTERM or SIGINT.

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::api::ProviderConfig;
use crate::controller::{Context, OperatorConfig, RrsaDefaults};
use crate::leader::{self, Election, Ended};
use crate::metrics::Metrics;
use crate::server::{self, Readiness};
use crate::telemetry::{self, LogFormat};

/// The operator's namespace when `POD_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "natop-system";

/// How long the API server gets to answer the start-up check.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Arguments of `natop run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Kubeconfig file; without it, the in-cluster configuration, else
    /// $KUBECONFIG or ~/.kube/config.
    #[arg(long, env = "NATOP_KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Reconcile objects in this namespace only (repeatable; the variable
    /// takes a comma-separated list). None: every namespace.
    #[arg(
        long = "watch-namespace",
        env = "NATOP_WATCH_NAMESPACE",
        value_name = "NS",
        value_delimiter = ',',
        value_parser = parse_namespace
    )]
    pub watch_namespaces: Vec<String>,

    /// Namespace ProviderConfig credential Secrets may be read from
    /// (repeatable; the variable takes a comma-separated list). Default: the
    /// operator's own namespace ($POD_NAMESPACE, else natop-system).
    #[arg(
        long = "secret-namespace",
        env = "NATOP_SECRET_NAMESPACE",
        value_name = "NS",
        value_delimiter = ',',
        value_parser = parse_namespace
    )]
    pub secret_namespaces: Vec<String>,

    /// Reconcile only objects and ProviderConfigs with these labels (a label
    /// selector such as `shard=blue`), so that several operators can share a
    /// cluster. None: every object.
    #[arg(
        long,
        env = "NATOP_LABEL_SELECTOR",
        value_name = "SELECTOR",
        value_parser = parse_label_selector
    )]
    pub label_selector: Option<String>,

    /// The owner id natop tags the cloud resources it creates with: a natop
    /// with the same owner id (the same cluster rebuilt from Git, or its
    /// blue/green successor) takes over what this one made instead of buying
    /// it again, and never adopts or changes what another owner id made.
    /// Default: `cluster-` and the UID of the `kube-system` namespace, which
    /// a rebuilt cluster does not keep: set it explicitly for disaster
    /// recovery. 1–63 letters, digits, '-', '_' and '.'.
    #[arg(
        long,
        env = "NATOP_OWNER_ID",
        value_name = "ID",
        value_parser = parse_owner_id
    )]
    pub owner_id: Option<String>,

    /// RRSA: the RAM role ProviderConfigs with `credentials.rrsa` assume
    /// unless they name one (the RRSA webhook sets the variable).
    #[arg(long, env = "ALIBABA_CLOUD_ROLE_ARN", value_name = "ARN")]
    pub rrsa_role_arn: Option<String>,

    /// RRSA: the cluster's OIDC provider in RAM, unless a ProviderConfig
    /// names one (the RRSA webhook sets the variable).
    #[arg(long, env = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", value_name = "ARN")]
    pub rrsa_oidc_provider_arn: Option<String>,

    /// RRSA: natop's projected service account token, exchanged for the
    /// role's credentials (the RRSA webhook mounts it and sets the
    /// variable). Only this file is ever sent, and only to Alibaba Cloud STS.
    #[arg(long, env = "ALIBABA_CLOUD_OIDC_TOKEN_FILE", value_name = "PATH")]
    pub oidc_token_file: Option<PathBuf>,

    /// Drift check of an object at rest, unless its annotation says
    /// otherwise (e.g. 30s, 10m, 1h30m).
    #[arg(
        long,
        env = "NATOP_DRIFT_INTERVAL",
        value_name = "INTERVAL",
        default_value = "10m",
        value_parser = parse_drift_interval
    )]
    pub drift_interval: Duration,

    /// The shortest drift interval an object's `natop.dev/drift-interval`
    /// annotation may ask for: a shorter one is raised to it (and the
    /// object's Ready condition says so), so that one object cannot spend the
    /// account's shared rate limit.
    #[arg(
        long,
        env = "NATOP_MIN_DRIFT_INTERVAL",
        value_name = "INTERVAL",
        default_value = "30s",
        value_parser = parse_drift_interval
    )]
    pub min_drift_interval: Duration,

    /// How long a cloud resource natop bought (or may have bought) can be
    /// missing from a listing that cannot read one resource (UCloud's
    /// packages) before natop concludes it is not there.
    #[arg(
        long,
        env = "NATOP_LISTING_GRACE",
        value_name = "INTERVAL",
        default_value = "60s",
        value_parser = parse_drift_interval
    )]
    pub listing_grace: Duration,

    /// Reconciles in flight per controller.
    #[arg(
        long,
        env = "NATOP_CONCURRENCY",
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub concurrency: u16,

    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(
        long,
        env = "NATOP_METRICS_ADDRESS",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub metrics_address: SocketAddr,

    /// Run the controllers only while holding a Lease, so that one of several
    /// replicas is active.
    #[arg(
        long,
        env = "NATOP_LEADER_ELECT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub leader_elect: bool,

    /// Namespace of the leader-election Lease. Default: the first secret
    /// namespace (by default the operator's own namespace).
    #[arg(
        long,
        env = "NATOP_LEADER_ELECTION_NAMESPACE",
        value_name = "NS",
        value_parser = parse_namespace
    )]
    pub leader_election_namespace: Option<String>,

    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "NATOP_LEADER_ELECTION_LEASE",
        value_name = "NAME",
        default_value = "natop-leader",
        value_parser = parse_lease_name
    )]
    pub leader_election_lease: String,

    /// Threads that run reconciles. natop waits on the network far more than
    /// it computes, and each thread costs memory (a stack, and an allocator
    /// arena), so the default is the node's CPUs but at most 4.
    #[arg(
        long,
        env = "NATOP_WORKER_THREADS",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub worker_threads: Option<u16>,

    /// Log level or filter directives (RUST_LOG wins when set).
    #[arg(
        long,
        env = "NATOP_LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "info",
        value_parser = parse_log_level
    )]
    pub log_level: String,

    /// Log format.
    #[arg(
        long,
        env = "NATOP_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

fn parse_drift_interval(text: &str) -> Result<Duration, String> {
    crate::controller::timing::parse_interval(text).ok_or_else(|| {
        format!("`{text}` is not an interval: use a positive number of s, m or h, e.g. 30s, 10m or 1h30m")
    })
}

/// An RFC 1123 label: what a namespace name must be.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn parse_namespace(text: &str) -> Result<String, String> {
    let name = text.trim();
    if is_dns_label(name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{text}` is not a namespace name (lower-case letters, digits and '-', at most 63)"
        ))
    }
}

fn parse_owner_id(text: &str) -> Result<String, String> {
    crate::controller::identity::check_owner_id(text.trim()).map(|()| text.trim().to_string())
}

fn parse_lease_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.len() <= 253 && name.split('.').all(is_dns_label) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{text}` is not an object name (lower-case letters, digits, '-' and '.')"
        ))
    }
}

fn parse_label_selector(text: &str) -> Result<String, String> {
    let selector = text.trim();
    if selector.is_empty() {
        Err("the label selector is empty".to_string())
    } else {
        Ok(selector.to_string())
    }
}

fn parse_log_level(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| text.to_string())
        .map_err(|e| format!("`{text}` is not a log level or filter: {e}"))
}

/// The operator's own namespace: `POD_NAMESPACE` (set by the Helm chart from
/// the downward API), else `natop-system`.
pub fn own_namespace(pod_namespace: Option<&str>) -> String {
    pod_namespace
        .map(str::trim)
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string()
}

/// Everything `natop run` needs, resolved from the flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// The controllers' settings.
    pub operator: OperatorConfig,
    /// Where the endpoints listen.
    pub metrics_address: SocketAddr,
    /// Leader election, when `--leader-elect`.
    pub election: Option<Election>,
}

impl RunArgs {
    /// Resolve the defaults that depend on the operator's own namespace.
    pub fn settings(&self, own_namespace: &str) -> Settings {
        let secret_namespaces = if self.secret_namespaces.is_empty() {
            vec![own_namespace.to_string()]
        } else {
            dedup(&self.secret_namespaces)
        };
        let election = self.leader_elect.then(|| Election {
            namespace: self
                .leader_election_namespace
                .clone()
                .unwrap_or_else(|| secret_namespaces[0].clone()),
            lease_name: self.leader_election_lease.clone(),
            identity: leader::identity(),
        });
        Settings {
            kubeconfig: self.kubeconfig.clone(),
            operator: OperatorConfig {
                watch_namespaces: dedup(&self.watch_namespaces),
                secret_namespaces,
                drift_interval: self.drift_interval,
                min_drift_interval: self.min_drift_interval,
                listing_grace: self.listing_grace,
                concurrency: self.concurrency,
                label_selector: self.label_selector.clone(),
                owner_id: self.owner_id.clone().unwrap_or_default(),
                rrsa: RrsaDefaults {
                    role_arn: non_empty(self.rrsa_role_arn.as_deref()),
                    oidc_provider_arn: non_empty(self.rrsa_oidc_provider_arn.as_deref()),
                    token_file: self
                        .oidc_token_file
                        .clone()
                        .filter(|p| !p.as_os_str().is_empty()),
                },
            },
            metrics_address: self.metrics_address,
            election,
        }
    }
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn dedup(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// An error with its causes, `outer: inner: innermost`.
pub(crate) fn chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A client of the cluster, checked by asking the API server its version.
pub(crate) async fn connect(kubeconfig: Option<&Path>) -> Result<Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|e| {
                format!(
                    "cannot read the kubeconfig {} (--kubeconfig): {}",
                    path.display(),
                    chain(&e)
                )
            })?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("invalid kubeconfig {}: {}", path.display(), chain(&e)))?
        }
        None => Config::infer().await.map_err(|e| {
            format!(
                "no Kubernetes configuration: not in a cluster, and no usable kubeconfig \
                 (--kubeconfig, $KUBECONFIG or ~/.kube/config): {}",
                chain(&e)
            )
        })?,
    };
    let url = config.cluster_url.clone();
    let client = Client::try_from(config)
        .map_err(|e| format!("cannot build a client of {url}: {}", chain(&e)))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(version)) => {
            info!(api_server = %url, version = %version.git_version, "connected to Kubernetes");
            Ok(client)
        }
        Ok(Err(e)) => Err(format!(
            "cannot reach the Kubernetes API server at {url}: {}",
            chain(&e)
        )),
        Err(_) => Err(format!(
            "the Kubernetes API server at {url} did not answer within {CONNECT_TIMEOUT:?}"
        )),
    }
}

/// The default owner id: `cluster-` and the UID of the `kube-system`
/// namespace, which lives as long as the cluster.
pub(crate) async fn derive_owner_id(client: &Client) -> Result<String, String> {
    let namespaces = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
    let namespace = namespaces.get_metadata("kube-system").await.map_err(|e| {
        format!(
            "cannot read the kube-system namespace to derive an owner id ({}): set --owner-id",
            chain(&e)
        )
    })?;
    let uid = namespace.metadata.uid.unwrap_or_default();
    let id = format!("cluster-{uid}");
    crate::controller::identity::check_owner_id(&id).map_err(|e| {
        format!("cannot derive an owner id from the kube-system namespace ({e}): set --owner-id")
    })?;
    warn!(
        owner_id = %id,
        "no --owner-id: using one derived from this cluster; a cluster rebuilt from Git gets \
         another, so set --owner-id for disaster recovery"
    );
    Ok(id)
}

/// Refuse a label selector the API server does not accept (the watchers
/// would otherwise retry it forever). Other errors only warn: the watchers
/// report them as they retry.
async fn check_label_selector(client: &Client, selector: &str) -> Result<(), String> {
    let configs = kube::Api::<ProviderConfig>::all(client.clone());
    let params = kube::api::ListParams::default().labels(selector).limit(1);
    match configs.list_metadata(&params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 400 => Err(format!(
            "invalid --label-selector `{selector}`: {}",
            e.message
        )),
        Err(e) => {
            warn!(error = %chain(&e), "cannot list ProviderConfigs");
            Ok(())
        }
    }
}

/// The most worker threads natop starts unless told (see `--worker-threads`).
const MAX_DEFAULT_WORKERS: usize = 4;
/// Threads for blocking work (name resolution, file reads): few are ever busy.
const MAX_BLOCKING_THREADS: usize = 16;

/// Worker threads when `--worker-threads` is not given: the CPUs natop may
/// use, at most [`MAX_DEFAULT_WORKERS`].
fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_DEFAULT_WORKERS)
}

/// Run `natop run`; returns the exit code.
pub fn run(args: &RunArgs) -> i32 {
    telemetry::init(&args.log_level, args.log_format);
    let settings = args.settings(&own_namespace(
        std::env::var("POD_NAMESPACE").ok().as_deref(),
    ));
    let workers = args
        .worker_threads
        .map_or_else(default_workers, usize::from);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(operate(settings));
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

async fn operate(settings: Settings) -> i32 {
    let cancel = CancellationToken::new();

    // Install the signal handlers now (polling the future once registers
    // them), so a SIGTERM from here on starts a graceful shutdown.
    let mut signal = Box::pin(telemetry::shutdown_signal());
    tokio::select! {
        biased;
        () = &mut signal => return 0,
        () = std::future::ready(()) => {}
    }
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            signal.await;
            info!("shutdown requested: finishing the reconciles in flight");
            cancel.cancel();
            telemetry::shutdown_signal().await;
            warn!("second shutdown signal: exiting now");
            std::process::exit(1);
        }
    });

    let listener = match TcpListener::bind(settings.metrics_address).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {} (--metrics-address): {e}",
                settings.metrics_address
            );
            return 1;
        }
    };
    let address = listener.local_addr().unwrap_or(settings.metrics_address);
    let metrics = Arc::new(Metrics::default());
    let readiness = Readiness::new(cancel.clone());
    let server_stop = CancellationToken::new();
    let mut server = tokio::spawn(server::serve(
        listener,
        server::router(metrics.registry(), readiness.clone()),
        server_stop.clone().cancelled_owned(),
    ));
    info!(%address, "serving /metrics, /healthz and /readyz");

    let client = tokio::select! {
        connected = connect(settings.kubeconfig.as_deref()) => match connected {
            Ok(client) => client,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        },
        _ = cancel.cancelled() => return 0,
    };
    if let Some(selector) = &settings.operator.label_selector
        && let Err(e) = check_label_selector(&client, selector).await
    {
        eprintln!("error: {e}");
        return 1;
    }
    let mut config = settings.operator.clone();
    if config.owner_id.is_empty() {
        config.owner_id = tokio::select! {
            derived = derive_owner_id(&client) => match derived {
                Ok(id) => id,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            },
            _ = cancel.cancelled() => return 0,
        };
    }
    info!(
        owner_id = %config.owner_id,
        watch_namespaces = ?config.watch_namespaces,
        secret_namespaces = ?config.secret_namespaces,
        drift_interval = ?config.drift_interval,
        min_drift_interval = ?config.min_drift_interval,
        listing_grace = ?config.listing_grace,
        concurrency = config.concurrency,
        label_selector = ?config.label_selector,
        leader_elect = settings.election.is_some(),
        "starting natop"
    );
    let controllers = {
        let (client, cancel) = (client.clone(), cancel.clone());
        move || crate::controller::run(Context::new(client, config, metrics, cancel))
    };

    let code = tokio::select! {
        code = lead_or_run(client, settings.election.as_ref(), &cancel, &readiness, controllers) => code,
        // The endpoints are part of the operator: if they fail, stop.
        served = &mut server => {
            match served {
                Ok(Ok(())) => error!("the metrics server stopped"),
                Ok(Err(e)) => error!(error = %e, "the metrics server failed"),
                Err(e) => error!(error = %e, "the metrics server failed"),
            }
            return 1;
        }
    };

    cancel.cancel();
    server_stop.cancel();
    // Open connections get a moment to finish; a client that holds one open
    // does not hold the process up.
    match tokio::time::timeout(std::time::Duration::from_secs(5), &mut server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => warn!(error = %e, "the metrics server failed while stopping"),
        Ok(Err(e)) => warn!(error = %e, "the metrics server failed while stopping"),
        Err(_) => {
            warn!("the metrics server did not stop in time; stopping anyway");
            server.abort();
        }
    }
    if code == 0 {
        info!("stopped");
    }
    code
}

/// Run the controllers, directly or under leader election; the exit code.
async fn lead_or_run<F, Fut>(
    client: Client,
    election: Option<&Election>,
    cancel: &CancellationToken,
    readiness: &Readiness,
    controllers: F,
) -> i32
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    match election {
        Some(election) => {
            match leader::run(client, election, cancel.clone(), readiness, controllers).await {
                Ok(Ended::Shutdown) => 0,
                Ok(Ended::LeaseLost) => {
                    error!("exiting after losing the Lease, to restart as a follower");
                    1
                }
                Ok(Ended::WorkStopped) => 1,
                Err(e) => {
                    error!(error = %chain(&e), "leader election failed");
                    eprintln!("error: leader election: {}", chain(&e));
                    1
                }
            }
        }
        None => {
            let running = tokio::spawn(controllers());
            readiness.mark_started();
            match running.await {
                Ok(()) if cancel.is_cancelled() => 0,
                Ok(()) => {
                    error!("the controllers stopped unexpectedly");
                    1
                }
                Err(e) => {
                    error!(error = %e, "the controllers failed");
                    1
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let cli = Cli::try_parse_from(
            std::iter::once("natop")
                .chain(["run"])
                .chain(args.iter().copied()),
        )?;
        match cli.command {
            Command::Run(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    // These tests assume no NATOP_* variable is set in the test environment;
    // the variables themselves are exercised against the binary in
    // tests/run_command.rs (setting them here would race with other tests).

    #[test]
    fn defaults() {
        let args = parse(&[]).expect("parses");
        assert_eq!(args.kubeconfig, None);
        assert!(args.watch_namespaces.is_empty());
        assert!(args.secret_namespaces.is_empty());
        assert_eq!(args.drift_interval, Duration::from_secs(600));
        assert_eq!(args.concurrency, 8);
        assert_eq!(
            args.metrics_address,
            "127.0.0.1:8080".parse().expect("address")
        );
        assert!(!args.leader_elect);
        assert_eq!(args.leader_election_namespace, None);
        assert_eq!(args.leader_election_lease, "natop-leader");
        assert_eq!(args.log_level, "info");
        assert_eq!(args.log_format, LogFormat::Text);

        let settings = args.settings(&own_namespace(None));
        assert_eq!(settings.operator.watch_namespaces, Vec::<String>::new());
        assert_eq!(settings.operator.secret_namespaces, ["natop-system"]);
        assert_eq!(settings.operator.drift_interval, Duration::from_secs(600));
        assert_eq!(settings.operator.concurrency, 8);
        assert_eq!(settings.operator.label_selector, None);
        assert_eq!(settings.election, None);
    }

    #[test]
    fn worker_threads_default_to_the_cpus_but_at_most_four() {
        assert_eq!(parse(&[]).expect("parses").worker_threads, None);
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(default_workers(), cpus.min(4));
        assert_eq!(
            parse(&["--worker-threads", "2"])
                .expect("parses")
                .worker_threads,
            Some(2)
        );
        for bad in ["0", "300", "many"] {
            assert!(parse(&["--worker-threads", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_own_namespace_comes_from_pod_namespace() {
        assert_eq!(own_namespace(Some("ops")), "ops");
        assert_eq!(own_namespace(Some("  ")), "natop-system");
        assert_eq!(own_namespace(None), "natop-system");
        let settings = parse(&["--leader-elect"]).expect("parses").settings("ops");
        assert_eq!(settings.operator.secret_namespaces, ["ops"]);
        let election = settings.election.expect("leader election");
        assert_eq!(election.namespace, "ops");
        assert_eq!(election.lease_name, "natop-leader");
    }

    #[test]
    fn every_flag() {
        let args = parse(&[
            "--kubeconfig",
            "/tmp/kc",
            "--watch-namespace",
            "team-a",
            "--watch-namespace=team-b,team-c",
            "--watch-namespace",
            "team-a",
            "--secret-namespace",
            "creds",
            "--secret-namespace",
            "more-creds",
            "--label-selector",
            "natop.dev/shard=blue",
            "--drift-interval",
            "1h30m",
            "--concurrency",
            "2",
            "--metrics-address",
            "0.0.0.0:9090",
            "--leader-elect",
            "--leader-election-lease",
            "natop.leader",
            "--log-level",
            "natop=debug,kube=warn",
            "--log-format",
            "json",
        ])
        .expect("parses");
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.log_level, "natop=debug,kube=warn");
        let settings = args.settings("ops");
        assert_eq!(settings.kubeconfig, Some(PathBuf::from("/tmp/kc")));
        assert_eq!(
            settings.operator.watch_namespaces,
            ["team-a", "team-b", "team-c"]
        );
        assert_eq!(settings.operator.secret_namespaces, ["creds", "more-creds"]);
        assert_eq!(
            settings.operator.label_selector.as_deref(),
            Some("natop.dev/shard=blue")
        );
        assert_eq!(settings.operator.drift_interval, Duration::from_secs(5400));
        assert_eq!(settings.operator.concurrency, 2);
        assert_eq!(
            settings.metrics_address,
            "0.0.0.0:9090".parse().expect("address")
        );
        let election = settings.election.expect("leader election");
        assert_eq!(election.namespace, "creds");
        assert_eq!(election.lease_name, "natop.leader");

        let args =
            parse(&["--leader-elect", "--leader-election-namespace", "elect"]).expect("parses");
        assert_eq!(
            args.settings("ops").election.expect("election").namespace,
            "elect"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["--drift-interval", "10"][..],
            &["--drift-interval", "0s"],
            &["--drift-interval", "ten minutes"],
            &["--drift-interval", "5d"],
            &["--concurrency", "0"],
            &["--concurrency", "70000"],
            &["--metrics-address", "localhost"],
            &["--watch-namespace", "Team_A"],
            &["--secret-namespace", ""],
            &["--leader-election-lease", "Not A Name"],
            &["--label-selector", " "],
            &["--leader-elect=maybe"],
            &["--log-format", "xml"],
            &["--log-level", "natop=loud"],
            &["--no-such-flag"],
        ] {
            let error = parse(bad).expect_err(&format!("{bad:?} is refused"));
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
        let error = parse(&["--drift-interval", "soon"]).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("--drift-interval"), "{text}");
        assert!(text.contains("`soon` is not an interval"), "{text}");
    }
}
