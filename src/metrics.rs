//! Prometheus metrics of natop.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of one cloud call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `alibaba` or `ucloud`.
    pub provider: &'static str,
    /// Wire action name.
    pub action: String,
    /// `success` or the error category.
    pub outcome: &'static str,
}

/// Labels naming only the cloud.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// `alibaba` or `ucloud`.
    pub provider: &'static str,
}

/// Metrics recorded by the cloud clients.
#[derive(Debug, Clone)]
pub struct CloudMetrics {
    /// Cloud calls sent, by action and outcome (every attempt counts).
    pub calls: Family<CallLabels, Counter>,
    /// Seconds spent waiting for a rate-limit token before a call.
    pub rate_limit_wait: Family<ProviderLabels, Histogram>,
    /// Retries made after a retryable failure, by action.
    pub retries: Family<CallLabels, Counter>,
}

fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 9))
}

impl Default for CloudMetrics {
    fn default() -> Self {
        CloudMetrics {
            calls: Family::default(),
            rate_limit_wait: Family::new_with_constructor(wait_histogram),
            retries: Family::default(),
        }
    }
}

impl CloudMetrics {
    /// Register these metrics under `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "natop_cloud_calls",
            "Cloud API calls by provider, action and outcome",
            self.calls.clone(),
        );
        registry.register(
            "natop_cloud_rate_limit_wait_seconds",
            "Time spent waiting for a client-side rate-limit token",
            self.rate_limit_wait.clone(),
        );
        registry.register(
            "natop_cloud_retries",
            "Retries of cloud calls after retryable failures",
            self.retries.clone(),
        );
    }

    /// Count one attempt of `action` with `outcome`.
    pub fn record_call(&self, provider: &'static str, action: &str, outcome: &'static str) {
        self.calls
            .get_or_create(&CallLabels {
                provider,
                action: action.to_string(),
                outcome,
            })
            .inc();
    }
}
