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
