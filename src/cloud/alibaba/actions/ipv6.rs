//! IPv6 internet bandwidth: the public bandwidth bought for one IPv6 address of an
//! IPv6 gateway (`ipv6bw-…`), and the IPv6 addresses that carry it.

use serde::{Deserialize, Deserializer, Serialize};

use crate::cloud::alibaba::{Action, Page, Paginated};
use crate::cloud::wire::{self, WrappedItem, wrapped};

/// An id the service may send as a number (the reference shows
/// `"InternetBandwidthId": 2`); missing or `null` becomes an empty string.
fn id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(wire::opt_text(deserializer)?.unwrap_or_default())
}

/// AllocateIpv6InternetBandwidth: buys public bandwidth for an IPv6 address so it
/// can reach and be reached from the internet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateIpv6InternetBandwidth {
    /// Region of the IPv6 gateway.
    pub region_id: String,
    /// IPv6 gateway of the address (`ipv6gw-…`).
    pub ipv6_gateway_id: String,
    /// IPv6 address to open to the internet (`ipv6-…`).
    pub ipv6_address_id: String,
    /// Bandwidth in Mbps (required, 1-5000; with `PayByTraffic` capped by the
    /// gateway spec: Small 500, Medium 1000, Large 2000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// Billing: `PayByBandwidth` (default) or `PayByTraffic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for AllocateIpv6InternetBandwidth {
    const NAME: &'static str = "AllocateIpv6InternetBandwidth";
    type Response = AllocateIpv6InternetBandwidthResponse;
}

/// Answer to [`AllocateIpv6InternetBandwidth`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateIpv6InternetBandwidthResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// The IPv6 address the bandwidth belongs to (`ipv6-…`).
    #[serde(default, deserialize_with = "id_text")]
    pub ipv6_address_id: String,
    /// Id of the new bandwidth (`ipv6bw-…`).
    #[serde(default, deserialize_with = "id_text")]
    pub internet_bandwidth_id: String,
}

/// ModifyIpv6InternetBandwidth: changes the public bandwidth of an IPv6 address.
/// One of `Ipv6InternetBandwidthId` and `Ipv6AddressId` must be given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyIpv6InternetBandwidth {
    /// Region of the IPv6 gateway.
    pub region_id: String,
    /// Bandwidth to change (`ipv6bw-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_internet_bandwidth_id: Option<String>,
    /// IPv6 address whose bandwidth to change (`ipv6-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address_id: Option<String>,
    /// New bandwidth in Mbps (required, 1-5000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Only check the request (`DryRunOperation` on success).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub dry_run: Option<bool>,
}

impl Action for ModifyIpv6InternetBandwidth {
    const NAME: &'static str = "ModifyIpv6InternetBandwidth";
    type Response = ModifyIpv6InternetBandwidthResponse;
}

/// Answer to [`ModifyIpv6InternetBandwidth`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyIpv6InternetBandwidthResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// DeleteIpv6InternetBandwidth: releases the public bandwidth of an IPv6 address,
/// making it private again. One of `Ipv6InternetBandwidthId` and `Ipv6AddressId`
/// must be given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteIpv6InternetBandwidth {
    /// Region of the IPv6 gateway.
    pub region_id: String,
    /// Bandwidth to delete (`ipv6bw-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_internet_bandwidth_id: Option<String>,
    /// IPv6 address whose bandwidth to delete (`ipv6-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address_id: Option<String>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Only check the request (`DryRunOperation` on success).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub dry_run: Option<bool>,
}

impl Action for DeleteIpv6InternetBandwidth {
    const NAME: &'static str = "DeleteIpv6InternetBandwidth";
    type Response = DeleteIpv6InternetBandwidthResponse;
}

/// Answer to [`DeleteIpv6InternetBandwidth`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteIpv6InternetBandwidthResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// DescribeIpv6Addresses: lists IPv6 addresses with their public bandwidth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeIpv6Addresses {
    /// Region to list.
    pub region_id: String,
    /// Only these address ids (`ipv6-…`, up to 20, comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address_id: Option<String>,
    /// Only this IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    /// Only the address carrying this bandwidth (`ipv6bw-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_internet_bandwidth_id: Option<String>,
    /// Only addresses with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Private` or `Public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Only addresses of this instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_instance_id: Option<String>,
    /// Kind of that instance (`EcsInstance`, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_instance_type: Option<String>,
    /// Only addresses of this VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Only addresses of this vSwitch.
    #[serde(rename = "VSwitchId", default, skip_serializing_if = "Option::is_none")]
    pub vswitch_id: Option<String>,
    /// 1-based page number (default 1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_number: Option<u32>,
    /// Page size (default 10, at most 50).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_size: Option<u32>,
}

impl Action for DescribeIpv6Addresses {
    const NAME: &'static str = "DescribeIpv6Addresses";
    type Response = DescribeIpv6AddressesResponse;
}

impl Paginated for DescribeIpv6Addresses {
    type Item = Ipv6Address;

    fn set_page(&mut self, number: u32, size: u32) {
        self.page_number = Some(number);
        self.page_size = Some(size);
    }

    fn page(response: &Self::Response) -> Page {
        Page::from_parts(
            response.total_count,
            response.page_number,
            response.page_size,
        )
    }

    fn items(response: Self::Response) -> Vec<Self::Item> {
        response.ipv6_addresses
    }
}

/// Answer to [`DescribeIpv6Addresses`]: `Ipv6Addresses.Ipv6Address[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeIpv6AddressesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Number of addresses across all pages.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub total_count: Option<u32>,
    /// Page number returned.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_number: Option<u32>,
    /// Page size applied.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_size: Option<u32>,
    /// The addresses of this page.
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub ipv6_addresses: Vec<Ipv6Address>,
}

/// One IPv6 address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6Address {
    /// Address id (`ipv6-…`).
    #[serde(default)]
    pub ipv6_address_id: String,
    /// The IPv6 address itself.
    #[serde(default)]
    pub ipv6_address: String,
    /// Address name (may be empty).
    #[serde(default)]
    pub ipv6_address_name: String,
    /// IPv6 gateway of the address (may be empty).
    #[serde(default)]
    pub ipv6_gateway_id: String,
    /// VPC of the address.
    #[serde(default)]
    pub vpc_id: String,
    /// vSwitch of the address.
    #[serde(rename = "VSwitchId", default)]
    pub vswitch_id: String,
    /// Instance the address is assigned to.
    #[serde(default)]
    pub associated_instance_id: String,
    /// Kind of that instance (`EcsInstance`).
    #[serde(default)]
    pub associated_instance_type: String,
    /// `Pending` (being configured) or `Available`.
    #[serde(default)]
    pub status: String,
    /// `Private` or `Public` (has internet bandwidth).
    #[serde(default)]
    pub network_type: String,
    /// Line type: `BGP` (default), `ChinaMobile`, `ChinaUnicom`, `ChinaTelecom`.
    #[serde(default)]
    pub ipv6_isp: String,
    /// Effective peak bandwidth in Mbps: the shared bandwidth when in one,
    /// otherwise the address's own; 0 without public bandwidth.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub real_bandwidth: Option<u32>,
    /// Creation time, UTC ISO 8601.
    #[serde(default)]
    pub allocation_time: String,
    /// The address's public bandwidth; its id is empty when none was bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_internet_bandwidth: Option<Ipv6InternetBandwidth>,
}

impl WrappedItem for Ipv6Address {
    const KEY: &'static str = "Ipv6Address";
}

/// The public bandwidth of one IPv6 address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6InternetBandwidth {
    /// Bandwidth id (`ipv6bw-…`; empty when none was bought).
    #[serde(default)]
    pub ipv6_internet_bandwidth_id: String,
    /// Dedicated bandwidth in Mbps (0 when none).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// `Normal`, `FinancialLocked` or `SecurityLocked`.
    #[serde(default)]
    pub business_status: String,
    /// Billing of the instance (`PostPaid`).
    #[serde(default)]
    pub instance_charge_type: String,
    /// Billing of traffic: `PayByTraffic` or `PayByBandwidth`.
    #[serde(default)]
    pub internet_charge_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::fixture;
    use crate::cloud::wire::{ListBase, assert_round_trip};

    #[test]
    fn allocate_fixture_parses_numeric_id() {
        let r: AllocateIpv6InternetBandwidthResponse = fixture("AllocateIpv6InternetBandwidth");
        assert_eq!(r.internet_bandwidth_id, "2");
        assert_eq!(r.ipv6_address_id, "ipv6-hp352ungkzcknmeicfvss");
        assert_eq!(r.request_id, "6972A26E-99B1-4367-9890-FBDEBB0F5E7D");
        let r: AllocateIpv6InternetBandwidthResponse =
            serde_json::from_str(r#"{"InternetBandwidthId": "ipv6bw-1"}"#).unwrap();
        assert_eq!(r.internet_bandwidth_id, "ipv6bw-1");
        assert_eq!(r.ipv6_address_id, "");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["InternetBandwidthId"], "ipv6bw-1");
    }

    #[test]
    fn describe_fixture_parses() {
        let r: DescribeIpv6AddressesResponse = fixture("DescribeIpv6Addresses");
        assert_eq!(r.request_id, "AA4486A8-B6AE-469E-AB09-820EF8ECFA2B");
        assert_eq!(
            DescribeIpv6Addresses::page(&r),
            Page {
                total_count: 2,
                page_number: 1,
                page_size: 10
            }
        );
        let a = &r.ipv6_addresses[1];
        assert_eq!(a.ipv6_address_id, "ipv6-hp331xt3oqafdxvwvna9n");
        assert_eq!(a.ipv6_address, "2408:4004:c0:200:35b:cd32:c460:6aa3");
        assert_eq!(a.ipv6_gateway_id, "ipv6gw-hp33p10bdbt77xbeq6sgj");
        assert_eq!(a.vswitch_id, "vsw-hp3ju1q8dtgfg8iib14ql");
        assert_eq!(a.status, "Available");
        assert_eq!(a.network_type, "Private");
        assert_eq!(a.real_bandwidth, Some(0));
        let bw = a.ipv6_internet_bandwidth.as_ref().unwrap();
        assert_eq!(bw.ipv6_internet_bandwidth_id, "");
        assert_eq!(bw.bandwidth, Some(0));
    }

    #[test]
    fn bandwidth_numbers_parse_from_strings() {
        for body in [
            r#"{"Ipv6InternetBandwidth": {"Ipv6InternetBandwidthId": "ipv6bw-1", "Bandwidth": "5"}, "RealBandwidth": "5"}"#,
            r#"{"Ipv6InternetBandwidth": {"Ipv6InternetBandwidthId": "ipv6bw-1", "Bandwidth": 5}, "RealBandwidth": 5}"#,
        ] {
            let a: Ipv6Address = serde_json::from_str(body).unwrap();
            let bw = a.ipv6_internet_bandwidth.unwrap();
            assert_eq!(bw.bandwidth, Some(5), "{body}");
            assert_eq!(bw.ipv6_internet_bandwidth_id, "ipv6bw-1");
            assert_eq!(a.real_bandwidth, Some(5));
        }
        let a: Ipv6Address = serde_json::from_str("{}").unwrap();
        assert_eq!(a.ipv6_internet_bandwidth, None);
    }

    #[test]
    fn lists_parse_wrapped_bare_and_missing() {
        for body in [
            r#"{"Ipv6Addresses": {"Ipv6Address": [{"Ipv6AddressId": "ipv6-1"}]}}"#,
            r#"{"Ipv6Addresses": [{"Ipv6AddressId": "ipv6-1"}]}"#,
            r#"{"Ipv6Addresses": {"Ipv6Address": {"Ipv6AddressId": "ipv6-1"}}}"#,
        ] {
            let r: DescribeIpv6AddressesResponse = serde_json::from_str(body).unwrap();
            assert_eq!(r.ipv6_addresses.len(), 1, "{body}");
            assert_eq!(r.ipv6_addresses[0].ipv6_address_id, "ipv6-1");
        }
        for body in [
            r#"{}"#,
            r#"{"Ipv6Addresses": {"Ipv6Address": []}}"#,
            r#"{"Ipv6Addresses": []}"#,
        ] {
            let r: DescribeIpv6AddressesResponse = serde_json::from_str(body).unwrap();
            assert!(r.ipv6_addresses.is_empty(), "{body}");
            assert_eq!(DescribeIpv6Addresses::page(&r), Page::default());
        }
    }

    #[test]
    fn describe_response_serializes_to_the_wire_shape() {
        let r: DescribeIpv6AddressesResponse = fixture("DescribeIpv6Addresses");
        let v = serde_json::to_value(&r).unwrap();
        let first = &v["Ipv6Addresses"]["Ipv6Address"][0];
        assert_eq!(first["Ipv6AddressId"], "ipv6-hp32vv2klzw4yr4dz83a2");
        assert_eq!(first["VSwitchId"], "vsw-hp3lyltb1dosj540yyxjv");
        assert_eq!(first["Ipv6InternetBandwidth"]["Bandwidth"], 0);
        let back: DescribeIpv6AddressesResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn describe_request_paginates_and_round_trips() {
        let mut req = DescribeIpv6Addresses {
            region_id: "cn-huhehaote".into(),
            ipv6_address_id: Some("ipv6-1,ipv6-2".into()),
            vswitch_id: Some("vsw-1".into()),
            network_type: Some("Public".into()),
            ..Default::default()
        };
        req.set_page(3, crate::cloud::alibaba::MAX_PAGE_SIZE);
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["VSwitchId"], "vsw-1");
        assert_eq!(p["Ipv6AddressId"], "ipv6-1,ipv6-2");
        assert_eq!(p["NetworkType"], "Public");
        assert_eq!(p["PageNumber"], "3");
        assert_eq!(p["PageSize"], "50");
        let r: DescribeIpv6AddressesResponse =
            serde_json::from_str(r#"{"Ipv6Addresses": [{"Ipv6AddressId": "ipv6-7"}]}"#).unwrap();
        assert_eq!(DescribeIpv6Addresses::items(r)[0].ipv6_address_id, "ipv6-7");
    }

    #[test]
    fn requests_flatten_to_wire_names() {
        let p = assert_round_trip(
            &AllocateIpv6InternetBandwidth {
                region_id: "cn-huhehaote".into(),
                ipv6_gateway_id: "ipv6gw-hp38x2x0fz785tlc65pfv".into(),
                ipv6_address_id: "ipv6-hp351bytt9inrfp6tgubd".into(),
                bandwidth: Some(2),
                internet_charge_type: Some("PayByTraffic".into()),
                client_token: Some("123456".into()),
            },
            ListBase::One,
        );
        assert_eq!(p["Ipv6GatewayId"], "ipv6gw-hp38x2x0fz785tlc65pfv");
        assert_eq!(p["Ipv6AddressId"], "ipv6-hp351bytt9inrfp6tgubd");
        assert_eq!(p["Bandwidth"], "2");
        assert_eq!(p["InternetChargeType"], "PayByTraffic");
        let p = assert_round_trip(
            &ModifyIpv6InternetBandwidth {
                region_id: "cn-huhehaote".into(),
                ipv6_internet_bandwidth_id: Some("ipv6bw-1".into()),
                bandwidth: Some(4),
                dry_run: Some(true),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["Ipv6InternetBandwidthId"], "ipv6bw-1");
        assert_eq!(p["Bandwidth"], "4");
        assert_eq!(p["DryRun"], "true");
        assert!(!p.contains_key("Ipv6AddressId"));
        let p = assert_round_trip(
            &DeleteIpv6InternetBandwidth {
                region_id: "cn-huhehaote".into(),
                ipv6_address_id: Some("ipv6-1".into()),
                client_token: Some("t".into()),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["Ipv6AddressId"], "ipv6-1");
        assert_eq!(p["ClientToken"], "t");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn request_id_only_fixtures_parse() {
        let r: ModifyIpv6InternetBandwidthResponse = fixture("ModifyIpv6InternetBandwidth");
        assert_eq!(r.request_id, "D560AF68-4CE8-4A5C-B3FE-469F558094D0");
        let r: DeleteIpv6InternetBandwidthResponse = fixture("DeleteIpv6InternetBandwidth");
        assert_eq!(r.request_id, "E07E0FE6-5C21-405F-AF82-7613AA81EF92");
    }
}
