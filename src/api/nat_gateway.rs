//! NatGateway: an Alibaba Cloud VPC NAT gateway, with the EIPs bound to it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    CloudLocation, DeletionPolicy, ManagementPolicy, PROVIDER_CONFIG_IMMUTABLE,
    PROVIDER_CONFIG_IMMUTABLE_MESSAGE, ProviderConfigReference, REGION_IMMUTABLE,
    REGION_IMMUTABLE_MESSAGE,
};
use super::validation::{NAME_PATTERN, REGION_PATTERN};

/// The gateway type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum NatType {
    /// The classic gateway, which Alibaba Cloud no longer sells: for gateways
    /// that exist already (adopt, observe, convert to Enhanced).
    Normal,
    /// The enhanced gateway (the default; needs a vSwitch). Normal converts to
    /// Enhanced; never back.
    #[default]
    Enhanced,
}

/// Where the gateway translates to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum NetworkType {
    /// An internet NAT gateway (the default): EIPs, DNAT from and SNAT to the internet.
    #[default]
    #[serde(rename = "internet")]
    Internet,
    /// A VPC (private) NAT gateway: it translates between private networks with
    /// its own private IP from its vSwitch and binds no EIPs.
    #[serde(rename = "intranet")]
    Intranet,
}

/// The gateway size.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Specification {
    /// Small (the default).
    #[default]
    Small,
    /// Middle.
    Middle,
    /// Large.
    Large,
    /// Extra large.
    #[serde(rename = "XLarge.1")]
    XLarge1,
}

impl Specification {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Specification::Small => "Small",
            Specification::Middle => "Middle",
            Specification::Large => "Large",
            Specification::XLarge1 => "XLarge.1",
        }
    }
}

/// How the gateway is paid for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum InstanceChargeType {
    /// Pay as you go (the default).
    #[default]
    PostPaid,
    /// Subscription. natop never deletes a subscription gateway: on deletion it is
    /// orphaned with a warning event.
    PrePaid,
}

/// Billing cycle of a subscription. Immutable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PricingCycle {
    /// Monthly (duration 1–9).
    Month,
    /// Yearly (duration 1–3).
    Year,
}

/// How internet traffic is billed. Immutable.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum InternetChargeType {
    /// By specification.
    PayBySpec,
    /// By capacity units (Enhanced gateways only).
    PayByLcu,
}

/// The desired NAT gateway.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A NAT gateway natop manages in a VPC, with its EIPs; its DNAT and SNAT tables hold the ForwardEntry and SnatEntry objects that name it.",
    group = "natop.dev",
    version = "v1alpha1",
    kind = "NatGateway",
    namespaced,
    status = "NatGatewayStatus",
    shortname = "ngw",
    category = "natop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.id"}"#,
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".status.natType"}"#,
    printcolumn = r#"{"name":"Spec","type":"string","jsonPath":".status.specification"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(PROVIDER_CONFIG_IMMUTABLE).message(PROVIDER_CONFIG_IMMUTABLE_MESSAGE),
    validation = Rule::new(REGION_IMMUTABLE).message(REGION_IMMUTABLE_MESSAGE),
    validation = Rule::new("self.natType != 'Enhanced' || has(self.vSwitchId)")
        .message("an Enhanced gateway (natType's default) needs vSwitchId"),
    validation = Rule::new("!has(self.specification) || !has(self.internetChargeType) || self.internetChargeType != 'PayByLcu'")
        .message("a gateway billed by capacity units (PayByLcu) has no size: remove specification"),
    validation = Rule::new("self.networkType != 'intranet' || self.natType == 'Enhanced'")
        .message("an intranet (VPC) NAT gateway is Enhanced"),
    validation = Rule::new("self.networkType != 'intranet' || !has(self.eipAllocationIds) || size(self.eipAllocationIds) == 0")
        .message("an intranet (VPC) NAT gateway binds no EIPs: remove eipAllocationIds"),
    validation = Rule::new("self.instanceChargeType != 'PrePaid' || (has(self.pricingCycle) && has(self.duration))")
        .message("a PrePaid gateway needs pricingCycle and duration"),
    validation = Rule::new("!has(self.duration) || !has(self.pricingCycle) || self.pricingCycle != 'Year' || self.duration <= 3")
        .message("a yearly subscription lasts 1 to 3 years"),
    validation = Rule::new("!has(self.internetChargeType) || self.internetChargeType != 'PayByLcu' || self.natType == 'Enhanced'")
        .message("PayByLcu needs an Enhanced gateway"),
    validation = Rule::new("has(self.vSwitchId) == has(oldSelf.vSwitchId)")
        .message("vSwitchId is immutable"),
    validation = Rule::new("has(self.pricingCycle) == has(oldSelf.pricingCycle) && has(self.duration) == has(oldSelf.duration) && has(self.autoPay) == has(oldSelf.autoPay) && has(self.internetChargeType) == has(oldSelf.internetChargeType)")
        .message("charge settings are immutable")
)]
pub struct NatGatewaySpec {
    /// The ProviderConfig to use (default `default`); it must be an Alibaba one.
    /// Immutable: the cloud resource stays in the account it was made in.
    #[serde(default)]
    pub provider_config_ref: ProviderConfigReference,
    /// Region, when not the ProviderConfig's. Immutable once set: the cloud
    /// resource stays in the region it was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = REGION_PATTERN))]
    pub region: Option<String>,
    /// `Delete` (default) deletes the gateway with the object; `Orphan` leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) creates and updates the gateway; `Observe` only reports it.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// VPC of the gateway (`vpc-…`). Immutable.
    #[schemars(regex(pattern = r"^vpc-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("vpcId is immutable"))]
    pub vpc_id: String,
    /// vSwitch of the gateway (`vsw-…`); required for Enhanced gateways. Immutable.
    #[serde(default, rename = "vSwitchId", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^vsw-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("vSwitchId is immutable"))]
    pub v_switch_id: Option<String>,
    /// `Enhanced` (default; needs vSwitchId) or `Normal`. Alibaba Cloud sells
    /// only Enhanced gateways now: `Normal` is for a gateway that exists
    /// already (adopted, observed, or converted to Enhanced by setting
    /// `Enhanced`); creating one is refused by the cloud unless the account may
    /// still buy them. Normal → Enhanced converts the gateway in place; an
    /// Enhanced gateway cannot become Normal (refused).
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf || oldSelf == 'Normal'").message("an Enhanced gateway cannot become Normal"))]
    pub nat_type: NatType,
    /// `internet` (default) or `intranet` (a VPC NAT gateway: Enhanced, no
    /// EIPs; its DNAT and SNAT entries use its private IP). Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("networkType is immutable"))]
    pub network_type: NetworkType,
    /// Size: `Small`, `Middle`, `Large` or `XLarge.1`, for the gateways billed
    /// by specification (Normal ones, and Enhanced ones billed `PayBySpec`,
    /// which naming a size asks for when internetChargeType is unset; an
    /// account may no longer be allowed to buy those). Leave it unset for an
    /// Enhanced gateway billed by capacity units (`PayByLcu`, the cloud's
    /// default), which has no size. Unset: natop neither sends nor compares a
    /// size. Changing it resizes the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<Specification>,
    /// Name shown in the console: 2–128 characters, starting with a letter or a Chinese
    /// character; letters, digits, `.`, `_`, `-`. Defaults to the gateway id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 128),
        regex(pattern = NAME_PATTERN)
    )]
    pub name: Option<String>,
    /// Description: 2–256 characters, not starting with `http://` or `https://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 256))]
    #[x_kube(validation = Rule::new("!self.startsWith('http://') && !self.startsWith('https://')").message("description must not start with http:// or https://"))]
    pub description: Option<String>,
    /// `PostPaid` (default) or `PrePaid`. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("instanceChargeType is immutable"))]
    pub instance_charge_type: InstanceChargeType,
    /// Billing cycle of a PrePaid gateway: `Month` or `Year`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("pricingCycle is immutable"))]
    pub pricing_cycle: Option<PricingCycle>,
    /// Subscription length in cycles: 1–9 months or 1–3 years. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 9))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("duration is immutable"))]
    pub duration: Option<u32>,
    /// Pay a subscription order automatically. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("autoPay is immutable"))]
    pub auto_pay: Option<bool>,
    /// `PayBySpec` or `PayByLcu` (Enhanced only). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("internetChargeType is immutable"))]
    pub internet_charge_type: Option<InternetChargeType>,
    /// EIPs (`eip-…` allocation ids) to bind to the gateway, at most 50, no
    /// duplicates; natop binds and unbinds EIPs so that exactly these are bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 50),
        inner(length(max = 64), regex(pattern = r"^eip-[a-z0-9]+$")),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub eip_allocation_ids: Vec<String>,
    /// Delete the gateway even while ForwardEntry, SnatEntry or BandwidthPackage
    /// objects still use it, and let the cloud remove its entries and packages.
    #[serde(default)]
    pub force_delete: bool,
    /// Tags (key: value) natop puts on the gateway and keeps there: a changed
    /// value is corrected, a key removed from here is removed from the gateway
    /// (tags others added in the console are left alone). At most 16 (the
    /// cloud takes 20 and natop uses 4 of them); keys 1–128 characters, not
    /// starting with `natop.dev/` (natop's own), `aliyun` or `acs:`; values at
    /// most 128 characters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 16))]
    #[x_kube(
        validation = Rule::new("self.all(k, !k.startsWith('natop.dev/'))").message("tag keys starting with natop.dev/ are natop's own (owner id, kind, object): choose another key"),
        validation = Rule::new("self.all(k, !k.startsWith('aliyun') && !k.startsWith('acs:'))").message("tag keys starting with aliyun or acs: are reserved by the cloud"),
        validation = Rule::new("self.all(k, size(k) >= 1 && size(k) <= 128 && size(self[k]) <= 128)").message("tag keys are 1-128 characters and values at most 128"),
    )]
    pub tags: BTreeMap<String, String>,
}

/// What the cloud says about the gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NatGatewayStatus {
    /// The gateway id (`ngw-…`).
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
    /// The DNAT table (`ftb-…`) ForwardEntry objects use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_table_id: Option<String>,
    /// The SNAT table (`stb-…`) SnatEntry objects use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_table_id: Option<String>,
    /// Cloud status: `Creating`, `Available`, `Modifying`, `Converting`, `Deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Billing status: `Normal` or `FinancialLocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_status: Option<String>,
    /// The gateway type the cloud reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_type: Option<String>,
    /// The size the cloud reports (none for gateways billed by capacity units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<String>,
    /// `internet` or `intranet`, as the cloud reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_type: Option<String>,
    /// Public IPs of the gateway and how they are used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<IpAddress>,
    /// Progress of a Normal → Enhanced conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Conversion>,
    /// When the cloud created the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// The owner id the gateway's `natop.dev/owner` tag names: the natop
    /// that manages it. Entries in its tables are adopted by their key only
    /// when it is this natop's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// The `spec.tags` keys natop applied, with the gateway's values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A public IP of the gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    /// The address.
    pub ip: String,
    /// Its EIP or bandwidth-package IP id.
    pub allocation_id: String,
    /// `idle`, `UsedBySnatTable` or `UsedByForwardTable`.
    pub using_status: String,
}

/// A conversion's progress.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversion {
    /// The type being converted to.
    pub dst_nat_type: String,
    /// The steps so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<ConversionStep>,
}

/// One conversion step.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversionStep {
    /// Step name as the cloud reports it.
    pub name: String,
    /// `processing`, `successful` or `failed`.
    pub status: String,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use kube::core::cel::{validate_cel, validate_cel_update};

    use super::*;

    /// A gateway of natType's default (Enhanced) in a vSwitch, with `spec`'s fields.
    fn gateway(spec: serde_json::Value) -> NatGateway {
        let mut value = serde_json::json!({"vpcId": "vpc-1", "vSwitchId": "vsw-1"});
        if let (Some(base), Some(extra)) = (value.as_object_mut(), spec.as_object()) {
            base.extend(extra.clone());
        }
        NatGateway::new("gw", serde_json::from_value(value).unwrap())
    }

    #[test]
    fn cel_rules_accept_valid_specs() {
        for spec in [
            serde_json::json!({}),
            serde_json::json!({"natType": "Enhanced", "vSwitchId": "vsw-1", "internetChargeType": "PayByLcu"}),
            serde_json::json!({"instanceChargeType": "PrePaid", "pricingCycle": "Year", "duration": 3}),
            serde_json::json!({"natType": "Normal", "specification": "Large"}),
            serde_json::json!({"internetChargeType": "PayBySpec", "specification": "Middle"}),
            serde_json::json!({"specification": "Middle"}),
            serde_json::json!({"networkType": "intranet"}),
            serde_json::json!({"networkType": "internet", "eipAllocationIds": ["eip-1"]}),
        ] {
            assert!(validate_cel(&gateway(spec.clone())).is_ok(), "{spec}");
        }
    }

    #[test]
    fn cel_rules_refuse_inconsistent_specs() {
        for spec in [
            serde_json::json!({"instanceChargeType": "PrePaid"}),
            serde_json::json!({"instanceChargeType": "PrePaid", "pricingCycle": "Year", "duration": 5}),
            serde_json::json!({"natType": "Normal", "internetChargeType": "PayByLcu"}),
            serde_json::json!({"internetChargeType": "PayByLcu", "specification": "Large"}),
            serde_json::json!({"networkType": "intranet", "natType": "Normal"}),
            serde_json::json!({"networkType": "intranet", "eipAllocationIds": ["eip-1"]}),
        ] {
            assert!(validate_cel(&gateway(spec.clone())).is_err(), "{spec}");
        }
        // The default type is Enhanced, which needs a vSwitch.
        let bare: NatGatewaySpec =
            serde_json::from_value(serde_json::json!({"vpcId": "vpc-1"})).unwrap();
        assert_eq!(bare.nat_type, NatType::Enhanced);
        assert!(validate_cel(&NatGateway::new("gw", bare)).is_err());
    }

    #[test]
    fn cel_rules_guard_immutable_fields_and_the_one_way_conversion() {
        let normal = |extra: serde_json::Value| {
            let mut gw = gateway(extra);
            gw.spec.nat_type = NatType::Normal;
            gw.spec.v_switch_id = None;
            gw
        };
        let old = normal(serde_json::json!({}));
        let ok = gateway(serde_json::json!({"name": "renamed"}));
        // Adding the vSwitch is refused even on the way to Enhanced: it is immutable.
        assert!(validate_cel_update(&ok, &old).is_err());
        let old = gateway(serde_json::json!({"natType": "Normal", "specification": "Large"}));
        let ok = gateway(
            serde_json::json!({"internetChargeType": "PayBySpec", "specification": "Large", "name": "renamed"}),
        );
        assert!(
            validate_cel_update(&ok, &old).is_err(),
            "the charge type is set once, with the gateway"
        );
        let ok = gateway(serde_json::json!({"name": "renamed"}));
        assert!(validate_cel_update(&ok, &old).is_ok());
        for changed in [
            serde_json::json!({"vpcId": "vpc-2"}),
            serde_json::json!({"vSwitchId": "vsw-2"}),
            serde_json::json!({"natType": "Normal", "networkType": "intranet"}),
            serde_json::json!({"natType": "Normal", "instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
        ] {
            assert!(
                validate_cel_update(&gateway(changed.clone()), &old).is_err(),
                "{changed}"
            );
        }
        let enhanced = gateway(serde_json::json!({"vSwitchId": "vsw-1", "natType": "Enhanced"}));
        let back = gateway(serde_json::json!({"vSwitchId": "vsw-1", "natType": "Normal"}));
        assert!(
            validate_cel_update(&back, &enhanced).is_err(),
            "Enhanced never becomes Normal"
        );
    }

    #[test]
    fn cel_rules_keep_the_region_and_provider_config_once_set() {
        crate::api::location_rules_hold(gateway);
    }
}
