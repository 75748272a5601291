//! Legacy NAT bandwidth packages: a shared bandwidth plus a set of public IPs
//! attached to one NAT gateway. Only accounts that owned such a package before
//! 2018 may call these actions; everyone else binds EIPs (see [`super::eip`]).

use serde::{Deserialize, Serialize};

use crate::cloud::alibaba::{Action, Page, Paginated};
use crate::cloud::wire::{self, WrappedItem, wrapped};

/// CreateBandwidthPackage: creates a NAT bandwidth package (shared bandwidth plus
/// public IPs) on a NAT gateway; at most four per gateway (legacy accounts only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBandwidthPackage {
    /// Region of the NAT gateway.
    pub region_id: String,
    /// NAT gateway the package is created on.
    pub nat_gateway_id: String,
    /// Bandwidth in Mbps (required, 5-1000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// Number of public IPs in the package (required, 1-50).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub ip_count: Option<u32>,
    /// Package name: 2-128 characters, starts with a letter or Chinese character,
    /// may hold digits, `.`, `_` and `-`, must not start with `http://` or `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description: 2-256 characters, starts with a letter or Chinese character,
    /// must not start with `http://` or `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Line type; only `BGP` is supported.
    #[serde(rename = "ISP", default, skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    /// Billing of traffic: `PayByTraffic` or `PayByBandwidth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    /// Zone of the package's IPs; a random zone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for CreateBandwidthPackage {
    const NAME: &'static str = "CreateBandwidthPackage";
    type Response = CreateBandwidthPackageResponse;
}

/// Answer to [`CreateBandwidthPackage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBandwidthPackageResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Id of the new package (`bwp-…`).
    #[serde(default)]
    pub bandwidth_package_id: String,
}

/// DescribeBandwidthPackages: lists the NAT bandwidth packages of a region,
/// optionally of one gateway or one package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeBandwidthPackages {
    /// Region to list.
    pub region_id: String,
    /// Only this package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_package_id: Option<String>,
    /// Only the packages of this NAT gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
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

impl Action for DescribeBandwidthPackages {
    const NAME: &'static str = "DescribeBandwidthPackages";
    type Response = DescribeBandwidthPackagesResponse;
}

impl Paginated for DescribeBandwidthPackages {
    type Item = BandwidthPackage;

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
        response.bandwidth_packages
    }
}

/// Answer to [`DescribeBandwidthPackages`]: `BandwidthPackages.BandwidthPackage[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeBandwidthPackagesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Number of packages across all pages.
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
    /// The packages of this page.
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub bandwidth_packages: Vec<BandwidthPackage>,
}

/// One NAT bandwidth package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BandwidthPackage {
    /// Package id (`bwp-…`).
    #[serde(default)]
    pub bandwidth_package_id: String,
    /// Region of the package.
    #[serde(default)]
    pub region_id: String,
    /// Zone of the package's IPs.
    #[serde(default)]
    pub zone_id: String,
    /// NAT gateway the package belongs to.
    #[serde(default)]
    pub nat_gateway_id: String,
    /// Package name (may be empty).
    #[serde(default)]
    pub name: String,
    /// Package description (may be empty).
    #[serde(default)]
    pub description: String,
    /// Bandwidth in Mbps; sent as a string (`"5"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// Number of public IPs; sent as a string (`"2"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub ip_count: Option<u32>,
    /// Line type (`BGP`).
    #[serde(rename = "ISP", default)]
    pub isp: String,
    /// Billing of the instance; only `PostPaid`.
    #[serde(default)]
    pub instance_charge_type: String,
    /// Billing of traffic: `PayByTraffic` or `PayByBandwidth`.
    #[serde(default)]
    pub internet_charge_type: String,
    /// `Normal`, `FinancialLocked` or `SecurityLocked`.
    #[serde(default)]
    pub business_status: String,
    /// Life-cycle status (`Available` once usable).
    #[serde(default)]
    pub status: String,
    /// Creation time, UTC ISO 8601.
    #[serde(default)]
    pub creation_time: String,
    /// The package's IPs: `PublicIpAddresses.PublicIpAddresse[]` (sic).
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub public_ip_addresses: Vec<PublicIpAddress>,
}

impl WrappedItem for BandwidthPackage {
    const KEY: &'static str = "BandwidthPackage";
}

/// One public IP of a NAT bandwidth package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicIpAddress {
    /// Id of the IP (`nateip-…`, or `eip-…` after conversion).
    #[serde(default)]
    pub allocation_id: String,
    /// The IPv4 address.
    #[serde(default)]
    pub ip_address: String,
    /// What uses the IP: `Idle`/`Available`, `UsedBySnatTable` or `UsedByForwardTable`.
    #[serde(default)]
    pub using_status: String,
    /// Whether AP access is enabled.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub ap_access_enabled: Option<bool>,
}

impl WrappedItem for PublicIpAddress {
    // The service really spells the wrapper key this way.
    const KEY: &'static str = "PublicIpAddresse";
}

/// ModifyBandwidthPackageAttribute: renames a NAT bandwidth package or changes
/// its description.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyBandwidthPackageAttribute {
    /// Region of the package.
    pub region_id: String,
    /// Package to modify.
    pub bandwidth_package_id: String,
    /// New name: 2-128 characters, starts with a letter or Chinese character, may
    /// hold digits, `.`, `_` and `-`, must not start with `http://` or `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description: 2-256 characters, starts with a letter or Chinese
    /// character, must not start with `http://` or `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Action for ModifyBandwidthPackageAttribute {
    const NAME: &'static str = "ModifyBandwidthPackageAttribute";
    type Response = ModifyBandwidthPackageAttributeResponse;
}

/// Answer to [`ModifyBandwidthPackageAttribute`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyBandwidthPackageAttributeResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// ModifyBandwidthPackageSpec: changes the bandwidth of a NAT bandwidth package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyBandwidthPackageSpec {
    /// Region of the package.
    pub region_id: String,
    /// Package to resize.
    pub bandwidth_package_id: String,
    /// New bandwidth in Mbps (required, 5-1000).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
}

impl Action for ModifyBandwidthPackageSpec {
    const NAME: &'static str = "ModifyBandwidthPackageSpec";
    type Response = ModifyBandwidthPackageSpecResponse;
}

/// Answer to [`ModifyBandwidthPackageSpec`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyBandwidthPackageSpecResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// AddBandwidthPackageIps: adds public IPs to a NAT bandwidth package (legacy
/// accounts only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddBandwidthPackageIps {
    /// Region of the package.
    pub region_id: String,
    /// Package to add IPs to.
    pub bandwidth_package_id: String,
    /// Number of IPs to add (required, 1-50).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub ip_count: Option<u32>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for AddBandwidthPackageIps {
    const NAME: &'static str = "AddBandwidthPackageIps";
    type Response = AddBandwidthPackageIpsResponse;
}

/// Answer to [`AddBandwidthPackageIps`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddBandwidthPackageIpsResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// RemoveBandwidthPackageIps: removes public IPs from a NAT bandwidth package.
/// Fails if the list holds every IP of the package, an IP not in the package, or
/// an IP used by a DNAT or SNAT entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveBandwidthPackageIps {
    /// Region of the package.
    pub region_id: String,
    /// Package to remove IPs from.
    pub bandwidth_package_id: String,
    /// IP addresses to remove (`RemovedIpAddresses.1` …, at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_ip_addresses: Vec<String>,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for RemoveBandwidthPackageIps {
    const NAME: &'static str = "RemoveBandwidthPackageIps";
    type Response = RemoveBandwidthPackageIpsResponse;
}

/// Answer to [`RemoveBandwidthPackageIps`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveBandwidthPackageIpsResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// DeleteBandwidthPackage: deletes a NAT bandwidth package and its IPs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteBandwidthPackage {
    /// Region of the package.
    pub region_id: String,
    /// Package to delete.
    pub bandwidth_package_id: String,
    /// Delete even though DNAT or SNAT entries still use its IPs (default false).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub force: Option<bool>,
}

impl Action for DeleteBandwidthPackage {
    const NAME: &'static str = "DeleteBandwidthPackage";
    type Response = DeleteBandwidthPackageResponse;
}

/// Answer to [`DeleteBandwidthPackage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteBandwidthPackageResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// ConvertBandwidthPackage: turns a NAT bandwidth package into a shared bandwidth
/// package and its IPs into EIPs; one-way, entries keep working.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConvertBandwidthPackage {
    /// Region of the NAT gateway.
    pub region_id: String,
    /// Package to convert.
    pub bandwidth_package_id: String,
    /// Idempotency token (at most 64 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for ConvertBandwidthPackage {
    const NAME: &'static str = "ConvertBandwidthPackage";
    type Response = ConvertBandwidthPackageResponse;
}

/// Answer to [`ConvertBandwidthPackage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConvertBandwidthPackageResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Id of the resulting shared bandwidth package (`cbwp-…`). The reference's
    /// table and XML spell the key `ConvertInstanceid`; both are accepted.
    #[serde(default, alias = "ConvertInstanceid")]
    pub convert_instance_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::{fixture, fixture_text};
    use crate::cloud::wire::{ListBase, assert_round_trip};

    #[test]
    fn create_fixture_parses() {
        let r: CreateBandwidthPackageResponse = fixture("CreateBandwidthPackage");
        assert_eq!(r.bandwidth_package_id, "bwp-s6lmotmkk****");
        assert_eq!(r.request_id, "54ED4074-3F89-4F11-B166-837DD3E20FE3");
    }

    #[test]
    fn describe_fixture_parses_with_misspelled_ip_key() {
        let body = fixture_text("DescribeBandwidthPackages");
        assert!(body.contains("\"PublicIpAddresse\""));
        let r: DescribeBandwidthPackagesResponse = serde_json::from_str(&body).unwrap();
        assert_eq!(r.request_id, "8909013D-4A64-41A6-93E6-E3FD08A3EAFE");
        assert_eq!(r.total_count, Some(1));
        assert_eq!(r.page_number, Some(1));
        assert_eq!(r.page_size, Some(10));
        let p = &r.bandwidth_packages[0];
        assert_eq!(p.bandwidth_package_id, "bwp-bp1xea10o8qxwaswq****");
        assert_eq!(p.nat_gateway_id, "ngw-bp1uewa15k4iyaszaasza****");
        assert_eq!(p.bandwidth, Some(5), "string \"5\"");
        assert_eq!(p.ip_count, Some(2), "string \"2\"");
        assert_eq!(p.isp, "BGP");
        assert_eq!(p.zone_id, "cn-hangzhou-b");
        assert_eq!(p.business_status, "Normal");
        assert_eq!(p.status, "Available");
        assert_eq!(p.internet_charge_type, "PayByTraffic");
        assert_eq!(p.public_ip_addresses.len(), 2);
        assert_eq!(
            p.public_ip_addresses[1].allocation_id,
            "nateip-bp1dt4hpe8847aceb****"
        );
        assert_eq!(p.public_ip_addresses[1].using_status, "UsedBySnatTable");
        assert_eq!(p.public_ip_addresses[0].ip_address, "118.31.xx.xx");
    }

    #[test]
    fn seed_spelling_of_ip_wrapper_also_parses() {
        // The reference's example writes `PublicIpAdresse`; any single wrapper key is read.
        let p: BandwidthPackage = serde_json::from_str(
            r#"{"PublicIpAddresses": {"PublicIpAdresse": [{"IpAddress": "1.2.3.4"}]}}"#,
        )
        .unwrap();
        assert_eq!(p.public_ip_addresses[0].ip_address, "1.2.3.4");
    }

    #[test]
    fn numbers_parse_from_strings_and_numbers() {
        for body in [
            r#"{"Bandwidth": "5", "IpCount": "2"}"#,
            r#"{"Bandwidth": 5, "IpCount": 2}"#,
        ] {
            let p: BandwidthPackage = serde_json::from_str(body).unwrap();
            assert_eq!(p.bandwidth, Some(5), "{body}");
            assert_eq!(p.ip_count, Some(2), "{body}");
        }
        let p: BandwidthPackage = serde_json::from_str(r#"{"Bandwidth": ""}"#).unwrap();
        assert_eq!(p.bandwidth, None);
        let r: DescribeBandwidthPackagesResponse =
            serde_json::from_str(r#"{"TotalCount": "3", "PageNumber": "1", "PageSize": 50}"#)
                .unwrap();
        assert_eq!(
            DescribeBandwidthPackages::page(&r),
            Page {
                total_count: 3,
                page_number: 1,
                page_size: 50
            }
        );
    }

    #[test]
    fn lists_parse_wrapped_bare_and_missing() {
        let wrapped = r#"{"BandwidthPackages": {"BandwidthPackage": [{"BandwidthPackageId": "bwp-1",
            "PublicIpAddresses": {"PublicIpAddresse": [{"IpAddress": "1.1.1.1"}]}}]}}"#;
        let bare = r#"{"BandwidthPackages": [{"BandwidthPackageId": "bwp-1",
            "PublicIpAddresses": [{"IpAddress": "1.1.1.1"}]}]}"#;
        for body in [wrapped, bare] {
            let r: DescribeBandwidthPackagesResponse = serde_json::from_str(body).unwrap();
            assert_eq!(r.bandwidth_packages[0].bandwidth_package_id, "bwp-1");
            assert_eq!(
                r.bandwidth_packages[0].public_ip_addresses[0].ip_address,
                "1.1.1.1"
            );
        }
        for body in [
            r#"{"RequestId": "x"}"#,
            r#"{"BandwidthPackages": {"BandwidthPackage": []}}"#,
            r#"{"BandwidthPackages": []}"#,
            r#"{"BandwidthPackages": {}}"#,
        ] {
            let r: DescribeBandwidthPackagesResponse = serde_json::from_str(body).unwrap();
            assert!(r.bandwidth_packages.is_empty(), "{body}");
            assert_eq!(DescribeBandwidthPackages::page(&r), Page::default());
        }
        let p: BandwidthPackage = serde_json::from_str(r#"{"PublicIpAddresses": {}}"#).unwrap();
        assert!(p.public_ip_addresses.is_empty());
    }

    #[test]
    fn responses_serialize_to_the_wire_shape() {
        let r: DescribeBandwidthPackagesResponse = fixture("DescribeBandwidthPackages");
        let v = serde_json::to_value(&r).unwrap();
        let ips =
            &v["BandwidthPackages"]["BandwidthPackage"][0]["PublicIpAddresses"]["PublicIpAddresse"];
        assert_eq!(ips[0]["IpAddress"], "118.31.xx.xx");
        assert_eq!(v["BandwidthPackages"]["BandwidthPackage"][0]["ISP"], "BGP");
        let back: DescribeBandwidthPackagesResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        let empty = serde_json::to_value(DescribeBandwidthPackagesResponse::default()).unwrap();
        assert_eq!(
            empty["BandwidthPackages"]["BandwidthPackage"],
            serde_json::json!([])
        );
    }

    #[test]
    fn paginated_sets_and_reads_pages() {
        let mut req = DescribeBandwidthPackages {
            region_id: "cn-hangzhou".into(),
            nat_gateway_id: Some("ngw-1".into()),
            ..Default::default()
        };
        req.set_page(2, crate::cloud::alibaba::MAX_PAGE_SIZE);
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["PageNumber"], "2");
        assert_eq!(p["PageSize"], "50");
        assert_eq!(p["NatGatewayId"], "ngw-1");
        assert!(!p.contains_key("BandwidthPackageId"));
        let r: DescribeBandwidthPackagesResponse =
            serde_json::from_str(r#"{"BandwidthPackages": [{"BandwidthPackageId": "bwp-9"}]}"#)
                .unwrap();
        let items = DescribeBandwidthPackages::items(r);
        assert_eq!(items[0].bandwidth_package_id, "bwp-9");
    }

    #[test]
    fn create_flattens_to_wire_names() {
        let req = CreateBandwidthPackage {
            region_id: "cn-hangzhou".into(),
            nat_gateway_id: "ngw-7mwb327j1****".into(),
            bandwidth: Some(5),
            ip_count: Some(2),
            name: Some("pkg".into()),
            description: Some("desc".into()),
            isp: Some("BGP".into()),
            internet_charge_type: Some("PayByBandwidth".into()),
            zone: Some("cn-hangzhou-b".into()),
            client_token: Some("tok".into()),
        };
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["ISP"], "BGP");
        assert_eq!(p["Bandwidth"], "5");
        assert_eq!(p["IpCount"], "2");
        assert_eq!(p["NatGatewayId"], "ngw-7mwb327j1****");
        assert_eq!(p["Zone"], "cn-hangzhou-b");
        assert_eq!(p["ClientToken"], "tok");
        assert_eq!(p["InternetChargeType"], "PayByBandwidth");
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn remove_ips_flattens_one_based() {
        let req = RemoveBandwidthPackageIps {
            region_id: "cn-hangzhou".into(),
            bandwidth_package_id: "bwp-1".into(),
            removed_ip_addresses: vec!["116.1.1.28".into(), "116.1.1.29".into()],
            client_token: None,
        };
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["RemovedIpAddresses.1"], "116.1.1.28");
        assert_eq!(p["RemovedIpAddresses.2"], "116.1.1.29");
        assert!(!p.contains_key("RemovedIpAddresses.0"));
        assert!(!p.contains_key("ClientToken"));
    }

    #[test]
    fn other_requests_round_trip() {
        let p = assert_round_trip(
            &AddBandwidthPackageIps {
                region_id: "cn-hangzhou".into(),
                bandwidth_package_id: "bwp-s6lmotmkkxxxxxxxx".into(),
                ip_count: Some(2),
                client_token: Some("02fb3da4".into()),
            },
            ListBase::One,
        );
        assert_eq!(p["IpCount"], "2");
        assert_eq!(p["BandwidthPackageId"], "bwp-s6lmotmkkxxxxxxxx");
        let p = assert_round_trip(
            &ModifyBandwidthPackageAttribute {
                region_id: "cn-hangzhou".into(),
                bandwidth_package_id: "bwp-1".into(),
                name: Some("NATABC".into()),
                description: Some(String::new()),
            },
            ListBase::One,
        );
        assert_eq!(p["Name"], "NATABC");
        assert_eq!(p["Description"], "");
        let p = assert_round_trip(
            &ModifyBandwidthPackageSpec {
                region_id: "cn-hangzhou".into(),
                bandwidth_package_id: "bwp-1".into(),
                bandwidth: Some(10),
            },
            ListBase::One,
        );
        assert_eq!(p["Bandwidth"], "10");
        let p = assert_round_trip(
            &DeleteBandwidthPackage {
                region_id: "cn-hangzhou".into(),
                bandwidth_package_id: "bwp-1".into(),
                force: Some(false),
            },
            ListBase::One,
        );
        assert_eq!(p["Force"], "false");
        let p = assert_round_trip(
            &ConvertBandwidthPackage {
                region_id: "cn-hangzhou".into(),
                bandwidth_package_id: "bwp-1".into(),
                client_token: Some("123e4567".into()),
            },
            ListBase::One,
        );
        assert_eq!(p["ClientToken"], "123e4567");
        assert_eq!(p["RegionId"], "cn-hangzhou");
    }

    #[test]
    fn request_id_only_fixtures_parse() {
        let r: ModifyBandwidthPackageAttributeResponse = fixture("ModifyBandwidthPackageAttribute");
        assert_eq!(r.request_id, "54ED4074-3F89-4F11-B166-837DD3E20FE3");
        let r: ModifyBandwidthPackageSpecResponse = fixture("ModifyBandwidthPackageSpec");
        assert_eq!(r.request_id, "54ED4074-3F89-4F11-B166-837DD3E20FE3");
        let r: AddBandwidthPackageIpsResponse = fixture("AddBandwidthPackageIps");
        assert_eq!(r.request_id, "2315DEB7-5E92-423A-91F7-4C1EC9AD97C3");
        let r: RemoveBandwidthPackageIpsResponse = fixture("RemoveBandwidthPackageIps");
        assert_eq!(r.request_id, "7D275A59-1EB0-4775-8A20-2A47055EAC5C");
        let r: DeleteBandwidthPackageResponse = fixture("DeleteBandwidthPackage");
        assert_eq!(r.request_id, "0ED8D006-F706-4D23-88ED-E11ED28DCAC0");
    }

    #[test]
    fn convert_fixture_parses_either_key_spelling() {
        let r: ConvertBandwidthPackageResponse = fixture("ConvertBandwidthPackage");
        assert_eq!(r.convert_instance_id, "cbwp-s6lmotmkkf567b****");
        assert_eq!(r.request_id, "0C2EE7A8-74D4-4081-8236-CEBDE3BBCF50");
        let r: ConvertBandwidthPackageResponse =
            serde_json::from_str(r#"{"ConvertInstanceid": "cbwp-1"}"#).unwrap();
        assert_eq!(r.convert_instance_id, "cbwp-1");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["ConvertInstanceId"], "cbwp-1");
    }
}
