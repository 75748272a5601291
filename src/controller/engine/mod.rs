//! The one copy of the reconcile shell. A managed kind ([`ManagedKind`])
//! supplies only what is its own: how to bring its cloud resource to the spec
//! ([`ManagedKind::apply`]) and how to let it go ([`ManagedKind::cleanup`]).
//! The engine does the rest, the same way for every kind:
//!
//! - the watch, with the operator's namespace and label filters, and a
//!   re-check of the kind's objects when a ProviderConfig changes; what the
//!   watch delivers waits in an intake until the controller has room
//!   ([`intake`]), so that a burst (a restart, a rebuilt cluster) holds up
//!   no table's next writer;
//! - the finalizer: added before any cloud call, removed only when cleanup
//!   says the object may go;
//! - the deletion and management policies: `Orphan` and `Observe` leave the
//!   cloud alone on delete (event `Orphaned`);
//! - pause: `natop.dev/paused: "true"` stops every cloud call for the object,
//!   deletion included (condition reason `Paused`);
//! - an error turned into a verdict (Reconciling or Stalled, with the cloud's
//!   code as the reason) and a requeue with per-kind, per-UID backoff;
//! - the status draft and its server-side-apply write, skipped when nothing
//!   changed;
//! - metrics, spans and the report of an object that does not decode;
//! - adoption: the `natop.dev/external-id` annotation checked and refused
//!   when another object claims the id ([`Known`]), and the ProviderConfig
//!   resolved to a client ([`provider`], [`alibaba`]).
//!
//! ## Adding a kind
//! 1. Its API type in `src/api/` (spec with `providerConfigRef`,
//!    `deletionPolicy`, `managementPolicy`; status with `id`,
//!    `observedGeneration`, `conditions`), listed in `api::crds()`, and its
//!    status added to the `common_status!` list below.
//! 2. A folder under `src/controller/` with `impl ManagedKind` (the KIND,
//!    `managed_fields!()`, its id prefixes, `apply` and `cleanup`): dereference
//!    (the engine's [`alibaba`] or [`provider`]), observe, a pure `decide` and
//!    `decide_cleanup` with table tests, and act.
//! 3. One line in `controller::run`: `engine::run::<NewKind>(ctx.clone())`.

mod compact;
mod intake;
mod references;
pub mod runner;
pub mod shelf;

pub use references::{alibaba, provider};
pub use runner::Action;
pub use shelf::{Hot, HotFields, Shelf};

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::core::DeserializeGuard;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedReceiver;

use super::entries::tables::ObjectName;
use super::ownership::Cache;
use super::reconcile::{self, ReconcileError, key, tell};
use super::status::{Verdict, apply_status, apply_status_unchanged_since, conditions, drifted};
use super::{Context, ownership};
use crate::api::{DeletionPolicy, FINALIZER, ManagementPolicy, PAUSED_ANNOTATION, ProviderConfig};

/// The fields every kind's status has, which the engine fills in.
pub trait CommonStatus {
    /// The conditions as last written.
    fn conditions(&self) -> &[Condition];
    /// The `metadata.generation` the status describes.
    fn observed_generation(&self) -> Option<i64>;
    /// The cloud resource's id, as recorded.
    fn id(&self) -> Option<&str>;
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
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn id(&self) -> Option<&str> {
                self.id.as_deref()
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
    crate::api::ForwardEntryStatus,
    crate::api::SnatEntryStatus,
);

/// [`ManagedKind::status`] and [`ManagedKind::managed`] for a kind whose
/// object has the usual `status` and whose spec has the usual
/// `providerConfigRef`, `deletionPolicy` and `managementPolicy`; used inside
/// the kind's `impl ManagedKind` block.
macro_rules! managed_fields {
    () => {
        fn status(&self) -> Option<&Self::Status> {
            self.status.as_ref()
        }
        fn managed(&self) -> $crate::controller::engine::Managed<'_> {
            $crate::controller::engine::Managed {
                provider_config: &self.spec.provider_config_ref.name,
                deletion: self.spec.deletion_policy,
                management: self.spec.management_policy,
            }
        }
    };
}
pub(crate) use managed_fields;

/// What the engine needs of every kind's spec.
#[derive(Debug, Clone, Copy)]
pub struct Managed<'a> {
    /// The ProviderConfig the spec names.
    pub provider_config: &'a str,
    /// What becomes of the cloud resource when the object is deleted.
    pub deletion: DeletionPolicy,
    /// Whether natop manages or only observes the cloud resource.
    pub management: ManagementPolicy,
}

/// What natop knows of an object's own cloud resource before it looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The id the status records.
    pub recorded: Option<String>,
    /// The id the `natop.dev/external-id` annotation names (checked to be
    /// an id of the kind, and claimed by no other object while this one
    /// records none or the same).
    pub annotated: Option<String>,
}

impl Known {
    /// The id to look for: the recorded one, else the annotation's.
    pub fn id(&self) -> Option<&str> {
        self.recorded.as_deref().or(self.annotated.as_deref())
    }

    /// The annotation's id, when the object adopts it: it records none, or
    /// the same. (One that records another id adopts nothing any more.)
    pub fn adopting(&self) -> Option<&str> {
        self.annotated
            .as_deref()
            .filter(|id| self.recorded.as_deref().is_none_or(|r| r == *id))
    }
}

/// What a reconcile found so far: what natop knows of the resource, the
/// status to write and the verdict its conditions say.
#[derive(Debug, Clone)]
pub struct Draft<S> {
    /// The recorded and the annotated id.
    pub known: Known,
    /// The status to write (`observedGeneration` and the conditions are
    /// filled in from `verdict` when it is written).
    pub status: S,
    /// The verdict.
    pub verdict: Verdict,
    /// Observed only: `Some(None)` when the cloud resource matches the spec,
    /// `Some(Some(how))` when it differs (the `Drifted` condition); `None`
    /// writes no `Drifted` condition.
    pub drift: Option<Option<String>>,
}

impl<S: CommonStatus + Clone + Default> Draft<S> {
    /// A draft starting from the object's current status.
    pub fn of(current: Option<&S>) -> Draft<S> {
        let status = current.cloned().unwrap_or_default();
        Draft {
            known: Known {
                recorded: status.id().map(String::from),
                annotated: None,
            },
            status,
            verdict: Verdict::progressing("Reconciling", "looking at the cloud"),
            drift: None,
        }
    }

    /// Observed only: `what` (`gateway ngw-…`) exists, and `difference`
    /// says how it differs from the spec, if it does. Ready either way: a
    /// difference is the `Drifted` condition, never an error.
    pub fn observed(&mut self, what: &str, difference: Option<String>) {
        self.verdict = match &difference {
            None => Verdict::in_sync(what, true),
            Some(_) => Verdict::ready(
                "Observed",
                format!("{what} exists (observed, not managed); it differs from the spec"),
            ),
        };
        self.drift = Some(difference);
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
    /// The ProviderConfig and the policies the spec names.
    fn managed(&self) -> Managed<'_>;
    /// What an id of the kind starts with, for this object (the
    /// `natop.dev/external-id` annotation must name one).
    fn id_prefixes(&self) -> &'static [&'static str];
    /// The spec's problems that the CRD's schema and CEL rules cannot
    /// express (the API server enforces those): the object is Stalled with
    /// reason `InvalidSpec` and the cloud is not called.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether a change to ProviderConfig `name` may change what the object
    /// with these [`Hot`] texts reaches (its own reference, by default).
    fn uses_provider_config(hot: &Hot, name: &str) -> bool {
        hot.provider_config() == name
    }
    /// The NatGateway and BandwidthPackage objects this one names (in its
    /// namespace), which a change of theirs is matched against ([`Hot`]).
    fn gateway_and_package(&self) -> (Option<&str>, Option<&str>) {
        (None, None)
    }
    /// The texts of the object that the cache keeps beside its encoding,
    /// for matching other objects' changes without decoding it.
    fn hot(&self) -> Hot {
        let (gateway, package) = self.gateway_and_package();
        Hot::new(HotFields {
            provider_config: self.managed().provider_config,
            gateway: gateway.unwrap_or_default(),
            package: package.unwrap_or_default(),
            id: self.status().and_then(|s| s.id()).unwrap_or_default(),
            annotated: self
                .annotations()
                .get(crate::api::EXTERNAL_ID_ANNOTATION)
                .map_or("", String::as_str),
        })
    }
    /// Watches of other kinds that re-check objects of this one (the
    /// engine already watches ProviderConfigs): each a stream of the
    /// objects (of `shelf`, the controller's cache) to reconcile.
    /// `scope` is the namespace this controller watches (`None`: every
    /// namespace); a watch of another kind must stay inside it.
    fn watches(
        _ctx: &Arc<Context>,
        _shelf: &Shelf<Self>,
        _scope: Option<&str>,
    ) -> Vec<BoxStream<'static, ObjectName>> {
        Vec::new()
    }
    /// The group the object waits in when its watch delivers it: groups
    /// take turns in the intake ([`intake`]), so that objects that wait for
    /// each other's writes (the entries of one table) hold up no other
    /// group. One group for all by default.
    fn intake_group(&self) -> String {
        String::new()
    }
    /// Objects to reconcile when something other than a watch says their
    /// turn has come (`(namespace, name)`); taken once, by the first run.
    fn take_wakes(_ctx: &Context) -> Option<UnboundedReceiver<ObjectName>> {
        None
    }
    /// Send the wake-ups of the objects whose planned look is due at `now`
    /// (through the channel [`ManagedKind::take_wakes`] gave); how many.
    /// Called every [`RECHECK_TICK`] while that channel is routed.
    fn wake_due(_ctx: &Context, _now: std::time::Instant) -> usize {
        0
    }
    /// The event note when the object goes and leaves its resource in the
    /// cloud (`Orphan`, `Observe`); `None` when there is nothing to name.
    fn orphaned_note(&self, ctx: &Context, draft: &Draft<Self::Status>) -> Option<String>;
    /// Before a managed object goes with `deletionPolicy: Orphan`: let go of
    /// the resource (natop's ownership tags come off, so that nothing takes
    /// it for natop's any more). Retried until it succeeds.
    fn orphan(
        &self,
        _ctx: &Context,
        _draft: &mut Draft<Self::Status>,
    ) -> impl Future<Output = Result<(), ReconcileError>> + Send {
        async { Ok(()) }
    }
    /// Forget what the controller holds for the object (it is stalled,
    /// waiting for something else, or gone).
    fn released(&self, _ctx: &Context) {}
    /// For a refusal that another object may lift (by deleting what holds a
    /// key), how soon to look again; `None` backs off as for any error.
    fn recheck_refused(&self, _error: &ReconcileError) -> Option<Duration> {
        None
    }
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

/// Run the controllers of kind `K` until `ctx.cancel` is cancelled: one per
/// watched namespace (a namespaced watch needs only that namespace's RBAC),
/// or one for every namespace, each with its own cache.
pub async fn run<K: ManagedKind>(ctx: Arc<Context>) {
    let scopes = scopes(&ctx.config.watch_namespaces);
    let watched: Vec<Watched<K>> = scopes
        .iter()
        .map(|scope| {
            Watched::new(
                watched_in::<K>(&ctx, scope.as_deref()),
                ctx.config.watcher(),
                usize::from(ctx.config.concurrency),
            )
        })
        .collect();
    // Only the first run on a context registers its cache.
    ctx.stores.set::<K>(Cache::new(
        watched.iter().map(|w| w.shelf.clone()).collect(),
    ));
    let (woken, router) = route_wakes::<K>(K::take_wakes(&ctx), &scopes, ctx.clone());
    let runs = watched
        .into_iter()
        .zip(&scopes)
        .zip(woken)
        .map(|((watched, scope), woken)| run_scope(watched, scope.as_deref(), woken, ctx.clone()));
    futures_util::future::join(futures_util::future::join_all(runs), router).await;
}

/// A kind's watch of one scope: its cache ([`Shelf`]), which holds the
/// objects [`strip`]ped and compactly encoded, and the intake its changes
/// wait in for the controller ([`intake`]). The watch backs off after
/// errors.
struct Watched<K: ManagedKind> {
    shelf: Shelf<K>,
    /// The watch's events.
    feed: BoxStream<'static, Result<watcher::Event<DeserializeGuard<K>>, watcher::Error>>,
    intake: Arc<intake::Intake>,
}

impl<K: ManagedKind> Watched<K> {
    fn new(api: Api<DeserializeGuard<K>>, config: watcher::Config, concurrency: usize) -> Self {
        let feed = kube::runtime::watcher(api, config)
            .default_backoff()
            .modify(strip::<DeserializeGuard<K>>)
            .boxed();
        Watched {
            shelf: Shelf::new(hot_of::<K>),
            feed,
            intake: intake::Intake::new(concurrency),
        }
    }
}

/// The [`Hot`] texts of an object of kind `K`.
fn hot_of<K: ManagedKind>(object: &K) -> Hot {
    object.hot()
}

/// The objects of kind `K` that a change to another object concerns: those
/// `map` names, for each object the watch of `api` delivers. Watch errors
/// are logged; the watch backs off and starts again by itself.
pub fn changes_of<O>(
    api: Api<DeserializeGuard<O>>,
    config: watcher::Config,
    map: impl Fn(&DeserializeGuard<O>) -> Vec<ObjectName> + Send + 'static,
) -> BoxStream<'static, ObjectName>
where
    O: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    kube::runtime::watcher(api, config)
        .default_backoff()
        .applied_objects()
        .filter_map(|changed| async move {
            changed
                .inspect_err(|error| tracing::warn!(kind = %O::kind(&()), %error, "watch failed"))
                .ok()
        })
        .flat_map(move |changed| futures_util::stream::iter(map(&changed)))
        .boxed()
}

/// One controller of kind `K`, watching `scope`.
async fn run_scope<K: ManagedKind>(
    watched: Watched<K>,
    scope: Option<&str>,
    woken: Option<Woken>,
    ctx: Arc<Context>,
) {
    let Watched {
        shelf,
        feed,
        intake,
    } = watched;
    // The kind's own changes come through the intake.
    let (hand, handed) = tokio::sync::mpsc::unbounded_channel::<ObjectName>();
    let users = shelf.clone();
    let mut asked = vec![
        named(handed),
        // A ProviderConfig that changes re-checks every object using it.
        // ProviderConfigs are cluster-scoped: every controller watches them
        // all.
        changes_of(
            Api::<DeserializeGuard<ProviderConfig>>::all(ctx.client.clone()),
            ctx.config.watcher(),
            move |config| {
                let name = config.name_any();
                referrers(&users, |_, hot| K::uses_provider_config(hot, &name))
            },
        ),
    ];
    asked.extend(K::watches(&ctx, &shelf, scope));
    asked.extend(woken);
    let counted = intake.clone();
    let reconciler = {
        let ctx = ctx.clone();
        move |object: Arc<DeserializeGuard<K>>| {
            let running =
                counted.start(&(object.namespace().unwrap_or_default(), object.name_any()));
            let ctx = ctx.clone();
            async move {
                let _running = running;
                match reconcile::<K>(object.clone(), ctx.clone()).await {
                    Ok(action) => action,
                    Err(error) => error_policy::<K>(object, &error, ctx),
                }
            }
        }
    };
    let run = runner::run(
        shelf.clone(),
        futures_util::stream::select_all(asked).boxed(),
        usize::from(ctx.config.concurrency),
        ctx.cancel.clone(),
        reconciler,
    );
    let watch = feed_intake(feed, &shelf, &intake, &ctx);
    let pump = pump_intake(&intake, hand, &ctx);
    futures_util::future::join3(run, watch, pump).await;
}

/// Drive the watch: each event goes into the cache, then each object it
/// delivers is queued in the intake, until natop stops.
async fn feed_intake<K: ManagedKind>(
    mut feed: BoxStream<'static, Result<watcher::Event<DeserializeGuard<K>>, watcher::Error>>,
    shelf: &Shelf<K>,
    intake: &intake::Intake,
    ctx: &Context,
) {
    loop {
        let next = tokio::select! {
            () = ctx.cancel.cancelled() => return,
            next = feed.next() => next,
        };
        match next {
            Some(Ok(event)) => {
                shelf.apply(&event);
                if let watcher::Event::Apply(object) | watcher::Event::InitApply(object) = event {
                    let group = object.0.as_ref().map(K::intake_group).unwrap_or_default();
                    intake.push(
                        group,
                        (object.namespace().unwrap_or_default(), object.name_any()),
                    );
                }
            }
            // The watch backs off and starts again by itself.
            Some(Err(error)) => tracing::warn!(kind = K::KIND, %error, "watch failed"),
            None => return,
        }
    }
}

/// Hand the intake's objects to the controller as it has room, until natop
/// stops.
async fn pump_intake(
    intake: &intake::Intake,
    hand: tokio::sync::mpsc::UnboundedSender<ObjectName>,
    ctx: &Context,
) {
    loop {
        for name in intake.take(std::time::Instant::now()) {
            if hand.send(name).is_err() {
                return;
            }
        }
        tokio::select! {
            () = ctx.cancel.cancelled() => return,
            () = intake.changed() => {}
        }
    }
}

/// The objects named on `names`, as a stream.
fn named(names: tokio::sync::mpsc::UnboundedReceiver<ObjectName>) -> Woken {
    futures_util::stream::unfold(names, |mut names| async move {
        let name = names.recv().await?;
        Some((name, names))
    })
    .boxed()
}

/// How often the objects due for a planned look are woken.
pub const RECHECK_TICK: Duration = Duration::from_millis(500);

/// The wake-ups of one controller.
type Woken = BoxStream<'static, ObjectName>;

/// Split a kind's wake-ups among its controllers by namespace: a stream per
/// scope, and the future that routes them (until `cancel`).
fn route_wakes<K: ManagedKind>(
    wakes: Option<UnboundedReceiver<ObjectName>>,
    scopes: &[Option<String>],
    ctx: Arc<Context>,
) -> (
    Vec<Option<Woken>>,
    futures_util::future::BoxFuture<'static, ()>,
) {
    let Some(mut wakes) = wakes else {
        return (scopes.iter().map(|_| None).collect(), Box::pin(async {}));
    };
    let (senders, receivers): (Vec<_>, Vec<_>) = scopes
        .iter()
        .map(|_| tokio::sync::mpsc::unbounded_channel::<ObjectName>())
        .unzip();
    let streams = receivers
        .into_iter()
        .map(|receiver| Some(named(receiver)))
        .collect();
    let scopes = scopes.to_vec();
    let router = async move {
        let cancel = ctx.cancel.clone();
        let mut tick = tokio::time::interval(RECHECK_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return,
                next = wakes.recv() => next,
                _ = tick.tick() => {
                    // Due looks go through `wakes`, routed like any other.
                    K::wake_due(&ctx, std::time::Instant::now());
                    continue;
                }
            };
            let Some((namespace, name)) = next else {
                return;
            };
            if let Some(sender) = scope_of(&scopes, &namespace).and_then(|i| senders.get(i)) {
                // A controller that has stopped needs no wake-up.
                let _ = sender.send((namespace, name));
            }
        }
    };
    (streams, Box::pin(router))
}

/// The scopes natop watches, a watcher (and cache) each: every listed
/// namespace once, or `None` (every namespace) when none is listed.
pub fn scopes(watch_namespaces: &[String]) -> Vec<Option<String>> {
    if watch_namespaces.is_empty() {
        return vec![None];
    }
    let mut scopes: Vec<Option<String>> = Vec::new();
    for namespace in watch_namespaces {
        if !scopes.iter().any(|s| s.as_deref() == Some(namespace)) {
            scopes.push(Some(namespace.clone()));
        }
    }
    scopes
}

/// The index of the scope that watches objects of `namespace`, if any.
pub fn scope_of(scopes: &[Option<String>], namespace: &str) -> Option<usize> {
    scopes
        .iter()
        .position(|s| s.as_deref().is_none_or(|s| s == namespace))
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
    let deleting = object.meta().deletion_timestamp.is_some();
    if deleting && !object.finalizers().iter().any(|f| f == FINALIZER) {
        object.released(ctx);
        ctx.written.forget(&object.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    if cache_behind(object, ctx) {
        // The watch brings natop's own write (and this object again) shortly.
        return Ok(Action::requeue(CACHE_BEHIND));
    }
    if let Some(verdict) = paused(object, deleting) {
        // Nothing is called until the annotation goes; the finalizer stays.
        object.released(ctx);
        ctx.pacing.settled(&key(object));
        let mut draft = Draft::of(object.status());
        draft.verdict = verdict;
        write_status(ctx, &api, object, &draft).await?;
        return Ok(Action::await_change());
    }
    if deleting {
        return cleanup(object, &api, ctx).await;
    }
    if reconcile::ensure_finalizer(&api, object).await? {
        wrote(ctx, object);
        return Ok(Action::await_change());
    }
    let mut draft = Draft::of(object.status());
    let refused = object
        .validate()
        .map_err(|message| Verdict::stalled("InvalidSpec", message))
        .and_then(|()| known(object, ctx));
    let outcome = match refused {
        Err(verdict) => {
            // Nothing changes until the object does.
            draft.verdict = verdict;
            object.released(ctx);
            ctx.pacing.settled(&key(object));
            Ok(Action::await_change())
        }
        Ok(known) => {
            draft.known = known;
            object.apply(ctx, &mut draft).await
        }
    };
    let action = match &outcome {
        // A namespace's labels may come to match the ProviderConfig's
        // selector, and natop does not watch namespaces: look again.
        Ok(_) if reconcile::not_allowed(&draft.verdict) => {
            Action::requeue(reconcile::NAMESPACE_RECHECK)
        }
        Ok(action) => *action,
        Err(e) if e.is_cancelled() => return Ok(Action::await_change()),
        Err(e) => {
            draft.verdict = error_verdict(e);
            if e.is_retryable() {
                Action::await_change()
            } else if let Some(after) = object.recheck_refused(e) {
                // Stalled, but looked at again: what holds the key may go.
                ctx.pacing.settled(&key(object));
                Action::requeue(after)
            } else {
                reconcile::after_error(ctx, &key(object), e)
            }
        }
    };
    reconcile::note_drift(&mut draft.verdict, object, &ctx.config);
    write_status(ctx, &api, object, &draft).await?;
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
    // An annotation that does not hold (any more) adopts nothing to delete.
    if let Ok(known) = known(object, ctx) {
        draft.known = known;
    }
    let managed = object.managed();
    let step = if managed.deletion == DeletionPolicy::Orphan
        || managed.management == ManagementPolicy::Observe
    {
        let let_go = if managed.deletion == DeletionPolicy::Orphan
            && managed.management == ManagementPolicy::Manage
        {
            object.orphan(ctx, &mut draft).await
        } else {
            Ok(())
        };
        match let_go {
            Ok(()) => {
                if let Some(note) = object.orphaned_note(ctx, &draft) {
                    tell(ctx, object, "Orphaned", "Delete", note).await;
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    } else {
        object.cleanup(ctx, &mut draft).await
    };
    match step {
        Ok(None) => {
            ctx.pacing.settled(&key);
            object.released(ctx);
            reconcile::remove_finalizer(api, object).await?;
            ctx.written.forget(&object.uid().unwrap_or_default());
            Ok(Action::await_change())
        }
        Ok(Some(action)) => {
            write_status(ctx, api, object, &draft).await?;
            Ok(action)
        }
        Err(e) => {
            if e.is_cancelled() {
                return Ok(Action::await_change());
            }
            draft.verdict =
                Verdict::progressing(&e.reason(), format!("deleting: {}", e.stable_message()));
            write_status(ctx, api, object, &draft).await?;
            if e.is_retryable() {
                Err(e)
            } else {
                Ok(Action::requeue(ctx.pacing.backoff(&key)))
            }
        }
    }
}

/// The verdict of a paused object (`natop.dev/paused: "true"`), or of one
/// whose annotation is neither `true` nor `false` (taken as paused: a typo
/// must not resume cloud calls during an incident); `None` otherwise.
pub fn paused<K: Resource>(object: &K, deleting: bool) -> Option<Verdict> {
    let value = object.meta().annotations.as_ref()?.get(PAUSED_ANNOTATION)?;
    let what = if deleting {
        "deletion waits (the finalizer stays)"
    } else {
        "natop makes no cloud call for this object"
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "false" => None,
        "true" => Some(Verdict::progressing(
            "Paused",
            format!("{PAUSED_ANNOTATION} is true: {what}; remove the annotation to resume"),
        )),
        _ => Some(Verdict::stalled(
            "Paused",
            format!(
                "{PAUSED_ANNOTATION} is {value:?}, neither true nor false: taken as paused, \
                 {what}; set it to false or remove it to resume"
            ),
        )),
    }
}

/// What natop knows of `object`'s resource: the recorded id and the
/// annotation's; `Err` is the Stalled verdict when the annotation names no id
/// of the kind, or one another object claims.
pub fn known<K: ManagedKind>(object: &K, ctx: &Context) -> Result<Known, Verdict> {
    let annotated = ownership::external_id(object.annotations(), object.id_prefixes())
        .map_err(|message| Verdict::stalled(ownership::INVALID_EXTERNAL_ID, message))?;
    let known = Known {
        recorded: object.status().and_then(|s| s.id()).map(String::from),
        annotated,
    };
    if let Some(id) = known.adopting() {
        let me = ownership::Claim::of(object, known.recorded.clone());
        if let Some(message) = ownership::other_owner(&me, id, &claims_naming::<K>(ctx, id), None) {
            return Err(Verdict::stalled(
                ownership::OWNED_BY_ANOTHER_OBJECT,
                message,
            ));
        }
    }
    Ok(known)
}

/// The claims of the objects of kind `K` the controller knows that record
/// resource `id` or name it by annotation: all [`ownership::other_owner`]
/// needs when the cloud shows no owner tag, found without copying the others.
pub fn claims_naming<K: ManagedKind>(ctx: &Context, id: &str) -> Vec<ownership::Claim> {
    ownership::claims_naming(ctx.stores.get::<K>(), id, |o: &K| {
        o.status().and_then(|s| s.id())
    })
}

/// The claims of every object of kind `K` the controller knows.
pub fn claims<K: ManagedKind>(ctx: &Context) -> Vec<ownership::Claim> {
    ownership::claims(ctx.stores.get::<K>(), |o: &K| {
        o.status().and_then(|s| s.id()).map(String::from)
    })
}

/// Whether the object was Ready for its current generation: a write now is
/// a drift correction.
pub fn was_ready<K: ManagedKind>(object: &K) -> bool {
    object.status().is_some_and(|s| {
        s.observed_generation() == object.meta().generation
            && s.conditions()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Object `namespace/name` of a managed kind `K` (another object refers to
/// it): the controllers' cached copy when `enough` says it will do as it is;
/// otherwise, or before the cache has listed, a read from the API server,
/// because the cache may lag behind the change that woke this reconcile and
/// a wait must not come from a stale copy. `None`: it does not exist, or does
/// not decode.
pub async fn read_through<K>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    enough: impl Fn(&K) -> bool,
) -> Result<Option<K>, kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug
        + Send
        + Sync
        + 'static,
{
    let cached = ctx
        .stores
        .get::<K>()
        .and_then(|cache| cache.get(namespace, name))
        .and_then(|guard| guard.0.as_ref().ok().filter(|o| enough(o)).cloned());
    if cached.is_some() {
        return Ok(cached);
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(found) => Ok(found),
        // An object that no longer decodes says nothing natop can use.
        Err(kube::Error::SerdeError(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The prefix of every annotation natop reads.
const NATOP_ANNOTATIONS: &str = "natop.dev/";

/// Drop from a watched object what natop never reads, before it is cached:
/// `managedFields`, labels (the label selector is applied by the API
/// server), owner references, and every annotation but natop's (kubectl's
/// last-applied copy, GitOps tools' tracking). Together they are often larger
/// than the rest of the object, and each map costs an allocation of its own.
/// natop's writes never send these fields (status and finalizers are written
/// by patches of their own), so nothing is lost by not caching them.
pub fn strip<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    meta.labels = None;
    meta.owner_references = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|key, _| key.starts_with(NATOP_ANNOTATIONS));
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

/// The API for objects of kind `T` in `scope`: one namespace's, or every
/// namespace's (`None`).
pub fn watched_in<T>(ctx: &Context, scope: Option<&str>) -> Api<DeserializeGuard<T>>
where
    T: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    match scope {
        Some(namespace) => Api::namespaced(ctx.client.clone(), namespace),
        None => Api::all(ctx.client.clone()),
    }
}

/// The objects in `shelf` that decode and whose [`Hot`] texts `refer`
/// holds for (with their namespace): a watch's mapper, which objects of
/// kind `K` a change to another object concerns. Nothing is decoded.
pub fn referrers<K: ManagedKind>(
    shelf: &Shelf<K>,
    refer: impl Fn(&str, &Hot) -> bool,
) -> Vec<ObjectName> {
    shelf.names(refer)
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
    let mut written = conditions(previous, generation, &draft.verdict);
    match &draft.drift {
        Some(difference) => written.push(drifted(previous, generation, difference.as_deref())),
        // Not looked at this time (a wait, an error): an observed object
        // keeps what it last said.
        None if object.managed().management == ManagementPolicy::Observe => written.extend(
            previous
                .iter()
                .find(|c| c.type_ == crate::api::condition::DRIFTED)
                .cloned(),
        ),
        None => {}
    }
    status.set_common(generation, written);
    status
}

/// Write the draft (server-side apply; nothing is sent when it equals the
/// object's current status). Only a write that changed the object makes the
/// next reconcile of this copy wait for the cache: one the API server found
/// nothing to do for brings no watch event, and waiting for one would hold
/// the object (and a table queue it heads) until something else changed it.
pub async fn write_status<K: ManagedKind>(
    ctx: &Context,
    api: &Api<K>,
    object: &K,
    draft: &Draft<K::Status>,
) -> Result<(), ReconcileError> {
    if apply_status(api, object, &finished(object, draft)).await? {
        wrote(ctx, object);
    }
    Ok(())
}

/// How soon to look again at an object whose cached copy is older than
/// natop's own last write of it (the watch usually brings it sooner).
const CACHE_BEHIND: Duration = Duration::from_millis(500);

/// natop wrote over the version of `object` it read.
fn wrote<K: Resource>(ctx: &Context, object: &K) {
    if let (Some(uid), Some(version)) = (&object.meta().uid, &object.meta().resource_version) {
        ctx.written.wrote(uid, version);
    }
}

/// Whether the cached `object` is older than natop's last write of it.
fn cache_behind<K: Resource>(object: &K, ctx: &Context) -> bool {
    match (&object.meta().uid, &object.meta().resource_version) {
        (Some(uid), Some(version)) => ctx.written.behind(uid, version),
        _ => false,
    }
}

/// [`write_status`] only if `object` is still at the resourceVersion it was
/// read at (a Conflict otherwise): the record of a purchase about to be made.
pub async fn write_status_unchanged_since<K: ManagedKind>(
    ctx: &Context,
    api: &Api<K>,
    object: &K,
    draft: &Draft<K::Status>,
) -> Result<(), ReconcileError> {
    if apply_status_unchanged_since(api, object, &finished(object, draft)).await? {
        wrote(ctx, object);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
