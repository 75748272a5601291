//! What to do about a UCloud temporary bandwidth package, decided from the
//! spec, what the object recorded, the region's listing and the service's
//! clock; what a purchase does when no package is recorded; and what
//! deletion does. Pure functions, table-tested below.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::bandwidth_package::{BandwidthPackageStatus, UCloudBandwidthPackage};
use crate::cloud::ucloud::actions::BandwidthPackage as CloudPackage;

/// Seconds of slack when comparing the service's clock with a window's end:
/// the `Date` header has whole seconds.
pub const CLOCK_SLACK_S: i64 = 5;

/// `status.status` while a purchase may have been made but its id is not
/// recorded (set before CreateBandwidthPackage is sent).
pub const PURCHASING: &str = "Purchasing";

/// `status.status` after the service refused the purchase (nothing bought).
pub const REFUSED: &str = "Refused";

/// Whether a package not found in the listing is looked for again rather
/// than concluded gone: its window has not ended and it has been missing for
/// less than `grace` (`--listing-grace`). UCloud has no read of one package,
/// and a listing can lag behind a purchase or skip an item while its pages
/// shift: natop buys again, releases the object or reports a package gone
/// only after that long.
pub fn keep_looking(ended: bool, missing_for: Duration, grace: Duration) -> bool {
    !ended && missing_for < grace
}

/// What the package's window looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Bought; starts later.
    Scheduled,
    /// Running now.
    Active,
    /// Ended.
    Expired,
}

impl Phase {
    /// The phase at `now` of a window from `enable` to `disable`.
    pub fn of(now: i64, enable: i64, disable: i64) -> Phase {
        if ended(now, disable) {
            Phase::Expired
        } else if now < enable {
            Phase::Scheduled
        } else {
            Phase::Active
        }
    }

    /// As `status.status` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Scheduled => "Scheduled",
            Phase::Active => "Active",
            Phase::Expired => "Expired",
        }
    }
}

/// Whether a window ending at `end` has ended at `now`.
pub fn ended(now: i64, end: i64) -> bool {
    now + CLOCK_SLACK_S >= end
}

/// Seconds since the epoch.
pub fn seconds(time: &Time) -> i64 {
    time.0.as_second()
}

/// A time from seconds since the epoch.
pub fn time(seconds: i64) -> Option<Time> {
    Timestamp::from_second(seconds).ok().map(Time)
}

/// A time, as messages show it.
pub fn show(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// Length of the spec's window in seconds.
pub fn duration_s(spec: &UCloudBandwidthPackage) -> i64 {
    i64::from(spec.time_range) * 3600
}

/// How the package bought differs from the spec, if it does.
pub fn mismatch(spec: &UCloudBandwidthPackage, cloud: &CloudPackage) -> Option<String> {
    let mut differences = Vec::new();
    if cloud.eip_id != spec.eip_id {
        differences.push(format!("it is for {} not {}", cloud.eip_id, spec.eip_id));
    }
    if cloud.bandwidth != Some(spec.bandwidth) {
        differences.push(format!(
            "it has {} Mbps not {}",
            cloud.bandwidth.unwrap_or_default(),
            spec.bandwidth
        ));
    }
    if let (Some(enable), Some(disable)) = (cloud.enable_time, cloud.disable_time) {
        if disable - enable != duration_s(spec) {
            differences.push(format!(
                "it lasts {} s not {} hours",
                disable - enable,
                spec.time_range
            ));
        }
        if let Some(wanted) = &spec.enable_time
            && seconds(wanted) != enable
        {
            differences.push(format!(
                "it starts at {} not {}",
                show(enable),
                show(seconds(wanted))
            ));
        }
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

/// A package this object bought in an earlier attempt, found by its EIP,
/// bandwidth and recorded window, and claimed by no other object.
pub fn find_bought<'a>(
    packages: &'a [CloudPackage],
    spec: &UCloudBandwidthPackage,
    enable: i64,
    claimed: &[String],
) -> Option<&'a CloudPackage> {
    packages
        .iter()
        .filter(|p| {
            p.eip_id == spec.eip_id
                && p.bandwidth == Some(spec.bandwidth)
                && p.enable_time == Some(enable)
                && p.disable_time == Some(enable + duration_s(spec))
                && !claimed.contains(&p.bandwidth_package_id)
        })
        .min_by_key(|p| (p.create_time, p.bandwidth_package_id.clone()))
}

/// A package no object claims that gives what `spec` asks for and has not
/// ended: on the EIP, with the bandwidth, for the spec's hours, starting
/// when the spec says (any start when it says none).
pub fn find_running<'a>(
    packages: &'a [CloudPackage],
    spec: &UCloudBandwidthPackage,
    now: i64,
    claimed: &[String],
) -> Option<&'a CloudPackage> {
    let start = spec.enable_time.as_ref().map(seconds);
    packages
        .iter()
        .filter(|p| {
            p.eip_id == spec.eip_id
                && p.bandwidth == Some(spec.bandwidth)
                && p.enable_time.is_some()
                && start.is_none_or(|s| p.enable_time == Some(s))
                && p.disable_time.zip(p.enable_time).map(|(d, e)| d - e) == Some(duration_s(spec))
                && p.disable_time.is_some_and(|d| !ended(now, d))
                && !claimed.contains(&p.bandwidth_package_id)
        })
        .min_by_key(|p| (p.create_time, p.bandwidth_package_id.clone()))
}

/// What a reconcile knows before it decides.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The status as recorded.
    pub status: BandwidthPackageStatus,
    /// `managementPolicy: Observe`.
    pub observe: bool,
    /// The package looked for: the recorded id, else the annotation's.
    pub wanted: Option<String>,
    /// The region's listing (read only when [`needs_listing`] says so).
    pub packages: Vec<CloudPackage>,
    /// The service's clock, seconds.
    pub now: i64,
    /// Whether a package missing from the listing is looked for again (see
    /// [`keep_looking`]; its window is taken into account here).
    pub within_grace: bool,
}

/// Whether [`decide`] needs the region's listing.
pub fn needs_listing(input: &Input) -> bool {
    input.status.expired != Some(true) && input.wanted.is_some()
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The window ended (recorded, or seen now): never bought again.
    Expired {
        /// The package.
        id: String,
    },
    /// Observed, and nothing is named to observe.
    NothingToObserve,
    /// Nothing recorded: the purchase flow ([`decide_purchase`]).
    Purchase,
    /// Not listed, but listings lag: look again.
    NotListed {
        /// The package.
        id: String,
    },
    /// Gone before its window ended: deleted outside natop; not bought again.
    Gone {
        /// The package.
        id: String,
        /// When its window was to end.
        end: i64,
    },
    /// Not in the region, and nothing recorded says when it would end.
    NotFound {
        /// The package.
        id: String,
    },
    /// Listed without a window yet.
    NoWindow {
        /// The package.
        id: String,
    },
    /// Differs from the spec; UCloud packages cannot change.
    Differs {
        /// The package.
        id: String,
        /// How.
        difference: String,
    },
    /// Matches the spec.
    InSync {
        /// The package.
        id: String,
        /// Scheduled or Active.
        phase: Phase,
        /// The window's start.
        enable: i64,
        /// The window's end.
        disable: i64,
    },
}

/// The step for a package with `spec`, given `input`.
pub fn decide(spec: &UCloudBandwidthPackage, input: &Input) -> Step {
    if input.status.expired == Some(true) {
        return Step::Expired {
            id: input.status.id.clone().unwrap_or_default(),
        };
    }
    let Some(id) = input.wanted.clone() else {
        return if input.observe {
            Step::NothingToObserve
        } else {
            Step::Purchase
        };
    };
    let recorded_end = input.status.disable_time.as_ref().map(seconds);
    let Some(cloud) = input.packages.iter().find(|p| p.bandwidth_package_id == id) else {
        let ended = recorded_end.is_some_and(|end| ended(input.now, end));
        if !ended && input.within_grace {
            return Step::NotListed { id };
        }
        return match recorded_end {
            Some(_) if ended => Step::Expired { id },
            Some(end) => Step::Gone { id, end },
            None => Step::NotFound { id },
        };
    };
    let (Some(enable), Some(disable)) = (cloud.enable_time, cloud.disable_time) else {
        return Step::NoWindow { id };
    };
    let phase = Phase::of(input.now, enable, disable);
    if phase == Phase::Expired {
        return Step::Expired { id };
    }
    if let Some(difference) = mismatch(spec, cloud) {
        return Step::Differs { id, difference };
    }
    Step::InSync {
        id,
        phase,
        enable,
        disable,
    }
}

/// What a purchase knows before it decides: the status read fresh from the
/// API server, the listing, the clock, and the packages other objects claim.
#[derive(Debug, Clone, Default)]
pub struct PurchaseInput {
    /// The status, read fresh.
    pub recorded: BandwidthPackageStatus,
    /// The region's listing.
    pub packages: Vec<CloudPackage>,
    /// The service's clock, seconds.
    pub now: i64,
    /// Packages other objects recorded.
    pub claimed: Vec<String>,
    /// Whether an earlier purchase missing from the listing is looked for
    /// again (see [`keep_looking`]).
    pub within_grace: bool,
    /// How long ago the service refused a purchase for the object's current
    /// generation (`None`: no refusal of this spec is recorded).
    pub refused_for: Option<Duration>,
    /// How long a refused purchase rests before it is tried again (the
    /// object's drift interval).
    pub recheck: Duration,
}

/// What a purchase does.
#[derive(Debug, Clone, PartialEq)]
pub enum Purchase {
    /// The fresh status records a package (or its end): read it again.
    Reread,
    /// The service refused this spec's purchase a moment ago: the refusal
    /// stands (nothing is called) until the spec changes or `again_in` passes.
    Refused {
        /// When the purchase is tried again.
        again_in: Duration,
    },
    /// An earlier attempt bought this package; its answer was lost.
    Adopt(CloudPackage),
    /// The window chosen earlier is over and nothing of it is listed.
    WindowOver,
    /// An earlier purchase may have been made and not be listed yet.
    Confirming,
    /// The spec's window is over: nothing is bought.
    WindowPassed {
        /// Its start.
        enable: i64,
        /// Its end.
        disable: i64,
    },
    /// Record this window, then buy it.
    Buy {
        /// Its start.
        enable: i64,
        /// Its end.
        disable: i64,
    },
}

/// How long a refusal of this spec still stands, if it does. A definite
/// refusal does not change by asking again at once (and natop's own status
/// write wakes the object); what caused it (an EIP's billing, a quota) may
/// change outside natop, so it is asked again after `recheck`.
pub fn refusal_stands(input: &PurchaseInput) -> Option<Duration> {
    input
        .refused_for
        .filter(|age| *age < input.recheck)
        .map(|age| input.recheck - age)
}

/// The purchase step for a package with `spec`, given `input`.
pub fn decide_purchase(spec: &UCloudBandwidthPackage, input: &PurchaseInput) -> Purchase {
    let recorded = &input.recorded;
    if recorded.id.is_some() || recorded.expired == Some(true) {
        return Purchase::Reread;
    }
    if let Some(again_in) = refusal_stands(input) {
        return Purchase::Refused { again_in };
    }
    let now = input.now;
    if let Some(pending) = recorded.enable_time.as_ref().map(seconds) {
        // An earlier attempt chose this window and may have bought it.
        if let Some(found) = find_bought(&input.packages, spec, pending, &input.claimed) {
            return Purchase::Adopt(found.clone());
        }
        if ended(now, pending + duration_s(spec)) {
            // Over, and nothing of it listed: it ended or was never bought.
            // Never buy a past window.
            return Purchase::WindowOver;
        }
        if recorded.status.as_deref() == Some(PURCHASING) && input.within_grace {
            return Purchase::Confirming;
        }
    }
    if recorded.enable_time.is_none()
        && let Some(found) = find_running(&input.packages, spec, now, &input.claimed)
    {
        // Nothing recorded (a cluster rebuilt from Git), and a package no
        // object claims is what the spec asks for: the one bought for it
        // before. UCloud's packages carry no tags; the EIP, the bandwidth
        // and the window (the spec's start, or any start for as many hours
        // that has not ended) are their identity.
        return Purchase::Adopt(found.clone());
    }
    // Nothing was bought for this object: choose the window (recorded before
    // buying, so that a lost answer is found again by that window).
    let enable = match &spec.enable_time {
        Some(t) => seconds(t),
        None => recorded
            .enable_time
            .as_ref()
            .map(seconds)
            // A window chosen earlier but refused (or never sent) is replaced
            // once it has started: the service refuses starts in the past.
            .filter(|t| *t + 60 >= now)
            .unwrap_or(now),
    };
    let disable = enable + duration_s(spec);
    if ended(now, disable) {
        return Purchase::WindowPassed { enable, disable };
    }
    Purchase::Buy { enable, disable }
}

/// What deletion knows before it decides.
#[derive(Debug, Clone, Default)]
pub struct CleanupInput {
    /// The status as recorded.
    pub status: BandwidthPackageStatus,
    /// The region's listing (not read for an expired package).
    pub packages: Vec<CloudPackage>,
    /// The service's clock, seconds.
    pub now: i64,
    /// Packages other objects recorded.
    pub claimed: Vec<String>,
    /// Whether an earlier purchase missing from the listing is looked for
    /// again (see [`keep_looking`]).
    pub within_grace: bool,
}

/// What deletion does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupStep {
    /// Nothing to delete (expired, never bought, or its window ended); the
    /// object goes.
    Nothing,
    /// A purchase may have been made and not be listed yet: look again.
    Confirming,
    /// Delete this package.
    Delete(String),
}

/// Whether deletion needs the listing: only an expired package needs none.
pub fn cleanup_needs_listing(status: &BandwidthPackageStatus) -> bool {
    status.expired != Some(true)
}

/// The deletion step for a package with `spec`, given `input`.
pub fn decide_cleanup(spec: &UCloudBandwidthPackage, input: &CleanupInput) -> CleanupStep {
    if !cleanup_needs_listing(&input.status) {
        return CleanupStep::Nothing;
    }
    let now = input.now;
    let over = |end: Option<i64>| end.is_some_and(|end| ended(now, end));
    // Only what this object recorded: an annotation it never adopted names
    // nothing of its own.
    if let Some(id) = &input.status.id {
        // Listed or not (a listing can lag or skip), a recorded package is
        // deleted by its id unless its window has ended: the delete's answer
        // is the only read of one package UCloud has.
        let end = match input
            .packages
            .iter()
            .find(|p| p.bandwidth_package_id == *id)
        {
            Some(listed) => listed.disable_time,
            None => input.status.disable_time.as_ref().map(seconds),
        };
        return if over(end) {
            CleanupStep::Nothing
        } else {
            CleanupStep::Delete(id.clone())
        };
    }
    // A purchase whose answer was lost is found by its window.
    let Some(pending) = input.status.enable_time.as_ref().map(seconds) else {
        return CleanupStep::Nothing;
    };
    match find_bought(&input.packages, spec, pending, &input.claimed) {
        Some(found) if !over(found.disable_time) => {
            CleanupStep::Delete(found.bandwidth_package_id.clone())
        }
        Some(_) => CleanupStep::Nothing,
        None if input.status.status.as_deref() == Some(PURCHASING)
            && !over(Some(pending + duration_s(spec)))
            && input.within_grace =>
        {
            CleanupStep::Confirming
        }
        None => CleanupStep::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    /// The service's clock in these tests.
    const NOW: i64 = 1_800_000_000;

    fn spec(enable: Option<i64>) -> UCloudBandwidthPackage {
        UCloudBandwidthPackage {
            eip_id: "eip-1".into(),
            bandwidth: 20,
            time_range: 2,
            enable_time: enable.and_then(time),
            coupon_id: None,
        }
    }

    fn listed(id: &str, enable: i64, hours: i64) -> CloudPackage {
        CloudPackage {
            bandwidth_package_id: id.into(),
            enable_time: Some(enable),
            disable_time: Some(enable + hours * HOUR),
            create_time: Some(enable - 10),
            bandwidth: Some(20),
            eip_id: "eip-1".into(),
            ..Default::default()
        }
    }

    fn status(
        id: Option<&str>,
        window: Option<(i64, i64)>,
        state: Option<&str>,
    ) -> BandwidthPackageStatus {
        BandwidthPackageStatus {
            id: id.map(String::from),
            enable_time: window.and_then(|(e, _)| time(e)),
            disable_time: window.and_then(|(_, d)| time(d)),
            status: state.map(String::from),
            ..Default::default()
        }
    }

    fn input(
        status: BandwidthPackageStatus,
        packages: Vec<CloudPackage>,
        within_grace: bool,
    ) -> Input {
        Input {
            wanted: status.id.clone(),
            status,
            observe: false,
            packages,
            now: NOW,
            within_grace,
        }
    }

    #[test]
    fn decide_covers_every_state_of_a_bought_package() {
        let window = Some((NOW - HOUR, NOW + HOUR));
        let expired = BandwidthPackageStatus {
            expired: Some(true),
            ..status(Some("bwp-1"), window, Some("Expired"))
        };
        let mut wide = listed("bwp-1", NOW - HOUR, 2);
        wide.bandwidth = Some(50);
        for (name, input, expected) in [
            (
                "recorded expired: never looked at again",
                input(expired, vec![], false),
                Step::Expired { id: "bwp-1".into() },
            ),
            (
                "nothing recorded: the purchase flow",
                input(status(None, None, None), vec![], false),
                Step::Purchase,
            ),
            (
                "observed, nothing named",
                Input {
                    observe: true,
                    ..input(status(None, None, None), vec![], false)
                },
                Step::NothingToObserve,
            ),
            (
                "active and matching: in sync",
                input(
                    status(Some("bwp-1"), window, None),
                    vec![listed("bwp-1", NOW - HOUR, 2)],
                    false,
                ),
                Step::InSync {
                    id: "bwp-1".into(),
                    phase: Phase::Active,
                    enable: NOW - HOUR,
                    disable: NOW + HOUR,
                },
            ),
            (
                "scheduled and matching: in sync",
                input(
                    status(Some("bwp-1"), None, None),
                    vec![listed("bwp-1", NOW + HOUR, 2)],
                    false,
                ),
                Step::InSync {
                    id: "bwp-1".into(),
                    phase: Phase::Scheduled,
                    enable: NOW + HOUR,
                    disable: NOW + 3 * HOUR,
                },
            ),
            (
                "listed and ended: expired",
                input(
                    status(Some("bwp-1"), None, None),
                    vec![listed("bwp-1", NOW - 2 * HOUR, 2)],
                    false,
                ),
                Step::Expired { id: "bwp-1".into() },
            ),
            (
                "differs (UCloud cannot change it)",
                input(status(Some("bwp-1"), window, None), vec![wide], false),
                Step::Differs {
                    id: "bwp-1".into(),
                    difference: "it has 50 Mbps not 20".into(),
                },
            ),
            (
                "listed without a window yet",
                input(
                    status(Some("bwp-1"), None, None),
                    vec![CloudPackage {
                        bandwidth_package_id: "bwp-1".into(),
                        ..Default::default()
                    }],
                    false,
                ),
                Step::NoWindow { id: "bwp-1".into() },
            ),
            (
                "not listed, within the grace: look again",
                input(status(Some("bwp-1"), window, None), vec![], true),
                Step::NotListed { id: "bwp-1".into() },
            ),
            (
                "not listed past the grace, window running: gone, not bought again",
                input(status(Some("bwp-1"), window, None), vec![], false),
                Step::Gone {
                    id: "bwp-1".into(),
                    end: NOW + HOUR,
                },
            ),
            (
                "not listed, its recorded window over: expired at once",
                input(
                    status(Some("bwp-1"), Some((NOW - 3 * HOUR, NOW - HOUR)), None),
                    vec![],
                    true,
                ),
                Step::Expired { id: "bwp-1".into() },
            ),
            (
                "not listed, no window recorded: not found",
                input(status(Some("bwp-1"), None, None), vec![], false),
                Step::NotFound { id: "bwp-1".into() },
            ),
        ] {
            assert_eq!(decide(&spec(None), &input), expected, "{name}");
        }
    }

    #[test]
    fn the_listing_is_read_only_when_the_decision_needs_it() {
        let expired = BandwidthPackageStatus {
            expired: Some(true),
            ..status(Some("bwp-1"), None, None)
        };
        assert!(!needs_listing(&input(expired, vec![], false)));
        assert!(!needs_listing(&input(
            status(None, None, None),
            vec![],
            false
        )));
        assert!(needs_listing(&input(
            status(Some("bwp-1"), None, None),
            vec![],
            false
        )));
    }

    #[test]
    fn a_refused_purchase_is_not_asked_again_until_the_spec_changes_or_the_recheck() {
        let recheck = Duration::from_secs(600);
        let refused = status(None, Some((NOW, NOW + 2 * HOUR)), Some(REFUSED));
        let purchase = |recorded: BandwidthPackageStatus, refused_for| {
            decide_purchase(
                &spec(None),
                &PurchaseInput {
                    recorded,
                    now: NOW,
                    refused_for,
                    recheck,
                    ..PurchaseInput::default()
                },
            )
        };
        for (name, got, expected) in [
            (
                "refused a moment ago: the refusal stands, nothing is called",
                purchase(refused.clone(), Some(Duration::from_secs(1))),
                Purchase::Refused {
                    again_in: Duration::from_secs(599),
                },
            ),
            (
                "refused just under the recheck ago: still stands",
                purchase(refused.clone(), Some(Duration::from_secs(599))),
                Purchase::Refused {
                    again_in: Duration::from_secs(1),
                },
            ),
            (
                "refused as long ago as the recheck: bought again",
                purchase(refused.clone(), Some(recheck)),
                Purchase::Buy {
                    enable: NOW,
                    disable: NOW + 2 * HOUR,
                },
            ),
            (
                "no refusal of this generation (the spec changed): bought",
                purchase(refused, None),
                Purchase::Buy {
                    enable: NOW,
                    disable: NOW + 2 * HOUR,
                },
            ),
            (
                "a package recorded since: read it, whatever was refused before",
                purchase(
                    status(Some("bwp-1"), None, None),
                    Some(Duration::from_secs(1)),
                ),
                Purchase::Reread,
            ),
        ] {
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_purchase_is_made_once_and_never_for_a_past_window() {
        let purchase =
            |spec: &UCloudBandwidthPackage, recorded, packages, claimed: &[&str], within_grace| {
                decide_purchase(
                    spec,
                    &PurchaseInput {
                        recorded,
                        packages,
                        now: NOW,
                        claimed: claimed.iter().map(|c| c.to_string()).collect(),
                        within_grace,
                        ..PurchaseInput::default()
                    },
                )
            };
        let pending = Some((NOW - 30, NOW - 30 + 2 * HOUR));
        let bought = listed("bwp-7", NOW - 30, 2);
        for (name, got, expected) in [
            (
                "the fresh status records a package: read it",
                purchase(
                    &spec(None),
                    status(Some("bwp-1"), None, None),
                    vec![],
                    &[],
                    false,
                ),
                Purchase::Reread,
            ),
            (
                "nothing recorded: buy now, for the spec's hours",
                purchase(&spec(None), status(None, None, None), vec![], &[], false),
                Purchase::Buy {
                    enable: NOW,
                    disable: NOW + 2 * HOUR,
                },
            ),
            (
                "a later start in the spec: buy that window",
                purchase(
                    &spec(Some(NOW + HOUR)),
                    status(None, None, None),
                    vec![],
                    &[],
                    false,
                ),
                Purchase::Buy {
                    enable: NOW + HOUR,
                    disable: NOW + 3 * HOUR,
                },
            ),
            (
                "the spec's window is over: nothing bought",
                purchase(
                    &spec(Some(NOW - 3 * HOUR)),
                    status(None, None, None),
                    vec![],
                    &[],
                    false,
                ),
                Purchase::WindowPassed {
                    enable: NOW - 3 * HOUR,
                    disable: NOW - HOUR,
                },
            ),
            (
                "an earlier attempt's window is listed: adopt it",
                purchase(
                    &spec(None),
                    status(None, pending, Some(PURCHASING)),
                    vec![bought.clone()],
                    &[],
                    true,
                ),
                Purchase::Adopt(bought.clone()),
            ),
            (
                "listed, but another object claims it: not adopted",
                purchase(
                    &spec(None),
                    status(None, pending, Some(PURCHASING)),
                    vec![bought],
                    &["bwp-7"],
                    true,
                ),
                Purchase::Confirming,
            ),
            (
                "an earlier purchase not listed yet: wait within the grace",
                purchase(
                    &spec(None),
                    status(None, pending, Some(PURCHASING)),
                    vec![],
                    &[],
                    true,
                ),
                Purchase::Confirming,
            ),
            (
                "past the grace: buy the recorded window again",
                purchase(
                    &spec(None),
                    status(None, pending, Some(PURCHASING)),
                    vec![],
                    &[],
                    false,
                ),
                Purchase::Buy {
                    enable: NOW - 30,
                    disable: NOW - 30 + 2 * HOUR,
                },
            ),
            (
                "a refused window that started over a minute ago is replaced",
                purchase(
                    &spec(None),
                    status(None, Some((NOW - 120, NOW - 120 + 2 * HOUR)), Some(REFUSED)),
                    vec![],
                    &[],
                    false,
                ),
                Purchase::Buy {
                    enable: NOW,
                    disable: NOW + 2 * HOUR,
                },
            ),
            (
                "nothing recorded, a running package on the EIP no object claims: adopt it",
                purchase(
                    &spec(None),
                    status(None, None, None),
                    vec![listed("bwp-9", NOW - HOUR, 2)],
                    &[],
                    false,
                ),
                Purchase::Adopt(listed("bwp-9", NOW - HOUR, 2)),
            ),
            (
                "nothing recorded, the running package is another object's: buy",
                purchase(
                    &spec(None),
                    status(None, None, None),
                    vec![listed("bwp-9", NOW - HOUR, 2)],
                    &["bwp-9"],
                    false,
                ),
                Purchase::Buy {
                    enable: NOW,
                    disable: NOW + 2 * HOUR,
                },
            ),
            (
                "nothing recorded, a package for other hours: buy",
                purchase(
                    &spec(None),
                    status(None, None, None),
                    vec![listed("bwp-9", NOW - HOUR, 3)],
                    &[],
                    false,
                ),
                Purchase::Buy {
                    enable: NOW,
                    disable: NOW + 2 * HOUR,
                },
            ),
            (
                "nothing recorded, the spec's start differs from the package's: buy",
                purchase(
                    &spec(Some(NOW + HOUR)),
                    status(None, None, None),
                    vec![listed("bwp-9", NOW - HOUR, 2)],
                    &[],
                    false,
                ),
                Purchase::Buy {
                    enable: NOW + HOUR,
                    disable: NOW + 3 * HOUR,
                },
            ),
            (
                "the earlier window is over, nothing listed: over",
                purchase(
                    &spec(None),
                    status(None, Some((NOW - 3 * HOUR, NOW - HOUR)), Some(PURCHASING)),
                    vec![],
                    &[],
                    true,
                ),
                Purchase::WindowOver,
            ),
        ] {
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn decide_cleanup_covers_every_deletion_path() {
        let cleanup = |status, packages, within_grace| {
            decide_cleanup(
                &spec(None),
                &CleanupInput {
                    status,
                    packages,
                    now: NOW,
                    claimed: vec![],
                    within_grace,
                },
            )
        };
        let running = Some((NOW - HOUR, NOW + HOUR));
        let pending = Some((NOW - 30, NOW - 30 + 2 * HOUR));
        for (name, got, expected) in [
            (
                "expired: nothing to delete",
                cleanup(
                    BandwidthPackageStatus {
                        expired: Some(true),
                        ..status(Some("bwp-1"), running, None)
                    },
                    vec![],
                    false,
                ),
                CleanupStep::Nothing,
            ),
            (
                "recorded and running: delete it, listed or not",
                cleanup(status(Some("bwp-1"), running, None), vec![], false),
                CleanupStep::Delete("bwp-1".into()),
            ),
            (
                "recorded, the listing says it ended: nothing",
                cleanup(
                    status(Some("bwp-1"), running, None),
                    vec![listed("bwp-1", NOW - 3 * HOUR, 2)],
                    false,
                ),
                CleanupStep::Nothing,
            ),
            (
                "never bought: nothing",
                cleanup(status(None, None, None), vec![], false),
                CleanupStep::Nothing,
            ),
            (
                "a lost purchase's window is listed: delete it",
                cleanup(
                    status(None, pending, Some(PURCHASING)),
                    vec![listed("bwp-7", NOW - 30, 2)],
                    false,
                ),
                CleanupStep::Delete("bwp-7".into()),
            ),
            (
                "a purchase may be made and not listed yet: look again",
                cleanup(status(None, pending, Some(PURCHASING)), vec![], true),
                CleanupStep::Confirming,
            ),
            (
                "past the grace: nothing was bought",
                cleanup(status(None, pending, Some(PURCHASING)), vec![], false),
                CleanupStep::Nothing,
            ),
            (
                "a refused purchase: nothing was bought",
                cleanup(status(None, pending, Some(REFUSED)), vec![], true),
                CleanupStep::Nothing,
            ),
        ] {
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_package_missing_from_the_listing_is_looked_for_until_the_grace_is_over() {
        let grace = Duration::from_secs(60);
        for (ended, missing_s, expected) in [
            (false, 0, true),
            (false, 59, true),
            (false, 60, false),
            (false, 3600, false),
            // A window that has ended explains the absence at once.
            (true, 0, false),
            (true, 59, false),
        ] {
            assert_eq!(
                keep_looking(ended, Duration::from_secs(missing_s), grace),
                expected,
                "ended {ended}, missing for {missing_s} s"
            );
        }
    }
}
