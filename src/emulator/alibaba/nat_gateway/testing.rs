//! What the NAT gateway tests share: gateways created or made available, read
//! back, and dependents (EIPs, entries, packages) added straight to the state.

use serde_json::Value;

use crate::cloud::alibaba::actions::bandwidth_package::{BandwidthPackage, PublicIpAddress};
use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
pub(super) use crate::emulator::alibaba::testing::Bench;
use crate::emulator::state::Record;

pub(super) const VPC1: &str = "vpc-hz1natop0000000000";
pub(super) const VPC2: &str = "vpc-hz2natop0000000000";
pub(super) const VSW_A: &str = "vsw-hz11natop000000000";
pub(super) const VSW_B: &str = "vsw-hz12natop000000000";
pub(super) const VSW_OTHER_VPC: &str = "vsw-hz21natop000000000";
pub(super) const EIP1: &str = "eip-hz01natop00000000";

/// Parameters, then the expected HTTP status and code.
pub(super) type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

pub(super) fn code(result: Result<Value, crate::emulator::ApiError>) -> (u16, String) {
    let e = result.expect_err("an error");
    (e.status, e.code)
}

pub(super) fn create(bench: &mut Bench, extra: &[(&str, &str)]) -> String {
    let mut params = vec![("VpcId", VPC1)];
    params.extend_from_slice(extra);
    let v = bench.call("CreateNatGateway", &params).unwrap();
    v["NatGatewayId"].as_str().unwrap().to_string()
}

pub(super) fn available(bench: &mut Bench, extra: &[(&str, &str)]) -> String {
    let id = create(bench, extra);
    bench.advance(60);
    id
}

pub(super) fn gateway(bench: &mut Bench, id: &str) -> Value {
    let v = bench
        .call("DescribeNatGateways", &[("NatGatewayId", id)])
        .unwrap();
    v["NatGateways"]["NatGateway"][0].clone()
}

pub(super) fn status(bench: &mut Bench, id: &str) -> String {
    gateway(bench, id)["Status"]
        .as_str()
        .unwrap_or("<gone>")
        .to_string()
}

pub(super) fn bind_eip(
    bench: &mut Bench,
    gateway_id: &str,
    allocation_id: &str,
    status: &str,
) -> String {
    let eip = bench.state.eips.get_mut(allocation_id).unwrap();
    eip.wire.instance_id = gateway_id.to_string();
    eip.wire.instance_type = "Nat".to_string();
    eip.wire.status = status.to_string();
    eip.wire.ip_address.clone()
}

pub(super) fn add_dnat(bench: &mut Bench, gateway_id: &str, ip: &str, status: &str) {
    let entry = ForwardTableEntry {
        forward_entry_id: format!("fwd-{}", bench.state.forward_entries.len()),
        nat_gateway_id: gateway_id.to_string(),
        external_ip: ip.to_string(),
        status: status.to_string(),
        ..ForwardTableEntry::default()
    };
    let key = entry.forward_entry_id.clone();
    bench
        .state
        .forward_entries
        .insert(key, Record::new(entry, None, 0));
}

pub(super) fn add_snat(bench: &mut Bench, gateway_id: &str, ip: &str, status: &str) {
    let entry = SnatTableEntry {
        snat_entry_id: format!("snat-{}", bench.state.snat_entries.len()),
        nat_gateway_id: gateway_id.to_string(),
        snat_ip: ip.to_string(),
        status: status.to_string(),
        ..SnatTableEntry::default()
    };
    let key = entry.snat_entry_id.clone();
    bench
        .state
        .snat_entries
        .insert(key, Record::new(entry, None, 0));
}

pub(super) fn add_package(bench: &mut Bench, gateway_id: &str, id: &str, ip: &str) {
    let package = BandwidthPackage {
        bandwidth_package_id: id.to_string(),
        nat_gateway_id: gateway_id.to_string(),
        status: "Available".to_string(),
        public_ip_addresses: vec![PublicIpAddress {
            allocation_id: format!("nateip-{id}"),
            ip_address: ip.to_string(),
            ..PublicIpAddress::default()
        }],
        ..BandwidthPackage::default()
    };
    bench
        .state
        .bandwidth_packages
        .insert(id.to_string(), Record::new(package, None, 0));
}
