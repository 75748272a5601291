//! The entry controllers' decision: given the object, what its status
//! records and one snapshot of its table, what to do. Pure; the table tests
//! below cover every step.

use std::time::Duration;

use kube::ResourceExt;

use super::tables::{Row, Snapshot, locks_table};
use super::{EntryKind, EntryStatus};
use crate::api::{ManagementPolicy, PendingCreate};
use crate::controller::ownership;
use crate::controller::reconcile::ReconcileError;

/// What to do about the entry, decided on one snapshot.
#[derive(Debug)]
pub(crate) enum Step {
    /// Matches the spec.
    InSync,
    /// The entry is busy (or the table is): look again soon.
    Busy(String),
    /// Nothing found to observe (Observe policy).
    Missing(String),
    /// Differs, observed only.
    Drifted(String),
    /// Create (with the id of an earlier entry that vanished, if any).
    Create { earlier: Option<String> },
    /// Find out whether the entry holding our natural key is ours.
    Claim { candidate: String },
    /// The entry holding our natural key, in a table of a gateway this
    /// natop owns, matches the spec and no other object claims it: take it
    /// as this object's (no write).
    Adopt { candidate: String },
    /// Replay the create `status.creating` records, which differs from the
    /// one the spec now asks for, to learn which entry it made (if any).
    Replay,
    /// Modify entry `id`.
    Modify { id: String, drift: Vec<String> },
}

impl Step {
    pub(super) fn writes(&self) -> bool {
        matches!(
            self,
            Step::Create { .. } | Step::Claim { .. } | Step::Replay | Step::Modify { .. }
        )
    }

    /// Whether the step sends a create that `status.creating` must record first.
    pub(super) fn creates(&self) -> bool {
        matches!(self, Step::Create { .. } | Step::Claim { .. })
    }
}

/// The create the spec asks for now: the desired entry, replacing the
/// recorded id (if any).
pub(super) fn expected_create<K: EntryKind>(
    desired: &K::Desired,
    status: &K::Status,
) -> PendingCreate<K::Desired> {
    PendingCreate {
        entry: desired.clone(),
        replaces: status.fields().id.clone(),
    }
}

/// The entry as messages name it.
pub(super) fn describe_entry(id: Option<&str>) -> String {
    id.map_or_else(|| "the entry".to_string(), |id| format!("entry {id}"))
}

/// The entry's id: the one recorded for this table, else the annotation.
pub(super) fn known_id<K: EntryKind>(entry: &K, status: &K::Status, table: &str) -> Option<String> {
    let fields = status.fields();
    let recorded = fields
        .id
        .clone()
        .filter(|_| fields.table.as_deref().is_none_or(|t| t == table));
    recorded.or_else(|| {
        ownership::external_id(entry.annotations(), K::ID_PREFIXES)
            .ok()
            .flatten()
    })
}

/// How often a create refused because another entry holds the key is tried
/// again.
pub const KEY_TAKEN_RECHECK: Duration = Duration::from_secs(30);

/// Whether `error` is the cloud refusing a create because another entry
/// holds the key.
pub(super) fn key_taken<K: EntryKind>(error: &ReconcileError) -> bool {
    match error {
        ReconcileError::Cloud(e) => e.code().is_some_and(|code| K::KEY_TAKEN.contains(&code)),
        _ => false,
    }
}

/// An entry holding `desired`'s key that is being deleted, if any.
pub(super) fn deleting_holder<'r, K: EntryKind>(
    desired: &K::Desired,
    rows: &'r [K::Row],
) -> Option<&'r K::Row> {
    rows.iter()
        .find(|r| K::has_key(desired, r) && r.status().eq_ignore_ascii_case("Deleting"))
}

/// Whether an entry found by its natural key may be adopted without a
/// claim: the table is one of a gateway this natop's owner id marks, and
/// `claimed` says whether other objects claim an id.
pub(crate) struct Adoption<'a> {
    /// The table's gateway carries this natop's owner id.
    pub(crate) owned_table: bool,
    /// Whether another object recorded this entry id or names it by
    /// annotation. Asked only about an entry found by its key, so a decision
    /// never walks every object of the kind.
    pub(crate) claimed: &'a (dyn Fn(&str) -> bool + Sync),
}

impl Adoption<'_> {
    /// A table natop does not own: nothing in it is adopted without a claim.
    #[cfg(test)]
    pub(super) fn foreign() -> Adoption<'static> {
        Adoption {
            owned_table: false,
            claimed: &|_| false,
        }
    }
}

/// What to do about `entry`, whose status is `status`, given the table
/// `table` as `snapshot` shows it and the entry the spec asks for.
pub(crate) fn decide<K: EntryKind>(
    entry: &K,
    status: &K::Status,
    table: &str,
    desired: &K::Desired,
    snapshot: &Snapshot<K::Row>,
    adoption: &Adoption<'_>,
) -> Step {
    let id = known_id(entry, status, table);
    let observe = entry.common().management == ManagementPolicy::Observe;
    let by_id = id.as_deref().and_then(|id| snapshot.get(id));
    let by_key = || {
        snapshot
            .rows
            .iter()
            .find(|r| K::has_key(desired, r) && !r.status().eq_ignore_ascii_case("Deleting"))
    };
    let found = if observe {
        by_id.or_else(by_key)
    } else {
        by_id
    };
    let Some(row) = found else {
        if observe {
            return Step::Missing(match &id {
                Some(id) => format!("no entry {id} in {} {table}", K::TABLE),
                None => format!(
                    "no entry {} in {} {table}",
                    K::natural_key(desired),
                    K::TABLE
                ),
            });
        }
        if status
            .fields()
            .creating
            .as_ref()
            .is_some_and(|pending| **pending != expected_create::<K>(desired, status))
        {
            // A create went out for another spec (or replacing another id)
            // and its answer was never recorded: that entry may exist.
            return Step::Replay;
        }
        if let Some(candidate) = by_key() {
            let id = candidate.id().to_string();
            let adoptable = adoption.owned_table
                && status.fields().creating.is_none()
                && !(adoption.claimed)(&id)
                && !locks_table(candidate.status())
                && K::drift(desired, candidate).is_empty();
            return if adoptable {
                Step::Adopt { candidate: id }
            } else {
                Step::Claim { candidate: id }
            };
        }
        if let Some(leaving) = deleting_holder::<K>(desired, &snapshot.rows) {
            // A GitOps rename: the old object's entry still holds the key
            // while it is deleted. The cloud would refuse the create
            // (Forbidden.PortOccupied and the like): wait for it to go.
            return Step::Busy(format!(
                "entry {} holding {} in {} {table} is being deleted: creating once it is gone",
                leaving.id(),
                K::natural_key(desired),
                K::TABLE
            ));
        }
        return Step::Create {
            earlier: status.fields().id.clone(),
        };
    };
    if locks_table(row.status()) || row.status().eq_ignore_ascii_case("Deleting") {
        return Step::Busy(format!(
            "entry {} of {} {table} is {}",
            row.id(),
            K::TABLE,
            row.status()
        ));
    }
    let drift = K::drift(desired, row);
    match (drift.is_empty(), observe) {
        (true, _) => Step::InSync,
        (false, true) => Step::Drifted(drift.join("; ")),
        (false, false) => Step::Modify {
            id: row.id().to_string(),
            drift,
        },
    }
}

/// What deletion has learned so far about the object's entry; each read
/// [`decide_cleanup`] asks for fills one field.
#[derive(Debug)]
pub(super) struct CleanupFacts<R> {
    /// The recorded entry id.
    pub(super) id: Option<String>,
    /// The recorded entry, as the table's snapshot lists it.
    pub(super) listed: Option<R>,
    /// A read of the recorded entry alone, once made (`Some(None)`: gone).
    pub(super) confirmed: Option<Option<R>>,
    /// Whether `status.creating` records a create in flight.
    pub(super) creating: bool,
    /// What replaying that create named, once done (`Some(None)`: nothing
    /// that exists).
    pub(super) replayed: Option<Option<R>>,
    /// The entry holding the spec's key, once looked for.
    pub(super) holder: Option<Option<R>>,
    /// Whether a replayed create says the holder is this object's, once asked.
    pub(super) claimed: Option<bool>,
}

impl<R> Default for CleanupFacts<R> {
    fn default() -> Self {
        CleanupFacts {
            id: None,
            listed: None,
            confirmed: None,
            creating: false,
            replayed: None,
            holder: None,
            claimed: None,
        }
    }
}

/// What deletion does next: a read that tells more, or the verdict.
#[derive(Debug)]
pub(super) enum CleanupStep<R> {
    /// The recorded entry is missing from the listing: read it alone (a
    /// listing can skip an entry while its pages shift).
    Confirm(String),
    /// Replay the create `status.creating` records: its answer names the
    /// entry it made.
    Replay,
    /// Look for the entry holding the spec's key.
    FindHolder,
    /// Ask (with a replayed create) whether the holder is this object's: the
    /// create with no earlier entry, or the re-create that replaced `earlier`.
    Claim {
        /// The holder.
        candidate: R,
        /// The recorded entry it may have replaced.
        earlier: Option<String>,
    },
    /// This is the object's entry: delete it.
    Delete(R),
    /// Nothing of the object's exists.
    Gone,
}

/// The next deletion step, given what deletion has learned. Absence is
/// concluded only from a read of the one entry, a replayed create and a
/// claim, never from a listing alone.
pub(super) fn decide_cleanup<R: Clone>(facts: &CleanupFacts<R>) -> CleanupStep<R> {
    if let Some(row) = &facts.listed {
        return CleanupStep::Delete(row.clone());
    }
    if let Some(id) = &facts.id {
        match &facts.confirmed {
            None => return CleanupStep::Confirm(id.clone()),
            Some(Some(row)) => return CleanupStep::Delete(row.clone()),
            Some(None) => {}
        }
    }
    if facts.creating {
        match &facts.replayed {
            None => return CleanupStep::Replay,
            Some(Some(row)) => return CleanupStep::Delete(row.clone()),
            Some(None) => {}
        }
    }
    match (&facts.holder, facts.claimed) {
        (None, _) => CleanupStep::FindHolder,
        (Some(Some(holder)), None) => CleanupStep::Claim {
            candidate: holder.clone(),
            earlier: facts.id.clone(),
        },
        (Some(Some(holder)), Some(true)) => CleanupStep::Delete(holder.clone()),
        (Some(None), _) | (Some(Some(_)), Some(false)) => CleanupStep::Gone,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::api::forward_entry::{ForwardEntry, ForwardEntryStatus};
    use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
    use crate::controller::entries::forward::DnatRow;

    const TABLE: &str = "ftb-1";

    /// An object asking for external port `port`, with `extra` merged into
    /// its spec and `annotations` on it.
    fn object(
        port: &str,
        extra: serde_json::Value,
        annotations: serde_json::Value,
    ) -> ForwardEntry {
        let mut spec = json!({
            "natGatewayRef": {"name": "gw"},
            "externalIp": "47.1.2.3",
            "externalPort": port,
            "internalIp": "192.168.0.10",
            "internalPort": "8080",
            "ipProtocol": "TCP",
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "ForwardEntry",
            "metadata": {"name": "web", "namespace": "team", "uid": "uid-1", "annotations": annotations},
            "spec": spec,
        }))
        .unwrap()
    }

    fn entry(port: &str) -> ForwardEntry {
        object(port, json!({}), json!({}))
    }

    fn row(id: &str, port: &str, status: &str) -> ForwardTableEntry {
        ForwardTableEntry {
            external_ip: "47.1.2.3".into(),
            external_port: Some(port.into()),
            forward_entry_id: id.into(),
            forward_table_id: TABLE.into(),
            internal_ip: "192.168.0.10".into(),
            internal_port: Some("8080".into()),
            ip_protocol: "TCP".into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn snapshot(rows: Vec<ForwardTableEntry>) -> Snapshot<DnatRow> {
        Snapshot::read(rows.iter().map(DnatRow::from).collect(), Instant::now(), 1)
    }

    /// The status of an object with `id` recorded and a create of `port`
    /// (replacing `replaces`) in flight.
    fn status(id: Option<&str>, creating: Option<(&str, Option<&str>)>) -> ForwardEntryStatus {
        ForwardEntryStatus {
            id: id.map(String::from),
            forward_table_id: Some(TABLE.into()),
            creating: creating.map(|(port, replaces)| {
                Box::new(PendingCreate {
                    entry: entry(port).desired(&[]).unwrap(),
                    replaces: replaces.map(String::from),
                })
            }),
            ..Default::default()
        }
    }

    fn step_of(
        object: &ForwardEntry,
        status: &ForwardEntryStatus,
        rows: Vec<ForwardTableEntry>,
    ) -> String {
        let desired = object.desired(&[]).unwrap();
        format!(
            "{:?}",
            decide(
                object,
                status,
                TABLE,
                &desired,
                &snapshot(rows),
                &Adoption::foreign(),
            )
        )
    }

    fn step(spec_port: &str, status: &ForwardEntryStatus, rows: Vec<ForwardTableEntry>) -> String {
        step_of(&entry(spec_port), status, rows)
    }

    fn drifted(id: &str, change: impl FnOnce(&mut ForwardTableEntry)) -> ForwardTableEntry {
        let mut row = row(id, "80", "Available");
        change(&mut row);
        row
    }

    #[test]
    fn an_integer_port_decides_as_its_string() {
        let int = object(
            "80",
            json!({"externalPort": 80, "internalPort": 8080}),
            json!({}),
        );
        for (name, status, rows, expected) in [
            (
                "recorded and listed: in sync, not drifted",
                status(Some("fwd-1"), None),
                vec![row("fwd-1", "80", "Available")],
                "InSync",
            ),
            (
                "the key held by a string-port entry: claim, not create",
                status(None, None),
                vec![row("fwd-7", "80", "Available")],
                "Claim { candidate: \"fwd-7\" }",
            ),
            (
                "a create recorded from the string form is this spec's: no replay",
                status(None, Some(("80", None))),
                vec![],
                "Create { earlier: None }",
            ),
        ] {
            let step = step_of(&int, &status, rows.clone());
            assert!(step.starts_with(expected), "{name}: {step}");
            assert_eq!(step, step_of(&entry("80"), &status, rows), "{name}");
        }
    }

    #[test]
    fn decide_covers_every_step_of_a_managed_entry() {
        for (name, status, spec_port, rows, expected) in [
            (
                "nothing recorded, nothing listed: create",
                status(None, None),
                "80",
                vec![],
                "Create { earlier: None }",
            ),
            (
                "recorded, listed, matching: in sync",
                status(Some("fwd-1"), None),
                "80",
                vec![row("fwd-1", "80", "Available")],
                "InSync",
            ),
            (
                "recorded and Pending: busy",
                status(Some("fwd-1"), None),
                "80",
                vec![row("fwd-1", "80", "Pending")],
                "Busy(\"entry fwd-1 of forward table ftb-1 is Pending\")",
            ),
            (
                "recorded and Deleting (someone deleted it): busy",
                status(Some("fwd-1"), None),
                "80",
                vec![row("fwd-1", "80", "Deleting")],
                "Busy(\"entry fwd-1 of forward table ftb-1 is Deleting\")",
            ),
            (
                "the recorded entry vanished: re-create, naming it",
                status(Some("fwd-1"), None),
                "80",
                vec![row("fwd-2", "90", "Available")],
                "Create { earlier: Some(\"fwd-1\") }",
            ),
            (
                "another entry holds the key: claim (a replayed create says whose)",
                status(None, None),
                "80",
                vec![row("fwd-7", "80", "Available")],
                "Claim { candidate: \"fwd-7\" }",
            ),
            (
                "the holder of the key is being deleted (a rename): wait",
                status(None, None),
                "80",
                vec![row("fwd-7", "80", "Deleting")],
                "Busy(\"entry fwd-7 holding 47.1.2.3:80/TCP in forward table ftb-1 is being deleted",
            ),
            (
                "the key (external port) edited: modify",
                status(Some("fwd-1"), None),
                "81",
                vec![row("fwd-1", "80", "Available")],
                "Modify { id: \"fwd-1\", drift: [\"externalPort is \\\"80\\\", the spec says \\\"81\\\"\"] }",
            ),
            (
                "internal IP drifted: modify",
                status(Some("fwd-1"), None),
                "80",
                vec![drifted("fwd-1", |r| r.internal_ip = "192.168.0.11".into())],
                "Modify { id: \"fwd-1\", drift: [\"internalIp is \\\"192.168.0.11\\\"",
            ),
            (
                "internal port drifted: modify",
                status(Some("fwd-1"), None),
                "80",
                vec![drifted("fwd-1", |r| r.internal_port = Some("9090".into()))],
                "Modify { id: \"fwd-1\", drift: [\"internalPort is \\\"9090\\\"",
            ),
            (
                "protocol drifted: modify",
                status(Some("fwd-1"), None),
                "80",
                vec![drifted("fwd-1", |r| r.ip_protocol = "UDP".into())],
                "Modify { id: \"fwd-1\", drift: [\"ipProtocol is \\\"UDP\\\"",
            ),
            (
                "the cloud's case differs: still in sync",
                status(Some("fwd-1"), None),
                "80",
                vec![drifted("fwd-1", |r| r.ip_protocol = "tcp".into())],
                "InSync",
            ),
            (
                "an id recorded for another table is not looked for in this one: create",
                ForwardEntryStatus {
                    forward_table_id: Some("ftb-old".into()),
                    ..status(Some("fwd-1"), None)
                },
                "80",
                vec![row("fwd-1", "90", "Available")],
                "Create",
            ),
        ] {
            let got = step(spec_port, &status, rows);
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn decide_adopts_by_annotation_and_only_observes_under_observe() {
        let adopt = json!({"natop.dev/external-id": "fwd-5"});
        let observe = json!({"managementPolicy": "Observe"});
        for (name, object, status, rows, expected) in [
            (
                "adopting by annotation, matching: in sync",
                object("80", json!({}), adopt.clone()),
                status(None, None),
                vec![row("fwd-5", "80", "Available")],
                "InSync",
            ),
            (
                "adopting by annotation, differing: modify that entry",
                object("81", json!({}), adopt.clone()),
                status(None, None),
                vec![row("fwd-5", "80", "Available")],
                "Modify { id: \"fwd-5\"",
            ),
            (
                "adopting by annotation, not listed: create (the read of the one entry comes first)",
                object("80", json!({}), adopt.clone()),
                status(None, None),
                vec![],
                "Create { earlier: None }",
            ),
            (
                "observed, found by key, matching: in sync",
                object("80", observe.clone(), json!({})),
                status(None, None),
                vec![row("fwd-3", "80", "Available")],
                "InSync",
            ),
            (
                "observed, found by id, differing: drifted, never modified",
                object("80", observe.clone(), json!({})),
                status(Some("fwd-3"), None),
                vec![drifted("fwd-3", |r| r.internal_ip = "10.0.0.1".into())],
                "Drifted(\"internalIp is \\\"10.0.0.1\\\"",
            ),
            (
                "observed, nothing by key: missing, never created",
                object("80", observe.clone(), json!({})),
                status(None, None),
                vec![],
                "Missing(\"no entry 47.1.2.3:80/TCP in forward table ftb-1\")",
            ),
            (
                "observed, the recorded id gone: missing",
                object("80", observe.clone(), json!({})),
                status(Some("fwd-3"), None),
                vec![],
                "Missing(\"no entry fwd-3 in forward table ftb-1\")",
            ),
            (
                "observed and Pending: busy",
                object("80", observe, json!({})),
                status(Some("fwd-3"), None),
                vec![row("fwd-3", "80", "Pending")],
                "Busy",
            ),
        ] {
            let got = step_of(&object, &status, rows);
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn an_unclaimed_matching_entry_in_an_owned_table_is_adopted_without_a_write() {
        let object = entry("80");
        let desired = object.desired(&[]).unwrap();
        let owned = Adoption {
            owned_table: true,
            claimed: &|_| false,
        };
        let claimed = Adoption {
            owned_table: true,
            claimed: &|id| id == "fwd-7",
        };
        let foreign_table = Adoption::foreign();
        let other_ip = drifted("fwd-7", |r| r.internal_ip = "192.168.0.99".into());
        for (name, status, adoption, rows, expected) in [
            (
                "owned table, unclaimed, matching: adopt",
                status(None, None),
                &owned,
                vec![row("fwd-7", "80", "Available")],
                "Adopt { candidate: \"fwd-7\" }",
            ),
            (
                "another object claims it: claim (the cloud says whose)",
                status(None, None),
                &claimed,
                vec![row("fwd-7", "80", "Available")],
                "Claim { candidate: \"fwd-7\" }",
            ),
            (
                "a table natop does not own: claim",
                status(None, None),
                &foreign_table,
                vec![row("fwd-7", "80", "Available")],
                "Claim { candidate: \"fwd-7\" }",
            ),
            (
                "the holder differs from the spec: claim",
                status(None, None),
                &owned,
                vec![other_ip],
                "Claim { candidate: \"fwd-7\" }",
            ),
            (
                "the holder is Pending: claim",
                status(None, None),
                &owned,
                vec![row("fwd-7", "80", "Pending")],
                "Claim { candidate: \"fwd-7\" }",
            ),
            (
                "a create of this spec is in flight: claim proves it",
                status(None, Some(("80", None))),
                &owned,
                vec![row("fwd-7", "80", "Available")],
                "Claim { candidate: \"fwd-7\" }",
            ),
        ] {
            let step = decide(&object, &status, TABLE, &desired, &snapshot(rows), adoption);
            assert_eq!(format!("{step:?}"), expected, "{name}");
            assert!(!step.writes() || expected.starts_with("Claim"), "{name}");
        }
    }

    #[test]
    fn a_create_in_flight_for_another_spec_is_replayed_before_anything_else() {
        for (name, status, spec_port, rows, expected) in [
            (
                "the create of this spec in flight, key free: create (same token)",
                status(None, Some(("80", None))),
                "80",
                vec![],
                "Create { earlier: None }",
            ),
            (
                "the create of this spec in flight, key held: claim",
                status(None, Some(("80", None))),
                "80",
                vec![row("fwd-1", "80", "Available")],
                "Claim { candidate: \"fwd-1\" }",
            ),
            (
                "port edited after a create of 80 went out, 80 not listed: replay it",
                status(None, Some(("80", None))),
                "81",
                vec![],
                "Replay",
            ),
            (
                "port edited after a create of 80 went out, 80 listed: replay it",
                status(None, Some(("80", None))),
                "81",
                vec![row("fwd-1", "80", "Available")],
                "Replay",
            ),
            (
                "port edited, and the new key is held: the recorded create first",
                status(None, Some(("80", None))),
                "81",
                vec![row("fwd-2", "81", "Available")],
                "Replay",
            ),
            (
                "a re-create replacing another id is in flight: replay it",
                status(Some("fwd-0"), Some(("80", Some("fwd-9")))),
                "80",
                vec![],
                "Replay",
            ),
            (
                "the re-create of this spec replacing the recorded id: create",
                status(Some("fwd-0"), Some(("80", Some("fwd-0")))),
                "80",
                vec![],
                "Create { earlier: Some(\"fwd-0\") }",
            ),
            (
                "the recorded id is listed: a stale record changes nothing",
                status(Some("fwd-1"), Some(("80", None))),
                "81",
                vec![row("fwd-1", "80", "Available")],
                "Modify",
            ),
        ] {
            let got = step(spec_port, &status, rows);
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn which_steps_write_and_which_create() {
        for (step, writes, creates) in [
            (Step::InSync, false, false),
            (Step::Busy(String::new()), false, false),
            (Step::Missing(String::new()), false, false),
            (Step::Drifted(String::new()), false, false),
            (Step::Create { earlier: None }, true, true),
            (
                Step::Claim {
                    candidate: String::new(),
                },
                true,
                true,
            ),
            (Step::Replay, true, false),
            (
                Step::Modify {
                    id: String::new(),
                    drift: vec![],
                },
                true,
                false,
            ),
        ] {
            assert_eq!(
                (step.writes(), step.creates()),
                (writes, creates),
                "{step:?}"
            );
        }
    }

    #[test]
    fn the_record_survives_the_status_round_trip_and_clears_once_identified() {
        let mut status = status(None, Some(("80", None)));
        let pending = status.creating.clone().map(|b| *b).unwrap();
        assert_eq!(pending.entry.external_port, "80");
        assert_eq!(
            expected_create::<ForwardEntry>(&entry("80").desired(&[]).unwrap(), &status),
            pending
        );
        // As the API server stores it: the CRD's schema names these fields.
        let stored = serde_json::to_value(&status).unwrap()["creating"].clone();
        assert_eq!(
            stored,
            json!({"entry": {
                "externalIp": "47.1.2.3", "externalPort": "80", "internalIp": "192.168.0.10",
                "internalPort": "8080", "ipProtocol": "TCP", "portBreak": false,
            }})
        );
        let typed: ForwardEntryStatus =
            serde_json::from_value(json!({"creating": stored})).unwrap();
        assert_eq!(typed.creating.map(|b| *b), Some(pending));
        status.identified(TABLE, "fwd-1");
        assert_eq!(status.creating, None);
        assert_eq!(status.id.as_deref(), Some("fwd-1"));
    }

    #[test]
    fn a_create_refused_because_another_entry_holds_the_key_is_rechecked() {
        let refused = |code: &str| {
            ReconcileError::Cloud(crate::cloud::CloudError::Service {
                provider: crate::cloud::error::Provider::Alibaba,
                action: "CreateForwardEntry".into(),
                status: 400,
                code: code.into(),
                message: "refused".into(),
                request_id: "r-1".into(),
                category: crate::cloud::error::ErrorCategory::Conflict,
            })
        };
        assert!(key_taken::<ForwardEntry>(&refused(
            "Forbidden.PortOccupied"
        )));
        assert!(!key_taken::<ForwardEntry>(&refused(
            "QuotaExceeded.ForwardEntry"
        )));
    }

    #[test]
    fn decide_cleanup_concludes_absence_only_after_every_read() {
        let fwd = |id: &str| DnatRow::from(&row(id, "80", "Available"));
        let step = |facts: CleanupFacts<DnatRow>| match decide_cleanup(&facts) {
            CleanupStep::Confirm(id) => format!("confirm {id}"),
            CleanupStep::Replay => "replay".into(),
            CleanupStep::FindHolder => "find holder".into(),
            CleanupStep::Claim { candidate, earlier } => {
                format!("claim {} after {earlier:?}", candidate.id())
            }
            CleanupStep::Delete(row) => format!("delete {}", row.id()),
            CleanupStep::Gone => "gone".into(),
        };
        let recorded = || CleanupFacts {
            id: Some("fwd-1".into()),
            ..CleanupFacts::default()
        };
        for (name, facts, expected) in [
            (
                "listed: delete it",
                CleanupFacts {
                    listed: Some(fwd("fwd-1")),
                    ..recorded()
                },
                "delete fwd-1",
            ),
            (
                "recorded, not listed: read it alone",
                recorded(),
                "confirm fwd-1",
            ),
            (
                "the read finds it: delete it",
                CleanupFacts {
                    confirmed: Some(Some(fwd("fwd-1"))),
                    ..recorded()
                },
                "delete fwd-1",
            ),
            (
                "the read finds nothing: look for a re-create holding the key",
                CleanupFacts {
                    confirmed: Some(None),
                    ..recorded()
                },
                "find holder",
            ),
            (
                "a create in flight: replay it first",
                CleanupFacts {
                    confirmed: Some(None),
                    creating: true,
                    ..recorded()
                },
                "replay",
            ),
            (
                "the replay names an entry: delete it",
                CleanupFacts {
                    confirmed: Some(None),
                    creating: true,
                    replayed: Some(Some(fwd("fwd-2"))),
                    ..recorded()
                },
                "delete fwd-2",
            ),
            (
                "the replay made nothing, a holder of the key: claim it as the re-create",
                CleanupFacts {
                    confirmed: Some(None),
                    creating: true,
                    replayed: Some(None),
                    holder: Some(Some(fwd("fwd-3"))),
                    ..recorded()
                },
                "claim fwd-3 after Some(\"fwd-1\")",
            ),
            (
                "the holder is this object's: delete it",
                CleanupFacts {
                    confirmed: Some(None),
                    holder: Some(Some(fwd("fwd-3"))),
                    claimed: Some(true),
                    ..recorded()
                },
                "delete fwd-3",
            ),
            (
                "the holder is another's: gone",
                CleanupFacts {
                    confirmed: Some(None),
                    holder: Some(Some(fwd("fwd-3"))),
                    claimed: Some(false),
                    ..recorded()
                },
                "gone",
            ),
            (
                "nobody holds the key: gone",
                CleanupFacts {
                    confirmed: Some(None),
                    holder: Some(None),
                    ..recorded()
                },
                "gone",
            ),
            (
                "nothing recorded, a create in flight: replay it",
                CleanupFacts {
                    creating: true,
                    ..CleanupFacts::default()
                },
                "replay",
            ),
            (
                "nothing recorded, nothing in flight: look for the key's holder",
                CleanupFacts::default(),
                "find holder",
            ),
            (
                "nothing recorded, a holder: claim it as the first create",
                CleanupFacts {
                    holder: Some(Some(fwd("fwd-4"))),
                    ..CleanupFacts::default()
                },
                "claim fwd-4 after None",
            ),
            (
                "nothing recorded, nobody holds the key: gone",
                CleanupFacts {
                    holder: Some(None),
                    ..CleanupFacts::default()
                },
                "gone",
            ),
        ] {
            assert_eq!(step(facts), expected, "{name}");
        }
    }
}
