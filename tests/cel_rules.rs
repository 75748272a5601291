//! Every CEL rule (`x-kubernetes-validations`) of every natop CRD, checked by
//! the real API server: an object that breaks the rule is refused with that
//! rule's own message at that rule's field, and an object that keeps it is
//! accepted. Rules without `oldSelf` are checked on create; transition rules
//! (with `oldSelf`) on update, including optional fields that appear or
//! disappear. A rule of a CRD without a case here fails the test, and so does
//! a case whose rule is gone from its CRD (the refusal no longer comes).

use std::collections::BTreeSet;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, CustomResourceExt};
use serde_json::{Value, json};

use crate::support::cluster::{TestNamespace, client, install_crd};
use natop::api::{BandwidthPackage, ForwardEntry, Ipv6InternetBandwidth, NatGateway, SnatEntry};

/// One rule: the CRD's plural, the field the rule sits on, its message, and
/// spec patches (JSON merge patches; `null` removes). Without `before`, the
/// base spec patched with `bad` is created (refused) and with `good`
/// (accepted). With `before`, the base patched with `before` is created,
/// then replaced by it patched with `bad` (refused) and `good` (accepted).
/// A `bad` that is null or equal to `good` is a change the rule allows.
struct Case {
    plural: &'static str,
    path: &'static str,
    message: &'static str,
    before: Option<Value>,
    bad: Value,
    good: Value,
}

fn case(plural: &'static str, path: &'static str, message: &'static str) -> CaseBuilder {
    CaseBuilder(Case {
        plural,
        path,
        message,
        before: None,
        bad: Value::Null,
        good: json!({}),
    })
}

struct CaseBuilder(Case);

impl CaseBuilder {
    fn create(mut self, bad: Value, good: Value) -> Case {
        self.0.bad = bad;
        self.0.good = good;
        self.0
    }
    fn update(mut self, before: Value, bad: Value, good: Value) -> Case {
        self.0.before = Some(before);
        self.0.bad = bad;
        self.0.good = good;
        self.0
    }
}

const PC_IMMUTABLE: &str = "providerConfigRef is immutable: the cloud resource stays in the account it was made in; create a new object to use another ProviderConfig";
const REGION_IMMUTABLE: &str = "region is immutable once set: the cloud resource stays in the region it was made in; create a new object for another region";
const KINDS: [&str; 5] = [
    "natgateways",
    "forwardentries",
    "snatentries",
    "bandwidthpackages",
    "ipv6internetbandwidths",
];

fn base(plural: &str) -> Value {
    match plural {
        // Normal explicitly: most rules are about fields of any type; the
        // default type, Enhanced, needs a vSwitch (a case of its own).
        "natgateways" => json!({"vpcId": "vpc-a", "natType": "Normal"}),
        "forwardentries" => json!({
            "natGatewayRef": {"name": "gw"}, "externalIp": "47.1.2.3", "externalPort": "80",
            "internalIp": "192.168.0.10", "internalPort": "8080", "ipProtocol": "TCP",
        }),
        "snatentries" => json!({
            "natGatewayRef": {"name": "gw"}, "snatIps": ["47.1.2.3"], "sourceVSwitchId": "vsw-1",
        }),
        "bandwidthpackages" => {
            json!({"alibaba": {"natGatewayRef": {"name": "gw"}, "bandwidth": 10, "ipCount": 2}})
        }
        "ipv6internetbandwidths" => json!({
            "ipv6AddressId": "ipv6-hz01", "ipv6GatewayId": "ipv6gw-hz1", "bandwidth": 10,
        }),
        other => panic!("no base spec for {other}"),
    }
}

/// A spec change every kind allows, to show an update keeping a rule passes.
fn touch(plural: &str) -> Value {
    match plural {
        "natgateways" => json!({"description": "touched"}),
        "forwardentries" | "snatentries" => json!({"name": "touched"}),
        "bandwidthpackages" => json!({"alibaba": {"bandwidth": 20}}),
        "ipv6internetbandwidths" => json!({"bandwidth": 20}),
        other => panic!("no touch for {other}"),
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // The location rules, on every managed kind: a ProviderConfig or region
    // once set stays; a region may appear where none was set.
    for plural in KINDS {
        cases.push(case(plural, "spec", PC_IMMUTABLE).update(
            json!({"providerConfigRef": {"name": "team-a"}}),
            json!({"providerConfigRef": {"name": "team-b"}}),
            touch(plural),
        ));
        cases.push(case(plural, "spec", REGION_IMMUTABLE).update(
            json!({"region": "cn-hangzhou"}),
            json!({"region": "cn-beijing"}),
            touch(plural),
        ));
        cases.push(case(plural, "spec", REGION_IMMUTABLE).update(
            json!({"region": "cn-hangzhou"}),
            json!({"region": null}),
            touch(plural),
        ));
        cases.push(case(plural, "spec", REGION_IMMUTABLE).update(
            json!({}),
            json!({"region": "cn-hangzhou"}),
            json!({"region": "cn-hangzhou"}),
        ));
    }
    // natgateways
    let ng = "natgateways";
    cases.extend([
        case(ng, "spec", "an Enhanced gateway (natType's default) needs vSwitchId").create(
            json!({"natType": "Enhanced"}),
            json!({"natType": "Enhanced", "vSwitchId": "vsw-a"}),
        ),
        case(ng, "spec", "an Enhanced gateway (natType's default) needs vSwitchId").create(
            json!({"natType": null}),
            json!({"natType": null, "vSwitchId": "vsw-a"}),
        ),
        case(ng, "spec", "a gateway billed by capacity units (PayByLcu) has no size: remove specification").create(
            json!({"natType": "Enhanced", "vSwitchId": "vsw-a", "internetChargeType": "PayByLcu", "specification": "Large"}),
            json!({"natType": "Enhanced", "vSwitchId": "vsw-a", "specification": "Large"}),
        ),
        case(ng, "spec", "an intranet (VPC) NAT gateway is Enhanced").create(
            json!({"networkType": "intranet"}),
            json!({"networkType": "intranet", "natType": "Enhanced", "vSwitchId": "vsw-a"}),
        ),
        case(ng, "spec", "an intranet (VPC) NAT gateway binds no EIPs: remove eipAllocationIds").create(
            json!({"networkType": "intranet", "natType": "Enhanced", "vSwitchId": "vsw-a", "eipAllocationIds": ["eip-a"]}),
            json!({"networkType": "internet", "natType": "Enhanced", "vSwitchId": "vsw-a", "eipAllocationIds": ["eip-a"]}),
        ),
        case(ng, "spec.networkType", "networkType is immutable").update(
            json!({"natType": "Enhanced", "vSwitchId": "vsw-a"}),
            json!({"networkType": "intranet"}),
            touch(ng),
        ),
        case(ng, "spec", "a PrePaid gateway needs pricingCycle and duration").create(
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month"}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
        ),
        case(ng, "spec", "a yearly subscription lasts 1 to 3 years").create(
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Year", "duration": 4}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Year", "duration": 3}),
        ),
        case(ng, "spec", "PayByLcu needs an Enhanced gateway").create(
            json!({"internetChargeType": "PayByLcu"}),
            json!({"internetChargeType": "PayByLcu", "natType": "Enhanced", "vSwitchId": "vsw-a"}),
        ),
        case(ng, "spec.tags", "tag keys starting with natop.dev/ are natop's own (owner id, kind, object): choose another key").create(
            json!({"tags": {"natop.dev/owner": "x"}}),
            json!({"tags": {"natop.dev-team": "x"}}),
        ),
        case(ng, "spec.tags", "tag keys starting with aliyun or acs: are reserved by the cloud").create(
            json!({"tags": {"acs:team": "x"}}),
            json!({"tags": {"team-acs:": "x"}}),
        ),
        case(ng, "spec.tags", "tag keys are 1-128 characters and values at most 128").create(
            json!({"tags": {"team": "x".repeat(129)}}),
            json!({"tags": {"team": "x".repeat(128)}}),
        ),
        case(ng, "spec.description", "description must not start with http:// or https://").create(
            json!({"description": "http://example"}),
            json!({"description": "example http://"}),
        ),
        case(ng, "spec", "vSwitchId is immutable").update(
            json!({}),
            json!({"vSwitchId": "vsw-a"}),
            touch(ng),
        ),
        case(ng, "spec", "vSwitchId is immutable").update(
            json!({"vSwitchId": "vsw-a"}),
            json!({"vSwitchId": null}),
            touch(ng),
        ),
        case(ng, "spec.vSwitchId", "vSwitchId is immutable").update(
            json!({"vSwitchId": "vsw-a"}),
            json!({"vSwitchId": "vsw-b"}),
            touch(ng),
        ),
        case(ng, "spec", "charge settings are immutable").update(
            json!({}),
            json!({"autoPay": true}),
            touch(ng),
        ),
        case(ng, "spec.autoPay", "autoPay is immutable").update(
            json!({"autoPay": true}),
            json!({"autoPay": false}),
            touch(ng),
        ),
        case(ng, "spec.duration", "duration is immutable").update(
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 2}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1, "description": "touched"}),
        ),
        case(ng, "spec.pricingCycle", "pricingCycle is immutable").update(
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Year", "duration": 1}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1, "description": "touched"}),
        ),
        case(ng, "spec.instanceChargeType", "instanceChargeType is immutable").update(
            json!({"instanceChargeType": "PostPaid", "pricingCycle": "Month", "duration": 1}),
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
            json!({"instanceChargeType": "PostPaid", "pricingCycle": "Month", "duration": 1, "description": "touched"}),
        ),
        case(ng, "spec.internetChargeType", "internetChargeType is immutable").update(
            json!({"internetChargeType": "PayBySpec"}),
            json!({"internetChargeType": "PayByLcu", "natType": "Enhanced", "vSwitchId": "vsw-a"}),
            json!({"internetChargeType": "PayBySpec", "description": "touched"}),
        ),
        case(ng, "spec.natType", "an Enhanced gateway cannot become Normal").update(
            json!({"natType": "Enhanced", "vSwitchId": "vsw-a"}),
            json!({"natType": "Normal"}),
            json!({"description": "touched"}),
        ),
        case(ng, "spec.vpcId", "vpcId is immutable").update(
            json!({}),
            json!({"vpcId": "vpc-b"}),
            touch(ng),
        ),
    ]);
    // An upgrade Normal -> Enhanced is allowed by the natType rule (the
    // vSwitch, immutable, was set from the start).
    cases.push(
        case(
            ng,
            "spec.natType",
            "an Enhanced gateway cannot become Normal",
        )
        .update(
            json!({"vSwitchId": "vsw-a"}),
            json!({"natType": "Enhanced"}),
            json!({"natType": "Enhanced"}),
        ),
    );
    // forwardentries
    let fe = "forwardentries";
    let from_package = json!({"externalIp": null, "externalIpFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 0}});
    cases.extend([
        case(fe, "spec", "set exactly one of natGatewayRef and forwardTableId").create(
            json!({"forwardTableId": "ftb-a"}),
            json!({"natGatewayRef": null, "forwardTableId": "ftb-a"}),
        ),
        case(fe, "spec", "set exactly one of externalIp and externalIpFrom").create(
            json!({"externalIp": null}),
            from_package.clone(),
        ),
        case(fe, "spec", "ipProtocol Any needs externalPort and internalPort Any, and port Any needs ipProtocol Any").create(
            json!({"ipProtocol": "Any"}),
            json!({"ipProtocol": "Any", "externalPort": "Any", "internalPort": "Any"}),
        ),
        case(fe, "spec", "externalPort and internalPort must cover the same number of ports").create(
            json!({"externalPort": "8000/8010", "internalPort": "9000/9009"}),
            json!({"externalPort": "8000/8010", "internalPort": "9000/9010"}),
        ),
        case(fe, "spec", "the gateway of an entry is immutable").update(
            json!({}),
            json!({"natGatewayRef": null, "forwardTableId": "ftb-a"}),
            touch(fe),
        ),
        case(fe, "spec.externalPort", "a port range first/last needs first <= last").create(
            json!({"externalPort": "8010/8000", "internalPort": "9010/9000"}),
            json!({"externalPort": "8000/8010", "internalPort": "9000/9010"}),
        ),
        case(fe, "spec.internalPort", "a port range first/last needs first <= last").create(
            json!({"externalPort": "8000/8010", "internalPort": "9010/9000"}),
            json!({"externalPort": "8000/8010", "internalPort": "9000/9010"}),
        ),
        case(fe, "spec.forwardTableId", "forwardTableId is immutable").update(
            json!({"natGatewayRef": null, "forwardTableId": "ftb-a"}),
            json!({"natGatewayRef": null, "forwardTableId": "ftb-b"}),
            json!({"natGatewayRef": null, "forwardTableId": "ftb-a", "name": "touched"}),
        ),
        case(fe, "spec.natGatewayRef", "natGatewayRef is immutable").update(
            json!({}),
            json!({"natGatewayRef": {"name": "other"}}),
            touch(fe),
        ),
    ]);
    // snatentries
    let se = "snatentries";
    cases.extend([
        case(se, "spec", "set exactly one of natGatewayRef and snatTableId").create(
            json!({"snatTableId": "stb-a"}),
            json!({"natGatewayRef": null, "snatTableId": "stb-a"}),
        ),
        case(se, "spec", "set exactly one of snatIps and snatIpsFrom").create(
            json!({"snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "all": true}}),
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "all": true}}),
        ),
        case(se, "spec", "set exactly one of sourceVSwitchId and sourceCIDR").create(
            json!({"sourceCIDR": "192.168.0.0/24"}),
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.0.0/24"}),
        ),
        case(se, "spec", "the gateway of an entry is immutable").update(
            json!({}),
            json!({"natGatewayRef": null, "snatTableId": "stb-a"}),
            touch(se),
        ),
        case(se, "spec", "the source of an entry is immutable").update(
            json!({}),
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.0.0/24"}),
            touch(se),
        ),
        case(se, "spec.natGatewayRef", "natGatewayRef is immutable").update(
            json!({}),
            json!({"natGatewayRef": {"name": "other"}}),
            touch(se),
        ),
        case(se, "spec.snatIpsFrom", "set exactly one of index and all: true").create(
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 0, "all": true}}),
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 0}}),
        ),
        case(se, "spec.snatTableId", "snatTableId is immutable").update(
            json!({"natGatewayRef": null, "snatTableId": "stb-a"}),
            json!({"natGatewayRef": null, "snatTableId": "stb-b"}),
            json!({"natGatewayRef": null, "snatTableId": "stb-a", "name": "touched"}),
        ),
        case(se, "spec.sourceCIDR", "sourceCIDR is immutable").update(
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.0.0/24"}),
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.1.0/24"}),
            json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.0.0/24", "name": "touched"}),
        ),
        case(se, "spec.sourceVSwitchId", "sourceVSwitchId is immutable").update(
            json!({}),
            json!({"sourceVSwitchId": "vsw-2"}),
            touch(se),
        ),
    ]);
    // bandwidthpackages
    let bp = "bandwidthpackages";
    let ucloud = json!({"alibaba": null, "ucloud": {"eipId": "eip-bj2-01", "bandwidth": 20, "timeRange": 2}});
    cases.extend([
        case(bp, "spec", "set exactly one of alibaba (an Alibaba NAT bandwidth package) and ucloud (a UCloud temporary bandwidth package)").create(
            json!({"ucloud": {"eipId": "eip-bj2-01", "bandwidth": 20, "timeRange": 2}}),
            ucloud.clone(),
        ),
        case(bp, "spec", "the cloud of a package is immutable").update(
            json!({}),
            ucloud.clone(),
            touch(bp),
        ),
        case(bp, "spec.alibaba", "set exactly one of natGatewayRef and natGatewayId").create(
            json!({"alibaba": {"natGatewayId": "ngw-a"}}),
            json!({"alibaba": {"natGatewayRef": null, "natGatewayId": "ngw-a"}}),
        ),
        case(bp, "spec.alibaba", "the gateway of a package is immutable").update(
            json!({}),
            json!({"alibaba": {"natGatewayRef": null, "natGatewayId": "ngw-a"}}),
            touch(bp),
        ),
        case(bp, "spec.alibaba", "zone is immutable").update(
            json!({}),
            json!({"alibaba": {"zone": "cn-hangzhou-b"}}),
            touch(bp),
        ),
        case(bp, "spec.alibaba.zone", "zone is immutable").update(
            json!({"alibaba": {"zone": "cn-hangzhou-b"}}),
            json!({"alibaba": {"zone": "cn-hangzhou-c"}}),
            touch(bp),
        ),
        case(bp, "spec.alibaba.convertToCommonBandwidth", "a converted package cannot be unconverted: convertToCommonBandwidth stays true").update(
            json!({"alibaba": {"convertToCommonBandwidth": true}}),
            json!({"alibaba": {"convertToCommonBandwidth": false}}),
            touch(bp),
        ),
        case(bp, "spec.alibaba.description", "description must not start with http:// or https://").create(
            json!({"alibaba": {"description": "https://example"}}),
            json!({"alibaba": {"description": "example"}}),
        ),
        case(bp, "spec.alibaba.internetChargeType", "internetChargeType is immutable").update(
            json!({}),
            json!({"alibaba": {"internetChargeType": "PayByBandwidth"}}),
            touch(bp),
        ),
        case(bp, "spec.alibaba.natGatewayId", "natGatewayId is immutable").update(
            json!({"alibaba": {"natGatewayRef": null, "natGatewayId": "ngw-a"}}),
            json!({"alibaba": {"natGatewayId": "ngw-b"}}),
            touch(bp),
        ),
        case(bp, "spec.alibaba.natGatewayRef", "natGatewayRef is immutable").update(
            json!({}),
            json!({"alibaba": {"natGatewayRef": {"name": "other"}}}),
            touch(bp),
        ),
        case(bp, "spec.ucloud", "a UCloud bandwidth package is immutable: create a new one").update(
            ucloud.clone(),
            json!({"ucloud": {"bandwidth": 30}}),
            json!({"deletionPolicy": "Orphan"}),
        ),
    ]);
    // isp has one allowed value, so its rule can only be kept.
    cases.push(case(bp, "spec.alibaba.isp", "isp is immutable").update(
        json!({}),
        Value::Null,
        touch(bp),
    ));
    // ipv6internetbandwidths
    let v6 = "ipv6internetbandwidths";
    cases.extend([
        case(
            v6,
            "spec.internetChargeType",
            "internetChargeType is immutable",
        )
        .update(
            json!({}),
            json!({"internetChargeType": "PayByTraffic"}),
            touch(v6),
        ),
        case(v6, "spec.ipv6AddressId", "ipv6AddressId is immutable").update(
            json!({}),
            json!({"ipv6AddressId": "ipv6-hz02"}),
            touch(v6),
        ),
        case(v6, "spec.ipv6GatewayId", "ipv6GatewayId is immutable").update(
            json!({}),
            json!({"ipv6GatewayId": "ipv6gw-hz2"}),
            touch(v6),
        ),
    ]);
    cases
}

/// RFC 7386 merge patch: objects merge key by key, `null` removes.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn spec_of(plural: &str, patch: &Value) -> Value {
    let mut spec = base(plural);
    merge(&mut spec, patch);
    spec
}

/// Every rule of a CRD as (field path, message).
fn rules_of(schema: &Value, path: &str, out: &mut BTreeSet<(String, String)>) {
    if let Some(rules) = schema["x-kubernetes-validations"].as_array() {
        for rule in rules {
            let message = rule["message"].as_str().expect("every rule has a message");
            out.insert((path.to_string(), message.to_string()));
        }
    }
    if let Some(properties) = schema["properties"].as_object() {
        for (name, child) in properties {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            rules_of(child, &child_path, out);
        }
    }
    if schema["items"].is_object() {
        rules_of(&schema["items"], &format!("{path}[]"), out);
    }
}

struct Kind {
    api: Api<DynamicObject>,
    resource: ApiResource,
}

impl Kind {
    fn object(&self, name: &str, spec: Value) -> DynamicObject {
        let mut object = DynamicObject::new(name, &self.resource);
        object.data = json!({"spec": spec});
        object
    }
}

fn refusal(result: Result<DynamicObject, kube::Error>) -> Option<String> {
    match result {
        Ok(_) => None,
        Err(kube::Error::Api(e)) => Some(e.message),
        Err(other) => panic!("the API server did not answer: {other}"),
    }
}

async fn kinds(client: &Client, namespace: &str) -> Vec<(&'static str, Kind, Value)> {
    let crds = [
        NatGateway::crd(),
        ForwardEntry::crd(),
        SnatEntry::crd(),
        BandwidthPackage::crd(),
        Ipv6InternetBandwidth::crd(),
    ];
    let mut kinds = Vec::new();
    for (plural, crd) in KINDS.into_iter().zip(crds) {
        install_crd(client, &crd).await;
        assert_eq!(crd.spec.names.plural, plural);
        let version = &crd.spec.versions[0];
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&crd.spec.group, &version.name, &crd.spec.names.kind),
            plural,
        );
        let schema = serde_json::to_value(&version.schema).unwrap()["openAPIV3Schema"].clone();
        kinds.push((
            plural,
            Kind {
                api: Api::namespaced_with(client.clone(), namespace, &resource),
                resource,
            },
            schema,
        ));
    }
    kinds
}

#[tokio::test]
async fn every_cel_rule_is_enforced_by_the_api_server_with_its_message() {
    let client = client().await;
    let ns = TestNamespace::create(&client, "cel").await;
    let kinds = kinds(&client, &ns.name).await;
    let cases = cases();

    // Coverage: every rule of every CRD has a case, and every case a rule.
    let mut rules = BTreeSet::new();
    for (plural, _, schema) in &kinds {
        let mut of_kind = BTreeSet::new();
        rules_of(schema, "", &mut of_kind);
        rules.extend(of_kind.into_iter().map(|(p, m)| (plural.to_string(), p, m)));
    }
    let covered: BTreeSet<_> = cases
        .iter()
        .map(|c| {
            (
                c.plural.to_string(),
                c.path.to_string(),
                c.message.to_string(),
            )
        })
        .collect();
    let untested: Vec<_> = rules.difference(&covered).collect();
    assert!(untested.is_empty(), "rules without a case: {untested:#?}");
    let gone: Vec<_> = covered.difference(&rules).collect();
    assert!(
        gone.is_empty(),
        "cases whose rule is not in the CRD: {gone:#?}"
    );
    assert!(rules.len() >= 60, "the CRDs carry {} rules", rules.len());

    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let (_, kind, _) = kinds.iter().find(|(p, _, _)| *p == case.plural).unwrap();
        let what = format!("{} {}: {}", case.plural, case.path, case.message);
        let expected = format!("{}: Invalid value", case.path);
        let refused_by_rule = |message: &Option<String>| {
            message
                .as_deref()
                .is_some_and(|m| m.contains(&expected) && m.contains(case.message))
        };
        // Transition rules allow a change the `bad` spec makes when it is
        // the allowed direction (natType Normal -> Enhanced); `isp` has a
        // single value. Both are cases of "kept": `bad` equal to `good`, or
        // no `bad` at all.
        let keep_only = case.bad.is_null() || case.bad == case.good;
        let post = PostParams::default();
        match &case.before {
            None => {
                let bad = kind.object(&format!("bad-{n}"), spec_of(case.plural, &case.bad));
                let message = refusal(kind.api.create(&post, &bad).await);
                if !refused_by_rule(&message) {
                    failures.push(format!("{what}: create of a breaking object: {message:?}"));
                }
                let good = kind.object(&format!("good-{n}"), spec_of(case.plural, &case.good));
                if let Some(message) = refusal(kind.api.create(&post, &good).await) {
                    failures.push(format!(
                        "{what}: create of a keeping object refused: {message}"
                    ));
                }
            }
            Some(before) => {
                let name = format!("upd-{n}");
                let created = kind
                    .api
                    .create(&post, &kind.object(&name, spec_of(case.plural, before)))
                    .await;
                let created = match created {
                    Ok(created) => created,
                    Err(e) => {
                        failures.push(format!("{what}: the starting object was refused: {e}"));
                        continue;
                    }
                };
                let before = spec_of(case.plural, before);
                let then = |patch: &Value| {
                    let mut spec = before.clone();
                    merge(&mut spec, patch);
                    spec
                };
                let replace = |spec: Value| {
                    let mut object = kind.object(&name, spec);
                    object.metadata.resource_version = created.metadata.resource_version.clone();
                    object
                };
                if !keep_only {
                    let message = refusal(
                        kind.api
                            .replace(&name, &post, &replace(then(&case.bad)))
                            .await,
                    );
                    if !refused_by_rule(&message) {
                        failures.push(format!("{what}: update breaking it: {message:?}"));
                    }
                }
                let good = then(&case.good);
                if let Some(message) = refusal(kind.api.replace(&name, &post, &replace(good)).await)
                {
                    failures.push(format!("{what}: update keeping it refused: {message}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    ns.delete().await;
}

/// The DNAT ports take what Kubernetes users write: a YAML integer (`80`) as
/// well as a string (`"80"`, `"8000/8010"`, `"Any"`), and the API server keeps
/// the form it was given. Every check holds for both forms: the integer's
/// bounds, the string's pattern, the rules on ranges and on `Any`.
#[tokio::test]
async fn forward_entry_ports_are_integers_or_strings() {
    let client = client().await;
    let ns = TestNamespace::create(&client, "cel-ports").await;
    let crd = ForwardEntry::crd();
    install_crd(&client, &crd).await;
    let resource = ApiResource::erase::<ForwardEntry>(&());
    let kind = Kind {
        api: Api::namespaced_with(client.clone(), &ns.name, &resource),
        resource,
    };
    let typed: Api<ForwardEntry> = Api::namespaced(client.clone(), &ns.name);
    let post = PostParams::default();
    let fe = "forwardentries";
    let mut failures = Vec::new();

    // Accepted, and read back exactly as written (typed: the canonical port).
    for (n, (ports, external, internal)) in [
        (
            json!({"externalPort": 80, "internalPort": 8080}),
            "80",
            "8080",
        ),
        (
            json!({"externalPort": 1, "internalPort": 65535}),
            "1",
            "65535",
        ),
        (
            json!({"externalPort": "80", "internalPort": 8080}),
            "80",
            "8080",
        ),
        (
            json!({"externalPort": "8000/8010", "internalPort": "9000/9010", "ipProtocol": "UDP"}),
            "8000/8010",
            "9000/9010",
        ),
        (
            json!({"externalPort": "80/80", "internalPort": 80}),
            "80/80",
            "80",
        ),
        (
            json!({"externalPort": "Any", "internalPort": "Any", "ipProtocol": "Any"}),
            "Any",
            "Any",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("ok-{n}");
        let spec = spec_of(fe, &ports);
        if let Err(e) = kind
            .api
            .create(&post, &kind.object(&name, spec.clone()))
            .await
        {
            failures.push(format!("{ports}: refused: {e}"));
            continue;
        }
        let stored = kind.api.get(&name).await.unwrap();
        for field in ["externalPort", "internalPort", "ipProtocol"] {
            if stored.data["spec"][field] != spec[field] {
                failures.push(format!(
                    "{ports}: {field} read back as {}",
                    stored.data["spec"][field]
                ));
            }
        }
        let object = typed.get(&name).await.unwrap();
        let read = (
            object.spec.external_port.canonical(),
            object.spec.internal_port.canonical(),
        );
        if read != (external.to_string(), internal.to_string()) {
            failures.push(format!("{ports}: natop reads {read:?}"));
        }
    }

    // An integer port replaced by its string, and back: both are the port.
    for ports in [
        json!({"externalPort": "80", "internalPort": "8080"}),
        json!({"externalPort": 81, "internalPort": 8081}),
    ] {
        let mut object = kind.object("ok-0", spec_of(fe, &ports));
        object.metadata.resource_version = kind
            .api
            .get("ok-0")
            .await
            .unwrap()
            .metadata
            .resource_version;
        if let Err(e) = kind.api.replace("ok-0", &post, &object).await {
            failures.push(format!("update to {ports}: refused: {e}"));
        }
    }

    // Refused, with the check that refuses it. (A rule's refusal shows the
    // value on Kubernetes 1.37 but `""` on 1.33: the field is named, not it.)
    let range = "a port range first/last needs first <= last";
    let size = "externalPort and internalPort must cover the same number of ports";
    let any =
        "ipProtocol Any needs externalPort and internalPort Any, and port Any needs ipProtocol Any";
    for (n, (ports, expected)) in [
        (
            json!({"externalPort": 70000}),
            vec![
                "spec.externalPort: Invalid value: 70000",
                "less than or equal to 65535",
            ],
        ),
        (
            json!({"internalPort": 65536}),
            vec![
                "spec.internalPort: Invalid value: 65536",
                "less than or equal to 65535",
            ],
        ),
        (
            json!({"externalPort": 0}),
            vec![
                "spec.externalPort: Invalid value: 0",
                "greater than or equal to 1",
            ],
        ),
        (
            json!({"externalPort": -80}),
            vec![
                "spec.externalPort: Invalid value: -80",
                "greater than or equal to 1",
            ],
        ),
        (
            json!({"externalPort": "0"}),
            vec!["spec.externalPort: Invalid value: \"0\"", "should match"],
        ),
        (
            json!({"internalPort": "70000"}),
            vec![
                "spec.internalPort: Invalid value: \"70000\"",
                "should match",
            ],
        ),
        (
            json!({"externalPort": "080"}),
            vec!["spec.externalPort: Invalid value: \"080\"", "should match"],
        ),
        (
            json!({"externalPort": "any", "internalPort": "any", "ipProtocol": "Any"}),
            vec!["spec.externalPort: Invalid value: \"any\"", "should match"],
        ),
        (
            json!({"externalPort": true}),
            vec!["spec.externalPort", "must be of type integer,string"],
        ),
        (
            json!({"externalPort": 80.5}),
            vec!["spec.externalPort", "must be of type integer,string"],
        ),
        (
            json!({"externalPort": "10/5", "internalPort": "10/5"}),
            vec!["spec.externalPort: Invalid value", range],
        ),
        (
            json!({"externalPort": 80, "internalPort": "90/85"}),
            vec!["spec.internalPort: Invalid value", range],
        ),
        (
            json!({"externalPort": "8000/8010", "internalPort": "9000/9009"}),
            vec!["spec: Invalid value", size],
        ),
        (
            json!({"externalPort": "8000/8010", "internalPort": 9000}),
            vec!["spec: Invalid value", size],
        ),
        (
            json!({"externalPort": 8000, "internalPort": "9000/9001"}),
            vec!["spec: Invalid value", size],
        ),
        (
            json!({"externalPort": 80, "internalPort": "Any", "ipProtocol": "Any"}),
            vec!["spec: Invalid value", any],
        ),
        (
            json!({"externalPort": 80, "internalPort": 8080, "ipProtocol": "Any"}),
            vec!["spec: Invalid value", any],
        ),
        (
            json!({"externalPort": "Any", "internalPort": 80}),
            vec!["spec: Invalid value", any],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let object = kind.object(&format!("bad-{n}"), spec_of(fe, &ports));
        match refusal(kind.api.create(&post, &object).await) {
            Some(message) if expected.iter().all(|part| message.contains(part)) => {}
            other => failures.push(format!("{ports}: expected {expected:?}, got {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    ns.delete().await;
}
