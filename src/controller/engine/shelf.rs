//! A controller's cache of one kind in one scope: what the watch delivered,
//! each object [`compact`]ly encoded, plus the few texts other objects'
//! changes are matched against ([`Hot`]).
//!
//! A reflector store keeps each object typed, and a Ready ForwardEntry took
//! about 2.1 KiB there (2.8 with a `natop.dev/` annotation, whose map
//! allocates room for eleven keys); with 10,000 entries that was most of
//! natop's memory. Here an object is its encoding and its hot texts, and it
//! is decoded (a few microseconds) only when a reconcile or an ownership
//! check reads it. Matching another object's change against all of them
//! reads only the hot texts.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kube::Resource;
use kube::core::DeserializeGuard;
use kube::runtime::watcher::Event;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::compact;
use crate::controller::entries::packed::Packed;
use crate::controller::entries::tables::ObjectName;

/// The texts of an object that another object's change is matched against
/// without decoding it: the ProviderConfig and the NatGateway and
/// BandwidthPackage it names, the id its status records and the id its
/// `natop.dev/external-id` annotation names (empty: none).
#[derive(Clone, PartialEq, Eq)]
pub struct Hot(Packed<5>);

/// The fields of [`Hot`], named.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotFields<'a> {
    /// The ProviderConfig the object names.
    pub provider_config: &'a str,
    /// The NatGateway object it names.
    pub gateway: &'a str,
    /// The BandwidthPackage object it names.
    pub package: &'a str,
    /// The id its status records.
    pub id: &'a str,
    /// The id its `natop.dev/external-id` annotation names.
    pub annotated: &'a str,
}

impl Hot {
    /// These texts, packed.
    pub fn new(fields: HotFields<'_>) -> Hot {
        Hot(Packed::new([
            fields.provider_config,
            fields.gateway,
            fields.package,
            fields.id,
            fields.annotated,
        ]))
    }

    /// The ProviderConfig the object names.
    pub fn provider_config(&self) -> &str {
        self.0.get(0)
    }

    /// The NatGateway object it names.
    pub fn gateway(&self) -> &str {
        self.0.get(1)
    }

    /// The BandwidthPackage object it names.
    pub fn package(&self) -> &str {
        self.0.get(2)
    }

    /// The id its status records.
    pub fn id(&self) -> &str {
        self.0.get(3)
    }

    /// The id its `natop.dev/external-id` annotation names.
    pub fn annotated(&self) -> &str {
        self.0.get(4)
    }
}

/// An object as the shelf holds it.
enum Held<K> {
    /// One that decodes as `K`: its encoding and its hot texts.
    Encoded { hot: Hot, bytes: Box<[u8]> },
    /// One that does not (its metadata only, as the watch gave it): rare,
    /// and kept as it came so that its reconcile can say what is wrong.
    Invalid(Arc<DeserializeGuard<K>>),
}

/// The objects, by `namespace/name`, and the ones of a relist under way.
struct Objects<K> {
    now: HashMap<Box<str>, Held<K>>,
    relisting: Option<HashMap<Box<str>, Held<K>>>,
}

struct Inner<K> {
    objects: RwLock<Objects<K>>,
    /// Whether the watch has listed every object once.
    ready: tokio::sync::watch::Sender<bool>,
    /// An object's hot texts.
    hot: fn(&K) -> Hot,
}

/// The cache; clones share it.
pub struct Shelf<K>(Arc<Inner<K>>);

impl<K> Clone for Shelf<K> {
    fn clone(&self) -> Self {
        Shelf(self.0.clone())
    }
}

fn key_of(namespace: &str, name: &str) -> Box<str> {
    format!("{namespace}/{name}").into_boxed_str()
}

fn name_of(key: &str) -> ObjectName {
    let (namespace, name) = key.split_once('/').unwrap_or(("", key));
    (namespace.to_string(), name.to_string())
}

impl<K> Shelf<K>
where
    K: Resource + Serialize + DeserializeOwned + Clone,
{
    fn read(&self) -> RwLockReadGuard<'_, Objects<K>> {
        self.0
            .objects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Objects<K>> {
        self.0
            .objects
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty shelf, not yet ready; `hot` reads an object's hot texts.
    pub fn new(hot: fn(&K) -> Hot) -> Shelf<K> {
        let (ready, _) = tokio::sync::watch::channel(false);
        Shelf(Arc::new(Inner {
            objects: RwLock::new(Objects {
                now: HashMap::new(),
                relisting: None,
            }),
            ready,
            hot,
        }))
    }

    fn held(&self, guard: &DeserializeGuard<K>) -> Held<K> {
        let encoded = guard.0.as_ref().ok().and_then(|object| {
            let value = serde_json::to_value(object).ok()?;
            Some(Held::Encoded {
                hot: (self.0.hot)(object),
                bytes: compact::encode(&value),
            })
        });
        encoded.unwrap_or_else(|| Held::Invalid(Arc::new(guard.clone())))
    }

    fn decode(held: &Held<K>) -> Option<Arc<DeserializeGuard<K>>> {
        match held {
            Held::Invalid(guard) => Some(guard.clone()),
            Held::Encoded { bytes, .. } => {
                let object = compact::decode(bytes).and_then(|v| serde_json::from_value(v).ok());
                if object.is_none() {
                    tracing::error!("a cached object did not decode");
                }
                object.map(|o| Arc::new(DeserializeGuard(Ok(o))))
            }
        }
    }

    /// Take in a watch event (its objects already [`super::strip`]ped).
    pub fn apply(&self, event: &Event<DeserializeGuard<K>>)
    where
        K::DynamicType: Default,
    {
        let key = |o: &DeserializeGuard<K>| {
            key_of(
                o.meta().namespace.as_deref().unwrap_or_default(),
                o.meta().name.as_deref().unwrap_or_default(),
            )
        };
        let mut objects = self.write();
        match event {
            Event::Init => objects.relisting = Some(HashMap::new()),
            Event::InitApply(object) => {
                let held = self.held(object);
                objects
                    .relisting
                    .get_or_insert_with(HashMap::new)
                    .insert(key(object), held);
            }
            Event::InitDone => {
                if let Some(listed) = objects.relisting.take() {
                    objects.now = listed;
                }
                self.0.ready.send_replace(true);
            }
            Event::Apply(object) => {
                let held = self.held(object);
                objects.now.insert(key(object), held);
            }
            Event::Delete(object) => {
                objects.now.remove(&key(object));
            }
        }
    }

    /// Object `name` of `namespace`, if the shelf holds it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<DeserializeGuard<K>>>
    where
        K::DynamicType: Default,
    {
        let objects = self.read();
        objects
            .now
            .get(&key_of(namespace, name))
            .and_then(Self::decode)
    }

    /// Every object.
    pub fn state(&self) -> Vec<Arc<DeserializeGuard<K>>>
    where
        K::DynamicType: Default,
    {
        let objects = self.read();
        objects.now.values().filter_map(Self::decode).collect()
    }

    /// The objects that decode and whose hot texts `keep` holds for (with
    /// their namespace); only those are decoded.
    pub fn matching(&self, keep: impl Fn(&str, &Hot) -> bool) -> Vec<Arc<DeserializeGuard<K>>>
    where
        K::DynamicType: Default,
    {
        let objects = self.read();
        objects
            .now
            .iter()
            .filter(|(key, held)| matches!(held, Held::Encoded { hot, .. } if keep(namespace(key), hot)))
            .filter_map(|(_, held)| Self::decode(held))
            .collect()
    }

    /// The names of the objects that decode and whose hot texts `keep`
    /// holds for (with their namespace); nothing is decoded.
    pub fn names(&self, keep: impl Fn(&str, &Hot) -> bool) -> Vec<ObjectName> {
        let objects = self.read();
        objects
            .now
            .iter()
            .filter(|(key, held)| matches!(held, Held::Encoded { hot, .. } if keep(namespace(key), hot)))
            .map(|(key, _)| name_of(key))
            .collect()
    }

    /// How many objects the shelf holds.
    pub fn len(&self) -> usize {
        self.read().now.len()
    }

    /// Whether the shelf holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the watch has listed every object once.
    pub fn is_ready(&self) -> bool {
        *self.0.ready.borrow()
    }

    /// Wait until the watch has listed every object once.
    pub async fn wait_until_ready(&self) {
        let mut ready = self.0.ready.subscribe();
        // The sender lives as long as the shelf: this only ends when ready.
        let _ = ready.wait_for(|ready| *ready).await;
    }
}

fn namespace(key: &str) -> &str {
    key.split_once('/').map_or("", |(namespace, _)| namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::forward_entry::ForwardEntry;

    fn entry(name: &str, gateway: &str, id: Option<&str>) -> DeserializeGuard<ForwardEntry> {
        let mut entry: ForwardEntry = serde_json::from_value(serde_json::json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "ForwardEntry",
            "metadata": {"name": name, "namespace": "team-a", "uid": format!("uid-{name}"),
                "resourceVersion": "7", "generation": 2, "finalizers": ["natop.dev/cleanup"],
                "annotations": {"natop.dev/drift-interval": "30s"}},
            "spec": {"providerConfigRef": {"name": "default"}, "natGatewayRef": {"name": gateway},
                "externalIp": "47.100.17.1", "externalPort": 10_000, "internalIp": "192.168.17.10",
                "internalPort": 8080, "ipProtocol": "TCP"},
        }))
        .expect("a valid entry");
        if let Some(id) = id {
            entry.status = Some(crate::api::forward_entry::ForwardEntryStatus {
                id: Some(id.into()),
                observed_generation: Some(2),
                ..Default::default()
            });
        }
        DeserializeGuard(Ok(entry))
    }

    fn hot(entry: &ForwardEntry) -> Hot {
        Hot::new(HotFields {
            provider_config: &entry.spec.provider_config_ref.name,
            gateway: entry
                .spec
                .nat_gateway_ref
                .as_ref()
                .map_or("", |r| r.name.as_str()),
            id: entry
                .status
                .as_ref()
                .and_then(|s| s.id.as_deref())
                .unwrap_or_default(),
            ..HotFields::default()
        })
    }

    fn same(a: &DeserializeGuard<ForwardEntry>, b: &DeserializeGuard<ForwardEntry>) -> bool {
        serde_json::to_value(a.0.as_ref().ok()).ok() == serde_json::to_value(b.0.as_ref().ok()).ok()
    }

    #[test]
    fn an_object_comes_back_as_the_watch_gave_it() {
        let shelf = Shelf::new(hot);
        let one = entry("a", "gw-1", Some("fwd-1"));
        shelf.apply(&Event::Apply(one.clone()));
        let back = shelf.get("team-a", "a").expect("held");
        assert!(same(&back, &one));
        assert!(shelf.get("team-b", "a").is_none(), "another namespace");
        assert!(shelf.get("team-a", "b").is_none());
    }

    #[test]
    fn a_relist_replaces_everything_once_it_is_done() {
        let shelf = Shelf::new(hot);
        assert!(!shelf.is_ready());
        shelf.apply(&Event::Apply(entry("gone", "gw-1", None)));
        shelf.apply(&Event::Init);
        shelf.apply(&Event::InitApply(entry("a", "gw-1", None)));
        // Until the relist is done, the shelf holds what it held.
        assert!(shelf.get("team-a", "gone").is_some());
        assert!(shelf.get("team-a", "a").is_none());
        shelf.apply(&Event::InitDone);
        assert!(shelf.is_ready());
        assert!(shelf.get("team-a", "gone").is_none());
        assert!(shelf.get("team-a", "a").is_some());
        shelf.apply(&Event::Delete(entry("a", "gw-1", None)));
        assert!(shelf.is_empty());
    }

    #[test]
    fn matching_reads_the_hot_texts() {
        let shelf = Shelf::new(hot);
        for (name, gateway, id) in [
            ("a", "gw-1", Some("fwd-1")),
            ("b", "gw-2", None),
            ("c", "gw-1", None),
        ] {
            shelf.apply(&Event::Apply(entry(name, gateway, id)));
        }
        let mut on_gw1 =
            shelf.names(|namespace, hot| namespace == "team-a" && hot.gateway() == "gw-1");
        on_gw1.sort();
        assert_eq!(
            on_gw1,
            [("team-a".into(), "a".into()), ("team-a".into(), "c".into())]
        );
        assert!(shelf.names(|namespace, _| namespace == "team-b").is_empty());
        let recorded = shelf.matching(|_, hot| hot.id() == "fwd-1");
        assert_eq!(recorded.len(), 1);
        assert!(same(&recorded[0], &entry("a", "gw-1", Some("fwd-1"))));
        assert_eq!(shelf.state().len(), 3);
    }

    #[tokio::test]
    async fn waiting_for_ready_ends_when_the_first_list_is_done() {
        let shelf: Shelf<ForwardEntry> = Shelf::new(hot);
        let waiting = tokio::spawn({
            let shelf = shelf.clone();
            async move { shelf.wait_until_ready().await }
        });
        shelf.apply(&Event::Init);
        assert!(!waiting.is_finished());
        shelf.apply(&Event::InitDone);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("ready in time")
            .expect("no panic");
    }
}
