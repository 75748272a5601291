//! Running natop in-process for integration tests: one operator per test,
//! restricted to the test's namespace and to objects labelled for it, talking
//! to an emulator started for the test.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use kube::{Api, Client};
use natop::api::ProviderConfig;
use natop::controller::{Context, OperatorConfig, RrsaDefaults};
use natop::emulator::fixture::Fixture;
use natop::emulator::{Durations, EmulatorConfig, RunningEmulator};
use natop::metrics::Metrics;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::cluster::{TestNamespace, client, install_crds};

/// The label every object of one test carries; its operator selects on it.
pub const TEST_LABEL: &str = "natop.dev/test-run";

/// A test's world: namespace, emulator, ProviderConfig and a running operator.
pub struct World {
    /// Kubernetes client (cluster admin).
    pub client: Client,
    /// The test's namespace.
    pub ns: TestNamespace,
    /// The emulator.
    pub emulator: RunningEmulator,
    /// The ProviderConfig's name.
    pub provider: String,
    /// The operator's metrics.
    pub metrics: Arc<Metrics>,
    /// The owner id the operator runs with (`--owner-id`); a test may change
    /// it before (re)starting the operator.
    pub owner_id: String,
    /// What RRSA ProviderConfigs default to (natop's environment); a test
    /// may set it before (re)starting the operator.
    pub rrsa: RrsaDefaults,
    operator: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

/// Emulator durations short enough for tests, long enough to see the states.
pub fn quick_durations() -> Durations {
    Durations {
        creating: Duration::from_secs(2),
        pending: Duration::from_millis(500),
        deleting: Duration::from_secs(1),
        modifying: Duration::from_secs(1),
        converting: Duration::from_secs(3),
        associating: Duration::from_millis(500),
    }
}

impl World {
    /// Start everything for a test named `prefix`, with the first Alibaba
    /// account of the default fixture.
    pub async fn start(prefix: &str) -> World {
        World::start_in_account(prefix, 0).await
    }

    /// Start with fixture account `account` (index) of the default fixture.
    pub async fn start_in_account(prefix: &str, account: usize) -> World {
        World::start_with(
            prefix,
            EmulatorConfig {
                durations: quick_durations(),
                ..EmulatorConfig::default()
            },
            account,
        )
        .await
    }

    /// Start with an emulator configuration and a fixture account index.
    pub async fn start_with(prefix: &str, emulator: EmulatorConfig, account: usize) -> World {
        World::start_custom(prefix, emulator, account, None, true).await
    }

    /// Everything configurable: a wrong `secret` replaces the account's
    /// AccessKeySecret; `operator: false` leaves the operator to the test.
    pub async fn start_custom(
        prefix: &str,
        emulator: EmulatorConfig,
        account: usize,
        secret: Option<String>,
        operator: bool,
    ) -> World {
        // NATOP_TEST_LOG=<filter> (e.g. `natop=debug`) shows the operator's log.
        if let Ok(filter) = std::env::var("NATOP_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        natop::telemetry::init("natop=info", natop::telemetry::LogFormat::Text);
        let client = client().await;
        install_crds(&client).await;
        let ns = TestNamespace::create(&client, prefix).await;
        let emulator = RunningEmulator::start(emulator)
            .await
            .expect("emulator starts");
        let fixture = Fixture::default_fixture();
        let a = &fixture.alibaba.accounts[account];
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "alibaba-credentials", "namespace": ns.name},
            "stringData": {
                "accessKeyId": a.access_key_id,
                "accessKeySecret": secret.unwrap_or_else(|| a.access_key_secret.clone()),
            }
        }))
        .unwrap();
        Api::<Secret>::namespaced(client.clone(), &ns.name)
            .create(&PostParams::default(), &secret)
            .await
            .expect("secret created");
        let provider = format!("pc-{}", ns.name);
        let config: ProviderConfig = serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "ProviderConfig",
            "metadata": {"name": provider, "labels": {TEST_LABEL: ns.name}},
            "spec": {
                "provider": "Alibaba",
                "region": "cn-hangzhou",
                "endpoint": emulator.endpoint(),
                "credentials": {"secretRef": {"namespace": ns.name, "name": "alibaba-credentials"}},
                "allowedNamespaces": [ns.name],
                "rateLimit": {"qps": 200, "burst": 200}
            }
        }))
        .unwrap();
        Api::<ProviderConfig>::all(client.clone())
            .create(&PostParams::default(), &config)
            .await
            .expect("provider config created");
        let owner_id = format!("owner-{}", ns.name);
        let mut world = World {
            client,
            ns,
            emulator,
            provider,
            metrics: Arc::new(Metrics::default()),
            operator: None,
            owner_id,
            rrsa: RrsaDefaults::default(),
        };
        if operator {
            world.start_operator();
        }
        world
    }

    /// (Re)start the operator.
    pub fn start_operator(&mut self) {
        self.start_operator_watching(vec![self.ns.name.clone()]);
    }

    /// (Re)start the operator, watching `namespaces` (the test's label still
    /// selects the objects; Secrets are read in the test's namespace).
    pub fn start_operator_watching(&mut self, namespaces: Vec<String>) {
        let cancel = CancellationToken::new();
        let config = OperatorConfig {
            watch_namespaces: namespaces,
            secret_namespaces: vec![self.ns.name.clone()],
            drift_interval: Duration::from_secs(600),
            min_drift_interval: Duration::from_secs(2),
            listing_grace: Duration::from_secs(10),
            concurrency: 8,
            label_selector: Some(format!("{TEST_LABEL}={}", self.ns.name)),
            owner_id: self.owner_id.clone(),
            rrsa: self.rrsa.clone(),
        };
        let ctx = Context::new(
            self.client.clone(),
            config,
            self.metrics.clone(),
            cancel.clone(),
        );
        let task = tokio::spawn(natop::controller::run(ctx));
        self.operator = Some((cancel, task));
    }

    /// Stop the operator at once, as a crash would (in-flight work is dropped).
    pub async fn kill_operator(&mut self) {
        if let Some((_, task)) = self.operator.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Labels a test object must carry for this world's operator.
    pub fn labels(&self) -> serde_json::Value {
        json!({ TEST_LABEL: self.ns.name })
    }

    /// Stop everything and delete the namespace.
    pub async fn stop(mut self) {
        if let Some((cancel, task)) = self.operator.take() {
            cancel.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let _ = Api::<ProviderConfig>::all(self.client.clone())
            .delete(&self.provider, &Default::default())
            .await;
        self.emulator.stop().await;
        self.ns.delete().await;
    }
}

/// A UCloud ProviderConfig (region `cn-bj2`) for `world`'s operator, with the
/// keys of the fixture's first UCloud account in a Secret of the world's
/// namespace; returns its name.
pub async fn ucloud_provider(world: &World) -> String {
    let a = &Fixture::default_fixture().ucloud.accounts[0];
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "ucloud-credentials", "namespace": world.ns.name},
        "stringData": {"publicKey": a.public_key, "privateKey": a.private_key},
    }))
    .unwrap();
    Api::<Secret>::namespaced(world.client.clone(), &world.ns.name)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let name = format!("uc-{}", world.ns.name);
    let config: ProviderConfig = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": name, "labels": {TEST_LABEL: world.ns.name}},
        "spec": {
            "provider": "UCloud",
            "region": "cn-bj2",
            "endpoint": world.emulator.endpoint(),
            "credentials": {"secretRef": {"namespace": world.ns.name, "name": "ucloud-credentials"}},
            "allowedNamespaces": [world.ns.name],
            "rateLimit": {"qps": 200, "burst": 200}
        }
    }))
    .unwrap();
    Api::<ProviderConfig>::all(world.client.clone())
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    name
}

/// Delete ProviderConfig `name` (one a test made besides the world's own),
/// whether or not it is there.
pub async fn delete_provider(world: &World, name: &str) {
    let _ = Api::<ProviderConfig>::all(world.client.clone())
        .delete(name, &Default::default())
        .await;
}
