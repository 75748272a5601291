//! `natop import`: read NAT gateways and what hangs off them from a cloud
//! account and write manifests that adopt them.
//!
//! Reading ([`read`]) uses the operator's client: every listing paginated
//! (and read again when it shifts while read), rate-limited and retried.
//! Writing ([`manifests`]) is pure: the objects are built so that the
//! controllers find each cloud resource in sync with its spec, so applying
//! them adopts everything without a cloud write.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use super::account::{self, Account, AccountArgs};
use crate::api::EXTERNAL_ID_ANNOTATION;
use crate::cloud::CloudError;
use crate::cloud::alibaba::actions::bandwidth_package::{
    BandwidthPackage as CloudPackage, DescribeBandwidthPackages,
};
use crate::cloud::alibaba::actions::eip::{DescribeEipAddresses, EipAddress};
use crate::cloud::alibaba::actions::forward_entry::{
    DescribeForwardTableEntries, ForwardTableEntry,
};
use crate::cloud::alibaba::actions::ipv6::{DescribeIpv6Addresses, Ipv6Address};
use crate::cloud::alibaba::actions::nat_gateway::{
    DescribeNatGateways, NatGateway as CloudGateway,
};
use crate::cloud::alibaba::actions::snat_entry::{DescribeSnatTableEntries, SnatTableEntry};
use crate::cloud::alibaba::{AlibabaClient, Paginated};
use crate::controller::identity::RESERVED_TAG_PREFIX;

/// The API version of natop's kinds.
const API_VERSION: &str = "natop.dev/v1alpha1";
/// The file IPv6 bandwidths go to (they belong to IPv6 gateways, not NAT gateways).
pub const IPV6_FILE: &str = "ipv6-internet-bandwidths.yaml";
/// At most this many user tags go into a NatGateway's spec (the CRD's limit).
const MAX_TAGS: usize = 16;

/// What happens to an imported resource when its object is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deletion {
    /// Leave the cloud resource (the default for an import: deleting an
    /// object never deletes what natop did not make).
    Orphan,
    /// Delete the cloud resource with the object (only once managed).
    Delete,
}

/// `natop import` arguments.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where the credentials come from.
    #[command(flatten)]
    pub account: AccountArgs,
    /// The directory to write (created; files already there are replaced).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Also write a kustomization.yaml listing the files.
    #[arg(long)]
    pub kustomize: bool,
    /// The namespace of the objects.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// `managementPolicy: Manage` (natop takes the resources over) instead of
    /// `Observe` (natop only reports them).
    #[arg(long)]
    pub manage: bool,
    /// The objects' `deletionPolicy`.
    #[arg(long, value_enum, default_value = "orphan")]
    pub deletion_policy: Deletion,
    /// Only this gateway (`ngw-…`); may be given more than once.
    #[arg(long = "nat-gateway-id")]
    pub nat_gateway_ids: Vec<String>,
    /// Only the gateways of this VPC (`vpc-…`).
    #[arg(long)]
    pub vpc_id: Option<String>,
    /// The ProviderConfig the manifests name, when the credentials come from
    /// flags (default `default`); with `--provider-config`, that one.
    #[arg(long, conflicts_with = "provider_config")]
    pub provider_config_ref: Option<String>,
}

/// Run `natop import`; returns the exit code.
pub fn run(args: &ImportArgs) -> i32 {
    let Some(rt) = super::runtime() else {
        return 1;
    };
    match rt.block_on(import(args)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn import(args: &ImportArgs) -> Result<(), String> {
    let (account, provider_config) = match &args.account.provider_config {
        Some(name) => {
            let kube = super::run::connect(args.account.kubeconfig.as_deref()).await?;
            let pc = account::provider_config(&kube, name).await?;
            let account =
                account::from_provider_config(&kube, &pc, args.account.region.as_deref()).await?;
            (account, name.clone())
        }
        None => (
            account::from_keys(&args.account)?,
            args.provider_config_ref
                .clone()
                .unwrap_or_else(|| "default".to_string()),
        ),
    };
    let filter = Filter {
        gateway_ids: args.nat_gateway_ids.clone(),
        vpc_id: args.vpc_id.clone(),
    };
    let inventory = read(&account, &filter)
        .await
        .map_err(|e| format!("reading region {} failed: {}", account.region, explain(&e)))?;
    if inventory.is_empty() {
        eprintln!(
            "nothing to import: no NAT gateway{} and no IPv6 internet bandwidth in region {}; \
             nothing written",
            filter.describe(),
            account.region
        );
        return Ok(());
    }
    let options = Options {
        namespace: args.namespace.clone(),
        provider_config,
        // Written only when it is not the ProviderConfig's own region.
        region: (account.provider_config_region.as_deref() != Some(account.region.as_str()))
            .then(|| account.region.clone()),
        manage: args.manage,
        deletion: args.deletion_policy,
    };
    let written = manifests(&inventory, &options);
    for warning in &written.warnings {
        eprintln!("warning: {warning}");
    }
    write_out(&args.out, &written, args.kustomize)?;
    let mut out = std::io::stdout().lock();
    for object in written
        .files
        .iter()
        .flat_map(|f| f.objects.iter().map(move |o| (o, f.name.as_str())))
    {
        let (o, file) = object;
        let _ = writeln!(
            out,
            "{}\t{}\t{}/{}\t{}",
            o.id, o.kind, options.namespace, o.name, file
        );
    }
    eprintln!(
        "wrote {} objects in {} files to {} ({}): review them, then kubectl apply -f {}",
        written.files.iter().map(|f| f.objects.len()).sum::<usize>(),
        written.files.len() + usize::from(args.kustomize),
        args.out.display(),
        if args.manage {
            "managementPolicy Manage"
        } else {
            "managementPolicy Observe"
        },
        args.out.display()
    );
    Ok(())
}

/// A cloud error as a person reads it, with what to check for the usual
/// refusals.
fn explain(e: &CloudError) -> String {
    let hint = match e.code() {
        Some(code) if code.starts_with("InvalidAccessKeyId") => {
            ": the access key id is not known to the cloud; check the key (and the endpoint)"
        }
        Some("SignatureDoesNotMatch" | "IncompleteSignature") => {
            ": the access key secret does not match the key id"
        }
        Some(code) if code.contains("Forbidden") || code.contains("NoPermission") => {
            ": the credentials may not read this; grant the read actions of docs/ram-policy.json"
        }
        _ => "",
    };
    format!("{e}{hint}")
}

/// Which gateways to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these gateways (none: every one).
    pub gateway_ids: Vec<String>,
    /// Only this VPC's.
    pub vpc_id: Option<String>,
}

impl Filter {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.gateway_ids.is_empty() {
            parts.push(format!(" {}", self.gateway_ids.join(", ")));
        }
        if let Some(vpc) = &self.vpc_id {
            parts.push(format!(" in {vpc}"));
        }
        parts.concat()
    }
}

/// A gateway and everything read with it.
#[derive(Debug, Clone, Default)]
pub struct GatewayInventory {
    /// The gateway.
    pub gateway: CloudGateway,
    /// The EIPs bound to it.
    pub eips: Vec<EipAddress>,
    /// Its DNAT entries.
    pub dnat: Vec<ForwardTableEntry>,
    /// Its SNAT entries.
    pub snat: Vec<SnatTableEntry>,
    /// Its NAT bandwidth packages.
    pub packages: Vec<CloudPackage>,
}

/// What an import read.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The gateways.
    pub gateways: Vec<GatewayInventory>,
    /// IPv6 addresses with an internet bandwidth.
    pub ipv6: Vec<Ipv6Address>,
}

impl Inventory {
    /// Whether there is nothing to import.
    pub fn is_empty(&self) -> bool {
        self.gateways.is_empty() && self.ipv6.is_empty()
    }
}

/// Read the gateways `filter` selects and everything hanging off them,
/// saying on stderr what is being read.
pub async fn read(account: &Account, filter: &Filter) -> Result<Inventory, CloudError> {
    let client = &account.client;
    let region = &account.region;
    eprintln!("reading NAT gateways in {region}{}...", filter.describe());
    let mut gateways: Vec<CloudGateway> = Vec::new();
    let by_id: Vec<Option<String>> = if filter.gateway_ids.is_empty() {
        vec![None]
    } else {
        filter.gateway_ids.iter().cloned().map(Some).collect()
    };
    for id in by_id {
        let found = client
            .describe_all(&DescribeNatGateways {
                region_id: region.clone(),
                nat_gateway_id: id.clone(),
                vpc_id: filter.vpc_id.clone(),
                ..Default::default()
            })
            .await;
        let found = match found {
            Ok(found) => found,
            Err(e) if e.is_not_found() && id.is_some() => Vec::new(),
            Err(e) => return Err(e),
        };
        gateways.extend(found.into_iter().filter(|g| {
            id.as_ref().is_none_or(|id| &g.nat_gateway_id == id) && g.status != "Deleting"
        }));
    }
    gateways.sort_by(|a, b| a.nat_gateway_id.cmp(&b.nat_gateway_id));
    gateways.dedup_by(|a, b| a.nat_gateway_id == b.nat_gateway_id);
    eprintln!("  {} gateways", gateways.len());
    let mut inventory = Inventory::default();
    for gateway in gateways {
        let id = gateway.nat_gateway_id.clone();
        eprintln!("reading {id} ({})...", gateway.name);
        let eips = client
            .describe_all(&DescribeEipAddresses {
                region_id: region.clone(),
                associated_instance_type: Some("Nat".into()),
                associated_instance_id: Some(id.clone()),
                ..Default::default()
            })
            .await?;
        let dnat = read_tables(client, "DNAT", &gateway.forward_table_ids, |table| {
            DescribeForwardTableEntries {
                region_id: region.clone(),
                forward_table_id: table.to_string(),
                ..Default::default()
            }
        })
        .await?;
        let snat = read_tables(client, "SNAT", &gateway.snat_table_ids, |table| {
            DescribeSnatTableEntries {
                region_id: region.clone(),
                snat_table_id: table.to_string(),
                ..Default::default()
            }
        })
        .await?;
        let packages = match client
            .describe_all(&DescribeBandwidthPackages {
                region_id: region.clone(),
                nat_gateway_id: Some(id.clone()),
                ..Default::default()
            })
            .await
        {
            Ok(found) => found,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        eprintln!(
            "  {} EIPs bound, {} NAT bandwidth packages",
            eips.len(),
            packages.len()
        );
        inventory.gateways.push(GatewayInventory {
            gateway,
            eips,
            dnat,
            snat,
            packages: packages
                .into_iter()
                .filter(|p| p.nat_gateway_id == id && p.status != "Deleting")
                .collect(),
        });
    }
    // IPv6 bandwidths: in the VPCs of the gateways read (or the VPC asked
    // for); every VPC's when nothing narrows the import.
    let vpcs: Vec<Option<String>> = match (&filter.vpc_id, filter.gateway_ids.is_empty()) {
        (Some(vpc), _) => vec![Some(vpc.clone())],
        (None, true) => vec![None],
        (None, false) => inventory
            .gateways
            .iter()
            .map(|g| g.gateway.vpc_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(Some)
            .collect(),
    };
    eprintln!("reading IPv6 addresses with an internet bandwidth...");
    for vpc in vpcs {
        let addresses = client
            .describe_all(&DescribeIpv6Addresses {
                region_id: region.clone(),
                vpc_id: vpc,
                ..Default::default()
            })
            .await?;
        inventory.ipv6.extend(addresses.into_iter().filter(|a| {
            crate::controller::ipv6_internet_bandwidth::decide::bandwidth_id(a).is_some()
        }));
    }
    eprintln!("  {} IPv6 internet bandwidths", inventory.ipv6.len());
    Ok(inventory)
}

/// Every entry of `tables`, each table read whole (every page, read again
/// if it shifts while read) with the request `request` makes for it; the
/// pages read are said on stderr.
async fn read_tables<P: Paginated>(
    client: &AlibabaClient,
    label: &str,
    tables: &[String],
    request: impl Fn(&str) -> P,
) -> Result<Vec<P::Item>, CloudError> {
    let mut all = Vec::new();
    for table in tables {
        let (entries, pages) = client.describe_pages(&request(table)).await?;
        eprintln!(
            "  {label} table {table}: {} entries ({pages} pages)",
            entries.len()
        );
        all.extend(entries);
    }
    Ok(all)
}

/// How the manifests are written.
#[derive(Debug, Clone)]
pub struct Options {
    /// The objects' namespace.
    pub namespace: String,
    /// The ProviderConfig they name.
    pub provider_config: String,
    /// `spec.region`, when not the ProviderConfig's.
    pub region: Option<String>,
    /// `Manage` rather than `Observe`.
    pub manage: bool,
    /// `deletionPolicy`.
    pub deletion: Deletion,
}

/// One object written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The cloud id it adopts.
    pub id: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The object.
    pub object: Value,
}

/// One file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// File name.
    pub name: String,
    /// Its objects, in order.
    pub objects: Vec<Written>,
}

/// Everything to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifests {
    /// The files.
    pub files: Vec<File>,
    /// What a person should know (values the CRDs cannot hold, left out).
    pub warnings: Vec<String>,
}

/// Kubernetes names already given, per kind.
#[derive(Default)]
struct Names(BTreeMap<&'static str, BTreeSet<String>>);

impl Names {
    /// A free name of `kind` from `base` (a cloud name, or empty) and `id`:
    /// the name alone, else with the id, else with a counter.
    fn take(&mut self, kind: &'static str, prefix: &str, base: &str, id: &str) -> String {
        let taken = self.0.entry(kind).or_default();
        let base = object_name(base);
        let id_part = object_name(id);
        let join = |parts: &[&str]| {
            let joined = parts
                .iter()
                .filter(|p| !p.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("-");
            fit(&joined, id)
        };
        let mut candidates = Vec::new();
        if !base.is_empty() {
            candidates.push(join(&[prefix, &base]));
        }
        candidates.push(join(&[prefix, &base, &id_part]));
        candidates.push(join(&[prefix, &id_part]));
        for candidate in &candidates {
            if !taken.contains(candidate) {
                taken.insert(candidate.clone());
                return candidate.clone();
            }
        }
        let first = candidates.remove(0);
        let mut n = 2u32;
        loop {
            let candidate = fit(&format!("{first}-{n}"), id);
            if taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

/// `text` as much of a Kubernetes object name as it can give: lowercase
/// letters, digits and single dashes, starting and ending alphanumeric.
pub fn object_name(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    name.trim_end_matches('-').to_string()
}

/// `name` cut to 63 characters (a label's length, so that the name fits
/// wherever Kubernetes puts one), the cut marked by a short hash of `id` so
/// that two long names stay apart.
fn fit(name: &str, id: &str) -> String {
    const MAX: usize = 63;
    if name.len() <= MAX {
        return name.to_string();
    }
    let digest = Sha1::digest(format!("{name}/{id}").as_bytes());
    let hash: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
    let head = name[..MAX - hash.len() - 1].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// Whether `name` is a console name the CRDs accept (2–128 characters,
/// starting with a letter or a Chinese character; letters, digits, Chinese
/// characters, `.`, `_`, `-`).
pub fn console_name(name: &str) -> bool {
    let chinese = |c: char| ('\u{4e00}'..='\u{9fa5}').contains(&c);
    let count = name.chars().count();
    let mut chars = name.chars();
    (2..=128).contains(&count)
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || chinese(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || chinese(c) || matches!(c, '.' | '_' | '-'))
}

impl Options {
    /// The fields every object's spec starts with.
    fn common(&self, with_region: bool) -> Map<String, Value> {
        let mut spec = Map::new();
        spec.insert(
            "providerConfigRef".into(),
            json!({ "name": self.provider_config }),
        );
        if with_region && let Some(region) = &self.region {
            spec.insert("region".into(), json!(region));
        }
        spec.insert(
            "managementPolicy".into(),
            json!(if self.manage { "Manage" } else { "Observe" }),
        );
        spec.insert(
            "deletionPolicy".into(),
            json!(match self.deletion {
                Deletion::Orphan => "Orphan",
                Deletion::Delete => "Delete",
            }),
        );
        spec
    }

    fn object(&self, kind: &str, name: &str, id: &str, spec: Map<String, Value>) -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "annotations": { EXTERNAL_ID_ANNOTATION: id },
            },
            "spec": spec,
        })
    }
}

/// The manifests for `inventory`: a file per gateway (the gateway, its
/// entries and packages), and one of IPv6 bandwidths.
pub fn manifests(inventory: &Inventory, options: &Options) -> Manifests {
    let mut names = Names::default();
    let mut out = Manifests::default();
    let mut files: BTreeSet<String> = BTreeSet::from([IPV6_FILE.to_string()]);
    for set in &inventory.gateways {
        let g = &set.gateway;
        let gw_name = names.take("NatGateway", "", &g.name, &g.nat_gateway_id);
        let mut objects = vec![Written {
            id: g.nat_gateway_id.clone(),
            kind: "NatGateway",
            name: gw_name.clone(),
            object: options.object(
                "NatGateway",
                &gw_name,
                &g.nat_gateway_id,
                gateway_spec(set, options, &mut out.warnings),
            ),
        }];
        let gateway_ref = json!({ "name": gw_name });
        let mut dnat: Vec<&ForwardTableEntry> = set.dnat.iter().collect();
        dnat.sort_by(|a, b| a.forward_entry_id.cmp(&b.forward_entry_id));
        for entry in dnat {
            let name = names.take(
                "ForwardEntry",
                &gw_name,
                &entry.forward_entry_name,
                &entry.forward_entry_id,
            );
            let mut spec = options.common(false);
            spec.insert("natGatewayRef".into(), gateway_ref.clone());
            spec.extend(forward_spec(entry));
            objects.push(Written {
                id: entry.forward_entry_id.clone(),
                kind: "ForwardEntry",
                name: name.clone(),
                object: options.object("ForwardEntry", &name, &entry.forward_entry_id, spec),
            });
        }
        let mut snat: Vec<&SnatTableEntry> = set.snat.iter().collect();
        snat.sort_by(|a, b| a.snat_entry_id.cmp(&b.snat_entry_id));
        for entry in snat {
            let Some(fields) = snat_spec(entry) else {
                out.warnings.push(format!(
                    "SNAT entry {} of {} has neither a source vSwitch nor a source CIDR: not imported",
                    entry.snat_entry_id, g.nat_gateway_id
                ));
                continue;
            };
            let name = names.take(
                "SnatEntry",
                &gw_name,
                &entry.snat_entry_name,
                &entry.snat_entry_id,
            );
            let mut spec = options.common(false);
            spec.insert("natGatewayRef".into(), gateway_ref.clone());
            spec.extend(fields);
            objects.push(Written {
                id: entry.snat_entry_id.clone(),
                kind: "SnatEntry",
                name: name.clone(),
                object: options.object("SnatEntry", &name, &entry.snat_entry_id, spec),
            });
        }
        let mut packages: Vec<&CloudPackage> = set.packages.iter().collect();
        packages.sort_by(|a, b| a.bandwidth_package_id.cmp(&b.bandwidth_package_id));
        for package in packages {
            let name = names.take(
                "BandwidthPackage",
                &gw_name,
                &package.name,
                &package.bandwidth_package_id,
            );
            let mut alibaba = Map::new();
            alibaba.insert("natGatewayRef".into(), gateway_ref.clone());
            alibaba.extend(package_spec(package));
            let mut spec = options.common(true);
            spec.insert("alibaba".into(), Value::Object(alibaba));
            objects.push(Written {
                id: package.bandwidth_package_id.clone(),
                kind: "BandwidthPackage",
                name: name.clone(),
                object: options.object(
                    "BandwidthPackage",
                    &name,
                    &package.bandwidth_package_id,
                    spec,
                ),
            });
        }
        let mut file = format!("{gw_name}.yaml");
        let mut n = 2;
        while !files.insert(file.clone()) {
            file = format!("{gw_name}-{n}.yaml");
            n += 1;
        }
        out.files.push(File {
            name: file,
            objects,
        });
    }
    let mut ipv6: Vec<&Ipv6Address> = inventory.ipv6.iter().collect();
    ipv6.sort_by(|a, b| a.ipv6_address_id.cmp(&b.ipv6_address_id));
    let mut objects = Vec::new();
    for address in ipv6 {
        let Some(bandwidth) = &address.ipv6_internet_bandwidth else {
            continue;
        };
        let id = bandwidth.ipv6_internet_bandwidth_id.clone();
        let name = names.take(
            "Ipv6InternetBandwidth",
            "",
            &address.ipv6_address_name,
            &address.ipv6_address_id,
        );
        let mut spec = options.common(true);
        spec.insert("ipv6AddressId".into(), json!(address.ipv6_address_id));
        spec.insert("ipv6GatewayId".into(), json!(address.ipv6_gateway_id));
        match bandwidth.bandwidth {
            Some(mbps) => {
                spec.insert("bandwidth".into(), json!(mbps));
            }
            None => {
                out.warnings.push(format!(
                    "IPv6 bandwidth {id} reports no bandwidth: not imported"
                ));
                continue;
            }
        }
        if !bandwidth.internet_charge_type.is_empty() {
            spec.insert(
                "internetChargeType".into(),
                json!(bandwidth.internet_charge_type),
            );
        }
        objects.push(Written {
            id: id.clone(),
            kind: "Ipv6InternetBandwidth",
            name: name.clone(),
            object: options.object("Ipv6InternetBandwidth", &name, &id, spec),
        });
    }
    if !objects.is_empty() {
        out.files.push(File {
            name: IPV6_FILE.to_string(),
            objects,
        });
    }
    out
}

/// The NatGateway spec that matches `set` as the cloud shows it.
fn gateway_spec(
    set: &GatewayInventory,
    options: &Options,
    warnings: &mut Vec<String>,
) -> Map<String, Value> {
    let g = &set.gateway;
    let mut spec = options.common(true);
    spec.insert("vpcId".into(), json!(g.vpc_id));
    if let Some(vswitch) = g
        .nat_gateway_private_info
        .as_ref()
        .map(|i| i.vswitch_id.as_str())
        .filter(|v| !v.is_empty())
    {
        spec.insert("vSwitchId".into(), json!(vswitch));
    }
    let enhanced = g.nat_type == "Enhanced";
    spec.insert(
        "natType".into(),
        json!(if enhanced { "Enhanced" } else { "Normal" }),
    );
    let network = if g.network_type.is_empty() {
        "internet"
    } else {
        g.network_type.as_str()
    };
    spec.insert("networkType".into(), json!(network));
    let sized = crate::controller::nat_gateway::decide::sized(
        if enhanced { "Enhanced" } else { "Normal" },
        &g.internet_charge_type,
    );
    if sized && ["Small", "Middle", "Large", "XLarge.1"].contains(&g.spec.as_str()) {
        spec.insert("specification".into(), json!(g.spec));
    }
    if console_name(&g.name) {
        spec.insert("name".into(), json!(g.name));
    } else if !g.name.is_empty() {
        warnings.push(format!(
            "{}: the name {:?} is not one the CRD accepts; spec.name left out (natop leaves the cloud's name alone)",
            g.nat_gateway_id, g.name
        ));
    }
    if !g.description.is_empty() {
        spec.insert("description".into(), json!(g.description));
    }
    let prepaid = g.instance_charge_type == "PrePaid";
    spec.insert(
        "instanceChargeType".into(),
        json!(if prepaid { "PrePaid" } else { "PostPaid" }),
    );
    if prepaid {
        // Only a create uses them; the CRD wants them with PrePaid.
        spec.insert("pricingCycle".into(), json!("Month"));
        spec.insert("duration".into(), json!(1));
        warnings.push(format!(
            "{} is PrePaid: pricingCycle Month and duration 1 written (they only matter to a create)",
            g.nat_gateway_id
        ));
    }
    if ["PayBySpec", "PayByLcu"].contains(&g.internet_charge_type.as_str()) {
        spec.insert("internetChargeType".into(), json!(g.internet_charge_type));
    }
    let mut eips: Vec<&str> = set
        .eips
        .iter()
        .filter(|e| {
            e.instance_id == g.nat_gateway_id && e.instance_type.eq_ignore_ascii_case("Nat")
        })
        .map(|e| e.allocation_id.as_str())
        .collect();
    eips.sort_unstable();
    eips.dedup();
    if !eips.is_empty() && network != "intranet" {
        spec.insert("eipAllocationIds".into(), json!(eips));
    }
    let tags: BTreeMap<&str, &str> = g
        .tags
        .iter()
        .filter(|t| {
            !t.tag_key.starts_with(RESERVED_TAG_PREFIX)
                && !t.tag_key.starts_with("aliyun")
                && !t.tag_key.starts_with("acs:")
                && !t.tag_key.is_empty()
                && t.tag_key.len() <= 128
                && t.tag_value.len() <= 128
        })
        .map(|t| (t.tag_key.as_str(), t.tag_value.as_str()))
        .collect();
    if tags.len() > MAX_TAGS {
        warnings.push(format!(
            "{} has {} tags; the first {MAX_TAGS} (by key) written",
            g.nat_gateway_id,
            tags.len()
        ));
    }
    let tags: Map<String, Value> = tags
        .into_iter()
        .take(MAX_TAGS)
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if !tags.is_empty() {
        spec.insert("tags".into(), Value::Object(tags));
    }
    spec
}

/// A port as the spec writes it: an integer when it is one.
fn port(text: &str) -> Value {
    if text.eq_ignore_ascii_case("any") {
        return json!("Any");
    }
    match text.parse::<i32>() {
        Ok(port) => json!(port),
        Err(_) => json!(text),
    }
}

/// A ForwardEntry's fields for `entry`.
fn forward_spec(entry: &ForwardTableEntry) -> Map<String, Value> {
    let protocol = match entry.ip_protocol.to_ascii_lowercase().as_str() {
        "tcp" => "TCP",
        "udp" => "UDP",
        _ => "Any",
    };
    let mut spec = Map::new();
    spec.insert("externalIp".into(), json!(entry.external_ip));
    let any = protocol == "Any";
    let ext = entry.external_port.as_deref().unwrap_or("Any");
    let int = entry.internal_port.as_deref().unwrap_or("Any");
    spec.insert(
        "externalPort".into(),
        if any { json!("Any") } else { port(ext) },
    );
    spec.insert("internalIp".into(), json!(entry.internal_ip));
    spec.insert(
        "internalPort".into(),
        if any { json!("Any") } else { port(int) },
    );
    spec.insert("ipProtocol".into(), json!(protocol));
    if console_name(&entry.forward_entry_name) {
        spec.insert("name".into(), json!(entry.forward_entry_name));
    }
    spec
}

/// A SnatEntry's fields for `entry`; `None` without a source.
fn snat_spec(entry: &SnatTableEntry) -> Option<Map<String, Value>> {
    let mut spec = Map::new();
    let mut ips: Vec<&str> = entry
        .snat_ip
        .split(',')
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .collect();
    ips.sort_unstable();
    spec.insert("snatIps".into(), json!(ips));
    if !entry.source_vswitch_id.is_empty() {
        spec.insert("sourceVSwitchId".into(), json!(entry.source_vswitch_id));
    } else if !entry.source_cidr.is_empty() {
        spec.insert("sourceCIDR".into(), json!(entry.source_cidr));
    } else {
        return None;
    }
    if console_name(&entry.snat_entry_name) {
        spec.insert("name".into(), json!(entry.snat_entry_name));
    }
    if entry.eip_affinity == Some(1) {
        spec.insert("eipAffinity".into(), json!(true));
    }
    Some(spec)
}

/// An Alibaba BandwidthPackage's fields for `package`.
fn package_spec(package: &CloudPackage) -> Map<String, Value> {
    let mut spec = Map::new();
    if let Some(bandwidth) = package.bandwidth {
        spec.insert("bandwidth".into(), json!(bandwidth));
    }
    let ips = if package.public_ip_addresses.is_empty() {
        package.ip_count.unwrap_or(1)
    } else {
        u32::try_from(package.public_ip_addresses.len()).unwrap_or(u32::MAX)
    };
    spec.insert("ipCount".into(), json!(ips));
    if console_name(&package.name) {
        spec.insert("name".into(), json!(package.name));
    }
    let description_ok = package
        .description
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || ('\u{4e00}'..='\u{9fa5}').contains(&c))
        && (2..=256).contains(&package.description.chars().count());
    if description_ok {
        spec.insert("description".into(), json!(package.description));
    }
    if !package.zone_id.is_empty() {
        spec.insert("zone".into(), json!(package.zone_id));
    }
    if ["PayByTraffic", "PayByBandwidth"].contains(&package.internet_charge_type.as_str()) {
        spec.insert(
            "internetChargeType".into(),
            json!(package.internet_charge_type),
        );
    }
    spec
}

/// The objects of `file` as multi-document YAML.
pub fn render(file: &File) -> Result<String, String> {
    let mut text = String::new();
    for (i, written) in file.objects.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        let yaml = serde_saphyr::to_string(&written.object)
            .map_err(|e| format!("cannot write {} {}: {e}", written.kind, written.name))?;
        text.push_str(&yaml);
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(text)
}

/// Write the files (and a kustomization.yaml) into `dir`.
fn write_out(dir: &Path, manifests: &Manifests, kustomize: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in &manifests.files {
        let path = dir.join(&file.name);
        std::fs::write(&path, render(file)?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if kustomize {
        let resources: Vec<&str> = manifests.files.iter().map(|f| f.name.as_str()).collect();
        let kustomization = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        });
        let path = dir.join("kustomization.yaml");
        let text = serde_saphyr::to_string(&kustomization)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        BandwidthPackage, ForwardEntry, Ipv6InternetBandwidth, NatGateway, SnatEntry,
    };
    use crate::cloud::alibaba::actions::bandwidth_package::PublicIpAddress;
    use crate::cloud::alibaba::actions::ipv6::Ipv6InternetBandwidth as CloudBandwidth;
    use crate::cloud::alibaba::actions::nat_gateway::{NatGatewayPrivateInfo, ResourceTag};
    use crate::controller::bandwidth_package::alibaba::decide as package_decide;
    use crate::controller::entries::EntryKind;
    use crate::controller::entries::forward::DnatRow;
    use crate::controller::entries::snat::SnatRow;
    use crate::controller::ipv6_internet_bandwidth::decide as ipv6_decide;
    use crate::controller::nat_gateway::decide as gateway_decide;
    use kube::ResourceExt;

    fn options() -> Options {
        Options {
            namespace: "team-a".into(),
            provider_config: "prod".into(),
            region: None,
            manage: false,
            deletion: Deletion::Orphan,
        }
    }

    fn dnat(id: &str, name: &str, port: &str, protocol: &str) -> ForwardTableEntry {
        ForwardTableEntry {
            external_ip: "47.1.2.3".into(),
            external_port: Some(port.into()),
            forward_entry_id: id.into(),
            forward_entry_name: name.into(),
            forward_table_id: "ftb-1".into(),
            internal_ip: "10.0.0.5".into(),
            internal_port: Some(port.into()),
            ip_protocol: protocol.into(),
            status: "Available".into(),
            nat_gateway_id: "ngw-1".into(),
        }
    }

    fn inventory() -> Inventory {
        let gateway = CloudGateway {
            nat_gateway_id: "ngw-1".into(),
            name: "Edge A".into(),
            description: "edge gateway".into(),
            vpc_id: "vpc-1".into(),
            nat_type: "Enhanced".into(),
            network_type: "internet".into(),
            instance_charge_type: "PostPaid".into(),
            internet_charge_type: "PayBySpec".into(),
            spec: "Small".into(),
            status: "Available".into(),
            forward_table_ids: vec!["ftb-1".into()],
            snat_table_ids: vec!["stb-1".into()],
            nat_gateway_private_info: Some(NatGatewayPrivateInfo {
                vswitch_id: "vsw-1".into(),
                ..Default::default()
            }),
            tags: vec![
                ResourceTag {
                    tag_key: "team".into(),
                    tag_value: "a".into(),
                },
                ResourceTag {
                    tag_key: "acs:rm:rgId".into(),
                    tag_value: "rg".into(),
                },
                ResourceTag {
                    tag_key: "natop.dev/owner".into(),
                    tag_value: "other".into(),
                },
            ],
            ..Default::default()
        };
        Inventory {
            gateways: vec![GatewayInventory {
                gateway,
                eips: vec![EipAddress {
                    allocation_id: "eip-1".into(),
                    ip_address: "47.1.2.3".into(),
                    instance_id: "ngw-1".into(),
                    instance_type: "Nat".into(),
                    ..Default::default()
                }],
                dnat: vec![
                    dnat("fwd-2", "web", "80", "tcp"),
                    dnat("fwd-1", "web", "443", "tcp"),
                    dnat("fwd-3", "", "any", "any"),
                    dnat("fwd-4", "1bad name", "8000/8010", "udp"),
                ],
                snat: vec![
                    SnatTableEntry {
                        snat_entry_id: "snat-1".into(),
                        snat_entry_name: "egress".into(),
                        snat_ip: "47.1.2.4,47.1.2.3".into(),
                        snat_table_id: "stb-1".into(),
                        source_vswitch_id: "vsw-1".into(),
                        source_cidr: "10.0.0.0/24".into(),
                        status: "Available".into(),
                        eip_affinity: Some(1),
                        ..Default::default()
                    },
                    SnatTableEntry {
                        snat_entry_id: "snat-2".into(),
                        snat_ip: "47.1.2.3".into(),
                        source_cidr: "10.1.0.0/24".into(),
                        status: "Available".into(),
                        ..Default::default()
                    },
                    SnatTableEntry {
                        snat_entry_id: "snat-3".into(),
                        snat_ip: "47.1.2.3".into(),
                        status: "Available".into(),
                        ..Default::default()
                    },
                ],
                packages: vec![CloudPackage {
                    bandwidth_package_id: "bwp-1".into(),
                    nat_gateway_id: "ngw-1".into(),
                    name: "pkg".into(),
                    bandwidth: Some(10),
                    ip_count: Some(2),
                    zone_id: "cn-hangzhou-a".into(),
                    internet_charge_type: "PayByTraffic".into(),
                    status: "Available".into(),
                    public_ip_addresses: vec![
                        PublicIpAddress {
                            ip_address: "47.2.0.1".into(),
                            ..Default::default()
                        },
                        PublicIpAddress {
                            ip_address: "47.2.0.2".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
            }],
            ipv6: vec![Ipv6Address {
                ipv6_address_id: "ipv6-1".into(),
                ipv6_address_name: "".into(),
                ipv6_gateway_id: "ipv6gw-1".into(),
                status: "Available".into(),
                ipv6_internet_bandwidth: Some(CloudBandwidth {
                    ipv6_internet_bandwidth_id: "ipv6bw-1".into(),
                    bandwidth: Some(20),
                    internet_charge_type: "PayByBandwidth".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        }
    }

    /// Every field path of `written` is one `typed` has: no field the
    /// kind does not know (the API server would drop it silently).
    fn known_fields(written: &Value, typed: &Value, path: &str) {
        match (written, typed) {
            (Value::Object(w), Value::Object(t)) => {
                for (key, value) in w {
                    let here = format!("{path}.{key}");
                    let other = t.get(key).unwrap_or_else(|| panic!("unknown field {here}"));
                    known_fields(value, other, &here);
                }
            }
            (Value::Array(w), Value::Array(t)) => {
                assert_eq!(w.len(), t.len(), "{path}");
                for (i, (a, b)) in w.iter().zip(t).enumerate() {
                    known_fields(a, b, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }

    fn objects<K: serde::de::DeserializeOwned + serde::Serialize>(
        m: &Manifests,
        kind: &str,
    ) -> Vec<K> {
        m.files
            .iter()
            .flat_map(|f| &f.objects)
            .filter(|o| o.kind == kind)
            .map(|o| {
                let typed: K = serde_json::from_value(o.object.clone()).expect(kind);
                let again = serde_json::to_value(&typed).expect(kind);
                known_fields(&o.object, &again, kind);
                typed
            })
            .collect()
    }

    #[test]
    fn names_are_kubernetes_names_from_cloud_names_and_ids() {
        assert_eq!(object_name("Edge A_01.prod"), "edge-a-01-prod");
        assert_eq!(object_name("--中文--"), "");
        assert_eq!(object_name("fwd-ABC"), "fwd-abc");
        let mut names = Names::default();
        assert_eq!(names.take("ForwardEntry", "gw", "web", "fwd-1"), "gw-web");
        // The same cloud name again: the id tells them apart.
        assert_eq!(
            names.take("ForwardEntry", "gw", "web", "fwd-2"),
            "gw-web-fwd-2"
        );
        // No usable name: the id.
        assert_eq!(names.take("ForwardEntry", "gw", "", "fwd-3"), "gw-fwd-3");
        // Another kind has its own names.
        assert_eq!(names.take("SnatEntry", "gw", "web", "snat-1"), "gw-web");
        // Every candidate taken: a counter.
        let mut names = Names::default();
        names.take("NatGateway", "", "a", "ngw-1");
        names.take("NatGateway", "", "a-ngw-1", "x");
        names.take("NatGateway", "", "ngw-1", "y");
        assert_eq!(names.take("NatGateway", "", "a", "ngw-1"), "a-2");
        let long = "x".repeat(80);
        let one = names.take("NatGateway", "", &long, "ngw-1");
        let two = names.take("NatGateway", "", &long, "ngw-2");
        assert!(
            one.len() <= 63 && two.len() <= 63 && one != two,
            "{one} {two}"
        );
    }

    #[test]
    fn console_names_follow_the_crd_pattern() {
        for (name, ok) in [
            ("web", true),
            ("w", false),
            ("1web", false),
            ("web 1", false),
            ("web_1.a-b", true),
            ("中文名", true),
            ("", false),
        ] {
            assert_eq!(console_name(name), ok, "{name}");
        }
    }

    #[test]
    fn every_object_adopts_its_resource_and_matches_it() {
        let inventory = inventory();
        let m = manifests(&inventory, &options());
        let names: Vec<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["edge-a.yaml", IPV6_FILE]);
        // The gateway's name the CRD refuses, and SNAT entry snat-3 without
        // a source: said, and left out.
        assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("\"Edge A\""));
        assert!(m.warnings[1].contains("snat-3"));

        let gateways: Vec<NatGateway> = objects(&m, "NatGateway");
        assert_eq!(gateways.len(), 1);
        let gw = &gateways[0];
        assert_eq!(gw.metadata.name.as_deref(), Some("edge-a"));
        assert_eq!(gw.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(gw.annotations()[EXTERNAL_ID_ANNOTATION], "ngw-1");
        assert_eq!(
            gw.spec.management_policy,
            crate::api::ManagementPolicy::Observe
        );
        assert_eq!(gw.spec.deletion_policy, crate::api::DeletionPolicy::Orphan);
        assert_eq!(gw.spec.provider_config_ref.name, "prod");
        // Not a console name: left out, so the cloud's stays.
        assert_eq!(gw.spec.name, None);
        assert_eq!(gw.spec.tags, BTreeMap::from([("team".into(), "a".into())]));
        let subject = gateway_decide::Subject {
            region: "cn-hangzhou".into(),
            id: Some("ngw-1".into()),
            observe_only: true,
            adopted: true,
            ..Default::default()
        };
        let observed = gateway_decide::Observed {
            gateway: Some(inventory.gateways[0].gateway.clone()),
            eips: inventory.gateways[0].eips.clone(),
            conversion: None,
        };
        assert_eq!(
            gateway_decide::decide(&gw.spec, &subject, &observed),
            gateway_decide::Step::InSync
        );

        let forward: Vec<ForwardEntry> = objects(&m, "ForwardEntry");
        assert_eq!(forward.len(), 4);
        for entry in &forward {
            let id = &entry.annotations()[EXTERNAL_ID_ANNOTATION];
            let cloud = inventory.gateways[0]
                .dnat
                .iter()
                .find(|e| &e.forward_entry_id == id)
                .expect("its entry");
            let desired = entry.desired(&[]).expect("desired");
            let row = DnatRow::from(cloud);
            assert!(ForwardEntry::has_key(&desired, &row), "{id}");
            assert!(ForwardEntry::drift(&desired, &row).is_empty(), "{id}");
            assert_eq!(
                entry.spec.nat_gateway_ref.as_ref().map(|r| r.name.as_str()),
                Some("edge-a")
            );
        }
        let names: BTreeSet<String> = forward
            .iter()
            .map(|e| e.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "edge-a-web".to_string(),
                "edge-a-web-fwd-2".to_string(),
                "edge-a-fwd-3".to_string(),
                "edge-a-1bad-name".to_string(),
            ])
        );

        let snat: Vec<SnatEntry> = objects(&m, "SnatEntry");
        assert_eq!(snat.len(), 2);
        for entry in &snat {
            let id = &entry.annotations()[EXTERNAL_ID_ANNOTATION];
            let cloud = inventory.gateways[0]
                .snat
                .iter()
                .find(|e| &e.snat_entry_id == id)
                .expect("its entry");
            let desired = entry.desired(&[]).expect("desired");
            let row = SnatRow::from(cloud);
            assert!(SnatEntry::has_key(&desired, &row), "{id}");
            assert!(SnatEntry::drift(&desired, &row).is_empty(), "{id}");
        }

        let packages: Vec<BandwidthPackage> = objects(&m, "BandwidthPackage");
        assert_eq!(packages.len(), 1);
        let spec = packages[0].spec.alibaba.as_ref().expect("alibaba");
        assert_eq!(spec.ip_count, 2);
        let input = package_decide::Input {
            observe: true,
            wanted: Some("bwp-1".into()),
            package: Some(inventory.gateways[0].packages[0].clone()),
            ..Default::default()
        };
        assert_eq!(
            package_decide::decide(spec, &input),
            package_decide::Step::InSync
        );

        let ipv6: Vec<Ipv6InternetBandwidth> = objects(&m, "Ipv6InternetBandwidth");
        assert_eq!(ipv6.len(), 1);
        assert_eq!(ipv6[0].annotations()[EXTERNAL_ID_ANNOTATION], "ipv6bw-1");
        assert_eq!(ipv6[0].metadata.name.as_deref(), Some("ipv6-1"));
        let known = ipv6_decide::Known {
            annotated: Some("ipv6bw-1".into()),
            observe: true,
            ..Default::default()
        };
        assert_eq!(
            ipv6_decide::decide(&ipv6[0].spec, &known, Some(&inventory.ipv6[0])),
            ipv6_decide::Step::InSync
        );
    }

    #[test]
    fn manage_region_and_deletion_are_as_asked() {
        let inventory = inventory();
        let m = manifests(
            &inventory,
            &Options {
                manage: true,
                region: Some("cn-shanghai".into()),
                deletion: Deletion::Delete,
                ..options()
            },
        );
        let gateways: Vec<NatGateway> = objects(&m, "NatGateway");
        assert_eq!(
            gateways[0].spec.management_policy,
            crate::api::ManagementPolicy::Manage
        );
        assert_eq!(
            gateways[0].spec.deletion_policy,
            crate::api::DeletionPolicy::Delete
        );
        assert_eq!(gateways[0].spec.region.as_deref(), Some("cn-shanghai"));
        // Entries take the gateway's region: none of their own.
        let forward: Vec<ForwardEntry> = objects(&m, "ForwardEntry");
        assert!(forward.iter().all(|e| e.spec.region.is_none()));
    }

    #[test]
    fn nothing_read_writes_nothing_and_yaml_round_trips() {
        assert!(Inventory::default().is_empty());
        assert!(
            manifests(&Inventory::default(), &options())
                .files
                .is_empty()
        );
        let m = manifests(&inventory(), &options());
        let text = render(&m.files[0]).expect("yaml");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("parse");
        let written: Vec<Value> = m.files[0]
            .objects
            .iter()
            .map(|o| o.object.clone())
            .collect();
        assert_eq!(docs, written);
    }
}
