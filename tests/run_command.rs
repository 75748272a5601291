//! `natop run` as a process against the shared control plane: it serves
//! /healthz, /readyz and /metrics, reconciles, stops cleanly on SIGTERM, and
//! with `--leader-elect` exactly one of two replicas holds the Lease, the
//! other taking over when the leader stops; a leader that loses its Lease
//! exits non-zero.
//!
//! Each operator started here watches its test's namespace only and selects
//! on a label only its test's objects carry, so it leaves the other tests'
//! (cluster-scoped) ProviderConfigs alone.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::cluster::{TestNamespace, client, install_crds, kubeconfig_path, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use natop::api::ProviderConfig;
use natop::emulator::fixture::Fixture;
use natop::emulator::{EmulatorConfig, RunningEmulator};
use serde_json::json;

const LABEL: &str = "natop.dev/run-command-test";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `natop run` process, killed if the test ends without stopping it.
struct Natop {
    name: String,
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Natop {
    /// Start `natop run` for the namespace `ns`, with `extra` arguments and
    /// `POD_NAME=name`.
    fn start(name: &str, ns: &str, extra: &[&str]) -> Natop {
        Natop::start_with(name, ns, &kubeconfig_path(), extra)
    }

    /// The same, talking to Kubernetes through `kubeconfig`.
    fn start_with(name: &str, ns: &str, kubeconfig: &std::path::Path, extra: &[&str]) -> Natop {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "natop-run-{name}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let stderr = std::fs::File::create(&log).expect("log file");
        let selector = format!("{LABEL}={ns}");
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_natop"))
            .arg("run")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--metrics-address", &address])
            .args(["--watch-namespace", ns, "--secret-namespace", ns])
            .args(["--label-selector", &selector])
            .args(["--log-level", "info,natop=debug"])
            .args(extra)
            .env("POD_NAME", name)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("natop starts");
        Natop {
            name: name.to_string(),
            child,
            port,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process still runs.
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {}", self.name);
    }

    /// Wait for the process to exit; panics after `timeout`.
    async fn exited(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "{} did not exit within {timeout:?}; its log:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then assert a clean exit within `timeout`.
    async fn stop(mut self, timeout: Duration) {
        self.terminate();
        let status = self.exited(timeout).await;
        assert_eq!(
            status.code(),
            Some(0),
            "{} exits 0 after SIGTERM ({status}); its log:\n{}",
            self.name,
            self.logs()
        );
    }

    /// Wait until `path` answers 200, while the process keeps running.
    async fn wait_ok(&mut self, path: &str, timeout: Duration) -> String {
        let url = self.url(path);
        let started = Instant::now();
        loop {
            if let Some((200, _, body)) = get(&url).await {
                return body;
            }
            assert!(
                self.running(),
                "{} exited before {path} answered 200; its log:\n{}",
                self.name,
                self.logs()
            );
            assert!(
                started.elapsed() < timeout,
                "{path} of {} did not answer 200 within {timeout:?}; its log:\n{}",
                self.name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Natop {
    /// Wait until this instance leads: it holds the Lease and has started
    /// its controllers.
    async fn wait_leading(&self, client: &Client, ns: &str) {
        let prefix = format!("{}_", self.name);
        wait_for(
            &format!("{} to hold the Lease and start its controllers", self.name),
            Duration::from_secs(30),
            || {
                let (client, ns, prefix) = (client.clone(), ns.to_string(), prefix.clone());
                let started = self.logs().contains("starting the controllers");
                async move {
                    let held = holder(&client, &ns).await?.starts_with(&prefix);
                    (held && started).then_some(())
                }
            },
        )
        .await;
    }
}

impl Drop for Natop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// GET `url`: status, content type and body, or `None` if nothing answers.
async fn get(url: &str) -> Option<(u16, Option<String>, String)> {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Some((status, content_type, response.text().await.ok()?))
}

/// The holder of the Lease `natop-leader` in `ns`, if any.
async fn holder(client: &Client, ns: &str) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), ns)
        .get_opt("natop-leader")
        .await
        .expect("Lease readable")?
        .spec?
        .holder_identity
}

/// A ProviderConfig for the emulator, labelled for this test's operator,
/// with the credentials of the fixture's first Alibaba account.
async fn create_provider_config(client: &Client, ns: &str, endpoint: &str) -> String {
    let fixture = Fixture::default_fixture();
    let account = &fixture.alibaba.accounts[0];
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "alibaba-credentials", "namespace": ns},
        "stringData": {
            "accessKeyId": account.access_key_id,
            "accessKeySecret": account.access_key_secret,
        }
    }))
    .expect("secret");
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
    let name = format!("pc-{ns}");
    let config: ProviderConfig = serde_json::from_value(json!({
        "apiVersion": "natop.dev/v1alpha1",
        "kind": "ProviderConfig",
        "metadata": {"name": name, "labels": {LABEL: ns}},
        "spec": {
            "provider": "Alibaba",
            "region": "cn-hangzhou",
            "endpoint": endpoint,
            "credentials": {"secretRef": {"namespace": ns, "name": "alibaba-credentials"}},
            "allowedNamespaces": [ns],
        }
    }))
    .expect("provider config");
    Api::<ProviderConfig>::all(client.clone())
        .create(&PostParams::default(), &config)
        .await
        .expect("provider config created");
    name
}

#[tokio::test]
async fn run_serves_health_and_metrics_reconciles_and_stops_on_sigterm() {
    let client = client().await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "run-command").await;
    let emulator = RunningEmulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let provider = create_provider_config(&client, &ns.name, &emulator.endpoint()).await;

    let mut natop = Natop::start("natop-run", &ns.name, &["--drift-interval", "30s"]);
    assert_eq!(
        natop.wait_ok("/healthz", Duration::from_secs(30)).await,
        "ok"
    );
    assert_eq!(
        natop.wait_ok("/readyz", Duration::from_secs(30)).await,
        "ok"
    );

    // The controllers run: the ProviderConfig is checked against the cloud.
    let metrics = wait_for(
        "natop_cloud_calls and natop_reconciles in /metrics",
        Duration::from_secs(30),
        || {
            let url = natop.url("/metrics");
            async move {
                let (status, content_type, body) = get(&url).await?;
                assert_eq!(status, 200);
                assert_eq!(content_type.as_deref(), Some(OPENMETRICS));
                (body.contains(
                    "natop_cloud_calls_total{provider=\"alibaba\",action=\"DescribeNatGateways\"",
                ) && body.contains("natop_reconciles_total{kind=\"ProviderConfig\"}"))
                .then_some(body)
            }
        },
    )
    .await;
    assert!(
        metrics.contains("# TYPE natop_cloud_calls counter"),
        "{metrics}"
    );
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");
    let port = natop.port;
    natop.stop(Duration::from_secs(30)).await;
    assert!(
        get(&format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_none(),
        "the endpoints stop with the process"
    );

    let _ = Api::<ProviderConfig>::all(client.clone())
        .delete(&provider, &Default::default())
        .await;
    emulator.stop().await;
    ns.delete().await;
}

#[tokio::test]
async fn with_leader_election_one_replica_leads_and_the_other_takes_over() {
    let client = client().await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "run-leader").await;
    let elect = ["--leader-elect", "--leader-election-namespace", &ns.name];
    let mut a = Natop::start("natop-a", &ns.name, &elect);
    let mut b = Natop::start("natop-b", &ns.name, &elect);

    // Both are healthy and ready: the leader runs the controllers, the
    // follower stands by.
    for natop in [&mut a, &mut b] {
        assert_eq!(
            natop.wait_ok("/healthz", Duration::from_secs(30)).await,
            "ok"
        );
        assert_eq!(
            natop.wait_ok("/readyz", Duration::from_secs(30)).await,
            "ok"
        );
    }
    let first = wait_for("a holder of the Lease", Duration::from_secs(30), || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move { holder(&client, &ns).await }
    })
    .await;
    let a_leads = first.starts_with("natop-a_");
    assert!(
        a_leads || first.starts_with("natop-b_"),
        "the Lease is held by one of the two: {first}"
    );
    let (mut leader, mut follower) = if a_leads { (a, b) } else { (b, a) };
    leader.wait_leading(&client, &ns.name).await;
    // Exactly one: the holder stays put, and only the leader runs controllers.
    for _ in 0..10 {
        assert_eq!(
            holder(&client, &ns.name).await.as_deref(),
            Some(first.as_str())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !follower.logs().contains("starting the controllers"),
        "{}",
        follower.logs()
    );
    assert_eq!(
        follower.wait_ok("/readyz", Duration::from_secs(1)).await,
        "ok"
    );
    assert_eq!(
        leader.wait_ok("/healthz", Duration::from_secs(1)).await,
        "ok"
    );

    // The leader stops (releasing the Lease); the follower takes over.
    leader.stop(Duration::from_secs(30)).await;
    let second = wait_for(
        "the follower to take over the Lease",
        Duration::from_secs(45),
        || {
            let client = client.clone();
            let ns = ns.name.clone();
            let first = first.clone();
            async move { holder(&client, &ns).await.filter(|h| *h != first) }
        },
    )
    .await;
    assert!(
        second.starts_with(&format!("{}_", follower.name)),
        "the follower holds the Lease: {second}"
    );
    follower.wait_leading(&client, &ns.name).await;
    assert_eq!(
        follower.wait_ok("/readyz", Duration::from_secs(1)).await,
        "ok"
    );

    // The last one releases the Lease on its way out.
    follower.stop(Duration::from_secs(30)).await;
    assert_eq!(
        holder(&client, &ns.name).await,
        None,
        "the Lease is released"
    );
    ns.delete().await;
}

#[tokio::test]
async fn a_leader_that_loses_its_lease_exits_non_zero() {
    let client = client().await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "run-lost").await;
    let mut natop = Natop::start(
        "natop-lost",
        &ns.name,
        &["--leader-elect", "--leader-election-namespace", &ns.name],
    );
    natop.wait_ok("/readyz", Duration::from_secs(30)).await;
    natop.wait_leading(&client, &ns.name).await;

    // Someone else takes the Lease over.
    let now = k8s_openapi::jiff::Timestamp::now();
    Api::<Lease>::namespaced(client.clone(), &ns.name)
        .patch(
            "natop-leader",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "holderIdentity": "usurper",
                "acquireTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(now),
                "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(now),
                "leaseDurationSeconds": 60,
            }})),
        )
        .await
        .expect("Lease taken over");

    let status = natop.exited(Duration::from_secs(15)).await;
    assert_eq!(
        status.code(),
        Some(1),
        "a leader that lost its Lease exits 1 ({status}); its log:\n{}",
        natop.logs()
    );
    assert!(natop.logs().contains("lost the Lease"), "{}", natop.logs());
    assert_eq!(
        holder(&client, &ns.name).await.as_deref(),
        Some("usurper"),
        "the Lease is not released by an instance that lost it"
    );
    ns.delete().await;
}

/// A TCP proxy to the API server that can be cut: connections in flight are
/// dropped and new ones refused.
struct Proxy {
    address: std::net::SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let address = listener.local_addr().expect("proxy address");
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accepting = {
            let tasks = tasks.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let upstream = upstream.clone();
                    let connection = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().expect("tasks").push(connection);
                }
            })
        };
        tasks.lock().expect("tasks").push(accepting);
        Proxy { address, tasks }
    }

    fn cut(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }
}

/// The API server's `host:port` in the test kubeconfig.
fn api_server() -> String {
    let config = kube::config::Kubeconfig::read_from(kubeconfig_path()).expect("kubeconfig");
    let server = config.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.server.clone())
        .expect("a server");
    server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// A copy of the test kubeconfig whose server is `address` (JSON is YAML),
/// deleted on drop.
struct KubeconfigCopy(PathBuf);

impl KubeconfigCopy {
    fn via(address: std::net::SocketAddr) -> KubeconfigCopy {
        let mut config =
            kube::config::Kubeconfig::read_from(kubeconfig_path()).expect("kubeconfig");
        let upstream = api_server();
        let host = upstream.rsplit_once(':').expect("host:port").0;
        let cluster = config.clusters[0].cluster.as_mut().expect("a cluster");
        cluster.server = Some(format!("https://{host}:{}", address.port()));
        let path = std::env::temp_dir().join(format!(
            "natop-run-kubeconfig-{}.json",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, serde_json::to_string(&config).expect("JSON")).expect("written");
        KubeconfigCopy(path)
    }
}

impl Drop for KubeconfigCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn a_leader_cut_off_from_the_api_server_stops_before_its_lease_expires() {
    let client = client().await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "run-cut").await;
    let proxy = Proxy::start(api_server()).await;
    let kubeconfig = KubeconfigCopy::via(proxy.address);
    let mut natop = Natop::start_with(
        "natop-cut",
        &ns.name,
        &kubeconfig.0,
        &["--leader-elect", "--leader-election-namespace", &ns.name],
    );
    natop.wait_ok("/readyz", Duration::from_secs(30)).await;
    natop.wait_leading(&client, &ns.name).await;

    proxy.cut();
    let status = natop.exited(Duration::from_secs(30)).await;
    let exited_at = std::time::SystemTime::now();
    assert_eq!(
        status.code(),
        Some(1),
        "a leader that cannot renew its Lease exits 1 ({status}); its log:\n{}",
        natop.logs()
    );
    assert!(
        natop.logs().contains("the Lease was not renewed in time"),
        "{}",
        natop.logs()
    );
    // It stopped while its last renewal still held off the other candidates.
    let spec = Api::<Lease>::namespaced(client.clone(), &ns.name)
        .get("natop-leader")
        .await
        .expect("Lease")
        .spec
        .expect("spec");
    let renewed: std::time::SystemTime = spec.renew_time.expect("renewed").0.into();
    let expiry = renewed
        + Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.expect("duration")).expect("positive"),
        );
    assert!(
        exited_at < expiry,
        "exited at {exited_at:?}, after the Lease expired at {expiry:?}; log:\n{}",
        natop.logs()
    );
    ns.delete().await;
}

#[tokio::test]
async fn variables_configure_the_command_and_bad_values_stop_it() {
    let client = client().await;
    install_crds(&client).await;
    let ns = TestNamespace::create(&client, "run-env").await;

    // Every flag has a NATOP_ variable.
    let port = free_port();
    let log = std::env::temp_dir().join(format!(
        "natop-run-env-{}.log",
        uuid::Uuid::new_v4().simple()
    ));
    let mut natop = Natop {
        name: "natop-env".to_string(),
        child: Command::new(env!("CARGO_BIN_EXE_natop"))
            .arg("run")
            .env("NATOP_KUBECONFIG", kubeconfig_path())
            .env("NATOP_METRICS_ADDRESS", format!("127.0.0.1:{port}"))
            .env("NATOP_WATCH_NAMESPACE", &ns.name)
            .env("NATOP_SECRET_NAMESPACE", &ns.name)
            .env("NATOP_LABEL_SELECTOR", format!("{LABEL}={}", ns.name))
            .env("NATOP_DRIFT_INTERVAL", "45s")
            .env("NATOP_CONCURRENCY", "3")
            .env("NATOP_LOG_FORMAT", "json")
            .env("NATOP_LOG_LEVEL", "info")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("natop starts"),
        port,
        log,
    };
    natop.wait_ok("/readyz", Duration::from_secs(30)).await;
    let logs = natop.logs();
    let start = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "starting natop")
        .unwrap_or_else(|| panic!("a JSON start-up line; log:\n{logs}"));
    assert_eq!(start["fields"]["drift_interval"], "45s", "{start}");
    assert_eq!(start["fields"]["concurrency"], 3, "{start}");
    assert_eq!(
        start["fields"]["watch_namespaces"],
        format!("[\"{}\"]", ns.name),
        "{start}"
    );
    natop.stop(Duration::from_secs(30)).await;

    // Start-up errors: a clear message and a non-zero exit.
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_natop"));
        command.arg("run").args(args).env_remove("RUST_LOG");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("natop runs")
    };
    let bad_interval = run(&[], &[("NATOP_DRIFT_INTERVAL", "soon")]);
    assert_eq!(bad_interval.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_interval.stderr);
    assert!(
        stderr.contains("--drift-interval") && stderr.contains("`soon` is not an interval"),
        "{stderr}"
    );

    let no_kubeconfig = run(
        &[
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "--metrics-address",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(no_kubeconfig.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&no_kubeconfig.stderr);
    assert!(
        stderr.contains("error: cannot read the kubeconfig /nonexistent/kubeconfig"),
        "{stderr}"
    );

    let bad_selector = run(
        &[
            "--metrics-address",
            "127.0.0.1:0",
            "--label-selector",
            "a in (b",
        ],
        &[(
            "NATOP_KUBECONFIG",
            kubeconfig_path().to_str().expect("UTF-8 path"),
        )],
    );
    assert_eq!(bad_selector.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad_selector.stderr);
    assert!(
        stderr.contains("error: invalid --label-selector"),
        "{stderr}"
    );
    ns.delete().await;
}
