//! Pieces every managed kind's reconcile uses: the error type and its
//! category, the finalizer, events, and the requeue decisions.

use std::time::Duration;

use super::events::EventType;
use crate::controller::engine::runner::Action;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::warn;

use super::status::{Verdict, conditions};
use crate::api::FIELD_MANAGER;
use crate::metrics::{ErrorLabels, KindLabels};

use super::providers::ProviderError;
use super::timing;
use super::{Context, OperatorConfig};
use crate::api::{DRIFT_INTERVAL_ANNOTATION, FINALIZER};
use crate::cloud::CloudError;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A cloud call failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The ProviderConfig or its Secret is not usable.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl ReconcileError {
    /// A bounded category: metric label and event reason.
    pub fn category(&self) -> &'static str {
        match self {
            ReconcileError::Cloud(e) => e.category().as_str(),
            ReconcileError::Provider(e) => e.reason(),
            ReconcileError::Kube(_) => "KubernetesApiError",
        }
    }

    /// The reason shown in conditions: the cloud's error code when there is one.
    pub fn reason(&self) -> String {
        match self {
            ReconcileError::Cloud(CloudError::Credentials { reason, .. }) => (*reason).to_string(),
            ReconcileError::Cloud(e) => e
                .code()
                .map_or_else(|| e.category().as_str().to_string(), sanitize_reason),
            other => other.category().to_string(),
        }
    }

    /// A message for conditions: stable across attempts (no RequestId).
    pub fn stable_message(&self) -> String {
        match self {
            ReconcileError::Cloud(e) => e.stable_message(),
            other => other.to_string(),
        }
    }

    /// Whether this is a call cut off by shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ReconcileError::Cloud(e) if e.category() == crate::cloud::ErrorCategory::Cancelled)
    }

    /// Whether retrying later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ReconcileError::Cloud(e) => {
                e.is_retryable() || e.category() == crate::cloud::ErrorCategory::Cancelled
            }
            ReconcileError::Provider(e) => e.is_retryable(),
            ReconcileError::Kube(_) => true,
        }
    }
}

/// Condition reasons are CamelCase identifiers starting with a letter: keep
/// letters and digits only, and name a numeric code (UCloud's `RetCode`)
/// `RetCode<n>`.
pub fn sanitize_reason(code: &str) -> String {
    let cleaned: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
    match cleaned.chars().next() {
        None => "CloudError".to_string(),
        Some(c) if c.is_ascii_digit() => format!("RetCode{cleaned}"),
        Some(_) => cleaned,
    }
}

/// `namespace/name`, the key of per-object pacing.
pub fn key<K: Resource<DynamicType = ()>>(object: &K) -> String {
    object_key(&K::kind(&()), object.meta())
}

/// The pacing key of an object: its kind and UID (`Kind/uid`), so that
/// objects of different kinds with one name, or an object deleted and made
/// again with its name, never share a backoff; `Kind/namespace/name` for an
/// object the API server has not given a UID.
pub fn object_key(kind: &str, meta: &kube::core::ObjectMeta) -> String {
    match &meta.uid {
        Some(uid) => format!("{kind}/{uid}"),
        None => format!(
            "{kind}/{}/{}",
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default()
        ),
    }
}

/// The drift-check interval of `object`: its annotation (never below the
/// operator's floor), else the default, jittered by 10 % so that objects do
/// not all check at once.
pub fn drift_interval<K: Resource>(object: &K, config: &OperatorConfig) -> Duration {
    timing::jitter(drift_setting(object, config).0, 0.1)
}

fn drift_setting<K: Resource>(object: &K, config: &OperatorConfig) -> (Duration, Option<String>) {
    timing::drift_setting(
        object
            .annotations()
            .get(DRIFT_INTERVAL_ANNOTATION)
            .map(String::as_str),
        config.drift_interval,
        config.min_drift_interval,
    )
}

/// Say in a Ready verdict's message when the object's drift-interval
/// annotation is not used as written (below the floor, or not an interval).
pub fn note_drift<K: Resource>(verdict: &mut Verdict, object: &K, config: &OperatorConfig) {
    if let (Verdict::Ready { message, .. }, (_, Some(note))) =
        (verdict, drift_setting(object, config))
    {
        message.push_str("; ");
        message.push_str(&note);
    }
}

/// Add natop's finalizer when it is missing. Returns whether it was added.
pub async fn ensure_finalizer<K>(api: &Api<K>, object: &K) -> Result<bool, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
{
    if object.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(false);
    }
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(api, object, finalizers).await?;
    Ok(true)
}

/// Remove natop's finalizer: the object may go.
pub async fn remove_finalizer<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let finalizers: Vec<String> = object
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    match patch_finalizers(api, object, finalizers).await {
        // Already gone: nothing to release.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    }
}

/// A JSON merge patch guarded by the resourceVersion, so that a finalizer
/// list changed by someone else in the meantime is not overwritten.
async fn patch_finalizers<K>(
    api: &Api<K>,
    object: &K,
    finalizers: Vec<String>,
) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": object.resource_version(),
        }
    });
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
}

/// Publish an event about `object`; a failure is logged, never fatal.
pub async fn event<K>(
    ctx: &Context,
    object: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) where
    K: Resource<DynamicType = ()> + Serialize,
{
    if let Err(e) = ctx
        .events
        .publish(&object.object_ref(&()), type_, reason, action, &note)
        .await
    {
        warn!(reason, error = %e, "cannot publish an event");
    }
}

/// Publish a Normal event about `object`: what natop did (`reason`, in the
/// course of `action`) and `note`.
pub async fn tell<K>(ctx: &Context, object: &K, reason: &str, action: &str, note: impl Into<String>)
where
    K: Resource<DynamicType = ()> + Serialize,
{
    event(ctx, object, EventType::Normal, reason, action, note.into()).await;
}

/// Whether `verdict` is a refusal by a ProviderConfig's namespace rules:
/// such an object is looked at again every [`NAMESPACE_RECHECK`], as a
/// namespace's labels may come to match the ProviderConfig's selector (natop
/// does not watch namespaces). No cloud call is made meanwhile.
pub fn not_allowed(verdict: &super::status::Verdict) -> bool {
    matches!(verdict, super::status::Verdict::Stalled { reason, .. }
        if reason == super::providers::reason::PROVIDER_CONFIG_NOT_ALLOWED)
}

/// See [`not_allowed`].
pub const NAMESPACE_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// What to do after an error: retry with per-object backoff, or wait for a
/// change when retrying cannot help.
pub fn after_error(ctx: &Context, key: &str, error: &ReconcileError) -> Action {
    if error.is_retryable() {
        Action::requeue(ctx.pacing.backoff(key))
    } else {
        ctx.pacing.settled(key);
        Action::await_change()
    }
}

/// An object the operator cannot even decode (e.g. stored before the schema
/// was tightened): say so in its status and leave it alone.
pub async fn report_undecodable<K>(
    invalid: &kube::core::error_boundary::InvalidObject,
    ctx: &Context,
) -> Result<Action, ReconcileError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let kind = K::kind(&()).to_string();
    let (Some(name), Some(namespace)) = (
        invalid.metadata.name.clone(),
        invalid.metadata.namespace.clone(),
    ) else {
        return Ok(Action::await_change());
    };
    warn!(%kind, %namespace, %name, error = %invalid.error, "object cannot be decoded");
    let verdict = Verdict::stalled(
        "InvalidSpec",
        format!(
            "the object does not match the {kind} schema: {}",
            invalid.error
        ),
    );
    let status = json!({
        "apiVersion": K::api_version(&()),
        "kind": kind,
        "status": {
            "observedGeneration": invalid.metadata.generation,
            "conditions": conditions(&[], invalid.metadata.generation, &verdict),
        }
    });
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    match api
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&status),
        )
        .await
    {
        Ok(_) => {}
        // A write the API server still refuses (a rule it does not ratchet
        // for unchanged values): say it with an event instead.
        Err(kube::Error::Api(e)) if e.code == 422 => {
            let reference = k8s_openapi::api::core::v1::ObjectReference {
                api_version: Some(K::api_version(&()).to_string()),
                kind: Some(kind.clone()),
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                uid: invalid.metadata.uid.clone(),
                ..Default::default()
            };
            let note = format!(
                "the object does not match the {kind} schema and natop leaves it alone: {}",
                invalid.error
            );
            if let Err(e) = ctx
                .events
                .publish(
                    &reference,
                    EventType::Warning,
                    "InvalidSpec",
                    "Validate",
                    &note,
                )
                .await
            {
                warn!(error = %e, "cannot publish an event");
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

/// One reconcile of a `kind` object, counted in the metrics (runs, in
/// flight, failures by category): `valid` inside the object's span, or the
/// undecodable report when the object does not match its schema.
pub async fn measured<'a, K, F, Fut>(
    kind: &'static str,
    guard: &'a kube::core::DeserializeGuard<K>,
    ctx: &Context,
    valid: F,
) -> Result<Action, ReconcileError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    F: FnOnce(&'a K) -> Fut,
    Fut: std::future::Future<Output = Result<Action, ReconcileError>>,
{
    use tracing::Instrument;

    counted(kind, ctx, async move {
        match &guard.0 {
            Ok(object) => {
                let span = tracing::info_span!("reconcile", kind, object = %key(object));
                valid(object).instrument(span).await
            }
            Err(invalid) => report_undecodable::<K>(invalid, ctx).await,
        }
    })
    .await
}

/// Run one reconcile of a `kind` object, counted in the metrics: runs, in
/// flight (also when the reconcile is dropped at shutdown), failures by
/// category.
pub async fn counted<Fut>(
    kind: &'static str,
    ctx: &Context,
    reconcile: Fut,
) -> Result<Action, ReconcileError>
where
    Fut: std::future::Future<Output = Result<Action, ReconcileError>>,
{
    /// Decrements the in-flight gauge when the reconcile ends, however it ends.
    struct InFlight<'a>(&'a Context, KindLabels);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.metrics.in_flight.get_or_create(&self.1).dec();
        }
    }

    let labels = KindLabels { kind };
    ctx.metrics.reconciles.get_or_create(&labels).inc();
    ctx.metrics.in_flight.get_or_create(&labels).inc();
    let _in_flight = InFlight(ctx, labels);
    let result = reconcile.await;
    if let Err(e) = &result {
        ctx.metrics
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                kind,
                category: e.category(),
            })
            .inc();
    }
    result
}

/// Publish how many objects wait for a retry, under `kind`.
pub fn count_retrying(kind: &'static str, ctx: &Context) {
    ctx.metrics
        .retrying
        .get_or_create(&KindLabels { kind })
        .set(i64::try_from(ctx.pacing.retrying(&format!("{kind}/"))).unwrap_or(i64::MAX));
}

/// The error policy of every controller: log the failure, then back off (or
/// wait for a change when retrying cannot help).
pub fn on_error<K: Resource>(
    kind: &'static str,
    guard: &kube::core::DeserializeGuard<K>,
    error: &ReconcileError,
    ctx: &Context,
) -> Action {
    let meta = guard
        .0
        .as_ref()
        .map(|o| o.meta().clone())
        .unwrap_or_default();
    let object = format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    );
    warn!(kind, %object, category = error.category(), %error, "reconcile failed");
    after_error(ctx, &object_key(kind, &meta), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_keys_are_per_kind_and_uid() {
        let meta = |uid: Option<&str>| kube::core::ObjectMeta {
            name: Some("web".into()),
            namespace: Some("team-a".into()),
            uid: uid.map(String::from),
            ..Default::default()
        };
        assert_eq!(object_key("NatGateway", &meta(Some("u1"))), "NatGateway/u1");
        assert_ne!(
            object_key("NatGateway", &meta(Some("u1"))),
            object_key("ForwardEntry", &meta(Some("u1")))
        );
        assert_ne!(
            object_key("ForwardEntry", &meta(Some("u1"))),
            object_key("ForwardEntry", &meta(Some("u2"))),
            "made again with its name: a new key"
        );
        assert_eq!(object_key("SnatEntry", &meta(None)), "SnatEntry/team-a/web");
    }

    #[test]
    fn reasons_are_identifiers() {
        assert_eq!(
            sanitize_reason("InvalidVpcId.NotFound"),
            "InvalidVpcIdNotFound"
        );
        assert_eq!(sanitize_reason("Throttling.User"), "ThrottlingUser");
        assert_eq!(sanitize_reason("..."), "CloudError");
        assert_eq!(sanitize_reason("260"), "RetCode260");
    }
}
