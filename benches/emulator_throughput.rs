//! How many requests per second the emulator sustains with 50 concurrent
//! clients, for describe and create calls of both clouds. Prints numbers;
//! asserts nothing (these machines are shared and noisy).
//!
//! Run with `make bench` or `cargo bench --bench emulator_throughput`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use natop::cloud::alibaba::actions::nat_gateway::{CreateNatGateway, DescribeNatGateways};
use natop::cloud::alibaba::{AlibabaClient, AlibabaCredentials};
use natop::cloud::ucloud::actions::{CreateBandwidthPackage, DescribeBandwidthPackage};
use natop::cloud::ucloud::{UcloudClient, UcloudCredentials};
use natop::cloud::{ClientConfig, RateLimit, RetryPolicy};
use natop::emulator::fixture::Fixture;
use natop::emulator::{EmulatorConfig, RunningEmulator};

const CLIENTS: usize = 50;
const PHASE: Duration = Duration::from_secs(4);

fn client_config(endpoint: &str) -> ClientConfig {
    ClientConfig {
        endpoint: Some(endpoint.to_string()),
        retry: RetryPolicy::none(),
        rate_limit: RateLimit::new(1_000_000, 1_000_000),
        ..ClientConfig::default()
    }
}

/// Run `call` from CLIENTS tasks for PHASE; returns (successes, failures, seconds).
async fn phase<F, Fut>(make_call: F) -> (u64, u64, f64)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make_call = Arc::new(make_call);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (make_call, ok, failed) = (make_call.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < PHASE {
                    if make_call(client, n).await {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

fn report(name: &str, (ok, failed, secs): (u64, u64, f64)) {
    println!(
        "{name:<52} {:>9.0} req/s  ({ok} ok, {failed} failed, {CLIENTS} clients, {secs:.1} s)",
        ok as f64 / secs
    );
}

#[tokio::main]
async fn main() {
    let emu = RunningEmulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let fixture = Fixture::default_fixture();
    let ali = &fixture.alibaba.accounts[0];
    let region = fixture.alibaba.regions[0].clone();
    let alibaba: Vec<AlibabaClient> = (0..CLIENTS)
        .map(|_| {
            AlibabaClient::new(
                AlibabaCredentials::new(&ali.access_key_id, &ali.access_key_secret),
                client_config(&emu.endpoint()),
            )
            .expect("client")
        })
        .collect();
    let uc = &fixture.ucloud.accounts[0];
    let ucloud: Vec<UcloudClient> = (0..CLIENTS)
        .map(|_| {
            UcloudClient::new(
                UcloudCredentials::new(&uc.public_key, &uc.private_key),
                client_config(&emu.endpoint()),
            )
            .expect("client")
        })
        .collect();
    println!(
        "natop emulator throughput ({CLIENTS} concurrent clients, signed requests over loopback)"
    );

    // Describes run against a realistic region (100 gateways, 100 packages);
    // the create phases then add to it without bound.
    for n in 0..100 {
        let request = CreateNatGateway {
            region_id: region.region_id.clone(),
            vpc_id: region.vpcs[0].vpc_id.clone(),
            client_token: Some(format!("seed-{n}")),
            ..Default::default()
        };
        alibaba[0].call(&request).await.expect("seed gateway");
        let request = CreateBandwidthPackage {
            region: "cn-bj2".into(),
            eip_id: fixture.ucloud.regions[0].eips[n % 11].eip_id.clone(),
            bandwidth: Some(10),
            time_range: Some(1),
            ..Default::default()
        };
        ucloud[0].call(&request).await.expect("seed package");
    }
    let (clients, region_id) = (alibaba.clone(), region.region_id.clone());
    report(
        "alibaba DescribeNatGateways (100 gateways, page of 10)",
        phase(move |c, _| {
            let client = clients[c].clone();
            let request = DescribeNatGateways {
                region_id: region_id.clone(),
                ..Default::default()
            };
            async move { client.call(&request).await.is_ok() }
        })
        .await,
    );
    let clients = ucloud.clone();
    report(
        "ucloud DescribeBandwidthPackage (100 packages, page of 20)",
        phase(move |c, _| {
            let client = clients[c].clone();
            let request = DescribeBandwidthPackage {
                region: "cn-bj2".into(),
                ..Default::default()
            };
            async move { client.call(&request).await.is_ok() }
        })
        .await,
    );
    let (clients, vpc, region_id) = (
        alibaba.clone(),
        region.vpcs[0].vpc_id.clone(),
        region.region_id.clone(),
    );
    report(
        "alibaba CreateNatGateway",
        phase(move |c, n| {
            let client = clients[c].clone();
            let request = CreateNatGateway {
                region_id: region_id.clone(),
                vpc_id: vpc.clone(),
                client_token: Some(format!("bench-{c}-{n}")),
                ..Default::default()
            };
            async move { client.call(&request).await.is_ok() }
        })
        .await,
    );
    let u_region = fixture.ucloud.regions[0].clone();
    let (clients, eips) = (ucloud.clone(), u_region.eips.clone());
    report(
        "ucloud CreateBandwidthPackage",
        phase(move |c, n| {
            let client = clients[c].clone();
            let request = CreateBandwidthPackage {
                region: "cn-bj2".into(),
                eip_id: eips[usize::try_from(n).unwrap_or(0) % 11].eip_id.clone(),
                bandwidth: Some(10),
                time_range: Some(1),
                ..Default::default()
            };
            async move { client.call(&request).await.is_ok() }
        })
        .await,
    );
    emu.stop().await;
}
