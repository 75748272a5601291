//! Elastic IP addresses bound to NAT gateways: the way accounts without a legacy
//! NAT bandwidth package give a gateway public IPs. Binding and unbinding are
//! asynchronous: `Available` → `Associating` → `InUse` → `Unassociating` →
//! `Available`.

use serde::{Deserialize, Serialize};

use crate::cloud::alibaba::{Action, Page, Paginated};
use crate::cloud::wire::{self, WrappedItem, wrapped};

/// AssociateEipAddress: binds an EIP to an instance of the same region; for a NAT
/// gateway use `InstanceType=Nat`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateEipAddress {
    /// Region of the EIP.
    pub region_id: String,
    /// EIP to bind (`eip-…`).
    pub allocation_id: String,
    /// Instance to bind it to (`ngw-…` for a NAT gateway).
    pub instance_id: String,
    /// `Nat`, `EcsInstance` (default), `SlbInstance`, `NetworkInterface` or `HaVip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Region of the instance when it differs from the EIP's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_region_id: Option<String>,
    /// Private IP of the ECS instance or network interface to bind to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// Binding mode: `NAT` (default), `MULTI_BINDED` or `BINDED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for AssociateEipAddress {
    const NAME: &'static str = "AssociateEipAddress";
    type Response = AssociateEipAddressResponse;
}

/// Answer to [`AssociateEipAddress`]; the binding completes in the background.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateEipAddressResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// UnassociateEipAddress: unbinds an EIP from its instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnassociateEipAddress {
    /// Region of the EIP.
    pub region_id: String,
    /// EIP to unbind (`eip-…`).
    pub allocation_id: String,
    /// Instance to unbind it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `Nat`, `EcsInstance` (default), `SlbInstance`, `NetworkInterface` or `HaVip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Private IP of the ECS instance or network interface to unbind from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// Unbind from a NAT gateway even though DNAT or SNAT entries use the EIP
    /// (those entries are deleted); default false.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub force: Option<bool>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for UnassociateEipAddress {
    const NAME: &'static str = "UnassociateEipAddress";
    type Response = UnassociateEipAddressResponse;
}

/// Answer to [`UnassociateEipAddress`]; the unbinding completes in the background.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnassociateEipAddressResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// DescribeEipAddresses: lists EIPs, e.g. those bound to one NAT gateway
/// (`AssociatedInstanceType=Nat`, `AssociatedInstanceId=ngw-…`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEipAddresses {
    /// Region to list.
    pub region_id: String,
    /// Only these EIP ids (up to 50, comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    /// Only these IP addresses (up to 50, comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_address: Option<String>,
    /// `Associating`, `Unassociating`, `InUse` or `Available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only EIPs bound to this instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_instance_id: Option<String>,
    /// Kind of that instance: `Nat`, `EcsInstance` (default), `SlbInstance`,
    /// `HaVip` or `NetworkInterface`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_instance_type: Option<String>,
    /// `PostPaid` or `PrePaid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<String>,
    /// Line type (`BGP`, `BGP_PRO`, single-line ISPs).
    #[serde(rename = "ISP", default, skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    /// Only locked EIPs: `financial` or `security`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_reason: Option<String>,
    /// Include renewal data not yet in effect (default false).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub include_reservation_data: Option<bool>,
    /// Only EIPs of this resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// Only EIPs of this contiguous EIP group (`eipsg-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_instance_id: Option<String>,
    /// Creation-time filters (`Filter.1.Key` …): keys `CreationStartTime` and
    /// `CreationEndTime`, values `YYYY-MM-DDThh:mmZ`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<Filter>,
    /// Only EIPs with all these tags (`Tag.1.Key` …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<Tag>,
    /// Only check the request (`DryRunOperation` on success).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub dry_run: Option<bool>,
    /// 1-based page number (default 1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_number: Option<u32>,
    /// Page size (default 10, at most 50; newer documents allow 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_size: Option<u32>,
}

impl Action for DescribeEipAddresses {
    const NAME: &'static str = "DescribeEipAddresses";
    type Response = DescribeEipAddressesResponse;
}

impl Paginated for DescribeEipAddresses {
    type Item = EipAddress;

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
        response.eip_addresses
    }
}

/// A `Filter.N` pair of [`DescribeEipAddresses`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// `CreationStartTime` or `CreationEndTime`.
    pub key: String,
    /// UTC time, `YYYY-MM-DDThh:mmZ`.
    pub value: String,
}

/// A resource tag, in requests (`Tag.N.Key`) and in `Tags.Tag[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    #[serde(default)]
    pub key: String,
    /// Tag value.
    #[serde(default)]
    pub value: String,
}

impl WrappedItem for Tag {
    const KEY: &'static str = "Tag";
}

/// Answer to [`DescribeEipAddresses`]: `EipAddresses.EipAddress[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEipAddressesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Number of EIPs across all pages.
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
    /// The EIPs of this page.
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub eip_addresses: Vec<EipAddress>,
}

/// One elastic IP address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EipAddress {
    /// EIP id (`eip-…`).
    #[serde(default)]
    pub allocation_id: String,
    /// The public IPv4 address.
    #[serde(default)]
    pub ip_address: String,
    /// Region of the EIP.
    #[serde(default)]
    pub region_id: String,
    /// `Available`, `Associating`, `InUse` or `Unassociating`.
    #[serde(default)]
    pub status: String,
    /// Bound instance (empty when unbound).
    #[serde(default)]
    pub instance_id: String,
    /// Kind of the bound instance: `Nat`, `EcsInstance`, `SlbInstance`, `HaVip`,
    /// `NetworkInterface` (empty when unbound).
    #[serde(default)]
    pub instance_type: String,
    /// Region of the bound instance.
    #[serde(default)]
    pub instance_region_id: String,
    /// Private IP it maps to, for network interfaces.
    #[serde(default)]
    pub private_ip_address: String,
    /// Binding mode (`NAT`, `MULTI_BINDED`, `BINDED`).
    #[serde(default)]
    pub mode: String,
    /// EIP name.
    #[serde(default)]
    pub name: String,
    /// EIP description; the service spells the key `Descritpion`.
    #[serde(rename = "Descritpion", alias = "Description", default)]
    pub description: String,
    /// Peak bandwidth in Mbps (often a string).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// The EIP's own bandwidth before joining or after leaving a shared bandwidth.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub eip_bandwidth: Option<u32>,
    /// `PayByBandwidth` or `PayByTraffic`.
    #[serde(default)]
    pub internet_charge_type: String,
    /// `PostPaid` or `PrePaid`.
    #[serde(default)]
    pub charge_type: String,
    /// Line type (`BGP`).
    #[serde(rename = "ISP", default)]
    pub isp: String,
    /// Shared bandwidth the EIP joined (`cbwp-…`), if any.
    #[serde(default)]
    pub bandwidth_package_id: String,
    /// Kind of that bandwidth (`CommonBandwidthPackage`).
    #[serde(default)]
    pub bandwidth_package_type: String,
    /// Bandwidth of the shared bandwidth in Mbps.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth_package_bandwidth: Option<u32>,
    /// `Normal` or `FinancialLocked`.
    #[serde(default)]
    pub business_status: String,
    /// Network type (`public`).
    #[serde(default)]
    pub netmode: String,
    /// Whether deletion protection is on.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub deletion_protection: Option<bool>,
    /// Resource group id.
    #[serde(default)]
    pub resource_group_id: String,
    /// Contiguous EIP group (`eipsg-…`), if any.
    #[serde(default)]
    pub segment_instance_id: String,
    /// Creation time, UTC ISO 8601.
    #[serde(default)]
    pub allocation_time: String,
    /// Expiry time of a subscription EIP.
    #[serde(default)]
    pub expired_time: String,
    /// Locks on the EIP: `OperationLocks.LockReason[]`.
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub operation_locks: Vec<LockReason>,
    /// Tags: `Tags.Tag[]`.
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub tags: Vec<Tag>,
}

impl WrappedItem for EipAddress {
    const KEY: &'static str = "EipAddress";
}

/// Why an EIP is locked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LockReason {
    /// `financial` (overdue payment) or `security`.
    #[serde(default)]
    pub lock_reason: String,
}

impl WrappedItem for LockReason {
    const KEY: &'static str = "LockReason";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::fixture;
    use crate::cloud::wire::{ListBase, assert_round_trip};

    #[test]
    fn describe_fixture_parses() {
        let r: DescribeEipAddressesResponse = fixture("DescribeEipAddresses");
        assert_eq!(r.request_id, "4EC47282-1B74-4534-BD0E-403F3EE64CAF");
        assert_eq!(
            DescribeEipAddresses::page(&r),
            Page {
                total_count: 10,
                page_number: 10,
                page_size: 10
            }
        );
        // The example sends a single object where a one-element list belongs.
        assert_eq!(r.eip_addresses.len(), 1);
        let e = &r.eip_addresses[0];
        assert_eq!(e.allocation_id, "eip-2zeerraiwb7ujcdvf****");
        assert_eq!(e.ip_address, "116.XX.XX.28");
        assert_eq!(e.status, "Associating");
        assert_eq!(e.instance_type, "EcsInstance");
        assert_eq!(e.bandwidth, Some(5));
        assert_eq!(e.eip_bandwidth, Some(101));
        assert_eq!(e.bandwidth_package_bandwidth, Some(50));
        assert_eq!(e.description, "abc");
        assert_eq!(e.isp, "BGP");
        assert_eq!(e.deletion_protection, Some(true));
        assert_eq!(e.operation_locks[0].lock_reason, "financial");
    }

    #[test]
    fn nat_bound_eips_parse_with_string_numbers() {
        let body = r#"{"RequestId": "r", "TotalCount": "2", "PageNumber": "1", "PageSize": "50",
            "EipAddresses": {"EipAddress": [
              {"AllocationId": "eip-1", "IpAddress": "47.1.1.1", "Status": "InUse",
               "InstanceId": "ngw-1", "InstanceType": "Nat", "Bandwidth": "5",
               "DeletionProtection": "false", "OperationLocks": {"LockReason": []},
               "Tags": {"Tag": [{"Key": "natop", "Value": "owned"}]}},
              {"AllocationId": "eip-2", "Status": "Associating", "Bandwidth": 10,
               "Description": "old key spelling"}]}}"#;
        let r: DescribeEipAddressesResponse = serde_json::from_str(body).unwrap();
        assert_eq!(DescribeEipAddresses::page(&r).total_count, 2);
        let e = &r.eip_addresses;
        assert_eq!(e[0].instance_type, "Nat");
        assert_eq!(e[0].bandwidth, Some(5));
        assert_eq!(e[0].deletion_protection, Some(false));
        assert!(e[0].operation_locks.is_empty());
        assert_eq!(e[0].tags[0].value, "owned");
        assert_eq!(e[1].bandwidth, Some(10));
        assert_eq!(e[1].description, "old key spelling");
        let items = DescribeEipAddresses::items(r);
        assert_eq!(items[1].allocation_id, "eip-2");
    }

    #[test]
    fn lists_parse_bare_and_missing() {
        let r: DescribeEipAddressesResponse =
            serde_json::from_str(r#"{"EipAddresses": [{"AllocationId": "eip-1"}]}"#).unwrap();
        assert_eq!(r.eip_addresses[0].allocation_id, "eip-1");
        for body in [
            r#"{}"#,
            r#"{"EipAddresses": {"EipAddress": []}}"#,
            r#"{"EipAddresses": []}"#,
            r#"{"EipAddresses": ""}"#,
        ] {
            let r: DescribeEipAddressesResponse = serde_json::from_str(body).unwrap();
            assert!(r.eip_addresses.is_empty(), "{body}");
            assert_eq!(DescribeEipAddresses::page(&r), Page::default());
        }
    }

    #[test]
    fn describe_response_serializes_to_the_wire_shape() {
        let r = DescribeEipAddressesResponse {
            request_id: "r".into(),
            total_count: Some(1),
            eip_addresses: vec![EipAddress {
                allocation_id: "eip-1".into(),
                description: "d".into(),
                operation_locks: vec![LockReason {
                    lock_reason: "security".into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&r).unwrap();
        let e = &v["EipAddresses"]["EipAddress"][0];
        assert_eq!(e["AllocationId"], "eip-1");
        assert_eq!(e["Descritpion"], "d");
        assert_eq!(
            e["OperationLocks"]["LockReason"][0]["LockReason"],
            "security"
        );
        assert_eq!(e["Tags"]["Tag"], serde_json::json!([]));
        let back: DescribeEipAddressesResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn describe_request_flattens_filters_and_tags() {
        let mut req = DescribeEipAddresses {
            region_id: "cn-hangzhou".into(),
            associated_instance_type: Some("Nat".into()),
            associated_instance_id: Some("ngw-1".into()),
            isp: Some("BGP".into()),
            include_reservation_data: Some(false),
            filter: vec![
                Filter {
                    key: "CreationStartTime".into(),
                    value: "2018-01-22T09:12Z".into(),
                },
                Filter {
                    key: "CreationEndTime".into(),
                    value: "2018-01-22T09:15Z".into(),
                },
            ],
            tag: vec![Tag {
                key: "natop".into(),
                value: "owned".into(),
            }],
            ..Default::default()
        };
        req.set_page(1, crate::cloud::alibaba::MAX_PAGE_SIZE);
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["AssociatedInstanceType"], "Nat");
        assert_eq!(p["AssociatedInstanceId"], "ngw-1");
        assert_eq!(p["ISP"], "BGP");
        assert_eq!(p["IncludeReservationData"], "false");
        assert_eq!(p["Filter.1.Key"], "CreationStartTime");
        assert_eq!(p["Filter.2.Value"], "2018-01-22T09:15Z");
        assert_eq!(p["Tag.1.Key"], "natop");
        assert_eq!(p["Tag.1.Value"], "owned");
        assert_eq!(p["PageNumber"], "1");
        assert_eq!(p["PageSize"], "50");
    }

    #[test]
    fn associate_and_unassociate_flatten_to_wire_names() {
        let p = assert_round_trip(
            &AssociateEipAddress {
                region_id: "cn-hangzhou".into(),
                allocation_id: "eip-2zeerraiwb7ujxxxxxxxx".into(),
                instance_id: "ngw-1".into(),
                instance_type: Some("Nat".into()),
                client_token: Some("t".into()),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["AllocationId"], "eip-2zeerraiwb7ujxxxxxxxx");
        assert_eq!(p["InstanceId"], "ngw-1");
        assert_eq!(p["InstanceType"], "Nat");
        assert_eq!(p["ClientToken"], "t");
        assert_eq!(p.len(), 5);
        let p = assert_round_trip(
            &UnassociateEipAddress {
                region_id: "cn-hangzhou".into(),
                allocation_id: "eip-1".into(),
                instance_id: Some("ngw-1".into()),
                instance_type: Some("Nat".into()),
                force: Some(true),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["Force"], "true");
        assert_eq!(p["InstanceType"], "Nat");
        assert!(!p.contains_key("PrivateIpAddress"));
    }

    #[test]
    fn request_id_only_fixtures_parse() {
        let r: AssociateEipAddressResponse = fixture("AssociateEipAddress");
        assert_eq!(r.request_id, "0ED8D006-F706-4D23-88ED-E11ED28DCAC0");
        let r: UnassociateEipAddressResponse = fixture("UnassociateEipAddress");
        assert_eq!(r.request_id, "0ED8D006-F706-4D23-88ED-E11ED28DCAC0");
    }
}
