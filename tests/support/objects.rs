//! natop's objects in a test: manifests labelled for the world's operator,
//! their conditions, and waits on them (each bounded by [`TIMEOUT`] unless
//! said otherwise).

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use kube::Api;
use kube::api::PostParams;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::cluster::{TIMEOUT, wait_for};
use super::operator::World;

/// `base` with the members of `extra` added, replacing those of the same
/// name (one level deep; a non-object `extra` adds nothing).
pub fn merged(mut base: Value, extra: &Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base
}

/// A natop object of `kind` named `name` for `world`'s operator: its
/// metadata is the name and the world's labels with `meta` merged in
/// (annotations, say); its spec is `providerConfigRef` (the world's
/// ProviderConfig) with `spec` merged in, so `spec` may name another one.
/// `K` may be a typed object or a `DynamicObject`.
pub fn manifest<K: DeserializeOwned>(
    world: &World,
    kind: &str,
    name: &str,
    meta: Value,
    spec: Value,
) -> K {
    serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1",
        "kind": kind,
        "metadata": merged(json!({"name": name, "labels": world.labels()}), &meta),
        "spec": merged(json!({"providerConfigRef": {"name": world.provider}}), &spec),
    }))
    .unwrap()
}

/// Create the [`manifest`] in namespace `ns`; returns the API of its kind
/// there.
pub async fn create_in<K>(
    world: &World,
    ns: &str,
    kind: &str,
    name: &str,
    meta: Value,
    spec: Value,
) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    let api: Api<K> = Api::namespaced(world.client.clone(), ns);
    api.create(
        &PostParams::default(),
        &manifest(world, kind, name, meta, spec),
    )
    .await
    .unwrap();
    api
}

/// Create the [`manifest`] (with no more metadata) in the world's namespace.
pub async fn create<K>(world: &World, kind: &str, name: &str, spec: Value) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    create_in(world, &world.ns.name, kind, name, json!({}), spec).await
}

/// `(status, reason, message)` of condition `type_`, if the object has it.
pub fn condition<K: Serialize>(object: &K, type_: &str) -> Option<(String, String, String)> {
    let value = serde_json::to_value(object).ok()?;
    let c = value["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?
        .clone();
    Some((
        c["status"].as_str()?.to_string(),
        c["reason"].as_str()?.to_string(),
        c["message"].as_str().unwrap_or_default().to_string(),
    ))
}

/// The message of condition `type_`, which must be there.
pub fn message_of<K: Serialize>(object: &K, type_: &str) -> String {
    condition(object, type_)
        .map(|(_, _, message)| message)
        .unwrap_or_else(|| panic!("no {type_} condition"))
}

/// Whether the status is of the object's current generation.
pub fn current<K: Serialize>(object: &K) -> bool {
    let Ok(value) = serde_json::to_value(object) else {
        return false;
    };
    value["status"]["observedGeneration"] == value["metadata"]["generation"]
}

/// Ready=True for the current generation.
pub fn ready<K: Serialize>(object: &K) -> bool {
    current(object) && condition(object, "Ready").is_some_and(|(s, _, _)| s == "True")
}

/// Wait until `check` holds for `name` (`what` says what is awaited);
/// returns the object.
pub async fn wait_until<K>(api: &Api<K>, name: &str, what: &str, check: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    wait_for(&format!("{name}: {what}"), TIMEOUT, || async {
        let object = api.get(name).await.ok()?;
        check(&object).then_some(object)
    })
    .await
}

/// Wait until `name` is [`ready`]; returns it.
pub async fn wait_ready<K>(api: &Api<K>, name: &str) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_ready_within(api, name, TIMEOUT).await
}

/// [`wait_ready`], for at most `timeout`.
pub async fn wait_ready_within<K>(api: &Api<K>, name: &str, timeout: Duration) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_for(&format!("{name} Ready"), timeout, || async {
        let object = api.get(name).await.ok()?;
        ready(&object).then_some(object)
    })
    .await
}

/// Wait until condition `type_` of `name` has `reason`, for the object's
/// current generation; returns the object.
pub async fn wait_reason<K>(api: &Api<K>, name: &str, type_: &str, reason: &str) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_for(&format!("{name} {type_} {reason}"), TIMEOUT, || async {
        let object = api.get(name).await.ok()?;
        let (_, found, _) = condition(&object, type_)?;
        (current(&object) && found == reason).then_some(object)
    })
    .await
}

/// [`wait_reason`], whatever generation the status is of.
pub async fn wait_reason_any_generation<K>(api: &Api<K>, name: &str, type_: &str, reason: &str) -> K
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    wait_for(&format!("{name} {type_} {reason}"), TIMEOUT, || async {
        let object = api.get(name).await.ok()?;
        let (_, found, _) = condition(&object, type_)?;
        (found == reason).then_some(object)
    })
    .await
}

/// Wait until `name` is gone (deleted, its finalizers done).
pub async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
{
    wait_for(&format!("{name} gone"), TIMEOUT, || async {
        matches!(api.get_opt(name).await, Ok(None)).then_some(())
    })
    .await;
}
