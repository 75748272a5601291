//! SnatEntry: an SNAT entry of an Alibaba Cloud NAT gateway's SNAT table.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    BandwidthPackageReference, CloudLocation, DeletionPolicy, ManagementPolicy,
    NatGatewayReference, PROVIDER_CONFIG_IMMUTABLE, PROVIDER_CONFIG_IMMUTABLE_MESSAGE,
    PendingCreate, ProviderConfigReference, REGION_IMMUTABLE, REGION_IMMUTABLE_MESSAGE,
};
use super::validation::{CIDR_PATTERN, IPV4_PATTERN, NAME_PATTERN, REGION_PATTERN};

/// At most this many public IPs in one SNAT entry.
pub const MAX_SNAT_IPS: usize = 64;

/// The desired SNAT entry.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "An SNAT entry natop manages in the SNAT table of a NAT gateway: a source (vSwitch or CIDR block) sent out through public IPs.",
    group = "natop.dev",
    version = "v1alpha1",
    kind = "SnatEntry",
    namespaced,
    status = "SnatEntryStatus",
    shortname = "snat",
    category = "natop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.id"}"#,
    printcolumn = r#"{"name":"SNAT IPs","type":"string","jsonPath":".status.snatIps"}"#,
    printcolumn = r#"{"name":"VSwitch","type":"string","jsonPath":".spec.sourceVSwitchId"}"#,
    printcolumn = r#"{"name":"CIDR","type":"string","jsonPath":".spec.sourceCIDR"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(PROVIDER_CONFIG_IMMUTABLE).message(PROVIDER_CONFIG_IMMUTABLE_MESSAGE),
    validation = Rule::new(REGION_IMMUTABLE).message(REGION_IMMUTABLE_MESSAGE),
    validation = Rule::new("has(self.natGatewayRef) != has(self.snatTableId)")
        .message("set exactly one of natGatewayRef and snatTableId"),
    validation = Rule::new("has(self.snatIps) != has(self.snatIpsFrom)")
        .message("set exactly one of snatIps and snatIpsFrom"),
    validation = Rule::new("has(self.sourceVSwitchId) != has(self.sourceCIDR)")
        .message("set exactly one of sourceVSwitchId and sourceCIDR"),
    validation = Rule::new("has(self.natGatewayRef) == has(oldSelf.natGatewayRef) && has(self.snatTableId) == has(oldSelf.snatTableId)")
        .message("the gateway of an entry is immutable"),
    validation = Rule::new("has(self.sourceVSwitchId) == has(oldSelf.sourceVSwitchId) && has(self.sourceCIDR) == has(oldSelf.sourceCIDR)")
        .message("the source of an entry is immutable")
)]
pub struct SnatEntrySpec {
    /// The ProviderConfig to use with a table id (default `default`); it must
    /// be an Alibaba one. With `natGatewayRef` the entry uses the gateway's
    /// ProviderConfig and region, whatever this says.
    /// Immutable: the cloud resource stays in the account it was made in.
    #[serde(default)]
    pub provider_config_ref: ProviderConfigReference,
    /// Region, when not the ProviderConfig's. Immutable once set: the cloud
    /// resource stays in the region it was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = REGION_PATTERN))]
    pub region: Option<String>,
    /// `Delete` (default) deletes the entry with the object; `Orphan` leaves it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `Manage` (default) creates and updates the entry; `Observe` only reports it.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// The NatGateway (same namespace) whose SNAT table holds the entry; the entry
    /// waits until that gateway is Ready. Exclusive with `snatTableId`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("natGatewayRef is immutable"))]
    pub nat_gateway_ref: Option<NatGatewayReference>,
    /// SNAT table (`stb-…`) of a gateway natop does not manage. Exclusive with
    /// `natGatewayRef`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^stb-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("snatTableId is immutable"))]
    pub snat_table_id: Option<String>,
    /// Public IPv4 addresses traffic leaves from (an SNAT IP pool when more than one),
    /// each an EIP bound to the gateway or an IP of its NAT bandwidth package; no
    /// duplicates, at most 64. Exclusive with `snatIpsFrom`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(min = 1, max = 64),
        inner(length(max = 15), regex(pattern = IPV4_PATTERN)),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub snat_ips: Vec<String>,
    /// Take the public IPs from a BandwidthPackage object instead. Exclusive with
    /// `snatIps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_ips_from: Option<SnatIpsSource>,
    /// vSwitch (`vsw-…`) whose instances use the entry. Exclusive with `sourceCIDR`.
    /// Immutable.
    #[serde(
        default,
        rename = "sourceVSwitchId",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(regex(pattern = r"^vsw-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sourceVSwitchId is immutable"))]
    pub source_vswitch_id: Option<String>,
    /// IPv4 CIDR block whose instances use the entry (a vSwitch block, part of one, or an
    /// instance's `/32`), with the host bits zero. Exclusive with `sourceVSwitchId`.
    /// Immutable.
    #[serde(
        default,
        rename = "sourceCIDR",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 18), regex(pattern = CIDR_PATTERN))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sourceCIDR is immutable"))]
    pub source_cidr: Option<String>,
    /// Name shown in the console: 2–128 characters, starting with a letter or a Chinese
    /// character; letters, digits, `.`, `_`, `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 128),
        regex(pattern = NAME_PATTERN)
    )]
    pub name: Option<String>,
    /// Keep each client on the same public IP of the pool (EIP affinity); useful with
    /// more than one SNAT IP.
    #[serde(default)]
    pub eip_affinity: bool,
}

/// Where an SNAT entry's public IPs come from.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.index) != (has(self.all) && self.all)")
        .message("set exactly one of index and all: true")
)]
pub struct SnatIpsSource {
    /// The BandwidthPackage object (same namespace, Alibaba) holding the IPs; the entry
    /// waits until it is Ready.
    pub bandwidth_package_ref: BandwidthPackageReference,
    /// One IP of the package: the 0-based position in its `status.publicIpAddresses`.
    /// Exclusive with `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 49))]
    pub index: Option<u32>,
    /// Every IP of the package, as an SNAT IP pool. Exclusive with `index`.
    #[serde(default)]
    pub all: bool,
}

/// What the cloud says about the SNAT entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnatEntryStatus {
    /// The entry id (`snat-…`).
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
    /// The NAT gateway (`ngw-…`) whose table holds the entry. When the table
    /// is gone, natop reads this gateway before it concludes the entry went with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    /// The SNAT table (`stb-…`) holding the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_table_id: Option<String>,
    /// The public IPs in use, comma-separated as the cloud reports them (from
    /// `snatIps`, or resolved from `snatIpsFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_ips: Option<String>,
    /// Cloud status: `Pending`, `Available` or `Deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The create in flight: recorded before natop sends it, cleared once its entry's
    /// id is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<Box<PendingCreate<RequestedSnatEntry>>>,
}

/// An SNAT entry as natop asks the cloud to create it, references resolved.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestedSnatEntry {
    /// The public IPs, sorted.
    #[serde(rename = "snatIps")]
    pub ips: Vec<String>,
    /// The source vSwitch (exclusive with `sourceCIDR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "sourceVSwitchId")]
    pub source_vswitch_id: Option<String>,
    /// The source CIDR block (exclusive with `sourceVSwitchId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "sourceCIDR")]
    pub source_cidr: Option<String>,
    /// Name, when the spec gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// EIP affinity.
    #[serde(default)]
    pub eip_affinity: bool,
}

impl SnatEntrySpec {
    /// `snatIps` as the wire's `SnatIp` takes them: joined with commas.
    pub fn snat_ip_list(&self) -> String {
        self.snat_ips.join(",")
    }
}

// ---------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------

/// What the CRD cannot say about a spec (its schema and CEL rules, enforced by
/// the API server, say the rest): `spec.sourceCIDR` must have its host bits
/// clear, which the cloud requires. `Err(message)` says what to change.
pub fn validate(spec: &SnatEntrySpec) -> Result<(), String> {
    match spec.source_cidr.as_deref().and_then(host_bits_problem) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// A CIDR block the schema accepts whose host bits are set.
fn host_bits_problem(cidr: &str) -> Option<String> {
    let net: ipnet::Ipv4Net = cidr.parse().ok()?;
    (net.trunc() != net).then(|| {
        format!(
            "spec.sourceCIDR is \"{cidr}\": its host bits are set; use {}",
            net.trunc()
        )
    })
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;
    use kube::core::cel::{validate_cel, validate_cel_update};
    use serde_json::json;

    use super::super::validation::assert_refused;
    use super::*;

    fn spec(extra: serde_json::Value) -> SnatEntrySpec {
        let mut value = json!({
            "natGatewayRef": {"name": "gw"},
            "snatIps": ["47.1.2.3"],
            "sourceVSwitchId": "vsw-1",
        });
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            for (key, field) in extra {
                if field.is_null() {
                    base.remove(key);
                } else {
                    base.insert(key.clone(), field.clone());
                }
            }
        }
        serde_json::from_value(value).unwrap()
    }

    fn entry(extra: serde_json::Value) -> SnatEntry {
        SnatEntry::new("out", spec(extra))
    }

    fn valid_specs() -> Vec<serde_json::Value> {
        vec![
            json!({}),
            json!({"snatIps": ["47.1.2.3", "47.1.2.4"], "eipAffinity": true}),
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.1.0/24"}),
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.1.7/32"}),
            json!({"natGatewayRef": null, "snatTableId": "stb-abc1"}),
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 3}}),
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "all": true}}),
            json!({"name": "out-1", "region": "cn-hangzhou"}),
        ]
    }

    #[test]
    fn snat_ips_join_with_commas_on_the_wire() {
        let spec = spec(json!({"snatIps": ["47.1.2.3", "47.1.2.4"]}));
        assert_eq!(spec.snat_ip_list(), "47.1.2.3,47.1.2.4");
    }

    #[test]
    fn snat_ips_are_a_set_of_at_most_64_ipv4_addresses() {
        let crd = serde_json::to_value(SnatEntry::crd()).unwrap();
        let ips = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["snatIps"];
        assert_eq!(ips["x-kubernetes-list-type"], "set");
        assert_eq!(
            (ips["minItems"].as_u64(), ips["maxItems"].as_u64()),
            (Some(1), Some(64))
        );
        assert_eq!(ips["items"]["pattern"], IPV4_PATTERN);
    }

    // --- CEL -----------------------------------------------------------------

    #[test]
    fn cel_rules_accept_valid_specs() {
        for extra in valid_specs() {
            assert!(validate_cel(&entry(extra.clone())).is_ok(), "{extra}");
        }
    }

    #[test]
    fn cel_rules_refuse_inconsistent_specs() {
        let one_gateway = "set exactly one of natGatewayRef and snatTableId";
        let one_ips = "set exactly one of snatIps and snatIpsFrom";
        let one_source = "set exactly one of sourceVSwitchId and sourceCIDR";
        let index_or_all = "set exactly one of index and all: true";
        let bwp = json!({"name": "bwp"});
        for (extra, expected) in [
            (json!({"natGatewayRef": null}), one_gateway),
            (json!({"snatTableId": "stb-1"}), one_gateway),
            (json!({"snatIps": null}), one_ips),
            (
                json!({"snatIpsFrom": {"bandwidthPackageRef": bwp, "all": true}}),
                one_ips,
            ),
            (
                json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": bwp}}),
                index_or_all,
            ),
            (
                json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": bwp, "all": false}}),
                index_or_all,
            ),
            (
                json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": bwp, "index": 0, "all": true}}),
                index_or_all,
            ),
            (json!({"sourceVSwitchId": null}), one_source),
            (json!({"sourceCIDR": "192.168.1.0/24"}), one_source),
        ] {
            assert_refused(
                validate_cel(&entry(extra.clone())),
                expected,
                &extra.to_string(),
            );
        }
    }

    #[test]
    fn cel_rules_let_ips_name_and_affinity_change_but_not_the_source_or_gateway() {
        let old = entry(json!({}));
        for changed in [
            json!({"snatIps": ["47.1.2.4", "47.1.2.5"]}),
            json!({"name": "renamed", "eipAffinity": true}),
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "all": true}}),
        ] {
            assert!(
                validate_cel_update(&entry(changed.clone()), &old).is_ok(),
                "{changed}"
            );
        }
        for (changed, expected) in [
            (
                json!({"sourceVSwitchId": "vsw-2"}),
                "sourceVSwitchId is immutable",
            ),
            (
                json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.1.0/24"}),
                "the source of an entry is immutable",
            ),
            (
                json!({"natGatewayRef": {"name": "other"}}),
                "natGatewayRef is immutable",
            ),
            (
                json!({"natGatewayRef": null, "snatTableId": "stb-1"}),
                "the gateway of an entry is immutable",
            ),
        ] {
            assert_refused(
                validate_cel_update(&entry(changed.clone()), &old),
                expected,
                &changed.to_string(),
            );
        }
        let by_cidr = entry(json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.1.0/24"}));
        let other_cidr = entry(json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.2.0/24"}));
        assert_refused(
            validate_cel_update(&other_cidr, &by_cidr),
            "sourceCIDR is immutable",
            "another CIDR",
        );
    }

    // --- validate ------------------------------------------------------------

    #[test]
    fn validate_checks_only_the_host_bits_of_the_source_cidr() {
        for extra in valid_specs() {
            assert_eq!(validate(&spec(extra.clone())), Ok(()), "{extra}");
        }
        for (cidr, expected) in [
            ("192.168.1.0/24", None),
            ("0.0.0.0/0", None),
            ("192.168.1.7/32", None),
            ("192.168.1.1/24", Some("use 192.168.1.0/24")),
            ("10.1.2.3/8", Some("use 10.0.0.0/8")),
        ] {
            let result = validate(&spec(json!({"sourceVSwitchId": null, "sourceCIDR": cidr})));
            match expected {
                None => assert_eq!(result, Ok(()), "{cidr}"),
                Some(expected) => {
                    let message = result.expect_err(cidr);
                    assert!(
                        message.contains("host bits are set") && message.contains(expected),
                        "{message}"
                    );
                }
            }
        }
    }

    #[test]
    fn cel_rules_keep_the_region_and_provider_config_once_set() {
        crate::api::location_rules_hold(entry);
    }
}
