//! What every reconcile shares: the Kubernetes client, the cloud clients, the
//! operator's settings, events, metrics and per-object pacing.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::entries::forward::DnatRow;
use super::entries::snat::SnatRow;
use super::entries::tables::{ObjectName, Tables};
use super::ownership::Stores;
use super::providers::Providers;
use super::timing::Pacing;
use crate::metrics::Metrics;

/// Settings of a running operator (from `natop run`'s flags).
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Namespaces whose objects are reconciled; empty means all.
    pub watch_namespaces: Vec<String>,
    /// Namespaces Secrets may be read from (the operator's own by default).
    pub secret_namespaces: Vec<String>,
    /// Drift check at rest, unless an object's annotation says otherwise.
    pub drift_interval: Duration,
    /// The shortest drift interval an object's annotation may ask for.
    pub min_drift_interval: Duration,
    /// How long a resource natop bought (or may have bought) can be missing
    /// from a listing that cannot read one resource before natop concludes
    /// it is not there.
    pub listing_grace: Duration,
    /// Reconciles in flight per controller.
    pub concurrency: u16,
    /// Only objects (and ProviderConfigs) with these labels, e.g.
    /// `shard=blue`: lets several operators share a cluster.
    pub label_selector: Option<String>,
    /// The owner id natop tags what it creates with (`natop.dev/owner`): an
    /// operator with the same owner id takes over what an earlier one made
    /// (a cluster rebuilt from Git), and never touches another owner's.
    pub owner_id: String,
    /// What RRSA ProviderConfigs default to: the role, OIDC provider and
    /// token file the RRSA webhook puts in natop's environment.
    pub rrsa: RrsaDefaults,
}

/// RRSA settings from natop's environment (`ALIBABA_CLOUD_ROLE_ARN`,
/// `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`, `ALIBABA_CLOUD_OIDC_TOKEN_FILE`, as
/// the RRSA webhook injects them). The token file can only be set here: a
/// ProviderConfig cannot make natop read (and send) another file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RrsaDefaults {
    /// Default role ARN.
    pub role_arn: Option<String>,
    /// Default OIDC provider ARN.
    pub oidc_provider_arn: Option<String>,
    /// The projected service account token.
    pub token_file: Option<std::path::PathBuf>,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            watch_namespaces: Vec::new(),
            secret_namespaces: vec!["natop-system".to_string()],
            drift_interval: Duration::from_secs(600),
            min_drift_interval: Duration::from_secs(30),
            listing_grace: Duration::from_secs(60),
            concurrency: 8,
            label_selector: None,
            owner_id: "natop-test".to_string(),
            rrsa: RrsaDefaults::default(),
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    /// Kubernetes.
    pub client: Client,
    /// Settings.
    pub config: OperatorConfig,
    /// Cloud clients per ProviderConfig.
    pub providers: Providers,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Event publisher.
    pub events: super::events::Events,
    /// Per-object re-check and retry intervals.
    pub pacing: Pacing,
    /// Cancelled on shutdown.
    pub cancel: CancellationToken,
    /// DNAT tables: snapshots and write queues.
    pub dnat: Tables<DnatRow>,
    /// SNAT tables: snapshots and write queues.
    pub snat: Tables<SnatRow>,
    /// Wake-ups of ForwardEntry writers, taken by its controller.
    pub dnat_wakes: std::sync::Mutex<Option<UnboundedReceiver<ObjectName>>>,
    /// Wake-ups of SnatEntry writers, taken by its controller.
    pub snat_wakes: std::sync::Mutex<Option<UnboundedReceiver<ObjectName>>>,
    /// The controllers' caches, for judging who owns a cloud resource.
    pub stores: Stores,
    /// The versions of objects natop has written over, so that a reconcile
    /// of a cached copy older than natop's own write waits for the cache.
    pub written: Written,
    /// The last check of each ProviderConfig, so that a second trigger of
    /// the same inputs (its own event and its Secret's, arriving together)
    /// costs no second check.
    pub checks: super::provider_config::Checks,
}

/// The resourceVersion each object had when natop last wrote it (status or
/// finalizers), by uid, until the cache has caught up with that write. A
/// cache only moves forward, so a cached copy still at that version is older
/// than natop's own write: deciding on it would repeat work (a status write,
/// a create replayed) that the write already recorded.
#[derive(Debug, Default)]
pub struct Written(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl Written {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// natop wrote over version `version` of object `uid`.
    pub fn wrote(&self, uid: &str, version: &str) {
        self.map().insert(uid.to_string(), version.to_string());
    }

    /// Whether the cached copy at `version` of object `uid` is older than
    /// natop's last write of it; forgets the write once the cache has moved on.
    pub fn behind(&self, uid: &str, version: &str) -> bool {
        let mut map = self.map();
        match map.get(uid) {
            Some(written_over) if written_over == version => true,
            Some(_) => {
                map.remove(uid);
                false
            }
            None => false,
        }
    }

    /// Object `uid` is gone.
    pub fn forget(&self, uid: &str) {
        self.map().remove(uid);
    }

    /// How many writes the caches have not caught up with yet.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether the caches have caught up with every write.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

impl OperatorConfig {
    /// The watcher configuration every controller uses.
    pub fn watcher(&self) -> kube::runtime::watcher::Config {
        let config = kube::runtime::watcher::Config::default();
        match &self.label_selector {
            Some(selector) => config.labels(selector),
            None => config,
        }
    }
}

impl Context {
    /// Build the context.
    pub fn new(
        client: Client,
        config: OperatorConfig,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
    ) -> Arc<Context> {
        let events =
            super::events::Events::new(client.clone(), "natop", std::env::var("POD_NAME").ok());
        let providers = Providers::new(
            client.clone(),
            config.secret_namespaces.clone(),
            metrics.cloud.clone(),
            cancel.clone(),
        )
        .with_rrsa(config.rrsa.clone());
        let (dnat_wake, dnat_wakes) = unbounded_channel();
        let (snat_wake, snat_wakes) = unbounded_channel();
        Arc::new(Context {
            client,
            config,
            providers,
            metrics,
            events,
            pacing: Pacing::default(),
            cancel,
            dnat: Tables::new(dnat_wake),
            snat: Tables::new(snat_wake),
            dnat_wakes: std::sync::Mutex::new(Some(dnat_wakes)),
            snat_wakes: std::sync::Mutex::new(Some(snat_wakes)),
            stores: Stores::default(),
            written: Written::default(),
            checks: Default::default(),
        })
    }
}
