//! RAM authorisation as the Alibaba gateway does it: policy documents, whether
//! a principal's policies allow an action on a resource, and the resource a
//! VPC call acts on.
//!
//! A principal with no policies has full access (the emulator's default, so
//! that a fixture without RAM behaves as before). Otherwise an explicit `Deny`
//! wins, then an `Allow` is needed; nothing matching is an implicit deny. A
//! session policy (AssumeRole `Policy`) narrows: a call must be allowed by both
//! the principal's policies and it.

use serde::{Deserialize, Serialize};

/// A RAM policy document (`{"Version": "1", "Statement": [...]}`). Conditions
/// are not modelled: a document with `Condition` is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PolicyDocument {
    /// Always `1`.
    pub version: String,
    /// The statements.
    pub statement: Vec<Statement>,
}

/// One statement of a [`PolicyDocument`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Statement {
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// Action patterns (`vpc:Create*`), one or a list.
    pub action: Patterns,
    /// Resource patterns (`acs:vpc:*:*:natgateway/*`), one or a list.
    pub resource: Patterns,
}

/// A statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Forbids, whatever else allows.
    Deny,
}

/// One pattern or a list of them, as the policy grammar allows both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Patterns {
    /// `"vpc:*"`.
    One(String),
    /// `["vpc:Describe*", "vpc:CreateNatGateway"]`.
    Many(Vec<String>),
}

impl Patterns {
    fn iter(&self) -> impl Iterator<Item = &str> {
        let list: &[String] = match self {
            Patterns::One(one) => std::slice::from_ref(one),
            Patterns::Many(many) => many,
        };
        list.iter().map(String::as_str)
    }
}

impl PolicyDocument {
    /// Parse a session policy (AssumeRole `Policy`), checking its grammar.
    pub fn parse(text: &str) -> Result<PolicyDocument, String> {
        let document: PolicyDocument =
            serde_json::from_str(text).map_err(|e| format!("not a policy document: {e}"))?;
        document.check()?;
        Ok(document)
    }

    /// The grammar rules serde does not enforce: version 1, at least one
    /// statement, no empty pattern lists.
    pub fn check(&self) -> Result<(), String> {
        if self.version != "1" {
            return Err(format!("Version must be \"1\", not {:?}", self.version));
        }
        if self.statement.is_empty() {
            return Err("Statement is empty".to_string());
        }
        for s in &self.statement {
            if s.action.iter().next().is_none() || s.resource.iter().next().is_none() {
                return Err("a statement has no Action or no Resource".to_string());
            }
        }
        Ok(())
    }

    /// The effect of the statements matching `action` on `resource`: `Deny`
    /// if any denies, `Allow` if any allows, `None` if none matches.
    fn effect_on(&self, action: &str, resource: &str) -> Option<Effect> {
        let mut effect = None;
        for s in &self.statement {
            let action_matches = s
                .action
                .iter()
                .any(|p| wildcard(&p.to_ascii_lowercase(), &action.to_ascii_lowercase()));
            if action_matches && s.resource.iter().any(|p| wildcard(p, resource)) {
                if s.effect == Effect::Deny {
                    return Some(Effect::Deny);
                }
                effect = Some(Effect::Allow);
            }
        }
        effect
    }
}

/// What RAM decides about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The call may go on.
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A statement denies it.
    ExplicitDeny,
}

impl Decision {
    /// `NoPermissionType` of the service's `AccessDeniedDetail`.
    pub fn no_permission_type(self) -> &'static str {
        match self {
            Decision::ExplicitDeny => "ExplicitDeny",
            Decision::Allow | Decision::ImplicitDeny => "ImplicitDeny",
        }
    }
}

/// Whether `identity` (the principal's policies; none: full access) and the
/// optional `session` policy allow `action` on `resource`.
pub fn decide(
    identity: &[PolicyDocument],
    session: Option<&PolicyDocument>,
    action: &str,
    resource: &str,
) -> Decision {
    let of = |documents: &[&PolicyDocument]| {
        let effects: Vec<Option<Effect>> = documents
            .iter()
            .map(|d| d.effect_on(action, resource))
            .collect();
        if effects.contains(&Some(Effect::Deny)) {
            Decision::ExplicitDeny
        } else if effects.contains(&Some(Effect::Allow)) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    };
    let identity_decision = if identity.is_empty() {
        Decision::Allow
    } else {
        of(&identity.iter().collect::<Vec<_>>())
    };
    let session_decision = session.map_or(Decision::Allow, |s| of(&[s]));
    match (identity_decision, session_decision) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}

/// `*` matches any run of characters (also none), `?` exactly one; anything
/// else matches itself, case-sensitively.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The parameters naming what a VPC call acts on, in the order they are
/// looked for, and the resource type each one becomes: a call naming a NAT
/// gateway acts on it (`natgateway/ngw-…`), then a forward or SNAT table, a
/// bandwidth package, an EIP, an IPv6 address or bandwidth, a VPC.
const VPC_RESOURCES: &[(&str, &str)] = &[
    ("NatGatewayId", "natgateway"),
    ("ForwardTableId", "forwardtable"),
    ("SnatTableId", "snattable"),
    ("BandwidthPackageId", "bandwidthpackage"),
    ("AllocationId", "eip"),
    ("Ipv6InternetBandwidthId", "ipv6internetbandwidth"),
    ("Ipv6AddressId", "ipv6address"),
    ("VpcId", "vpc"),
];

/// The RAM action of a VPC API call: `vpc:<Action>`.
pub fn vpc_action(action: &str) -> String {
    format!("vpc:{action}")
}

/// The resource a VPC call acts on:
/// `acs:vpc:<RegionId>:<account>:<type>/<id>` for the first parameter of
/// [`VPC_RESOURCES`] the call has, else `acs:vpc:<RegionId>:<account>:*`.
pub fn vpc_resource(
    region: &str,
    account_id: &str,
    param: impl Fn(&str) -> Option<String>,
) -> String {
    let target = VPC_RESOURCES.iter().find_map(|(name, kind)| {
        param(name)
            .filter(|v| !v.is_empty())
            .map(|id| format!("{kind}/{id}"))
    });
    format!(
        "acs:vpc:{region}:{account_id}:{}",
        target.as_deref().unwrap_or("*")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> PolicyDocument {
        PolicyDocument::parse(json).unwrap()
    }

    #[test]
    fn wildcards() {
        let table = [
            ("*", "", true),
            ("*", "anything", true),
            ("vpc:*", "vpc:CreateNatGateway", true),
            ("vpc:Create*", "vpc:CreateNatGateway", true),
            ("vpc:Create*", "vpc:DeleteNatGateway", false),
            ("vpc:?reateNatGateway", "vpc:CreateNatGateway", true),
            ("vpc:?", "vpc:", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            (
                "acs:vpc:*:*:natgateway/ngw-1",
                "acs:vpc:cn-hangzhou:1:natgateway/ngw-1",
                true,
            ),
            (
                "acs:vpc:*:*:natgateway/NGW-1",
                "acs:vpc:cn-hangzhou:1:natgateway/ngw-1",
                false,
            ),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("**", "x", true),
        ];
        for (pattern, text, want) in table {
            assert_eq!(wildcard(pattern, text), want, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn decisions() {
        let allow_nat = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vpc:*NatGateway*","Resource":"*"}]}"#,
        );
        let allow_all = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["vpc:*","sts:AssumeRole"],"Resource":["*"]}]}"#,
        );
        let deny_delete = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"VPC:delete*","Resource":"acs:vpc:*:*:natgateway/*"}]}"#,
        );
        let only_hangzhou = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vpc:*","Resource":"acs:vpc:cn-hangzhou:*:*"}]}"#,
        );
        let gw = "acs:vpc:cn-hangzhou:1:natgateway/ngw-1";
        let bj = "acs:vpc:cn-beijing:1:natgateway/ngw-1";
        use Decision::*;
        type Row<'a> = (
            &'a str,
            Vec<PolicyDocument>,
            Option<&'a PolicyDocument>,
            &'a str,
            &'a str,
            Decision,
        );
        let table: Vec<Row<'_>> = vec![
            (
                "no policies: full access",
                vec![],
                None,
                "vpc:DeleteNatGateway",
                gw,
                Allow,
            ),
            (
                "allowed by a pattern",
                vec![allow_nat.clone()],
                None,
                "vpc:CreateNatGateway",
                gw,
                Allow,
            ),
            (
                "nothing allows: implicit",
                vec![allow_nat.clone()],
                None,
                "vpc:CreateForwardEntry",
                gw,
                ImplicitDeny,
            ),
            (
                "action case-insensitive",
                vec![allow_nat.clone()],
                None,
                "VPC:createnatgateway",
                gw,
                Allow,
            ),
            (
                "deny wins over allow",
                vec![allow_all.clone(), deny_delete.clone()],
                None,
                "vpc:DeleteNatGateway",
                gw,
                ExplicitDeny,
            ),
            (
                "deny only its resources",
                vec![allow_all.clone(), deny_delete.clone()],
                None,
                "vpc:DeleteSnatEntry",
                "acs:vpc:cn-hangzhou:1:snattable/stb-1",
                Allow,
            ),
            (
                "resource pattern by region",
                vec![only_hangzhou.clone()],
                None,
                "vpc:CreateNatGateway",
                bj,
                ImplicitDeny,
            ),
            (
                "session narrows",
                vec![allow_all.clone()],
                Some(&allow_nat),
                "vpc:CreateForwardEntry",
                gw,
                ImplicitDeny,
            ),
            (
                "session and identity allow",
                vec![allow_all.clone()],
                Some(&allow_nat),
                "vpc:CreateNatGateway",
                gw,
                Allow,
            ),
            (
                "session never widens",
                vec![allow_nat.clone()],
                Some(&allow_all),
                "vpc:CreateForwardEntry",
                gw,
                ImplicitDeny,
            ),
            (
                "full access narrowed by session",
                vec![],
                Some(&allow_nat),
                "vpc:CreateForwardEntry",
                gw,
                ImplicitDeny,
            ),
            (
                "session deny",
                vec![],
                Some(&deny_delete),
                "vpc:DeleteNatGateway",
                gw,
                ExplicitDeny,
            ),
            (
                "sts action",
                vec![allow_all.clone()],
                None,
                "sts:AssumeRole",
                "acs:ram::1:role/r",
                Allow,
            ),
            (
                "sts not granted",
                vec![allow_nat.clone()],
                None,
                "sts:AssumeRole",
                "acs:ram::1:role/r",
                ImplicitDeny,
            ),
        ];
        for (name, identity, session, action, resource, want) in table {
            assert_eq!(decide(&identity, session, action, resource), want, "{name}");
        }
    }

    #[test]
    fn grammar() {
        let table = [
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                true,
            ),
            (
                r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                false,
            ),
            (r#"{"Version":"1","Statement":[]}"#, false),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#,
                false,
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
                false,
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}"#,
                false,
            ),
            (
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}"#,
                false,
            ),
            ("not json", false),
        ];
        for (text, ok) in table {
            assert_eq!(PolicyDocument::parse(text).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn vpc_resources() {
        let table: [(&[(&str, &str)], &str); 6] = [
            (
                &[("NatGatewayId", "ngw-1")],
                "acs:vpc:cn-hangzhou:9:natgateway/ngw-1",
            ),
            (
                &[("ForwardTableId", "ftb-1")],
                "acs:vpc:cn-hangzhou:9:forwardtable/ftb-1",
            ),
            (
                &[("SnatTableId", "stb-1"), ("SnatEntryId", "snat-1")],
                "acs:vpc:cn-hangzhou:9:snattable/stb-1",
            ),
            (
                &[("AllocationId", "eip-1"), ("InstanceId", "ngw-1")],
                "acs:vpc:cn-hangzhou:9:eip/eip-1",
            ),
            (
                &[("NatGatewayId", "ngw-1"), ("BandwidthPackageId", "bwp-1")],
                "acs:vpc:cn-hangzhou:9:natgateway/ngw-1",
            ),
            (&[("NatGatewayId", "")], "acs:vpc:cn-hangzhou:9:*"),
        ];
        for (params, want) in table {
            let got = vpc_resource("cn-hangzhou", "9", |name| {
                params
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            });
            assert_eq!(got, want);
        }
        assert_eq!(vpc_action("CreateForwardEntry"), "vpc:CreateForwardEntry");
    }
}
