//! The ForwardEntry (DNAT) and SnatEntry controllers: one reconcile for both
//! kinds, over the [`EntryKind`] each implements, run by the engine.
//!
//! An entry resolves its table (from its NatGateway object once that is Ready,
//! or given; [`target`]), reads the table's shared snapshot (see [`tables`]),
//! finds its cloud entry by id (or, when it has none yet, by natural key) and
//! decides ([`decide`], pure): in sync, wait, create, modify or delete
//! ([`apply`], [`cleanup`]). Every write waits for the table's turn and for a
//! snapshot in which nothing is busy.

pub mod apply;
pub mod cleanup;
pub mod decide;
pub mod forward;
pub mod packed;
pub mod rechecks;
pub mod snat;
pub mod tables;
pub mod target;

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::BoxStream;
use k8s_openapi::NamespaceResourceScope;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::warn;

use super::Context;
use super::engine::{
    Action, CommonStatus, Draft, Hot, Managed, ManagedKind, Shelf, changes_of, referrers,
    watched_in,
};
use super::reconcile::ReconcileError;
use crate::api::forward_entry::RequestedForwardEntry;
use crate::api::snat_entry::RequestedSnatEntry;
use crate::api::{
    BandwidthPackage, CloudLocation, DeletionPolicy, ForwardEntryStatus, ManagementPolicy,
    NatGateway, PendingCreate, SnatEntryStatus,
};
use crate::cloud::CloudError;
use crate::cloud::alibaba::AlibabaClient;
use tables::{ObjectName, Row, Tables};

/// How old a snapshot may be when a delete is decided on it.
const WRITE_MAX_AGE: Duration = Duration::from_secs(2);
/// How old the last whole read of a table may be when a create or modify is
/// decided on it. Every entry natop wrote since, and every entry that was
/// busy, has been read again by id after that write (see
/// [`tables::Tables::snapshot`]); what this age leaves unseen is a change
/// made outside natop since the whole read, which the cloud itself refuses to
/// build on (a key already taken, a table busy with another entry) and the
/// next whole read shows.
const CREATE_MAX_AGE: Duration = Duration::from_secs(30);
/// How long a new entry that is still Pending may go without its id in the
/// status: one that settles sooner goes from `Creating` to `Ready` in one
/// status write; a slower one shows `Pending` with its id after this.
const UNRECORDED_HOLD: Duration = Duration::from_secs(10);
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
    /// What an entry id of the kind starts with (`fwd-`, `snat-`).
    const ID_PREFIXES: &'static [&'static str];
    /// The cloud row.
    type Row: Row + Debug;
    /// The kind's status.
    type Status: EntryStatus<Requested = Self::Desired>;
    /// The entry as the cloud should hold it, references resolved; also what
    /// `status.creating` records of a create in flight.
    type Desired: Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync;

    /// The fields every entry shares.
    fn common(&self) -> Common<'_>;
    /// The object's status, if it has one.
    fn status(&self) -> Option<&Self::Status>;
    /// The spec's problems the CRD's schema and CEL rules cannot express (the
    /// API server enforces those), if any.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    /// The cloud action that creates an entry.
    const CREATE: &'static str;
    /// The cloud action that modifies an entry.
    const MODIFY: &'static str;
    /// The table of this kind of a Ready NatGateway.
    fn gateway_table(gateway: &NatGateway) -> Option<String>;
    /// The table of this kind of a gateway as the cloud lists it.
    fn cloud_gateway_table(
        gateway: &crate::cloud::alibaba::actions::nat_gateway::NatGateway,
    ) -> Option<String>;
    /// The desired entry, given the IPs of the referenced package; `Err` says
    /// why the reference cannot be used.
    fn desired(&self, package_ips: &[String]) -> Result<Self::Desired, String>;
    /// The natural key, readable (`47.1.2.3:80/TCP`, `vsw-…`); also the
    /// ClientToken's input.
    fn natural_key(desired: &Self::Desired) -> String;
    /// Whether `row` holds the same natural key.
    fn has_key(desired: &Self::Desired, row: &Self::Row) -> bool;
    /// How `row` differs from `desired`, field by field; empty when in sync.
    fn differences(desired: &Self::Desired, row: &Self::Row) -> Vec<Difference>;
    /// How `row` differs from `desired`, as messages say it; empty when in sync.
    fn drift(desired: &Self::Desired, row: &Self::Row) -> Vec<String> {
        Self::differences(desired, row)
            .into_iter()
            .map(|d| d.message)
            .collect()
    }
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
    /// The writers whose turn on a table of this kind has come (taken by the
    /// first controller run on the context).
    fn wakes(ctx: &Context) -> &Mutex<Option<UnboundedReceiver<ObjectName>>>;
}

/// The status fields of an entry kind, as the controller reads them.
#[derive(Debug)]
pub struct EntryFields<'a, R> {
    /// `status.id`.
    pub id: &'a Option<String>,
    /// The table id (`forwardTableId`, `snatTableId`).
    pub table: &'a Option<String>,
    /// `status.location`.
    pub location: &'a Option<CloudLocation>,
    /// `status.natGatewayId`.
    pub gateway_id: &'a Option<String>,
    /// The public IP(s) in use (`externalIp`, `snatIps`).
    pub ips: &'a Option<String>,
    /// The cloud's status of the entry.
    pub cloud_status: &'a Option<String>,
    /// `status.creating`.
    pub creating: &'a Option<Box<PendingCreate<R>>>,
}

/// The status fields of an entry kind, as the controller writes them.
#[derive(Debug)]
pub struct EntryFieldsMut<'a, R> {
    /// `status.id`.
    pub id: &'a mut Option<String>,
    /// The table id (`forwardTableId`, `snatTableId`).
    pub table: &'a mut Option<String>,
    /// `status.location`.
    pub location: &'a mut Option<CloudLocation>,
    /// `status.natGatewayId`.
    pub gateway_id: &'a mut Option<String>,
    /// The public IP(s) in use (`externalIp`, `snatIps`).
    pub ips: &'a mut Option<String>,
    /// The cloud's status of the entry.
    pub cloud_status: &'a mut Option<String>,
    /// `status.creating`.
    pub creating: &'a mut Option<Box<PendingCreate<R>>>,
}

/// One field in which a cloud entry differs from its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The spec's field (`internalPort`).
    pub field: &'static str,
    /// What the cloud holds.
    pub cloud: String,
    /// What the spec asks for.
    pub spec: String,
    /// What a condition message says of it.
    pub message: String,
}

impl Difference {
    /// `field is "cloud", the spec says "spec"`.
    pub fn new(field: &'static str, cloud: &str, spec: &str) -> Difference {
        Difference {
            field,
            cloud: cloud.to_string(),
            spec: spec.to_string(),
            message: format!("{field} is {cloud:?}, the spec says {spec:?}"),
        }
    }
}

/// An entry kind's status: the common fields, and the entry's own under the
/// names the kind gives them.
pub trait EntryStatus: CommonStatus + Clone + Default + Debug + Serialize + Send + Sync {
    /// What `status.creating` records.
    type Requested: Clone + PartialEq;
    /// The fields, to read.
    fn fields(&self) -> EntryFields<'_, Self::Requested>;
    /// The fields, to write.
    fn fields_mut(&mut self) -> EntryFieldsMut<'_, Self::Requested>;

    /// The entry's id is known: no create is in flight any more.
    fn identified(&mut self, table: &str, id: &str) {
        let fields = self.fields_mut();
        *fields.id = Some(id.to_string());
        *fields.table = Some(table.to_string());
        *fields.creating = None;
    }
}

/// Implement [`EntryStatus`] for a status type, naming its table and IP fields.
macro_rules! entry_status {
    ($($status:ty => $requested:ty, $table:ident, $ips:ident;)*) => {$(
        impl EntryStatus for $status {
            type Requested = $requested;
            fn fields(&self) -> EntryFields<'_, $requested> {
                EntryFields {
                    id: &self.id,
                    table: &self.$table,
                    location: &self.location,
                    gateway_id: &self.nat_gateway_id,
                    ips: &self.$ips,
                    cloud_status: &self.status,
                    creating: &self.creating,
                }
            }
            fn fields_mut(&mut self) -> EntryFieldsMut<'_, $requested> {
                EntryFieldsMut {
                    id: &mut self.id,
                    table: &mut self.$table,
                    location: &mut self.location,
                    gateway_id: &mut self.nat_gateway_id,
                    ips: &mut self.$ips,
                    cloud_status: &mut self.status,
                    creating: &mut self.creating,
                }
            }
        }
    )*};
}

entry_status! {
    ForwardEntryStatus => RequestedForwardEntry, forward_table_id, external_ip;
    SnatEntryStatus => RequestedSnatEntry, snat_table_id, snat_ips;
}

/// Record `row` of `table` as the object's entry.
fn record<K: EntryKind>(status: &mut K::Status, table: &str, row: &K::Row) {
    status.identified(table, row.id());
    let fields = status.fields_mut();
    *fields.ips = Some(K::ips(row)).filter(|s| !s.is_empty());
    *fields.cloud_status = Some(row.status().to_string());
}

/// The object as the table queues know it.
fn writer<K: EntryKind>(entry: &K) -> ObjectName {
    (entry.namespace().unwrap_or_default(), entry.name_any())
}

/// Every entry kind is a managed kind; the engine runs it.
impl<K: EntryKind> ManagedKind for K {
    const KIND: &'static str = <K as EntryKind>::KIND;
    type Status = <K as EntryKind>::Status;

    fn status(&self) -> Option<&Self::Status> {
        EntryKind::status(self)
    }
    fn managed(&self) -> Managed<'_> {
        let common = self.common();
        Managed {
            provider_config: common.provider,
            deletion: common.deletion,
            management: common.management,
        }
    }
    fn id_prefixes(&self) -> &'static [&'static str] {
        K::ID_PREFIXES
    }
    fn validate(&self) -> Result<(), String> {
        EntryKind::validate(self)
    }
    /// The entries of one table wait for each other's writes: the intake
    /// lets tables take turns (the table named by id, or the gateway).
    fn intake_group(&self) -> String {
        let common = self.common();
        common
            .table
            .or(common.gateway)
            .unwrap_or_default()
            .to_string()
    }
    /// An entry reaches its table through its gateway's ProviderConfig too:
    /// any change re-checks them all (it is rare).
    fn uses_provider_config(_hot: &Hot, _name: &str) -> bool {
        true
    }

    fn gateway_and_package(&self) -> (Option<&str>, Option<&str>) {
        (self.common().gateway, self.common().package)
    }

    fn watches(
        ctx: &Arc<Context>,
        shelf: &Shelf<Self>,
        scope: Option<&str>,
    ) -> Vec<BoxStream<'static, ObjectName>> {
        let (by_gateway, by_package) = (shelf.clone(), shelf.clone());
        vec![
            // A gateway becoming Ready (or changing tables) reconciles its
            // entries at once.
            changes_of(
                watched_in::<NatGateway>(ctx, scope),
                ctx.config.watcher(),
                move |gateway| {
                    let (namespace, name) =
                        (gateway.namespace().unwrap_or_default(), gateway.name_any());
                    referrers(&by_gateway, |ns, hot| {
                        ns == namespace && hot.gateway() == name
                    })
                },
            ),
            changes_of(
                watched_in::<BandwidthPackage>(ctx, scope),
                ctx.config.watcher(),
                move |package| {
                    let (namespace, name) =
                        (package.namespace().unwrap_or_default(), package.name_any());
                    referrers(&by_package, |ns, hot| {
                        ns == namespace && hot.package() == name
                    })
                },
            ),
        ]
    }

    /// The table queue says whose turn has come.
    fn take_wakes(ctx: &Context) -> Option<UnboundedReceiver<ObjectName>> {
        let taken = K::wakes(ctx)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if taken.is_none() {
            warn!(
                kind = <K as EntryKind>::KIND,
                "the table queue's wake-ups were taken by an earlier run"
            );
        }
        taken
    }

    fn wake_due(ctx: &Context, now: std::time::Instant) -> usize {
        K::tables(ctx).wake_due(now)
    }

    fn orphaned_note(&self, _ctx: &Context, draft: &Draft<Self::Status>) -> Option<String> {
        let id = draft.status.fields().id.as_deref().unwrap_or("(none)");
        Some(format!("left entry {id} in the cloud"))
    }

    fn released(&self, ctx: &Context) {
        let tables = K::tables(ctx);
        tables.forget(&writer(self));
        tables.forget_recheck(&writer(self));
        tables.forget_created(&self.uid().unwrap_or_default());
    }

    fn recheck_refused(&self, error: &ReconcileError) -> Option<Duration> {
        decide::key_taken::<K>(error).then_some(decide::KEY_TAKEN_RECHECK)
    }

    async fn apply(
        &self,
        ctx: &Context,
        draft: &mut Draft<Self::Status>,
    ) -> Result<Action, ReconcileError> {
        apply::apply(self, ctx, draft).await
    }

    async fn cleanup(
        &self,
        ctx: &Context,
        draft: &mut Draft<Self::Status>,
    ) -> Result<Option<Action>, ReconcileError> {
        cleanup::cleanup(self, ctx, draft).await
    }
}
