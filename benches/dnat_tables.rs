//! 10 NatGateways × 100 ForwardEntry objects against the emulator, with the
//! operator running as its own `natop run` process against the local control
//! plane. Prints numbers; asserts nothing (these machines are shared and
//! noisy):
//!
//! - the time until every entry is Ready, divided by the serialization lower
//!   bound (a table accepts one write at a time and refuses writes while an
//!   entry is Pending, so the busiest table needs at least the sum of its
//!   entries' Pending durations);
//! - cloud calls per entry, by action and outcome;
//! - the operator process's peak resident memory (VmHWM).
//!
//! Needs the control plane: `make bench` starts one (benches/run.sh), or set
//! NATOP_TEST_KUBECONFIG. NATOP_BENCH_GATEWAYS, NATOP_BENCH_ENTRIES (per
//! gateway, at most 100: the table quota) and NATOP_BENCH_PENDING_MS change
//! the shape; NATOP_BENCH_LOG sets the operator's log level and keeps its
//! log.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use natop::api::{ForwardEntry, NatGateway};
use natop::emulator::EmulatorConfig;
use natop::emulator::fixture::Fixture;
use serde_json::{Value, json};
use support::cluster::{emulator_admin, kubeconfig_path, wait_for};
use support::operator::{TEST_LABEL, World, quick_durations};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ready(object: &Value) -> bool {
    object["status"]["observedGeneration"] == object["metadata"]["generation"]
        && object["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// How many objects of a list are Ready.
fn count_ready<K: serde::Serialize>(objects: &[K]) -> usize {
    objects
        .iter()
        .filter(|o| serde_json::to_value(o).is_ok_and(|v| ready(&v)))
        .count()
}

/// `natop run` for the bench's namespace and label, logging to a file.
fn spawn_operator(world: &World, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).expect("operator log file");
    Command::new(env!("CARGO_BIN_EXE_natop"))
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig_path())
        .args(["--watch-namespace", &world.ns.name])
        .args(["--secret-namespace", &world.ns.name])
        .args([
            "--label-selector",
            &format!("{TEST_LABEL}={}", world.ns.name),
        ])
        .args(["--metrics-address", "127.0.0.1:0"])
        .args([
            "--log-level",
            &std::env::var("NATOP_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("natop run starts")
}

/// A field of /proc/PID/status, in kB.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
}

/// Calls answered, by action then outcome.
async fn calls(world: &World) -> BTreeMap<String, BTreeMap<String, u64>> {
    serde_json::from_value(emulator_admin(&world.emulator.endpoint(), "calls").await)
        .expect("calls decode")
}

fn print_calls_per(
    before: &BTreeMap<String, BTreeMap<String, u64>>,
    after: &BTreeMap<String, BTreeMap<String, u64>>,
    per: usize,
) {
    println!(
        "  {:<36} {:>8} {:>10}  outcomes",
        "action", "calls", "per entry"
    );
    for (action, outcomes) in after {
        let mut total = 0;
        let mut detail = Vec::new();
        for (outcome, n) in outcomes {
            let delta = n - before
                .get(action)
                .and_then(|o| o.get(outcome))
                .copied()
                .unwrap_or(0);
            if delta > 0 {
                total += delta;
                detail.push(format!("{outcome}={delta}"));
            }
        }
        if total > 0 {
            println!(
                "  {action:<36} {total:>8} {:>10.3}  {}",
                total as f64 / per as f64,
                detail.join(" ")
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let gateways = setting("NATOP_BENCH_GATEWAYS", 10) as usize;
    let per_gateway = setting("NATOP_BENCH_ENTRIES", 100).min(100) as usize;
    let pending = Duration::from_millis(setting("NATOP_BENCH_PENDING_MS", 500));
    let fixture = Fixture::default_fixture();
    let eips = &fixture.alibaba.regions[0].eips;
    assert!(
        gateways <= eips.len(),
        "the fixture has {} EIPs in one region: at most that many gateways",
        eips.len()
    );
    let mut durations = quick_durations();
    durations.pending = pending;
    let world = World::start_custom(
        "bench-dnat",
        EmulatorConfig {
            durations,
            ..EmulatorConfig::default()
        },
        0,
        None,
        false,
    )
    .await;
    let log = std::env::temp_dir().join(format!("natop-bench-{}.log", world.ns.name));
    let mut operator = spawn_operator(&world, &log);
    let pid = operator.id();
    let total = gateways * per_gateway;
    println!(
        "natop DNAT tables: {gateways} gateways × {per_gateway} ForwardEntry objects = {total}, \
         entry Pending {} ms, operator pid {pid} (log: {})",
        pending.as_millis(),
        log.display()
    );

    // Gateways first, each with one EIP, all Ready before any entry exists.
    let vpc = fixture.alibaba.regions[0].vpcs[0].vpc_id.clone();
    let gw_api: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
    let started = Instant::now();
    for (g, eip) in eips.iter().enumerate().take(gateways) {
        let object: NatGateway = serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "NatGateway",
            "metadata": {"name": format!("gw-{g}"), "labels": world.labels()},
            "spec": {
                "providerConfigRef": {"name": world.provider},
                "vpcId": vpc,
                "eipAllocationIds": [eip.allocation_id],
            },
        }))
        .expect("gateway manifest");
        gw_api
            .create(&PostParams::default(), &object)
            .await
            .expect("gateway created");
    }
    wait_for("every gateway Ready", Duration::from_secs(300), || async {
        let list = gw_api.list(&ListParams::default()).await.ok()?;
        (count_ready(&list.items) == gateways).then_some(())
    })
    .await;
    println!("gateways Ready in {:.1} s", started.elapsed().as_secs_f64());

    // The entries, created as fast as the API server takes them.
    let before = calls(&world).await;
    let fe_api: Api<ForwardEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
    let manifests: Vec<ForwardEntry> = (0..gateways)
        .flat_map(|g| (0..per_gateway).map(move |i| (g, i)))
        .map(|(g, i)| {
            serde_json::from_value(json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "ForwardEntry",
                "metadata": {"name": format!("gw-{g}-{i}"), "labels": world.labels()},
                "spec": {
                    "natGatewayRef": {"name": format!("gw-{g}")},
                    "externalIp": eips[g].ip_address,
                    "externalPort": (10_000 + i).to_string(),
                    "internalIp": format!("172.16.{}.{}", 1 + g, 10 + i),
                    "internalPort": "8080",
                    "ipProtocol": "TCP",
                },
            }))
            .expect("entry manifest")
        })
        .collect();
    let started = Instant::now();
    stream::iter(manifests)
        .for_each_concurrent(32, |m| {
            let api = fe_api.clone();
            async move {
                api.create(&PostParams::default(), &m)
                    .await
                    .expect("entry created");
            }
        })
        .await;
    let applied = started.elapsed();
    let rss_busy = proc_status_kb(pid, "VmRSS:");
    let limit = Duration::from_secs(60) + pending * (per_gateway as u32) * 5;
    wait_for("every entry Ready", limit, || async {
        let list = fe_api.list(&ListParams::default()).await.ok()?;
        (count_ready(&list.items) == total).then_some(())
    })
    .await;
    let converged = started.elapsed();
    let after = calls(&world).await;
    let bound = pending * per_gateway as u32;
    println!(
        "entries applied in {:.1} s; all {total} Ready after {:.1} s",
        applied.as_secs_f64(),
        converged.as_secs_f64()
    );
    println!(
        "time to all Ready / serialization lower bound ({per_gateway} × {} ms = {:.1} s): {:.2}",
        pending.as_millis(),
        bound.as_secs_f64(),
        converged.as_secs_f64() / bound.as_secs_f64()
    );
    println!("cloud calls while converging ({total} entries):");
    print_calls_per(&before, &after, total);

    // Deleting everything, through the operator, so the namespace goes too.
    let before = after;
    let started = Instant::now();
    fe_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("entries deleted");
    wait_for("every entry gone", limit, || async {
        fe_api
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    println!(
        "all {total} entries deleted (finalizers released) after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let after = calls(&world).await;
    println!("cloud calls while deleting:");
    print_calls_per(&before, &after, total);
    gw_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("gateways deleted");
    wait_for("every gateway gone", Duration::from_secs(120), || async {
        let list = gw_api.list(&ListParams::default()).await.ok()?;
        list.items.is_empty().then_some(())
    })
    .await;

    let peak = proc_status_kb(pid, "VmHWM:");
    let now = proc_status_kb(pid, "VmRSS:");
    let mb = |kb: Option<u64>| {
        kb.map_or("n/a".to_string(), |kb| {
            format!("{:.1} MiB", kb as f64 / 1024.0)
        })
    };
    println!(
        "operator resident memory: peak (VmHWM) {}, while converging {}, at the end {}",
        mb(peak),
        mb(rss_busy),
        mb(now)
    );
    let _ = operator.kill();
    let _ = operator.wait();
    world.stop().await;
    if std::env::var_os("NATOP_BENCH_LOG").is_none() {
        let _ = std::fs::remove_file(&log);
    }
}
