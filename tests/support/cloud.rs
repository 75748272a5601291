//! The cloud side of a test: the emulator's default fixture, a client of it
//! for the test's own reads, and the calls the emulator answered.

use natop::cloud::alibaba::{AlibabaClient, AlibabaCredentials};
use natop::cloud::{ClientConfig, RateLimit};
use natop::emulator::fixture::Fixture;
use serde_json::Value;

use super::cluster::emulator_admin;
use super::operator::World;

/// The emulator's default fixture.
pub fn fixture() -> Fixture {
    Fixture::default_fixture()
}

/// The fixture's first VPC (first Alibaba region).
pub fn vpc() -> String {
    fixture().alibaba.regions[0].vpcs[0].vpc_id.clone()
}

/// The first vSwitch of `vpc()`, in a zone where Enhanced gateways (natType's
/// default) are sold.
pub fn vswitch() -> String {
    fixture().alibaba.regions[0].vpcs[0].v_switches[0]
        .v_switch_id
        .clone()
}

/// The spec of a gateway of natType's default (Enhanced) in `vpc()` and
/// `vswitch()`.
pub fn gateway_spec() -> Value {
    serde_json::json!({"vpcId": vpc(), "vSwitchId": vswitch()})
}

/// `(allocation id, IP address)` of the fixture's `i`-th EIP (first Alibaba
/// region).
pub fn eip(i: usize) -> (String, String) {
    let e = &fixture().alibaba.regions[0].eips[i];
    (e.allocation_id.clone(), e.ip_address.clone())
}

/// An Alibaba client of fixture account `account` (index) talking to the
/// world's emulator, for the test's own reads of the cloud (rate limit high
/// enough never to hold a test up).
pub fn cloud(world: &World, account: usize) -> AlibabaClient {
    let a = &fixture().alibaba.accounts[account];
    AlibabaClient::new(
        AlibabaCredentials::new(&a.access_key_id, &a.access_key_secret),
        ClientConfig {
            endpoint: Some(world.emulator.endpoint()),
            rate_limit: RateLimit::new(1000, 1000),
            ..ClientConfig::default()
        },
    )
    .unwrap()
}

/// Calls of `action` in `calls` (the emulator's `calls`: by action then
/// outcome), summed over outcomes.
pub fn answered(calls: &Value, action: &str) -> u64 {
    calls[action]
        .as_object()
        .map(|o| o.values().map(|n| n.as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Calls of `action` the world's emulator answered so far, summed over
/// outcomes.
pub async fn calls_of(world: &World, action: &str) -> u64 {
    answered(
        &emulator_admin(&world.emulator.endpoint(), "calls").await,
        action,
    )
}
