//! Client-side rate limiting: one token bucket per (cloud, account, region), so
//! that a burst of reconciles cannot trip the service's flow control.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Requests per second and burst size of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub qps: NonZeroU32,
    /// Requests allowed at once after a quiet period.
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            qps: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl RateLimit {
    /// Build a limit from plain numbers; zero is raised to one.
    pub fn new(qps: u32, burst: u32) -> Self {
        RateLimit {
            qps: NonZeroU32::new(qps).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
        }
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.qps).allow_burst(self.burst)
    }
}

/// The key of one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketKey {
    /// `alibaba` or `ucloud`.
    pub provider: &'static str,
    /// Access key id or public key: the account, never the secret.
    pub account: String,
    /// Region the calls go to.
    pub region: String,
}

/// A process-wide registry of token buckets. Clients for the same account and
/// region share a bucket even when they were built separately; the first
/// client to ask for a bucket sets its limit, and [`RateLimits::set`] changes it.
#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<BucketKey, (RateLimit, Arc<DefaultDirectRateLimiter>)>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(RateLimits::default())
    }

    /// The bucket for `key`, created with `limit` if it does not exist yet, or
    /// replaced when its limit differs from `limit`.
    pub fn bucket(&self, key: &BucketKey, limit: RateLimit) -> Arc<DefaultDirectRateLimiter> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match buckets.get(key) {
            Some((current, bucket)) if *current == limit => bucket.clone(),
            _ => {
                let bucket = Arc::new(RateLimiter::direct(limit.quota()));
                buckets.insert(key.clone(), (limit, bucket.clone()));
                bucket
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(region: &str) -> BucketKey {
        BucketKey {
            provider: "alibaba",
            account: "ak".into(),
            region: region.into(),
        }
    }

    #[test]
    fn same_key_shares_a_bucket_and_regions_are_separate() {
        let limits = RateLimits::new();
        let limit = RateLimit::new(1, 2);
        let a = limits.bucket(&key("cn-hangzhou"), limit);
        let b = limits.bucket(&key("cn-hangzhou"), limit);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(a.check().is_ok());
        assert!(b.check().is_ok());
        assert!(
            a.check().is_err(),
            "burst of 2 is spent across both handles"
        );
        let other = limits.bucket(&key("cn-beijing"), limit);
        assert!(other.check().is_ok(), "another region has its own bucket");
    }

    #[test]
    fn a_changed_limit_replaces_the_bucket() {
        let limits = RateLimits::new();
        let a = limits.bucket(&key("r"), RateLimit::new(1, 1));
        let b = limits.bucket(&key("r"), RateLimit::new(5, 5));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(RateLimit::new(0, 0), RateLimit::new(1, 1));
    }
}
