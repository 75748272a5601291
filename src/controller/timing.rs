//! When to look again: growing short intervals while the cloud is busy, a
//! jittered drift interval at rest, and per-object exponential backoff on
//! retryable errors.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first re-check of a transitional resource.
pub const TRANSITIONAL_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between checks of a transitional resource.
pub const TRANSITIONAL_MAX: Duration = Duration::from_secs(15);
/// The first retry after a retryable error.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(2);
/// The longest wait between retries.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Per-object counters: consecutive transitional checks and consecutive errors.
#[derive(Debug, Default)]
pub struct Pacing {
    transitional: Mutex<HashMap<String, u32>>,
    failures: Mutex<HashMap<String, u32>>,
    missing: Mutex<HashMap<String, Instant>>,
}

fn bump(map: &Mutex<HashMap<String, u32>>, key: &str) -> u32 {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = map.entry(key.to_string()).or_insert(0);
    *n = n.saturating_add(1);
    *n - 1
}

fn clear(map: &Mutex<HashMap<String, u32>>, key: &str) {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(key);
}

impl Pacing {
    /// The next re-check of a transitional resource: 1 s, then growing by half
    /// each time up to 15 s, with ±20 % jitter.
    pub fn transitional(&self, key: &str) -> Duration {
        clear(&self.failures, key);
        let n = bump(&self.transitional, key);
        let grown =
            TRANSITIONAL_FIRST.as_secs_f64() * 1.5f64.powi(i32::try_from(n.min(20)).unwrap_or(20));
        jitter(
            Duration::from_secs_f64(grown.min(TRANSITIONAL_MAX.as_secs_f64())),
            0.2,
        )
    }

    /// The next retry after a retryable error: exponential with full jitter,
    /// capped at five minutes.
    pub fn backoff(&self, key: &str) -> Duration {
        let n = bump(&self.failures, key);
        let ceiling =
            BACKOFF_FIRST.as_secs_f64() * 2f64.powi(i32::try_from(n.min(20)).unwrap_or(20));
        let ceiling = ceiling.min(BACKOFF_MAX.as_secs_f64());
        // Never retry sooner than a second: a hot loop helps nobody.
        Duration::from_secs_f64((fastrand::f64() * ceiling).max(1.0))
    }

    /// The object is at rest (or gone): forget its counters.
    pub fn settled(&self, key: &str) {
        clear(&self.transitional, key);
        clear(&self.failures, key);
        self.missing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    /// Forget the object's transitional and retry counters, but not how long
    /// its resource has been missing ([`Pacing::missing_for`]).
    pub fn at_rest(&self, key: &str) {
        clear(&self.transitional, key);
        clear(&self.failures, key);
    }

    /// How long the object's cloud resource has been missing from listings,
    /// counting from the first call; [`Pacing::settled`] resets it. Kept in
    /// memory only: a restart waits the whole grace again, never less.
    pub fn missing_for(&self, key: &str) -> Duration {
        self.missing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.to_string())
            .or_insert_with(Instant::now)
            .elapsed()
    }

    /// How many objects whose key starts with `prefix` (`Kind/`) are waiting
    /// on a retry.
    pub fn retrying(&self, prefix: &str) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .filter(|k| k.starts_with(prefix))
            .count()
    }
}

/// The drift interval of an object whose `natop.dev/drift-interval`
/// annotation is `annotation`, and, when that is not what the annotation
/// asks, why: an annotation that is not an interval gets `default`, one
/// below `floor` gets `floor` (one object must not spend the account's shared
/// rate limit). Without an annotation, `default`.
pub fn drift_setting(
    annotation: Option<&str>,
    default: Duration,
    floor: Duration,
) -> (Duration, Option<String>) {
    let Some(text) = annotation else {
        return (default, None);
    };
    match parse_interval(text) {
        None => (
            default,
            Some(format!(
                "natop.dev/drift-interval {text:?} is not an interval (e.g. 30s, 10m, 1h30m): \
                 drift is checked every {}s",
                default.as_secs()
            )),
        ),
        Some(asked) if asked < floor => (
            floor,
            Some(format!(
                "natop.dev/drift-interval {text} is below the operator's floor \
                 (--min-drift-interval): drift is checked every {}s",
                floor.as_secs()
            )),
        ),
        Some(asked) => (asked, None),
    }
}

/// `d` spread by ±`fraction`.
pub fn jitter(d: Duration, fraction: f64) -> Duration {
    let factor = 1.0 + fraction * (2.0 * fastrand::f64() - 1.0);
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
}

/// Parse a drift interval such as `90s`, `15m`, `2h` or `1h30m`.
pub fn parse_interval(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() {
        return None;
    }
    // At most a week: an annotation must never overflow a deadline.
    (total > 0 && total <= 7 * 24 * 3600).then(|| Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_annotation_below_the_floor_or_not_an_interval_is_replaced_and_said() {
        let (default, floor) = (Duration::from_secs(600), Duration::from_secs(30));
        for (annotation, interval, note) in [
            (None, 600, None),
            (Some("5m"), 300, None),
            (Some("30s"), 30, None),
            (Some("1h30m"), 5400, None),
            (
                Some("1s"),
                30,
                Some("natop.dev/drift-interval 1s is below the operator's floor"),
            ),
            (Some("29s"), 30, Some("drift is checked every 30s")),
            (Some("soon"), 600, Some("\"soon\" is not an interval")),
            (Some("0s"), 600, Some("drift is checked every 600s")),
        ] {
            let (got, said) = drift_setting(annotation, default, floor);
            assert_eq!(got, Duration::from_secs(interval), "{annotation:?}");
            match note {
                None => assert_eq!(said, None, "{annotation:?}"),
                Some(text) => assert!(
                    said.as_deref().is_some_and(|s| s.contains(text)),
                    "{annotation:?}: {said:?}"
                ),
            }
        }
    }

    #[test]
    fn transitional_checks_grow_to_fifteen_seconds() {
        let p = Pacing::default();
        let first = p.transitional("a");
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let later: Vec<Duration> = (0..20).map(|_| p.transitional("a")).collect();
        assert!(later.iter().all(|d| *d <= Duration::from_secs(18)));
        assert!(later.last().is_some_and(|d| *d >= Duration::from_secs(12)));
        p.settled("a");
        assert!(
            p.transitional("a") <= Duration::from_millis(1200),
            "reset at rest"
        );
    }

    #[test]
    fn backoff_is_capped_jittered_and_per_object() {
        let p = Pacing::default();
        let delays: Vec<Duration> = (0..30).map(|_| p.backoff("NatGateway/x")).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_secs(1) && *d <= BACKOFF_MAX)
        );
        assert_eq!(p.retrying("NatGateway/"), 1);
        assert!(
            p.backoff("ForwardEntry/y") <= Duration::from_secs(2),
            "another object starts low"
        );
        assert_eq!(p.retrying("NatGateway/"), 1, "counted under its own kind");
        assert_eq!(p.retrying("ForwardEntry/"), 1);
        p.settled("NatGateway/x");
        assert_eq!(p.retrying("NatGateway/"), 0);
        assert_eq!(p.retrying("ForwardEntry/"), 1);
    }

    #[test]
    fn jitter_never_overflows() {
        // Half the draws scale up: none of them may panic.
        for _ in 0..200 {
            assert!(jitter(Duration::MAX, 0.5) >= Duration::from_secs(1));
        }
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_interval("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_interval("1h30m"), Some(Duration::from_secs(5400)));
        for bad in [
            "",
            "10",
            "5d",
            "m",
            "0s",
            "-1m",
            "18446744073709551615s",
            "200h",
        ] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
    }
}
