//! The chaos suite: NatGateways with DNAT and SNAT tables applied at once
//! against an emulator that throttles, fails, loses answers and shifts pages
//! under its readers, while the operator (its own `natop run` process) is
//! SIGKILLed at seeded random moments, during the rollout and during a
//! delete of everything. Between the two, the gateways are deleted alone while
//! their entries still exist: they must wait for them, touching nothing.
//!
//! It prints objects Ready, cloud resources per object (duplicates), cloud
//! resources left after the delete (orphans), EIPs left bound, calls by
//! action and outcome, and times; it fails on any duplicate, orphan, object
//! not Ready or not gone, panic, or secret in the operator's log.
//!
//! `make test` runs it at the CI shape (`cargo test --tests`); `make chaos`
//! runs the full shape: 3 gateways, 240 ForwardEntry and 57 SnatEntry
//! objects, 20 kills in the rollout and 5 in the delete. Settings:
//! NATOP_CHAOS_SHAPE (`ci` or `full`), NATOP_CHAOS_SEED (the emulator's
//! faults and the kill times), NATOP_CHAOS_GATEWAYS, NATOP_CHAOS_DNAT and
//! NATOP_CHAOS_SNAT (per gateway), NATOP_CHAOS_ROLLOUT_KILLS,
//! NATOP_CHAOS_DELETE_KILLS, NATOP_CHAOS_LOG (the operator's log level; the
//! log is kept when set or when the suite fails).

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use natop::api::{ForwardEntry, NatGateway, SnatEntry};
use natop::emulator::EmulatorConfig;
use natop::emulator::faults::{FaultConfig, FaultRule};
use natop::emulator::fixture::Fixture;
use natop::emulator::state::World as CloudWorld;
use serde_json::{Value, json};
use support::cluster::{emulator_admin, wait_for};
use support::objects::ready;
use support::operator::{World, quick_durations};
use support::process::{Calls, OperatorProcess, calls, print_calls_per};

/// The owner tag natop puts on every gateway it buys.
const OWNER_TAG: &str = "natop.dev/owner-uid";

/// How big a run is.
#[derive(Debug, Clone, Copy)]
struct Shape {
    gateways: usize,
    dnat: usize,
    snat: usize,
    rollout_kills: usize,
    delete_kills: usize,
    seed: u64,
}

impl Shape {
    fn from_env() -> Shape {
        let full = std::env::var("NATOP_CHAOS_SHAPE").is_ok_and(|s| s == "full");
        let setting = |name: &str, full_value: u64, ci_value: u64| {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
                })
                .unwrap_or(if full { full_value } else { ci_value })
        };
        let shape = Shape {
            gateways: setting("NATOP_CHAOS_GATEWAYS", 3, 2) as usize,
            dnat: setting("NATOP_CHAOS_DNAT", 80, 12) as usize,
            snat: setting("NATOP_CHAOS_SNAT", 19, 4) as usize,
            rollout_kills: setting("NATOP_CHAOS_ROLLOUT_KILLS", 20, 4) as usize,
            delete_kills: setting("NATOP_CHAOS_DELETE_KILLS", 5, 2) as usize,
            seed: setting("NATOP_CHAOS_SEED", 1, 1),
        };
        let eips = Fixture::default_fixture().alibaba.regions[0].eips.len();
        assert!(
            shape.gateways * 2 <= eips,
            "each gateway takes two of the fixture's {eips} EIPs: at most {} gateways",
            eips / 2
        );
        assert!(shape.dnat <= 100, "a DNAT table holds at most 100 entries");
        assert!(shape.snat <= 40, "an SNAT table holds at most 40 entries");
        shape
    }

    fn objects(&self) -> usize {
        self.gateways * (1 + self.dnat + self.snat)
    }
}

/// The faults of the run: 10 % throttling, 5 % 503, 3 % 500, 5 %
/// commit-then-drop, and pages shifting before 5 % of later pages.
fn faults() -> FaultConfig {
    FaultConfig {
        default: FaultRule {
            throttling: 0.10,
            service_unavailable: 0.05,
            internal_error: 0.03,
            commit_then_drop: 0.05,
            page_shift: 0.05,
            ..FaultRule::default()
        },
        ..FaultConfig::default()
    }
}

fn has_reason(object: &Value, reason: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["reason"] == reason))
}

/// The objects of one kind, as JSON.
async fn values<K>(api: &Api<K>) -> Option<Vec<Value>>
where
    K: Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let list = api.list(&ListParams::default()).await.ok()?;
    list.items
        .iter()
        .map(|o| serde_json::to_value(o).ok())
        .collect()
}

/// The manifests of the run: gateway `gw-<g>` takes EIPs 2g (DNAT) and 2g+1
/// (SNAT); every entry carries its object's name as its cloud name.
fn manifests(world: &World, shape: &Shape) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let fixture = Fixture::default_fixture();
    let region = &fixture.alibaba.regions[0];
    let vpc = &region.vpcs[0].vpc_id;
    let vswitch = &region.vpcs[0].v_switches[0].v_switch_id;
    let meta = |name: String| json!({"name": name, "labels": world.labels()});
    let provider = json!({"name": world.provider});
    let mut gateways = Vec::new();
    let mut dnat = Vec::new();
    let mut snat = Vec::new();
    for g in 0..shape.gateways {
        let (forward_eip, snat_eip) = (&region.eips[2 * g], &region.eips[2 * g + 1]);
        gateways.push(json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "NatGateway",
            "metadata": meta(format!("gw-{g}")),
            "spec": {
                "providerConfigRef": provider,
                "vpcId": vpc,
                "vSwitchId": vswitch,
                "eipAllocationIds": [forward_eip.allocation_id, snat_eip.allocation_id],
            },
        }));
        for i in 0..shape.dnat {
            let name = format!("gw-{g}-dnat-{i}");
            dnat.push(json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "ForwardEntry",
                "metadata": meta(name.clone()),
                "spec": {
                    "providerConfigRef": provider,
                    "natGatewayRef": {"name": format!("gw-{g}")},
                    "externalIp": forward_eip.ip_address,
                    "externalPort": (10_000 + i).to_string(),
                    "internalIp": format!("172.16.{}.{}", 1 + g, 10 + i),
                    "internalPort": "8080",
                    "ipProtocol": "TCP",
                    "name": name,
                },
            }));
        }
        for i in 0..shape.snat {
            let name = format!("gw-{g}-snat-{i}");
            snat.push(json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "SnatEntry",
                "metadata": meta(name.clone()),
                "spec": {
                    "providerConfigRef": provider,
                    "natGatewayRef": {"name": format!("gw-{g}")},
                    "snatIps": [snat_eip.ip_address],
                    "sourceCIDR": format!("172.{}.{i}.0/24", 20 + g),
                    "name": name,
                },
            }));
        }
    }
    (gateways, dnat, snat)
}

async fn create_all<K>(api: &Api<K>, manifests: Vec<Value>)
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    stream::iter(manifests)
        .for_each_concurrent(32, |m| {
            let api = api.clone();
            async move {
                let object: K = serde_json::from_value(m).expect("manifest");
                api.create(&PostParams::default(), &object)
                    .await
                    .expect("object created");
            }
        })
        .await;
}

/// The cloud as the emulator holds it (every account and region: the
/// emulator is this run's alone).
async fn cloud(world: &World) -> CloudWorld {
    let state = emulator_admin(&world.emulator.endpoint(), "state").await;
    serde_json::from_value(state["world"].clone()).expect("state decodes")
}

/// Cloud resource ids by the key that attributes them to an object.
type ByKey = BTreeMap<String, Vec<String>>;

/// What the cloud holds, attributed to the objects that asked for it.
#[derive(Debug, Default)]
struct Census {
    /// Cloud gateways by owner tag.
    gateways: ByKey,
    /// DNAT entries by name.
    dnat: ByKey,
    /// SNAT entries by name.
    snat: ByKey,
    /// EIPs bound to anything, by allocation id.
    bound_eips: Vec<String>,
}

impl Census {
    fn of(cloud: &CloudWorld) -> Census {
        let mut census = Census::default();
        for region in cloud.alibaba.values().flat_map(|a| a.regions.values()) {
            for (id, g) in &region.nat_gateways {
                let owner = g
                    .wire
                    .tags
                    .iter()
                    .find(|t| t.tag_key == OWNER_TAG)
                    .map_or_else(|| "(untagged)".to_string(), |t| t.tag_value.clone());
                census.gateways.entry(owner).or_default().push(id.clone());
            }
            for (id, e) in &region.forward_entries {
                let name = e.wire.forward_entry_name.clone();
                census.dnat.entry(name).or_default().push(id.clone());
            }
            for (id, e) in &region.snat_entries {
                let name = e.wire.snat_entry_name.clone();
                census.snat.entry(name).or_default().push(id.clone());
            }
            for (id, e) in &region.eips {
                if !e.wire.instance_id.is_empty() || e.wire.status != "Available" {
                    census.bound_eips.push(id.clone());
                }
            }
        }
        census
    }

    fn total(&self) -> usize {
        [&self.gateways, &self.dnat, &self.snat]
            .iter()
            .map(|m| m.values().map(Vec::len).sum::<usize>())
            .sum()
    }
}

/// Cloud resources beyond one per object, and resources no object asked for.
fn duplicates(expected: &[(&str, &ByKey, Vec<String>)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (kind, found, keys) in expected {
        for key in keys {
            match found.get(key).map_or(0, Vec::len) {
                1 => {}
                n => problems.push(format!(
                    "{kind} {key}: {n} cloud resources {:?}",
                    found.get(key)
                )),
            }
        }
        for (key, ids) in found.iter() {
            if !keys.contains(key) {
                problems.push(format!(
                    "{kind}: cloud resources {ids:?} under {key:?}, which no object asked for"
                ));
            }
        }
    }
    problems
}

/// The operator process and what it takes to start it again.
struct Operator<'w> {
    process: Option<OperatorProcess>,
    world: &'w World,
    log: PathBuf,
    level: String,
    rng: fastrand::Rng,
}

impl Operator<'_> {
    /// SIGKILL the operator `kills` times at seeded random moments 2–8 s
    /// apart, restarting it at once each time; when each kill happened,
    /// counted from `started`.
    async fn kill_repeatedly(&mut self, kills: usize, started: Instant) -> Vec<Duration> {
        let mut at = Vec::new();
        for _ in 0..kills {
            tokio::time::sleep(Duration::from_millis(self.rng.u64(2_000..=8_000))).await;
            if let Some(old) = self.process.take() {
                old.kill();
            }
            at.push(started.elapsed());
            self.process = Some(OperatorProcess::spawn(self.world, &self.log, &self.level));
        }
        at
    }

    fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn kill_times(at: &[Duration]) -> String {
    at.iter()
        .map(|d| format!("{:.0}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() {
    let shape = Shape::from_env();
    let mut durations = quick_durations();
    durations.pending = Duration::from_millis(300);
    let world = World::start_custom(
        "chaos",
        EmulatorConfig {
            durations,
            seed: shape.seed,
            faults: faults(),
            ..EmulatorConfig::default()
        },
        0,
        None,
        false,
    )
    .await;
    let level = std::env::var("NATOP_CHAOS_LOG").unwrap_or_else(|_| "info".into());
    let log = std::env::temp_dir().join(format!("natop-chaos-{}.log", world.ns.name));
    let _ = std::fs::remove_file(&log);
    let objects = shape.objects();
    println!(
        "natop chaos suite, seed {}: {} NatGateways, {} ForwardEntries, {} SnatEntries ({objects} objects); \
         faults: throttling 10 %, 503 5 %, 500 3 %, commit-then-drop 5 %, pageShift 5 %; \
         {} kills in the rollout, {} in the delete (operator log: {})",
        shape.seed,
        shape.gateways,
        shape.gateways * shape.dnat,
        shape.gateways * shape.snat,
        shape.rollout_kills,
        shape.delete_kills,
        log.display()
    );
    let mut operator = Operator {
        process: Some(OperatorProcess::spawn(&world, &log, &level)),
        world: &world,
        log: log.clone(),
        level: level.clone(),
        rng: fastrand::Rng::with_seed(shape.seed),
    };
    let gw_api: Api<NatGateway> = Api::namespaced(world.client.clone(), &world.ns.name);
    let fe_api: Api<ForwardEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
    let sn_api: Api<SnatEntry> = Api::namespaced(world.client.clone(), &world.ns.name);
    let limit = Duration::from_secs(600);

    // 1. Everything applied at once, the operator killed along the way.
    let (gateways, dnat, snat) = manifests(&world, &shape);
    let started = Instant::now();
    create_all(&gw_api, gateways).await;
    create_all(&fe_api, dnat).await;
    create_all(&sn_api, snat).await;
    let applied = started.elapsed();
    let all_ready = async {
        wait_for("every object Ready", limit, || async {
            let n = [
                values(&gw_api).await?,
                values(&fe_api).await?,
                values(&sn_api).await?,
            ]
            .iter()
            .flatten()
            .filter(ready)
            .count();
            (n == objects).then_some(started.elapsed())
        })
        .await
    };
    let (rollout_kills, ready_after) = tokio::join!(
        operator.kill_repeatedly(shape.rollout_kills, started),
        all_ready
    );
    let rollout_calls = calls(&world).await;
    let census = Census::of(&cloud(&world).await);
    let gateway_objects = gw_api.list(&ListParams::default()).await.expect("gateways");
    let fe_names: Vec<String> = fe_api
        .list(&ListParams::default())
        .await
        .expect("entries")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let sn_names: Vec<String> = sn_api
        .list(&ListParams::default())
        .await
        .expect("entries")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let uids: Vec<String> = gateway_objects
        .items
        .iter()
        .filter_map(|g| g.uid())
        .collect();
    let duplicated = duplicates(&[
        ("NatGateway", &census.gateways, uids),
        ("ForwardEntry", &census.dnat, fe_names),
        ("SnatEntry", &census.snat, sn_names),
    ]);
    println!(
        "rollout: applied in {}; {objects}/{objects} Ready after {} ({} kills, at s: {}); \
         cloud resources {} for {objects} objects; duplicates {}",
        seconds(applied),
        seconds(ready_after),
        rollout_kills.len(),
        kill_times(&rollout_kills),
        census.total(),
        duplicated.len()
    );
    println!("cloud calls during the rollout:");
    print_calls_per(&Calls::new(), &rollout_calls, objects);

    // 2. The gateways alone: they wait for their entries and touch nothing.
    gw_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("gateways deleted");
    let waiting = wait_for(
        "every gateway waiting for its entries (DependentsExist)",
        limit,
        || async {
            let gateways = values(&gw_api).await?;
            (gateways.len() == shape.gateways
                && gateways.iter().all(|g| has_reason(g, "DependentsExist")))
            .then_some(started.elapsed() - ready_after)
        },
    )
    .await;
    let held = Census::of(&cloud(&world).await);
    println!(
        "gateways deleted alone: all {} DependentsExist after {}; cloud resources still {} \
         (gateways {}, DNAT {}, SNAT {})",
        shape.gateways,
        seconds(waiting),
        held.total(),
        held.gateways.len(),
        held.dnat.len(),
        held.snat.len()
    );

    // 3. Everything else, the operator killed along the way.
    let before = calls(&world).await;
    let deleting = Instant::now();
    fe_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("entries deleted");
    sn_api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("entries deleted");
    let all_gone = async {
        wait_for("every object gone", limit, || async {
            let left = values(&gw_api).await?.len()
                + values(&fe_api).await?.len()
                + values(&sn_api).await?.len();
            (left == 0).then_some(deleting.elapsed())
        })
        .await
    };
    let (delete_kills, gone_after) = tokio::join!(
        operator.kill_repeatedly(shape.delete_kills, deleting),
        all_gone
    );
    let after = calls(&world).await;
    let left = Census::of(&cloud(&world).await);
    let orphans: Vec<String> = [
        ("NatGateway", &left.gateways),
        ("DNAT entry", &left.dnat),
        ("SNAT entry", &left.snat),
    ]
    .iter()
    .flat_map(|(kind, found)| {
        found
            .iter()
            .map(move |(key, ids)| format!("{kind} {key}: {ids:?}"))
    })
    .collect();
    println!(
        "delete: every object gone after {} ({} kills, at s: {}); orphans {}; EIPs left bound {}",
        seconds(gone_after),
        delete_kills.len(),
        kill_times(&delete_kills),
        orphans.len(),
        left.bound_eips.len()
    );
    println!("cloud calls during the delete:");
    print_calls_per(&before, &after, objects);

    operator.stop();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let panics = text.matches("panicked").count();
    let secret = &Fixture::default_fixture().alibaba.accounts[0].access_key_secret;
    let leaked = text.contains(secret.as_str());
    println!(
        "operator log: {} lines over {} starts; panics {panics}; secret in the log: {leaked}",
        text.lines().count(),
        1 + rollout_kills.len() + delete_kills.len()
    );
    println!(
        "verdict: Ready {objects}/{objects}, duplicates {}, orphans {}, EIPs bound {}, total {}",
        duplicated.len(),
        orphans.len(),
        left.bound_eips.len(),
        seconds(started.elapsed())
    );

    let mut failures = Vec::new();
    failures.extend(duplicated.iter().map(|d| format!("duplicate: {d}")));
    if held.total() != census.total() {
        failures.push(format!(
            "deleting the gateways alone changed the cloud: {} resources before, {} after",
            census.total(),
            held.total()
        ));
    }
    failures.extend(orphans.iter().map(|o| format!("orphan: {o}")));
    failures.extend(
        left.bound_eips
            .iter()
            .map(|e| format!("EIP {e} left bound")),
    );
    if panics > 0 {
        failures.push(format!("{panics} panics in the operator's log"));
    }
    if leaked {
        failures.push("the AccessKeySecret appears in the operator's log".into());
    }
    if failures.is_empty() && std::env::var_os("NATOP_CHAOS_LOG").is_none() {
        let _ = std::fs::remove_file(&log);
    }
    world.stop().await;
    assert!(
        failures.is_empty(),
        "chaos suite failed (seed {}; operator log {}):\n{}",
        shape.seed,
        log.display(),
        failures.join("\n")
    );
}
