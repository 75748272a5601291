//! Fault injection: per-action rates of throttling, service failures, a
//! proxy's bare 404, added latency and commit-then-drop, drawn from a seeded
//! generator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Faults for one action (or the default for all).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultRule {
    /// Fraction of calls refused with `Throttling` (UCloud: RetCode 153).
    pub throttling: f64,
    /// Fraction answered `ServiceUnavailable` (503; UCloud: RetCode 150).
    pub service_unavailable: f64,
    /// Fraction answered `InternalError` (500; UCloud: HTTP 502).
    pub internal_error: f64,
    /// Fraction answered as a proxy or ingress without the service behind it
    /// would: HTTP 404 with nginx's HTML page and no service error body. The
    /// call is not executed; clients must not read it as "not found".
    pub not_found_proxy: f64,
    /// Milliseconds added before every answer.
    pub latency_ms: u64,
    /// Fraction whose change is made but whose answer is lost (the connection
    /// is cut instead).
    pub commit_then_drop: f64,
    /// Fraction of the pages after the first of a paginated describe before
    /// which time passes in the table: an entry listed on an earlier page
    /// finishes its transition (a `Deleting` entry is gone, a `Pending` one
    /// `Available`), so the pages shift under the reader as the real service's
    /// do. Drawn on its own, besides the faults above.
    pub page_shift: f64,
    /// Milliseconds after its creation during which a NAT gateway, DNAT or
    /// SNAT entry or bandwidth package is missing from describes that do not
    /// name it by id, as an eventually consistent listing would leave it out
    /// (an IPv6 address shows bandwidth bought within it as not bought yet);
    /// a describe by id sees it at once (UCloud's package listing has no id
    /// filter: it always lags). Not a rate: every listing in the window
    /// leaves it out.
    pub list_lag_ms: u64,
}

/// The fault configuration (`PUT /_emulator/faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Applies to actions not listed in `actions`.
    pub default: FaultRule,
    /// Per action name.
    pub actions: BTreeMap<String, FaultRule>,
}

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused before anything happens.
    Throttle,
    /// Refused with a temporary failure before anything happens.
    Unavailable,
    /// Refused with an internal error before anything happens.
    Internal,
    /// Answered by a "proxy" with a bare HTTP 404 before anything happens.
    NotFoundProxy,
    /// Done, but the answer is lost.
    CommitThenDrop,
}

impl FaultConfig {
    /// The rule for `action`.
    pub fn rule(&self, action: &str) -> &FaultRule {
        self.actions.get(action).unwrap_or(&self.default)
    }

    /// Check that every rate is a fraction.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rule) in std::iter::once(("default", &self.default))
            .chain(self.actions.iter().map(|(k, v)| (k.as_str(), v)))
        {
            for (field, rate) in [
                ("throttling", rule.throttling),
                ("serviceUnavailable", rule.service_unavailable),
                ("internalError", rule.internal_error),
                ("notFoundProxy", rule.not_found_proxy),
                ("commitThenDrop", rule.commit_then_drop),
                ("pageShift", rule.page_shift),
            ] {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!(
                        "{name}.{field} must be between 0 and 1, got {rate}"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl FaultRule {
    /// Draw the fault for one call.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        let roll = rng.f64();
        let mut edge = self.throttling;
        if roll < edge {
            return Some(Fault::Throttle);
        }
        edge += self.service_unavailable;
        if roll < edge {
            return Some(Fault::Unavailable);
        }
        edge += self.internal_error;
        if roll < edge {
            return Some(Fault::Internal);
        }
        edge += self.not_found_proxy;
        if roll < edge {
            return Some(Fault::NotFoundProxy);
        }
        edge += self.commit_then_drop;
        if roll < edge {
            return Some(Fault::CommitThenDrop);
        }
        None
    }

    /// Draw whether time passes before this page (`page_number` > 1 only).
    pub fn draw_page_shift(&self, rng: &mut fastrand::Rng, page_number: u32) -> bool {
        page_number > 1 && self.page_shift > 0.0 && rng.f64() < self.page_shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_under_a_seed_and_follow_the_rates() {
        let rule = FaultRule {
            throttling: 0.2,
            commit_then_drop: 0.2,
            ..FaultRule::default()
        };
        let draw = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..1000).map(|_| rule.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let d = draw(7);
        let throttled = d.iter().filter(|f| **f == Some(Fault::Throttle)).count();
        let dropped = d
            .iter()
            .filter(|f| **f == Some(Fault::CommitThenDrop))
            .count();
        assert!((150..250).contains(&throttled), "{throttled}");
        assert!((150..250).contains(&dropped), "{dropped}");
        assert_eq!(
            FaultRule::default().draw(&mut fastrand::Rng::with_seed(1)),
            None
        );
    }

    #[test]
    fn rates_must_be_fractions() {
        let mut c = FaultConfig::default();
        assert!(c.validate().is_ok());
        c.actions.insert(
            "X".into(),
            FaultRule {
                throttling: 1.5,
                ..FaultRule::default()
            },
        );
        assert!(c.validate().unwrap_err().contains("X.throttling"));
        let c = FaultConfig {
            default: FaultRule {
                not_found_proxy: -0.1,
                ..FaultRule::default()
            },
            ..FaultConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("default.notFoundProxy"));
    }

    #[test]
    fn page_shifts_are_drawn_only_after_the_first_page_and_under_the_seed() {
        let rule = FaultRule {
            page_shift: 0.3,
            ..FaultRule::default()
        };
        let draw = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..1000)
                .map(|i| rule.draw_page_shift(&mut rng, 2 + i % 3))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(11), draw(11));
        let shifted = draw(11).iter().filter(|s| **s).count();
        assert!((230..370).contains(&shifted), "{shifted}");
        let mut rng = fastrand::Rng::with_seed(1);
        assert!((0..100).all(|_| !rule.draw_page_shift(&mut rng, 1)));
        let json: FaultRule = serde_json::from_str(r#"{"pageShift": 0.05}"#).unwrap();
        assert!((json.page_shift - 0.05).abs() < f64::EPSILON);
        let bad = FaultConfig {
            default: FaultRule {
                page_shift: 2.0,
                ..FaultRule::default()
            },
            ..FaultConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("default.pageShift"));
    }

    #[test]
    fn the_proxy_fault_is_drawn_like_the_others() {
        let rule = FaultRule {
            not_found_proxy: 1.0,
            ..FaultRule::default()
        };
        let mut rng = fastrand::Rng::with_seed(3);
        assert!((0..50).all(|_| rule.draw(&mut rng) == Some(Fault::NotFoundProxy)));
        let json: FaultRule = serde_json::from_str(r#"{"notFoundProxy": 0.5}"#).unwrap();
        assert!((json.not_found_proxy - 0.5).abs() < f64::EPSILON);
    }
}
