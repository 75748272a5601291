//! The integration-test harness: the shared local control plane that `make
//! test` starts (tests/run.sh), one namespace per test, CRD installation,
//! condition waits, and the emulator's admin endpoints.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::Value;

/// How long a test waits for natop (or the API server) to bring an object
/// where it should be.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The kubeconfig of the shared control plane. Integration tests never skip:
/// without a control plane they fail and say how to get one.
pub fn kubeconfig_path() -> PathBuf {
    match std::env::var_os("NATOP_TEST_KUBECONFIG") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "NATOP_TEST_KUBECONFIG is not set: integration tests need the local control plane. \
             Run them through `make test` (tests/run.sh starts it), or start one with \
             `make cluster-up` and export NATOP_TEST_KUBECONFIG=$KUBECONFIG"
        ),
    }
}

/// A client of the shared control plane, as cluster admin.
pub async fn client() -> Client {
    let path = kubeconfig_path();
    let kubeconfig = Kubeconfig::read_from(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is valid");
    Client::try_from(config).expect("client builds")
}

/// Poll `probe` every 100 ms until it returns `Some`, or panic after `timeout`
/// naming `what` was awaited.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A namespace of its own for one test.
pub struct TestNamespace {
    /// Its name: the prefix and a random suffix.
    pub name: String,
    client: Client,
}

impl TestNamespace {
    /// Create `prefix-xxxxxx`.
    pub async fn create(client: &Client, prefix: &str) -> TestNamespace {
        let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..6].to_string();
        let name = format!("{prefix}-{suffix}");
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"natop.dev/test": "true"}}
        }))
        .expect("namespace");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        TestNamespace {
            name,
            client: client.clone(),
        }
    }

    /// Delete it (the control plane is thrown away after the run anyway, so a
    /// test that fails before this leaves nothing that outlives the run).
    pub async fn delete(self) {
        let _ = Api::<Namespace>::all(self.client)
            .delete(&self.name, &DeleteParams::default())
            .await;
    }
}

/// Install a CRD by server-side apply, as `kubectl apply --server-side` and
/// Helm do, and wait until it is Established.
pub async fn install_crd(client: &Client, crd: &CustomResourceDefinition) {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let name = crd.metadata.name.clone().expect("CRD has a name");
    let mut crd = crd.clone();
    crd.metadata.managed_fields = None;
    // Tests install the same CRDs concurrently: a conflict means try again.
    for attempt in 1..=20 {
        match api
            .patch(
                &name,
                &PatchParams::apply("natop-tests").force(),
                &Patch::Apply(&crd),
            )
            .await
        {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < 20 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("CRD {name} installed: {e}"),
        }
    }
    wait_for(
        &format!("CRD {name} Established"),
        Duration::from_secs(30),
        || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                let established = crd
                    .status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established.then_some(())
            }
        },
    )
    .await;
}

/// Install every CRD of natop ([`install_crd`] each).
pub async fn install_crds(client: &Client) {
    for crd in natop::api::crds() {
        install_crd(client, &crd).await;
    }
}

/// GET an emulator admin endpoint (`state`, `calls`, `faults`, `clock`).
pub async fn emulator_admin(endpoint: &str, path: &str) -> Value {
    let text = reqwest::get(format!("{endpoint}_emulator/{path}"))
        .await
        .expect("emulator answers")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).expect("JSON")
}

/// POST JSON to an emulator admin endpoint.
pub async fn emulator_post(endpoint: &str, path: &str, body: Value) -> Value {
    let text = reqwest::Client::new()
        .post(format!("{endpoint}_emulator/{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("emulator answers")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).expect("JSON")
}

/// PUT JSON to an emulator admin endpoint (`faults`).
pub async fn emulator_put(endpoint: &str, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .put(format!("{endpoint}_emulator/{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("emulator answers");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// The API server's answer to a write the CRD's schema or rules refuse: 422
/// with `rule` (the rule's message) in it.
pub fn assert_refused<T: std::fmt::Debug>(result: kube::Result<T>, rule: &str) {
    match result {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "{e:?}");
            assert!(e.message.contains(rule), "{}", e.message);
        }
        other => panic!("refused with {rule:?} expected: {other:?}"),
    }
}
