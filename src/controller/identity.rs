//! How natop recognises what it made: a ClientToken derived from the object's
//! UID and a digest of the create parameters (crash-safe within one cluster),
//! and, where the cloud takes tags, tags naming the operator's owner id and
//! the object (so that a cluster rebuilt from Git, with new UIDs and no
//! status, finds what the old one made instead of buying it again).

use serde::Serialize;
use sha1::{Digest, Sha1};

/// Tag key: the UID of the object a resource was created for.
pub const OWNER_TAG: &str = "natop.dev/owner-uid";
/// Tag key: the owner id of the operator that created (or adopted) it.
pub const OWNER_ID_TAG: &str = "natop.dev/owner";
/// Tag key: the kind of the object it was created for.
pub const KIND_TAG: &str = "natop.dev/kind";
/// Tag key: `namespace/name` of the object it was created for.
pub const OBJECT_TAG: &str = "natop.dev/object";
/// Every tag key natop sets; users' tags may not use the `natop.dev/` prefix.
pub const RESERVED_TAG_PREFIX: &str = "natop.dev/";
/// The longest tag value the cloud takes.
pub const MAX_TAG_VALUE: usize = 128;

/// Check an owner id: 1–63 ASCII letters, digits, `-`, `_` and `.`; `Err`
/// says why not.
pub fn check_owner_id(id: &str) -> Result<(), String> {
    let fine = !id.is_empty()
        && id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not an owner id: 1-63 letters, digits, '-', '_' and '.'"
        ))
    }
}

/// The `natop.dev/object` tag value of `namespace/name`: the two as they
/// are when they fit the cloud's 128 characters, else a prefix of the name
/// and a digest of the whole, so distinct objects keep distinct values.
pub fn object_tag_value(namespace: &str, name: &str) -> String {
    let whole = format!("{namespace}/{name}");
    if whole.len() <= MAX_TAG_VALUE {
        return whole;
    }
    let digest = &hex(&Sha1::digest(whole.as_bytes()))[..16];
    // Object names are ASCII, so any byte index is a char boundary.
    let keep = MAX_TAG_VALUE - digest.len() - 1;
    format!("{}~{digest}", &whole[..keep])
}

/// The tags natop puts on a resource it creates (or adopts) for an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// The operator's owner id.
    pub owner_id: String,
    /// The object's kind.
    pub kind: String,
    /// `natop.dev/object`'s value.
    pub object: String,
    /// The object's UID.
    pub uid: String,
}

impl Ownership {
    /// The ownership of `namespace/name` of `kind`, whose UID is `uid`, by `owner_id`.
    pub fn new(owner_id: &str, kind: &str, namespace: &str, name: &str, uid: &str) -> Self {
        Ownership {
            owner_id: owner_id.to_string(),
            kind: kind.to_string(),
            object: object_tag_value(namespace, name),
            uid: uid.to_string(),
        }
    }

    /// The tags, as key and value.
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        vec![
            (OWNER_ID_TAG, self.owner_id.clone()),
            (KIND_TAG, self.kind.clone()),
            (OBJECT_TAG, self.object.clone()),
            (OWNER_TAG, self.uid.clone()),
        ]
    }

    /// The tags that say which object a resource is for, whoever the
    /// owner: the filter of the look-up before a create.
    pub fn identity_tags(&self) -> Vec<(&'static str, String)> {
        vec![
            (KIND_TAG, self.kind.clone()),
            (OBJECT_TAG, self.object.clone()),
        ]
    }
}

/// A resource a look-up found, with its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its id.
    pub id: String,
    /// Its tags, as key and value.
    pub tags: Vec<(String, String)>,
    /// Whether it is being deleted (never adopted).
    pub leaving: bool,
}

impl Found {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a look-up for an object with no id recorded says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Nothing of this object's: create.
    Create,
    /// Resource `id` is this object's: made for its UID (a create whose
    /// answer was lost) or, when `adopted`, for an earlier object of the same
    /// kind and `namespace/name` under the same owner id (a rebuilt cluster).
    Found {
        /// The resource.
        id: String,
        /// Made for another UID: an adoption.
        adopted: bool,
    },
    /// Several resources carry this owner id and identity: which is meant
    /// cannot be told (condition `AmbiguousOwnership`).
    Ambiguous(Vec<String>),
    /// Only another owner's resources carry this identity: never adopted,
    /// never changed, and no second one bought beside them (condition
    /// `OwnedByAnotherOperator`).
    Foreign {
        /// The other owner id.
        owner: String,
        /// Its resources.
        ids: Vec<String>,
    },
}

/// Condition reason: several resources carry the object's owner id and identity.
pub const AMBIGUOUS_OWNERSHIP: &str = "AmbiguousOwnership";
/// Condition reason: the resource carries another operator's owner id.
pub const OWNED_BY_ANOTHER_OPERATOR: &str = "OwnedByAnotherOperator";

/// Decide on a look-up: `found` are the resources whose tags name the
/// object's kind and `namespace/name` (each confirmed by a point read).
/// Resources being deleted do not count. One made for this UID wins (the
/// same object, whose create answer was lost); else exactly one of this
/// owner id is adopted; several are ambiguous; only other owners' means
/// someone else's.
pub fn decide_lookup(me: &Ownership, found: &[Found]) -> Lookup {
    let live: Vec<&Found> = found
        .iter()
        .filter(|f| !f.leaving)
        .filter(|f| f.tag(KIND_TAG) == Some(me.kind.as_str()))
        .filter(|f| f.tag(OBJECT_TAG) == Some(me.object.as_str()))
        .collect();
    let mine: Vec<&&Found> = live
        .iter()
        .filter(|f| f.tag(OWNER_ID_TAG) == Some(me.owner_id.as_str()))
        .collect();
    let same_uid: Vec<&&&Found> = mine
        .iter()
        .filter(|f| f.tag(OWNER_TAG) == Some(me.uid.as_str()))
        .collect();
    match (same_uid.as_slice(), mine.as_slice()) {
        ([one], _) => Lookup::Found {
            id: one.id.clone(),
            adopted: false,
        },
        (_, [one]) => Lookup::Found {
            id: one.id.clone(),
            adopted: true,
        },
        (_, []) => match live.iter().find_map(|f| f.tag(OWNER_ID_TAG)) {
            Some(owner) => Lookup::Foreign {
                owner: owner.to_string(),
                ids: live
                    .iter()
                    .filter(|f| f.tag(OWNER_ID_TAG) == Some(owner))
                    .map(|f| f.id.clone())
                    .collect(),
            },
            None => Lookup::Create,
        },
        (_, many) => Lookup::Ambiguous(many.iter().map(|f| f.id.clone()).collect()),
    }
}

/// Which of `found` (resources listed by this natop's owner id) no object
/// claims: not recorded or named by an object (`claimed_ids`), and made for
/// a `kind` object (`natop.dev/object`) that does not exist (`objects`: the
/// tag values of the objects that do; one still being created is claimed by
/// its name before its id is recorded). Resources being deleted do not count.
pub fn unclaimed(
    found: &[Found],
    owner_id: &str,
    kind: &str,
    objects: &[String],
    claimed_ids: &[String],
) -> Vec<String> {
    found
        .iter()
        .filter(|f| !f.leaving)
        .filter(|f| f.tag(OWNER_ID_TAG) == Some(owner_id))
        .filter(|f| f.tag(KIND_TAG).is_none_or(|k| k == kind))
        .filter(|f| !claimed_ids.contains(&f.id))
        .filter(|f| {
            f.tag(OBJECT_TAG)
                .is_none_or(|o| !objects.iter().any(|x| x == o))
        })
        .map(|f| f.id.clone())
        .collect()
}

/// The owner id `tags` name, when it is not `owner_id`: the resource is
/// another operator's.
pub fn foreign_owner<'t>(owner_id: &str, tags: &'t [(String, String)]) -> Option<&'t str> {
    tags.iter()
        .find(|(k, _)| k == OWNER_ID_TAG)
        .map(|(_, v)| v.as_str())
        .filter(|v| *v != owner_id)
}

/// A ClientToken for creating `params` on behalf of the object `uid`: the same
/// object and parameters always give the same token (so a retried or repeated
/// create returns the first resource), different parameters a different one.
/// At most 64 ASCII characters, as the API requires.
pub fn client_token<P: Serialize>(uid: &str, params: &P) -> String {
    let encoded = serde_json::to_vec(params).unwrap_or_default();
    let digest = hex(&Sha1::digest(&encoded))[..16].to_string();
    let uid: String = uid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    format!("natop-{uid}-{digest}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(id: &str, owner: &str, uid: &str, leaving: bool) -> Found {
        let me = Ownership::new(owner, "NatGateway", "team", "egress", uid);
        Found {
            id: id.into(),
            tags: me
                .tags()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            leaving,
        }
    }

    #[test]
    fn a_lookup_finds_its_own_adopts_one_and_refuses_two_or_a_foreign_owner() {
        let me = Ownership::new("blue", "NatGateway", "team", "egress", "uid-new");
        let other_object = Found {
            id: "ngw-x".into(),
            tags: Ownership::new("blue", "NatGateway", "team", "other", "uid-9")
                .tags()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            leaving: false,
        };
        let cases: Vec<(&str, Vec<Found>, Lookup)> = vec![
            ("nothing", vec![], Lookup::Create),
            (
                "another object's only",
                vec![other_object.clone()],
                Lookup::Create,
            ),
            (
                "its own lost create",
                vec![found("ngw-1", "blue", "uid-new", false)],
                Lookup::Found {
                    id: "ngw-1".into(),
                    adopted: false,
                },
            ),
            (
                "a rebuilt cluster's",
                vec![found("ngw-1", "blue", "uid-old", false)],
                Lookup::Found {
                    id: "ngw-1".into(),
                    adopted: true,
                },
            ),
            (
                "its own beside an older one: its own",
                vec![
                    found("ngw-1", "blue", "uid-old", false),
                    found("ngw-2", "blue", "uid-new", false),
                ],
                Lookup::Found {
                    id: "ngw-2".into(),
                    adopted: false,
                },
            ),
            (
                "one being deleted does not count",
                vec![
                    found("ngw-1", "blue", "uid-old", true),
                    found("ngw-2", "blue", "uid-older", false),
                ],
                Lookup::Found {
                    id: "ngw-2".into(),
                    adopted: true,
                },
            ),
            (
                "two earlier ones",
                vec![
                    found("ngw-1", "blue", "uid-old", false),
                    found("ngw-2", "blue", "uid-older", false),
                ],
                Lookup::Ambiguous(vec!["ngw-1".into(), "ngw-2".into()]),
            ),
            (
                "another owner's",
                vec![found("ngw-1", "green", "uid-old", false)],
                Lookup::Foreign {
                    owner: "green".into(),
                    ids: vec!["ngw-1".into()],
                },
            ),
            (
                "another owner's beside one of its own: its own",
                vec![
                    found("ngw-1", "green", "uid-old", false),
                    found("ngw-2", "blue", "uid-old", false),
                ],
                Lookup::Found {
                    id: "ngw-2".into(),
                    adopted: true,
                },
            ),
            (
                "another owner's being deleted",
                vec![found("ngw-1", "green", "uid-old", true)],
                Lookup::Create,
            ),
        ];
        for (name, found, want) in cases {
            assert_eq!(decide_lookup(&me, &found), want, "{name}");
        }
    }

    #[test]
    fn unclaimed_resources_are_those_no_object_records_or_names() {
        let objects = vec!["team/egress".to_string()];
        let claimed = vec!["ngw-2".to_string()];
        let mine = |id: &str, object: &str, leaving| Found {
            id: id.into(),
            tags: Ownership::new("blue", "NatGateway", "team", object, "uid")
                .tags()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            leaving,
        };
        let found = vec![
            // The object still exists (its id may not be recorded yet).
            mine("ngw-1", "egress", false),
            // Recorded by an object (adopted under another name).
            mine("ngw-2", "gone", false),
            // Nobody's.
            mine("ngw-3", "gone", false),
            // Being deleted.
            mine("ngw-4", "gone", true),
            // Another owner's.
            found("ngw-5", "green", "uid", false),
        ];
        assert_eq!(
            unclaimed(&found, "blue", "NatGateway", &objects, &claimed),
            vec!["ngw-3".to_string()]
        );
    }

    #[test]
    fn object_tag_values_fit_the_cloud_and_stay_distinct() {
        assert_eq!(object_tag_value("team", "egress"), "team/egress");
        let long_a = object_tag_value("team", &"a".repeat(200));
        let long_b = object_tag_value("team", &format!("{}b", "a".repeat(199)));
        assert_eq!(long_a.len(), MAX_TAG_VALUE);
        assert_eq!(long_b.len(), MAX_TAG_VALUE);
        assert_ne!(long_a, long_b);
        assert!(long_a.starts_with("team/aaaa"));
    }

    #[test]
    fn owner_ids_are_short_plain_words() {
        for good in ["prod-eu", "cluster-0f6f3c2e-8a3b", "a", "x.y_z"] {
            assert!(check_owner_id(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "slash/y", &"x".repeat(64)] {
            assert!(check_owner_id(bad).is_err(), "{bad}");
        }
        let tags = vec![(OWNER_ID_TAG.to_string(), "green".to_string())];
        assert_eq!(foreign_owner("blue", &tags), Some("green"));
        assert_eq!(foreign_owner("green", &tags), None);
        assert_eq!(foreign_owner("green", &[]), None);
    }

    #[test]
    fn tokens_are_stable_short_and_parameter_sensitive() {
        let uid = "0f6f3c2e-8a3b-4c1d-9e2f-123456789abc";
        let a = client_token(uid, &serde_json::json!({"VpcId": "vpc-1"}));
        assert_eq!(a, client_token(uid, &serde_json::json!({"VpcId": "vpc-1"})));
        assert_ne!(a, client_token(uid, &serde_json::json!({"VpcId": "vpc-2"})));
        assert_ne!(
            a,
            client_token("other", &serde_json::json!({"VpcId": "vpc-1"}))
        );
        assert!(a.len() <= 64 && a.is_ascii(), "{a}");
        assert!(a.starts_with("natop-0f6f3c2e8a3b4c1d9e2f123456789abc-"));
    }
}
