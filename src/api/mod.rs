//! The natop API (`natop.dev/v1alpha1`): one file per kind, plus the shared
//! reference, policy and condition types.

pub mod common;
pub mod nat_gateway;
pub mod provider_config;

pub use common::*;
pub use nat_gateway::{NatGateway, NatGatewaySpec, NatGatewayStatus};
pub use provider_config::{ProviderConfig, ProviderConfigSpec, ProviderConfigStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD natop serves, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![ProviderConfig::crd(), NatGateway::crd()]
}
