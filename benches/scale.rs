//! natop at the size a large platform team runs: 100 NatGateways × 100
//! ForwardEntry objects (10,000 entries) against the emulator, with the
//! operator running as its own `natop run` process against the local control
//! plane, the cloud client's rate limit lifted (the ProviderConfig's maximum,
//! 1000 calls per second). Prints numbers; asserts nothing (these machines are
//! shared and noisy). Three phases:
//!
//! - gateways: every NatGateway (Enhanced, one EIP each, spread over the
//!   VPC's vSwitches) is created and Ready before any entry exists;
//! - convergence: every entry created (32 at a time), until all are Ready:
//!   the time and its ratio to the serialization bound (a table accepts one
//!   write at a time and refuses writes while an entry is Pending, so the
//!   busiest table needs at least its entries × Pending), natop's CPU
//!   seconds, API-server requests by verb and resource (the API server's own
//!   `apiserver_request_total`), cloud calls per entry by action;
//! - at rest: every object annotated with a short drift interval; once natop
//!   is quiet, a window of several intervals: describe calls per table per
//!   interval, API-server writes (natop should make none), CPU seconds, and
//!   natop's resident memory at the end.
//!
//! The summary block at the end has one figure per line under stable labels.
//! Cleanup does not go through natop (10,000 deletes would take as long as the
//! creates): natop is stopped, finalizers are removed, the namespace deleted.
//!
//! `make bench-scale` runs it (benches/run.sh scale starts a control plane
//! unless NATOP_TEST_KUBECONFIG names one). Environment:
//! NATOP_BENCH_GATEWAYS (100), NATOP_BENCH_ENTRIES per gateway (100, at most
//! the table quota of 100), NATOP_BENCH_PENDING_MS (1000),
//! NATOP_BENCH_DRIFT_S (drift interval at rest, 30), NATOP_BENCH_REST_INTERVALS
//! (intervals measured at rest, 2), NATOP_BENCH_TIMEOUT_S (the convergence
//! wait; default 300 + 20 × the bound), NATOP_BENCH_LOG (natop's log level;
//! set, the log is kept).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use natop::api::{ForwardEntry, NatGateway, ProviderConfig};
use natop::emulator::EmulatorConfig;
use natop::emulator::fixture::{Eip, Fixture};
use serde_json::{Value, json};
use support::cluster::wait_for;
use support::operator::{TEST_LABEL, World, quick_durations};
use support::process::{
    Calls, OperatorProcess, calls, print_calls_per, proc_cpu_seconds, proc_status_kb,
};

/// Objects created or patched at once by the bench.
const CONCURRENCY: usize = 32;

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

/// `apiserver_request_total` summed over codes, by (verb, resource), the
/// resource as `plural.group/subresource` (kubectl's spelling).
type Requests = BTreeMap<(String, String), u64>;

async fn api_requests(client: &Client) -> Requests {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("metrics request");
    let text = client
        .request_text(request)
        .await
        .expect("the API server serves /metrics");
    let mut counts = Requests::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split("\",")
                .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let mut resource = label("resource");
        if resource.is_empty() {
            continue; // non-resource URLs: /metrics, /readyz, discovery
        }
        let group = label("group");
        if !group.is_empty() {
            resource = format!("{resource}.{group}");
        }
        let sub = label("subresource");
        if !sub.is_empty() {
            resource = format!("{resource}/{sub}");
        }
        let n = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        *counts.entry((label("verb"), resource)).or_default() += n;
    }
    counts
}

fn requests_between(before: &Requests, after: &Requests) -> Requests {
    after
        .iter()
        .map(|(k, n)| (k.clone(), n - before.get(k).copied().unwrap_or(0).min(*n)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn is_write(verb: &str) -> bool {
    !matches!(verb, "GET" | "LIST" | "WATCH")
}

/// Leases are renewed by the API server itself (its identity lease, every
/// 10 s) whatever natop does; natop runs without leader election here.
fn is_lease(resource: &str) -> bool {
    resource.starts_with("leases.")
}

/// Requests whose (verb, resource) pass `keep`.
fn count(requests: &Requests, keep: impl Fn(&str, &str) -> bool) -> u64 {
    requests
        .iter()
        .filter(|((v, r), _)| keep(v, r))
        .map(|(_, n)| n)
        .sum()
}

fn print_requests(requests: &Requests, per: usize) {
    println!(
        "  {:<8} {:<44} {:>8} {:>10}",
        "verb", "resource", "requests", "per entry"
    );
    for ((verb, resource), n) in requests.iter().filter(|((v, _), _)| v != "WATCH") {
        println!(
            "  {verb:<8} {resource:<44} {n:>8} {:>10.3}",
            *n as f64 / per.max(1) as f64
        );
    }
}

/// Calls of one action between two readings, every outcome.
fn action_calls(before: &Calls, after: &Calls, action: &str) -> u64 {
    let sum = |c: &Calls| c.get(action).map_or(0, |o| o.values().sum::<u64>());
    sum(after) - sum(before).min(sum(after))
}

/// The default fixture, with EIPs enough for `gateways` in the first region.
fn fixture_for(gateways: usize) -> Fixture {
    let mut fixture = Fixture::default_fixture();
    let region = &mut fixture.alibaba.regions[0];
    for i in region.eips.len()..gateways {
        region.eips.push(Eip {
            allocation_id: format!("eip-bench{i:04}natop0000"),
            ip_address: format!("47.110.{}.{}", i / 200, 10 + i % 200),
        });
    }
    fixture
}

/// Patch every object of `api` with `patch` (merge), `CONCURRENCY` at a
/// time; returns how many were patched.
async fn patch_all<K>(api: &Api<K>, names: &[String], patch: &Value) -> usize
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    stream::iter(names)
        .map(|name| async move {
            api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .is_ok()
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

/// Counts the entries Ready, from a watch (listing 10,000 objects every
/// poll would load the API server more than natop does).
fn watch_ready(api: Api<ForwardEntry>, selector: String) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let shared = count.clone();
    tokio::spawn(async move {
        let mut ready_names = HashSet::new();
        let mut objects = std::pin::pin!(
            watcher(api, watcher::Config::default().labels(&selector)).applied_objects()
        );
        while let Ok(Some(entry)) = objects.try_next().await {
            let name = entry.metadata.name.clone().unwrap_or_default();
            if serde_json::to_value(&entry).is_ok_and(|v| ready(&v)) {
                ready_names.insert(name);
            } else {
                ready_names.remove(&name);
            }
            shared.store(ready_names.len(), Ordering::Relaxed);
        }
    });
    count
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or("n/a".into(), |kb| format!("{:.1}", kb as f64 / 1024.0))
}

fn cpu(before: Option<f64>, after: Option<f64>) -> String {
    match (before, after) {
        (Some(b), Some(a)) => format!("{:.1}", a - b),
        _ => "n/a".into(),
    }
}

#[tokio::main]
async fn main() {
    let gateways = setting("NATOP_BENCH_GATEWAYS", 100) as usize;
    let per_gateway = setting("NATOP_BENCH_ENTRIES", 100).min(100) as usize;
    let pending = Duration::from_millis(setting("NATOP_BENCH_PENDING_MS", 1000));
    let drift = Duration::from_secs(setting("NATOP_BENCH_DRIFT_S", 30).max(1));
    let rest_intervals = setting("NATOP_BENCH_REST_INTERVALS", 2).max(1) as u32;
    let total = gateways * per_gateway;
    let bound = pending * per_gateway as u32;
    let timeout = Duration::from_secs(setting("NATOP_BENCH_TIMEOUT_S", 300 + 20 * bound.as_secs()));

    let fixture = fixture_for(gateways);
    let region = fixture.alibaba.regions[0].clone();
    let vpc = &region.vpcs[0];
    let mut durations = quick_durations();
    durations.pending = pending;
    let world = World::start_custom(
        "bench-scale",
        EmulatorConfig {
            fixture: fixture.clone(),
            durations,
            ..EmulatorConfig::default()
        },
        0,
        None,
        false,
    )
    .await;
    // The client rate limit lifted: the most a ProviderConfig may ask for.
    Api::<ProviderConfig>::all(world.client.clone())
        .patch(
            &world.provider,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rateLimit": {"qps": 1000, "burst": 1000}}})),
        )
        .await
        .expect("rate limit lifted");
    let log = std::env::temp_dir().join(format!("natop-bench-{}.log", world.ns.name));
    let level = std::env::var("NATOP_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    let drift_text = format!("{}s", drift.as_secs());
    let operator =
        OperatorProcess::spawn_with(&world, &log, &level, &["--min-drift-interval", &drift_text]);
    let pid = operator.pid();
    println!(
        "natop at scale: {gateways} gateways × {per_gateway} ForwardEntry objects = {total}, \
         entry Pending {} ms, drift interval at rest {drift_text}, operator pid {pid} (log: {})",
        pending.as_millis(),
        log.display()
    );

    // Gateways: Enhanced (natop's default), one EIP each, spread over the
    // VPC's vSwitches (each gateway takes a private IP of its vSwitch).
    let gw_api: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
    let gw_names: Vec<String> = (0..gateways).map(|g| format!("gw-{g}")).collect();
    let started = Instant::now();
    stream::iter(0..gateways)
        .for_each_concurrent(CONCURRENCY, |g| {
            let api = gw_api.clone();
            let object: NatGateway = serde_json::from_value(json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "NatGateway",
                "metadata": {"name": gw_names[g], "labels": world.labels()},
                "spec": {
                    "providerConfigRef": {"name": world.provider},
                    "vpcId": vpc.vpc_id,
                    "vSwitchId": vpc.v_switches[g % vpc.v_switches.len()].v_switch_id,
                    "eipAllocationIds": [region.eips[g].allocation_id],
                },
            }))
            .expect("gateway manifest");
            async move {
                api.create(&PostParams::default(), &object)
                    .await
                    .expect("gateway created");
            }
        })
        .await;
    wait_for("every gateway Ready", Duration::from_secs(600), || async {
        tokio::time::sleep(Duration::from_millis(900)).await;
        let list = gw_api.list(&ListParams::default()).await.ok()?;
        let n = list
            .items
            .iter()
            .filter(|o| serde_json::to_value(o).is_ok_and(|v| ready(&v)))
            .count();
        (n == gateways).then_some(())
    })
    .await;
    println!("gateways Ready in {:.1} s", started.elapsed().as_secs_f64());
    // Before any entry: the code pages natop has touched and its own start.
    let rss_idle = proc_status_kb(pid, "VmRSS:");

    // Convergence: every entry created as fast as the API server takes them.
    let fe_api: Api<ForwardEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
    let ready_count = watch_ready(fe_api.clone(), format!("{TEST_LABEL}={}", world.ns.name));
    let manifests: Vec<ForwardEntry> = (0..gateways)
        .flat_map(|g| (0..per_gateway).map(move |i| (g, i)))
        .map(|(g, i)| {
            serde_json::from_value(json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "ForwardEntry",
                "metadata": {"name": format!("gw-{g}-{i}"), "labels": world.labels()},
                "spec": {
                    "natGatewayRef": {"name": gw_names[g]},
                    "externalIp": region.eips[g].ip_address,
                    "externalPort": (10_000 + i).to_string(),
                    "internalIp": format!("172.16.{}.{}", 1 + g % 250, 10 + i),
                    "internalPort": "8080",
                    "ipProtocol": "TCP",
                },
            }))
            .expect("entry manifest")
        })
        .collect();
    let fe_names: Vec<String> = manifests
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    let calls_before = calls(&world).await;
    let requests_before = api_requests(&world.client).await;
    let cpu_before = proc_cpu_seconds(pid);
    let started = Instant::now();
    let created = stream::iter(manifests)
        .map(|m| {
            let api = fe_api.clone();
            async move { api.create(&PostParams::default(), &m).await.is_ok() }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let applied = started.elapsed();
    println!(
        "{created} entries created in {:.1} s; Ready so far: {}",
        applied.as_secs_f64(),
        ready_count.load(Ordering::Relaxed)
    );
    let mut last_report = Instant::now();
    let converged = loop {
        let n = ready_count.load(Ordering::Relaxed);
        if n >= total {
            break Some(started.elapsed());
        }
        if started.elapsed() > timeout {
            println!("timed out after {timeout:?}: {n} of {total} Ready");
            break None;
        }
        if last_report.elapsed() >= Duration::from_secs(60) {
            last_report = Instant::now();
            println!(
                "  {:>6.0} s: {n} Ready, natop RSS {} MiB",
                started.elapsed().as_secs_f64(),
                mib(proc_status_kb(pid, "VmRSS:"))
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cpu_converged = proc_cpu_seconds(pid);
    let calls_converged = calls(&world).await;
    let requests_converged = api_requests(&world.client).await;
    let rss_converged = proc_status_kb(pid, "VmRSS:");
    // The highest RSS while converging, before the at-rest window annotates
    // every object (an annotation each natop keeps in its cache).
    let peak_converged = proc_status_kb(pid, "VmHWM:");
    let convergence_requests = requests_between(&requests_before, &requests_converged);
    let ratio = converged.map(|c| c.as_secs_f64() / bound.as_secs_f64());
    match converged {
        Some(c) => println!(
            "all {total} Ready after {:.1} s = {:.2} × the serialization bound \
             ({per_gateway} × {} ms = {:.1} s)",
            c.as_secs_f64(),
            ratio.unwrap_or_default(),
            pending.as_millis(),
            bound.as_secs_f64()
        ),
        None => println!("not all Ready: the figures below are up to the time-out"),
    }
    println!(
        "API-server requests while converging (all clients, WATCH left out; the bench's own \
         are in: {created} POST forwardentries.natop.dev and one LIST of them):"
    );
    print_requests(&convergence_requests, total);
    println!("cloud calls while converging ({total} entries):");
    print_calls_per(&calls_before, &calls_converged, total);

    // At rest: a short drift interval on every object, then a quiet natop
    // measured over several intervals.
    let annotation = json!({"metadata": {"annotations": {"natop.dev/drift-interval": drift_text}}});
    let started = Instant::now();
    let annotated = patch_all(&gw_api, &gw_names, &annotation).await
        + patch_all(&fe_api, &fe_names, &annotation).await;
    println!(
        "{annotated} objects annotated natop.dev/drift-interval={drift_text} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Settled: one drift interval since the annotations (the reconciles they
    // caused are done and their requeues make the rounds measured), and no
    // write to the API server for 5 s; at most 10 minutes.
    let settling = Instant::now();
    let mut last = api_requests(&world.client).await;
    let mut still = Instant::now();
    while (still.elapsed() < Duration::from_secs(5) || settling.elapsed() < drift)
        && settling.elapsed() < Duration::from_secs(600)
    {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = api_requests(&world.client).await;
        if requests_between(&last, &now)
            .keys()
            .any(|(v, r)| is_write(v) && !is_lease(r))
        {
            still = Instant::now();
        }
        last = now;
    }
    println!(
        "natop settled {:.1} s after the annotations",
        settling.elapsed().as_secs_f64()
    );
    let calls_rest_before = calls(&world).await;
    let requests_rest_before = api_requests(&world.client).await;
    let cpu_rest_before = proc_cpu_seconds(pid);
    let window = drift * rest_intervals;
    println!(
        "at rest: measuring {rest_intervals} drift intervals ({:.0} s)",
        window.as_secs_f64()
    );
    tokio::time::sleep(window).await;
    let calls_rest = calls(&world).await;
    let requests_rest = api_requests(&world.client).await;
    let cpu_rest = proc_cpu_seconds(pid);
    let rss_rest = proc_status_kb(pid, "VmRSS:");
    let (rss_rest_anon, rss_rest_file) = (
        proc_status_kb(pid, "RssAnon:"),
        proc_status_kb(pid, "RssFile:"),
    );
    let peak = proc_status_kb(pid, "VmHWM:");
    let rest_requests = requests_between(&requests_rest_before, &requests_rest);
    let rest_writes = count(&rest_requests, |v, r| is_write(v) && !is_lease(r));
    let rest_lease_writes = count(&rest_requests, |v, r| is_write(v) && is_lease(r));
    println!("API-server requests at rest (all clients, WATCH left out):");
    print_requests(&rest_requests, total);
    println!("cloud calls at rest:");
    print_calls_per(&calls_rest_before, &calls_rest, total);
    let per_table_interval = |action: &str| {
        action_calls(&calls_rest_before, &calls_rest, action) as f64
            / gateways.max(1) as f64
            / f64::from(rest_intervals)
    };

    // The summary: stable labels, one figure per line.
    // WATCH requests are counted when a watch ends (the controller-manager's
    // end every few minutes): left out of every figure.
    let convergence_total = count(&convergence_requests, |v, _| v != "WATCH");
    let convergence_reads = count(&convergence_requests, |v, _| matches!(v, "GET" | "LIST"));
    let convergence_writes = count(&convergence_requests, |v, r| is_write(v) && !is_lease(r));
    let per_entry = |n: u64| n as f64 / total.max(1) as f64;
    let fmt = |v: Option<f64>, digits: usize| v.map_or("n/a".into(), |v| format!("{v:.digits$}"));
    println!();
    println!("== natop scale summary ==");
    println!("gateways: {gateways}");
    println!("entries_per_gateway: {per_gateway}");
    println!("entries: {total}");
    println!("pending_ms: {}", pending.as_millis());
    println!("drift_interval_s: {}", drift.as_secs());
    println!(
        "time_to_all_ready_s: {}",
        fmt(converged.map(|c| c.as_secs_f64()), 1)
    );
    println!("serialization_bound_s: {:.1}", bound.as_secs_f64());
    println!("ratio_to_bound: {}", fmt(ratio, 2));
    println!("natop_peak_rss_mib: {}", mib(peak));
    println!("natop_peak_rss_converging_mib: {}", mib(peak_converged));
    println!("natop_rss_at_all_ready_mib: {}", mib(rss_converged));
    println!("natop_rss_at_rest_mib: {}", mib(rss_rest));
    // RSS counts the binary's code pages the process touched (RssFile) beside
    // what it allocated (RssAnon); the first does not grow with objects.
    println!("natop_rss_before_entries_mib: {}", mib(rss_idle));
    println!("natop_rss_at_rest_anon_mib: {}", mib(rss_rest_anon));
    println!("natop_rss_at_rest_file_mib: {}", mib(rss_rest_file));
    println!(
        "natop_cpu_s_convergence: {}",
        cpu(cpu_before, cpu_converged)
    );
    println!("natop_cpu_s_at_rest: {}", cpu(cpu_rest_before, cpu_rest));
    println!("api_requests_convergence: {convergence_total}");
    println!("api_requests_convergence_bench_creates: {created}");
    println!(
        "api_requests_per_entry_convergence: {:.2}",
        per_entry(convergence_total)
    );
    println!(
        "api_requests_per_entry_convergence_without_bench_creates: {:.2}",
        per_entry(convergence_total.saturating_sub(created as u64))
    );
    println!(
        "api_reads_per_entry_convergence: {:.2}",
        per_entry(convergence_reads)
    );
    println!(
        "api_writes_per_entry_convergence_without_bench_creates: {:.2}",
        per_entry(convergence_writes.saturating_sub(created as u64))
    );
    for ((verb, resource), n) in convergence_requests
        .iter()
        .filter(|((v, _), _)| v != "WATCH")
    {
        println!(
            "api_requests_per_entry_convergence.{verb}.{resource}: {:.3}",
            per_entry(*n)
        );
    }
    let mut describes = 0;
    for action in calls_converged.keys() {
        let n = action_calls(&calls_before, &calls_converged, action);
        if action.starts_with("Describe") {
            describes += n;
        }
        if n > 0 {
            println!("cloud_calls_per_entry.{action}: {:.3}", per_entry(n));
        }
    }
    println!("cloud_describes_per_entry: {:.3}", per_entry(describes));
    let mut rest_actions: Vec<&str> = vec!["DescribeForwardTableEntries", "DescribeNatGateways"];
    for action in calls_rest.keys() {
        if !rest_actions.contains(&action.as_str())
            && action_calls(&calls_rest_before, &calls_rest, action) > 0
        {
            rest_actions.push(action);
        }
    }
    for action in rest_actions {
        println!(
            "at_rest_calls_per_table_per_interval.{action}: {:.2}",
            per_table_interval(action)
        );
    }
    println!("at_rest_api_writes: {rest_writes}");
    println!("at_rest_api_lease_writes_by_the_api_server: {rest_lease_writes}");
    println!("== end ==");

    // Cleanup without natop: finalizers removed, the namespace deleted.
    operator.kill();
    let release = json!({"metadata": {"finalizers": null}});
    patch_all(&fe_api, &fe_names, &release).await;
    patch_all(&gw_api, &gw_names, &release).await;
    let _ = fe_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    let _ = gw_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    world.stop().await;
    if std::env::var_os("NATOP_BENCH_LOG").is_none() {
        let _ = std::fs::remove_file(&log);
    }
}
