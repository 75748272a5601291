//! What to do about an Ipv6InternetBandwidth, decided from the spec, what
//! natop knows of its own bandwidth and the address as the cloud shows it:
//! a pure function, table-tested below.

use crate::api::ipv6_internet_bandwidth::Ipv6InternetBandwidthSpec;
use crate::cloud::alibaba::actions::ipv6::Ipv6Address;

/// What natop knows of the object's bandwidth before it looks at the cloud.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// The bandwidth id in the status (read fresh before any purchase).
    pub recorded: Option<String>,
    /// The bandwidth `natop.dev/external-id` names, when this object may adopt it.
    pub annotated: Option<String>,
    /// `managementPolicy: Observe`.
    pub observe: bool,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The address does not exist in the region.
    NoAddress,
    /// The address belongs to another IPv6 gateway than the spec names.
    WrongGateway {
        /// The gateway it belongs to.
        gateway: String,
    },
    /// The address carries a bandwidth other than the one to adopt or
    /// observe.
    Mismatch {
        /// The bandwidth found.
        found: String,
        /// The one recorded or named.
        wanted: Option<String>,
    },
    /// Buy the bandwidth; the cloud answers a replay of an earlier purchase
    /// with the bandwidth it bought (same ClientToken).
    Allocate {
        /// The id of a bandwidth this object had, now gone.
        earlier: Option<String>,
    },
    /// Observed, and the address has no bandwidth.
    Missing,
    /// The address is busy: look again soon.
    Wait {
        /// The address's state.
        state: String,
    },
    /// The bandwidth is billed otherwise than the spec says, which cannot change.
    ChargeDiffers {
        /// How it is billed.
        charge: String,
    },
    /// Matches the spec.
    InSync,
    /// Observed, and the bandwidth differs.
    Drifted {
        /// Its bandwidth, Mbps.
        was: u32,
    },
    /// Set the bandwidth to the spec's.
    Resize {
        /// Its bandwidth now, Mbps.
        was: u32,
    },
}

/// The id of the address's bandwidth, when it has one.
pub fn bandwidth_id(address: &Ipv6Address) -> Option<&str> {
    address
        .ipv6_internet_bandwidth
        .as_ref()
        .map(|b| b.ipv6_internet_bandwidth_id.as_str())
        .filter(|id| !id.is_empty())
}

/// Whether the bandwidth the address carries (if any) is this object's to
/// show in its status: none, or the one recorded or to adopt.
pub fn is_ours(known: &Known, address: &Ipv6Address) -> bool {
    let wanted = known.recorded.as_deref().or(known.annotated.as_deref());
    bandwidth_id(address).is_none_or(|found| Some(found) == wanted)
}

/// Decide, from the spec, what natop knows and the address (`None`: it
/// does not exist).
pub fn decide(
    spec: &Ipv6InternetBandwidthSpec,
    known: &Known,
    address: Option<&Ipv6Address>,
) -> Step {
    let Some(address) = address else {
        return Step::NoAddress;
    };
    if address.ipv6_gateway_id != spec.ipv6_gateway_id {
        return Step::WrongGateway {
            gateway: address.ipv6_gateway_id.clone(),
        };
    }
    let wanted = known.recorded.as_deref().or(known.annotated.as_deref());
    match bandwidth_id(address) {
        // Ours (or the one to adopt): look at it below.
        Some(found) if Some(found) == wanted => {}
        // Not ours: the ClientToken tells whether it answers an earlier
        // purchase of this object whose answer was lost.
        Some(found) if known.observe || known.annotated.is_some() => {
            return Step::Mismatch {
                found: found.to_string(),
                wanted: wanted.map(String::from),
            };
        }
        Some(_) => {
            return Step::Allocate {
                earlier: known.recorded.clone(),
            };
        }
        None if known.observe => return Step::Missing,
        None => {
            return Step::Allocate {
                earlier: known.recorded.clone(),
            };
        }
    }
    if address.status != "Available" {
        return Step::Wait {
            state: address.status.clone(),
        };
    }
    let bandwidth = address.ipv6_internet_bandwidth.as_ref();
    let charge = bandwidth
        .map(|b| b.internet_charge_type.as_str())
        .filter(|c| !c.is_empty());
    if let Some(charge) = charge
        && charge != spec.internet_charge_type.as_str()
    {
        return Step::ChargeDiffers {
            charge: charge.to_string(),
        };
    }
    let was = bandwidth.and_then(|b| b.bandwidth);
    match (was == Some(spec.bandwidth), known.observe) {
        (true, _) => Step::InSync,
        (false, true) => Step::Drifted {
            was: was.unwrap_or_default(),
        },
        (false, false) => Step::Resize {
            was: was.unwrap_or_default(),
        },
    }
}

/// What replaying this object's allocate (its ClientToken, with no earlier
/// bandwidth) answered, during deletion of an object with no recorded id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// The bandwidth it names (the address's, when the object bought it).
    Bandwidth(String),
    /// The token was used with other parameters: probably this object's
    /// bandwidth, but not certainly.
    OtherParameters,
    /// Refused for good: the token never bought anything.
    Refused,
}

/// What deletion does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupStep {
    /// No address, or no bandwidth on it: nothing to delete.
    Gone,
    /// The bandwidth on the address is not this object's: left alone.
    NotOurs,
    /// No id is recorded: replay the allocate to learn whether the
    /// address's bandwidth (the id) is this object's.
    Replay(String),
    /// Cannot tell whether the bandwidth (the id) is this object's.
    Unrecorded(String),
    /// The address is between states.
    Wait {
        /// Its state.
        status: String,
    },
    /// Delete this bandwidth.
    Delete(String),
}

/// The deletion step, given the id natop knows (recorded or adopted), the
/// address as the cloud shows it and, once made, what a replay answered.
pub fn decide_cleanup(
    known: Option<&str>,
    address: Option<&Ipv6Address>,
    replayed: Option<&Replayed>,
) -> CleanupStep {
    let Some(address) = address else {
        return CleanupStep::Gone;
    };
    let Some(current) = bandwidth_id(address) else {
        return CleanupStep::Gone;
    };
    let ours = match (known, replayed) {
        (Some(id), _) => id == current,
        (None, None) => return CleanupStep::Replay(current.to_string()),
        (None, Some(Replayed::Bandwidth(id))) => id == current,
        (None, Some(Replayed::OtherParameters)) => {
            return CleanupStep::Unrecorded(current.to_string());
        }
        (None, Some(Replayed::Refused)) => false,
    };
    if !ours {
        return CleanupStep::NotOurs;
    }
    if address.status != "Available" {
        return CleanupStep::Wait {
            status: address.status.clone(),
        };
    }
    CleanupStep::Delete(current.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cloud::alibaba::actions::ipv6::Ipv6InternetBandwidth;

    const GW: &str = "ipv6gw-1";
    const ADDRESS: &str = "ipv6-1";

    fn spec(bandwidth: u32, charge: &str) -> Ipv6InternetBandwidthSpec {
        serde_json::from_value(json!({
            "ipv6AddressId": ADDRESS,
            "ipv6GatewayId": GW,
            "bandwidth": bandwidth,
            "internetChargeType": charge,
        }))
        .unwrap()
    }

    /// The address, with bandwidth `bandwidth` (`id`, Mbps, charge) if any.
    fn address(state: &str, bandwidth: Option<(&str, u32, &str)>) -> Ipv6Address {
        Ipv6Address {
            ipv6_address_id: ADDRESS.into(),
            ipv6_gateway_id: GW.into(),
            status: state.into(),
            ipv6_internet_bandwidth: bandwidth.map(|(id, mbps, charge)| Ipv6InternetBandwidth {
                ipv6_internet_bandwidth_id: id.into(),
                bandwidth: Some(mbps),
                internet_charge_type: charge.into(),
                ..Ipv6InternetBandwidth::default()
            }),
            ..Ipv6Address::default()
        }
    }

    fn known(recorded: Option<&str>, annotated: Option<&str>, observe: bool) -> Known {
        Known {
            recorded: recorded.map(String::from),
            annotated: annotated.map(String::from),
            observe,
        }
    }

    #[test]
    fn every_decision() {
        let manage = known(None, None, false);
        let ours = known(Some("bw-1"), None, false);
        let adopt = known(None, Some("bw-1"), false);
        let observe = known(None, Some("bw-1"), true);
        let bought = Some(("bw-1", 20, "PayByBandwidth"));
        let available = address("Available", bought);
        let mut elsewhere = available.clone();
        elsewhere.ipv6_gateway_id = "ipv6gw-2".into();
        let step = |name: &str, spec, known: &Known, address: Option<&Ipv6Address>, want: Step| {
            assert_eq!(decide(&spec, known, address), want, "{name}");
        };
        let s20 = || spec(20, "PayByBandwidth");
        step("no address", s20(), &manage, None, Step::NoAddress);
        step(
            "another gateway's address",
            s20(),
            &ours,
            Some(&elsewhere),
            Step::WrongGateway {
                gateway: "ipv6gw-2".into(),
            },
        );
        step(
            "create: nothing recorded, nothing there",
            s20(),
            &manage,
            Some(&address("Available", None)),
            Step::Allocate { earlier: None },
        );
        step(
            "a bandwidth natop did not record: replay the purchase (the token tells)",
            s20(),
            &manage,
            Some(&available),
            Step::Allocate { earlier: None },
        );
        step(
            "vanished: bought again, replacing the recorded id",
            s20(),
            &ours,
            Some(&address("Available", None)),
            Step::Allocate {
                earlier: Some("bw-1".into()),
            },
        );
        step(
            "replaced out of band: buy again (the cloud refuses while one exists)",
            s20(),
            &ours,
            Some(&address("Available", Some(("bw-9", 20, "PayByBandwidth")))),
            Step::Allocate {
                earlier: Some("bw-1".into()),
            },
        );
        step("in sync", s20(), &ours, Some(&available), Step::InSync);
        step(
            "adopt by annotation",
            s20(),
            &adopt,
            Some(&available),
            Step::InSync,
        );
        step(
            "the annotation names another bandwidth",
            s20(),
            &known(None, Some("bw-2"), false),
            Some(&available),
            Step::Mismatch {
                found: "bw-1".into(),
                wanted: Some("bw-2".into()),
            },
        );
        step(
            "observe, in sync",
            s20(),
            &observe,
            Some(&available),
            Step::InSync,
        );
        step(
            "observe, nothing there",
            s20(),
            &observe,
            Some(&address("Available", None)),
            Step::Missing,
        );
        step(
            "observe, another bandwidth",
            s20(),
            &known(None, Some("bw-2"), true),
            Some(&available),
            Step::Mismatch {
                found: "bw-1".into(),
                wanted: Some("bw-2".into()),
            },
        );
        step(
            "busy address",
            s20(),
            &ours,
            Some(&address("Configuring", bought)),
            Step::Wait {
                state: "Configuring".into(),
            },
        );
        step(
            "charge type differs",
            spec(20, "PayByTraffic"),
            &ours,
            Some(&available),
            Step::ChargeDiffers {
                charge: "PayByBandwidth".into(),
            },
        );
        step(
            "resize",
            spec(50, "PayByBandwidth"),
            &ours,
            Some(&available),
            Step::Resize { was: 20 },
        );
        step(
            "observe, drifted",
            spec(50, "PayByBandwidth"),
            &observe,
            Some(&available),
            Step::Drifted { was: 20 },
        );
    }

    #[test]
    fn only_no_bandwidth_or_our_own_is_shown_in_the_status() {
        let with = |id| address("Available", Some((id, 20, "PayByBandwidth")));
        assert!(is_ours(
            &known(None, None, false),
            &address("Available", None)
        ));
        assert!(is_ours(&known(Some("bw-1"), None, false), &with("bw-1")));
        assert!(is_ours(&known(None, Some("bw-1"), false), &with("bw-1")));
        assert!(!is_ours(&known(None, None, false), &with("bw-1")));
        assert!(!is_ours(&known(Some("bw-1"), None, false), &with("bw-2")));
    }

    #[test]
    fn decide_cleanup_covers_every_deletion_path() {
        let bought = Some(("bw-1", 20, "PayByBandwidth"));
        let available = address("Available", bought);
        let busy = address("Modifying", bought);
        let bare = address("Available", None);
        let mine = Replayed::Bandwidth("bw-1".into());
        let other = Replayed::Bandwidth("bw-9".into());
        for (name, known, address, replayed, expected) in [
            ("no address", Some("bw-1"), None, None, CleanupStep::Gone),
            (
                "no bandwidth on it",
                Some("bw-1"),
                Some(&bare),
                None,
                CleanupStep::Gone,
            ),
            (
                "recorded and there: delete",
                Some("bw-1"),
                Some(&available),
                None,
                CleanupStep::Delete("bw-1".into()),
            ),
            (
                "another bandwidth: left alone",
                Some("bw-2"),
                Some(&available),
                None,
                CleanupStep::NotOurs,
            ),
            (
                "recorded, address busy: wait",
                Some("bw-1"),
                Some(&busy),
                None,
                CleanupStep::Wait {
                    status: "Modifying".into(),
                },
            ),
            (
                "nothing recorded: replay first",
                None,
                Some(&available),
                None,
                CleanupStep::Replay("bw-1".into()),
            ),
            (
                "the replay names it: delete",
                None,
                Some(&available),
                Some(&mine),
                CleanupStep::Delete("bw-1".into()),
            ),
            (
                "the replay names another: left alone",
                None,
                Some(&available),
                Some(&other),
                CleanupStep::NotOurs,
            ),
            (
                "the replay is refused: never bought",
                None,
                Some(&available),
                Some(&Replayed::Refused),
                CleanupStep::NotOurs,
            ),
            (
                "the token was used otherwise: cannot tell",
                None,
                Some(&available),
                Some(&Replayed::OtherParameters),
                CleanupStep::Unrecorded("bw-1".into()),
            ),
        ] {
            assert_eq!(decide_cleanup(known, address, replayed), expected, "{name}");
        }
    }
}
