//! The emulator's world: every account's resources, stored in the clouds' own
//! wire shapes, with the asynchronous transition each one is going through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloud::alibaba::actions::bandwidth_package::BandwidthPackage;
use crate::cloud::alibaba::actions::eip::EipAddress;
use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
use crate::cloud::alibaba::actions::ipv6::Ipv6Address;
use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
use crate::cloud::ucloud::actions::BandwidthPackage as UcloudPackage;
use crate::emulator::fixture::{self, Fixture};

/// The status a transition ends in when the resource disappears.
pub const GONE: &str = "<gone>";

/// A change that completes at a virtual time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// Status when done ([`GONE`]: the resource is removed).
    pub to: String,
    /// When it is done, virtual Unix milliseconds.
    pub due_ms: i64,
    /// What else changes when it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

/// Side effects applied when a transition completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Effect {
    /// A NAT gateway's type becomes this (conversion).
    NatType(String),
    /// A NAT gateway's specification becomes this.
    Spec(String),
    /// An EIP is no longer bound to an instance.
    ClearAssociation,
}

/// A resource and its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<T> {
    /// The resource as the describe action shows it.
    pub wire: T,
    /// The ClientToken of the call that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// The change in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
    /// Creation time, virtual Unix milliseconds.
    #[serde(default)]
    pub created_ms: i64,
}

impl<T> Record<T> {
    /// A record with no transition in progress.
    pub fn new(wire: T, client_token: Option<String>, created_ms: i64) -> Self {
        Record {
            wire,
            client_token,
            transition: None,
            created_ms,
        }
    }
}

/// What the settle step needs to know about a resource.
pub trait Resource {
    /// The status field of the wire shape.
    fn status_mut(&mut self) -> &mut String;
    /// Apply a completed transition's effect.
    fn apply(&mut self, _effect: &Effect) {}
}

impl Resource for NatGateway {
    fn status_mut(&mut self) -> &mut String {
        &mut self.status
    }
    fn apply(&mut self, effect: &Effect) {
        match effect {
            Effect::NatType(t) => self.nat_type = t.clone(),
            Effect::Spec(s) => self.spec = s.clone(),
            Effect::ClearAssociation => {}
        }
    }
}

impl Resource for ForwardTableEntry {
    fn status_mut(&mut self) -> &mut String {
        &mut self.status
    }
}

impl Resource for SnatTableEntry {
    fn status_mut(&mut self) -> &mut String {
        &mut self.status
    }
}

impl Resource for BandwidthPackage {
    fn status_mut(&mut self) -> &mut String {
        &mut self.status
    }
}

impl Resource for EipAddress {
    fn status_mut(&mut self) -> &mut String {
        &mut self.status
    }
    fn apply(&mut self, effect: &Effect) {
        if *effect == Effect::ClearAssociation {
            self.instance_id.clear();
            self.instance_type.clear();
            self.instance_region_id.clear();
        }
    }
}

impl Resource for Ipv6Address {
    fn status_mut(&mut self) -> &mut String {
        &mut self.status
    }
}

/// Complete every transition of `map` due at `now_ms`.
pub fn settle_map<T: Resource>(map: &mut BTreeMap<String, Record<T>>, now_ms: i64) {
    map.retain(|_, record| {
        let Some(t) = record.transition.as_ref() else {
            return true;
        };
        if t.due_ms > now_ms {
            return true;
        }
        let t = record.transition.take();
        match t {
            Some(t) if t.to == GONE => false,
            Some(t) => {
                *record.wire.status_mut() = t.to.clone();
                if let Some(effect) = &t.effect {
                    record.wire.apply(effect);
                }
                true
            }
            None => true,
        }
    });
}

/// A NAT gateway's Normal → Enhanced conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversion {
    /// When it started, virtual Unix milliseconds.
    pub started_ms: i64,
    /// When it ends.
    pub due_ms: i64,
    /// The type converted to.
    pub dst_nat_type: String,
}

/// One Alibaba account's resources in one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlibabaRegionState {
    /// NAT gateways by id.
    #[serde(default)]
    pub nat_gateways: BTreeMap<String, Record<NatGateway>>,
    /// Conversions by gateway id (kept after completion for the status query).
    #[serde(default)]
    pub conversions: BTreeMap<String, Conversion>,
    /// DNAT entries by id (each names its table).
    #[serde(default)]
    pub forward_entries: BTreeMap<String, Record<ForwardTableEntry>>,
    /// SNAT entries by id.
    #[serde(default)]
    pub snat_entries: BTreeMap<String, Record<SnatTableEntry>>,
    /// NAT bandwidth packages by id.
    #[serde(default)]
    pub bandwidth_packages: BTreeMap<String, Record<BandwidthPackage>>,
    /// EIPs by allocation id.
    #[serde(default)]
    pub eips: BTreeMap<String, Record<EipAddress>>,
    /// IPv6 addresses by id, with their internet bandwidth when allocated.
    #[serde(default)]
    pub ipv6_addresses: BTreeMap<String, Record<Ipv6Address>>,
    /// When the internet bandwidth an IPv6 address holds now was bought,
    /// virtual Unix milliseconds, by address id (for the `listLagMs` fault).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ipv6_bandwidth_bought_ms: BTreeMap<String, i64>,
}

impl AlibabaRegionState {
    /// Complete every transition due at `now_ms`, then drop entries whose
    /// gateway is gone.
    pub fn settle(&mut self, now_ms: i64) {
        settle_map(&mut self.nat_gateways, now_ms);
        settle_map(&mut self.forward_entries, now_ms);
        settle_map(&mut self.snat_entries, now_ms);
        settle_map(&mut self.bandwidth_packages, now_ms);
        settle_map(&mut self.eips, now_ms);
        settle_map(&mut self.ipv6_addresses, now_ms);
        let gateways = &self.nat_gateways;
        self.forward_entries.retain(|_, e| {
            gateways.contains_key(&e.wire.nat_gateway_id) || e.wire.nat_gateway_id.is_empty()
        });
        self.snat_entries.retain(|_, e| {
            gateways.contains_key(&e.wire.nat_gateway_id) || e.wire.nat_gateway_id.is_empty()
        });
        self.bandwidth_packages
            .retain(|_, p| gateways.contains_key(&p.wire.nat_gateway_id));
        self.conversions.retain(|id, _| gateways.contains_key(id));
    }

    /// The gateway whose DNAT table is `table_id`.
    pub fn gateway_of_forward_table(&self, table_id: &str) -> Option<&Record<NatGateway>> {
        self.nat_gateways
            .values()
            .find(|g| g.wire.forward_table_ids.iter().any(|t| t == table_id))
    }

    /// The gateway whose SNAT table is `table_id`.
    pub fn gateway_of_snat_table(&self, table_id: &str) -> Option<&Record<NatGateway>> {
        self.nat_gateways
            .values()
            .find(|g| g.wire.snat_table_ids.iter().any(|t| t == table_id))
    }

    /// The public IPs a gateway can use: EIPs bound to it (or being bound) and
    /// the IPs of its bandwidth packages, as (allocation id, ip).
    pub fn gateway_ips(&self, gateway_id: &str) -> Vec<(String, String)> {
        let eips = self
            .eips
            .values()
            .filter(|e| e.wire.instance_id == gateway_id && e.wire.status != "Unassociating")
            .map(|e| (e.wire.allocation_id.clone(), e.wire.ip_address.clone()));
        let packages = self
            .bandwidth_packages
            .values()
            .filter(|p| p.wire.nat_gateway_id == gateway_id)
            .flat_map(|p| p.wire.public_ip_addresses.iter())
            .map(|ip| (ip.allocation_id.clone(), ip.ip_address.clone()));
        // A VPC NAT gateway translates with its own private IP (its default
        // NAT IP), which its DNAT and SNAT entries use.
        let nat_ip = self
            .nat_gateways
            .get(gateway_id)
            .filter(|g| g.wire.network_type == "intranet")
            .and_then(|g| g.wire.nat_gateway_private_info.as_ref())
            .map(|p| (nat_ip_id(gateway_id), p.private_ip_address.clone()));
        eips.chain(packages).chain(nat_ip).collect()
    }

    /// How an IP of a gateway is used: `UsedByForwardTable`, `UsedBySnatTable` or `idle`.
    pub fn ip_usage(&self, gateway_id: &str, ip: &str) -> &'static str {
        if self
            .forward_entries
            .values()
            .any(|e| e.wire.nat_gateway_id == gateway_id && e.wire.external_ip == ip)
        {
            "UsedByForwardTable"
        } else if self.snat_entries.values().any(|e| {
            e.wire.nat_gateway_id == gateway_id && e.wire.snat_ip.split(',').any(|s| s.trim() == ip)
        }) {
            "UsedBySnatTable"
        } else {
            "idle"
        }
    }
}

/// One Alibaba account (shared by all of its access keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlibabaAccountState {
    /// Resources by region id.
    #[serde(default)]
    pub regions: BTreeMap<String, AlibabaRegionState>,
}

/// One UCloud account's resources in one region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UcloudRegionState {
    /// Bandwidth packages by id.
    #[serde(default)]
    pub bandwidth_packages: BTreeMap<String, UcloudPackage>,
}

impl UcloudRegionState {
    /// Drop packages whose DisableTime (Unix seconds) has passed.
    pub fn settle(&mut self, now_ms: i64) {
        let now_s = now_ms.div_euclid(1000);
        self.bandwidth_packages
            .retain(|_, p| p.disable_time.is_none_or(|end| end > now_s));
    }
}

/// One UCloud user (shared by all of its key pairs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UcloudAccountState {
    /// Resources by region.
    #[serde(default)]
    pub regions: BTreeMap<String, UcloudRegionState>,
}

/// The answer recorded for a ClientToken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    /// Digest of the call's parameters (common ones excluded).
    pub digest: String,
    /// The first call's answer.
    pub response: Value,
}

/// Everything the emulator holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    /// Alibaba accounts by account id.
    #[serde(default)]
    pub alibaba: BTreeMap<String, AlibabaAccountState>,
    /// UCloud users by user id.
    #[serde(default)]
    pub ucloud: BTreeMap<u64, UcloudAccountState>,
    /// ClientToken answers by `<account id>/action/token`: a token is the
    /// account's, whichever of its keys sent it.
    #[serde(default)]
    pub client_tokens: BTreeMap<String, TokenRecord>,
}

impl World {
    /// The world a fixture describes: every account owns a copy of every
    /// region's EIPs and IPv6 addresses, however many keys it has. The
    /// fixture's account ids are expected filled in
    /// ([`Fixture::with_account_ids`]).
    pub fn from_fixture(f: &Fixture, now_ms: i64) -> World {
        let mut world = World::default();
        for account in &f.alibaba.accounts {
            world
                .alibaba
                .entry(account.account_id.clone())
                .or_insert_with(|| AlibabaAccountState {
                    regions: f
                        .alibaba
                        .regions
                        .iter()
                        .map(|r| (r.region_id.clone(), alibaba_region(r, now_ms)))
                        .collect(),
                });
        }
        for account in &f.ucloud.accounts {
            world
                .ucloud
                .entry(account.user_id)
                .or_insert_with(|| UcloudAccountState {
                    regions: f
                        .ucloud
                        .regions
                        .iter()
                        .map(|r| (r.region.clone(), UcloudRegionState::default()))
                        .collect(),
                });
        }
        world
    }

    /// Complete every transition due at `now_ms`.
    pub fn settle(&mut self, now_ms: i64) {
        for account in self.alibaba.values_mut() {
            for region in account.regions.values_mut() {
                region.settle(now_ms);
            }
        }
        for account in self.ucloud.values_mut() {
            for region in account.regions.values_mut() {
                region.settle(now_ms);
            }
        }
    }
}

fn alibaba_region(r: &fixture::AlibabaRegion, now_ms: i64) -> AlibabaRegionState {
    let time = crate::emulator::clock::iso(now_ms);
    let eips = r
        .eips
        .iter()
        .map(|e| {
            let wire = EipAddress {
                allocation_id: e.allocation_id.clone(),
                ip_address: e.ip_address.clone(),
                region_id: r.region_id.clone(),
                status: "Available".to_string(),
                bandwidth: Some(5),
                internet_charge_type: "PayByBandwidth".to_string(),
                charge_type: "PostPaid".to_string(),
                isp: "BGP".to_string(),
                business_status: "Normal".to_string(),
                allocation_time: time.clone(),
                ..EipAddress::default()
            };
            (e.allocation_id.clone(), Record::new(wire, None, now_ms))
        })
        .collect();
    let ipv6_addresses = r
        .ipv6_gateways
        .iter()
        .flat_map(|g| g.addresses.iter().map(move |a| (g, a)))
        .map(|(g, a)| {
            let vswitch = r
                .vpcs
                .iter()
                .find(|v| v.vpc_id == g.vpc_id)
                .and_then(|v| v.v_switches.first())
                .map(|s| s.v_switch_id.clone())
                .unwrap_or_default();
            let wire = Ipv6Address {
                ipv6_address_id: a.ipv6_address_id.clone(),
                ipv6_address: a.ipv6_address.clone(),
                ipv6_gateway_id: g.ipv6_gateway_id.clone(),
                vpc_id: g.vpc_id.clone(),
                vswitch_id: vswitch,
                status: "Available".to_string(),
                network_type: "Private".to_string(),
                allocation_time: time.clone(),
                ..Ipv6Address::default()
            };
            (a.ipv6_address_id.clone(), Record::new(wire, None, now_ms))
        })
        .collect();
    AlibabaRegionState {
        eips,
        ipv6_addresses,
        ..AlibabaRegionState::default()
    }
}

/// The id of a VPC NAT gateway's default NAT IP (its private IP).
pub fn nat_ip_id(gateway_id: &str) -> String {
    format!("vpcnatip-{}", gateway_id.trim_start_matches("ngw-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_complete_when_due_and_gone_removes() {
        let mut map: BTreeMap<String, Record<ForwardTableEntry>> = BTreeMap::new();
        let mut pending = Record::new(
            ForwardTableEntry {
                status: "Pending".into(),
                ..Default::default()
            },
            None,
            0,
        );
        pending.transition = Some(Transition {
            to: "Available".into(),
            due_ms: 100,
            effect: None,
        });
        let mut deleting = pending.clone();
        deleting.transition = Some(Transition {
            to: GONE.into(),
            due_ms: 50,
            effect: None,
        });
        map.insert("a".into(), pending);
        map.insert("b".into(), deleting);
        settle_map(&mut map, 49);
        assert_eq!(map.len(), 2);
        settle_map(&mut map, 50);
        assert_eq!(map.len(), 1);
        assert_eq!(map["a"].wire.status, "Pending");
        settle_map(&mut map, 100);
        assert_eq!(map["a"].wire.status, "Available");
        assert!(map["a"].transition.is_none());
    }

    #[test]
    fn effects_apply_on_completion() {
        let mut map = BTreeMap::new();
        let mut eip = Record::new(
            EipAddress {
                status: "Unassociating".into(),
                instance_id: "ngw-1".into(),
                instance_type: "Nat".into(),
                ..Default::default()
            },
            None,
            0,
        );
        eip.transition = Some(Transition {
            to: "Available".into(),
            due_ms: 10,
            effect: Some(Effect::ClearAssociation),
        });
        map.insert("e".to_string(), eip);
        settle_map(&mut map, 10);
        assert_eq!(map["e"].wire.status, "Available");
        assert!(map["e"].wire.instance_id.is_empty());
    }

    #[test]
    fn world_from_the_default_fixture_gives_each_account_its_own_copy() {
        let f = Fixture::default_fixture();
        let w = World::from_fixture(&f, 0);
        // Three keys, two accounts: the third key is the first account's.
        let accounts: Vec<&str> = w.alibaba.keys().map(String::as_str).collect();
        assert_eq!(accounts, ["1380000000000001", "1380000000000002"]);
        for account in w.alibaba.values() {
            let region = &account.regions["cn-hangzhou"];
            assert_eq!(region.eips.len(), 12);
            assert_eq!(region.ipv6_addresses.len(), 12);
        }
        let users: Vec<u64> = w.ucloud.keys().copied().collect();
        assert_eq!(users, [50_000_001, 50_000_002]);
    }
}
