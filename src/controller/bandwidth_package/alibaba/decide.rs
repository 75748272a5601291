//! What to do about an Alibaba bandwidth package, decided from the spec,
//! what the object recorded and the package as the cloud shows it; and what
//! deletion does. Pure functions, table-tested below.

use crate::api::bandwidth_package::{AlibabaBandwidthPackage, PackageIpAddress};
use crate::cloud::alibaba::actions::bandwidth_package::BandwidthPackage as CloudPackage;

/// At most this many IPs per RemoveBandwidthPackageIps call.
const MAX_REMOVED_PER_CALL: usize = 20;

/// What a reconcile knows before it decides.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The shared bandwidth the package was converted into, if it was.
    pub converted: Option<String>,
    /// `managementPolicy: Observe`.
    pub observe: bool,
    /// The package looked for: the recorded id, else the annotation's.
    pub wanted: Option<String>,
    /// That package, as the cloud shows it.
    pub package: Option<CloudPackage>,
}

/// The step for a package with `spec`, given `input`.
pub fn decide(spec: &AlibabaBandwidthPackage, input: &Input) -> Step {
    if let Some(shared) = &input.converted {
        return Step::Converted(shared.clone());
    }
    let Some(cloud) = &input.package else {
        return if input.observe {
            Step::NotFound(input.wanted.clone())
        } else {
            Step::Create {
                earlier: input.wanted.clone(),
            }
        };
    };
    let step = changes(spec, cloud);
    match step.differences() {
        Some(what) if input.observe => Step::Drifted(what),
        _ => step,
    }
}

/// What a look-up of the packages on a gateway this natop owns says for an
/// object with nothing recorded (a cluster rebuilt from Git): the legacy
/// package API takes no tags, so a package is this object's when it is on
/// the object's gateway, no other object claims it, and it is what the spec
/// describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoptable {
    /// None is left for this object: buy one.
    None,
    /// This one: adopt it.
    One(String),
    /// Another object with the same spec on the gateway has a create in
    /// flight whose package is not recorded yet: it cannot be told from a
    /// package to adopt, so look again soon.
    Wait,
}

/// Where the object stands among the objects on its gateway that ask for
/// the same package and have none recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    /// How many of them come first (oldest first, then by name).
    pub rank: usize,
    /// Whether one of them has a create in flight.
    pub in_flight: bool,
}

/// Which of `on_gateway` (the packages of the object's gateway) this object
/// adopts: those that fit `spec` and are not among `claimed` (the ids other
/// objects recorded or name), oldest first, are paired in order with the
/// objects that ask for the same package (`queue`), so that two objects
/// never take the same one, whatever order they are reconciled in.
pub fn adoptable(
    spec: &AlibabaBandwidthPackage,
    on_gateway: &[CloudPackage],
    claimed: &[String],
    queue: &Queue,
) -> Adoptable {
    if queue.in_flight {
        return Adoptable::Wait;
    }
    let mut fits: Vec<&CloudPackage> = on_gateway
        .iter()
        .filter(|p| !claimed.contains(&p.bandwidth_package_id))
        .filter(|p| p.isp.is_empty() || p.isp == spec.isp.as_str())
        .filter(|p| {
            p.internet_charge_type.is_empty()
                || p.internet_charge_type == spec.internet_charge_type.as_str()
        })
        .filter(|p| spec.zone.as_ref().is_none_or(|z| *z == p.zone_id))
        .filter(|p| p.status != "Deleting" && p.bandwidth == Some(spec.bandwidth))
        .filter(|p| p.public_ip_addresses.len() == spec.ip_count as usize)
        .filter(|p| spec.name.as_ref().is_none_or(|n| *n == p.name))
        .filter(|p| {
            spec.description
                .as_ref()
                .is_none_or(|d| *d == p.description)
        })
        .collect();
    fits.sort_by(|a, b| {
        (&a.creation_time, &a.bandwidth_package_id)
            .cmp(&(&b.creation_time, &b.bandwidth_package_id))
    });
    fits.get(queue.rank).map_or(Adoptable::None, |p| {
        Adoptable::One(p.bandwidth_package_id.clone())
    })
}

/// Whether two objects ask for the same package (so that one could take
/// the other's).
pub fn same_package(a: &AlibabaBandwidthPackage, b: &AlibabaBandwidthPackage) -> bool {
    a.nat_gateway_ref == b.nat_gateway_ref
        && a.nat_gateway_id == b.nat_gateway_id
        && a.bandwidth == b.bandwidth
        && a.ip_count == b.ip_count
        && a.name == b.name
        && a.description == b.description
        && a.zone == b.zone
        && a.isp == b.isp
        && a.internet_charge_type == b.internet_charge_type
}

/// What deletion knows before it decides.
#[derive(Debug, Clone, Default)]
pub struct CleanupInput {
    /// The shared bandwidth the package was converted into, if it was.
    pub converted: Option<String>,
    /// The recorded package (an annotation never adopted names nothing).
    pub recorded: Option<String>,
    /// A create was sent (or about to be) and its package is not recorded.
    pub ordering: bool,
    /// Whether the recorded package is listed.
    pub listed: Option<String>,
}

/// What deletion does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupStep {
    /// Converted into this shared bandwidth: left alone; the object goes.
    KeepShared(String),
    /// Nothing was made; the object goes.
    NothingMade,
    /// The recorded package is gone; the object goes.
    Gone(String),
    /// Send the unrecorded create again: its answer names the package it
    /// made (replacing `earlier`), which is then deleted.
    Replay {
        /// The package the create replaced.
        earlier: Option<String>,
    },
    /// Delete this package.
    Delete(String),
}

/// The deletion step, given `input`.
pub fn decide_cleanup(input: &CleanupInput) -> CleanupStep {
    if let Some(shared) = &input.converted {
        return CleanupStep::KeepShared(shared.clone());
    }
    match (&input.listed, &input.recorded, input.ordering) {
        (Some(found), _, _) => CleanupStep::Delete(found.clone()),
        // A create was sent (or about to be) and its package never recorded
        // (natop stopped, or the answer was lost): the same create, sent
        // again, answers with the package it made.
        (None, earlier, true) => CleanupStep::Replay {
            earlier: earlier.clone(),
        },
        (None, None, false) => CleanupStep::NothingMade,
        (None, Some(id), false) => CleanupStep::Gone(id.clone()),
    }
}

/// What a write should do, decided from the spec and the package.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Matches the spec.
    InSync,
    /// The cloud is busy with it.
    Wait(String),
    /// Convert it into shared bandwidth.
    Convert,
    /// Set the bandwidth, Mbps.
    Bandwidth(u32),
    /// Set the name and description (those given).
    Attribute {
        /// The name.
        name: Option<String>,
        /// The description.
        description: Option<String>,
    },
    /// Add this many IPs.
    AddIps(u32),
    /// Remove these (idle) IPs.
    RemoveIps(Vec<String>),
    /// The IPs to remove are in use.
    Blocked(Vec<PackageIpAddress>),
    /// Converted into shared bandwidth (the id) earlier: nothing to manage.
    Converted(String),
    /// Observed, and there is no package (the id looked for, if any).
    NotFound(Option<String>),
    /// Buy the package (replacing the one with this id, now gone).
    Create {
        /// The package this object had.
        earlier: Option<String>,
    },
    /// Observed, and the package differs.
    Drifted(String),
}

impl Step {
    pub fn differences(&self) -> Option<String> {
        Some(match self {
            Step::InSync
            | Step::Wait(_)
            | Step::Converted(_)
            | Step::NotFound(_)
            | Step::Create { .. }
            | Step::Drifted(_) => return None,
            Step::Convert => "convertToCommonBandwidth is true".into(),
            Step::Bandwidth(b) => format!("bandwidth should be {b} Mbps"),
            Step::Attribute { .. } => "name or description differ".into(),
            Step::AddIps(n) => format!("{n} IPs short"),
            Step::RemoveIps(ips) => format!("{} IPs too many", ips.len()),
            Step::Blocked(ips) => format!("{} IPs too many", ips.len()),
        })
    }
}

/// The change the package needs; one change at a time (the package is
/// `Modifying`-free in the API, but one write per reconcile keeps every
/// write observed before the next).
pub fn changes(spec: &AlibabaBandwidthPackage, cloud: &CloudPackage) -> Step {
    if cloud.status != "Available" {
        return Step::Wait(format!("package is {}", cloud.status));
    }
    if spec.convert_to_common_bandwidth {
        return Step::Convert;
    }
    if cloud.bandwidth != Some(spec.bandwidth) {
        return Step::Bandwidth(spec.bandwidth);
    }
    let name = spec.name.clone().filter(|n| *n != cloud.name);
    let description = spec.description.clone().filter(|d| *d != cloud.description);
    if name.is_some() || description.is_some() {
        return Step::Attribute { name, description };
    }
    let held = cloud.public_ip_addresses.len();
    let wanted = spec.ip_count as usize;
    if held < wanted {
        return Step::AddIps(u32::try_from(wanted - held).unwrap_or(u32::MAX));
    }
    if held > wanted {
        let tail = &cloud.public_ip_addresses[wanted..];
        let busy: Vec<PackageIpAddress> = tail
            .iter()
            .filter(|ip| !is_idle(&ip.using_status))
            .map(|ip| PackageIpAddress {
                ip: ip.ip_address.clone(),
                allocation_id: ip.allocation_id.clone(),
                using_status: ip.using_status.clone(),
            })
            .collect();
        if !busy.is_empty() {
            return Step::Blocked(busy);
        }
        return Step::RemoveIps(
            tail.iter()
                .rev()
                .take(MAX_REMOVED_PER_CALL)
                .map(|ip| ip.ip_address.clone())
                .collect(),
        );
    }
    Step::InSync
}

/// `Idle` (or `Available`, as one reference spells it): used by no entry.
pub fn is_idle(using_status: &str) -> bool {
    using_status.eq_ignore_ascii_case("idle") || using_status.eq_ignore_ascii_case("available")
}

#[cfg(test)]
mod adoption_tests {
    use super::*;
    use crate::cloud::alibaba::actions::bandwidth_package::PublicIpAddress;

    fn spec() -> AlibabaBandwidthPackage {
        serde_json::from_value(serde_json::json!({
            "natGatewayRef": {"name": "gw"}, "bandwidth": 10, "ipCount": 2
        }))
        .unwrap()
    }

    fn package(id: &str, bandwidth: u32, ips: usize) -> CloudPackage {
        CloudPackage {
            bandwidth_package_id: id.into(),
            bandwidth: Some(bandwidth),
            status: "Available".into(),
            public_ip_addresses: (0..ips)
                .map(|n| PublicIpAddress {
                    allocation_id: format!("{id}-ip{n}"),
                    ip_address: format!("47.0.0.{n}"),
                    using_status: "Available".into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn packages_on_an_owned_gateway_are_paired_with_the_objects_asking_for_them() {
        let claimed = vec!["bwp-2".to_string()];
        let first = Queue::default();
        let second = Queue {
            rank: 1,
            in_flight: false,
        };
        let waiting = Queue {
            rank: 0,
            in_flight: true,
        };
        let aged = |id: &str, at: &str| CloudPackage {
            creation_time: at.into(),
            ..package(id, 10, 2)
        };
        for (name, on_gateway, queue, want) in [
            ("nothing there", vec![], &first, Adoptable::None),
            (
                "one that fits",
                vec![package("bwp-1", 10, 2)],
                &first,
                Adoptable::One("bwp-1".into()),
            ),
            (
                "another bandwidth",
                vec![package("bwp-1", 20, 2)],
                &first,
                Adoptable::None,
            ),
            (
                "other IPs",
                vec![package("bwp-1", 10, 3)],
                &first,
                Adoptable::None,
            ),
            (
                "claimed by another object",
                vec![package("bwp-2", 10, 2)],
                &first,
                Adoptable::None,
            ),
            (
                "one fits, one is claimed",
                vec![package("bwp-1", 10, 2), package("bwp-2", 10, 2)],
                &first,
                Adoptable::One("bwp-1".into()),
            ),
            (
                "two fit: the first object takes the older",
                vec![aged("bwp-3", "2026-01-02"), aged("bwp-1", "2026-01-01")],
                &first,
                Adoptable::One("bwp-1".into()),
            ),
            (
                "two fit: the second object takes the younger",
                vec![aged("bwp-3", "2026-01-02"), aged("bwp-1", "2026-01-01")],
                &second,
                Adoptable::One("bwp-3".into()),
            ),
            (
                "one fits, and the second object finds none left",
                vec![package("bwp-1", 10, 2)],
                &second,
                Adoptable::None,
            ),
            (
                "another object's create is in flight",
                vec![package("bwp-1", 10, 2)],
                &waiting,
                Adoptable::Wait,
            ),
            (
                "one being deleted does not fit",
                vec![CloudPackage {
                    status: "Deleting".into(),
                    ..package("bwp-1", 10, 2)
                }],
                &first,
                Adoptable::None,
            ),
            (
                "the spec sets no name: any name fits",
                vec![CloudPackage {
                    name: "other".into(),
                    ..package("bwp-1", 10, 2)
                }],
                &first,
                Adoptable::One("bwp-1".into()),
            ),
        ] {
            assert_eq!(
                adoptable(&spec(), &on_gateway, &claimed, queue),
                want,
                "{name}"
            );
        }
        let mut other = spec();
        assert!(same_package(&spec(), &other));
        other.bandwidth = 20;
        assert!(!same_package(&spec(), &other));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cloud::alibaba::actions::bandwidth_package::PublicIpAddress;

    fn spec() -> AlibabaBandwidthPackage {
        serde_json::from_value(serde_json::json!({
            "natGatewayId": "ngw-1", "bandwidth": 10, "ipCount": 2
        }))
        .unwrap()
    }

    /// A package with IPs `(address, usingStatus)`.
    pub(crate) fn cloud(ips: &[(&str, &str)]) -> CloudPackage {
        CloudPackage {
            bandwidth_package_id: "bwp-1".into(),
            status: "Available".into(),
            bandwidth: Some(10),
            public_ip_addresses: ips
                .iter()
                .map(|(ip, using)| PublicIpAddress {
                    ip_address: ip.to_string(),
                    allocation_id: format!("nateip-{ip}"),
                    using_status: using.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    const TWO: [(&str, &str); 2] = [("1.1.1.1", "Idle"), ("1.1.1.2", "Idle")];

    fn input(observe: bool, wanted: Option<&str>, package: Option<CloudPackage>) -> Input {
        Input {
            converted: None,
            observe,
            wanted: wanted.map(String::from),
            package,
        }
    }

    #[test]
    fn decide_covers_create_adopt_sync_drift_and_conversion() {
        let mut wider = spec();
        wider.bandwidth = 20;
        let mut creating = cloud(&TWO);
        creating.status = "Creating".into();
        for (name, spec, input, expected) in [
            (
                "nothing recorded: create",
                spec(),
                input(false, None, None),
                Step::Create { earlier: None },
            ),
            (
                "the recorded package vanished: create again, naming it",
                spec(),
                input(false, Some("bwp-1"), None),
                Step::Create {
                    earlier: Some("bwp-1".into()),
                },
            ),
            (
                "observed, nothing named: not found, never bought",
                spec(),
                input(true, None, None),
                Step::NotFound(None),
            ),
            (
                "observed, the named package gone: not found",
                spec(),
                input(true, Some("bwp-1"), None),
                Step::NotFound(Some("bwp-1".into())),
            ),
            (
                "recorded or adopted, matching: in sync",
                spec(),
                input(false, Some("bwp-1"), Some(cloud(&TWO))),
                Step::InSync,
            ),
            (
                "observed, matching: in sync",
                spec(),
                input(true, Some("bwp-1"), Some(cloud(&TWO))),
                Step::InSync,
            ),
            (
                "observed, differing: drifted, never changed",
                wider.clone(),
                input(true, Some("bwp-1"), Some(cloud(&TWO))),
                Step::Drifted("bandwidth should be 20 Mbps".into()),
            ),
            (
                "managed, differing: change it",
                wider,
                input(false, Some("bwp-1"), Some(cloud(&TWO))),
                Step::Bandwidth(20),
            ),
            (
                "busy: wait, observed or not",
                spec(),
                input(true, Some("bwp-1"), Some(creating)),
                Step::Wait("package is Creating".into()),
            ),
            (
                "converted earlier: nothing more to manage",
                spec(),
                Input {
                    converted: Some("cbwp-1".into()),
                    ..input(false, Some("bwp-1"), None)
                },
                Step::Converted("cbwp-1".into()),
            ),
        ] {
            assert_eq!(decide(&spec, &input), expected, "{name}");
        }
    }

    #[test]
    fn decide_cleanup_covers_every_deletion_path() {
        let cleanup =
            |converted: Option<&str>, recorded: Option<&str>, ordering, listed: Option<&str>| {
                decide_cleanup(&CleanupInput {
                    converted: converted.map(String::from),
                    recorded: recorded.map(String::from),
                    ordering,
                    listed: listed.map(String::from),
                })
            };
        for (name, got, expected) in [
            (
                "converted: the shared bandwidth stays",
                cleanup(Some("cbwp-1"), Some("bwp-1"), false, Some("bwp-1")),
                CleanupStep::KeepShared("cbwp-1".into()),
            ),
            (
                "listed: delete it",
                cleanup(None, Some("bwp-1"), false, Some("bwp-1")),
                CleanupStep::Delete("bwp-1".into()),
            ),
            (
                "nothing recorded or sent: nothing made",
                cleanup(None, None, false, None),
                CleanupStep::NothingMade,
            ),
            (
                "recorded, not listed: gone",
                cleanup(None, Some("bwp-1"), false, None),
                CleanupStep::Gone("bwp-1".into()),
            ),
            (
                "a create in flight, unrecorded: replay it",
                cleanup(None, None, true, None),
                CleanupStep::Replay { earlier: None },
            ),
            (
                "a re-create in flight: replay it, naming the package it replaced",
                cleanup(None, Some("bwp-0"), true, None),
                CleanupStep::Replay {
                    earlier: Some("bwp-0".into()),
                },
            ),
        ] {
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn one_change_at_a_time_in_a_fixed_order() {
        assert_eq!(changes(&spec(), &cloud(&TWO)), Step::InSync);
        let mut s = spec();
        s.bandwidth = 20;
        s.name = Some("edge".into());
        assert_eq!(changes(&s, &cloud(&TWO)), Step::Bandwidth(20));
        s.bandwidth = 10;
        assert_eq!(
            changes(&s, &cloud(&TWO)),
            Step::Attribute {
                name: Some("edge".into()),
                description: None
            }
        );
        let mut creating = cloud(&TWO);
        creating.status = "Creating".into();
        assert!(matches!(changes(&s, &creating), Step::Wait(_)));
        let mut c = spec();
        c.convert_to_common_bandwidth = true;
        assert_eq!(changes(&c, &cloud(&TWO)), Step::Convert);
    }

    #[test]
    fn ip_count_grows_and_shrinks_from_the_tail_only_while_idle() {
        let mut s = spec();
        s.ip_count = 4;
        let two = [("1.1.1.1", "Idle"), ("1.1.1.2", "UsedByForwardTable")];
        assert_eq!(changes(&s, &cloud(&two)), Step::AddIps(2));
        s.ip_count = 1;
        // The second IP is in use: nothing is removed, the busy one is named.
        match changes(&s, &cloud(&two)) {
            Step::Blocked(busy) => assert_eq!(busy[0].ip, "1.1.1.2"),
            other => panic!("{other:?}"),
        }
        // An idle tail goes, even when an earlier IP is in use.
        let three = [
            ("1.1.1.1", "UsedBySnatTable"),
            ("1.1.1.2", "idle"),
            ("1.1.1.3", "Idle"),
        ];
        assert_eq!(
            changes(&s, &cloud(&three)),
            Step::RemoveIps(vec!["1.1.1.3".into(), "1.1.1.2".into()])
        );
        let many: Vec<(String, &str)> = (0..30).map(|i| (format!("1.1.2.{i}"), "Idle")).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(ip, u)| (ip.as_str(), *u)).collect();
        match changes(&s, &cloud(&many)) {
            Step::RemoveIps(ips) => assert_eq!(ips.len(), MAX_REMOVED_PER_CALL),
            other => panic!("{other:?}"),
        }
    }
}
