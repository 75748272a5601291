//! Ipv6InternetBandwidth: the public bandwidth bought for one IPv6 address of an
//! Alibaba Cloud IPv6 gateway, which opens the address to the internet.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    CloudLocation, DeletionPolicy, ManagementPolicy, PROVIDER_CONFIG_IMMUTABLE,
    PROVIDER_CONFIG_IMMUTABLE_MESSAGE, ProviderConfigReference, REGION_IMMUTABLE,
    REGION_IMMUTABLE_MESSAGE,
};
use super::validation::REGION_PATTERN;

/// How an IPv6 address's internet traffic is billed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Ipv6InternetChargeType {
    /// By bandwidth (the default).
    #[default]
    PayByBandwidth,
    /// By traffic; the IPv6 gateway's size caps the bandwidth.
    PayByTraffic,
}

impl Ipv6InternetChargeType {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Ipv6InternetChargeType::PayByBandwidth => "PayByBandwidth",
            Ipv6InternetChargeType::PayByTraffic => "PayByTraffic",
        }
    }
}

/// The desired public bandwidth of an IPv6 address.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "The public bandwidth natop buys and manages for one IPv6 address of an IPv6 gateway.",
    group = "natop.dev",
    version = "v1alpha1",
    kind = "Ipv6InternetBandwidth",
    namespaced,
    status = "Ipv6InternetBandwidthStatus",
    shortname = "ipv6bw",
    category = "natop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.id"}"#,
    printcolumn = r#"{"name":"Address","type":"string","jsonPath":".spec.ipv6AddressId"}"#,
    printcolumn = r#"{"name":"Bandwidth","type":"integer","jsonPath":".status.bandwidth"}"#,
    printcolumn = r#"{"name":"Charge","type":"string","jsonPath":".status.internetChargeType"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(PROVIDER_CONFIG_IMMUTABLE).message(PROVIDER_CONFIG_IMMUTABLE_MESSAGE),
    validation = Rule::new(REGION_IMMUTABLE).message(REGION_IMMUTABLE_MESSAGE)
)]
pub struct Ipv6InternetBandwidthSpec {
    /// The ProviderConfig to use (default `default`); it must be an Alibaba one.
    /// Immutable: the cloud resource stays in the account it was made in.
    #[serde(default)]
    pub provider_config_ref: ProviderConfigReference,
    /// Region, when not the ProviderConfig's. Immutable once set: the cloud
    /// resource stays in the region it was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = REGION_PATTERN))]
    pub region: Option<String>,
    /// `Delete` (default) deletes the bandwidth with the object; `Orphan` leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) creates and updates the bandwidth; `Observe` only reports it.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// The IPv6 address (`ipv6-…`) to open to the internet. Immutable.
    #[schemars(regex(pattern = r"^ipv6-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("ipv6AddressId is immutable"))]
    pub ipv6_address_id: String,
    /// The IPv6 gateway (`ipv6gw-…`) of the address. Immutable.
    #[schemars(regex(pattern = r"^ipv6gw-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("ipv6GatewayId is immutable"))]
    pub ipv6_gateway_id: String,
    /// Bandwidth in Mbps, 1–5000 (with `PayByTraffic` the gateway's size caps it).
    /// Changing it resizes the bandwidth.
    #[schemars(range(min = 1, max = 5000))]
    pub bandwidth: u32,
    /// Traffic billing: `PayByBandwidth` (default) or `PayByTraffic`. Immutable.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("internetChargeType is immutable"))]
    pub internet_charge_type: Ipv6InternetChargeType,
}

/// What the cloud says about the IPv6 address and its bandwidth.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ipv6InternetBandwidthStatus {
    /// The bandwidth id (`ipv6bw-…`).
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
    /// The bandwidth in Mbps the cloud reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u32>,
    /// The traffic billing the cloud reports: `PayByBandwidth` or `PayByTraffic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    /// Cloud status of the IPv6 address: `Pending` or `Available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Billing status of the bandwidth: `Normal`, `FinancialLocked` or `SecurityLocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_status: Option<String>,
}

#[cfg(test)]
mod tests {
    use kube::core::cel::{validate_cel, validate_cel_update};
    use serde_json::json;

    use super::super::validation::assert_refused;
    use super::*;

    fn spec(extra: serde_json::Value) -> Ipv6InternetBandwidthSpec {
        let mut value = json!({
            "ipv6AddressId": "ipv6-hz01",
            "ipv6GatewayId": "ipv6gw-hz1",
            "bandwidth": 10,
        });
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    fn bandwidth(extra: serde_json::Value) -> Ipv6InternetBandwidth {
        Ipv6InternetBandwidth::new("v6", spec(extra))
    }

    #[test]
    fn charge_type_defaults_to_pay_by_bandwidth() {
        assert_eq!(
            spec(json!({})).internet_charge_type,
            Ipv6InternetChargeType::PayByBandwidth
        );
        assert_eq!(
            Ipv6InternetChargeType::PayByTraffic.as_str(),
            "PayByTraffic"
        );
        assert_eq!(
            serde_json::to_value(Ipv6InternetChargeType::PayByBandwidth).unwrap(),
            json!("PayByBandwidth")
        );
    }

    #[test]
    fn cel_rules_let_the_bandwidth_change_and_nothing_else() {
        let old = bandwidth(json!({}));
        assert!(validate_cel(&old).is_ok());
        assert!(validate_cel_update(&bandwidth(json!({"bandwidth": 5000})), &old).is_ok());
        for (changed, expected) in [
            (
                json!({"ipv6AddressId": "ipv6-hz02"}),
                "ipv6AddressId is immutable",
            ),
            (
                json!({"ipv6GatewayId": "ipv6gw-hz2"}),
                "ipv6GatewayId is immutable",
            ),
            (
                json!({"internetChargeType": "PayByTraffic"}),
                "internetChargeType is immutable",
            ),
        ] {
            assert_refused(
                validate_cel_update(&bandwidth(changed.clone()), &old),
                expected,
                &changed.to_string(),
            );
        }
    }

    #[test]
    fn cel_rules_keep_the_region_and_provider_config_once_set() {
        crate::api::location_rules_hold(bandwidth);
    }
}
