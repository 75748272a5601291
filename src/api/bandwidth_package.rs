//! BandwidthPackage: one kind for two clouds. `spec.alibaba` is a legacy Alibaba
//! Cloud NAT bandwidth package (shared bandwidth plus public IPs on a NAT
//! gateway); `spec.ucloud` is a UCloud temporary bandwidth package for an EIP.
//! Exactly one is set, and it must match the ProviderConfig's `provider`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::BandwidthPackageReference;
use super::common::{
    CloudLocation, DeletionPolicy, ManagementPolicy, NatGatewayReference,
    PROVIDER_CONFIG_IMMUTABLE, PROVIDER_CONFIG_IMMUTABLE_MESSAGE, ProviderConfigReference,
    REGION_IMMUTABLE, REGION_IMMUTABLE_MESSAGE,
};
use super::provider_config::CloudProvider;
use super::validation::{NAME_PATTERN, REGION_PATTERN};

/// The line of an Alibaba NAT bandwidth package.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Isp {
    /// BGP (the only line NAT bandwidth packages offer).
    #[default]
    #[serde(rename = "BGP")]
    Bgp,
}

impl Isp {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Isp::Bgp => "BGP",
        }
    }
}

/// How an Alibaba NAT bandwidth package's traffic is billed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PackageInternetChargeType {
    /// By traffic (the default).
    #[default]
    PayByTraffic,
    /// By bandwidth.
    PayByBandwidth,
}

impl PackageInternetChargeType {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageInternetChargeType::PayByTraffic => "PayByTraffic",
            PackageInternetChargeType::PayByBandwidth => "PayByBandwidth",
        }
    }
}

/// The desired bandwidth package, on Alibaba Cloud or on UCloud.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A bandwidth package natop manages: an Alibaba Cloud NAT bandwidth package (legacy accounts) or a UCloud temporary bandwidth package for an EIP.",
    group = "natop.dev",
    version = "v1alpha1",
    kind = "BandwidthPackage",
    namespaced,
    status = "BandwidthPackageStatus",
    shortname = "bwp",
    category = "natop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.id"}"#,
    printcolumn = r#"{"name":"Cloud","type":"string","jsonPath":".status.cloud"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(PROVIDER_CONFIG_IMMUTABLE).message(PROVIDER_CONFIG_IMMUTABLE_MESSAGE),
    validation = Rule::new(REGION_IMMUTABLE).message(REGION_IMMUTABLE_MESSAGE),
    validation = Rule::new("has(self.alibaba) != has(self.ucloud)")
        .message("set exactly one of alibaba (an Alibaba NAT bandwidth package) and ucloud (a UCloud temporary bandwidth package)"),
    validation = Rule::new("has(self.alibaba) == has(oldSelf.alibaba) && has(self.ucloud) == has(oldSelf.ucloud)")
        .message("the cloud of a package is immutable")
)]
pub struct BandwidthPackageSpec {
    /// The ProviderConfig to use (default `default`); its `provider` must match the
    /// sub-object set: `Alibaba` for `alibaba`, `UCloud` for `ucloud`.
    /// Immutable: the cloud resource stays in the account it was made in.
    #[serde(default)]
    pub provider_config_ref: ProviderConfigReference,
    /// Region, when not the ProviderConfig's. Immutable once set: the cloud
    /// resource stays in the region it was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = REGION_PATTERN))]
    pub region: Option<String>,
    /// `Delete` (default) deletes the package with the object; `Orphan` leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) creates and updates the package; `Observe` only reports it.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// An Alibaba Cloud NAT bandwidth package (accounts that had one before
    /// November 2017 only). Exclusive with `ucloud`; immutable: a package's
    /// cloud cannot change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alibaba: Option<AlibabaBandwidthPackage>,
    /// A UCloud temporary bandwidth package for an EIP. Exclusive with `alibaba`.
    /// Immutable: delete the object and create a new one to change it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("a UCloud bandwidth package is immutable: create a new one"))]
    pub ucloud: Option<UCloudBandwidthPackage>,
}

/// An Alibaba Cloud NAT bandwidth package: shared bandwidth plus public IPs on a
/// NAT gateway.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.natGatewayRef) != has(self.natGatewayId)")
        .message("set exactly one of natGatewayRef and natGatewayId"),
    validation = Rule::new("has(self.natGatewayRef) == has(oldSelf.natGatewayRef) && has(self.natGatewayId) == has(oldSelf.natGatewayId)")
        .message("the gateway of a package is immutable"),
    validation = Rule::new("has(self.zone) == has(oldSelf.zone)")
        .message("zone is immutable")
)]
pub struct AlibabaBandwidthPackage {
    /// The NatGateway (same namespace) the package is created on; the package waits
    /// until that gateway is Ready. Exclusive with `natGatewayId`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("natGatewayRef is immutable"))]
    pub nat_gateway_ref: Option<NatGatewayReference>,
    /// A gateway (`ngw-…`) natop does not manage. Exclusive with `natGatewayRef`.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^ngw-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("natGatewayId is immutable"))]
    pub nat_gateway_id: Option<String>,
    /// Bandwidth in Mbps, 5–1000. Changing it resizes the package.
    #[schemars(range(min = 5, max = 1000))]
    pub bandwidth: u32,
    /// Number of public IPs, 1–50. Raising it adds IPs; lowering it removes the last
    /// ones, and waits while DNAT or SNAT entries use them (see `status.blockedBy`).
    #[schemars(range(min = 1, max = 50))]
    pub ip_count: u32,
    /// Name shown in the console: 2–128 characters, starting with a letter or a Chinese
    /// character; letters, digits, `.`, `_`, `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 128),
        regex(pattern = NAME_PATTERN)
    )]
    pub name: Option<String>,
    /// Description: 2–256 characters, starting with a letter or a Chinese character,
    /// not with `http://` or `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 256),
        regex(pattern = r"^[a-zA-Z\x{4e00}-\x{9fa5}]")
    )]
    #[x_kube(validation = Rule::new("!self.startsWith('http://') && !self.startsWith('https://')").message("description must not start with http:// or https://"))]
    pub description: Option<String>,
    /// Zone of the package's IPs (e.g. `cn-hangzhou-b`); the cloud picks one when
    /// absent. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("zone is immutable"))]
    pub zone: Option<String>,
    /// Line: `BGP` (the default and only value). Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("isp is immutable"))]
    pub isp: Isp,
    /// Traffic billing: `PayByTraffic` (default) or `PayByBandwidth`. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("internetChargeType is immutable"))]
    pub internet_charge_type: PackageInternetChargeType,
    /// Convert the package into a shared bandwidth whose IPs become EIPs bound to the
    /// same gateway (`status.convertedInstanceId`). One way: once true it cannot
    /// become false.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self || !oldSelf").message("a converted package cannot be unconverted: convertToCommonBandwidth stays true"))]
    pub convert_to_common_bandwidth: bool,
}

/// A UCloud temporary bandwidth package: extra bandwidth for an EIP from
/// `enableTime` for `timeRange` hours.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UCloudBandwidthPackage {
    /// The EIP (`eip-…`) the package is for; it must be billed by bandwidth.
    #[schemars(length(max = 64), regex(pattern = r"^eip-[a-z0-9-]+$"))]
    pub eip_id: String,
    /// Bandwidth in Mbps while the package is active, 2–800.
    #[schemars(range(min = 2, max = 800))]
    pub bandwidth: u32,
    /// How many hours the package lasts, at least 1.
    #[schemars(range(min = 1))]
    pub time_range: u32,
    /// When the package starts (RFC 3339, e.g. `2025-01-02T03:00:00Z`); when natop
    /// creates it if absent. Must not be in the past when it is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_time: Option<Time>,
    /// Coupon to pay with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub coupon_id: Option<String>,
}

/// What the cloud says about the package.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthPackageStatus {
    /// The package id (`bwp-…` on Alibaba, `bwpack-…` on UCloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled, following the kstatus conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Where the resource lives (ProviderConfig, region, account), recorded before
    /// natop creates or adopts anything; natop never acts anywhere else for this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<CloudLocation>,
    /// The cloud serving the package: `Alibaba` or `UCloud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
    /// Cloud status (Alibaba): `Creating`, `Available`, `Modifying` or `Deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Billing status (Alibaba): `Normal` or `FinancialLocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_status: Option<String>,
    /// Public IPs of the package (Alibaba), in the order `index` fields count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_ip_addresses: Vec<PackageIpAddress>,
    /// The shared bandwidth (`cbwp-…`) the package became (Alibaba, after
    /// `convertToCommonBandwidth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_instance_id: Option<String>,
    /// Entries that keep a lower `ipCount` from taking effect: the IPs to remove are
    /// still in use (Alibaba).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<BlockingEntry>,
    /// When the package starts (UCloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_time: Option<Time>,
    /// When the package ends (UCloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_time: Option<Time>,
    /// Whether the package has ended (UCloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired: Option<bool>,
}

/// A public IP of an Alibaba NAT bandwidth package.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PackageIpAddress {
    /// The address.
    pub ip: String,
    /// Its id in the package.
    pub allocation_id: String,
    /// `idle`, `UsedBySnatTable` or `UsedByForwardTable`.
    pub using_status: String,
}

/// A DNAT or SNAT entry using a package IP that a lower `ipCount` would remove.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockingEntry {
    /// The package IP the entry uses.
    pub ip: String,
    /// `ForwardEntry` or `SnatEntry`.
    pub kind: String,
    /// The object (same namespace) managing the entry, when natop manages it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The cloud entry id (`fwd-…` or `snat-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl BandwidthPackageSpec {
    /// The cloud the spec is for: the sub-object set (`None` when neither or both are).
    pub fn cloud(&self) -> Option<CloudProvider> {
        match (&self.alibaba, &self.ucloud) {
            (Some(_), None) => Some(CloudProvider::Alibaba),
            (None, Some(_)) => Some(CloudProvider::UCloud),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------

/// The CRD's schema and CEL rules, enforced by the API server, say what a
/// valid spec is; what they cannot say is which cloud a ProviderConfig is.
/// The sub-object set must be the one of the ProviderConfig's cloud: `Err`
/// naming the wrong one and what to change.
pub fn validate_provider(
    spec: &BandwidthPackageSpec,
    provider: CloudProvider,
) -> Result<(), String> {
    let (wrong, set, right, cloud) = match provider {
        CloudProvider::Alibaba => (
            spec.ucloud.is_some(),
            "spec.ucloud",
            "spec.alibaba",
            "Alibaba",
        ),
        CloudProvider::UCloud => (
            spec.alibaba.is_some(),
            "spec.alibaba",
            "spec.ucloud",
            "UCloud",
        ),
    };
    if !wrong {
        return Ok(());
    }
    Err(format!(
        "{set} is set but ProviderConfig {} serves {cloud}: use {right}, or a ProviderConfig of the other cloud",
        spec.provider_config_ref.name
    ))
}

#[cfg(test)]
mod tests {
    use kube::core::cel::{validate_cel, validate_cel_update};
    use serde_json::json;

    use super::super::validation::assert_refused;
    use super::*;

    fn alibaba(extra: serde_json::Value) -> serde_json::Value {
        let mut value = json!({"natGatewayRef": {"name": "gw"}, "bandwidth": 10, "ipCount": 2});
        merge(&mut value, extra);
        json!({"alibaba": value})
    }

    fn ucloud(extra: serde_json::Value) -> serde_json::Value {
        let mut value = json!({"eipId": "eip-bj2-01", "bandwidth": 20, "timeRange": 2});
        merge(&mut value, extra);
        json!({"ucloud": value})
    }

    fn merge(value: &mut serde_json::Value, extra: serde_json::Value) {
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            for (key, field) in extra {
                if field.is_null() {
                    base.remove(key);
                } else {
                    base.insert(key.clone(), field.clone());
                }
            }
        }
    }

    fn spec(value: serde_json::Value) -> BandwidthPackageSpec {
        serde_json::from_value(value).unwrap()
    }

    fn package(value: serde_json::Value) -> BandwidthPackage {
        BandwidthPackage::new("bwp", spec(value))
    }

    fn both() -> serde_json::Value {
        let mut value = alibaba(json!({}));
        merge(&mut value, ucloud(json!({})));
        value
    }

    fn valid_specs() -> Vec<serde_json::Value> {
        vec![
            alibaba(json!({})),
            alibaba(json!({"natGatewayRef": null, "natGatewayId": "ngw-abc1"})),
            alibaba(
                json!({"bandwidth": 1000, "ipCount": 50, "zone": "cn-hangzhou-b", "isp": "BGP", "internetChargeType": "PayByBandwidth"}),
            ),
            alibaba(
                json!({"bandwidth": 5, "ipCount": 1, "name": "pkg.1", "description": "shared egress"}),
            ),
            alibaba(json!({"convertToCommonBandwidth": true})),
            ucloud(json!({})),
            ucloud(
                json!({"bandwidth": 800, "timeRange": 72, "enableTime": "2030-01-02T03:00:00Z", "couponId": "cp-1"}),
            ),
        ]
    }

    #[test]
    fn enums_use_the_wire_names_and_defaults() {
        let defaulted = spec(alibaba(json!({})));
        let package = defaulted.alibaba.unwrap();
        assert_eq!(package.isp.as_str(), "BGP");
        assert_eq!(package.internet_charge_type.as_str(), "PayByTraffic");
        assert_eq!(serde_json::to_value(Isp::Bgp).unwrap(), json!("BGP"));
        assert_eq!(
            PackageInternetChargeType::PayByBandwidth.as_str(),
            "PayByBandwidth"
        );
    }

    #[test]
    fn the_cloud_follows_the_sub_object() {
        assert_eq!(
            spec(alibaba(json!({}))).cloud(),
            Some(CloudProvider::Alibaba)
        );
        assert_eq!(spec(ucloud(json!({}))).cloud(), Some(CloudProvider::UCloud));
        assert_eq!(spec(both()).cloud(), None);
        assert_eq!(spec(json!({})).cloud(), None);
    }

    #[test]
    fn enable_time_is_rfc_3339() {
        let spec = spec(ucloud(json!({"enableTime": "2030-01-02T03:00:00Z"})));
        let time = spec.ucloud.unwrap().enable_time.unwrap();
        assert_eq!(time.0.as_second(), 1_893_553_200);
        let bad = serde_json::from_value::<BandwidthPackageSpec>(ucloud(
            json!({"enableTime": "tomorrow"}),
        ));
        assert!(bad.is_err());
    }

    // --- CEL -----------------------------------------------------------------

    #[test]
    fn cel_rules_accept_valid_specs() {
        for value in valid_specs() {
            assert!(validate_cel(&package(value.clone())).is_ok(), "{value}");
        }
    }

    #[test]
    fn cel_rules_refuse_inconsistent_specs() {
        let one_cloud = "set exactly one of alibaba";
        let one_gateway = "set exactly one of natGatewayRef and natGatewayId";
        let http = "description must not start with http:// or https://";
        for (value, expected) in [
            (json!({}), one_cloud),
            (both(), one_cloud),
            (alibaba(json!({"natGatewayRef": null})), one_gateway),
            (alibaba(json!({"natGatewayId": "ngw-1"})), one_gateway),
            (alibaba(json!({"description": "http://example.com"})), http),
            (alibaba(json!({"description": "https://example.com"})), http),
        ] {
            assert_refused(
                validate_cel(&package(value.clone())),
                expected,
                &value.to_string(),
            );
        }
    }

    #[test]
    fn cel_rules_guard_immutable_fields_and_the_one_way_conversion() {
        let old = package(alibaba(json!({"zone": "cn-hangzhou-b"})));
        for changed in [
            alibaba(json!({"zone": "cn-hangzhou-b", "bandwidth": 100, "ipCount": 5})),
            alibaba(
                json!({"zone": "cn-hangzhou-b", "ipCount": 1, "name": "renamed", "description": "new text"}),
            ),
            alibaba(json!({"zone": "cn-hangzhou-b", "convertToCommonBandwidth": true})),
        ] {
            assert!(
                validate_cel_update(&package(changed.clone()), &old).is_ok(),
                "{changed}"
            );
        }
        for (changed, expected) in [
            (
                alibaba(json!({"zone": "cn-hangzhou-c"})),
                "zone is immutable",
            ),
            (alibaba(json!({})), "zone is immutable"),
            (
                alibaba(json!({"zone": "cn-hangzhou-b", "internetChargeType": "PayByBandwidth"})),
                "internetChargeType is immutable",
            ),
            (
                alibaba(json!({"zone": "cn-hangzhou-b", "natGatewayRef": {"name": "other"}})),
                "natGatewayRef is immutable",
            ),
            (
                alibaba(
                    json!({"zone": "cn-hangzhou-b", "natGatewayRef": null, "natGatewayId": "ngw-1"}),
                ),
                "the gateway of a package is immutable",
            ),
            (ucloud(json!({})), "the cloud of a package is immutable"),
        ] {
            assert_refused(
                validate_cel_update(&package(changed.clone()), &old),
                expected,
                &changed.to_string(),
            );
        }
        let converted = package(alibaba(json!({"convertToCommonBandwidth": true})));
        let back = package(alibaba(json!({"convertToCommonBandwidth": false})));
        assert_refused(
            validate_cel_update(&back, &converted),
            "a converted package cannot be unconverted",
            "true -> false",
        );
        assert!(validate_cel_update(&converted, &converted).is_ok());
    }

    #[test]
    fn cel_rules_freeze_the_whole_ucloud_package() {
        let old = package(ucloud(json!({"enableTime": "2030-01-02T03:00:00Z"})));
        assert!(validate_cel_update(&old.clone(), &old).is_ok());
        let frozen = "a UCloud bandwidth package is immutable";
        for (changed, expected) in [
            (
                ucloud(json!({"enableTime": "2030-01-02T03:00:00Z", "bandwidth": 30})),
                frozen,
            ),
            (
                ucloud(json!({"enableTime": "2030-01-02T03:00:00Z", "timeRange": 3})),
                frozen,
            ),
            (
                ucloud(json!({"enableTime": "2030-01-02T04:00:00Z"})),
                frozen,
            ),
            (ucloud(json!({})), frozen),
            (
                ucloud(json!({"enableTime": "2030-01-02T03:00:00Z", "couponId": "cp-1"})),
                frozen,
            ),
            (
                ucloud(json!({"enableTime": "2030-01-02T03:00:00Z", "eipId": "eip-bj2-02"})),
                frozen,
            ),
            (alibaba(json!({})), "the cloud of a package is immutable"),
        ] {
            assert_refused(
                validate_cel_update(&package(changed.clone()), &old),
                expected,
                &changed.to_string(),
            );
        }
    }

    // --- validate ------------------------------------------------------------

    #[test]
    fn validate_provider_says_which_sub_object_the_cloud_takes() {
        assert_eq!(
            validate_provider(&spec(alibaba(json!({}))), CloudProvider::Alibaba),
            Ok(())
        );
        assert_eq!(
            validate_provider(&spec(ucloud(json!({}))), CloudProvider::UCloud),
            Ok(())
        );
        assert_eq!(
            validate_provider(&spec(alibaba(json!({}))), CloudProvider::UCloud),
            Err("spec.alibaba is set but ProviderConfig default serves UCloud: use spec.ucloud, or a ProviderConfig of the other cloud".to_string())
        );
        let Err(message) = validate_provider(&spec(ucloud(json!({}))), CloudProvider::Alibaba)
        else {
            panic!("ucloud on an Alibaba ProviderConfig should be refused");
        };
        assert!(
            message.starts_with(
                "spec.ucloud is set but ProviderConfig default serves Alibaba: use spec.alibaba"
            ),
            "{message}"
        );
    }

    fn bp(extra: serde_json::Value) -> BandwidthPackage {
        let mut value = alibaba(serde_json::json!({}));
        merge(&mut value, extra);
        package(value)
    }

    #[test]
    fn cel_rules_keep_the_region_and_provider_config_once_set() {
        crate::api::location_rules_hold(bp);
    }
}
