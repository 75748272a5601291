//! `natop plan`: the cloud calls natop would make for manifests, before
//! they are applied.
//!
//! Each object is planned as its controller would reconcile it: its live
//! copy in the cluster (when there is one) gives what natop recorded (the
//! cloud id, the UID behind its ClientTokens, the tags it applied), the
//! ProviderConfig it names gives the account, read-only calls give the
//! cloud's state, and the controllers' own pure decide functions say what
//! to do. Nothing is written, to the cluster or to the cloud.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use kube::{Api, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::account::{self, Account, AccountArgs};
use crate::api::bandwidth_package::BandwidthPackage;
use crate::api::{
    EXTERNAL_ID_ANNOTATION, ForwardEntry, Ipv6InternetBandwidth, ManagementPolicy, NatGateway,
    SnatEntry,
};
use crate::cloud::alibaba::Action as _;
use crate::cloud::alibaba::actions::bandwidth_package::DescribeBandwidthPackages;
use crate::cloud::alibaba::actions::ipv6::DescribeIpv6Addresses;
use crate::cloud::alibaba::actions::nat_gateway::{
    DescribeNatGateways, NatGateway as CloudGateway,
};
use crate::controller::bandwidth_package::alibaba::decide as package_decide;
use crate::controller::engine::{CommonStatus as _, ManagedKind};
use crate::controller::entries::EntryKind;
use crate::controller::entries::decide::{self as entry_decide, Adoption};
use crate::controller::entries::tables::Snapshot;
use crate::controller::identity::{OWNER_ID_TAG, Ownership};
use crate::controller::ipv6_internet_bandwidth::decide as ipv6_decide;
use crate::controller::nat_gateway::decide::{self as gateway_decide, Subject};

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A readable diff.
    Text,
    /// JSON, for scripts.
    Json,
}

/// `natop plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifest files, or directories of them (`*.yaml`, `*.yml`, read
    /// recursively; `kustomization.yaml` is skipped).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Where the credentials come from: by default the ProviderConfig each
    /// object names, read from the cluster; `--provider-config` for every
    /// object; or an access key.
    #[command(flatten)]
    pub account: AccountArgs,
    /// The namespace of objects that name none.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Text or JSON.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: Output,
    /// The owner id of the natop that will reconcile the objects (its
    /// `--owner-id`); default: the one natop derives from the cluster.
    #[arg(long)]
    pub owner_id: Option<String>,
    /// Also plan the objects the cluster holds, in the manifests'
    /// namespaces, that the manifests no longer have (what a GitOps tool
    /// that prunes would delete).
    #[arg(long)]
    pub prune: bool,
}

/// What natop would do about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verb {
    /// Create the cloud resource.
    Create,
    /// Change it (or, under `Observe`, report that it differs).
    Modify,
    /// Delete it.
    Delete,
    /// Take it as the object's without a write.
    Adopt,
    /// Leave it in the cloud when the object goes (no cloud write).
    Orphan,
    /// Nothing until the cloud is done with it.
    Wait,
    /// The spec cannot be reached as it stands, or the object cannot be planned.
    Problem,
}

/// One object's line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// What natop would do.
    pub action: Verb,
    /// The object's kind.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The cloud id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The cloud calls (actions), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// What changes: parameters, or the differences found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Under `Observe`: natop only reports.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub observe_only: bool,
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The objects natop would act on, or could not plan.
    pub changes: Vec<Change>,
    /// Objects already as their specs say.
    pub unchanged: usize,
    /// Documents that are not natop's managed kinds (ignored).
    pub ignored: usize,
}

impl Plan {
    fn count(&self, verb: Verb) -> usize {
        self.changes.iter().filter(|c| c.action == verb).count()
    }

    /// The exit code: 1 when something could not be planned, 2 when natop
    /// would change something, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.count(Verb::Problem) > 0 {
            1
        } else if self.count(Verb::Create) + self.count(Verb::Modify) + self.count(Verb::Delete) > 0
        {
            2
        } else {
            0
        }
    }

    /// The plan as a person reads it.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for change in &self.changes {
            let mark = match change.action {
                Verb::Create => "+",
                Verb::Modify => "~",
                Verb::Delete => "-",
                Verb::Adopt | Verb::Orphan => "=",
                Verb::Wait => ".",
                Verb::Problem => "!",
            };
            let verb = match change.action {
                Verb::Create => "create",
                Verb::Modify => "modify",
                Verb::Delete => "delete",
                Verb::Adopt => "adopt (no cloud write)",
                Verb::Orphan => "orphan (no cloud write)",
                Verb::Wait => "waits for the cloud",
                Verb::Problem => "cannot be planned or reached",
            };
            let id = change
                .id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
            let calls = if change.calls.is_empty() {
                String::new()
            } else {
                format!(": {}", change.calls.join(", "))
            };
            let observe = if change.observe_only {
                " [Observe: natop reports the drift and writes nothing]"
            } else {
                ""
            };
            text.push_str(&format!(
                "{mark} {} {}/{}{id} {verb}{calls}{observe}\n",
                change.kind, change.namespace, change.name
            ));
            for detail in &change.details {
                text.push_str(&format!("    {detail}\n"));
            }
        }
        let (create, modify, delete) = (
            self.count(Verb::Create),
            self.count(Verb::Modify),
            self.count(Verb::Delete),
        );
        let problems = self.count(Verb::Problem);
        if !self.changes.is_empty() {
            text.push('\n');
        }
        if create + modify + delete == 0 && problems == 0 {
            text.push_str(&format!(
                "No changes: the cloud matches {} object{}.\n",
                self.unchanged,
                if self.unchanged == 1 { "" } else { "s" }
            ));
        } else {
            text.push_str(&format!(
                "Plan: {create} to create, {modify} to modify, {delete} to delete.\n"
            ));
            if problems > 0 {
                text.push_str(&format!(
                    "{problems} object{} cannot be planned or reached (marked !).\n",
                    if problems == 1 { "" } else { "s" }
                ));
            }
        }
        text
    }
}

/// Run `natop plan`; returns the exit code.
pub fn run(args: &PlanArgs) -> i32 {
    let Some(rt) = super::runtime() else {
        return 1;
    };
    match rt.block_on(plan(args)) {
        Ok(plan) => {
            let text = match args.output {
                Output::Text => plan.render(),
                Output::Json => match serde_json::to_string_pretty(&plan) {
                    Ok(json) => json + "\n",
                    Err(e) => {
                        eprintln!("error: cannot write the plan as JSON: {e}");
                        return 1;
                    }
                },
            };
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            plan.exit_code()
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// The manifests' objects, by kind.
#[derive(Debug, Default)]
pub struct Manifests {
    /// NatGateways.
    pub gateways: Vec<NatGateway>,
    /// ForwardEntries.
    pub forward: Vec<ForwardEntry>,
    /// SnatEntries.
    pub snat: Vec<SnatEntry>,
    /// BandwidthPackages.
    pub packages: Vec<BandwidthPackage>,
    /// Ipv6InternetBandwidths.
    pub ipv6: Vec<Ipv6InternetBandwidth>,
    /// Documents of other kinds.
    pub ignored: usize,
}

impl Manifests {
    fn len(&self) -> usize {
        self.gateways.len()
            + self.forward.len()
            + self.snat.len()
            + self.packages.len()
            + self.ipv6.len()
    }
}

/// Every `*.yaml`/`*.yml` file under `paths` (files as given), sorted.
pub fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if is_manifest(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    fn is_manifest(path: &Path) -> bool {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with("kustomization.")
    }
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut out)?;
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(format!("{} does not exist", path.display()));
        }
    }
    out.sort();
    Ok(out)
}

/// The natop objects of YAML `text` (from `source`, for messages), with
/// `namespace` where they name none.
pub fn parse(
    text: &str,
    source: &str,
    namespace: &str,
    into: &mut Manifests,
) -> Result<(), String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("{source}: not YAML: {e}"))?;
    for mut doc in docs {
        if doc.is_null() {
            continue;
        }
        let group = doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if group != "natop.dev" {
            into.ignored += 1;
            continue;
        }
        if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut)
            && !meta.contains_key("namespace")
        {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        }
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("(no name)")
            .to_string();
        fn typed<K: DeserializeOwned>(doc: Value, what: &str) -> Result<K, String> {
            serde_json::from_value(doc).map_err(|e| format!("{what}: {e}"))
        }
        let what = format!("{source}: {kind} {name}");
        match kind.as_str() {
            "NatGateway" => into.gateways.push(typed(doc, &what)?),
            "ForwardEntry" => into.forward.push(typed(doc, &what)?),
            "SnatEntry" => into.snat.push(typed(doc, &what)?),
            "BandwidthPackage" => into.packages.push(typed(doc, &what)?),
            "Ipv6InternetBandwidth" => into.ipv6.push(typed(doc, &what)?),
            _ => into.ignored += 1,
        }
    }
    Ok(())
}

/// The annotation's id, if any.
fn annotated<K: ResourceExt>(object: &K) -> Option<String> {
    object
        .annotations()
        .get(EXTERNAL_ID_ANNOTATION)
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_string())
}

/// What the plan reads: the cluster (when reachable) and the accounts.
struct Reader<'a> {
    args: &'a PlanArgs,
    kube: Option<kube::Client>,
    accounts: HashMap<(String, String), Account>,
    owner_id: String,
    gateways: HashMap<String, Option<CloudGateway>>,
}

impl Reader<'_> {
    /// The live copy of `object`, when the cluster has one.
    async fn live<K>(&self, object: &K) -> Result<Option<K>, String>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let Some(kube) = &self.kube else {
            return Ok(None);
        };
        let namespace = object.namespace().unwrap_or_default();
        let api: Api<K> = Api::namespaced(kube.clone(), &namespace);
        api.get_opt(&object.name_any()).await.map_err(|e| {
            format!(
                "cannot read {} {namespace}/{} from the cluster: {e}",
                K::kind(&()),
                object.name_any()
            )
        })
    }

    /// The account for ProviderConfig `name` (or the flags') and `region`
    /// (`None`: the ProviderConfig's).
    async fn account(&mut self, name: &str, region: Option<&str>) -> Result<Account, String> {
        let name = self
            .args
            .account
            .provider_config
            .clone()
            .unwrap_or_else(|| name.to_string());
        let wanted = region
            .map(str::to_string)
            .or_else(|| self.args.account.region.clone())
            .unwrap_or_default();
        let key = (name.clone(), wanted.clone());
        if let Some(found) = self.accounts.get(&key) {
            return Ok(found.clone());
        }
        let account = if self.args.account.has_keys() {
            let mut flags = self.args.account.clone();
            if !wanted.is_empty() {
                flags.region = Some(wanted.clone());
            }
            account::from_keys(&flags)?
        } else {
            let Some(kube) = &self.kube else {
                return Err(format!(
                    "ProviderConfig {name} cannot be read without a cluster: give an access key instead"
                ));
            };
            let pc = account::provider_config(kube, &name).await?;
            account::from_provider_config(
                kube,
                &pc,
                Some(wanted.as_str()).filter(|r| !r.is_empty()),
            )
            .await?
        };
        self.accounts.insert(key, account.clone());
        Ok(account)
    }

    /// Gateway `id` as the cloud shows it (read once).
    async fn cloud_gateway(
        &mut self,
        account: &Account,
        id: &str,
    ) -> Result<Option<CloudGateway>, String> {
        if let Some(found) = self.gateways.get(id) {
            return Ok(found.clone());
        }
        let found = match account
            .client
            .describe_all(&DescribeNatGateways {
                region_id: account.region.clone(),
                nat_gateway_id: Some(id.to_string()),
                ..Default::default()
            })
            .await
        {
            Ok(found) => found.into_iter().find(|g| g.nat_gateway_id == id),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(format!("reading gateway {id}: {e}")),
        };
        self.gateways.insert(id.to_string(), found.clone());
        Ok(found)
    }
}

async fn plan(args: &PlanArgs) -> Result<Plan, String> {
    let mut manifests = Manifests::default();
    for file in manifest_files(&args.paths)? {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        parse(
            &text,
            &file.display().to_string(),
            &args.namespace,
            &mut manifests,
        )?;
    }
    if manifests.len() == 0 {
        return Err(format!(
            "no natop objects in {} ({} other documents)",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            manifests.ignored
        ));
    }
    let kube = match super::run::connect(args.account.kubeconfig.as_deref()).await {
        Ok(kube) => Some(kube),
        Err(e) if args.account.has_keys() => {
            eprintln!("note: planning without the cluster (no live objects): {e}");
            None
        }
        Err(e) => return Err(e),
    };
    let owner_id = match (&args.owner_id, &kube) {
        (Some(id), _) => id.clone(),
        (None, Some(kube)) => match super::run::derive_owner_id(kube).await {
            Ok(id) => id,
            Err(e) => {
                // Only natop's own tags and whose tables entries may be
                // adopted from depend on it.
                eprintln!("note: planning without natop's owner id: {e}");
                String::new()
            }
        },
        (None, None) => String::new(),
    };
    let mut reader = Reader {
        args,
        kube,
        accounts: HashMap::new(),
        owner_id,
        gateways: HashMap::new(),
    };
    let mut plan = Plan {
        ignored: manifests.ignored,
        ..Plan::default()
    };
    for gateway in &manifests.gateways {
        let change = plan_gateway(&mut reader, gateway).await;
        record(&mut plan, change);
    }
    let mut dnat_rows = HashMap::new();
    for entry in &manifests.forward {
        let change = plan_entry(&mut reader, &manifests, entry, &mut dnat_rows).await;
        record(&mut plan, change);
    }
    let mut snat_rows = HashMap::new();
    for entry in &manifests.snat {
        let change = plan_entry(&mut reader, &manifests, entry, &mut snat_rows).await;
        record(&mut plan, change);
    }
    for package in &manifests.packages {
        let change = plan_package(&mut reader, &manifests, package).await;
        record(&mut plan, change);
    }
    for bandwidth in &manifests.ipv6 {
        let change = plan_ipv6(&mut reader, bandwidth).await;
        record(&mut plan, change);
    }
    if args.prune {
        let Some(kube) = reader.kube.clone() else {
            return Err("--prune needs the cluster".to_string());
        };
        plan.changes.extend(pruned(&kube, &manifests).await?);
    }
    Ok(plan)
}

/// What deleting the object does, as a plan line: a delete when natop
/// deletes the resource, an orphan (no cloud write) otherwise.
pub fn prune_change(
    kind: &str,
    namespace: &str,
    name: &str,
    id: Option<String>,
    management: ManagementPolicy,
    deletion: crate::api::DeletionPolicy,
    delete_call: &str,
) -> Change {
    let deletes = management == ManagementPolicy::Manage
        && deletion == crate::api::DeletionPolicy::Delete
        && id.is_some();
    let mut c = Change {
        action: if deletes { Verb::Delete } else { Verb::Orphan },
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        id,
        calls: Vec::new(),
        details: Vec::new(),
        observe_only: false,
    };
    if deletes {
        c.calls.push(delete_call.to_string());
        c.details
            .push("the object is no longer in the manifests".to_string());
    } else {
        c.details.push(format!(
            "the object is no longer in the manifests; {} leaves the resource in the cloud",
            if management == ManagementPolicy::Observe {
                "managementPolicy Observe"
            } else if deletion == crate::api::DeletionPolicy::Orphan {
                "deletionPolicy Orphan"
            } else {
                "having no cloud id, natop"
            }
        ));
    }
    c
}

/// The objects of kind `K` in `namespace` that the cluster holds and
/// `kept` does not, as plan lines; `delete_call` names the cloud action
/// that deletes one's resource.
async fn pruned_of<K>(
    kube: &kube::Client,
    namespace: &str,
    kept: &[K],
    delete_call: fn(&K) -> &'static str,
) -> Result<Vec<Change>, String>
where
    K: ManagedKind,
{
    // Listed untyped and decoded one by one: one object that does not
    // decode as its kind is said, and hides nothing else.
    let resource = kube::api::ApiResource::erase::<K>(&());
    let raw = Api::<kube::api::DynamicObject>::namespaced_with(kube.clone(), namespace, &resource)
        .list(&Default::default())
        .await
        .map_err(|e| format!("cannot list {} in {namespace}: {e}", K::KIND))?
        .items;
    let mut listed: Vec<K> = Vec::new();
    let mut unreadable = Vec::new();
    for object in raw {
        let name = object.metadata.name.clone().unwrap_or_default();
        match serde_json::to_value(&object).and_then(serde_json::from_value::<K>) {
            Ok(k) => listed.push(k),
            Err(e) if !kept.iter().any(|k| k.name_any() == name) => unreadable.push(Change {
                action: Verb::Problem,
                kind: K::KIND.to_string(),
                namespace: namespace.to_string(),
                name,
                id: None,
                calls: Vec::new(),
                details: vec![format!(
                    "the cluster's copy does not decode as a {}: {e}",
                    K::KIND
                )],
                observe_only: false,
            }),
            Err(_) => {}
        }
    }
    Ok(listed
        .iter()
        .filter(|o| {
            !kept
                .iter()
                .any(|k| k.name_any() == o.name_any() && k.namespace() == o.namespace())
        })
        .map(|o| {
            let managed = o.managed();
            prune_change(
                K::KIND,
                namespace,
                &o.name_any(),
                o.status().and_then(|s| s.id()).map(str::to_string),
                managed.management,
                managed.deletion,
                delete_call(o),
            )
        })
        .chain(unreadable)
        .collect())
}

/// The objects of the manifests' namespaces that the cluster holds and the
/// manifests do not.
async fn pruned(kube: &kube::Client, manifests: &Manifests) -> Result<Vec<Change>, String> {
    let namespaces: BTreeSet<String> = manifests
        .gateways
        .iter()
        .map(|o| o.namespace())
        .chain(manifests.forward.iter().map(|o| o.namespace()))
        .chain(manifests.snat.iter().map(|o| o.namespace()))
        .chain(manifests.packages.iter().map(|o| o.namespace()))
        .chain(manifests.ipv6.iter().map(|o| o.namespace()))
        .map(Option::unwrap_or_default)
        .collect();
    let mut changes = Vec::new();
    for ns in &namespaces {
        changes.extend(pruned_of(kube, ns, &manifests.gateways, |_| "DeleteNatGateway").await?);
        changes.extend(pruned_of(kube, ns, &manifests.forward, |_| "DeleteForwardEntry").await?);
        changes.extend(pruned_of(kube, ns, &manifests.snat, |_| "DeleteSnatEntry").await?);
        changes.extend(
            pruned_of(kube, ns, &manifests.packages, |p: &BandwidthPackage| {
                if p.spec.ucloud.is_some() {
                    "DeleteBandwidthPackage (UCloud)"
                } else {
                    "DeleteBandwidthPackage"
                }
            })
            .await?,
        );
        changes
            .extend(pruned_of(kube, ns, &manifests.ipv6, |_| "DeleteIpv6InternetBandwidth").await?);
    }
    Ok(changes)
}

fn record(plan: &mut Plan, change: Option<Change>) {
    match change {
        Some(change) => plan.changes.push(change),
        None => plan.unchanged += 1,
    }
}

/// A change of `object` to fill in.
fn change<K: ResourceExt + kube::Resource<DynamicType = ()>>(
    object: &K,
    action: Verb,
    id: Option<String>,
) -> Change {
    Change {
        action,
        kind: K::kind(&()).to_string(),
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
        id,
        calls: Vec::new(),
        details: Vec::new(),
        observe_only: false,
    }
}

fn problem<K: ResourceExt + kube::Resource<DynamicType = ()>>(
    object: &K,
    id: Option<String>,
    why: String,
) -> Option<Change> {
    let mut c = change(object, Verb::Problem, id);
    c.details.push(why);
    Some(c)
}

/// A request's parameters as `Name: value` lines (the token, region and
/// empty ones left out).
pub fn parameters<T: Serialize>(request: &T) -> Vec<String> {
    let Ok(Value::Object(fields)) = serde_json::to_value(request) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(k, v)| {
            !v.is_null()
                && !matches!(k.as_str(), "ClientToken" | "RegionId")
                && !(v.as_array().is_some_and(Vec::is_empty))
        })
        .map(|(k, v)| {
            let shown = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}: {shown}")
        })
        .collect()
}

async fn plan_gateway(reader: &mut Reader<'_>, gateway: &NatGateway) -> Option<Change> {
    let live = match reader.live(gateway).await {
        Ok(live) => live,
        Err(e) => return problem(gateway, None, e),
    };
    let status = live.as_ref().and_then(|l| l.status.clone());
    let annotation = annotated(gateway);
    let id = status
        .as_ref()
        .and_then(|s| s.id.clone())
        .or_else(|| annotation.clone());
    let spec = &gateway.spec;
    let account = match reader
        .account(&spec.provider_config_ref.name, spec.region.as_deref())
        .await
    {
        Ok(account) => account,
        Err(e) => return problem(gateway, id, e),
    };
    let uid = live.as_ref().and_then(|l| l.uid()).unwrap_or_default();
    let namespace = gateway.namespace().unwrap_or_default();
    let observe_only = spec.management_policy == ManagementPolicy::Observe;
    let subject = Subject {
        uid: uid.clone(),
        region: account.region.clone(),
        id: id.clone(),
        observe_only,
        adopted: annotation.is_some(),
        ownership: Ownership::new(
            &reader.owner_id,
            "NatGateway",
            &namespace,
            &gateway.name_any(),
            &uid,
        ),
        applied_tags: status.as_ref().map(|s| s.tags.clone()).unwrap_or_default(),
    };
    let observed = if id.is_some() {
        match crate::controller::nat_gateway::observe(
            &account.client,
            &subject,
            &spec.eip_allocation_ids,
            spec.nat_type == crate::api::nat_gateway::NatType::Enhanced,
        )
        .await
        {
            Ok(observed) => observed,
            Err(e) => return problem(gateway, id, format!("reading the gateway: {e}")),
        }
    } else {
        // A gateway natop has no id for: created (natop first looks for one
        // it made earlier for this object, by its tags).
        gateway_decide::Observed::default()
    };
    let step = gateway_decide::decide(spec, &subject, &observed);
    use gateway_decide::Step;
    let write = |call: &str, details: Vec<String>| {
        let mut c = change(gateway, Verb::Modify, id.clone());
        c.calls.push(call.to_string());
        c.details = details;
        // Every difference the spec has with the gateway, as Observe would report them.
        let all = gateway_decide::decide(
            spec,
            &Subject {
                observe_only: true,
                ..subject.clone()
            },
            &observed,
        );
        if let Step::Drifted { message } = all {
            c.details.push(format!("differences: {}", message));
        }
        Some(c)
    };
    use crate::cloud::alibaba::actions::{eip, nat_gateway as ngw, tag};
    match step {
        Step::InSync => None,
        Step::Wait { message, .. } => {
            let mut c = change(gateway, Verb::Wait, id);
            c.details.push(message);
            Some(c)
        }
        Step::Create(request) => {
            let mut c = change(gateway, Verb::Create, None);
            c.calls.push(ngw::CreateNatGateway::NAME.to_string());
            c.details = parameters(&request);
            // Once it is Available, each EIP the spec lists is bound.
            for eip_id in &spec.eip_allocation_ids {
                c.calls.push(eip::AssociateEipAddress::NAME.to_string());
                c.details.push(format!("then AllocationId: {eip_id}"));
            }
            Some(c)
        }
        Step::ModifyAttribute(r) => write(ngw::ModifyNatGatewayAttribute::NAME, parameters(&r)),
        Step::ModifySpec(r) => write(ngw::ModifyNatGatewaySpec::NAME, parameters(&r)),
        Step::Convert(r) => write(ngw::UpdateNatGatewayNatType::NAME, parameters(&r)),
        Step::Tag(r) => write(tag::TagResources::NAME, parameters(&r)),
        Step::Untag(r) => write(tag::UnTagResources::NAME, parameters(&r)),
        Step::Associate(r) => write(eip::AssociateEipAddress::NAME, parameters(&r)),
        Step::Unassociate(r) => write(eip::UnassociateEipAddress::NAME, parameters(&r)),
        Step::Drifted { message } => {
            let mut c = change(gateway, Verb::Modify, id);
            c.observe_only = true;
            c.details.push(message);
            Some(c)
        }
        Step::Invalid { reason, message } => problem(gateway, id, format!("{reason}: {message}")),
    }
}

/// Where an entry's table is, and through which account: the gateway it
/// names (in the manifests, else live), or its own table id.
async fn entry_table<K: EntryKind>(
    reader: &mut Reader<'_>,
    manifests: &Manifests,
    entry: &K,
) -> Result<(Account, Option<String>, bool), String> {
    let common = entry.common();
    let namespace = entry.namespace().unwrap_or_default();
    let Some(gateway_name) = common.gateway else {
        let account = reader.account(common.provider, common.region).await?;
        return Ok((account, common.table.map(str::to_string), false));
    };
    let in_manifests = manifests
        .gateways
        .iter()
        .find(|g| {
            g.name_any() == gateway_name && g.namespace().as_deref() == Some(namespace.as_str())
        })
        .cloned();
    let live = match &reader.kube {
        Some(kube) => Api::<NatGateway>::namespaced(kube.clone(), &namespace)
            .get_opt(gateway_name)
            .await
            .map_err(|e| format!("cannot read NatGateway {namespace}/{gateway_name}: {e}"))?,
        None => None,
    };
    let Some(gateway) = in_manifests.clone().or_else(|| live.clone()) else {
        return Err(format!(
            "NatGateway {namespace}/{gateway_name} is neither in the manifests nor in the cluster"
        ));
    };
    let account = reader
        .account(
            &gateway.spec.provider_config_ref.name,
            gateway.spec.region.as_deref(),
        )
        .await?;
    if let Some(table) = live.as_ref().and_then(K::gateway_table) {
        let id = live
            .as_ref()
            .and_then(|l| l.status.as_ref())
            .and_then(|s| s.id.clone());
        let owned = match id {
            Some(id) => reader.cloud_gateway(&account, &id).await?.is_some_and(|g| {
                g.tags
                    .iter()
                    .any(|t| t.tag_key == OWNER_ID_TAG && t.tag_value == reader.owner_id)
            }),
            None => false,
        };
        return Ok((account, Some(table), owned));
    }
    let id = live
        .as_ref()
        .and_then(|l| l.status.as_ref())
        .and_then(|s| s.id.clone())
        .or_else(|| annotated(&gateway));
    let Some(id) = id else {
        return Ok((account, None, false));
    };
    let Some(cloud) = reader.cloud_gateway(&account, &id).await? else {
        return Ok((account, None, false));
    };
    let owned = cloud
        .tags
        .iter()
        .any(|t| t.tag_key == OWNER_ID_TAG && t.tag_value == reader.owner_id);
    let table = K::cloud_gateway_table(&cloud);
    Ok((account, table, owned))
}

/// The public IPs of BandwidthPackage `name`, as its live status lists them.
async fn package_ips(
    reader: &Reader<'_>,
    namespace: &str,
    name: &str,
) -> Result<Vec<String>, String> {
    let Some(kube) = &reader.kube else {
        return Err(format!(
            "BandwidthPackage {name}'s IPs are known only from the cluster"
        ));
    };
    let live = Api::<BandwidthPackage>::namespaced(kube.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot read BandwidthPackage {namespace}/{name}: {e}"))?;
    let ips: Vec<String> = live
        .and_then(|p| p.status)
        .map(|s| s.public_ip_addresses.into_iter().map(|ip| ip.ip).collect())
        .unwrap_or_default();
    if ips.is_empty() {
        return Err(format!(
            "BandwidthPackage {namespace}/{name} has no public IPs in the cluster yet: plan this entry once the package is Ready"
        ));
    }
    Ok(ips)
}

async fn plan_entry<K: EntryKind>(
    reader: &mut Reader<'_>,
    manifests: &Manifests,
    entry: &K,
    rows: &mut HashMap<String, Vec<K::Row>>,
) -> Option<Change> {
    let live = match reader.live(entry).await {
        Ok(live) => live,
        Err(e) => return problem(entry, None, e),
    };
    let status = live
        .as_ref()
        .and_then(|l| l.status().cloned())
        .unwrap_or_default();
    use crate::controller::entries::EntryStatus as _;
    let recorded = status.fields().id.clone();
    let id = recorded.clone().or_else(|| annotated(entry));
    if let Err(why) = entry.validate() {
        return problem(entry, id, why);
    }
    let namespace = entry.namespace().unwrap_or_default();
    let ips = match entry.common().package {
        Some(package) => match package_ips(reader, &namespace, package).await {
            Ok(ips) => ips,
            Err(e) => return problem(entry, id, e),
        },
        None => Vec::new(),
    };
    let desired = match entry.desired(&ips) {
        Ok(desired) => desired,
        Err(e) => return problem(entry, id, e),
    };
    let (account, table, owned) = match entry_table(reader, manifests, entry).await {
        Ok(found) => found,
        Err(e) => return problem(entry, id, e),
    };
    let Some(table) = table else {
        // The gateway is still to be created: so is the entry.
        let mut c = change(entry, Verb::Create, None);
        c.calls.push(K::CREATE.to_string());
        c.details.push(format!(
            "{} (once its gateway is created)",
            K::natural_key(&desired)
        ));
        return Some(c);
    };
    if !rows.contains_key(&table) {
        match K::describe(&account.client, &account.region, &table).await {
            Ok((found, _pages)) => {
                rows.insert(table.clone(), found);
            }
            Err(e) => return problem(entry, id, format!("reading {} {table}: {e}", K::TABLE)),
        }
    }
    let listed = rows.get(&table).cloned().unwrap_or_default();
    let snapshot = Snapshot::read(listed, std::time::Instant::now(), 0);
    let claimed: BTreeSet<String> = manifests_claims::<K>(manifests, entry);
    let claims = |id: &str| claimed.contains(id);
    let adoption = Adoption {
        owned_table: owned,
        claimed: &claims,
    };
    let step = entry_decide::decide(entry, &status, &table, &desired, &snapshot, &adoption);
    use entry_decide::Step;
    let (create_call, modify_call) = (K::CREATE, K::MODIFY);
    match step {
        Step::InSync => None,
        Step::Busy(message) => {
            let mut c = change(entry, Verb::Wait, id);
            c.details.push(message);
            Some(c)
        }
        Step::Missing(message) => problem(entry, id, message),
        Step::Drifted(message) => {
            let mut c = change(entry, Verb::Modify, id.clone());
            c.observe_only = true;
            c.details = changed_fields::<K>(&desired, &snapshot, id.as_deref());
            if c.details.is_empty() {
                c.details.push(message);
            }
            Some(c)
        }
        Step::Create { .. } => {
            let mut c = change(entry, Verb::Create, None);
            c.calls.push(create_call.to_string());
            c.details = desired_lines(&desired);
            c.details.push(format!("in {} {table}", K::TABLE));
            Some(c)
        }
        Step::Claim { candidate } => {
            let mut c = change(entry, Verb::Create, Some(candidate.clone()));
            c.calls.push(create_call.to_string());
            c.details.push(format!(
                "entry {candidate} holds {}: natop sends its create (with this object's ClientToken) to learn whether it is this object's",
                K::natural_key(&desired)
            ));
            Some(c)
        }
        Step::Adopt { candidate } => {
            let mut c = change(entry, Verb::Adopt, Some(candidate));
            c.details.push(K::natural_key(&desired));
            Some(c)
        }
        Step::Replay => {
            let mut c = change(entry, Verb::Create, id);
            c.calls.push(create_call.to_string());
            c.details.push(
                "the create status.creating records is sent again to learn which entry it made"
                    .to_string(),
            );
            Some(c)
        }
        Step::Modify { id, drift } => {
            let mut c = change(entry, Verb::Modify, Some(id.clone()));
            c.calls.push(modify_call.to_string());
            c.details = changed_fields::<K>(&desired, &snapshot, Some(&id));
            if c.details.is_empty() {
                c.details = drift;
            }
            Some(c)
        }
    }
}

/// How the entry `id` (else the one holding the desired key) differs from
/// `desired`, as `field: cloud -> spec` lines.
fn changed_fields<K: EntryKind>(
    desired: &K::Desired,
    snapshot: &Snapshot<K::Row>,
    id: Option<&str>,
) -> Vec<String> {
    let row = id
        .and_then(|id| snapshot.get(id))
        .or_else(|| snapshot.rows.iter().find(|r| K::has_key(desired, r)));
    row.map(|row| {
        K::differences(desired, row)
            .into_iter()
            .map(|d| format!("{}: {} -> {}", d.field, d.cloud, d.spec))
            .collect()
    })
    .unwrap_or_default()
}

/// The ids other objects of `entry`'s kind in the manifests name by
/// annotation.
fn manifests_claims<K: EntryKind>(manifests: &Manifests, entry: &K) -> BTreeSet<String> {
    let forward = manifests.forward.iter().map(|o| {
        (
            <ForwardEntry as EntryKind>::KIND,
            o.name_any(),
            o.namespace(),
            annotated(o),
        )
    });
    let snat = manifests.snat.iter().map(|o| {
        (
            <SnatEntry as EntryKind>::KIND,
            o.name_any(),
            o.namespace(),
            annotated(o),
        )
    });
    forward
        .chain(snat)
        .filter(|(kind, name, namespace, _)| {
            *kind == K::KIND && (*name != entry.name_any() || *namespace != entry.namespace())
        })
        .filter_map(|(_, _, _, id)| id)
        .collect()
}

/// A desired entry as `field: value` lines.
fn desired_lines<T: Serialize>(desired: &T) -> Vec<String> {
    match serde_json::to_value(desired) {
        Ok(Value::Object(fields)) => fields
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect(),
        _ => Vec::new(),
    }
}

async fn plan_package(
    reader: &mut Reader<'_>,
    manifests: &Manifests,
    package: &BandwidthPackage,
) -> Option<Change> {
    let Some(spec) = &package.spec.alibaba else {
        return problem(
            package,
            annotated(package),
            "UCloud packages are not planned: natop buys them once and only watches them expire"
                .to_string(),
        );
    };
    let live = match reader.live(package).await {
        Ok(live) => live,
        Err(e) => return problem(package, None, e),
    };
    let status = live.as_ref().and_then(|l| l.status.clone());
    let annotation = annotated(package);
    let wanted = status
        .as_ref()
        .and_then(|s| s.id.clone())
        .or_else(|| annotation.clone());
    // With natGatewayRef the package uses the gateway's account.
    let (pc, region) = match &spec.nat_gateway_ref {
        Some(r) => {
            let gateway = manifests
                .gateways
                .iter()
                .find(|g| g.name_any() == r.name && g.namespace() == package.namespace())
                .cloned();
            match gateway {
                Some(g) => (
                    g.spec.provider_config_ref.name.clone(),
                    g.spec.region.clone(),
                ),
                None => (
                    package.spec.provider_config_ref.name.clone(),
                    package.spec.region.clone(),
                ),
            }
        }
        None => (
            package.spec.provider_config_ref.name.clone(),
            package.spec.region.clone(),
        ),
    };
    let account = match reader.account(&pc, region.as_deref()).await {
        Ok(account) => account,
        Err(e) => return problem(package, wanted, e),
    };
    let cloud = match &wanted {
        Some(id) => match account
            .client
            .describe_all(&DescribeBandwidthPackages {
                region_id: account.region.clone(),
                bandwidth_package_id: Some(id.clone()),
                ..Default::default()
            })
            .await
        {
            Ok(found) => found.into_iter().find(|p| &p.bandwidth_package_id == id),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                return problem(
                    package,
                    wanted.clone(),
                    format!("reading package {id}: {e}"),
                );
            }
        },
        None => None,
    };
    let observe = package.spec.management_policy == ManagementPolicy::Observe;
    let input = package_decide::Input {
        converted: status
            .as_ref()
            .and_then(|s| s.converted_instance_id.clone()),
        observe,
        wanted: wanted.clone(),
        package: cloud,
    };
    use package_decide::Step;
    let modify = |call: &str, detail: String| {
        let mut c = change(package, Verb::Modify, wanted.clone());
        c.calls.push(call.to_string());
        c.details.push(detail);
        Some(c)
    };
    match package_decide::decide(spec, &input) {
        Step::InSync | Step::Converted(_) => None,
        Step::Wait(message) => {
            let mut c = change(package, Verb::Wait, wanted.clone());
            c.details.push(message);
            Some(c)
        }
        Step::Convert => modify(
            "ConvertBandwidthPackage",
            "convertToCommonBandwidth: true".into(),
        ),
        Step::Bandwidth(mbps) => modify("ModifyBandwidthPackageSpec", format!("Bandwidth: {mbps}")),
        Step::Attribute { name, description } => {
            let mut lines = Vec::new();
            if let Some(name) = name {
                lines.push(format!("Name: {name}"));
            }
            if let Some(d) = description {
                lines.push(format!("Description: {d}"));
            }
            let mut c = change(package, Verb::Modify, wanted.clone());
            c.calls.push("ModifyBandwidthPackageAttribute".into());
            c.details = lines;
            Some(c)
        }
        Step::AddIps(n) => modify("AddBandwidthPackageIps", format!("IpCount: {n}")),
        Step::RemoveIps(ips) => modify(
            "RemoveBandwidthPackageIps",
            format!("RemovedIpAddresses: {}", ips.join(",")),
        ),
        Step::Blocked(ips) => problem(
            package,
            wanted.clone(),
            format!(
                "ipCount removes IPs entries still use: {}",
                ips.iter()
                    .map(|ip| ip.ip.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Step::NotFound(id) => problem(
            package,
            wanted.clone(),
            match id {
                Some(id) => format!("package {id} does not exist, and Observe never creates one"),
                None => "no package to observe: set the annotation natop.dev/external-id".into(),
            },
        ),
        Step::Create { .. } => {
            let mut c = change(package, Verb::Create, None);
            c.calls.push("CreateBandwidthPackage".into());
            c.details.push(format!("Bandwidth: {}", spec.bandwidth));
            c.details.push(format!("IpCount: {}", spec.ip_count));
            Some(c)
        }
        Step::Drifted(what) => {
            let mut c = change(package, Verb::Modify, wanted.clone());
            c.observe_only = true;
            c.details.push(what);
            Some(c)
        }
    }
}

async fn plan_ipv6(reader: &mut Reader<'_>, bandwidth: &Ipv6InternetBandwidth) -> Option<Change> {
    let live = match reader.live(bandwidth).await {
        Ok(live) => live,
        Err(e) => return problem(bandwidth, None, e),
    };
    let spec = &bandwidth.spec;
    let recorded = live
        .as_ref()
        .and_then(|l| l.status.as_ref())
        .and_then(|s| s.id.clone());
    let annotation = annotated(bandwidth);
    let id = recorded.clone().or_else(|| annotation.clone());
    let account = match reader
        .account(&spec.provider_config_ref.name, spec.region.as_deref())
        .await
    {
        Ok(account) => account,
        Err(e) => return problem(bandwidth, id, e),
    };
    let address = match account
        .client
        .describe_all(&DescribeIpv6Addresses {
            region_id: account.region.clone(),
            ipv6_address_id: Some(spec.ipv6_address_id.clone()),
            ..Default::default()
        })
        .await
    {
        Ok(found) => found
            .into_iter()
            .find(|a| a.ipv6_address_id == spec.ipv6_address_id),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            return problem(
                bandwidth,
                id,
                format!("reading {}: {e}", spec.ipv6_address_id),
            );
        }
    };
    let known = ipv6_decide::Known {
        recorded,
        annotated: annotation,
        observe: spec.management_policy == ManagementPolicy::Observe,
    };
    use ipv6_decide::Step;
    match ipv6_decide::decide(spec, &known, address.as_ref()) {
        Step::InSync => None,
        Step::Wait { state } => {
            let mut c = change(bandwidth, Verb::Wait, id);
            c.details
                .push(format!("{} is {state}", spec.ipv6_address_id));
            Some(c)
        }
        Step::Allocate { .. } => {
            let mut c = change(bandwidth, Verb::Create, None);
            c.calls.push("AllocateIpv6InternetBandwidth".into());
            c.details
                .push(format!("Ipv6AddressId: {}", spec.ipv6_address_id));
            c.details.push(format!("Bandwidth: {}", spec.bandwidth));
            c.details.push(format!(
                "InternetChargeType: {}",
                spec.internet_charge_type.as_str()
            ));
            Some(c)
        }
        Step::Resize { was } => {
            let mut c = change(bandwidth, Verb::Modify, id);
            c.calls.push("ModifyIpv6InternetBandwidth".into());
            c.details
                .push(format!("bandwidth: {was} -> {}", spec.bandwidth));
            Some(c)
        }
        Step::Drifted { was } => {
            let mut c = change(bandwidth, Verb::Modify, id);
            c.observe_only = true;
            c.details
                .push(format!("bandwidth: {was} -> {}", spec.bandwidth));
            Some(c)
        }
        Step::NoAddress => problem(
            bandwidth,
            id,
            format!(
                "{} does not exist in {}",
                spec.ipv6_address_id, account.region
            ),
        ),
        Step::WrongGateway { gateway } => problem(
            bandwidth,
            id,
            format!(
                "{} belongs to {gateway}, not {}",
                spec.ipv6_address_id, spec.ipv6_gateway_id
            ),
        ),
        Step::Mismatch { found, wanted } => problem(
            bandwidth,
            id,
            format!(
                "{} carries bandwidth {found}, not {}",
                spec.ipv6_address_id,
                wanted.unwrap_or_else(|| "the one to adopt".into())
            ),
        ),
        Step::Missing => problem(
            bandwidth,
            id,
            format!(
                "{} has no internet bandwidth to observe",
                spec.ipv6_address_id
            ),
        ),
        Step::ChargeDiffers { charge } => problem(
            bandwidth,
            id,
            format!("the bandwidth is billed {charge}, and internetChargeType cannot change"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
    use crate::cloud::alibaba::actions::nat_gateway::ModifyNatGatewayAttribute;
    use crate::controller::entries::forward::DnatRow;

    fn change_of(action: Verb, name: &str) -> Change {
        Change {
            action,
            kind: "ForwardEntry".into(),
            namespace: "team-a".into(),
            name: name.into(),
            id: Some("fwd-1".into()),
            calls: Vec::new(),
            details: Vec::new(),
            observe_only: false,
        }
    }

    #[test]
    fn exit_codes_follow_terraforms_detailed_exit_code() {
        let mut plan = Plan {
            unchanged: 3,
            ..Plan::default()
        };
        assert_eq!(plan.exit_code(), 0);
        // Waiting and adopting change nothing in the cloud.
        plan.changes.push(change_of(Verb::Wait, "a"));
        plan.changes.push(change_of(Verb::Adopt, "b"));
        assert_eq!(plan.exit_code(), 0);
        for verb in [Verb::Create, Verb::Modify, Verb::Delete] {
            let mut with = plan.clone();
            with.changes.push(change_of(verb, "c"));
            assert_eq!(with.exit_code(), 2, "{verb:?}");
        }
        plan.changes.push(change_of(Verb::Modify, "c"));
        plan.changes.push(change_of(Verb::Problem, "d"));
        assert_eq!(plan.exit_code(), 1);
    }

    #[test]
    fn the_plan_reads_as_a_diff() {
        let mut modify = change_of(Verb::Modify, "web");
        modify.calls.push("ModifyForwardEntry".into());
        modify.details.push("internalPort: 80 -> 8080".into());
        let mut create = change_of(Verb::Create, "api");
        create.id = None;
        create.calls.push("CreateForwardEntry".into());
        create.details.push("externalPort: 443".into());
        let mut drift = change_of(Verb::Modify, "ssh");
        drift.observe_only = true;
        drift.details.push("name: a -> b".into());
        let plan = Plan {
            changes: vec![modify, create, drift],
            unchanged: 4,
            ignored: 1,
        };
        assert_eq!(
            plan.render(),
            "~ ForwardEntry team-a/web (fwd-1) modify: ModifyForwardEntry\n    internalPort: 80 -> 8080\n\
             + ForwardEntry team-a/api create: CreateForwardEntry\n    externalPort: 443\n\
             ~ ForwardEntry team-a/ssh (fwd-1) modify [Observe: natop reports the drift and writes nothing]\n    name: a -> b\n\
             \nPlan: 1 to create, 2 to modify, 0 to delete.\n"
        );
        let quiet = Plan {
            unchanged: 1,
            ..Plan::default()
        };
        assert_eq!(quiet.render(), "No changes: the cloud matches 1 object.\n");
        let mut broken = Plan::default();
        broken.changes.push(change_of(Verb::Problem, "x"));
        assert!(
            broken
                .render()
                .ends_with("Plan: 0 to create, 0 to modify, 0 to delete.\n1 object cannot be planned or reached (marked !).\n")
        );
        let json = serde_json::to_value(&plan).expect("json");
        assert_eq!(json["changes"][0]["action"], "modify");
        assert_eq!(json["changes"][2]["observeOnly"], true);
        assert_eq!(json["unchanged"], 4);
    }

    #[test]
    fn manifests_are_natop_objects_of_yaml_files_and_directories() {
        let dir = std::env::temp_dir().join(format!("natop-plan-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("sub")).expect("dir");
        std::fs::write(dir.join("kustomization.yaml"), "resources: [a.yaml]\n").expect("write");
        std::fs::write(dir.join("notes.txt"), "not yaml").expect("write");
        std::fs::write(
            dir.join("a.yaml"),
            "apiVersion: natop.dev/v1alpha1\nkind: NatGateway\nmetadata:\n  name: gw\nspec:\n  vpcId: vpc-1\n  vSwitchId: vsw-1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("sub/b.yml"),
            "apiVersion: natop.dev/v1alpha1\nkind: ForwardEntry\nmetadata:\n  name: web\n  namespace: other\nspec:\n  natGatewayRef: {name: gw}\n  externalIp: 47.1.2.3\n  externalPort: 80\n  internalIp: 10.0.0.1\n  internalPort: 80\n  ipProtocol: TCP\n",
        )
        .expect("write");
        let files = manifest_files(std::slice::from_ref(&dir)).expect("files");
        assert_eq!(files, vec![dir.join("a.yaml"), dir.join("sub/b.yml")]);
        let mut m = Manifests::default();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("read");
            parse(&text, "f", "team-a", &mut m).expect("parse");
        }
        assert_eq!((m.gateways.len(), m.forward.len(), m.ignored), (1, 1, 1));
        // The default namespace only where none is named.
        assert_eq!(m.gateways[0].namespace().as_deref(), Some("team-a"));
        assert_eq!(m.forward[0].namespace().as_deref(), Some("other"));
        let bad = parse(
            "apiVersion: natop.dev/v1alpha1\nkind: ForwardEntry\nmetadata:\n  name: x\nspec:\n  externalPort: 80\n",
            "bad.yaml",
            "team-a",
            &mut m,
        )
        .expect_err("no internalIp");
        assert!(bad.starts_with("bad.yaml: ForwardEntry x: "), "{bad}");
        assert!(manifest_files(&[dir.join("missing")]).is_err());
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn a_pruned_object_deletes_only_what_natop_manages_and_may_delete() {
        use crate::api::DeletionPolicy::{Delete, Orphan};
        use ManagementPolicy::{Manage, Observe};
        let id = || Some("fwd-1".to_string());
        for (management, deletion, id, verb) in [
            (Manage, Delete, id(), Verb::Delete),
            (Manage, Orphan, id(), Verb::Orphan),
            (Observe, Delete, id(), Verb::Orphan),
            (Manage, Delete, None, Verb::Orphan),
        ] {
            let c = prune_change(
                "ForwardEntry",
                "a",
                "web",
                id,
                management,
                deletion,
                "DeleteForwardEntry",
            );
            assert_eq!(c.action, verb, "{management:?} {deletion:?}");
            assert_eq!(c.calls.is_empty(), verb != Verb::Delete);
        }
        let plan = Plan {
            changes: vec![prune_change(
                "ForwardEntry",
                "a",
                "web",
                id(),
                Observe,
                Delete,
                "x",
            )],
            ..Plan::default()
        };
        assert_eq!(plan.exit_code(), 0);
        assert!(
            plan.render()
                .starts_with("= ForwardEntry a/web (fwd-1) orphan (no cloud write)\n")
        );
    }

    #[test]
    fn parameters_leave_out_the_token_the_region_and_what_is_unset() {
        let request = ModifyNatGatewayAttribute {
            nat_gateway_id: "ngw-1".into(),
            region_id: "cn-hangzhou".into(),
            name: Some("edge".into()),
            ..ModifyNatGatewayAttribute::default()
        };
        assert_eq!(parameters(&request), ["Name: edge", "NatGatewayId: ngw-1"]);
    }

    #[test]
    fn changed_fields_name_the_field_the_cloud_value_and_the_spec_value() {
        let entry: ForwardEntry = serde_json::from_value(serde_json::json!({
            "apiVersion": "natop.dev/v1alpha1",
            "kind": "ForwardEntry",
            "metadata": {"name": "web", "namespace": "a"},
            "spec": {
                "forwardTableId": "ftb-1", "externalIp": "47.1.2.3", "externalPort": 80,
                "internalIp": "10.0.0.1", "internalPort": 8080, "ipProtocol": "TCP"
            }
        }))
        .expect("entry");
        let desired = entry.desired(&[]).expect("desired");
        let cloud = ForwardTableEntry {
            forward_entry_id: "fwd-1".into(),
            external_ip: "47.1.2.3".into(),
            external_port: Some("80".into()),
            internal_ip: "10.0.0.1".into(),
            internal_port: Some("80".into()),
            ip_protocol: "tcp".into(),
            status: "Available".into(),
            ..Default::default()
        };
        let snapshot = Snapshot::read(vec![DnatRow::from(&cloud)], std::time::Instant::now(), 1);
        assert_eq!(
            changed_fields::<ForwardEntry>(&desired, &snapshot, Some("fwd-1")),
            ["internalPort: 80 -> 8080"]
        );
        // Found by its key when no id is known.
        assert_eq!(
            changed_fields::<ForwardEntry>(&desired, &snapshot, None),
            ["internalPort: 80 -> 8080"]
        );
        assert!(changed_fields::<ForwardEntry>(&desired, &snapshot, Some("fwd-9")).len() == 1);
    }
}
