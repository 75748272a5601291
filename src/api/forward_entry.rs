//! ForwardEntry: a DNAT entry of an Alibaba Cloud NAT gateway's forward table.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub use super::common::NatGatewayReference;
use super::common::{
    BandwidthPackageReference, CloudLocation, DeletionPolicy, ManagementPolicy,
    PROVIDER_CONFIG_IMMUTABLE, PROVIDER_CONFIG_IMMUTABLE_MESSAGE, PendingCreate,
    ProviderConfigReference, REGION_IMMUTABLE, REGION_IMMUTABLE_MESSAGE,
};
use super::validation::{IPV4_PATTERN, NAME_PATTERN, REGION_PATTERN};

/// Schema pattern of a DNAT port written as a string: `1`–`65535`, `first/last`,
/// or `Any` (the integer form has `minimum` and `maximum` instead).
const PORT_PATTERN: &str = r"^(Any|([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])(/([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?)$";

/// A DNAT port as the spec gives it: a YAML integer (`80`) or a string (`"80"`, a
/// range `"8000/8010"`, or `"Any"`). Its schema is `x-kubernetes-int-or-string`,
/// with `minimum`/`maximum` for the integer form and `pattern`/`maxLength` for
/// the string form (each applies to its own type only). natop uses it through
/// [`DnatPort::canonical`], the string the cloud shows, so `80` and `"80"` are the
/// same entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(transparent)]
pub struct DnatPort(pub IntOrString);

impl DnatPort {
    /// The port as the cloud writes it: `80`, `8000/8010` or `Any`, whichever form
    /// the spec used. A string the schema would refuse is kept as it is.
    pub fn canonical(&self) -> String {
        match &self.0 {
            IntOrString::Int(port) => port.to_string(),
            IntOrString::String(text) => canonical_port(text),
        }
    }
}

impl From<i32> for DnatPort {
    fn from(port: i32) -> Self {
        DnatPort(IntOrString::Int(port))
    }
}

impl From<&str> for DnatPort {
    fn from(port: &str) -> Self {
        DnatPort(IntOrString::String(port.to_string()))
    }
}

impl JsonSchema for DnatPort {
    fn schema_name() -> Cow<'static, str> {
        "DnatPort".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true,
            "minimum": 1,
            "maximum": 65535,
            "maxLength": 11,
            "pattern": PORT_PATTERN,
        })
    }
}

/// The canonical text of a string port: `Any` in that case, numbers without
/// leading zeros or blanks.
fn canonical_port(text: &str) -> String {
    let text = text.trim();
    if text.eq_ignore_ascii_case("any") {
        return "Any".to_string();
    }
    let number = |part: &str| part.trim().parse::<u16>().ok();
    let canonical = match text.split_once('/') {
        Some((first, last)) => number(first)
            .zip(number(last))
            .map(|(first, last)| format!("{first}/{last}")),
        None => number(text).map(|port| port.to_string()),
    };
    canonical.unwrap_or_else(|| text.to_string())
}

/// CEL rule of a port (integer or string): a range `first/last` has first <= last.
const PORT_RANGE_ORDERED: &str = "!string(self).contains('/') || int(string(self).split('/')[0]) <= int(string(self).split('/')[1])";
/// The message of [`PORT_RANGE_ORDERED`].
const PORT_RANGE_ORDERED_MESSAGE: &str = "a port range first/last needs first <= last";

/// The protocol a DNAT entry forwards.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum IpProtocol {
    /// TCP.
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// Every protocol and port (IP mapping): both ports must be `Any`.
    Any,
}

impl IpProtocol {
    /// The value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            IpProtocol::Tcp => "TCP",
            IpProtocol::Udp => "UDP",
            IpProtocol::Any => "Any",
        }
    }
}

/// The desired DNAT entry.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "A DNAT entry natop manages in the forward table of a NAT gateway: a public IP and port forwarded to a private IP and port.",
    group = "natop.dev",
    version = "v1alpha1",
    kind = "ForwardEntry",
    namespaced,
    status = "ForwardEntryStatus",
    shortname = "fwd",
    category = "natop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"ID","type":"string","jsonPath":".status.id"}"#,
    printcolumn = r#"{"name":"Protocol","type":"string","jsonPath":".spec.ipProtocol"}"#,
    printcolumn = r#"{"name":"External","type":"string","jsonPath":".status.externalIp"}"#,
    printcolumn = r#"{"name":"Ext Port","type":"string","jsonPath":".spec.externalPort"}"#,
    printcolumn = r#"{"name":"Internal","type":"string","jsonPath":".spec.internalIp"}"#,
    printcolumn = r#"{"name":"Int Port","type":"string","jsonPath":".spec.internalPort"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(PROVIDER_CONFIG_IMMUTABLE).message(PROVIDER_CONFIG_IMMUTABLE_MESSAGE),
    validation = Rule::new(REGION_IMMUTABLE).message(REGION_IMMUTABLE_MESSAGE),
    validation = Rule::new("has(self.natGatewayRef) != has(self.forwardTableId)")
        .message("set exactly one of natGatewayRef and forwardTableId"),
    validation = Rule::new("has(self.externalIp) != has(self.externalIpFrom)")
        .message("set exactly one of externalIp and externalIpFrom"),
    validation = Rule::new("(string(self.externalPort) == 'Any') == (self.ipProtocol == 'Any') && (string(self.internalPort) == 'Any') == (self.ipProtocol == 'Any')")
        .message("ipProtocol Any needs externalPort and internalPort Any, and port Any needs ipProtocol Any"),
    validation = Rule::new("(string(self.externalPort).contains('/') ? int(string(self.externalPort).split('/')[1]) - int(string(self.externalPort).split('/')[0]) : 0) == (string(self.internalPort).contains('/') ? int(string(self.internalPort).split('/')[1]) - int(string(self.internalPort).split('/')[0]) : 0)")
        .message("externalPort and internalPort must cover the same number of ports"),
    validation = Rule::new("has(self.natGatewayRef) == has(oldSelf.natGatewayRef) && has(self.forwardTableId) == has(oldSelf.forwardTableId)")
        .message("the gateway of an entry is immutable")
)]
pub struct ForwardEntrySpec {
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
    /// The NatGateway (same namespace) whose forward table holds the entry; the entry
    /// waits until that gateway is Ready. Exclusive with `forwardTableId`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("natGatewayRef is immutable"))]
    pub nat_gateway_ref: Option<NatGatewayReference>,
    /// Forward table (`ftb-…`) of a gateway natop does not manage. Exclusive with
    /// `natGatewayRef`. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^ftb-[a-z0-9]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("forwardTableId is immutable"))]
    pub forward_table_id: Option<String>,
    /// Public IPv4 address packets arrive at: an EIP bound to the gateway, or an IP of
    /// its NAT bandwidth package. Exclusive with `externalIpFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 15), regex(pattern = IPV4_PATTERN))]
    pub external_ip: Option<String>,
    /// Take the public IP from a BandwidthPackage object instead. Exclusive with
    /// `externalIp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip_from: Option<ExternalIpSource>,
    /// External port: an integer `1`–`65535` (`80`), or a string: a port (`"80"`), a
    /// range `"first/last"` (e.g. `"8000/8010"`), or `"Any"` with `ipProtocol` `Any`.
    #[x_kube(validation = Rule::new(PORT_RANGE_ORDERED).message(PORT_RANGE_ORDERED_MESSAGE))]
    pub external_port: DnatPort,
    /// Private IPv4 address in the VPC packets are forwarded to.
    #[schemars(length(max = 15), regex(pattern = IPV4_PATTERN))]
    pub internal_ip: String,
    /// Internal port: an integer `1`–`65535` (`8080`), or a string: a port, a range
    /// `"first/last"` covering as many ports as `externalPort`, or `"Any"` with
    /// `ipProtocol` `Any`.
    #[x_kube(validation = Rule::new(PORT_RANGE_ORDERED).message(PORT_RANGE_ORDERED_MESSAGE))]
    pub internal_port: DnatPort,
    /// Protocol: `TCP`, `UDP`, or `Any` (IP mapping: every protocol and port, with both
    /// ports `Any`).
    pub ip_protocol: IpProtocol,
    /// Name shown in the console: 2–128 characters, starting with a letter or a Chinese
    /// character; letters, digits, `.`, `_`, `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 128),
        regex(pattern = NAME_PATTERN)
    )]
    pub name: Option<String>,
    /// Allow external ports above 1024 on a public IP that SNAT entries also use.
    #[serde(default)]
    pub port_break: bool,
}

/// Where a DNAT entry's public IP comes from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalIpSource {
    /// The BandwidthPackage object (same namespace, Alibaba) holding the IP; the entry
    /// waits until it is Ready.
    pub bandwidth_package_ref: BandwidthPackageReference,
    /// Which IP of the package: the 0-based position in its `status.publicIpAddresses`.
    #[schemars(range(max = 49))]
    pub index: u32,
}

/// What the cloud says about the DNAT entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardEntryStatus {
    /// The entry id (`fwd-…`).
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
    /// The forward table (`ftb-…`) holding the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_table_id: Option<String>,
    /// The public IP in use (from `externalIp`, or resolved from `externalIpFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<String>,
    /// Cloud status: `Pending`, `Available` or `Deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The create in flight: recorded before natop sends it, cleared once its entry's
    /// id is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creating: Option<Box<PendingCreate<RequestedForwardEntry>>>,
}

/// A DNAT entry as natop asks the cloud to create it, references resolved.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestedForwardEntry {
    /// Public IP (resolved from `externalIpFrom` when the spec takes it from a package).
    pub external_ip: String,
    /// External port, range or `Any`, as the cloud writes it (`80`, `8000/8010`, `Any`)
    /// whether the spec gave an integer or a string.
    pub external_port: String,
    /// Private IP.
    pub internal_ip: String,
    /// Internal port, range or `Any`, as the cloud writes it.
    pub internal_port: String,
    /// Protocol: `TCP`, `UDP` or `Any`.
    #[serde(rename = "ipProtocol")]
    pub protocol: IpProtocol,
    /// Name, when the spec gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether external ports above 1024 may share a public IP with SNAT entries.
    #[serde(default)]
    pub port_break: bool,
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;
    use kube::core::cel::{validate_cel, validate_cel_update};
    use serde_json::json;

    use super::super::validation::{assert_refused, pattern_matcher};
    use super::*;

    fn spec(extra: serde_json::Value) -> ForwardEntrySpec {
        let mut value = json!({
            "natGatewayRef": {"name": "gw"},
            "externalIp": "47.1.2.3",
            "externalPort": "80",
            "internalIp": "192.168.0.10",
            "internalPort": "8080",
            "ipProtocol": "TCP",
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

    fn entry(extra: serde_json::Value) -> ForwardEntry {
        ForwardEntry::new("web", spec(extra))
    }

    fn from_package() -> serde_json::Value {
        json!({"externalIp": null, "externalIpFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 0}})
    }

    fn valid_specs() -> Vec<serde_json::Value> {
        vec![
            json!({}),
            json!({"externalPort": "8000/8010", "internalPort": "9000/9010", "ipProtocol": "UDP"}),
            json!({"externalPort": "65535", "internalPort": "1"}),
            json!({"externalPort": "Any", "internalPort": "Any", "ipProtocol": "Any"}),
            json!({"externalPort": "80/80", "internalPort": "80"}),
            json!({"natGatewayRef": null, "forwardTableId": "ftb-abc1"}),
            // Integers, as YAML users write them, alone or beside strings.
            json!({"externalPort": 80, "internalPort": 8080}),
            json!({"externalPort": 65535, "internalPort": "1"}),
            json!({"externalPort": "8000", "internalPort": 9000, "ipProtocol": "UDP"}),
            json!({"externalPort": "80/80", "internalPort": 80}),
            from_package(),
            json!({"name": "web-80", "portBreak": true, "region": "cn-hangzhou"}),
        ]
    }

    #[test]
    fn ip_protocol_uses_the_wire_names() {
        for (protocol, wire) in [
            (IpProtocol::Tcp, "TCP"),
            (IpProtocol::Udp, "UDP"),
            (IpProtocol::Any, "Any"),
        ] {
            assert_eq!(serde_json::to_value(protocol).unwrap(), json!(wire));
            assert_eq!(protocol.as_str(), wire);
        }
    }

    #[test]
    fn port_pattern_accepts_ports_ranges_and_any_only() {
        let pattern = pattern_matcher(PORT_PATTERN);
        for good in [
            "1", "80", "1024", "9999", "10000", "59999", "64999", "65499", "65529", "65535",
            "10/20", "1/65535", "Any",
        ] {
            assert!(pattern(good), "{good}");
        }
        for bad in [
            "0", "00", "080", "65536", "70000", "99999", "100000", "any", "ANY", "", "/", "10/",
            "/10", "0/10", "10/70000", "1/2/3", " 80", "80 ", "-1", "+80",
        ] {
            assert!(!pattern(bad), "{bad}");
        }
    }

    #[test]
    fn a_port_reads_and_writes_back_in_the_form_it_was_given() {
        for (given, expected) in [
            (json!(80), DnatPort::from(80)),
            (json!("80"), DnatPort::from("80")),
            (json!("8000/8010"), DnatPort::from("8000/8010")),
            (json!("Any"), DnatPort::from("Any")),
        ] {
            let port: DnatPort = serde_json::from_value(given.clone()).unwrap();
            assert_eq!(port, expected, "{given}");
            assert_eq!(serde_json::to_value(&port).unwrap(), given);
        }
        for refused in [json!(true), json!(1.5), json!(["80"]), json!(null)] {
            assert!(
                serde_json::from_value::<DnatPort>(refused.clone()).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_port_is_canonical_whichever_form_the_spec_used() {
        for (port, canonical) in [
            (DnatPort::from(80), "80"),
            (DnatPort::from("80"), "80"),
            (DnatPort::from(1), "1"),
            (DnatPort::from(65535), "65535"),
            (DnatPort::from("65535"), "65535"),
            (DnatPort::from("8000/8010"), "8000/8010"),
            (DnatPort::from("80/80"), "80/80"),
            (DnatPort::from("Any"), "Any"),
            // What the schema refuses, should it ever get through: tidied
            // where the meaning is plain, kept as it is otherwise.
            (DnatPort::from("any"), "Any"),
            (DnatPort::from("080"), "80"),
            (DnatPort::from(" 80 "), "80"),
            (DnatPort::from("08000/08010"), "8000/8010"),
            (DnatPort::from("http"), "http"),
            (DnatPort::from("10/"), "10/"),
        ] {
            assert_eq!(port.canonical(), canonical, "{port:?}");
        }
        // The two forms of one port are one spec for natop.
        let int = spec(json!({"externalPort": 80, "internalPort": 8080}));
        let text = spec(json!({}));
        assert_ne!(int.external_port, text.external_port);
        assert_eq!(
            int.external_port.canonical(),
            text.external_port.canonical()
        );
        assert_eq!(
            int.internal_port.canonical(),
            text.internal_port.canonical()
        );
    }

    #[test]
    fn port_schema_is_int_or_string_with_each_form_bounded() {
        let crd = serde_json::to_value(ForwardEntry::crd()).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        for field in ["externalPort", "internalPort"] {
            let schema = &spec["properties"][field];
            assert_eq!(schema["x-kubernetes-int-or-string"], json!(true), "{field}");
            // No `type`: the API server reads int-or-string as integer or string.
            assert!(schema.get("type").is_none(), "{field}: {schema}");
            assert!(schema.get("anyOf").is_none(), "{field}: {schema}");
            // The integer form's bounds, the string form's shape.
            assert_eq!(schema["minimum"], json!(1.0), "{field}");
            assert_eq!(schema["maximum"], json!(65535.0), "{field}");
            assert_eq!(schema["maxLength"], json!(11), "{field}");
            assert_eq!(schema["pattern"], json!(PORT_PATTERN), "{field}");
            assert!(
                schema["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("integer")),
                "{field}: {schema}"
            );
        }
        let required = spec["required"].as_array().unwrap();
        assert!(required.contains(&json!("externalPort")));
        assert!(required.contains(&json!("internalPort")));
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
        let one_gateway = "set exactly one of natGatewayRef and forwardTableId";
        let one_ip = "set exactly one of externalIp and externalIpFrom";
        let any = "ipProtocol Any needs externalPort and internalPort Any";
        let size = "must cover the same number of ports";
        for (extra, expected) in [
            (json!({"natGatewayRef": null}), one_gateway),
            (json!({"forwardTableId": "ftb-1"}), one_gateway),
            (json!({"externalIp": null}), one_ip),
            (
                json!({"externalIpFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 1}}),
                one_ip,
            ),
            (json!({"ipProtocol": "Any"}), any),
            (json!({"externalPort": "Any", "internalPort": "Any"}), any),
            (
                json!({"externalPort": "Any", "internalPort": "80", "ipProtocol": "Any"}),
                any,
            ),
            (
                json!({"externalPort": "80", "internalPort": "Any", "ipProtocol": "Any"}),
                any,
            ),
            (
                json!({"externalPort": "8000/8010", "internalPort": "80"}),
                size,
            ),
            (
                json!({"externalPort": "8000/8010", "internalPort": "9000/9011"}),
                size,
            ),
            (
                json!({"externalPort": "8010/8000", "internalPort": "9010/9000"}),
                "first <= last",
            ),
            // Integer ports meet the same rules.
            (json!({"externalPort": 80, "ipProtocol": "Any"}), any),
            (
                json!({"externalPort": 80, "internalPort": "Any", "ipProtocol": "Any"}),
                any,
            ),
            (
                json!({"externalPort": "8000/8010", "internalPort": 80}),
                size,
            ),
            (
                json!({"externalPort": 8000, "internalPort": "9000/9010"}),
                size,
            ),
        ] {
            assert_refused(
                validate_cel(&entry(extra.clone())),
                expected,
                &extra.to_string(),
            );
        }
    }

    #[test]
    fn cel_rules_let_ips_ports_protocol_and_name_change_but_not_the_gateway() {
        let old = entry(json!({}));
        for changed in [
            json!({"externalIp": "47.1.2.4", "internalIp": "192.168.0.11"}),
            json!({"externalPort": "81", "internalPort": "81", "ipProtocol": "UDP"}),
            json!({"externalPort": 81, "internalPort": 8081}),
            json!({"externalPort": "Any", "internalPort": "Any", "ipProtocol": "Any"}),
            json!({"name": "renamed", "portBreak": true}),
            from_package(),
        ] {
            assert!(
                validate_cel_update(&entry(changed.clone()), &old).is_ok(),
                "{changed}"
            );
        }
        for (changed, expected) in [
            (
                json!({"natGatewayRef": {"name": "other"}}),
                "natGatewayRef is immutable",
            ),
            (
                json!({"natGatewayRef": null, "forwardTableId": "ftb-1"}),
                "the gateway of an entry is immutable",
            ),
        ] {
            assert_refused(
                validate_cel_update(&entry(changed.clone()), &old),
                expected,
                &changed.to_string(),
            );
        }
        let by_table = entry(json!({"natGatewayRef": null, "forwardTableId": "ftb-1"}));
        let other_table = entry(json!({"natGatewayRef": null, "forwardTableId": "ftb-2"}));
        assert_refused(
            validate_cel_update(&other_table, &by_table),
            "forwardTableId is immutable",
            "another table",
        );
    }

    #[test]
    fn cel_rules_keep_the_region_and_provider_config_once_set() {
        crate::api::location_rules_hold(entry);
    }
}
