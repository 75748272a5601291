//! The ForwardEntry (DNAT) and SnatEntry controllers: one reconcile for both
//! kinds, over the [`EntryKind`] each implements.
//!
//! An entry resolves its table (from its NatGateway object once that is Ready,
//! or given), reads the table's shared snapshot (see [`tables`]),
//! finds its cloud entry by id (or, when it has none yet, by natural key) and
//! decides: in sync, wait, create, modify or delete. Every write waits for
//! the table's turn and for a snapshot in which nothing is busy.

pub mod forward;
pub mod snat;
pub mod tables;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::warn;

use super::Context;
use super::identity::client_token;
use super::providers::{CloudClient, Resolved};
use super::reconcile::{self, ReconcileError, event, key};
use super::status::{Verdict, apply_status, conditions};
use super::{location, ownership};
use crate::api::{
    BandwidthPackage, CloudLocation, DeletionPolicy, FINALIZER, ManagementPolicy, NatGateway,
    PendingCreate, ProviderConfig,
};
use crate::cloud::CloudError;
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::nat_gateway::DescribeNatGateways;
use tables::{Row, Snapshot, TableKey, Tables, Turn, Writer, locks_table};

/// How old a snapshot may be when a write is decided on it.
const WRITE_MAX_AGE: Duration = Duration::from_secs(2);
/// Fallback re-check of an entry waiting for its gateway, package or turn
/// (watches and the table queue wake it sooner).
const WAITING: Duration = Duration::from_secs(30);

/// What a reconcile needs from the entry it is about, besides the kind.
pub struct Common<'a> {
    /// ProviderConfig (used when no NatGateway object is referenced).
    pub provider: &'a str,
    /// Region override (used when no NatGateway object is referenced).
    pub region: Option<&'a str>,
    /// Deletion policy.
    pub deletion: DeletionPolicy,
    /// Management policy.
    pub management: ManagementPolicy,
    /// Referenced NatGateway object.
    pub gateway: Option<&'a str>,
    /// Given table id.
    pub table: Option<&'a str>,
    /// Referenced BandwidthPackage object.
    pub package: Option<&'a str>,
}

/// One kind of table entry: its object, its cloud row and its cloud calls.
pub trait EntryKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The kind's name.
    const KIND: &'static str;
    /// The table's name in messages (`forward table`, `SNAT table`).
    const TABLE: &'static str;
    /// The codes with which the cloud refuses a create whose key another
    /// entry holds: re-checked on a timer, since that entry may go.
    const KEY_TAKEN: &'static [&'static str];
    /// The status field holding the table id.
    const TABLE_FIELD: &'static str;
    /// What an entry id of the kind starts with (`fwd-`, `snat-`).
    const ID_PREFIX: &'static str;
    /// The status field holding the public IP(s) in use.
    const IPS_FIELD: &'static str;
    /// The cloud row.
    type Row: Row + Debug;
    /// The entry as the cloud should hold it, references resolved; also what
    /// `status.creating` records of a create in flight.
    type Desired: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// The fields every entry shares.
    fn common(&self) -> Common<'_>;
    /// The spec's problems the CRD's schema and CEL rules cannot express (the
    /// API server enforces those), if any.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    /// The table of this kind of a Ready NatGateway.
    fn gateway_table(gateway: &NatGateway) -> Option<String>;
    /// The desired entry, given the IPs of the referenced package; `Err` says
    /// why the reference cannot be used.
    fn desired(&self, package_ips: &[String]) -> Result<Self::Desired, String>;
    /// The natural key, readable (`47.1.2.3:80/TCP`, `vsw-…`); also the
    /// ClientToken's input.
    fn natural_key(desired: &Self::Desired) -> String;
    /// Whether `row` holds the same natural key.
    fn has_key(desired: &Self::Desired, row: &Self::Row) -> bool;
    /// How `row` differs from `desired`; empty when in sync.
    fn drift(desired: &Self::Desired, row: &Self::Row) -> Vec<String>;
    /// The public IP(s) `row` uses, as the status shows them.
    fn ips(row: &Self::Row) -> String;
    /// The public IP(s) `desired` asks for, as the status shows them.
    fn desired_ips(desired: &Self::Desired) -> String;
    /// Every entry of `table`, and how many describe calls that took.
    fn describe(
        client: &AlibabaClient,
        region: &str,
        table: &str,
    ) -> impl Future<Output = Result<(Vec<Self::Row>, u32), CloudError>> + Send;
    /// Entry `id` of `table` by a read of that one entry (never a list):
    /// `None` only when the cloud says it is not there.
    fn describe_one(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Row>, CloudError>> + Send;
    /// Create; the new entry's id.
    fn create(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        desired: &Self::Desired,
        token: String,
    ) -> impl Future<Output = Result<String, CloudError>> + Send;
    /// Modify entry `id` to `desired`.
    fn modify(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;
    /// Delete entry `id`.
    fn delete(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
    ) -> impl Future<Output = Result<(), CloudError>> + Send;
    /// The operator's tables of this kind.
    fn tables(ctx: &Context) -> &Tables<Self::Row>;
    /// Where the controller registers its cache of objects of this kind.
    fn store(ctx: &Context) -> &std::sync::OnceLock<Store<DeserializeGuard<Self>>>;
}

/// Run the controller of kind `K` until `ctx.cancel` is cancelled; `wakes`
/// carries the writers whose turn on a table has come.
pub async fn run<K: EntryKind>(ctx: Arc<Context>, wakes: UnboundedReceiver<Writer>) {
    let api: Api<DeserializeGuard<K>> = match ctx.config.watch_namespaces.as_slice() {
        [one] => Api::namespaced(ctx.client.clone(), one),
        _ => Api::all(ctx.client.clone()),
    };
    let controller = Controller::new(api, ctx.config.watcher());
    let store = controller.store();
    // Only the first run on a context registers its cache.
    let _ = K::store(&ctx).set(store.clone());
    let users = move |filter: &dyn Fn(&K) -> bool| {
        store
            .state()
            .into_iter()
            .filter(|e| e.0.as_ref().is_ok_and(filter))
            .map(|e| ObjectRef::from_obj(&*e))
            .collect::<Vec<_>>()
    };
    let by_gateway = users.clone();
    let by_package = users.clone();
    let gateways: Api<DeserializeGuard<NatGateway>> = Api::all(ctx.client.clone());
    let packages: Api<DeserializeGuard<BandwidthPackage>> = Api::all(ctx.client.clone());
    let configs: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let woken = futures_util::stream::unfold(wakes, |mut wakes| async move {
        let (namespace, name) = wakes.recv().await?;
        Some((
            ObjectRef::<DeserializeGuard<K>>::new(&name).within(&namespace),
            wakes,
        ))
    });
    let cancel = ctx.cancel.clone();
    controller
        .with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency),
        )
        // A gateway becoming Ready (or changing tables) reconciles its
        // entries at once.
        .watches(gateways, ctx.config.watcher(), move |gateway| {
            let namespace = gateway.meta().namespace.clone();
            let name = gateway.meta().name.clone().unwrap_or_default();
            by_gateway(&|e: &K| {
                e.meta().namespace == namespace && e.common().gateway == Some(name.as_str())
            })
        })
        .watches(packages, ctx.config.watcher(), move |package| {
            let namespace = package.meta().namespace.clone();
            let name = package.meta().name.clone().unwrap_or_default();
            by_package(&|e: &K| {
                e.meta().namespace == namespace && e.common().package == Some(name.as_str())
            })
        })
        // A ProviderConfig that changes may be any entry's (directly or
        // through its gateway): re-check them all; it is rare.
        .watches(configs, ctx.config.watcher(), move |_| users(&|_: &K| true))
        .reconcile_on(woken)
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy<K: EntryKind>(
    guard: Arc<DeserializeGuard<K>>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    reconcile::on_error(K::KIND, &guard, error, &ctx)
}

async fn reconcile<K: EntryKind>(
    guard: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    reconcile::measured(K::KIND, &guard, &ctx, |entry| reconcile_valid(entry, &ctx)).await
}

/// What this reconcile found, for the status write.
#[derive(Debug, Clone, Default)]
struct Progress {
    id: Option<String>,
    table: Option<String>,
    location: Option<CloudLocation>,
    gateway_id: Option<String>,
    ips: Option<String>,
    cloud_status: Option<String>,
    /// `status.creating`: the create in flight (see [`PendingCreate`]).
    creating: Option<Value>,
    verdict: Option<Verdict>,
}

impl Progress {
    fn of<K: EntryKind>(entry: &K) -> Progress {
        let status = serde_json::to_value(entry)
            .ok()
            .and_then(|v| v.get("status").cloned())
            .unwrap_or(Value::Null);
        let text = |field: &str| status.get(field).and_then(Value::as_str).map(String::from);
        Progress {
            id: text("id"),
            table: text(K::TABLE_FIELD),
            location: status
                .get("location")
                .cloned()
                .and_then(|l| serde_json::from_value(l).ok()),
            gateway_id: text("natGatewayId"),
            ips: text(K::IPS_FIELD),
            cloud_status: text("status"),
            creating: status.get("creating").cloned().filter(|c| !c.is_null()),
            verdict: None,
        }
    }

    /// The create in flight, as `status.creating` records it.
    fn pending<K: EntryKind>(&self) -> Option<PendingCreate<K::Desired>> {
        self.creating
            .clone()
            .and_then(|c| serde_json::from_value(c).ok())
    }

    /// Record `pending` as the create in flight.
    fn set_pending<K: EntryKind>(&mut self, pending: &PendingCreate<K::Desired>) {
        self.creating = serde_json::to_value(pending).ok();
    }

    /// The entry's id is known: no create is in flight any more.
    fn identified(&mut self, table: &str, id: &str) {
        self.id = Some(id.to_string());
        self.table = Some(table.to_string());
        self.creating = None;
    }

    fn set(&mut self, verdict: Verdict) {
        self.verdict = Some(verdict);
    }

    fn record<K: EntryKind>(&mut self, table: &str, row: &K::Row) {
        self.identified(table, row.id());
        self.ips = Some(K::ips(row)).filter(|s| !s.is_empty());
        self.cloud_status = Some(row.status().to_string());
    }
}

fn writer<K: EntryKind>(entry: &K) -> Writer {
    (entry.namespace().unwrap_or_default(), entry.name_any())
}

async fn reconcile_valid<K: EntryKind>(entry: &K, ctx: &Context) -> Result<Action, ReconcileError> {
    let namespace = entry.namespace().unwrap_or_default();
    let watched = &ctx.config.watch_namespaces;
    if !watched.is_empty() && !watched.contains(&namespace) {
        return Ok(Action::await_change());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    if entry.meta().deletion_timestamp.is_some() {
        if !entry.finalizers().iter().any(|f| f == FINALIZER) {
            K::tables(ctx).forget(&writer(entry));
            return Ok(Action::await_change());
        }
        return cleanup(entry, &api, ctx).await;
    }
    if reconcile::ensure_finalizer(&api, entry).await? {
        return Ok(Action::await_change());
    }
    let mut progress = Progress::of(entry);
    let outcome = apply(entry, ctx, &mut progress).await;
    let action = match &outcome {
        Ok(action) => action.clone(),
        Err(e) if e.is_cancelled() => return Ok(Action::await_change()),
        Err(e) => {
            progress.set(if e.is_retryable() {
                Verdict::progressing(&e.reason(), e.stable_message())
            } else {
                Verdict::stalled(&e.reason(), e.stable_message())
            });
            if e.is_retryable() {
                Action::await_change()
            } else if key_taken::<K>(e) {
                // Stalled, but looked at again: the entry holding the key
                // may be deleted (a rename, another object's cleanup).
                ctx.pacing.settled(&key(entry));
                Action::requeue(KEY_TAKEN_RECHECK)
            } else {
                reconcile::after_error(ctx, &key(entry), e)
            }
        }
    };
    if let Some(verdict) = progress.verdict.as_mut() {
        reconcile::note_drift(verdict, entry, &ctx.config);
    }
    write_status(&api, entry, &progress).await?;
    match outcome {
        Err(e) if e.is_retryable() => Err(e),
        _ => Ok(action),
    }
}

async fn write_status<K: EntryKind>(
    api: &Api<K>,
    entry: &K,
    progress: &Progress,
) -> Result<(), ReconcileError> {
    let current = serde_json::to_value(entry)
        .ok()
        .and_then(|v| v.get("status").cloned())
        .unwrap_or(Value::Null);
    let previous: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> = current
        .get("conditions")
        .cloned()
        .and_then(|c| serde_json::from_value(c).ok())
        .unwrap_or_default();
    let verdict = progress
        .verdict
        .clone()
        .unwrap_or_else(|| Verdict::progressing("Reconciling", "looking at the cloud"));
    let generation = entry.meta().generation;
    let mut status = Map::new();
    if let Some(location) = &progress.location {
        status.insert("location".into(), json!(location));
    }
    for (field, value) in [
        ("id", &progress.id),
        ("natGatewayId", &progress.gateway_id),
        (K::TABLE_FIELD, &progress.table),
        (K::IPS_FIELD, &progress.ips),
        ("status", &progress.cloud_status),
    ] {
        if let Some(value) = value {
            status.insert(field.to_string(), json!(value));
        }
    }
    if let Some(creating) = &progress.creating {
        status.insert("creating".into(), creating.clone());
    }
    if let Some(generation) = generation {
        status.insert("observedGeneration".into(), json!(generation));
    }
    status.insert(
        "conditions".into(),
        json!(conditions(&previous, generation, &verdict)),
    );
    apply_status(api, entry, &Value::Object(status)).await?;
    Ok(())
}

/// Where the entry lives and how to reach it.
struct Target<K: EntryKind> {
    key: TableKey,
    client: AlibabaClient,
    /// Where calls through `client` act.
    location: CloudLocation,
    /// The gateway whose table `key` names, when known.
    gateway_id: Option<String>,
    /// The desired entry; `Err` says why a reference cannot be used.
    desired: Result<K::Desired, String>,
}

/// Why there is no target yet: wait (something referenced is not ready) or
/// stall (something referenced is wrong).
enum NoTarget {
    Wait(Verdict),
    Stall(Verdict),
}

/// Resolve the table, the provider and the package IPs.
async fn target<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    deleting: bool,
) -> Result<Result<Target<K>, NoTarget>, ReconcileError> {
    let namespace = entry.namespace().unwrap_or_default();
    let common = entry.common();
    let mut provider = common.provider.to_string();
    let mut region = common.region.map(String::from);
    let mut gateway_id = None;
    let table = match (common.gateway, common.table) {
        (_, Some(table)) => table.to_string(),
        (Some(name), None) => {
            let api: Api<NatGateway> = Api::namespaced(ctx.client.clone(), &namespace);
            let gateway = match api.get_opt(name).await {
                Ok(found) => found,
                // A gateway object that no longer decodes cannot say where its tables are.
                Err(kube::Error::SerdeError(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let Some(gateway) = gateway else {
                return Ok(Err(NoTarget::Wait(Verdict::progressing(
                    "WaitingForGateway",
                    format!("NatGateway {name} does not exist (yet)"),
                ))));
            };
            // Where the gateway lives, as it recorded it; its spec until it has.
            match gateway.status.as_ref().and_then(|s| s.location.as_ref()) {
                Some(at) => {
                    provider.clone_from(&at.provider_config);
                    region = Some(at.region.clone());
                }
                None => {
                    provider.clone_from(&gateway.spec.provider_config_ref.name);
                    region.clone_from(&gateway.spec.region);
                }
            }
            gateway_id = gateway.status.as_ref().and_then(|s| s.id.clone());
            let ready = gateway.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == "Ready")
                    .map(|c| (c.status == "True", c.message.clone()))
            });
            let table = K::gateway_table(&gateway);
            match (ready, table) {
                (Some((true, _)), Some(table)) => table,
                // While deleting, the recorded table is good enough.
                (_, Some(table)) if deleting => table,
                (ready, _) => {
                    let why = ready
                        .map(|(_, message)| message)
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "no status yet".into());
                    return Ok(Err(NoTarget::Wait(Verdict::progressing(
                        "WaitingForGateway",
                        format!("NatGateway {name} is not Ready: {why}"),
                    ))));
                }
            }
        }
        (None, None) => {
            return Ok(Err(NoTarget::Stall(Verdict::stalled(
                "InvalidSpec",
                "no gateway and no table",
            ))));
        }
    };
    let mut package_ips = Vec::new();
    if let Some(name) = common.package {
        let api: Api<BandwidthPackage> = Api::namespaced(ctx.client.clone(), &namespace);
        let package = match api.get_opt(name).await {
            Ok(found) => found,
            Err(kube::Error::SerdeError(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let ready = package.as_ref().and_then(|p| {
            p.status.as_ref().filter(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        });
        match ready {
            Some(status) => {
                package_ips = status
                    .public_ip_addresses
                    .iter()
                    .map(|ip| ip.ip.clone())
                    .collect();
            }
            None if !deleting => {
                let why = if package.is_some() {
                    "is not Ready"
                } else {
                    "does not exist (yet)"
                };
                return Ok(Err(NoTarget::Wait(Verdict::progressing(
                    "WaitingForBandwidthPackage",
                    format!("BandwidthPackage {name} {why}"),
                ))));
            }
            None => {}
        }
    }
    let desired = entry.desired(&package_ips);
    Ok(
        reach::<K>(ctx, &provider, region.as_deref(), table, gateway_id)
            .await?
            .map(|(key, client, location, gateway_id)| Target {
                key,
                client,
                location,
                gateway_id,
                desired,
            }),
    )
}

/// What [`reach`] gives: the table's key, the client, where it acts, and
/// the gateway of the table.
type Reached = (TableKey, AlibabaClient, CloudLocation, Option<String>);

/// The client for `table` through ProviderConfig `provider` in `region`.
async fn reach<K: EntryKind>(
    ctx: &Context,
    provider: &str,
    region: Option<&str>,
    table: String,
    gateway_id: Option<String>,
) -> Result<Result<Reached, NoTarget>, ReconcileError> {
    let resolved = match ctx.providers.resolve(provider, region).await {
        Ok(r) => r,
        Err(e) if !e.is_retryable() => {
            return Ok(Err(NoTarget::Stall(Verdict::stalled(
                e.reason(),
                format!("ProviderConfig {provider}: {e}"),
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    let location = resolved.location();
    match resolved {
        Resolved {
            cloud: CloudClient::Alibaba(client),
            region,
            name,
            ..
        } => Ok(Ok((
            TableKey {
                provider: name,
                region,
                table,
            },
            client,
            location,
            gateway_id,
        ))),
        Resolved { name, .. } => Ok(Err(NoTarget::Stall(Verdict::stalled(
            "WrongProvider",
            format!(
                "ProviderConfig {name} is not an Alibaba one; a {} needs spec.provider Alibaba",
                K::KIND
            ),
        )))),
    }
}

/// Whether gateway `id` is gone, by a read of that one gateway (never a list).
async fn gateway_gone(
    client: &AlibabaClient,
    region: &str,
    id: &str,
) -> Result<bool, ReconcileError> {
    let found = client
        .call(&DescribeNatGateways {
            region_id: region.to_string(),
            nat_gateway_id: Some(id.to_string()),
            ..Default::default()
        })
        .await;
    match found {
        Ok(answer) => Ok(!answer.nat_gateways.iter().any(|g| g.nat_gateway_id == id)),
        Err(e) if e.is_not_found() => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// The claims of every object of kind `K` the controller knows.
fn claims<K: EntryKind>(ctx: &Context) -> Vec<ownership::Claim> {
    ownership::claims(K::store(ctx).get(), |entry: &K| Progress::of(entry).id)
}

async fn snapshot<K: EntryKind>(
    ctx: &Context,
    target: &Target<K>,
    max_age: Duration,
) -> Result<Arc<Snapshot<K::Row>>, CloudError> {
    let client = target.client.clone();
    let region = target.key.region.clone();
    let table = target.key.table.clone();
    K::tables(ctx)
        .snapshot(&target.key, max_age, || async move {
            K::describe(&client, &region, &table).await
        })
        .await
}

/// Entry `id`, which a listing of its table did not show, by a read of that
/// one entry. A listing is read page by page and the service's pages are not
/// atomic: entries that finish deleting between two pages shift later ones
/// past the reader. So absence is never concluded from a listing; when the
/// entry exists, the table's cached snapshot is dropped so that the next
/// reader reads it again.
async fn confirm_missing<K: EntryKind>(
    ctx: &Context,
    target: &Target<K>,
    id: &str,
) -> Result<Option<K::Row>, CloudError> {
    let row = K::describe_one(&target.client, &target.key.region, &target.key.table, id).await?;
    if row.is_some() {
        tracing::info!(
            entry = id,
            table = %target.key.table,
            "an entry missing from its table's listing exists; reading the table again"
        );
        K::tables(ctx).invalidate(&target.key);
    }
    Ok(row)
}

/// What to do about the entry, decided on one snapshot.
#[derive(Debug)]
enum Step {
    /// Matches the spec.
    InSync,
    /// The entry is busy (or the table is): look again soon.
    Busy(String),
    /// Nothing found to observe (Observe policy).
    Missing(String),
    /// Differs, observed only.
    Drifted(String),
    /// Create (with the id of an earlier entry that vanished, if any).
    Create { earlier: Option<String> },
    /// Find out whether the entry holding our natural key is ours.
    Claim { candidate: String },
    /// Replay the create `status.creating` records, which differs from the
    /// one the spec now asks for, to learn which entry it made (if any).
    Replay,
    /// Modify entry `id`.
    Modify { id: String, drift: Vec<String> },
}

impl Step {
    fn writes(&self) -> bool {
        matches!(
            self,
            Step::Create { .. } | Step::Claim { .. } | Step::Replay | Step::Modify { .. }
        )
    }

    /// Whether the step sends a create that `status.creating` must record first.
    fn creates(&self) -> bool {
        matches!(self, Step::Create { .. } | Step::Claim { .. })
    }
}

/// The create the spec asks for now: the desired entry, replacing the
/// recorded id (if any).
fn expected_create<D: Clone>(desired: &D, progress: &Progress) -> PendingCreate<D> {
    PendingCreate {
        entry: desired.clone(),
        replaces: progress.id.clone(),
    }
}

/// The entry as messages name it.
fn describe_entry(progress: &Progress) -> String {
    progress
        .id
        .as_ref()
        .map_or_else(|| "the entry".to_string(), |id| format!("entry {id}"))
}

/// The entry's id: the one recorded for this table, else the annotation.
fn known_id<K: EntryKind>(entry: &K, progress: &Progress, table: &str) -> Option<String> {
    let recorded = progress
        .id
        .clone()
        .filter(|_| progress.table.as_deref().is_none_or(|t| t == table));
    recorded.or_else(|| {
        ownership::external_id(entry.annotations(), &[K::ID_PREFIX])
            .ok()
            .flatten()
    })
}

/// How often a create refused because another entry holds the key is tried
/// again.
pub const KEY_TAKEN_RECHECK: Duration = Duration::from_secs(30);

/// Whether `error` is the cloud refusing a create because another entry
/// holds the key.
fn key_taken<K: EntryKind>(error: &ReconcileError) -> bool {
    match error {
        ReconcileError::Cloud(e) => e.code().is_some_and(|code| K::KEY_TAKEN.contains(&code)),
        _ => false,
    }
}

/// An entry holding `desired`'s key that is being deleted, if any.
pub fn deleting_holder<'r, K: EntryKind>(
    desired: &K::Desired,
    rows: &'r [K::Row],
) -> Option<&'r K::Row> {
    rows.iter()
        .find(|r| K::has_key(desired, r) && r.status().eq_ignore_ascii_case("Deleting"))
}

fn decide<K: EntryKind>(
    entry: &K,
    progress: &Progress,
    table: &str,
    desired: &K::Desired,
    snapshot: &Snapshot<K::Row>,
) -> Step {
    let id = known_id(entry, progress, table);
    let observe = entry.common().management == ManagementPolicy::Observe;
    let by_id = id.as_deref().and_then(|id| snapshot.get(id));
    let by_key = || {
        snapshot
            .rows
            .iter()
            .find(|r| K::has_key(desired, r) && !r.status().eq_ignore_ascii_case("Deleting"))
    };
    let found = if observe {
        by_id.or_else(by_key)
    } else {
        by_id
    };
    let Some(row) = found else {
        if observe {
            return Step::Missing(match &id {
                Some(id) => format!("no entry {id} in {} {table}", K::TABLE),
                None => format!(
                    "no entry {} in {} {table}",
                    K::natural_key(desired),
                    K::TABLE
                ),
            });
        }
        if progress
            .pending::<K>()
            .is_some_and(|pending| pending != expected_create(desired, progress))
        {
            // A create went out for another spec (or replacing another id)
            // and its answer was never recorded: that entry may exist.
            return Step::Replay;
        }
        if let Some(candidate) = by_key() {
            return Step::Claim {
                candidate: candidate.id().to_string(),
            };
        }
        if let Some(leaving) = deleting_holder::<K>(desired, &snapshot.rows) {
            // A GitOps rename: the old object's entry still holds the key
            // while it is deleted. The cloud would refuse the create
            // (Forbidden.PortOccupied and the like): wait for it to go.
            return Step::Busy(format!(
                "entry {} holding {} in {} {table} is being deleted: creating once it is gone",
                leaving.id(),
                K::natural_key(desired),
                K::TABLE
            ));
        }
        return Step::Create {
            earlier: progress.id.clone(),
        };
    };
    if locks_table(row.status()) || row.status().eq_ignore_ascii_case("Deleting") {
        return Step::Busy(format!(
            "entry {} of {} {table} is {}",
            row.id(),
            K::TABLE,
            row.status()
        ));
    }
    let drift = K::drift(desired, row);
    match (drift.is_empty(), observe) {
        (true, _) => Step::InSync,
        (false, true) => Step::Drifted(drift.join("; ")),
        (false, false) => Step::Modify {
            id: row.id().to_string(),
            drift,
        },
    }
}

async fn apply<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let object = key(entry);
    let who = writer(entry);
    let tables = K::tables(ctx);
    if let Err(message) = entry.validate() {
        progress.set(Verdict::stalled("InvalidSpec", message));
        tables.forget(&who);
        ctx.pacing.settled(&object);
        return Ok(Action::await_change());
    }
    let stall = |progress: &mut Progress, reason: &str, message: String| {
        progress.set(Verdict::stalled(reason, message));
        tables.forget(&who);
        ctx.pacing.settled(&object);
        Ok(Action::await_change())
    };
    let annotated = match ownership::external_id(entry.annotations(), &[K::ID_PREFIX]) {
        Ok(id) => id,
        Err(message) => return stall(progress, ownership::INVALID_EXTERNAL_ID, message),
    };
    let adopting = annotated
        .as_ref()
        .filter(|id| progress.id.as_ref().is_none_or(|recorded| recorded == *id));
    if let Some(id) = adopting
        && let Some(message) = ownership::other_owner(
            &ownership::Claim::of(entry, progress.id.clone()),
            id,
            &claims::<K>(ctx),
            None,
        )
    {
        return stall(progress, ownership::OWNED_BY_ANOTHER_OBJECT, message);
    }
    // natop records where an entry goes before creating it.
    let placed = progress.location.is_some() && progress.table.is_some();
    let target = match target(entry, ctx, false).await? {
        Ok(target) => target,
        Err(NoTarget::Wait(verdict)) => {
            progress.set(verdict);
            tables.forget(&who);
            return Ok(Action::requeue(WAITING));
        }
        Err(NoTarget::Stall(verdict)) => {
            progress.set(verdict);
            tables.forget(&who);
            ctx.pacing.settled(&object);
            return Ok(Action::await_change());
        }
    };
    let what = describe_entry(progress);
    if let Err(message) = location::check(progress.location.as_ref(), &target.location, &what) {
        return stall(progress, location::LOCATION_CHANGED, message);
    }
    if let (Some(old), Some(_)) = (progress.table.clone(), &progress.id)
        && old != target.key.table
        && let Some(gateway) = progress.gateway_id.clone()
        && !gateway_gone(&target.client, &target.key.region, &gateway).await?
    {
        // The entry stays where it is while its gateway exists: moving it
        // would leave it there, unmanaged.
        return stall(
            progress,
            location::LOCATION_CHANGED,
            format!(
                "{what} lives in {} {old} of gateway {gateway}, which still exists, but the \
                 object now leads to {} {}: natop never leaves an entry behind to make another; \
                 point the object back, or create a new object for the new table",
                K::TABLE,
                K::TABLE,
                target.key.table
            ),
        );
    }
    progress.location = Some(target.location.clone());
    if progress.id.is_none() || progress.table.as_deref() != Some(target.key.table.as_str()) {
        progress.table = Some(target.key.table.clone());
        progress.gateway_id.clone_from(&target.gateway_id);
    } else if progress.gateway_id.is_none() {
        progress.gateway_id.clone_from(&target.gateway_id);
    }
    let desired = match &target.desired {
        Ok(desired) => desired.clone(),
        Err(message) => {
            progress.set(Verdict::stalled("InvalidReference", message.clone()));
            tables.forget(&who);
            ctx.pacing.settled(&object);
            return Ok(Action::await_change());
        }
    };
    let drift_interval = reconcile::drift_interval(entry, &ctx.config);
    let snap = match snapshot(ctx, &target, drift_interval).await {
        Ok(snap) => snap,
        Err(e) if e.is_not_found() => {
            tables.forget(&who);
            progress.cloud_status = None;
            let message = format!(
                "{} {} does not exist: {}",
                K::TABLE,
                target.key.table,
                e.stable_message()
            );
            if entry.common().gateway.is_some() {
                // The gateway's status is behind: its watch brings us back.
                progress.set(Verdict::progressing("WaitingForGateway", message));
                return Ok(Action::requeue(WAITING));
            }
            progress.set(Verdict::stalled("TableNotFound", message));
            return Ok(Action::requeue(drift_interval));
        }
        Err(e) => return Err(e.into()),
    };
    let mut step = decide(entry, progress, &target.key.table, &desired, &snap);
    if let Some(row) = known_id(entry, progress, &target.key.table)
        .as_deref()
        .and_then(|id| snap.get(id))
    {
        progress.record::<K>(&target.key.table, row);
    }
    let expected = expected_create(&desired, progress);
    let recorded = progress.pending::<K>().as_ref() == Some(&expected);
    if step.writes() && (!placed || (step.creates() && !recorded)) {
        // Record the place and the create first (the status write below);
        // write next time. A create is never sent before it is recorded.
        if step.creates() {
            progress.set_pending::<K>(&expected);
        }
        progress.set(Verdict::progressing(
            "Creating",
            format!(
                "creating an entry in {} {} ({})",
                K::TABLE,
                target.key.table,
                target.location
            ),
        ));
        tables.leave(&target.key, &who);
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    if step.writes() {
        let turn = match tables.turn(&target.key, &who) {
            Turn::Granted(turn) => turn,
            Turn::Wait { .. } => {
                progress.set(Verdict::progressing(
                    "Queued",
                    format!(
                        "waiting for its turn to write to {} {} (natop writes one entry at a time per table)",
                        K::TABLE,
                        target.key.table
                    ),
                ));
                return Ok(Action::requeue(WAITING));
            }
        };
        let fresh = snapshot(ctx, &target, WRITE_MAX_AGE).await?;
        if let Some(busy) = fresh.busy_entry() {
            drop(turn);
            progress.set(Verdict::progressing(
                "TableBusy",
                format!(
                    "waiting until no entry of {} {} is Pending (the cloud refuses writes until then)",
                    K::TABLE,
                    target.key.table
                ),
            ));
            tracing::debug!(busy = busy.id(), "table busy");
            return Ok(Action::requeue(tables.poll_delay(&target.key)));
        }
        step = decide(entry, progress, &target.key.table, &desired, &fresh);
        if let (Step::Create { .. } | Step::Replay, Some(id)) =
            (&step, known_id(entry, progress, &target.key.table))
            && confirm_missing::<K>(ctx, &target, &id).await?.is_some()
        {
            // The listing missed an entry that exists: never buy a second one.
            turn.done();
            progress.set(Verdict::progressing(
                "Rechecking",
                format!(
                    "entry {id} was missing from a listing of {} {} but exists: reading the table again",
                    K::TABLE,
                    target.key.table
                ),
            ));
            return Ok(Action::requeue(tables.poll_delay(&target.key)));
        }
        if step.creates() && !recorded {
            // The fresh read asks for a create the status does not record yet.
            turn.done();
            progress.set_pending::<K>(&expected);
            progress.set(Verdict::progressing(
                "Creating",
                format!("creating an entry in {} {}", K::TABLE, target.key.table),
            ));
            return Ok(Action::requeue(Duration::from_millis(200)));
        }
        if step.writes() {
            let result = write(entry, ctx, &target, &desired, &fresh, step, progress).await;
            turn.wrote();
            return result;
        }
        turn.done();
    } else {
        tables.leave(&target.key, &who);
    }
    settle(entry, ctx, &target, step, progress)
}

/// A step that writes nothing.
fn settle<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    step: Step,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let object = key(entry);
    let drift_interval = reconcile::drift_interval(entry, &ctx.config);
    let id = progress.id.clone().unwrap_or_default();
    match step {
        Step::InSync => {
            ctx.pacing.settled(&object);
            progress.set(if entry.common().management == ManagementPolicy::Observe {
                Verdict::ready(
                    "Observed",
                    format!("entry {id} matches the spec (observed, not managed)"),
                )
            } else {
                Verdict::ready(
                    "Available",
                    format!("entry {id} is available and matches the spec"),
                )
            });
            Ok(Action::requeue(drift_interval))
        }
        Step::Busy(message) => {
            progress.set(Verdict::progressing("Pending", message));
            Ok(Action::requeue(K::tables(ctx).poll_delay(&target.key)))
        }
        Step::Missing(message) => {
            progress.cloud_status = None;
            progress.set(Verdict::stalled("NotFound", message));
            Ok(Action::requeue(drift_interval))
        }
        Step::Drifted(message) => {
            progress.set(Verdict::stalled(
                "Drifted",
                format!("observed, not managed: {message}"),
            ));
            Ok(Action::requeue(drift_interval))
        }
        // Writes are handled by `write`.
        Step::Create { .. } | Step::Claim { .. } | Step::Replay | Step::Modify { .. } => {
            Ok(Action::requeue(Duration::from_secs(1)))
        }
    }
}

/// The ClientToken of creating `desired` for `entry`: the object and the
/// natural key (and the id of an entry it replaces), not the other fields,
/// so that a create replayed after a restart with an edited spec still
/// proves the entry is this object's.
fn token<K: EntryKind>(entry: &K, desired: &K::Desired, earlier: Option<&str>) -> String {
    client_token(
        &entry.uid().unwrap_or_default(),
        &(K::KIND, K::natural_key(desired), earlier),
    )
}

/// Whether a failed create says this object's token was used before with
/// other parameters: the entry holding the key is this object's.
fn token_was_ours(error: &CloudError) -> bool {
    error.code() == Some("IdempotentParameterMismatch")
}

async fn write<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    desired: &K::Desired,
    snap: &Snapshot<K::Row>,
    step: Step,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let table = &target.key.table;
    let region = &target.key.region;
    let client = &target.client;
    let poll = || Action::requeue(K::tables(ctx).poll_delay(&target.key));
    match step {
        Step::Create { earlier } => {
            let token = token(entry, desired, earlier.as_deref());
            let id = K::create(client, region, table, desired, token).await?;
            progress.identified(table, &id);
            progress.ips = Some(K::desired_ips(desired));
            progress.cloud_status = Some("Pending".into());
            let (reason, note) = match earlier {
                Some(old) => (
                    "Recreated",
                    format!(
                        "entry {old} was gone from {} {table}; created {id}",
                        K::TABLE
                    ),
                ),
                None => (
                    "Created",
                    format!("created entry {id} in {} {table}", K::TABLE),
                ),
            };
            event(
                ctx,
                entry,
                EventType::Normal,
                reason,
                "Create",
                note.clone(),
            )
            .await;
            progress.set(Verdict::progressing("Creating", note));
            Ok(poll())
        }
        Step::Claim { candidate } => {
            // The key is taken, so this create cannot make a new entry: the
            // cloud answers with the entry's id when this object created it
            // (same token), and refuses otherwise.
            let earlier = progress.id.clone();
            let token = token(entry, desired, earlier.as_deref());
            let claimed = match K::create(client, region, table, desired, token).await {
                Ok(id) => id,
                Err(e) if token_was_ours(&e) => candidate.clone(),
                Err(e) => return Err(e.into()),
            };
            if claimed != candidate {
                warn!(%claimed, %candidate, "claimed an entry other than the one holding the key");
            }
            if let Some(row) = snap.get(&claimed) {
                progress.record::<K>(table, row);
            } else {
                progress.identified(table, &claimed);
            }
            let note = format!(
                "entry {claimed} in {} {table} was created for this object earlier: adopted it",
                K::TABLE
            );
            event(
                ctx,
                entry,
                EventType::Normal,
                "Adopted",
                "Create",
                note.clone(),
            )
            .await;
            progress.set(Verdict::progressing("Adopted", note));
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Step::Replay => {
            let Some(pending) = progress.pending::<K>() else {
                return Ok(Action::requeue(Duration::from_millis(200)));
            };
            let old = K::natural_key(&pending.entry);
            match replay(entry, target, &pending, snap).await? {
                Replayed::Made(id) => {
                    match snap.get(&id) {
                        Some(row) => progress.record::<K>(table, row),
                        None => progress.identified(table, &id),
                    }
                    let note = format!(
                        "entry {id} ({old}) in {} {table} was created for this object before \
                         its answer was recorded: adopted it, to bring it to the spec",
                        K::TABLE
                    );
                    event(
                        ctx,
                        entry,
                        EventType::Normal,
                        "Adopted",
                        "Create",
                        note.clone(),
                    )
                    .await;
                    progress.set(Verdict::progressing("Adopted", note));
                    Ok(Action::requeue(Duration::from_millis(200)))
                }
                Replayed::NotMade(code) => {
                    // The cloud never made that create: nothing of it to find.
                    progress.creating = None;
                    progress.set(Verdict::progressing(
                        "Creating",
                        format!(
                            "an earlier create ({old}) was never made (a replay of it is \
                             refused: {code}): creating the entry the spec asks for"
                        ),
                    ));
                    Ok(Action::requeue(Duration::from_millis(200)))
                }
                Replayed::Unlisted => {
                    K::tables(ctx).invalidate(&target.key);
                    progress.set(Verdict::progressing(
                        "Rechecking",
                        format!(
                            "an earlier create ({old}) made an entry in {} {table} that is not \
                             listed yet: reading the table again",
                            K::TABLE
                        ),
                    ));
                    Ok(poll())
                }
            }
        }
        Step::Modify { id, drift } => {
            K::modify(client, region, table, &id, desired).await?;
            progress.cloud_status = Some("Pending".into());
            progress.ips = Some(K::desired_ips(desired));
            let was_ready = entry
                .meta()
                .generation
                .is_some_and(|g| progress_ready_for(entry, g));
            let what = drift.join("; ");
            let (reason, note) = if was_ready {
                (
                    "DriftCorrected",
                    format!("the cloud differed from the spec ({what}); modifying entry {id}"),
                )
            } else {
                ("Updated", format!("modifying entry {id}: {what}"))
            };
            event(
                ctx,
                entry,
                EventType::Normal,
                reason,
                "Update",
                note.clone(),
            )
            .await;
            progress.set(Verdict::progressing(reason, note));
            Ok(poll())
        }
        other => settle(entry, ctx, target, other, progress),
    }
}

/// What a replay of the create `status.creating` records says.
enum Replayed {
    /// It made entry `id` (now, or when it was first sent).
    Made(String),
    /// The cloud refuses it for good (the code): that create never made
    /// anything, so nothing of it exists.
    NotMade(String),
    /// The token is the object's but the parameters differ (natop's request
    /// changed shape) and no listed entry holds the recorded key yet.
    Unlisted,
}

/// Replay `pending` exactly: the same ClientToken and parameters. The cloud
/// answers with the entry it made under that token, or makes it now (when the
/// first try never arrived), or refuses for good, which proves the token never
/// made anything. The caller holds the table's turn.
async fn replay<K: EntryKind>(
    entry: &K,
    target: &Target<K>,
    pending: &PendingCreate<K::Desired>,
    snap: &Snapshot<K::Row>,
) -> Result<Replayed, ReconcileError> {
    let token = token(entry, &pending.entry, pending.replaces.as_deref());
    let result = K::create(
        &target.client,
        &target.key.region,
        &target.key.table,
        &pending.entry,
        token,
    )
    .await;
    Ok(match result {
        Ok(id) => Replayed::Made(id),
        Err(e) if token_was_ours(&e) => {
            match snap.rows.iter().find(|r| {
                K::has_key(&pending.entry, r) && !r.status().eq_ignore_ascii_case("Deleting")
            }) {
                Some(row) => Replayed::Made(row.id().to_string()),
                None => Replayed::Unlisted,
            }
        }
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => Replayed::NotMade(e.code().unwrap_or("refused").to_string()),
    })
}

/// Whether the object was Ready for generation `generation`.
fn progress_ready_for<K: EntryKind>(entry: &K, generation: i64) -> bool {
    let status = serde_json::to_value(entry)
        .ok()
        .and_then(|v| v.get("status").cloned())
        .unwrap_or(Value::Null);
    status.get("observedGeneration").and_then(Value::as_i64) == Some(generation)
        && status
            .get("conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
}

/// Deletion: orphan, or delete the entry, wait until gone, release.
async fn cleanup<K: EntryKind>(
    entry: &K,
    api: &Api<K>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let object = key(entry);
    let who = writer(entry);
    let mut progress = Progress::of(entry);
    match cleanup_step(entry, ctx, &mut progress).await {
        Ok(None) => {
            ctx.pacing.settled(&object);
            K::tables(ctx).forget(&who);
            reconcile::remove_finalizer(api, entry).await?;
            Ok(Action::await_change())
        }
        Ok(Some(action)) => {
            write_status(api, entry, &progress).await?;
            Ok(action)
        }
        Err(e) => {
            if e.is_cancelled() {
                return Ok(Action::await_change());
            }
            progress.set(Verdict::progressing(
                &e.reason(),
                format!("deleting: {}", e.stable_message()),
            ));
            write_status(api, entry, &progress).await?;
            if e.is_retryable() {
                Err(e)
            } else {
                Ok(Action::requeue(ctx.pacing.backoff(&object)))
            }
        }
    }
}

/// `None` when the object may go; otherwise when to look again.
async fn cleanup_step<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    let common = entry.common();
    let id = progress.id.clone();
    if common.deletion == DeletionPolicy::Orphan || common.management == ManagementPolicy::Observe {
        let shown = id.unwrap_or_else(|| "(none)".into());
        event(
            ctx,
            entry,
            EventType::Normal,
            "Orphaned",
            "Delete",
            format!("left entry {shown} in the cloud"),
        )
        .await;
        return Ok(None);
    }
    let gone = |why: String| async move {
        event(ctx, entry, EventType::Normal, "Deleted", "Delete", why).await;
        Ok(None)
    };
    if progress.table.is_none() && id.is_none() {
        // natop records the table before it creates an entry in it.
        return gone("no entry was created".into()).await;
    }
    let target = match recorded_target(entry, ctx, progress).await? {
        Ok(target) => target,
        Err(verdict) => {
            progress.set(verdict);
            return Ok(Some(Action::requeue(WAITING)));
        }
    };
    let table = target.key.table.clone();
    let snap = match snapshot(ctx, &target, WRITE_MAX_AGE).await {
        Ok(snap) => snap,
        Err(e) if e.is_not_found() => {
            // The table is gone; the entry went with it only if its gateway did.
            if let Some(gateway) = &target.gateway_id
                && !gateway_gone(&target.client, &target.key.region, gateway).await?
            {
                progress.set(Verdict::progressing(
                    "TableNotFound",
                    format!(
                        "{} {table} was not found, but its gateway {gateway} still exists: \
                         looking again before concluding anything",
                        K::TABLE
                    ),
                ));
                return Ok(Some(Action::requeue(WAITING)));
            }
            return gone(format!(
                "entry {} went with {} {table} and its gateway",
                id.unwrap_or_default(),
                K::TABLE
            ))
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let row = match progress.id.as_deref().and_then(|id| snap.get(id)) {
        Some(row) => Some(row.clone()),
        // No id recorded (a crash right after the create): the entry holding
        // the key is ours when a replayed create says so.
        None if progress.id.is_none() => match pending_row(entry, ctx, &target, progress).await? {
            PendingRow::Found(row) => Some(row),
            PendingRow::Later(action) => {
                progress.set(Verdict::progressing(
                    "Queued",
                    format!("waiting for its turn on {} {table}", K::TABLE),
                ));
                return Ok(Some(action));
            }
            PendingRow::Nothing => {
                let desired = target.desired.as_ref().ok();
                match desired
                    .and_then(|d| snap.rows.iter().find(|r| K::has_key(d, r)).map(|r| (d, r)))
                {
                    Some((desired, candidate)) => {
                        let candidate = candidate.clone();
                        match claim(entry, ctx, &target, desired, &candidate, None).await? {
                            Claimed::Ours => Some(candidate),
                            Claimed::NotOurs => None,
                            Claimed::Later(action) => {
                                progress.set(Verdict::progressing(
                                    "Queued",
                                    format!("waiting for its turn on {} {table}", K::TABLE),
                                ));
                                return Ok(Some(action));
                            }
                        }
                    }
                    None => None,
                }
            }
        },
        None => None,
    };
    let row = match (row, progress.id.clone()) {
        (Some(row), _) => row,
        // Missing from the listing: only a read of that one entry proves it gone.
        (None, Some(id)) => match confirm_missing::<K>(ctx, &target, &id).await? {
            Some(row) => row,
            None => match pending_row(entry, ctx, &target, progress).await? {
                PendingRow::Found(row) => row,
                PendingRow::Later(action) => {
                    progress.set(Verdict::progressing(
                        "Queued",
                        format!("waiting for its turn on {} {table}", K::TABLE),
                    ));
                    return Ok(Some(action));
                }
                PendingRow::Nothing => {
                    // The recorded entry is gone. A re-create whose status write
                    // was lost may hold the key: it is this object's when a
                    // replay of that create (its token names the replaced id)
                    // says so.
                    let desired = match target.desired.clone() {
                        Ok(desired) => Some(desired),
                        Err(_) => followed_desired(entry, ctx).await?,
                    };
                    let holder = desired.and_then(|desired| {
                        let row = snap.rows.iter().find(|r| K::has_key(&desired, r))?.clone();
                        Some((desired, row))
                    });
                    let replacement = match holder {
                        Some((desired, candidate)) => {
                            match claim(entry, ctx, &target, &desired, &candidate, Some(&id))
                                .await?
                            {
                                Claimed::Ours => Some(candidate),
                                Claimed::NotOurs => None,
                                Claimed::Later(action) => {
                                    progress.set(Verdict::progressing(
                                        "Queued",
                                        format!("waiting for its turn on {} {table}", K::TABLE),
                                    ));
                                    return Ok(Some(action));
                                }
                            }
                        }
                        None => None,
                    };
                    match replacement {
                        Some(row) => row,
                        None => {
                            return gone(format!("entry {id} is gone from {} {table}", K::TABLE))
                                .await;
                        }
                    }
                }
            },
        },
        (None, None) => {
            return gone(format!("the entry is gone from {} {table}", K::TABLE)).await;
        }
    };
    progress.record::<K>(&table, &row);
    if row.status().eq_ignore_ascii_case("Deleting") {
        progress.set(Verdict::progressing(
            "Deleting",
            format!("entry {} is being deleted", row.id()),
        ));
        return Ok(Some(Action::requeue(
            K::tables(ctx).poll_delay(&target.key),
        )));
    }
    let tables = K::tables(ctx);
    let who = writer(entry);
    let turn = match tables.turn(&target.key, &who) {
        Turn::Granted(turn) => turn,
        Turn::Wait { .. } => {
            progress.set(Verdict::progressing(
                "Queued",
                format!(
                    "waiting for its turn to delete entry {} from {} {table}",
                    row.id(),
                    K::TABLE
                ),
            ));
            return Ok(Some(Action::requeue(WAITING)));
        }
    };
    let fresh = snapshot(ctx, &target, WRITE_MAX_AGE).await?;
    if fresh.busy_entry().is_some() {
        drop(turn);
        progress.set(Verdict::progressing(
            "TableBusy",
            format!(
                "waiting until no entry of {} {table} is Pending before deleting entry {}",
                K::TABLE,
                row.id()
            ),
        ));
        return Ok(Some(Action::requeue(tables.poll_delay(&target.key))));
    }
    if fresh.get(row.id()).is_none()
        && confirm_missing::<K>(ctx, &target, row.id())
            .await?
            .is_none()
    {
        turn.done();
        return gone(format!("entry {} is gone", row.id())).await;
    }
    let result = K::delete(&target.client, &target.key.region, &table, row.id()).await;
    turn.wrote();
    match result {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {
            return gone(format!("entry {} is gone", row.id())).await;
        }
        Err(e) => return Err(e.into()),
    }
    event(
        ctx,
        entry,
        EventType::Normal,
        "Deleting",
        "Delete",
        format!("deleting entry {} from {} {table}", row.id(), K::TABLE),
    )
    .await;
    progress.cloud_status = Some("Deleting".into());
    progress.set(Verdict::progressing(
        "Deleting",
        format!("entry {} is being deleted", row.id()),
    ));
    Ok(Some(Action::requeue(tables.poll_delay(&target.key))))
}

/// Where a deleting entry lives: the table and place it recorded, whatever
/// its gateway object (which may be gone, orphaned or observed) says now.
/// `Err` says why natop cannot reach it yet; the finalizer stays.
async fn recorded_target<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    progress: &Progress,
) -> Result<Result<Target<K>, Verdict>, ReconcileError> {
    let (Some(at), Some(table)) = (&progress.location, &progress.table) else {
        // Recorded by a natop that did not record places: only the object's
        // references can say where the entry is.
        return Ok(match target(entry, ctx, true).await? {
            Ok(mut target) => {
                if let Some(table) = &progress.table {
                    table.clone_into(&mut target.key.table);
                }
                Ok(target)
            }
            Err(NoTarget::Wait(verdict) | NoTarget::Stall(verdict)) => Err(Verdict::stalled(
                location::LOCATION_CHANGED,
                format!(
                    "not deleted: {} has no recorded place (it was made by an older natop) \
                     and its references cannot be followed now ({}): restore them, or check \
                     the cloud and set spec.deletionPolicy Orphan",
                    describe_entry(progress),
                    verdict_message(&verdict)
                ),
            )),
        });
    };
    let reached = match reach::<K>(
        ctx,
        &at.provider_config,
        Some(&at.region),
        table.clone(),
        progress.gateway_id.clone(),
    )
    .await?
    {
        Ok(reached) => reached,
        Err(NoTarget::Wait(verdict) | NoTarget::Stall(verdict)) => {
            return Ok(Err(Verdict::progressing(
                verdict_reason(&verdict),
                format!("not deleted yet: {}", verdict_message(&verdict)),
            )));
        }
    };
    let (key, client, here, gateway_id) = reached;
    if let Err(message) = location::check(Some(at), &here, &describe_entry(progress)) {
        return Ok(Err(Verdict::stalled(
            location::LOCATION_CHANGED,
            format!("not deleted: {message}"),
        )));
    }
    // The natural key only matters when no id was recorded.
    let desired = if progress.id.is_none() {
        match target(entry, ctx, true).await? {
            Ok(target) => target.desired,
            Err(_) => Err("the references cannot be followed".to_string()),
        }
    } else {
        Err("not needed".to_string())
    };
    Ok(Ok(Target {
        key,
        client,
        location: here,
        gateway_id,
        desired,
    }))
}

/// The desired entry, following the object's references now, if they can be.
async fn followed_desired<K: EntryKind>(
    entry: &K,
    ctx: &Context,
) -> Result<Option<K::Desired>, ReconcileError> {
    Ok(match target(entry, ctx, true).await? {
        Ok(target) => target.desired.ok(),
        Err(_) => None,
    })
}

fn verdict_reason(verdict: &Verdict) -> &str {
    match verdict {
        Verdict::Ready { reason, .. }
        | Verdict::Progressing { reason, .. }
        | Verdict::Stalled { reason, .. } => reason,
    }
}

fn verdict_message(verdict: &Verdict) -> &str {
    match verdict {
        Verdict::Ready { message, .. }
        | Verdict::Progressing { message, .. }
        | Verdict::Stalled { message, .. } => message,
    }
}

/// What a replay of the recorded create found, during deletion.
enum PendingRow<R> {
    /// The entry it made.
    Found(R),
    /// No create is recorded, or the recorded one made nothing that exists.
    Nothing,
    /// Look again then.
    Later(Action),
}

/// The entry the create `status.creating` records made, if it exists: the
/// object's entry whatever its spec says now. A replay that makes the entry
/// only now (the first try never arrived) makes one that deletion then
/// removes: natop prefers that to leaving one behind.
async fn pending_row<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    progress: &mut Progress,
) -> Result<PendingRow<K::Row>, ReconcileError> {
    let Some(pending) = progress.pending::<K>() else {
        return Ok(PendingRow::Nothing);
    };
    let tables = K::tables(ctx);
    let poll = || PendingRow::Later(Action::requeue(tables.poll_delay(&target.key)));
    let Turn::Granted(turn) = tables.turn(&target.key, &writer(entry)) else {
        return Ok(PendingRow::Later(Action::requeue(WAITING)));
    };
    let fresh = snapshot(ctx, target, WRITE_MAX_AGE).await?;
    if fresh.busy_entry().is_some() {
        drop(turn);
        return Ok(poll());
    }
    let replayed = replay(entry, target, &pending, &fresh).await;
    turn.wrote();
    let id = match replayed? {
        Replayed::Made(id) => id,
        Replayed::NotMade(_) => {
            progress.creating = None;
            return Ok(PendingRow::Nothing);
        }
        Replayed::Unlisted => {
            tables.invalidate(&target.key);
            return Ok(poll());
        }
    };
    let row = match fresh.get(&id) {
        Some(row) => Some(row.clone()),
        None => confirm_missing::<K>(ctx, target, &id).await?,
    };
    Ok(match row {
        Some(row) => PendingRow::Found(row),
        None => {
            progress.creating = None;
            PendingRow::Nothing
        }
    })
}

enum Claimed {
    Ours,
    NotOurs,
    Later(Action),
}

/// Replay the create for `candidate` (which holds the key, so nothing new can
/// be created) to learn whether it is this object's: the create with no
/// earlier entry, or (`earlier`) the re-create that replaced that one.
async fn claim<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    desired: &K::Desired,
    candidate: &K::Row,
    earlier: Option<&str>,
) -> Result<Claimed, ReconcileError> {
    let tables = K::tables(ctx);
    let who = writer(entry);
    let Turn::Granted(turn) = tables.turn(&target.key, &who) else {
        return Ok(Claimed::Later(Action::requeue(WAITING)));
    };
    let fresh = snapshot(ctx, target, WRITE_MAX_AGE).await?;
    if fresh.busy_entry().is_some() {
        drop(turn);
        return Ok(Claimed::Later(Action::requeue(
            tables.poll_delay(&target.key),
        )));
    }
    let token = token(entry, desired, earlier);
    let result = K::create(
        &target.client,
        &target.key.region,
        &target.key.table,
        desired,
        token,
    )
    .await;
    turn.wrote();
    match result {
        Ok(id) if id == candidate.id() => Ok(Claimed::Ours),
        Ok(_) => Ok(Claimed::NotOurs),
        Err(e) if token_was_ours(&e) => Ok(Claimed::Ours),
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(_) => Ok(Claimed::NotOurs),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::api::forward_entry::ForwardEntry;
    use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;

    const TABLE: &str = "ftb-1";

    fn entry(port: &str) -> ForwardEntry {
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "ForwardEntry",
            "metadata": {"name": "web", "namespace": "team", "uid": "uid-1"},
            "spec": {
                "natGatewayRef": {"name": "gw"},
                "externalIp": "47.1.2.3",
                "externalPort": port,
                "internalIp": "192.168.0.10",
                "internalPort": "8080",
                "ipProtocol": "TCP",
            },
        }))
        .unwrap()
    }

    fn row(id: &str, port: &str, status: &str) -> ForwardTableEntry {
        ForwardTableEntry {
            external_ip: "47.1.2.3".into(),
            external_port: Some(port.into()),
            forward_entry_id: id.into(),
            forward_table_id: TABLE.into(),
            internal_ip: "192.168.0.10".into(),
            internal_port: Some("8080".into()),
            ip_protocol: "TCP".into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn snapshot(rows: Vec<ForwardTableEntry>) -> Snapshot<ForwardTableEntry> {
        Snapshot {
            rows,
            fetched: Instant::now(),
            pages: 1,
        }
    }

    /// The progress of an object with `id` recorded and a create of `port`
    /// (replacing `replaces`) in flight.
    fn progress(id: Option<&str>, creating: Option<(&str, Option<&str>)>) -> Progress {
        let mut progress = Progress {
            id: id.map(String::from),
            table: Some(TABLE.into()),
            ..Default::default()
        };
        if let Some((port, replaces)) = creating {
            let desired = entry(port).desired(&[]).unwrap();
            progress.set_pending::<ForwardEntry>(&PendingCreate {
                entry: desired,
                replaces: replaces.map(String::from),
            });
        }
        progress
    }

    fn step(spec_port: &str, progress: &Progress, rows: Vec<ForwardTableEntry>) -> String {
        let object = entry(spec_port);
        let desired = object.desired(&[]).unwrap();
        let step = decide(&object, progress, TABLE, &desired, &snapshot(rows));
        format!("{step:?}")
    }

    #[test]
    fn a_create_in_flight_for_another_spec_is_replayed_before_anything_else() {
        for (name, progress, spec_port, rows, expected) in [
            (
                "nothing recorded, nothing listed: create",
                progress(None, None),
                "80",
                vec![],
                "Create { earlier: None }",
            ),
            (
                "the create of this spec in flight, key free: create (same token)",
                progress(None, Some(("80", None))),
                "80",
                vec![],
                "Create { earlier: None }",
            ),
            (
                "the create of this spec in flight, key held: claim",
                progress(None, Some(("80", None))),
                "80",
                vec![row("fwd-1", "80", "Available")],
                "Claim { candidate: \"fwd-1\" }",
            ),
            (
                "port edited after a create of 80 went out, 80 not listed: replay it",
                progress(None, Some(("80", None))),
                "81",
                vec![],
                "Replay",
            ),
            (
                "port edited after a create of 80 went out, 80 listed: replay it",
                progress(None, Some(("80", None))),
                "81",
                vec![row("fwd-1", "80", "Available")],
                "Replay",
            ),
            (
                "port edited, and the new key is held: the recorded create first",
                progress(None, Some(("80", None))),
                "81",
                vec![row("fwd-2", "81", "Available")],
                "Replay",
            ),
            (
                "a re-create replacing another id is in flight: replay it",
                progress(Some("fwd-0"), Some(("80", Some("fwd-9")))),
                "80",
                vec![],
                "Replay",
            ),
            (
                "the re-create of this spec replacing the recorded id: create",
                progress(Some("fwd-0"), Some(("80", Some("fwd-0")))),
                "80",
                vec![],
                "Create { earlier: Some(\"fwd-0\") }",
            ),
            (
                "the recorded id is listed: a stale record changes nothing",
                progress(Some("fwd-1"), Some(("80", None))),
                "81",
                vec![row("fwd-1", "80", "Available")],
                "Modify",
            ),
        ] {
            let got = step(spec_port, &progress, rows);
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn the_record_survives_the_status_round_trip_and_clears_once_identified() {
        let mut progress = progress(None, Some(("80", None)));
        let pending = progress.pending::<ForwardEntry>().unwrap();
        assert_eq!(pending.entry.external_port, "80");
        assert_eq!(
            expected_create(&entry("80").desired(&[]).unwrap(), &progress),
            pending
        );
        // As the API server stores it: the CRD's schema names these fields.
        let stored = progress.creating.clone().unwrap();
        assert_eq!(
            stored,
            json!({"entry": {
                "externalIp": "47.1.2.3", "externalPort": "80", "internalIp": "192.168.0.10",
                "internalPort": "8080", "ipProtocol": "TCP", "portBreak": false,
            }})
        );
        let typed: crate::api::forward_entry::ForwardEntryStatus =
            serde_json::from_value(json!({"creating": stored})).unwrap();
        assert_eq!(typed.creating, Some(pending));
        progress.identified(TABLE, "fwd-1");
        assert_eq!(progress.creating, None);
        assert_eq!(progress.id.as_deref(), Some("fwd-1"));
    }
}
