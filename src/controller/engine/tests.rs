//! The engine against a mocked API server (`tower_test`): every request the
//! shell sends is recorded and answered, and the test kind records every
//! "cloud" step it is asked for, so the order of the two is visible.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::controller::engine::Action;
use http::{Request, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::client::Body;
use kube::core::DeserializeGuard;
use kube::{Client, CustomResource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::cloud::CloudError;
use crate::cloud::error::{ErrorCategory, Provider};
use crate::controller::OperatorConfig;
use crate::metrics::Metrics;

/// A kind that only exists here: its "cloud" is the log below.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
#[kube(
    group = "test.natop.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct WidgetSpec {
    /// Deletion policy.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Management policy.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Cleanup is done (the object may go) once this is set.
    #[serde(default)]
    pub gone: bool,
    /// Apply fails with a throttling error.
    #[serde(default)]
    pub throttled: bool,
    /// Invalid when 0 (a rule the schema does not hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// Observed only: how the cloud differs from the spec, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differs: Option<String>,
}

/// The test kind's status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WidgetStatus {
    /// The id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The conditions.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

common_status!(WidgetStatus);

/// The steps the test kind was asked for, as `uid:step`.
static CLOUD: Mutex<Vec<String>> = Mutex::new(Vec::new());
fn cloud_steps(uid: &str) -> Vec<String> {
    CLOUD
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| s.strip_prefix(&format!("{uid}:")).map(String::from))
        .collect()
}

fn log(widget: &Widget, step: &str) {
    let uid = widget.metadata.uid.clone().unwrap_or_default();
    CLOUD.lock().unwrap().push(format!("{uid}:{step}"));
}

impl ManagedKind for Widget {
    const KIND: &'static str = "Widget";
    type Status = WidgetStatus;

    fn status(&self) -> Option<&WidgetStatus> {
        self.status.as_ref()
    }
    fn managed(&self) -> Managed<'_> {
        Managed {
            provider_config: "default",
            deletion: self.spec.deletion_policy,
            management: self.spec.management_policy,
        }
    }
    fn id_prefixes(&self) -> &'static [&'static str] {
        &["w-"]
    }
    fn validate(&self) -> Result<(), String> {
        match self.spec.size {
            Some(0) => Err("spec.size must not be 0".into()),
            _ => Ok(()),
        }
    }
    fn orphaned_note(&self, _ctx: &Context, draft: &Draft<WidgetStatus>) -> Option<String> {
        Some(format!("left {} in the cloud", draft.status.id.clone()?))
    }
    async fn apply(
        &self,
        _ctx: &Context,
        draft: &mut Draft<WidgetStatus>,
    ) -> Result<Action, ReconcileError> {
        log(self, "apply");
        if let Some(id) = draft.known.adopting() {
            log(self, &format!("adopt {id}"));
        }
        if self.spec.throttled {
            return Err(ReconcileError::Cloud(throttled()));
        }
        draft.status.id = Some("w-1".into());
        draft.verdict = Verdict::ready("Available", "widget w-1 is available");
        if self.spec.management_policy == ManagementPolicy::Observe {
            draft.observed("widget w-1", self.spec.differs.clone());
        }
        Ok(Action::requeue(Duration::from_secs(600)))
    }
    async fn cleanup(
        &self,
        _ctx: &Context,
        draft: &mut Draft<WidgetStatus>,
    ) -> Result<Option<Action>, ReconcileError> {
        log(self, "cleanup");
        if self.spec.gone {
            return Ok(None);
        }
        draft.verdict = Verdict::progressing("Deleting", "widget w-1 is being deleted");
        Ok(Some(Action::requeue(Duration::from_secs(1))))
    }
}

fn throttled() -> CloudError {
    CloudError::Service {
        provider: Provider::Alibaba,
        action: "CreateWidget".into(),
        status: 400,
        code: "Throttling".into(),
        message: "slow down".into(),
        request_id: "r-1".into(),
        category: ErrorCategory::Throttled,
    }
}

/// A request the shell sent: method, path and JSON body.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    path: String,
    body: Value,
}

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// Answer every request until the client is dropped: objects with `object`,
/// events with themselves. Returns what was sent.
async fn api_server(mut handle: Handle, object: Value) -> Vec<Sent> {
    let mut sent = Vec::new();
    while let Some((request, respond)) = handle.next_request().await {
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let answer = if path.contains("/events") {
            body.clone()
        } else {
            object.clone()
        };
        sent.push(Sent { method, path, body });
        respond.send_response(
            Response::builder()
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap(),
        );
    }
    sent
}

fn context(client: Client) -> Arc<Context> {
    Context::new(
        client,
        OperatorConfig::default(),
        Arc::new(Metrics::default()),
        CancellationToken::new(),
    )
}

/// A context whose API server is never called.
fn idle_context() -> Arc<Context> {
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    context(Client::new(service, "default"))
}

/// Run one reconcile of `widget` against the mocked API server: what it
/// returned and the requests it sent.
async fn reconcile_once(widget: Value) -> (Result<Action, ReconcileError>, Vec<Sent>) {
    reconcile_answered(widget.clone(), widget).await
}

/// [`reconcile_once`], the API server answering with `answer`.
async fn reconcile_answered(
    widget: Value,
    answer: Value,
) -> (Result<Action, ReconcileError>, Vec<Sent>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(api_server(handle, answer));
    let ctx = context(Client::new(service, "default"));
    let guard: DeserializeGuard<Widget> = serde_json::from_value(widget).unwrap();
    let result = reconcile::<Widget>(Arc::new(guard), ctx.clone()).await;
    // The client lives in the context: dropping it ends the requests.
    drop(ctx);
    let sent = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the mocked API server saw the end of the requests")
        .unwrap();
    (result, sent)
}

fn widget(uid: &str, finalizers: &[&str], spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "test.natop.dev/v1",
        "kind": "Widget",
        "metadata": {
            "name": format!("w-{uid}"), "namespace": "team", "uid": uid,
            "generation": 2, "resourceVersion": "7", "finalizers": finalizers,
        },
        "spec": spec,
        "status": status,
    })
}

fn deleting(mut widget: Value) -> Value {
    widget["metadata"]["deletionTimestamp"] = json!("2026-12-01T00:00:00Z");
    widget
}

fn paths(sent: &[Sent]) -> Vec<(String, String)> {
    sent.iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect()
}

const OBJECT: &str = "/apis/test.natop.dev/v1/namespaces/team/widgets/w-";

#[tokio::test]
async fn the_finalizer_is_added_before_any_cloud_step() {
    let (result, sent) = reconcile_once(widget("u1", &[], json!({}), Value::Null)).await;
    assert!(result.is_ok());
    assert_eq!(paths(&sent), [("PATCH".into(), format!("{OBJECT}u1"))]);
    assert_eq!(
        sent[0].body,
        json!({"metadata": {"finalizers": [FINALIZER], "resourceVersion": "7"}}),
        "added with the resourceVersion it was read at"
    );
    assert!(
        cloud_steps("u1").is_empty(),
        "no cloud step before the finalizer"
    );
}

#[tokio::test]
async fn status_is_written_once_and_only_when_it_changes() {
    let (_, sent) = reconcile_once(widget("u2", &[FINALIZER], json!({}), Value::Null)).await;
    assert_eq!(cloud_steps("u2"), ["apply"]);
    assert_eq!(
        paths(&sent),
        [("PATCH".into(), format!("{OBJECT}u2/status"))]
    );
    let status = sent[0].body["status"].clone();
    assert_eq!(status["id"], "w-1");
    assert_eq!(status["observedGeneration"], 2);
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(
        (ready["status"].clone(), ready["reason"].clone()),
        (json!("True"), json!("Available"))
    );

    // The same object with that status: nothing to write.
    let (_, sent) = reconcile_once(widget("u2", &[FINALIZER], json!({}), status)).await;
    assert_eq!(cloud_steps("u2"), ["apply", "apply"]);
    assert!(sent.is_empty(), "{:?}", paths(&sent));
}

#[tokio::test]
async fn the_finalizer_goes_only_when_cleanup_says_so() {
    let (result, sent) =
        reconcile_once(deleting(widget("u3", &[FINALIZER], json!({}), Value::Null))).await;
    assert_eq!(cloud_steps("u3"), ["cleanup"]);
    assert_eq!(result.unwrap(), Action::requeue(Duration::from_secs(1)));
    assert_eq!(
        paths(&sent),
        [("PATCH".into(), format!("{OBJECT}u3/status"))]
    );

    let (_, sent) = reconcile_once(deleting(widget(
        "u3",
        &[FINALIZER, "other.dev/keep"],
        json!({"gone": true}),
        Value::Null,
    )))
    .await;
    assert_eq!(cloud_steps("u3"), ["cleanup", "cleanup"]);
    assert_eq!(paths(&sent), [("PATCH".into(), format!("{OBJECT}u3"))]);
    assert_eq!(
        sent[0].body["metadata"]["finalizers"],
        json!(["other.dev/keep"]),
        "only natop's finalizer is removed"
    );

    // Without natop's finalizer, a deleting object is left alone.
    let (_, sent) = reconcile_once(deleting(widget(
        "u3",
        &["other.dev/keep"],
        json!({}),
        Value::Null,
    )))
    .await;
    assert!(sent.is_empty());
    assert_eq!(cloud_steps("u3"), ["cleanup", "cleanup"]);
}

#[tokio::test]
async fn orphan_and_observe_leave_the_cloud_alone_and_say_so() {
    for (uid, spec) in [
        ("u4", json!({"deletionPolicy": "Orphan"})),
        ("u5", json!({"managementPolicy": "Observe"})),
    ] {
        let (_, sent) = reconcile_once(deleting(widget(
            uid,
            &[FINALIZER],
            spec,
            json!({"id": "w-9"}),
        )))
        .await;
        assert!(cloud_steps(uid).is_empty(), "{uid}: no cleanup step");
        let event = sent
            .iter()
            .find(|s| s.method == "POST" && s.path.ends_with("/events"))
            .expect("an event");
        assert_eq!(event.body["reason"], "Orphaned");
        assert_eq!(event.body["note"], "left w-9 in the cloud");
        assert_eq!(
            paths(&sent).last().unwrap(),
            &("PATCH".to_string(), format!("{OBJECT}{uid}"))
        );
    }
}

#[tokio::test]
async fn an_undecodable_object_is_reported_in_its_status_and_not_acted_on() {
    let good = widget("u6", &[FINALIZER], json!({}), Value::Null);
    let mut bad = good.clone();
    bad["spec"]["gone"] = json!("not a boolean");
    let (result, sent) = reconcile_answered(bad, good).await;
    assert!(result.is_ok());
    assert!(cloud_steps("u6").is_empty());
    assert_eq!(
        paths(&sent),
        [("PATCH".into(), format!("{OBJECT}u6/status"))]
    );
    let stalled = sent[0].body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .cloned()
        .unwrap();
    assert_eq!(stalled["reason"], "InvalidSpec");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("Widget schema")
    );
}

#[tokio::test]
async fn a_failed_apply_is_a_verdict_and_backs_off_per_kind_and_uid() {
    let (result, sent) = reconcile_once(widget(
        "u7",
        &[FINALIZER],
        json!({"throttled": true}),
        Value::Null,
    ))
    .await;
    let error = result.expect_err("a retryable error goes to the error policy");
    assert!(error.is_retryable());
    let reconciling = sent[0].body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Reconciling")
        .cloned()
        .unwrap();
    assert_eq!(
        (reconciling["status"].clone(), reconciling["reason"].clone()),
        (json!("True"), json!("Throttling"))
    );

    // The error policy backs off per kind and UID.
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(Client::new(service, "default"));
    let guard = |uid: &str| -> Arc<DeserializeGuard<Widget>> {
        Arc::new(serde_json::from_value(widget(uid, &[FINALIZER], json!({}), Value::Null)).unwrap())
    };
    let error = ReconcileError::Cloud(throttled());
    for _ in 0..3 {
        error_policy::<Widget>(guard("u8"), &error, ctx.clone());
    }
    assert_eq!(ctx.pacing.retrying("Widget/"), 1, "one object retrying");
    assert_eq!(ctx.pacing.retrying("Widget/u8"), 1);
    error_policy::<Widget>(guard("u9"), &error, ctx.clone());
    assert_eq!(
        ctx.pacing.retrying("Widget/"),
        2,
        "another UID has its own backoff"
    );
    assert_eq!(
        ctx.pacing.retrying("NatGateway/"),
        0,
        "another kind is not counted"
    );
    // A reconcile that succeeds settles its own backoff only.
    ctx.pacing
        .settled(&key(&guard("u8").0.as_ref().unwrap().clone()));
    assert_eq!(ctx.pacing.retrying("Widget/"), 1);
}

/// The first Stalled condition of the status a reconcile wrote.
fn stalled(sent: &[Sent]) -> (String, String) {
    let write = sent
        .iter()
        .find(|s| s.path.ends_with("/status"))
        .expect("a status write");
    let condition = write.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled" && c["status"] == "True")
        .cloned()
        .expect("Stalled");
    (
        condition["reason"].as_str().unwrap().to_string(),
        condition["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn an_invalid_spec_or_annotation_stalls_before_any_cloud_step() {
    let annotated = |uid: &str, id: &str| {
        let mut w = widget(uid, &[FINALIZER], json!({}), Value::Null);
        w["metadata"]["annotations"] = json!({ crate::api::EXTERNAL_ID_ANNOTATION: id });
        w
    };
    for (uid, object, reason) in [
        (
            "v1",
            widget("v1", &[FINALIZER], json!({"size": 0}), Value::Null),
            "InvalidSpec",
        ),
        (
            "v2",
            annotated("v2", "x-1"),
            crate::controller::ownership::INVALID_EXTERNAL_ID,
        ),
        (
            "v3",
            annotated("v3", ""),
            crate::controller::ownership::INVALID_EXTERNAL_ID,
        ),
    ] {
        let (result, sent) = reconcile_once(object).await;
        assert!(result.is_ok(), "{uid}");
        assert!(cloud_steps(uid).is_empty(), "{uid}: no cloud step");
        assert_eq!(stalled(&sent).0, reason, "{uid}");
    }
    // A valid annotation reaches the kind as what natop knows.
    let (result, _) = reconcile_once(annotated("v4", "w-42")).await;
    assert!(result.is_ok());
    assert_eq!(cloud_steps("v4"), ["apply", "adopt w-42"]);
}

#[tokio::test]
async fn an_id_another_object_claims_is_never_adopted() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let mut object = widget("v5", &[FINALIZER], json!({}), Value::Null);
    object["metadata"]["annotations"] = json!({ crate::api::EXTERNAL_ID_ANNOTATION: "w-7" });
    let server = tokio::spawn(api_server(handle, object.clone()));
    let ctx = context(Client::new(service, "default"));
    // Another object of the kind, known to the controller, records w-7.
    let shelf = Shelf::new(|w: &Widget| w.hot());
    let owner: DeserializeGuard<Widget> =
        serde_json::from_value(widget("v6", &[FINALIZER], json!({}), json!({"id": "w-7"})))
            .unwrap();
    shelf.apply(&kube::runtime::watcher::Event::Apply(owner));
    ctx.stores
        .set::<Widget>(crate::controller::ownership::Cache::new(vec![shelf]));
    let guard: DeserializeGuard<Widget> = serde_json::from_value(object).unwrap();
    let result = reconcile::<Widget>(Arc::new(guard), ctx.clone()).await;
    drop(ctx);
    let sent = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    assert!(result.is_ok());
    assert!(cloud_steps("v5").is_empty(), "no cloud step");
    let (reason, message) = stalled(&sent);
    assert_eq!(
        reason,
        crate::controller::ownership::OWNED_BY_ANOTHER_OBJECT
    );
    assert!(message.contains("w-7"), "{message}");
}

#[tokio::test]
async fn a_paused_object_makes_no_cloud_call_even_when_deleted() {
    let paused = |value: &str, mut object: Value| {
        object["metadata"]["annotations"] = json!({ crate::api::PAUSED_ANNOTATION: value });
        object
    };
    for (uid, object, reason, stalled_too) in [
        (
            "p1",
            paused("true", widget("p1", &[FINALIZER], json!({}), Value::Null)),
            "Paused",
            false,
        ),
        (
            "p2",
            paused(
                "true",
                deleting(widget(
                    "p2",
                    &[FINALIZER],
                    json!({"gone": true}),
                    Value::Null,
                )),
            ),
            "Paused",
            false,
        ),
        (
            "p3",
            paused("yes", widget("p3", &[FINALIZER], json!({}), Value::Null)),
            "Paused",
            true,
        ),
    ] {
        let (result, sent) = reconcile_once(object).await;
        assert!(result.is_ok(), "{uid}");
        assert!(cloud_steps(uid).is_empty(), "{uid}: no cloud step");
        assert_eq!(
            paths(&sent),
            [("PATCH".to_string(), format!("{OBJECT}{uid}/status"))],
            "{uid}: only the status is written (the finalizer stays)"
        );
        let conditions = sent[0].body["status"]["conditions"].as_array().unwrap();
        let of = |t: &str| conditions.iter().find(|c| c["type"] == t).unwrap().clone();
        assert_eq!(of("Ready")["status"], "False", "{uid}");
        assert_eq!(of("Ready")["reason"], reason, "{uid}");
        assert_eq!(of("Stalled")["status"] == "True", stalled_too, "{uid}");
    }
    // "false" resumes.
    let (_, _) = reconcile_once(paused(
        "false",
        widget("p4", &[FINALIZER], json!({}), Value::Null),
    ))
    .await;
    assert_eq!(cloud_steps("p4"), ["apply"]);
}

#[tokio::test]
async fn an_observed_difference_is_the_drifted_condition_and_never_an_error() {
    let observe =
        |differs: Option<&str>| json!({"managementPolicy": "Observe", "differs": differs});
    for (uid, spec, ready_reason, drifted) in [
        (
            "d1",
            observe(Some("size is 2, the spec says 3")),
            "Observed",
            ("True", "Drifted"),
        ),
        ("d2", observe(None), "Observed", ("False", "InSync")),
    ] {
        let (result, sent) = reconcile_once(widget(uid, &[FINALIZER], spec, Value::Null)).await;
        assert!(result.is_ok(), "{uid}");
        let conditions = sent[0].body["status"]["conditions"]
            .as_array()
            .unwrap()
            .clone();
        let of = |t: &str| conditions.iter().find(|c| c["type"] == t).cloned().unwrap();
        assert_eq!(
            (of("Ready")["status"].clone(), of("Ready")["reason"].clone()),
            (json!("True"), json!(ready_reason)),
            "{uid}"
        );
        assert_eq!(of("Stalled")["status"], "False", "{uid}: never Stalled");
        assert_eq!(
            (
                of("Drifted")["status"].clone(),
                of("Drifted")["reason"].clone()
            ),
            (json!(drifted.0), json!(drifted.1)),
            "{uid}"
        );
    }
    // Managed objects have no Drifted condition.
    let (_, sent) = reconcile_once(widget("d3", &[FINALIZER], json!({}), Value::Null)).await;
    let conditions = sent[0].body["status"]["conditions"].as_array().unwrap();
    assert!(conditions.iter().all(|c| c["type"] != "Drifted"));
}

#[test]
fn listed_namespaces_are_watched_one_by_one_and_none_means_every_namespace() {
    let listed = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(scopes(&[]), vec![None]);
    assert_eq!(scopes(&listed(&["a"])), vec![Some("a".to_string())]);
    assert_eq!(
        scopes(&listed(&["a", "b", "a"])),
        vec![Some("a".to_string()), Some("b".to_string())]
    );
    let two = scopes(&listed(&["a", "b"]));
    assert_eq!(scope_of(&two, "a"), Some(0));
    assert_eq!(scope_of(&two, "b"), Some(1));
    assert_eq!(scope_of(&two, "c"), None);
    assert_eq!(scope_of(&scopes(&[]), "c"), Some(0));
}

#[tokio::test]
async fn wake_ups_reach_the_controller_of_their_namespace_only() {
    let scopes = scopes(&["a".to_string(), "b".to_string()]);
    let (wake, wakes) = tokio::sync::mpsc::unbounded_channel();
    let ctx = idle_context();
    let cancel = ctx.cancel.clone();
    let (streams, router) = route_wakes::<Widget>(Some(wakes), &scopes, ctx);
    let router = tokio::spawn(router);
    for (namespace, name) in [("c", "x"), ("b", "w1"), ("a", "w2"), ("b", "w3")] {
        wake.send((namespace.to_string(), name.to_string()))
            .unwrap();
    }
    let mut streams: Vec<_> = streams.into_iter().map(Option::unwrap).collect();
    assert_eq!(next_woken(&mut streams[0]).await, ("a".into(), "w2".into()));
    assert_eq!(next_woken(&mut streams[1]).await, ("b".into(), "w1".into()));
    assert_eq!(next_woken(&mut streams[1]).await, ("b".into(), "w3".into()));
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), router)
        .await
        .unwrap()
        .unwrap();
    // Nothing for c, which no controller watches.
    assert!(streams[0].next().await.is_none());
    assert!(streams[1].next().await.is_none());
}

#[tokio::test]
async fn a_kind_without_wake_ups_gets_no_stream() {
    let (streams, _router) = route_wakes::<Widget>(None, &scopes(&[]), idle_context());
    assert!(streams.len() == 1 && streams[0].is_none());
}

async fn next_woken(stream: &mut Woken) -> (String, String) {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
}

#[test]
fn cached_objects_keep_only_what_natop_reads() {
    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
    let with = |annotations: Value| -> DeserializeGuard<crate::api::NatGateway> {
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
            "metadata": {
                "name": "gw", "namespace": "team",
                "annotations": annotations,
                "labels": {"app.kubernetes.io/instance": "network", "team": "a"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x",
                                     "uid": "u-1"}],
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                                   "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
            },
            "spec": {"vpcId": "vpc-a", "vSwitchId": "vsw-a"},
        }))
        .unwrap()
    };
    let mut gateway = with(json!({
        LAST_APPLIED: "{\"spec\": {}}",
        "argocd.argoproj.io/tracking-id": "network:natop.dev/NatGateway:team/gw",
        "natop.dev/external-id": "ngw-1",
    }));
    strip(&mut gateway);
    assert_eq!(gateway.meta().managed_fields, None);
    assert_eq!(gateway.meta().labels, None);
    assert_eq!(gateway.meta().owner_references, None);
    assert_eq!(
        gateway.meta().annotations,
        Some(std::collections::BTreeMap::from([(
            "natop.dev/external-id".to_string(),
            "ngw-1".to_string()
        )]))
    );
    let mut only_kubectl = with(json!({LAST_APPLIED: "{}"}));
    strip(&mut only_kubectl);
    assert_eq!(only_kubectl.meta().annotations, None);
    // An object that does not decode is stripped too.
    let mut invalid: DeserializeGuard<crate::api::NatGateway> = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
        "metadata": {"name": "bad", "namespace": "team", "annotations": {LAST_APPLIED: "{}"},
                     "managedFields": []},
        "spec": {"vpcId": 7},
    }))
    .unwrap();
    assert!(invalid.0.is_err());
    strip(&mut invalid);
    assert_eq!(invalid.meta().managed_fields, None);
    assert_eq!(invalid.meta().annotations, None);
}

#[tokio::test]
async fn referenced_objects_come_from_the_cache_when_it_will_do() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let gateway = json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
        "metadata": {"name": "gw", "namespace": "team", "resourceVersion": "7", "uid": "u-gw"},
        "spec": {"vpcId": "vpc-a", "vSwitchId": "vsw-a"},
        "status": {"id": "ngw-1", "conditions": [{"type": "Ready", "status": "True",
            "reason": "Available", "message": "", "lastTransitionTime": "2026-12-01T00:00:00Z"}]},
    });
    let server = tokio::spawn(api_server(handle, gateway.clone()));
    let ctx = context(Client::new(service, "default"));
    let shelf = Shelf::new(|g: &crate::api::NatGateway| g.hot());
    shelf.apply(&kube::runtime::watcher::Event::Apply(
        serde_json::from_value(gateway).unwrap(),
    ));
    ctx.stores.set(ownership::Cache::new(vec![shelf]));
    let ready = |g: &crate::api::NatGateway| {
        g.status
            .as_ref()
            .is_some_and(|s| super::super::status::is_true(&s.conditions, "Ready"))
    };
    // Cached and good enough: no request.
    let cached = read_through(&ctx, "team", "gw", ready).await.unwrap();
    assert_eq!(
        cached.and_then(|g| g.status).and_then(|s| s.id),
        Some("ngw-1".into())
    );
    // Not good enough as cached (a wait must not come from a stale copy), or
    // not cached at all: read from the API server.
    read_through(&ctx, "team", "gw", |_: &crate::api::NatGateway| false)
        .await
        .unwrap();
    read_through(&ctx, "team", "other", ready).await.unwrap();
    drop(ctx);
    let sent = server.await.unwrap();
    let paths: Vec<_> = sent
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            (
                "GET",
                "/apis/natop.dev/v1alpha1/namespaces/team/natgateways/gw"
            ),
            (
                "GET",
                "/apis/natop.dev/v1alpha1/namespaces/team/natgateways/other"
            ),
        ]
    );
}

/// Reconcile `object` as the cache holds it, with `ctx`.
async fn reconcile_copy(ctx: &Arc<Context>, object: Value) -> Result<Action, ReconcileError> {
    let guard: DeserializeGuard<Widget> = serde_json::from_value(object).unwrap();
    reconcile::<Widget>(Arc::new(guard), ctx.clone()).await
}

#[tokio::test]
async fn a_cached_copy_older_than_natops_own_write_is_not_decided_on() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let stale = widget("u30", &[FINALIZER], json!({}), Value::Null);
    // The API server answers each write with a newer version.
    let mut answer = stale.clone();
    answer["metadata"]["resourceVersion"] = json!("9");
    let server = tokio::spawn(api_server(handle, answer));
    let ctx = context(Client::new(service, "default"));
    // The first pass writes the status over version 7.
    reconcile_copy(&ctx, stale.clone()).await.unwrap();
    assert_eq!(cloud_steps("u30"), ["apply"]);
    // The cache has not brought that write yet: the same copy again is
    // neither acted on nor written, and is looked at again soon.
    let action = reconcile_copy(&ctx, stale.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(CACHE_BEHIND));
    assert_eq!(cloud_steps("u30"), ["apply"]);
    // Once the cache has moved on, the object is reconciled as usual.
    let mut caught_up = stale.clone();
    caught_up["metadata"]["resourceVersion"] = json!("8");
    reconcile_copy(&ctx, caught_up).await.unwrap();
    assert_eq!(cloud_steps("u30"), ["apply", "apply"]);
    assert_eq!(ctx.written.len(), 1, "only the last write is remembered");
    drop(ctx);
    let sent = server.await.unwrap();
    let writes: Vec<_> = paths(&sent)
        .into_iter()
        .filter(|(method, _)| method == "PATCH")
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
}

#[tokio::test]
async fn a_status_write_the_api_server_found_nothing_to_do_for_is_not_waited_for() {
    // The API server answers the write with the version it was made over:
    // nothing changed (the status was already so, or another manager's
    // fields made the copies differ), so no watch event will come.
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let cached = widget("u31", &[FINALIZER], json!({}), Value::Null);
    let server = tokio::spawn(api_server(handle, cached.clone()));
    let ctx = context(Client::new(service, "default"));
    reconcile_copy(&ctx, cached.clone()).await.unwrap();
    assert!(
        ctx.written.is_empty(),
        "a write that changed nothing is not remembered"
    );
    // The same copy again is reconciled, not held for the cache.
    let action = reconcile_copy(&ctx, cached.clone()).await.unwrap();
    assert_ne!(action, Action::requeue(CACHE_BEHIND));
    assert_eq!(cloud_steps("u31"), ["apply", "apply"]);
    drop(ctx);
    server.await.unwrap();
}
