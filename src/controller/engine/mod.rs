//! The one copy of the reconcile shell. A managed kind ([`ManagedKind`])
//! supplies only what is its own: how to bring its cloud resource to the spec
//! ([`ManagedKind::apply`]) and how to let it go ([`ManagedKind::cleanup`]).
//! The engine does the rest, the same way for every kind:
//!
//! - the watch, with the operator's namespace and label filters, and a
//!   re-check of the kind's objects when a ProviderConfig changes;
//! - the finalizer: added before any cloud call, removed only when cleanup
//!   says the object may go;
//! - the deletion and management policies: `Orphan` and `Observe` leave the
//!   cloud alone on delete (event `Orphaned`);
//! - an error turned into a verdict (Reconciling or Stalled, with the cloud's
//!   code as the reason) and a requeue with per-kind, per-UID backoff;
//! - the status draft and its server-side-apply write, skipped when nothing
//!   changed;
//! - metrics, spans and the report of an object that does not decode.

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Context;
use super::reconcile::{self, ReconcileError, event, key};
use super::status::{Verdict, apply_status, apply_status_unchanged_since, conditions};
use crate::api::{DeletionPolicy, FINALIZER, ManagementPolicy, ProviderConfig};

/// The fields every kind's status has, which the engine fills in.
pub trait CommonStatus {
    /// The conditions as last written.
    fn conditions(&self) -> &[Condition];
    /// Set `observedGeneration` and the conditions.
    fn set_common(&mut self, generation: Option<i64>, conditions: Vec<Condition>);
}

/// Implement [`CommonStatus`] for status types with `observed_generation`
/// and `conditions` fields.
macro_rules! common_status {
    ($($status:ty),* $(,)?) => {$(
        impl CommonStatus for $status {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn set_common(&mut self, generation: Option<i64>, conditions: Vec<Condition>) {
                self.observed_generation = generation;
                self.conditions = conditions;
            }
        }
    )*};
}

common_status!(
    crate::api::NatGatewayStatus,
    crate::api::BandwidthPackageStatus,
    crate::api::ipv6_internet_bandwidth::Ipv6InternetBandwidthStatus,
);

/// What a reconcile found so far: the status to write and the verdict its
/// conditions say.
#[derive(Debug, Clone)]
pub struct Draft<S> {
    /// The status to write (`observedGeneration` and the conditions are
    /// filled in from `verdict` when it is written).
    pub status: S,
    /// The verdict.
    pub verdict: Verdict,
}

impl<S: Clone + Default> Draft<S> {
    /// A draft starting from the object's current status.
    pub fn of(current: Option<&S>) -> Draft<S> {
        Draft {
            status: current.cloned().unwrap_or_default(),
            verdict: Verdict::progressing("Reconciling", "looking at the cloud"),
        }
    }
}

/// A kind of object natop manages a cloud resource for.
pub trait ManagedKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The kind's name, for logs, metrics and events.
    const KIND: &'static str;
    /// The kind's status.
    type Status: CommonStatus + Clone + Default + Debug + Serialize + Send + Sync;

    /// The object's status, if it has one.
    fn status(&self) -> Option<&Self::Status>;
    /// The ProviderConfig the spec names.
    fn provider_config(&self) -> &str;
    /// What becomes of the cloud resource when the object is deleted.
    fn deletion_policy(&self) -> DeletionPolicy;
    /// Whether natop manages or only observes the cloud resource.
    fn management_policy(&self) -> ManagementPolicy;
    /// Where the controller registers its cache of objects of this kind.
    fn store(ctx: &Context) -> &OnceLock<Store<DeserializeGuard<Self>>>;
    /// Watches of other kinds that re-check objects of this one (the
    /// engine already watches ProviderConfigs).
    fn watches(
        controller: Controller<DeserializeGuard<Self>>,
        _ctx: &Arc<Context>,
        _store: Store<DeserializeGuard<Self>>,
    ) -> Controller<DeserializeGuard<Self>> {
        controller
    }
    /// The event note when the object goes and leaves its resource in the
    /// cloud (`Orphan`, `Observe`); `None` when there is nothing to name.
    fn orphaned_note(&self, ctx: &Context, draft: &Draft<Self::Status>) -> Option<String>;
    /// Bring the cloud resource to the spec; the draft says what was found.
    fn apply(
        &self,
        ctx: &Context,
        draft: &mut Draft<Self::Status>,
    ) -> impl Future<Output = Result<Action, ReconcileError>> + Send;
    /// Delete the cloud resource: `None` when the object may go, otherwise
    /// when to look again.
    fn cleanup(
        &self,
        ctx: &Context,
        draft: &mut Draft<Self::Status>,
    ) -> impl Future<Output = Result<Option<Action>, ReconcileError>> + Send;
}

/// Run the controller of kind `K` until `ctx.cancel` is cancelled.
pub async fn run<K: ManagedKind>(ctx: Arc<Context>) {
    let api: Api<DeserializeGuard<K>> = match ctx.config.watch_namespaces.as_slice() {
        [one] => Api::namespaced(ctx.client.clone(), one),
        _ => Api::all(ctx.client.clone()),
    };
    let configs: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, ctx.config.watcher());
    let store = controller.store();
    // Only the first run on a context registers its cache.
    let _ = K::store(&ctx).set(store.clone());
    let users = store.clone();
    let cancel = ctx.cancel.clone();
    let controller = controller
        .with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency),
        )
        // A ProviderConfig that changes re-checks every object using it.
        .watches(configs, ctx.config.watcher(), move |config| {
            let name = config.name_any();
            users
                .state()
                .into_iter()
                .filter(|o| o.0.as_ref().is_ok_and(|o| o.provider_config() == name))
                .map(|o| ObjectRef::from_obj(&*o))
                .collect::<Vec<_>>()
        });
    K::watches(controller, &ctx, store)
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy<K: ManagedKind>(
    guard: Arc<DeserializeGuard<K>>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    reconcile::on_error(K::KIND, &guard, error, &ctx)
}

async fn reconcile<K: ManagedKind>(
    guard: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let result = reconcile::measured(K::KIND, &guard, &ctx, |object| {
        reconcile_valid(object, &ctx)
    })
    .await;
    reconcile::count_retrying(K::KIND, &ctx);
    result
}

async fn reconcile_valid<K: ManagedKind>(
    object: &K,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let namespace = object.namespace().unwrap_or_default();
    let watched = &ctx.config.watch_namespaces;
    if !watched.is_empty() && !watched.contains(&namespace) {
        return Ok(Action::await_change());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    if object.meta().deletion_timestamp.is_some() {
        if !object.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        return cleanup(object, &api, ctx).await;
    }
    if reconcile::ensure_finalizer(&api, object).await? {
        return Ok(Action::await_change());
    }
    let mut draft = Draft::of(object.status());
    let outcome = object.apply(ctx, &mut draft).await;
    let action = match &outcome {
        Ok(action) => action.clone(),
        Err(e) if e.is_cancelled() => return Ok(Action::await_change()),
        Err(e) => {
            draft.verdict = error_verdict(e);
            if e.is_retryable() {
                Action::await_change()
            } else {
                reconcile::after_error(ctx, &key(object), e)
            }
        }
    };
    reconcile::note_drift(&mut draft.verdict, object, &ctx.config);
    write_status(&api, object, &draft).await?;
    match outcome {
        Err(e) if e.is_retryable() => Err(e),
        _ => Ok(action),
    }
}

/// The verdict an error of a reconcile gives: Reconciling while retrying can
/// help, Stalled otherwise; the cloud's code is the reason.
pub fn error_verdict(error: &ReconcileError) -> Verdict {
    if error.is_retryable() {
        Verdict::progressing(&error.reason(), error.stable_message())
    } else {
        Verdict::stalled(&error.reason(), error.stable_message())
    }
}

async fn cleanup<K: ManagedKind>(
    object: &K,
    api: &Api<K>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let key = key(object);
    let mut draft = Draft::of(object.status());
    let step = if object.deletion_policy() == DeletionPolicy::Orphan
        || object.management_policy() == ManagementPolicy::Observe
    {
        if let Some(note) = object.orphaned_note(ctx, &draft) {
            event(ctx, object, EventType::Normal, "Orphaned", "Delete", note).await;
        }
        Ok(None)
    } else {
        object.cleanup(ctx, &mut draft).await
    };
    match step {
        Ok(None) => {
            ctx.pacing.settled(&key);
            reconcile::remove_finalizer(api, object).await?;
            Ok(Action::await_change())
        }
        Ok(Some(action)) => {
            write_status(api, object, &draft).await?;
            Ok(action)
        }
        Err(e) => {
            if e.is_cancelled() {
                return Ok(Action::await_change());
            }
            draft.verdict =
                Verdict::progressing(&e.reason(), format!("deleting: {}", e.stable_message()));
            write_status(api, object, &draft).await?;
            if e.is_retryable() {
                Err(e)
            } else {
                Ok(Action::requeue(ctx.pacing.backoff(&key)))
            }
        }
    }
}

/// The draft's status with `observedGeneration` and the verdict's
/// conditions filled in.
fn finished<K: ManagedKind>(object: &K, draft: &Draft<K::Status>) -> K::Status {
    let mut status = draft.status.clone();
    let previous = object
        .status()
        .map(CommonStatus::conditions)
        .unwrap_or_default();
    let generation = object.meta().generation;
    status.set_common(generation, conditions(previous, generation, &draft.verdict));
    status
}

/// Write the draft (server-side apply; nothing is sent when it equals the
/// object's current status).
pub async fn write_status<K: ManagedKind>(
    api: &Api<K>,
    object: &K,
    draft: &Draft<K::Status>,
) -> Result<(), ReconcileError> {
    apply_status(api, object, &finished(object, draft)).await?;
    Ok(())
}

/// [`write_status`] only if `object` is still at the resourceVersion it was
/// read at (a Conflict otherwise): the record of a purchase about to be made.
pub async fn write_status_unchanged_since<K: ManagedKind>(
    api: &Api<K>,
    object: &K,
    draft: &Draft<K::Status>,
) -> Result<(), ReconcileError> {
    apply_status_unchanged_since(api, object, &finished(object, draft)).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
