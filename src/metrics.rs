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

/// Labels naming a kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `NatGateway`, `ForwardEntry`, ...
    pub kind: &'static str,
}

/// Labels of a failed reconcile.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The kind reconciled.
    pub kind: &'static str,
    /// The bounded error category.
    pub category: &'static str,
}

/// Labels naming a ProviderConfig and a kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnclaimedLabels {
    /// The ProviderConfig whose account was looked at.
    pub provider_config: String,
    /// The kind of the resources.
    pub kind: &'static str,
}

/// Every metric natop exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Cloud calls and rate-limit waits.
    pub cloud: std::sync::Arc<CloudMetrics>,
    /// Reconciles run, by kind.
    pub reconciles: Family<KindLabels, Counter>,
    /// Reconciles that failed, by kind and error category.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// Reconciles in flight, by kind.
    pub in_flight: Family<KindLabels, prometheus_client::metrics::gauge::Gauge>,
    /// Objects waiting for a retry after an error, by kind.
    pub retrying: Family<KindLabels, prometheus_client::metrics::gauge::Gauge>,
    /// Cloud resources carrying this natop's owner id that no object claims.
    pub unclaimed: Family<UnclaimedLabels, prometheus_client::metrics::gauge::Gauge>,
}

impl Metrics {
    /// A registry holding every metric, for the `/metrics` endpoint.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        self.cloud.register(&mut registry);
        registry.register(
            "natop_reconciles",
            "Reconciles run, by kind",
            self.reconciles.clone(),
        );
        registry.register(
            "natop_reconcile_errors",
            "Reconciles that failed, by kind and error category",
            self.reconcile_errors.clone(),
        );
        registry.register(
            "natop_reconciles_in_flight",
            "Reconciles in flight (the work queue being drained), by kind",
            self.in_flight.clone(),
        );
        registry.register(
            "natop_objects_retrying",
            "Objects waiting for a retry after a retryable error, by kind",
            self.retrying.clone(),
        );
        registry.register(
            "natop_unclaimed_resources",
            "Cloud resources carrying this natop's owner id that no object claims (never \
             deleted by natop), by ProviderConfig and kind",
            self.unclaimed.clone(),
        );
        registry
    }
}
