//! The natop API (`natop.dev/v1alpha1`): one file per kind, plus the shared
//! reference, policy and condition types and the shared field checks.

pub mod bandwidth_package;
pub mod common;
pub mod forward_entry;
pub mod ipv6_internet_bandwidth;
pub mod nat_gateway;
pub mod provider_config;
pub mod snat_entry;
pub(crate) mod validation;

pub use bandwidth_package::{BandwidthPackage, BandwidthPackageSpec, BandwidthPackageStatus};
pub use common::*;
pub use forward_entry::{DnatPort, ForwardEntry, ForwardEntrySpec, ForwardEntryStatus};
pub use ipv6_internet_bandwidth::{
    Ipv6InternetBandwidth, Ipv6InternetBandwidthSpec, Ipv6InternetBandwidthStatus,
};
pub use nat_gateway::{NatGateway, NatGatewaySpec, NatGatewayStatus};
pub use provider_config::{ProviderConfig, ProviderConfigSpec, ProviderConfigStatus};
pub use snat_entry::{SnatEntry, SnatEntrySpec, SnatEntryStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD natop serves, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ProviderConfig::crd(),
        NatGateway::crd(),
        ForwardEntry::crd(),
        SnatEntry::crd(),
        BandwidthPackage::crd(),
        Ipv6InternetBandwidth::crd(),
    ]
}

/// The CEL rules every managed kind shares: `spec.region` and
/// `spec.providerConfigRef` keep their value once set. `make` builds an
/// object of the kind from extra spec fields.
#[cfg(test)]
pub(crate) fn location_rules_hold<K: kube::CustomResourceExt + serde::Serialize>(
    make: impl Fn(serde_json::Value) -> K,
) {
    use kube::core::cel::validate_cel_update;
    use serde_json::json;
    let old = make(json!({"region": "cn-hangzhou", "providerConfigRef": {"name": "a"}}));
    let same = make(json!({"region": "cn-hangzhou", "providerConfigRef": {"name": "a"}}));
    assert!(validate_cel_update(&same, &old).is_ok());
    for changed in [
        json!({"region": "cn-beijing", "providerConfigRef": {"name": "a"}}),
        json!({"providerConfigRef": {"name": "a"}}),
        json!({"region": "cn-hangzhou", "providerConfigRef": {"name": "b"}}),
    ] {
        assert!(
            validate_cel_update(&make(changed.clone()), &old).is_err(),
            "{changed}"
        );
    }
    // Setting a region where none was set is allowed (natop refuses it at run
    // time when it moves the resource).
    let unset = make(json!({"providerConfigRef": {"name": "a"}}));
    assert!(validate_cel_update(&old, &unset).is_ok());
}
