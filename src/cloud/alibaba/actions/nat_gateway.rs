//! NAT gateway actions: create, modify (attributes, spec, NAT type), describe,
//! delete, plus the Enhanced-gateway zone list and the Normal → Enhanced
//! conversion progress.
//!
//! Longer than most files (about 820 lines before its tests) on purpose: it
//! is the wire format of one API family, request and response types side by
//! side, with nothing to decide; split, the types that share fields (the
//! gateway as describe, create and modify show it) would drift apart.

use serde::{Deserialize, Serialize, Serializer};

use crate::cloud::alibaba::{Action, Page, Paginated};
use crate::cloud::wire::{self, WrappedItem, wrapped};

fn wrap_forward_table_id<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    wire::wrapped_as("ForwardTableId", items, s)
}

fn wrap_snat_table_id<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    wire::wrapped_as("SnatTableId", items, s)
}

fn wrap_bandwidth_package_id<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    wire::wrapped_as("BandwidthPackageId", items, s)
}

/// A tag given in a request, sent as `Tag.N.Key` / `Tag.N.Value` (N = 1..=20).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key: up to 128 characters, not starting with `aliyun` or `acs:`, no `http(s)://`.
    pub key: String,
    /// Tag value: up to 128 characters, same restrictions as the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A tag as `DescribeNatGateways` reports it (`Tags.Tag[]` of `{TagKey, TagValue}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceTag {
    /// Tag key.
    #[serde(default)]
    pub tag_key: String,
    /// Tag value.
    #[serde(default)]
    pub tag_value: String,
}

impl WrappedItem for ResourceTag {
    const KEY: &'static str = "Tag";
}

/// A legacy NAT bandwidth package created together with the gateway, sent as
/// `BandwidthPackage.N.*` (only one is accepted; pre-2017-11-03 accounts only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNatGatewayBandwidthPackage {
    /// Bandwidth of the package in Mbps.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub bandwidth: Option<u32>,
    /// Zone of the package's IPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Billing of the package: `PayByBandwidth` or `PayByTraffic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    /// Line type of the package (ISP), e.g. `BGP`.
    #[serde(rename = "ISP", default, skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    /// Number of public IPs in the package.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub ip_count: Option<u32>,
}

// ---------------------------------------------------------------------------
// CreateNatGateway
// ---------------------------------------------------------------------------

/// CreateNatGateway: creates a NAT gateway in a VPC (asynchronous: it starts
/// `Creating` and becomes `Available`, usually within 1–3 minutes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNatGateway {
    /// Region of the gateway.
    pub region_id: String,
    /// VPC to create the gateway in. A `Normal` gateway needs a VPC route table
    /// without a `0.0.0.0/0` route.
    pub vpc_id: String,
    /// Name: 2–128 characters, starts with a letter or Chinese character, may
    /// contain digits, `.`, `_`, `-`, not `http(s)://`. Defaults to the gateway id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description: 2–256 characters, not starting with `http(s)://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Size: `Small` (default), `Middle`, `Large` or `XLarge.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Billing: `PostPaid` (default, pay-as-you-go) or `PrePaid` (subscription).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_charge_type: Option<String>,
    /// Subscription cycle: `Month` (default) or `Year`; required with `PrePaid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_cycle: Option<String>,
    /// Subscription length: 1–9 months or 1–3 years; required with `PrePaid`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub duration: Option<u32>,
    /// Pay the subscription order automatically; required with `PrePaid`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub auto_pay: Option<bool>,
    /// vSwitch the gateway takes a private IP from; required for `Enhanced`
    /// gateways (its zone must support them).
    #[serde(rename = "VSwitchId", default, skip_serializing_if = "Option::is_none")]
    pub vswitch_id: Option<String>,
    /// Gateway type: `Normal` or `Enhanced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_type: Option<String>,
    /// Metering: `PayBySpec` or `PayByLcu` (`PayByLcu` only for `Enhanced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    /// Network type: `internet` (Internet NAT gateway) or `intranet` (VPC NAT gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// How EIPs are bound: `MULTI_BINDED` (default) or `NAT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_bind_mode: Option<String>,
    /// Whether the gateway answers ICMP (default true).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub icmp_reply_enabled: Option<bool>,
    /// Whether the gateway supports PrivateLink (default false).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub private_link_enabled: Option<bool>,
    /// Tags to attach (`Tag.N.Key` / `Tag.N.Value`, at most 20).
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Legacy NAT bandwidth package to create with the gateway (`BandwidthPackage.N.*`).
    #[serde(
        rename = "BandwidthPackage",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub bandwidth_packages: Vec<CreateNatGatewayBandwidthPackage>,
}

impl Action for CreateNatGateway {
    const NAME: &'static str = "CreateNatGateway";
    type Response = CreateNatGatewayResponse;
}

/// Response of [`CreateNatGateway`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNatGatewayResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Id of the new gateway (`ngw-…`).
    #[serde(default)]
    pub nat_gateway_id: String,
    /// DNAT table ids (`ForwardTableIds.ForwardTableId[]`, `ftb-…`).
    #[serde(
        default,
        deserialize_with = "wire::list",
        serialize_with = "wrap_forward_table_id"
    )]
    pub forward_table_ids: Vec<String>,
    /// SNAT table ids (`SnatTableIds.SnatTableId[]`, `stb-…`).
    #[serde(
        default,
        deserialize_with = "wire::list",
        serialize_with = "wrap_snat_table_id"
    )]
    pub snat_table_ids: Vec<String>,
    /// Legacy NAT bandwidth package ids (`BandwidthPackageIds.BandwidthPackageId[]`).
    #[serde(
        default,
        deserialize_with = "wire::list",
        serialize_with = "wrap_bandwidth_package_id"
    )]
    pub bandwidth_package_ids: Vec<String>,
}

// ---------------------------------------------------------------------------
// ModifyNatGatewayAttribute
// ---------------------------------------------------------------------------

/// ModifyNatGatewayAttribute: changes a gateway's name, description and a few
/// flags (synchronous). At least one of name and description is expected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyNatGatewayAttribute {
    /// Gateway to modify.
    pub nat_gateway_id: String,
    /// Region of the gateway.
    pub region_id: String,
    /// New name: 2–128 characters, starts with a letter or Chinese character,
    /// may contain digits, `.`, `_`, `-`, not `http(s)://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description: 2–256 characters, not starting with `http(s)://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// EIP binding mode; only `MULTI_BINDED` → `NAT` is allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_bind_mode: Option<String>,
    /// Whether the gateway answers ICMP.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub icmp_reply_enabled: Option<bool>,
}

impl Action for ModifyNatGatewayAttribute {
    const NAME: &'static str = "ModifyNatGatewayAttribute";
    type Response = ModifyNatGatewayAttributeResponse;
}

/// Response of [`ModifyNatGatewayAttribute`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyNatGatewayAttributeResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

// ---------------------------------------------------------------------------
// ListEnhanhcedNatGatewayAvailableZones (sic)
// ---------------------------------------------------------------------------

/// ListEnhanhcedNatGatewayAvailableZones: lists the zones of a region where
/// Enhanced NAT gateways can be created. The misspelling ("Enhanhced") is the
/// real wire name; the documented `ListEnhancedNatGatewayAvailableZones` does
/// not exist on the service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEnhanhcedNatGatewayAvailableZones {
    /// Region to list the zones of.
    pub region_id: String,
    /// Language of `LocalName`: `zh-CN` (default) or `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_language: Option<String>,
}

impl Action for ListEnhanhcedNatGatewayAvailableZones {
    const NAME: &'static str = "ListEnhanhcedNatGatewayAvailableZones";
    type Response = ListEnhanhcedNatGatewayAvailableZonesResponse;
}

/// The zones request under its documented (correct) spelling.
pub type ListEnhancedNatGatewayAvailableZones = ListEnhanhcedNatGatewayAvailableZones;

/// The zones response under its documented (correct) spelling.
pub type ListEnhancedNatGatewayAvailableZonesResponse =
    ListEnhanhcedNatGatewayAvailableZonesResponse;

/// Response of [`ListEnhanhcedNatGatewayAvailableZones`]. The service sends
/// `Zones` as a bare array; the wrapped `Zones.Zone[]` form is accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListEnhanhcedNatGatewayAvailableZonesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Zones supporting Enhanced NAT gateways.
    #[serde(default, deserialize_with = "wire::list")]
    pub zones: Vec<Zone>,
}

/// A zone that supports Enhanced NAT gateways.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Zone {
    /// Zone id, e.g. `cn-qingdao-a`.
    #[serde(default)]
    pub zone_id: String,
    /// Display name of the zone.
    #[serde(default)]
    pub local_name: String,
}

// ---------------------------------------------------------------------------
// UpdateNatGatewayNatType
// ---------------------------------------------------------------------------

/// UpdateNatGatewayNatType: converts a `Normal` gateway to `Enhanced`
/// (asynchronous, one-way; the gateway is `Converting` meanwhile and progress is
/// read with [`GetNatGatewayConvertStatus`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateNatGatewayNatType {
    /// Gateway to convert.
    pub nat_gateway_id: String,
    /// Target type; only `Enhanced` is accepted.
    pub nat_type: String,
    /// Region of the gateway.
    pub region_id: String,
    /// vSwitch the Enhanced gateway will take a private IP from.
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    /// Only check the request (answers `DryRunOperation` when it would succeed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub dry_run: Option<bool>,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for UpdateNatGatewayNatType {
    const NAME: &'static str = "UpdateNatGatewayNatType";
    type Response = UpdateNatGatewayNatTypeResponse;
}

/// Response of [`UpdateNatGatewayNatType`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateNatGatewayNatTypeResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

// ---------------------------------------------------------------------------
// GetNatGatewayConvertStatus
// ---------------------------------------------------------------------------

/// GetNatGatewayConvertStatus: reports the steps of a Normal → Enhanced conversion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetNatGatewayConvertStatus {
    /// Gateway being converted.
    pub nat_gateway_id: String,
    /// Region of the gateway.
    pub region_id: String,
}

impl Action for GetNatGatewayConvertStatus {
    const NAME: &'static str = "GetNatGatewayConvertStatus";
    type Response = GetNatGatewayConvertStatusResponse;
}

/// Response of [`GetNatGatewayConvertStatus`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetNatGatewayConvertStatusResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// The gateway.
    #[serde(default)]
    pub nat_gateway_id: String,
    /// Target gateway type (`Enhanced`).
    #[serde(default)]
    pub dst_nat_type: String,
    /// Steps so far, oldest first (a bare array on the wire).
    #[serde(default, deserialize_with = "wire::list")]
    pub convert_steps: Vec<ConvertStep>,
    /// Business id of the conversion (undocumented, seen in examples).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_text"
    )]
    pub bid: Option<String>,
    /// Account id (undocumented, seen in examples).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_text"
    )]
    pub ali_uid: Option<String>,
}

/// One step of a NAT type conversion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConvertStep {
    /// Step: `init`, `check`, `configure`, `activate`, `conf_delete`, `rollback`,
    /// `end_success` or `end_fail`.
    #[serde(default)]
    pub step_name: String,
    /// Step state: `processing`, `successful` or `failed`.
    #[serde(default)]
    pub step_status: String,
    /// When the step started (UTC, `YYYY-MM-DDThh:mm:ssZ`).
    #[serde(default)]
    pub step_start_time: String,
}

// ---------------------------------------------------------------------------
// ModifyNatGatewaySpec
// ---------------------------------------------------------------------------

/// ModifyNatGatewaySpec: changes a gateway's size (asynchronous: `Modifying`
/// until done, then `Available`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyNatGatewaySpec {
    /// Gateway to resize.
    pub nat_gateway_id: String,
    /// Region of the gateway.
    pub region_id: String,
    /// New size: `Small`, `Middle`, `Large` or `XLarge.1` (must differ from the current one).
    pub spec: String,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Pay the resulting order automatically (subscription gateways).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub auto_pay: Option<bool>,
}

impl Action for ModifyNatGatewaySpec {
    const NAME: &'static str = "ModifyNatGatewaySpec";
    type Response = ModifyNatGatewaySpecResponse;
}

/// Response of [`ModifyNatGatewaySpec`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyNatGatewaySpecResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

// ---------------------------------------------------------------------------
// DescribeNatGateways
// ---------------------------------------------------------------------------

/// DescribeNatGateways: lists the NAT gateways of a region, one page at a time,
/// optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGateways {
    /// Region to list.
    pub region_id: String,
    /// Only this gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    /// Only gateways of this VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Only gateways with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only gateways with this billing: `PostPaid` or `PrePaid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_charge_type: Option<String>,
    /// Only gateways of this size: `Small`, `Middle`, `Large` or `XLarge.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Only gateways of this type: `Normal` or `Enhanced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_type: Option<String>,
    /// Only gateways of this resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// Page to return (1-based, default 1).
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
    /// Only check the request (answers `DryRunOperation` when it would succeed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub dry_run: Option<bool>,
    /// Only gateways in this state: `Creating`, `Available`, `Modifying`,
    /// `Deleting` or `Converting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only gateways in this zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Only gateways of this network type: `internet` or `intranet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Only gateways carrying these tags (`Tag.N.Key` / `Tag.N.Value`).
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

impl Action for DescribeNatGateways {
    const NAME: &'static str = "DescribeNatGateways";
    type Response = DescribeNatGatewaysResponse;
}

impl Paginated for DescribeNatGateways {
    type Item = NatGateway;

    fn set_page(&mut self, number: u32, size: u32) {
        self.page_number = Some(number);
        self.page_size = Some(size);
    }

    fn page(response: &DescribeNatGatewaysResponse) -> Page {
        Page::from_parts(
            response.total_count,
            response.page_number,
            response.page_size,
        )
    }

    fn items(response: DescribeNatGatewaysResponse) -> Vec<NatGateway> {
        response.nat_gateways
    }

    fn item_id(item: &NatGateway) -> Option<&str> {
        Some(&item.nat_gateway_id)
    }
}

/// Response of [`DescribeNatGateways`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGatewaysResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Number of gateways across all pages.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub total_count: Option<u32>,
    /// Page returned.
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
    /// The gateways (`NatGateways.NatGateway[]`).
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub nat_gateways: Vec<NatGateway>,
}

/// A NAT gateway as `DescribeNatGateways` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    /// Business state: `Normal` or `FinancialLocked` (locked for arrears).
    #[serde(default)]
    pub business_status: String,
    /// Creation time (UTC, ISO 8601).
    #[serde(default)]
    pub creation_time: String,
    /// Whether deletion protection is on.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub deletion_protection: Option<bool>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Whether traffic monitoring is on.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub ecs_metric_enabled: Option<bool>,
    /// Expiry time of a subscription gateway.
    #[serde(default)]
    pub expired_time: String,
    /// DNAT table ids (`ForwardTableIds.ForwardTableId[]`).
    #[serde(
        default,
        deserialize_with = "wire::list",
        serialize_with = "wrap_forward_table_id"
    )]
    pub forward_table_ids: Vec<String>,
    /// Billing: `PostPaid` or `PrePaid`.
    #[serde(default)]
    pub instance_charge_type: String,
    /// Metering: `PayBySpec` or `PayByLcu`.
    #[serde(default)]
    pub internet_charge_type: String,
    /// Public IPs bound to the gateway (`IpLists.IpList[]`).
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub ip_lists: Vec<IpList>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Gateway id (`ngw-…`).
    #[serde(default)]
    pub nat_gateway_id: String,
    /// Private network details of an Enhanced gateway (empty for `Normal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_private_info: Option<NatGatewayPrivateInfo>,
    /// Gateway type: `Normal` or `Enhanced`.
    #[serde(default)]
    pub nat_type: String,
    /// Region.
    #[serde(default)]
    pub region_id: String,
    /// Resource group.
    #[serde(default)]
    pub resource_group_id: String,
    /// SNAT table ids (`SnatTableIds.SnatTableId[]`).
    #[serde(
        default,
        deserialize_with = "wire::list",
        serialize_with = "wrap_snat_table_id"
    )]
    pub snat_table_ids: Vec<String>,
    /// Size: `Small`, `Middle`, `Large` or `XLarge.1`.
    #[serde(default)]
    pub spec: String,
    /// State: `Creating`, `Available`, `Modifying`, `Deleting` or `Converting`.
    #[serde(default)]
    pub status: String,
    /// VPC of the gateway.
    #[serde(default)]
    pub vpc_id: String,
    /// EIP binding mode: `MULTI_BINDED` or `NAT`.
    #[serde(default)]
    pub eip_bind_mode: String,
    /// Network type: `internet` or `intranet`.
    #[serde(default)]
    pub network_type: String,
    /// Whether the gateway answers ICMP.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub icmp_reply_enabled: Option<bool>,
    /// Whether PrivateLink is enabled.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub private_link_enabled: Option<bool>,
    /// PrivateLink mode: `FullNat` or `Geneve`.
    #[serde(default)]
    pub private_link_mode: String,
    /// Tags (`Tags.Tag[]` of `{TagKey, TagValue}`).
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub tags: Vec<ResourceTag>,
    /// Legacy NAT bandwidth packages (`BandwidthPackageIds.BandwidthPackageId[]`).
    #[serde(
        default,
        deserialize_with = "wire::list",
        serialize_with = "wrap_bandwidth_package_id"
    )]
    pub bandwidth_package_ids: Vec<String>,
}

impl WrappedItem for NatGateway {
    const KEY: &'static str = "NatGateway";
}

/// A public IP bound to a NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpList {
    /// EIP id (`eip-…`).
    #[serde(default)]
    pub allocation_id: String,
    /// Public IP address.
    #[serde(default)]
    pub ip_address: String,
    /// Use of the IP: `idle`, `UsedBySnatTable` or `UsedByForwardTable`.
    #[serde(default)]
    pub using_status: String,
    /// Whether an IP already used by DNAT may also be used by SNAT.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub snat_entry_enabled: Option<bool>,
    /// Private IP the EIP maps to (`NAT` bind mode).
    #[serde(default)]
    pub private_ip_address: String,
}

impl WrappedItem for IpList {
    const KEY: &'static str = "IpList";
}

/// Private network details of an Enhanced NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGatewayPrivateInfo {
    /// Elastic network interface of the gateway.
    #[serde(default)]
    pub eni_instance_id: String,
    /// Kind of that interface.
    #[serde(default)]
    pub eni_type: String,
    /// Zone of the gateway.
    #[serde(default)]
    pub iz_no: String,
    /// Maximum bandwidth in Mbps.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub max_bandwidth: Option<u32>,
    /// Maximum new connections per second.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub max_session_establish_rate: Option<u32>,
    /// Maximum concurrent connections.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub max_session_quota: Option<u32>,
    /// Private IP of the gateway.
    #[serde(default)]
    pub private_ip_address: String,
    /// vSwitch of the gateway (the wire spells it `VswitchId`).
    #[serde(default)]
    pub vswitch_id: String,
}

// ---------------------------------------------------------------------------
// DeleteNatGateway
// ---------------------------------------------------------------------------

/// DeleteNatGateway: deletes a NAT gateway (asynchronous: `Deleting`, then gone
/// from `DescribeNatGateways`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteNatGateway {
    /// Gateway to delete.
    pub nat_gateway_id: String,
    /// Region of the gateway.
    pub region_id: String,
    /// Also delete its SNAT/DNAT entries, routes and NAT bandwidth packages and
    /// unbind its EIPs (default false: those must be removed first).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub force: Option<bool>,
}

impl Action for DeleteNatGateway {
    const NAME: &'static str = "DeleteNatGateway";
    type Response = DeleteNatGatewayResponse;
}

/// Response of [`DeleteNatGateway`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteNatGatewayResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::fixture;
    use crate::cloud::wire::{ListBase, assert_round_trip};

    #[test]
    fn create_nat_gateway_fixture() {
        let r: CreateNatGatewayResponse = fixture("CreateNatGateway");
        assert_eq!(r.request_id, "5AF873FB-6669-4AD5-A4DA-478D535C8F0D");
        assert_eq!(r.nat_gateway_id, "ngw-bp1m842e0dz1t5cos****");
        assert_eq!(r.forward_table_ids, vec!["ftb-bp1d09hosgndxs154****"]);
        assert_eq!(r.snat_table_ids, vec!["stb-bp1evej8rk6ww1djl****"]);
        assert!(r.bandwidth_package_ids.is_empty());
    }

    #[test]
    fn request_id_only_fixtures() {
        let r: ModifyNatGatewayAttributeResponse = fixture("ModifyNatGatewayAttribute");
        assert_eq!(r.request_id, "2315DEB7-5E92-423A-91F7-4C1EC9AD97C3");
        let r: UpdateNatGatewayNatTypeResponse = fixture("UpdateNatGatewayNatType");
        assert_eq!(r.request_id, "7C01CA72-73FD-4056-B16A-42E392D47625");
        let r: ModifyNatGatewaySpecResponse = fixture("ModifyNatGatewaySpec");
        assert_eq!(r.request_id, "DBD4E4A2-786E-4BD2-8EB6-107FFC2B5B7D");
        let r: DeleteNatGatewayResponse = fixture("DeleteNatGateway");
        assert_eq!(r.request_id, "0ED8D006-F706-4D23-88ED-E11ED28DCAC0");
    }

    #[test]
    fn zones_fixture_wrapped_and_bare() {
        let r: ListEnhanhcedNatGatewayAvailableZonesResponse =
            fixture("ListEnhanhcedNatGatewayAvailableZones");
        assert_eq!(r.request_id, "6FEA0CF3-D3B9-43E5-A304-D217037876A8");
        assert_eq!(r.zones.len(), 2);
        assert_eq!(r.zones[0].zone_id, "cn-qingdao-a");
        assert_eq!(r.zones[1].local_name, "华北 1 可用区 B");

        // What the real service sends: a bare array.
        let bare: ListEnhancedNatGatewayAvailableZonesResponse = serde_json::from_str(
            r#"{"RequestId":"x","Zones":[{"ZoneId":"cn-qingdao-a","LocalName":"A"}]}"#,
        )
        .unwrap();
        assert_eq!(bare.zones[0].zone_id, "cn-qingdao-a");
        // And it serializes back bare.
        let v = serde_json::to_value(&bare).unwrap();
        assert_eq!(v["Zones"][0]["ZoneId"], "cn-qingdao-a");

        let none: ListEnhanhcedNatGatewayAvailableZonesResponse =
            serde_json::from_str(r#"{"RequestId":"x"}"#).unwrap();
        assert!(none.zones.is_empty());
        assert_eq!(
            ListEnhanhcedNatGatewayAvailableZones::NAME,
            "ListEnhanhcedNatGatewayAvailableZones"
        );
    }

    #[test]
    fn convert_status_fixture() {
        let r: GetNatGatewayConvertStatusResponse = fixture("GetNatGatewayConvertStatus");
        assert_eq!(r.request_id, "566678F2-BF11-4701-9569-D888191DAF5F");
        assert_eq!(r.nat_gateway_id, "ngw-p0w4fb0mospbkaw9n****");
        assert_eq!(r.dst_nat_type, "Enhanced");
        assert_eq!(r.bid.as_deref(), Some("12345"));
        assert_eq!(r.ali_uid.as_deref(), Some("12345678"));
        assert_eq!(r.convert_steps.len(), 6);
        assert_eq!(r.convert_steps[0].step_name, "init");
        assert_eq!(r.convert_steps[5].step_name, "end_success");
        assert_eq!(r.convert_steps[5].step_status, "successful");
        assert_eq!(r.convert_steps[5].step_start_time, "2020-08-26T08:28:00Z");

        // Numbers where strings are expected, and a wrapped step list.
        let r: GetNatGatewayConvertStatusResponse = serde_json::from_str(
            r#"{"RequestId":"x","Bid":12345,"AliUid":12345678,
                "ConvertSteps":{"ConvertStep":[{"StepName":"check","StepStatus":"processing"}]}}"#,
        )
        .unwrap();
        assert_eq!(r.bid.as_deref(), Some("12345"));
        assert_eq!(r.convert_steps[0].step_status, "processing");
    }

    #[test]
    fn describe_nat_gateways_fixture() {
        let r: DescribeNatGatewaysResponse = fixture("DescribeNatGateways");
        assert_eq!(r.request_id, "1207C80C-7CAB-4874-A9A0-D19EC9F35490");
        let page = DescribeNatGateways::page(&r);
        assert_eq!(
            page,
            Page {
                total_count: 1,
                page_number: 1,
                page_size: 10
            }
        );
        let gws = DescribeNatGateways::items(r);
        assert_eq!(gws.len(), 1);
        let g = &gws[0];
        assert_eq!(g.nat_gateway_id, "ngw-bp1047e2d4z7kf2ki****");
        assert_eq!(g.vpc_id, "vpc-bp15k6sx6fhdz2jw4****");
        assert_eq!(g.status, "Available");
        assert_eq!(g.business_status, "Normal");
        assert_eq!(g.spec, "Small");
        assert_eq!(g.instance_charge_type, "PostPaid");
        assert_eq!(g.region_id, "cn-hangzhou");
        assert_eq!(g.description, "");
        assert_eq!(g.forward_table_ids, vec!["ftb-bp15o9aylj19fvgt****"]);
        assert_eq!(g.snat_table_ids, vec!["stb-bp1tyr0o48w6wymur****"]);
        assert_eq!(g.ip_lists.len(), 2);
        assert_eq!(g.ip_lists[0].ip_address, "118.xx.xx.181");
        assert_eq!(g.ip_lists[0].allocation_id, "eip-bp1xyg5ipmh3nledx****");
        assert_eq!(g.ip_lists[0].using_status, "UsedBySnatTable");
        assert_eq!(g.ip_lists[1].using_status, "UsedByForwardTable");
        assert!(g.nat_gateway_private_info.is_none());
        assert!(g.tags.is_empty());
    }

    #[test]
    fn describe_nat_gateways_extra_fields_and_lenient_values() {
        let body = r#"{
            "RequestId": "r", "TotalCount": "3", "PageNumber": "2", "PageSize": "1",
            "NatGateways": {"NatGateway": [{
                "NatGatewayId": "ngw-1",
                "DeletionProtection": "true",
                "IcmpReplyEnabled": true,
                "EcsMetricEnabled": false,
                "EipBindMode": "MULTI_BINDED",
                "NetworkType": "internet",
                "InternetChargeType": "PayByLcu",
                "NatType": "Enhanced",
                "NatGatewayPrivateInfo": {
                    "EniInstanceId": "eni-1", "IzNo": "cn-hangzhou-b",
                    "MaxBandwidth": "5120", "PrivateIpAddress": "192.168.1.10",
                    "VswitchId": "vsw-1"
                },
                "IpLists": {"IpList": [{"IpAddress": "1.2.3.4", "AllocationId": "eip-1",
                                        "UsingStatus": "idle", "SnatEntryEnabled": "false"}]},
                "Tags": {"Tag": [{"TagKey": "k", "TagValue": "v"}]},
                "ForwardTableIds": {"ForwardTableId": []},
                "SnatTableIds": ["stb-1"]
            }]}
        }"#;
        let r: DescribeNatGatewaysResponse = serde_json::from_str(body).unwrap();
        assert_eq!(
            DescribeNatGateways::page(&r),
            Page {
                total_count: 3,
                page_number: 2,
                page_size: 1
            }
        );
        let g = &r.nat_gateways[0];
        assert_eq!(g.deletion_protection, Some(true));
        assert_eq!(g.icmp_reply_enabled, Some(true));
        assert_eq!(g.ecs_metric_enabled, Some(false));
        assert_eq!(g.eip_bind_mode, "MULTI_BINDED");
        assert_eq!(g.network_type, "internet");
        assert_eq!(g.internet_charge_type, "PayByLcu");
        let info = g.nat_gateway_private_info.as_ref().unwrap();
        assert_eq!(info.max_bandwidth, Some(5120));
        assert_eq!(info.vswitch_id, "vsw-1");
        assert_eq!(info.iz_no, "cn-hangzhou-b");
        assert_eq!(g.ip_lists[0].using_status, "idle");
        assert_eq!(g.ip_lists[0].snat_entry_enabled, Some(false));
        assert_eq!(
            g.tags,
            vec![ResourceTag {
                tag_key: "k".into(),
                tag_value: "v".into()
            }]
        );
        assert!(g.forward_table_ids.is_empty());
        assert_eq!(g.snat_table_ids, vec!["stb-1"]);

        // Serializing writes the wrapped wire shape, and reads back the same.
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["NatGateways"]["NatGateway"][0]["NatGatewayId"], "ngw-1");
        assert_eq!(
            v["NatGateways"]["NatGateway"][0]["IpLists"]["IpList"][0]["IpAddress"],
            "1.2.3.4"
        );
        assert_eq!(
            v["NatGateways"]["NatGateway"][0]["SnatTableIds"]["SnatTableId"][0],
            "stb-1"
        );
        assert_eq!(
            v["NatGateways"]["NatGateway"][0]["Tags"]["Tag"][0]["TagKey"],
            "k"
        );
        assert_eq!(v["TotalCount"], 3);
        let back: DescribeNatGatewaysResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn describe_nat_gateways_missing_and_empty_lists() {
        for body in [
            r#"{"RequestId":"r"}"#,
            r#"{"RequestId":"r","NatGateways":{"NatGateway":[]}}"#,
            r#"{"RequestId":"r","NatGateways":[]}"#,
            r#"{"RequestId":"r","NatGateways":{}}"#,
        ] {
            let r: DescribeNatGatewaysResponse = serde_json::from_str(body).unwrap();
            assert!(r.nat_gateways.is_empty(), "{body}");
            assert_eq!(DescribeNatGateways::page(&r), Page::default(), "{body}");
        }
        // A bare array of gateways with bare inner lists.
        let r: DescribeNatGatewaysResponse = serde_json::from_str(
            r#"{"RequestId":"r","NatGateways":[{"NatGatewayId":"ngw-1","IpLists":[],"ForwardTableIds":["ftb-1"]}]}"#,
        )
        .unwrap();
        assert_eq!(r.nat_gateways[0].forward_table_ids, vec!["ftb-1"]);
        assert!(r.nat_gateways[0].ip_lists.is_empty());
    }

    #[test]
    fn create_nat_gateway_request_wire_names() {
        let req = CreateNatGateway {
            region_id: "cn-hangzhou".into(),
            vpc_id: "vpc-1".into(),
            name: Some("natop".into()),
            client_token: Some("tok-1".into()),
            spec: Some("Small".into()),
            instance_charge_type: Some("PrePaid".into()),
            pricing_cycle: Some("Month".into()),
            duration: Some(3),
            auto_pay: Some(true),
            vswitch_id: Some("vsw-1".into()),
            nat_type: Some("Enhanced".into()),
            internet_charge_type: Some("PayBySpec".into()),
            eip_bind_mode: Some("MULTI_BINDED".into()),
            icmp_reply_enabled: Some(false),
            tags: vec![
                Tag {
                    key: "owner".into(),
                    value: Some("natop".into()),
                },
                Tag {
                    key: "bare".into(),
                    value: None,
                },
            ],
            bandwidth_packages: vec![CreateNatGatewayBandwidthPackage {
                bandwidth: Some(5),
                isp: Some("BGP".into()),
                ip_count: Some(1),
                ..Default::default()
            }],
            ..Default::default()
        };
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert_eq!(p["VpcId"], "vpc-1");
        assert_eq!(p["VSwitchId"], "vsw-1");
        assert_eq!(p["ClientToken"], "tok-1");
        assert_eq!(p["Duration"], "3");
        assert_eq!(p["AutoPay"], "true");
        assert_eq!(p["IcmpReplyEnabled"], "false");
        assert_eq!(p["EipBindMode"], "MULTI_BINDED");
        assert_eq!(p["Tag.1.Key"], "owner");
        assert_eq!(p["Tag.1.Value"], "natop");
        assert_eq!(p["Tag.2.Key"], "bare");
        assert!(!p.contains_key("Tag.2.Value"));
        assert_eq!(p["BandwidthPackage.1.ISP"], "BGP");
        assert_eq!(p["BandwidthPackage.1.Bandwidth"], "5");
        assert_eq!(p["BandwidthPackage.1.IpCount"], "1");
        assert!(!p.contains_key("Description"));
        assert!(!p.contains_key("PrivateLinkEnabled"));
        assert_eq!(CreateNatGateway::NAME, "CreateNatGateway");

        // Minimal request: only the required parameters go on the wire.
        let min = CreateNatGateway {
            region_id: "cn-hangzhou".into(),
            vpc_id: "vpc-1".into(),
            ..Default::default()
        };
        let p = assert_round_trip(&min, ListBase::One);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn other_nat_gateway_requests_wire_names() {
        let p = assert_round_trip(
            &ModifyNatGatewayAttribute {
                nat_gateway_id: "ngw-1".into(),
                region_id: "cn-hangzhou".into(),
                name: Some("n".into()),
                description: Some(String::new()),
                eip_bind_mode: None,
                icmp_reply_enabled: Some(true),
            },
            ListBase::One,
        );
        assert_eq!(p["NatGatewayId"], "ngw-1");
        assert_eq!(p["Description"], "");
        assert_eq!(p["IcmpReplyEnabled"], "true");

        let p = assert_round_trip(
            &ListEnhanhcedNatGatewayAvailableZones {
                region_id: "cn-qingdao".into(),
                accept_language: Some("en-US".into()),
            },
            ListBase::One,
        );
        assert_eq!(p["RegionId"], "cn-qingdao");
        assert_eq!(p["AcceptLanguage"], "en-US");

        let p = assert_round_trip(
            &UpdateNatGatewayNatType {
                nat_gateway_id: "ngw-1".into(),
                nat_type: "Enhanced".into(),
                region_id: "cn-qingdao".into(),
                vswitch_id: "vsw-1".into(),
                dry_run: Some(false),
                client_token: Some("t".into()),
            },
            ListBase::One,
        );
        assert_eq!(p["NatType"], "Enhanced");
        assert_eq!(p["VSwitchId"], "vsw-1");
        assert_eq!(p["DryRun"], "false");

        let p = assert_round_trip(
            &GetNatGatewayConvertStatus {
                nat_gateway_id: "ngw-1".into(),
                region_id: "cn-qingdao".into(),
            },
            ListBase::One,
        );
        assert_eq!(p.len(), 2);

        let p = assert_round_trip(
            &ModifyNatGatewaySpec {
                nat_gateway_id: "ngw-1".into(),
                region_id: "cn-hangzhou".into(),
                spec: "XLarge.1".into(),
                client_token: None,
                auto_pay: Some(true),
            },
            ListBase::One,
        );
        assert_eq!(p["Spec"], "XLarge.1");
        assert_eq!(p["AutoPay"], "true");

        let mut req = DescribeNatGateways {
            region_id: "cn-hangzhou".into(),
            vpc_id: Some("vpc-1".into()),
            resource_group_id: Some("rg-1".into()),
            dry_run: Some(false),
            tags: vec![Tag {
                key: "k".into(),
                value: Some("v".into()),
            }],
            ..Default::default()
        };
        req.set_page(2, crate::cloud::alibaba::MAX_PAGE_SIZE);
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["PageNumber"], "2");
        assert_eq!(p["PageSize"], "50");
        assert_eq!(p["ResourceGroupId"], "rg-1");
        assert_eq!(p["Tag.1.Key"], "k");
        assert_eq!(p["Tag.1.Value"], "v");
        assert_eq!(p["DryRun"], "false");

        let p = assert_round_trip(
            &DeleteNatGateway {
                nat_gateway_id: "ngw-1".into(),
                region_id: "cn-hangzhou".into(),
                force: Some(true),
            },
            ListBase::One,
        );
        assert_eq!(p["Force"], "true");
        assert_eq!(p["NatGatewayId"], "ngw-1");
    }

    #[test]
    fn create_response_serializes_wrapped() {
        let r = CreateNatGatewayResponse {
            request_id: "r".into(),
            nat_gateway_id: "ngw-1".into(),
            forward_table_ids: vec!["ftb-1".into()],
            snat_table_ids: vec!["stb-1".into()],
            bandwidth_package_ids: Vec::new(),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["ForwardTableIds"]["ForwardTableId"][0], "ftb-1");
        assert_eq!(v["SnatTableIds"]["SnatTableId"][0], "stb-1");
        assert_eq!(
            v["BandwidthPackageIds"]["BandwidthPackageId"],
            serde_json::json!([])
        );
        let back: CreateNatGatewayResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
