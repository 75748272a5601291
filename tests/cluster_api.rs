//! The real API server behaves as operators rely on: a CRD installs, a custom
//! resource is created, its status is written through the `/status`
//! subresource (and only there), and a finalizer holds a deleted object until
//! it is removed.

use std::time::Duration;

use crate::support::cluster::{TestNamespace, client, install_crd, wait_for};
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A throwaway kind for harness tests.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "harness.natop.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    /// How big.
    size: u32,
}

/// Status of a Widget.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
struct WidgetStatus {
    /// Whether it is ready.
    ready: bool,
}

#[tokio::test]
async fn crd_status_subresource_and_finalizer_on_the_real_api_server() {
    let client = client().await;
    install_crd(&client, &Widget::crd()).await;
    let ns = TestNamespace::create(&client, "harness").await;
    let api: Api<Widget> = Api::namespaced(client.clone(), &ns.name);

    let mut widget = Widget::new("w1", WidgetSpec { size: 3 });
    widget.metadata.finalizers = Some(vec!["harness.natop.dev/hold".into()]);
    let created = api.create(&PostParams::default(), &widget).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    // Status goes through /status only: a status in a main-resource patch is ignored.
    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"ready": true}})),
    )
    .await
    .unwrap();
    assert!(api.get("w1").await.unwrap().status.is_none_or(|s| !s.ready));
    let patched = api
        .patch_status(
            "w1",
            &PatchParams::apply("harness").force(),
            &Patch::Apply(json!({
                "apiVersion": "harness.natop.dev/v1",
                "kind": "Widget",
                "status": {"ready": true}
            })),
        )
        .await
        .unwrap();
    assert!(patched.status.unwrap().ready);
    assert_eq!(
        patched.metadata.generation,
        Some(1),
        "status writes do not bump generation"
    );

    // Deleting while the finalizer holds only marks the object.
    api.delete("w1", &DeleteParams::default()).await.unwrap();
    let held = api.get("w1").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        api.get_opt("w1").await.unwrap().is_some(),
        "still held by the finalizer"
    );

    // Removing the finalizer lets it go.
    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    wait_for("w1 to be gone", Duration::from_secs(10), || {
        let api = api.clone();
        async move { api.get_opt("w1").await.unwrap().is_none().then_some(()) }
    })
    .await;
    assert!(
        held.finalizers()
            .contains(&"harness.natop.dev/hold".to_string())
    );
    ns.delete().await;
}

#[tokio::test]
async fn the_schema_rejects_invalid_objects() {
    let client = client().await;
    install_crd(&client, &Widget::crd()).await;
    let ns = TestNamespace::create(&client, "harness").await;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns.name, &ApiResource::erase::<Widget>(&()));
    let bad = serde_json::from_value(json!({
        "apiVersion": "harness.natop.dev/v1",
        "kind": "Widget",
        "metadata": {"name": "bad"},
        "spec": {"size": "three"}
    }))
    .unwrap();
    let err = api.create(&PostParams::default(), &bad).await.unwrap_err();
    assert!(err.to_string().contains("spec.size"), "{err}");
    ns.delete().await;
}

/// The fields of `node` (at `path`) an `oldSelf` rule keeps immutable whose
/// description does not say so.
fn immutability_unmarked(node: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    let says = |d: Option<&str>| {
        let d = d
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        ["mmutable", "cannot change", "cannot become"]
            .iter()
            .any(|w| d.contains(w))
    };
    for rule in node["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let rule = rule["rule"].as_str().unwrap_or_default();
        let Some((_, _)) = rule.split_once("oldSelf") else {
            continue;
        };
        let fields: Vec<&str> = rule
            .split("oldSelf.")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or_default()
            })
            .collect();
        if fields.is_empty() && !says(node["description"].as_str()) {
            out.push(path.to_string());
        }
        for field in fields {
            if !says(node["properties"][field]["description"].as_str()) {
                out.push(format!("{path}.{field}"));
            }
        }
    }
    for (key, child) in node["properties"].as_object().into_iter().flatten() {
        immutability_unmarked(child, &format!("{path}.{key}"), out);
    }
    if node["items"].is_object() {
        immutability_unmarked(&node["items"], &format!("{path}[]"), out);
    }
}

/// Every natop kind as `kubectl get` shows it: the columns the API server
/// serves for a list, as a Table.
async fn table(client: &kube::Client, path: &str) -> serde_json::Value {
    let request = http::Request::get(path)
        .header(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .unwrap();
    client.request::<serde_json::Value>(request).await.unwrap()
}

#[tokio::test]
async fn kubectl_shows_ready_reason_and_message_and_conditions_are_a_map_by_type() {
    use crate::support::cluster::install_crds;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

    let client = client().await;
    install_crds(&client).await;
    // As the API server serves them: every kind shows Ready, its reason and
    // Age, the message with -o wide, and no short name another kind uses.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for generated in natop::api::crds() {
        let name = generated.metadata.name.clone().unwrap();
        let served = crds.get(&name).await.unwrap();
        let taken = [
            "pc", "po", "svc", "ns", "no", "ing", "sc", "pv", "pvc", "ep", "cm",
        ];
        for short in served.spec.names.short_names.clone().unwrap_or_default() {
            assert!(
                !taken.contains(&short.as_str()),
                "{name}: short name {short}"
            );
        }
        let version = &served.spec.versions[0];
        let columns: Vec<(String, i32)> = version
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.priority.unwrap_or(0)))
            .collect();
        // Status and ID on every kind that manages a cloud resource (a
        // ProviderConfig has none: it shows its account instead).
        let cloud_columns: &[(&str, i32)] = if name.starts_with("providerconfigs.") {
            &[("Account", 0)]
        } else {
            &[("Status", 0), ("ID", 0)]
        };
        let shared = [("Ready", 0), ("Reason", 0), ("Age", 0), ("Message", 1)];
        for &(wanted, priority) in shared.iter().chain(cloud_columns) {
            assert!(
                columns.contains(&(wanted.to_string(), priority)),
                "{name}: {wanted} (priority {priority}) in {columns:?}"
            );
        }
        let conditions = &version
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap()
            .properties
            .as_ref()
            .unwrap()["status"]
            .properties
            .as_ref()
            .unwrap()["conditions"];
        let extra = serde_json::to_value(conditions).unwrap();
        assert_eq!(extra["x-kubernetes-list-type"], "map", "{name}");
        assert_eq!(
            extra["x-kubernetes-list-map-keys"],
            json!(["type"]),
            "{name}"
        );
        // `kubectl explain` shows the kind's own words, and every field a
        // rule keeps immutable says so.
        let schema = serde_json::to_value(
            version
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        let root = schema["description"].as_str().unwrap_or_default();
        assert!(
            !root.is_empty() && !root.contains("Auto-generated"),
            "{name}: {root}"
        );
        let mut unmarked = Vec::new();
        immutability_unmarked(&schema, "", &mut unmarked);
        assert!(
            unmarked.is_empty(),
            "{name}: no immutability note on {unmarked:?}"
        );
    }

    // A NatGateway listed as kubectl lists it.
    let ns = TestNamespace::create(&client, "columns").await;
    let api: Api<natop::api::NatGateway> = Api::namespaced(client.clone(), &ns.name);
    let gateway: natop::api::NatGateway = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
        "metadata": {"name": "edge"},
        "spec": {"providerConfigRef": {"name": "pc"}, "vpcId": "vpc-1", "vSwitchId": "vsw-1"},
    }))
    .unwrap();
    api.create(&PostParams::default(), &gateway).await.unwrap();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastTransitionTime": "2026-12-01T00:00:00Z"})
    };
    let status = |conditions: serde_json::Value| {
        Patch::Apply(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
            "status": {"id": "ngw-1", "status": "Available", "conditions": conditions},
        }))
    };
    api.patch_status(
        "edge",
        &PatchParams::apply("columns").force(),
        &status(json!([
            condition("Ready", "False", "Paused", "natop.dev/paused is true"),
            condition("Stalled", "False", "Paused", "not stalled"),
        ])),
    )
    .await
    .unwrap();
    let listed = table(
        &client,
        &format!(
            "/apis/natop.dev/v1alpha1/namespaces/{}/natgateways",
            ns.name
        ),
    )
    .await;
    let names: Vec<&str> = listed["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let cell = |column: &str| {
        let index = names.iter().position(|n| *n == column).unwrap();
        listed["rows"][0]["cells"][index].clone()
    };
    assert_eq!(cell("Ready"), "False", "{listed}");
    assert_eq!(cell("Reason"), "Paused", "{listed}");
    assert_eq!(cell("ID"), "ngw-1", "{listed}");
    assert_eq!(cell("Message"), "natop.dev/paused is true", "{listed}");

    // A map keyed by type: two conditions of one type are refused (server-side
    // apply answers with the key it found twice).
    let twice = api
        .patch_status(
            "edge",
            &PatchParams::apply("columns").force(),
            &status(json!([
                condition("Ready", "True", "Available", "a"),
                condition("Ready", "False", "Paused", "b"),
            ])),
        )
        .await;
    assert!(
        matches!(&twice, Err(kube::Error::Api(e)) if e.message.contains("duplicate entries for key [type=\"Ready\"]")),
        "{twice:?}"
    );
    ns.delete().await;
}

/// natop's events are real `events.k8s.io/v1` objects: the same event about
/// the same object again counts in the first one's series (the API server
/// accepts the series patch), another reason is another event.
#[tokio::test]
async fn a_repeated_event_counts_in_the_first_ones_series() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::Resource;
    use natop::controller::events::{EventType, Events};

    let client = client().await;
    let ns = TestNamespace::create(&client, "events").await;
    let subject: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "subject"}})).unwrap();
    let subject = Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &subject)
        .await
        .unwrap();
    let reference = subject.object_ref(&());
    let events = Events::new(client.clone(), "natop-harness", None);
    for _ in 0..3 {
        events
            .publish(
                &reference,
                EventType::Warning,
                "Refused",
                "Create",
                "refused",
            )
            .await
            .unwrap();
    }
    events
        .publish(&reference, EventType::Normal, "Created", "Create", "made")
        .await
        .unwrap();
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), &ns.name);
    let mut seen: Vec<(String, Option<i32>, Option<String>)> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reporting_controller.as_deref() == Some("natop-harness"))
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.series.map(|s| s.count),
                e.regarding.and_then(|r| r.name),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("Created".into(), None, Some("subject".into())),
            ("Refused".into(), Some(3), Some("subject".into())),
        ]
    );
    assert_eq!(events.remembered(), 2);
    ns.delete().await;
}
