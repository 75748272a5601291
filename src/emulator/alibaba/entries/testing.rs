//! What the entry tests share: a bench with one gateway and its tables, and
//! calls that create, describe and read entries.

use serde_json::Value;

use crate::cloud::alibaba::actions::eip::EipAddress;
use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
use crate::emulator::ApiError;
pub(super) use crate::emulator::alibaba::testing::Bench;
use crate::emulator::state::Record;

pub(super) const VPC1: &str = "vpc-hz1natop0000000000";
pub(super) const VPC2: &str = "vpc-hz2natop0000000000";
pub(super) const VSW11: &str = "vsw-hz11natop000000000"; // 172.16.1.0/24
pub(super) const VSW12: &str = "vsw-hz12natop000000000"; // 172.16.2.0/24
pub(super) const VSW21: &str = "vsw-hz21natop000000000"; // 192.168.1.0/24, other VPC
pub(super) const IP1: &str = "47.97.1.11";
pub(super) const IP2: &str = "47.97.1.12";
pub(super) const IP3: &str = "47.97.1.13";
pub(super) const UNBOUND: &str = "47.97.1.20";
pub(super) const FTB: &str = "ftb-natop1";
pub(super) const STB: &str = "stb-natop1";

pub(super) fn add_gateway(b: &mut Bench, id: &str, ftb: &str, stb: &str, vpc: &str) {
    let wire = NatGateway {
        nat_gateway_id: id.into(),
        vpc_id: vpc.into(),
        forward_table_ids: vec![ftb.into()],
        snat_table_ids: vec![stb.into()],
        status: "Available".into(),
        region_id: "cn-hangzhou".into(),
        ..Default::default()
    };
    b.state
        .nat_gateways
        .insert(id.into(), Record::new(wire, None, b.now_ms));
}

/// Bind the fixture EIP with this address to `gateway`.
pub(super) fn bind(b: &mut Bench, ip: &str, gateway: &str) {
    let eip: &mut Record<EipAddress> = b
        .state
        .eips
        .values_mut()
        .find(|e| e.wire.ip_address == ip)
        .expect("fixture EIP");
    eip.wire.instance_id = gateway.into();
    eip.wire.instance_type = "Nat".into();
    eip.wire.status = "InUse".into();
}

/// A gateway in VPC 1 with three bound EIPs.
pub(super) fn bench() -> Bench {
    let mut b = Bench::new();
    add_gateway(&mut b, "ngw-natop1", FTB, STB, VPC1);
    for ip in [IP1, IP2, IP3] {
        bind(&mut b, ip, "ngw-natop1");
    }
    b
}

pub(super) fn code(r: Result<Value, ApiError>) -> (u16, String) {
    let e = r.expect_err("an error");
    (e.status, e.code)
}

pub(super) fn dnat<'a>(
    ext_ip: &'a str,
    ext: &'a str,
    int_ip: &'a str,
    int: &'a str,
    proto: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ForwardTableId", FTB),
        ("ExternalIp", ext_ip),
        ("ExternalPort", ext),
        ("InternalIp", int_ip),
        ("InternalPort", int),
        ("IpProtocol", proto),
    ]
}

/// Create a DNAT entry and wait until it is Available; returns its id.
pub(super) fn dnat_ok(b: &mut Bench, params: &[(&str, &str)]) -> String {
    let v = b.call("CreateForwardEntry", params).expect("create");
    b.advance(3);
    v["ForwardEntryId"].as_str().expect("id").to_string()
}

pub(super) fn with<'a>(
    mut p: Vec<(&'a str, &'a str)>,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    p.extend_from_slice(extra);
    p
}

pub(super) fn forward_entries(b: &mut Bench, extra: &[(&str, &str)]) -> Value {
    let params = with(vec![("ForwardTableId", FTB)], extra);
    b.call("DescribeForwardTableEntries", &params)
        .expect("describe")
}

pub(super) fn forward_entry(b: &mut Bench, id: &str) -> Value {
    forward_entries(b, &[("ForwardEntryId", id)])["ForwardTableEntries"]["ForwardTableEntry"][0]
        .clone()
}

pub(super) fn snat<'a>(ip: &'a str, key: &'a str, source: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("SnatTableId", STB), ("SnatIp", ip), (key, source)]
}

pub(super) fn snat_ok(b: &mut Bench, params: &[(&str, &str)]) -> String {
    let v = b.call("CreateSnatEntry", params).expect("create snat");
    b.advance(3);
    v["SnatEntryId"].as_str().expect("id").to_string()
}

pub(super) fn snat_entries(b: &mut Bench, extra: &[(&str, &str)]) -> Value {
    let params = with(vec![("SnatTableId", STB)], extra);
    b.call("DescribeSnatTableEntries", &params)
        .expect("describe")
}

pub(super) fn snat_entry(b: &mut Bench, id: &str) -> Value {
    snat_entries(b, &[("SnatEntryId", id)])["SnatTableEntries"]["SnatTableEntry"][0].clone()
}
