//! The emulator's fixture: the accounts, regions, VPCs, vSwitches, EIPs and IPv6
//! addresses that exist before any call, using the clouds' own field names.
//!
//! An account may have several keys (key rotation): resources belong to the
//! account (`accountId`, UCloud `userId`), so every key of it sees them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::alibaba::ram::PolicyDocument;

/// Everything that exists at start (and after `POST /_emulator/reset`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// The Alibaba Cloud side.
    #[serde(default)]
    pub alibaba: AlibabaFixture,
    /// The UCloud side.
    #[serde(default)]
    pub ucloud: UcloudFixture,
}

/// Alibaba accounts and regions. Every account owns its own copy of every
/// region's VPCs, EIPs and IPv6 addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlibabaFixture {
    /// Access keys that may call, each naming its account.
    #[serde(default)]
    pub accounts: Vec<AlibabaAccount>,
    /// Regions served.
    #[serde(default)]
    pub regions: Vec<AlibabaRegion>,
    /// RAM policies, by name, that accounts' users and roles may attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<RamPolicy>,
    /// RAM roles that may be assumed (AssumeRole, AssumeRoleWithOIDC, the
    /// instance role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RamRole>,
    /// OIDC identity providers registered in RAM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oidc_providers: Vec<OidcProvider>,
    /// The ARN of the RAM role attached to the emulated ECS instance, whose
    /// credentials the instance metadata endpoint hands out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_role: Option<String>,
}

/// A named RAM policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RamPolicy {
    /// The name users and roles attach it by.
    pub name: String,
    /// The policy document, in RAM's own grammar.
    pub document: PolicyDocument,
}

/// A RAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RamRole {
    /// `acs:ram::<account>:role/<name>`: the role belongs to that account,
    /// which must be one of the fixture's.
    pub role_arn: String,
    /// The longest session, in seconds (900 to 43200, default 3600).
    #[serde(default = "default_max_session_duration")]
    pub max_session_duration: u32,
    /// Names of the policies attached; none: full access.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Who may assume the role.
    #[serde(default)]
    pub trust: RoleTrust,
}

fn default_max_session_duration() -> u32 {
    3600
}

impl RamRole {
    /// The role's account (from its ARN).
    pub fn account_id(&self) -> &str {
        arn_parts(&self.role_arn, "role").map_or("", |(account, _)| account)
    }

    /// The role's name (from its ARN).
    pub fn name(&self) -> &str {
        arn_parts(&self.role_arn, "role").map_or("", |(_, name)| name)
    }

    /// An 18-digit role id, stable for the ARN (real ones look like
    /// `300800000000000001`).
    pub fn role_id(&self) -> String {
        let digest = Sha1::digest(self.role_arn.as_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (300_000_000_000_000_000 + u64::from_be_bytes(head) % 100_000_000_000_000_000).to_string()
    }
}

/// A role's trust policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleTrust {
    /// Accounts whose users (with `sts:AssumeRole` permission) may assume the role.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// When set, AssumeRole must give this `ExternalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When set, holders of tokens of this OIDC provider may assume the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcTrust>,
}

/// The OIDC part of a trust policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcTrust {
    /// The provider's ARN.
    pub provider_arn: String,
    /// Accepted `aud` values; none: any of the provider's client ids.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accepted `sub` values (`*` and `?` wildcards); none: any.
    #[serde(default)]
    pub subjects: Vec<String>,
}

/// An OIDC identity provider registered in RAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OidcProvider {
    /// `acs:ram::<account>:oidc-provider/<name>`.
    pub arn: String,
    /// The tokens' `iss`.
    pub issuer_url: String,
    /// Accepted `aud` values.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// The provider's JSON Web Key Set (`{"keys": [...]}`), RS256 keys with `kid`.
    pub jwks: serde_json::Value,
}

impl OidcProvider {
    /// The key set, parsed.
    pub fn key_set(&self) -> Result<jsonwebtoken::jwk::JwkSet, String> {
        serde_json::from_value(self.jwks.clone())
            .map_err(|e| format!("oidc provider {}: bad jwks: {e}", self.arn))
    }
}

/// `(account, name)` of `acs:ram::<account>:<kind>/<name>`, when well formed
/// (the account is digits, the name is not empty).
pub fn arn_parts<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix("acs:ram::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix(kind)?.strip_prefix('/')?;
    let well_formed = !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && !name.contains(['/', ':']);
    well_formed.then_some((account, name))
}

/// One Alibaba access key, and the account it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlibabaAccount {
    /// The account (main account UID) the key belongs to; keys with the same
    /// id share its resources. When absent (or empty), the access key id, so
    /// that every key of an older fixture is an account of its own.
    #[serde(default)]
    pub account_id: String,
    /// AccessKeyId.
    pub access_key_id: String,
    /// AccessKeySecret.
    pub access_key_secret: String,
    /// Whether the account bought a NAT bandwidth package before 2018 and may
    /// use the NAT bandwidth package actions (all keys of an account agree).
    #[serde(default)]
    pub legacy_bandwidth_packages: bool,
    /// Whether the account may still buy what Alibaba Cloud no longer sells:
    /// Normal NAT gateways and pay-as-you-go gateways billed by specification
    /// (all keys of an account agree). Otherwise CreateNatGateway refuses them
    /// with `Forbidden.NatPayBySpec`, and a gateway without a type or billing
    /// named is Enhanced and billed by capacity units, as the service does now.
    #[serde(default)]
    pub legacy_nat_gateways: bool,
    /// Names of the RAM policies attached to the key's user; none: full access.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
}

/// One Alibaba region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlibabaRegion {
    /// e.g. `cn-hangzhou`.
    pub region_id: String,
    /// Zones of the region; the ones that support enhanced NAT gateways.
    #[serde(default)]
    pub zones: Vec<String>,
    /// VPCs.
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    /// Elastic IPs, unbound at start.
    #[serde(default)]
    pub eips: Vec<Eip>,
    /// IPv6 gateways and their addresses.
    #[serde(default)]
    pub ipv6_gateways: Vec<Ipv6Gateway>,
}

/// A VPC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vpc {
    /// `vpc-…`.
    pub vpc_id: String,
    /// e.g. `172.16.0.0/12`.
    pub cidr_block: String,
    /// Its vSwitches.
    #[serde(default, rename = "vSwitches")]
    pub v_switches: Vec<VSwitch>,
}

/// A vSwitch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VSwitch {
    /// `vsw-…`.
    #[serde(rename = "vSwitchId")]
    pub v_switch_id: String,
    /// Zone of the vSwitch.
    pub zone_id: String,
    /// Inside the VPC's CIDR.
    pub cidr_block: String,
}

/// An EIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Eip {
    /// `eip-…`.
    pub allocation_id: String,
    /// The public IPv4 address.
    pub ip_address: String,
}

/// An IPv6 gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ipv6Gateway {
    /// `ipv6gw-…`.
    pub ipv6_gateway_id: String,
    /// VPC of the gateway.
    pub vpc_id: String,
    /// IPv6 addresses behind it.
    #[serde(default)]
    pub addresses: Vec<Ipv6Address>,
}

/// An IPv6 address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ipv6Address {
    /// `ipv6-…`.
    pub ipv6_address_id: String,
    /// The address.
    pub ipv6_address: String,
}

/// UCloud accounts and regions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UcloudFixture {
    /// Key pairs that may call.
    #[serde(default)]
    pub accounts: Vec<UcloudAccount>,
    /// Regions served.
    #[serde(default)]
    pub regions: Vec<UcloudRegion>,
}

/// One UCloud key pair, and the user (account) it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UcloudAccount {
    /// The user the key pair belongs to; key pairs with the same id share its
    /// resources. When absent (or 0), a number derived from the public key.
    #[serde(default)]
    pub user_id: u64,
    /// PublicKey.
    pub public_key: String,
    /// PrivateKey.
    pub private_key: String,
}

/// One UCloud region.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UcloudRegion {
    /// e.g. `cn-bj2`.
    pub region: String,
    /// EIPs of the region (every account owns a copy).
    #[serde(default)]
    pub eips: Vec<UcloudEip>,
}

/// A UCloud EIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UcloudEip {
    /// `eip-…`.
    pub eip_id: String,
    /// The address.
    pub ip: String,
    /// Billing mode; bandwidth packages need `Bandwidth` (non-shared,
    /// pay-by-bandwidth). Defaults to `Bandwidth`.
    #[serde(default = "default_pay_mode")]
    pub pay_mode: String,
}

fn default_pay_mode() -> String {
    "Bandwidth".to_string()
}

impl Fixture {
    /// Parse a fixture from YAML (or JSON), then fill in and check the
    /// account ids ([`Fixture::with_account_ids`]).
    pub fn from_yaml(text: &str) -> Result<Fixture, String> {
        serde_saphyr::from_str::<Fixture>(text)
            .map_err(|e| e.to_string())?
            .with_account_ids()
    }

    /// The fixture with every absent account id derived (Alibaba: the access
    /// key id; UCloud: a number from the public key), checked: a key may be
    /// listed once, the keys of one Alibaba account must agree on
    /// `legacyBandwidthPackages` and `legacyNatGateways`, account properties, and the RAM part must
    /// hold together (policies, roles, OIDC providers, instance role).
    pub fn with_account_ids(mut self) -> Result<Fixture, String> {
        let mut legacy: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for account in &mut self.alibaba.accounts {
            if account.account_id.is_empty() {
                account.account_id = account.access_key_id.clone();
            }
        }
        for (i, account) in self.alibaba.accounts.iter().enumerate() {
            let key = &account.access_key_id;
            if self.alibaba.accounts[..i]
                .iter()
                .any(|a| &a.access_key_id == key)
            {
                return Err(format!("alibaba access key {key} is listed twice"));
            }
            let flags = (
                account.legacy_bandwidth_packages,
                account.legacy_nat_gateways,
            );
            if *legacy.entry(&account.account_id).or_insert(flags) != flags {
                return Err(format!(
                    "the keys of alibaba account {} disagree on legacyBandwidthPackages or legacyNatGateways",
                    account.account_id
                ));
            }
        }
        self.alibaba.check_ram()?;
        for account in &mut self.ucloud.accounts {
            if account.user_id == 0 {
                account.user_id = derived_user_id(&account.public_key);
            }
        }
        for (i, account) in self.ucloud.accounts.iter().enumerate() {
            let key = &account.public_key;
            if self.ucloud.accounts[..i]
                .iter()
                .any(|a| &a.public_key == key)
            {
                return Err(format!("ucloud public key {key} is listed twice"));
            }
        }
        Ok(self)
    }

    /// Render as YAML.
    pub fn to_yaml(&self) -> Result<String, String> {
        serde_saphyr::to_string(self).map_err(|e| e.to_string())
    }

    /// The built-in fixture: two regions per cloud, two VPCs with several
    /// vSwitches, a dozen EIPs and IPv6 addresses per region, two accounts per
    /// cloud (the first Alibaba account is an old one: it may use NAT bandwidth
    /// packages and buy Normal gateways; the second is a new one and may not),
    /// and a second key of each cloud's first account.
    pub fn default_fixture() -> Fixture {
        let alibaba_regions = [("cn-hangzhou", 1u8, "hz"), ("cn-beijing", 2u8, "bj")]
            .into_iter()
            .map(|(region_id, n, tag)| alibaba_region(region_id, n, tag))
            .collect();
        let ucloud_regions = [("cn-bj2", 1u8), ("cn-sh2", 2u8)]
            .into_iter()
            .map(|(region, n)| UcloudRegion {
                region: region.to_string(),
                eips: (1..=12)
                    .map(|i| UcloudEip {
                        eip_id: format!("eip-{region}-{i:02}").replace("cn-", ""),
                        ip: format!("106.75.{n}.{}", 10 + i),
                        // The last EIP of each region uses shared bandwidth.
                        pay_mode: if i == 12 {
                            "ShareBandwidth"
                        } else {
                            "Bandwidth"
                        }
                        .to_string(),
                    })
                    .collect(),
            })
            .collect();
        Fixture {
            alibaba: AlibabaFixture {
                accounts: vec![
                    AlibabaAccount {
                        account_id: "1380000000000001".to_string(),
                        access_key_id: "LTAI5tNatopDemoKey01".to_string(),
                        access_key_secret: "natop-demo-secret-01".to_string(),
                        legacy_bandwidth_packages: true,
                        legacy_nat_gateways: true,
                        policies: Vec::new(),
                    },
                    AlibabaAccount {
                        account_id: "1380000000000002".to_string(),
                        access_key_id: "LTAI5tNatopDemoKey02".to_string(),
                        access_key_secret: "natop-demo-secret-02".to_string(),
                        legacy_bandwidth_packages: false,
                        legacy_nat_gateways: false,
                        policies: Vec::new(),
                    },
                    // A second key of the first account (key rotation).
                    AlibabaAccount {
                        account_id: "1380000000000001".to_string(),
                        access_key_id: "LTAI5tNatopDemoKey03".to_string(),
                        access_key_secret: "natop-demo-secret-03".to_string(),
                        legacy_bandwidth_packages: true,
                        legacy_nat_gateways: true,
                        policies: Vec::new(),
                    },
                ],
                regions: alibaba_regions,
                ..AlibabaFixture::default()
            },
            ucloud: UcloudFixture {
                accounts: vec![
                    UcloudAccount {
                        user_id: 50_000_001,
                        public_key: "natop-demo-public-key-01".to_string(),
                        private_key: "natop-demo-private-key-01".to_string(),
                    },
                    UcloudAccount {
                        user_id: 50_000_002,
                        public_key: "natop-demo-public-key-02".to_string(),
                        private_key: "natop-demo-private-key-02".to_string(),
                    },
                    // A second key pair of the first user.
                    UcloudAccount {
                        user_id: 50_000_001,
                        public_key: "natop-demo-public-key-03".to_string(),
                        private_key: "natop-demo-private-key-03".to_string(),
                    },
                ],
                regions: ucloud_regions,
            },
        }
    }
}

impl AlibabaFixture {
    /// Check the RAM part: policy names unique and documents well formed;
    /// every attached policy exists; role ARNs well formed, unique, of a
    /// fixture account, with a session limit of 900 to 43200 seconds; OIDC
    /// providers well formed with a readable key set, and every role's OIDC
    /// trust naming one; the instance role among the roles.
    fn check_ram(&self) -> Result<(), String> {
        for (i, policy) in self.policies.iter().enumerate() {
            if self.policies[..i].iter().any(|p| p.name == policy.name) {
                return Err(format!("alibaba policy {} is listed twice", policy.name));
            }
            policy
                .document
                .check()
                .map_err(|e| format!("alibaba policy {}: {e}", policy.name))?;
        }
        let policy_exists = |owner: &str, names: &[String]| {
            names.iter().try_for_each(|name| {
                if self.policies.iter().any(|p| &p.name == name) {
                    Ok(())
                } else {
                    Err(format!(
                        "{owner} attaches policy {name}, which is not in alibaba.policies"
                    ))
                }
            })
        };
        for account in &self.accounts {
            policy_exists(
                &format!("alibaba key {}", account.access_key_id),
                &account.policies,
            )?;
        }
        for (i, provider) in self.oidc_providers.iter().enumerate() {
            if arn_parts(&provider.arn, "oidc-provider").is_none() {
                return Err(format!(
                    "oidc provider arn {} is not acs:ram::<account>:oidc-provider/<name>",
                    provider.arn
                ));
            }
            if self.oidc_providers[..i]
                .iter()
                .any(|p| p.arn == provider.arn)
            {
                return Err(format!("oidc provider {} is listed twice", provider.arn));
            }
            provider.key_set()?;
        }
        for (i, role) in self.roles.iter().enumerate() {
            let arn = &role.role_arn;
            let Some((account, _)) = arn_parts(arn, "role") else {
                return Err(format!(
                    "role arn {arn} is not acs:ram::<account>:role/<name>"
                ));
            };
            if !self.accounts.iter().any(|a| a.account_id == account) {
                return Err(format!(
                    "role {arn} belongs to account {account}, not in the fixture"
                ));
            }
            if self.roles[..i].iter().any(|r| &r.role_arn == arn) {
                return Err(format!("role {arn} is listed twice"));
            }
            if !(900..=43_200).contains(&role.max_session_duration) {
                return Err(format!(
                    "role {arn}: maxSessionDuration must be 900 to 43200"
                ));
            }
            policy_exists(&format!("role {arn}"), &role.policies)?;
            if let Some(oidc) = &role.trust.oidc
                && !self
                    .oidc_providers
                    .iter()
                    .any(|p| p.arn == oidc.provider_arn)
            {
                return Err(format!(
                    "role {arn} trusts oidc provider {}, not in alibaba.oidcProviders",
                    oidc.provider_arn
                ));
            }
        }
        if let Some(arn) = &self.instance_role
            && !self.roles.iter().any(|r| &r.role_arn == arn)
        {
            return Err(format!("instanceRole {arn} is not in alibaba.roles"));
        }
        Ok(())
    }

    /// The role with `arn`.
    pub fn role(&self, arn: &str) -> Option<&RamRole> {
        self.roles.iter().find(|r| r.role_arn == arn)
    }

    /// The documents of the policies named `names` (names are checked at load).
    pub fn documents(&self, names: &[String]) -> Vec<PolicyDocument> {
        names
            .iter()
            .filter_map(|name| self.policies.iter().find(|p| &p.name == name))
            .map(|p| p.document.clone())
            .collect()
    }

    /// The fixture entry of `account_id` (its first key), which carries the
    /// account's properties.
    pub fn account(&self, account_id: &str) -> Option<&AlibabaAccount> {
        self.accounts.iter().find(|a| a.account_id == account_id)
    }
}

/// A stable 8-digit user id for a key pair whose fixture names none.
fn derived_user_id(public_key: &str) -> u64 {
    let digest = Sha1::digest(public_key.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    10_000_000 + u64::from_be_bytes(head) % 90_000_000
}

fn alibaba_region(region_id: &str, n: u8, tag: &str) -> AlibabaRegion {
    let zones: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region_id}-{z}"))
        .collect();
    let vpcs = (1..=2u8)
        .map(|v| {
            let base = if v == 1 { 16 } else { 0 };
            Vpc {
                vpc_id: format!("vpc-{tag}{v}natop0000000000"),
                cidr_block: if v == 1 {
                    "172.16.0.0/12".to_string()
                } else {
                    "192.168.0.0/16".to_string()
                },
                v_switches: (1..=3u8)
                    .map(|s| VSwitch {
                        v_switch_id: format!("vsw-{tag}{v}{s}natop000000000"),
                        zone_id: zones[usize::from(s - 1)].clone(),
                        cidr_block: if v == 1 {
                            format!("172.{base}.{s}.0/24")
                        } else {
                            format!("192.168.{s}.0/24")
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    AlibabaRegion {
        region_id: region_id.to_string(),
        zones: zones.clone(),
        vpcs,
        eips: (1..=12u8)
            .map(|i| Eip {
                allocation_id: format!("eip-{tag}{i:02}natop00000000"),
                ip_address: format!("47.{}.{n}.{}", 96 + n, 10 + i),
            })
            .collect(),
        ipv6_gateways: vec![Ipv6Gateway {
            ipv6_gateway_id: format!("ipv6gw-{tag}1natop0000000000"),
            vpc_id: format!("vpc-{tag}1natop0000000000"),
            addresses: (1..=12u8)
                .map(|i| Ipv6Address {
                    ipv6_address_id: format!("ipv6-{tag}{i:02}natop00000000"),
                    ipv6_address: format!("2408:4004:{n}::{i:x}"),
                })
                .collect(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fixture_round_trips_through_yaml_and_meets_the_minimums() {
        let f = Fixture::default_fixture();
        let yaml = f.to_yaml().unwrap();
        assert!(yaml.contains("accessKeyId") && yaml.contains("vSwitchId"));
        assert!(yaml.contains("legacyBandwidthPackages"));
        let back = Fixture::from_yaml(&yaml).unwrap();
        assert_eq!(back, f);
        assert!(f.alibaba.regions.len() >= 2 && f.ucloud.regions.len() >= 2);
        assert_eq!(f.alibaba.accounts.len(), 3);
        assert!(f.alibaba.accounts[0].legacy_bandwidth_packages);
        assert!(!f.alibaba.accounts[1].legacy_bandwidth_packages);
        let ids: Vec<&str> = f
            .alibaba
            .accounts
            .iter()
            .map(|a| a.account_id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["1380000000000001", "1380000000000002", "1380000000000001"]
        );
        let users: Vec<u64> = f.ucloud.accounts.iter().map(|a| a.user_id).collect();
        assert_eq!(users, [50_000_001, 50_000_002, 50_000_001]);
        assert_eq!(f.clone().with_account_ids().unwrap(), f);
        for r in &f.alibaba.regions {
            assert!(r.vpcs.len() >= 2 && r.vpcs.iter().all(|v| v.v_switches.len() >= 2));
            assert!(r.eips.len() >= 12);
            assert!(
                r.ipv6_gateways
                    .iter()
                    .map(|g| g.addresses.len())
                    .sum::<usize>()
                    >= 12
            );
        }
        for r in &f.ucloud.regions {
            assert!(r.eips.len() >= 12);
        }
    }

    #[test]
    fn absent_account_ids_are_derived_and_stable() {
        let yaml = "alibaba: {accounts: [{accessKeyId: K1, accessKeySecret: s}]}\n\
                    ucloud: {accounts: [{publicKey: P1, privateKey: p}, {publicKey: P2, privateKey: p}]}";
        let f = Fixture::from_yaml(yaml).unwrap();
        assert_eq!(f.alibaba.accounts[0].account_id, "K1");
        let users: Vec<u64> = f.ucloud.accounts.iter().map(|a| a.user_id).collect();
        assert!(users.iter().all(|u| (10_000_000..100_000_000).contains(u)));
        assert_ne!(users[0], users[1]);
        assert_eq!(Fixture::from_yaml(yaml).unwrap(), f, "the same every time");
        // An account id written as a plain YAML number is still the text.
        let plain = "alibaba: {accounts: [{accountId: 1380000000000009, accessKeyId: K, accessKeySecret: s}]}";
        assert_eq!(
            Fixture::from_yaml(plain).unwrap().alibaba.accounts[0].account_id,
            "1380000000000009"
        );
    }

    #[test]
    fn duplicate_keys_and_disagreeing_keys_are_refused() {
        let twice = "alibaba: {accounts: [{accessKeyId: K, accessKeySecret: a}, \
                     {accessKeyId: K, accessKeySecret: b, accountId: '2'}]}";
        assert!(
            Fixture::from_yaml(twice)
                .unwrap_err()
                .contains("listed twice")
        );
        let disagree = "alibaba: {accounts: [\
                        {accessKeyId: K1, accessKeySecret: a, accountId: '9', legacyBandwidthPackages: true}, \
                        {accessKeyId: K2, accessKeySecret: b, accountId: '9'}]}";
        assert!(
            Fixture::from_yaml(disagree)
                .unwrap_err()
                .contains("legacyBandwidthPackages")
        );
        let ucloud =
            "ucloud: {accounts: [{publicKey: P, privateKey: a}, {publicKey: P, privateKey: b}]}";
        assert!(
            Fixture::from_yaml(ucloud)
                .unwrap_err()
                .contains("listed twice")
        );
    }

    /// RAM on top of a minimal fixture (`{extra}` goes into `alibaba`).
    fn with_ram(extra: &str) -> Result<Fixture, String> {
        Fixture::from_yaml(&format!(
            "alibaba:\n  accounts:\n  - {{accountId: '1380000000000001', accessKeyId: K1, accessKeySecret: s, policies: [p1]}}\n{extra}"
        ))
    }

    const RAM: &str = r#"  policies:
  - name: p1
    document:
      Version: "1"
      Statement:
      - {Effect: Allow, Action: ["vpc:Describe*", "sts:AssumeRole"], Resource: "*"}
  roles:
  - roleArn: acs:ram::1380000000000001:role/natop
    maxSessionDuration: 7200
    policies: [p1]
    trust:
      accounts: ["1380000000000001"]
      externalId: abc
      oidc:
        providerArn: acs:ram::1380000000000001:oidc-provider/cluster
        audiences: [sts.aliyuncs.com]
        subjects: ["system:serviceaccount:natop:*"]
  - roleArn: acs:ram::1380000000000001:role/plain
  oidcProviders:
  - arn: acs:ram::1380000000000001:oidc-provider/cluster
    issuerUrl: https://oidc.example.test
    clientIds: [sts.aliyuncs.com]
    jwks: {keys: [{kty: RSA, kid: k1, alg: RS256, n: sXch, e: AQAB}]}
  instanceRole: acs:ram::1380000000000001:role/plain
"#;

    #[test]
    fn ram_parts_are_read_and_checked() {
        let f = with_ram(RAM).unwrap();
        let a = &f.alibaba;
        assert_eq!(a.accounts[0].policies, ["p1"]);
        let role = a.role("acs:ram::1380000000000001:role/natop").unwrap();
        assert_eq!(
            (role.account_id(), role.name()),
            ("1380000000000001", "natop")
        );
        assert_eq!(role.max_session_duration, 7200);
        assert_eq!(role.role_id().len(), 18);
        assert_eq!(role.role_id(), role.clone().role_id(), "stable");
        let plain = a.role("acs:ram::1380000000000001:role/plain").unwrap();
        assert_eq!(plain.max_session_duration, 3600);
        assert!(plain.policies.is_empty() && plain.trust.accounts.is_empty());
        assert_eq!(a.documents(&role.policies).len(), 1);
        assert!(a.oidc_providers[0].key_set().is_ok());
        assert_eq!(Fixture::from_yaml(&f.to_yaml().unwrap()).unwrap(), f);
        let broken = [
            (
                RAM.replace(
                    "policies: [p1]
    trust",
                    "policies: [p2]
    trust",
                ),
                "not in alibaba.policies",
            ),
            (
                RAM.replace("role/natop", "role/natop/x"),
                "not acs:ram::<account>:role/<name>",
            ),
            (
                RAM.replace(
                    "acs:ram::1380000000000001:role/plain
  oidc",
                    "acs:ram::999:role/plain
  oidc",
                ),
                "not in the fixture",
            ),
            (RAM.replace("7200", "60"), "900 to 43200"),
            (
                RAM.replace(
                    "instanceRole: acs:ram::1380000000000001:role/plain",
                    "instanceRole: acs:ram::1380000000000001:role/none",
                ),
                "instanceRole",
            ),
            (
                RAM.replace(
                    "providerArn: acs:ram::1380000000000001:oidc-provider/cluster",
                    "providerArn: acs:ram::1380000000000001:oidc-provider/x",
                ),
                "not in alibaba.oidcProviders",
            ),
            (RAM.replace("Version: \"1\"", "Version: \"2\""), "Version"),
            (
                RAM.replace(
                    "jwks: {keys: [{kty: RSA, kid: k1, alg: RS256, n: sXch, e: AQAB}]}",
                    "jwks: {nokeys: 1}",
                ),
                "bad jwks",
            ),
            (
                RAM.replace("Effect: Allow", "Effect: Perhaps"),
                "unknown variant",
            ),
        ];
        for (yaml, error) in broken {
            let got = with_ram(&yaml).unwrap_err();
            assert!(got.contains(error), "{error}: {got}");
        }
        // Without policies (every existing fixture) nothing changes.
        assert!(with_ram("  policies: [{name: p1, document: {Version: '1', Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}}]\n").is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(Fixture::from_yaml("alibaba: {acounts: []}").is_err());
    }
}
