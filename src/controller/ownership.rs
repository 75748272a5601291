//! One cloud resource, one object. An object may adopt an existing resource
//! with the `natop.dev/external-id` annotation, but never one that another
//! object manages: neither one that another object has recorded as its own
//! (or claimed first by annotation), nor one natop's owner tag attributes to
//! another live object. The annotation itself must name an id of the kind:
//! an empty value (an unset template variable) must never widen a describe
//! into "every resource of the account".

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use kube::core::DeserializeGuard;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::engine::shelf::{Hot, Shelf};

use crate::api::EXTERNAL_ID_ANNOTATION;

/// Condition reason: the annotation does not name a resource of the kind.
pub const INVALID_EXTERNAL_ID: &str = "InvalidExternalId";
/// Condition reason: the resource belongs to another object.
pub const OWNED_BY_ANOTHER_OBJECT: &str = "OwnedByAnotherObject";

/// The longest id natop accepts in the annotation.
const MAX_ID_LENGTH: usize = 64;

/// The id the `natop.dev/external-id` annotation names: `Ok(None)` without
/// the annotation, `Err` (a message for `InvalidExternalId`) when it is
/// empty or not an id starting with one of `prefixes` (`ngw-`, ...)
/// followed by lower-case letters and digits.
pub fn external_id(
    annotations: &BTreeMap<String, String>,
    prefixes: &[&str],
) -> Result<Option<String>, String> {
    let Some(value) = annotations.get(EXTERNAL_ID_ANNOTATION) else {
        return Ok(None);
    };
    let expected = prefixes
        .iter()
        .map(|p| format!("{p}…"))
        .collect::<Vec<_>>()
        .join(" or ");
    if value.trim().is_empty() {
        return Err(format!(
            "the {EXTERNAL_ID_ANNOTATION} annotation is empty: set it to the id to adopt \
             ({expected}) or remove it to let natop create the resource"
        ));
    }
    let well_formed = value.len() <= MAX_ID_LENGTH
        && prefixes.iter().any(|prefix| {
            value.strip_prefix(prefix).is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
        });
    if !well_formed {
        return Err(format!(
            "the {EXTERNAL_ID_ANNOTATION} annotation is {value:?}, which is not an id of this \
             kind ({expected}, lower-case letters and digits, at most {MAX_ID_LENGTH} \
             characters): fix it or remove it"
        ));
    }
    Ok(Some(value.clone()))
}

/// What one object claims: the id it recorded, or the one it asks to adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `namespace/name`.
    pub object: String,
    /// The object's UID.
    pub uid: String,
    /// The id in its status.
    pub recorded: Option<String>,
    /// The id its annotation names.
    pub annotated: Option<String>,
    /// Its creation time (RFC 3339), which orders competing annotations.
    pub created: String,
}

impl Claim {
    /// The claim of `object`, whose status id `recorded` gives.
    pub fn of<K: Resource>(object: &K, recorded: Option<String>) -> Claim {
        Claim {
            object: format!(
                "{}/{}",
                object.meta().namespace.clone().unwrap_or_default(),
                object.meta().name.clone().unwrap_or_default()
            ),
            uid: object.meta().uid.clone().unwrap_or_default(),
            recorded,
            annotated: object.annotations().get(EXTERNAL_ID_ANNOTATION).cloned(),
            created: object
                .meta()
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
        }
    }
}

/// Who else owns resource `id`, as a message for `OwnedByAnotherObject`;
/// `None` when `me` may manage it. `others` are the objects of the kind the
/// operator knows (the controller's cache; `me` may be among them);
/// `tagged_owner` is the UID natop's owner tag on the resource names, where
/// the cloud shows tags.
///
/// Another object owns it when it recorded `id` as its own; when natop's tag
/// names another object that still exists; or when it asks for `id` by
/// annotation too and was created first (so that of two objects adopting the
/// same resource at once, exactly one does). A tag naming an object that no
/// longer exists is an orphaned resource: adopting it is what the annotation
/// is for.
pub fn other_owner(
    me: &Claim,
    id: &str,
    others: &[Claim],
    tagged_owner: Option<&str>,
) -> Option<String> {
    if tagged_owner.is_some_and(|uid| !uid.is_empty() && uid == me.uid) {
        // natop made it for this very object.
        return None;
    }
    let others: Vec<&Claim> = others.iter().filter(|c| c.uid != me.uid).collect();
    if let Some(owner) = others.iter().find(|c| c.recorded.as_deref() == Some(id)) {
        return Some(format!(
            "{id} is managed by {}, which recorded it as its own: natop lets one object \
             manage a cloud resource; remove the annotation from this object",
            owner.object
        ));
    }
    if let Some(uid) = tagged_owner.filter(|uid| !uid.is_empty() && *uid != me.uid)
        && let Some(owner) = others.iter().find(|c| c.uid == uid)
    {
        return Some(format!(
            "{id} carries natop's owner tag of {}: natop lets one object manage a cloud \
             resource; remove the annotation from this object",
            owner.object
        ));
    }
    let first = others
        .iter()
        .filter(|c| c.annotated.as_deref() == Some(id) && c.recorded.is_none())
        .find(|c| (&c.created, &c.object) < (&me.created, &me.object))?;
    Some(format!(
        "{id} is also named by the annotation of {}, which was created first and adopts it: \
         natop lets one object manage a cloud resource; remove the annotation from one of them",
        first.object
    ))
}

/// The claims of every object in `cache`, `me` included; `recorded` reads
/// an object's status id.
pub fn claims<K>(cache: Option<Cache<K>>, recorded: impl Fn(&K) -> Option<String>) -> Vec<Claim>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + 'static,
{
    let Some(cache) = cache else {
        return Vec::new();
    };
    cache
        .state()
        .iter()
        .filter_map(|guard: &Arc<DeserializeGuard<K>>| guard.0.as_ref().ok())
        .map(|object| Claim::of(object, recorded(object)))
        .collect()
}

/// The claims of the objects in `cache` that name resource `id`, recorded
/// (`recorded` reads an object's status id) or by annotation: all that
/// [`other_owner`] needs when no owner tag is known. Only those objects are
/// decoded (the cache matches the id against each object's [`Hot`] texts),
/// so asking costs no allocation per object of the kind.
pub fn claims_naming<K>(
    cache: Option<Cache<K>>,
    id: &str,
    recorded: impl Fn(&K) -> Option<&str>,
) -> Vec<Claim>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + 'static,
{
    let Some(cache) = cache else {
        return Vec::new();
    };
    cache
        .matching(|_, hot| hot.id() == id || hot.annotated() == id)
        .iter()
        .filter_map(|guard| guard.0.as_ref().ok())
        .map(|object| Claim::of(object, recorded(object).map(String::from)))
        .collect()
}

/// A controller's cache of one kind: one [`Shelf`] per watched namespace
/// (or a single one for every namespace). Each has its own watch: a relist
/// of one namespace replaces that shelf only, never the objects of another
/// namespace.
pub struct Cache<K>(Vec<Shelf<K>>);

impl<K> Clone for Cache<K> {
    fn clone(&self) -> Self {
        Cache(self.0.clone())
    }
}

impl<K> Cache<K>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + 'static,
{
    /// The cache made of these shelves.
    pub fn new(shelves: Vec<Shelf<K>>) -> Cache<K> {
        Cache(shelves)
    }

    /// Object `name` of `namespace`, if a shelf holds it.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<DeserializeGuard<K>>> {
        self.0.iter().find_map(|shelf| shelf.get(namespace, name))
    }

    /// Every object of every shelf.
    pub fn state(&self) -> Vec<Arc<DeserializeGuard<K>>> {
        self.0.iter().flat_map(Shelf::state).collect()
    }

    /// The objects (those that decode) whose [`Hot`] texts `keep` holds
    /// for (with their namespace). Only these are decoded, so a search that
    /// finds few is cheap however many objects the shelves hold.
    pub fn matching(&self, keep: impl Fn(&str, &Hot) -> bool) -> Vec<Arc<DeserializeGuard<K>>> {
        self.0
            .iter()
            .flat_map(|shelf| shelf.matching(&keep))
            .collect()
    }

    /// Wait until every shelf has listed its objects once.
    pub async fn wait_until_ready(&self) {
        for shelf in &self.0 {
            shelf.wait_until_ready().await;
        }
    }
}

/// A kind a [`Cache`] can hold.
pub trait Cached:
    Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Send + Sync + 'static
{
}

impl<K> Cached for K where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Send + Sync + 'static
{
}

/// The controllers' caches of the managed kinds, one per kind, registered by
/// each controller when it starts, so that ownership is judged against every
/// object it knows.
#[derive(Default)]
pub struct Stores(RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>);

impl Stores {
    /// Register the cache of kind `K` (the first registration stays).
    pub fn set<K>(&self, cache: Cache<K>)
    where
        K: Cached,
    {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(cache));
    }

    /// The cache of kind `K`, once its controller runs.
    pub fn get<K>(&self) -> Option<Cache<K>>
    where
        K: Cached,
    {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&TypeId::of::<K>())
            .and_then(|cache| cache.downcast_ref::<Cache<K>>())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotated(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(EXTERNAL_ID_ANNOTATION.to_string(), value.to_string())])
    }

    #[test]
    fn external_ids_are_checked_for_the_kind() {
        assert_eq!(external_id(&BTreeMap::new(), &["ngw-"]), Ok(None));
        assert_eq!(
            external_id(&annotated("ngw-bp1abc0"), &["ngw-"]),
            Ok(Some("ngw-bp1abc0".into()))
        );
        assert_eq!(
            external_id(&annotated("bwpack-x1"), &["bwp-", "bwpack-"]),
            Ok(Some("bwpack-x1".into()))
        );
        let long = format!("ngw-{}", "a".repeat(61));
        for bad in [
            "",
            " ",
            "ngw-",
            "ngw",
            "fwd-abc",
            "ngw-ABC",
            "ngw-a b",
            "ngw-a,ngw-b",
            "ngw-a*",
            " ngw-abc",
            &long,
        ] {
            let message = external_id(&annotated(bad), &["ngw-"]).unwrap_err();
            assert!(message.contains(EXTERNAL_ID_ANNOTATION), "{message}");
            assert!(message.contains("ngw-…"), "{message}");
        }
    }

    fn claim(object: &str, uid: &str, recorded: Option<&str>, annotated: Option<&str>) -> Claim {
        Claim {
            object: object.into(),
            uid: uid.into(),
            recorded: recorded.map(String::from),
            annotated: annotated.map(String::from),
            created: format!("2026-01-0{}T00:00:00Z", uid.len() % 9 + 1),
        }
    }

    #[test]
    fn one_resource_one_object() {
        let me = claim("team-b/gw", "uid-b", None, Some("ngw-1"));
        let owner = claim("team-a/prod", "uid-a", Some("ngw-1"), None);
        let bystander = claim("team-c/gw", "uid-c", Some("ngw-2"), None);
        // Recorded by another object.
        let found = other_owner(&me, "ngw-1", &[owner.clone(), me.clone()], None).unwrap();
        assert!(found.contains("team-a/prod"), "{found}");
        // Tagged for another live object.
        let tagged = claim("team-a/prod", "uid-a", None, None);
        let found =
            other_owner(&me, "ngw-1", std::slice::from_ref(&tagged), Some("uid-a")).unwrap();
        assert!(found.contains("owner tag of team-a/prod"), "{found}");
        // Tagged for an object that is gone: an orphan, free to adopt.
        assert_eq!(
            other_owner(
                &me,
                "ngw-1",
                std::slice::from_ref(&bystander),
                Some("uid-x")
            ),
            None
        );
        // Tagged for me (even if another object recorded it), recorded by
        // me, or nobody else's: mine.
        assert_eq!(
            other_owner(&me, "ngw-1", &[me.clone(), owner], Some("uid-b")),
            None
        );
        let recorded_by_me = claim("team-b/gw", "uid-b", Some("ngw-1"), Some("ngw-1"));
        assert_eq!(
            other_owner(
                &recorded_by_me,
                "ngw-1",
                std::slice::from_ref(&recorded_by_me),
                None
            ),
            None
        );
        assert_eq!(other_owner(&me, "ngw-1", &[bystander], None), None);
    }

    #[test]
    fn of_two_annotations_the_older_object_adopts() {
        let mut older = claim("ns/a", "uid-old", None, Some("ngw-1"));
        older.created = "2026-01-01T00:00:00Z".into();
        let mut newer = claim("ns/b", "uid-new", None, Some("ngw-1"));
        newer.created = "2026-01-02T00:00:00Z".into();
        let all = [older.clone(), newer.clone()];
        assert_eq!(other_owner(&older, "ngw-1", &all, None), None);
        let found = other_owner(&newer, "ngw-1", &all, None).unwrap();
        assert!(
            found.contains("ns/a") && found.contains("created first"),
            "{found}"
        );
        // Same creation time: the name decides, so exactly one adopts.
        newer.created.clone_from(&older.created);
        let all = [older.clone(), newer.clone()];
        assert_eq!(other_owner(&older, "ngw-1", &all, None), None);
        assert!(other_owner(&newer, "ngw-1", &all, None).is_some());
    }
}
