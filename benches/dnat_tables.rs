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

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use natop::api::{ForwardEntry, NatGateway};
use natop::emulator::EmulatorConfig;
use natop::emulator::fixture::Fixture;
use serde_json::{Value, json};
use support::cluster::wait_for;
use support::operator::{World, quick_durations};
use support::process::{OperatorProcess, calls, print_calls_per, proc_status_kb};

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
    let level = std::env::var("NATOP_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let operator = OperatorProcess::spawn(&world, &log, &level);
    let pid = operator.pid();
    let total = gateways * per_gateway;
    println!(
        "natop DNAT tables: {gateways} gateways × {per_gateway} ForwardEntry objects = {total}, \
         entry Pending {} ms, operator pid {pid} (log: {})",
        pending.as_millis(),
        log.display()
    );

    // Gateways first, each with one EIP, all Ready before any entry exists.
    let vpc = fixture.alibaba.regions[0].vpcs[0].vpc_id.clone();
    let vswitch = fixture.alibaba.regions[0].vpcs[0].v_switches[0]
        .v_switch_id
        .clone();
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
                "vSwitchId": vswitch,
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
    operator.kill();
    world.stop().await;
    if std::env::var_os("NATOP_BENCH_LOG").is_none() {
        let _ = std::fs::remove_file(&log);
    }
}
