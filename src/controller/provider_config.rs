//! The ProviderConfig controller: load the credentials, make one cheap read
//! call, and say in `status.conditions` whether they work. A change of the
//! ProviderConfig or of its Secret is re-checked at once; at rest it is
//! re-checked every drift interval.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PartialObjectMeta;
use kube::runtime::controller::{self, Config, Controller};

use super::engine::runner::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::runtime::{PredicateConfig, WatchStreamExt};
use kube::{Api, ResourceExt};
use tracing::{debug, info, instrument, warn};

use super::context::Context;
use super::identity::{Found, OWNER_ID_TAG, object_tag_value, unclaimed};
use super::ownership;
use super::providers::{CloudClient, ProviderError, Resolved, reason};
use super::reconcile::{self, ReconcileError, sanitize_reason};
use super::status::{self, Verdict};
use super::timing;
use crate::api::NatGateway;
use crate::api::provider_config::CloudProvider;
use crate::api::provider_config::{ProviderConfig, ProviderConfigStatus};
use crate::cloud::alibaba::Service;
use crate::cloud::alibaba::actions::nat_gateway::{DescribeNatGateways, Tag};
use crate::cloud::alibaba::actions::sts::GetCallerIdentity;
use crate::cloud::ucloud::actions::{DescribeBandwidthPackage, GetUserInfo};
use crate::cloud::{CloudError, ErrorCategory};
use crate::metrics::{ErrorLabels, UnclaimedLabels};

/// The kind, as metrics and logs name it.
pub const KIND: &str = "ProviderConfig";

/// Run the ProviderConfig controller until `ctx.cancel` is cancelled.
pub async fn run(ctx: Arc<Context>) {
    let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
    // The operator's label selector (sharding) applies to ProviderConfigs too.
    // A check runs when the spec, labels or annotations change (a user's
    // touch asks for one), when the Secret changes, and on the drift
    // interval; not when natop's own status write comes back through the
    // watch (that would check every time twice and drop the clients it just
    // built). The cache still holds every version. ProviderConfigs are few:
    // their labels and annotations are kept.
    let (reader, writer) = kube::runtime::reflector::store();
    let changes = kube::runtime::reflector(
        writer,
        watcher(api, ctx.config.watcher())
            .default_backoff()
            .modify(|pc: &mut ProviderConfig| pc.metadata.managed_fields = None),
    )
    .applied_objects()
    .predicate_filter(check_inputs, PredicateConfig::default());
    let controller = Controller::for_stream(changes, reader);
    let store = controller.store();
    // The other controllers read ProviderConfigs from this cache.
    ctx.providers.use_store(store.clone());
    let mut controller =
        controller.with_config(Config::default().concurrency(ctx.config.concurrency));
    // Metadata only: the Secrets' data never reaches this process through the
    // watch; a changed Secret has a new resourceVersion, which is all we need.
    for namespace in &ctx.config.secret_namespaces {
        let secrets: Api<PartialObjectMeta<Secret>> =
            Api::namespaced(ctx.client.clone(), namespace);
        let store = store.clone();
        controller = controller.watches(secrets, watcher::Config::default(), move |secret| {
            referencing(&store, &secret)
        });
    }
    let cancel = ctx.cancel.clone();
    let after = ctx.clone();
    info!(
        secret_namespaces = ?ctx.config.secret_namespaces,
        "starting the ProviderConfig controller"
    );
    controller
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            let ctx = after.clone();
            async move {
                match result {
                    Ok((object, _)) => debug!(provider_config = %object.name, "reconciled"),
                    // Already logged and counted by the error policy.
                    Err(controller::Error::ReconcilerFailed(..)) => {}
                    Err(controller::Error::ObjectNotFound(object)) => {
                        // Deleted: its cached clients are never asked for again.
                        ctx.providers.invalidate(&object.name);
                        ctx.checks.record(&object.name, None);
                        ctx.pacing.settled(&pacing_key(&object.name));
                        debug!(provider_config = %object.name, "ProviderConfig is gone");
                    }
                    Err(error) => warn!(error = %error, "ProviderConfig controller"),
                }
            }
        })
        .await;
    info!("ProviderConfig controller stopped");
}

/// What a change must touch for a ProviderConfig to be checked again: its
/// spec (generation), labels and annotations; never its status.
fn check_inputs(pc: &ProviderConfig) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    pc.metadata.generation.hash(&mut hasher);
    pc.metadata.labels.hash(&mut hasher);
    pc.metadata.annotations.hash(&mut hasher);
    Some(hasher.finish())
}

/// The last check of each ProviderConfig that ended at rest or stalled, by
/// name.
#[derive(Debug, Default)]
pub struct Checks(std::sync::Mutex<std::collections::HashMap<String, LastCheck>>);

/// What a check read and when it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCheck {
    /// [`check_inputs`] of the ProviderConfig checked.
    inputs: u64,
    /// The Secret's resourceVersion the check read ("" for none).
    secret_version: String,
    /// When the check's status was written.
    at: std::time::Instant,
}

impl Checks {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, LastCheck>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, name: &str) -> Option<LastCheck> {
        self.map().get(name).cloned()
    }

    fn record(&self, name: &str, check: Option<LastCheck>) {
        match check {
            Some(check) => self.map().insert(name.to_string(), check),
            None => self.map().remove(name),
        };
    }
}

/// Whether a trigger of `pc` (inputs `inputs`) repeats the check `last`:
/// the same spec, labels and annotations, the same Secret version (`None`:
/// not read yet, so not compared), and less than half a drift interval ago
/// (a drift re-check comes after about one). `Some(wait)` until the next
/// drift check when it does.
fn repeats(
    last: &LastCheck,
    inputs: u64,
    secret_version: Option<&str>,
    now: std::time::Instant,
    drift: Duration,
) -> Option<Duration> {
    let age = now.saturating_duration_since(last.at);
    (last.inputs == inputs
        && secret_version.is_none_or(|v| v == last.secret_version)
        && age < drift / 2)
        .then(|| drift.saturating_sub(age))
}

/// The ProviderConfigs whose secretRef names `secret`.
fn referencing(
    store: &Store<ProviderConfig>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<ProviderConfig>> {
    let (Some(namespace), Some(name)) = (
        secret.metadata.namespace.as_deref(),
        secret.metadata.name.as_deref(),
    ) else {
        return Vec::new();
    };
    refs_naming(store.state().iter().map(AsRef::as_ref), namespace, name)
}

/// The ProviderConfigs among `pcs` whose secretRef is `namespace/name`.
fn refs_naming<'a>(
    pcs: impl IntoIterator<Item = &'a ProviderConfig>,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<ProviderConfig>> {
    pcs.into_iter()
        .filter(|pc| {
            pc.spec
                .credentials
                .secret_ref()
                .is_some_and(|r| r.namespace == namespace && r.name == name)
        })
        .map(ObjectRef::from_obj)
        .collect()
}

/// The key of a ProviderConfig's backoff. By name, not uid: the clients it
/// builds are cached by name, and a deleted one (whose uid the watch no
/// longer knows) is forgotten by name.
fn pacing_key(name: &str) -> String {
    format!("{KIND}/{name}")
}

/// What to do after the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The credentials work: check again after the drift interval.
    AtRest,
    /// A retryable problem: retry with backoff.
    Retry,
    /// A problem only a change can fix: wait for one (and look again after the
    /// drift interval, in case the cloud side changes).
    Stalled,
    /// Shutting down: write nothing.
    Cancelled,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checked {
    verdict: Verdict,
    next: Next,
    /// The bounded error category for metrics, when not Ready.
    category: Option<&'static str>,
    /// The account the credentials belong to, when the cloud said.
    account: Option<String>,
    /// The Secret's resourceVersion the check read, when it got that far.
    secret_version: Option<String>,
    /// The endpoints the client calls (API, STS), when it was built.
    endpoints: Option<(String, Option<String>)>,
}

impl Checked {
    /// Add `hint` to the message of a verdict that is not Ready.
    fn append(&mut self, hint: &str) {
        if let Verdict::Progressing { message, .. } | Verdict::Stalled { message, .. } =
            &mut self.verdict
        {
            message.push_str(hint);
        }
    }

    fn from_provider_error(error: &ProviderError) -> Checked {
        let reason = error.reason();
        let message = error.to_string();
        if error.is_retryable() {
            Checked {
                verdict: Verdict::progressing(reason, message),
                next: Next::Retry,
                category: Some(reason),
                account: None,
                secret_version: None,
                endpoints: None,
            }
        } else {
            Checked {
                verdict: Verdict::stalled(reason, message),
                next: Next::Stalled,
                category: Some(reason),
                account: None,
                secret_version: None,
                endpoints: None,
            }
        }
    }

    fn from_cloud_error(error: &CloudError, secret: &str) -> Checked {
        let category = error.category();
        match category {
            ErrorCategory::Cancelled => Checked {
                verdict: Verdict::progressing("Cancelled", "natop is shutting down"),
                next: Next::Cancelled,
                category: None,
                account: None,
                secret_version: None,
                endpoints: None,
            },
            ErrorCategory::Credentials => {
                let reason = match error {
                    CloudError::Credentials { reason, .. } => reason,
                    _ => "Credentials",
                };
                Checked {
                    verdict: Verdict::progressing(
                        reason,
                        format!(
                            "cannot get temporary credentials ({secret}): {}; objects using \
                             this ProviderConfig wait, and natop tries again",
                            describe_cloud_error(error)
                        ),
                    ),
                    next: Next::Retry,
                    category: Some(reason),
                    account: None,
                    secret_version: None,
                    endpoints: None,
                }
            }
            ErrorCategory::Auth
                if matches!(error.code(), Some("Forbidden.RAM" | "NoPermission")) =>
            {
                Checked {
                    verdict: Verdict::stalled(
                        &cloud_reason(error),
                        format!(
                            "the credentials ({secret}) lack a RAM permission natop needs: {}; \
                             grant it (docs/ram-policy.json lists every one)",
                            describe_cloud_error(error)
                        ),
                    ),
                    next: Next::Stalled,
                    category: Some("Auth"),
                    account: None,
                    secret_version: None,
                    endpoints: None,
                }
            }
            ErrorCategory::Auth => Checked {
                verdict: Verdict::stalled(
                    reason::CREDENTIALS_REJECTED,
                    format!(
                        "the cloud rejected the credentials ({secret}): {}; put working \
                         credentials there",
                        describe_cloud_error(error)
                    ),
                ),
                next: Next::Stalled,
                category: Some(reason::CREDENTIALS_REJECTED),
                account: None,
                secret_version: None,
                endpoints: None,
            },
            ErrorCategory::Transport | ErrorCategory::Timeout => Checked {
                verdict: Verdict::progressing(
                    reason::ENDPOINT_UNREACHABLE,
                    format!(
                        "cannot reach the cloud endpoint: {}{}",
                        describe_cloud_error(error),
                        certificate_hint(error)
                    ),
                ),
                next: Next::Retry,
                category: Some(reason::ENDPOINT_UNREACHABLE),
                account: None,
                secret_version: None,
                endpoints: None,
            },
            ErrorCategory::Endpoint => Checked {
                verdict: Verdict::progressing(
                    reason::ENDPOINT_ERROR,
                    format!(
                        "the endpoint answered, but not as the cloud's API does (a wrong path, \
                         or a proxy in the way): {}; check spec.endpoint",
                        describe_cloud_error(error)
                    ),
                ),
                next: Next::Retry,
                category: Some(reason::ENDPOINT_ERROR),
                account: None,
                secret_version: None,
                endpoints: None,
            },
            c if c.is_retryable() => Checked {
                verdict: Verdict::progressing(&cloud_reason(error), describe_cloud_error(error)),
                next: Next::Retry,
                category: Some(c.as_str()),
                account: None,
                secret_version: None,
                endpoints: None,
            },
            c => Checked {
                verdict: Verdict::stalled(&cloud_reason(error), describe_cloud_error(error)),
                next: Next::Stalled,
                category: Some(c.as_str()),
                account: None,
                secret_version: None,
                endpoints: None,
            },
        }
    }
}

/// What to do when the endpoint's certificate is not trusted.
fn certificate_hint(error: &CloudError) -> &'static str {
    let text = error.to_string().to_ascii_lowercase();
    if text.contains("certificate") || text.contains("unknownissuer") {
        "; the endpoint's certificate is not signed by a trusted CA: when a proxy or a \
         private endpoint uses its own CA, put it in spec.caBundle"
    } else {
        ""
    }
}

/// The condition reason for a cloud error: the service's code as an
/// identifier (as the managed kinds report it: `Throttling.User` becomes
/// `ThrottlingUser`; UCloud's numeric `RetCode` becomes `RetCode<n>`), else
/// the error's category.
fn cloud_reason(error: &CloudError) -> String {
    match error.code() {
        Some(code) if !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()) => {
            format!("RetCode{code}")
        }
        Some(code) if !code.is_empty() => sanitize_reason(code),
        _ => error.category().as_str().to_string(),
    }
}

/// A cloud error for a condition message: stable from one attempt to the next
/// (no request id, so an unchanged problem does not rewrite the status), and
/// without the string-to-sign some signature errors echo back (it can carry
/// the STS token).
fn describe_cloud_error(error: &CloudError) -> String {
    match error {
        CloudError::Service {
            provider,
            action,
            status,
            code,
            message,
            ..
        } => {
            let message = clean_message(message);
            if message.is_empty() {
                format!("{provider} {action} failed: {code} (HTTP {status})")
            } else {
                format!("{provider} {action} failed: {code}: {message} (HTTP {status})")
            }
        }
        other => other.to_string(),
    }
}

fn clean_message(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    let cut = ["string to sign", "stringtosign"]
        .iter()
        .filter_map(|marker| lower.find(marker))
        .min()
        .unwrap_or(message.len());
    let mut text: String = message[..cut].chars().take(300).collect();
    text = text
        .trim_end_matches(|c: char| c.is_whitespace() || c == ':')
        .to_string();
    // "…server string to sign is:…" leaves a dangling "server".
    if let Some(stripped) = text.strip_suffix(" server") {
        text = stripped.trim_end().to_string();
    }
    text
}

/// Which account the credentials belong to: Alibaba STS `GetCallerIdentity`
/// (no permission needed), UCloud `GetUserInfo`.
async fn identity(resolved: &Resolved) -> Result<String, CloudError> {
    match &resolved.cloud {
        CloudClient::Alibaba(client) => client
            .call(&GetCallerIdentity::default())
            .await
            .map(|who| who.account_id),
        CloudClient::UCloud(client) => client.call(&GetUserInfo::default()).await.map(|who| {
            who.data_set
                .first()
                .map(|user| user.user_id.to_string())
                .unwrap_or_default()
        }),
    }
}

/// One cheap read call with the resolved client, in its region.
async fn probe(resolved: &Resolved) -> Result<(), CloudError> {
    match &resolved.cloud {
        CloudClient::Alibaba(client) => client
            .call(&DescribeNatGateways {
                region_id: resolved.region.clone(),
                page_size: Some(1),
                ..DescribeNatGateways::default()
            })
            .await
            .map(|_| ()),
        CloudClient::UCloud(client) => client
            .call(&DescribeBandwidthPackage {
                region: resolved.region.clone(),
                limit: Some(1),
                ..DescribeBandwidthPackage::default()
            })
            .await
            .map(|_| ()),
    }
}

/// Load the credentials of `pc`, learn their account and try them.
async fn check(pc: &ProviderConfig, ctx: &Context) -> Checked {
    let secret = pc.spec.credentials.describe();
    let resolved = match ctx.providers.resolve_config(pc, None).await {
        Ok(resolved) => resolved,
        Err(error) => return Checked::from_provider_error(&error),
    };
    let endpoints = Some(match &resolved.cloud {
        CloudClient::Alibaba(client) => (
            client.endpoint_of(Service::Vpc).to_string(),
            Some(client.endpoint_of(Service::Sts).to_string()),
        ),
        CloudClient::UCloud(client) => (client.endpoint().to_string(), None),
    });
    let account = match identity(&resolved).await {
        Ok(account) if account.is_empty() => {
            return Checked {
                verdict: Verdict::stalled(
                    reason::ACCOUNT_UNKNOWN,
                    "the cloud did not say which account the credentials belong to",
                ),
                next: Next::Stalled,
                category: Some(reason::ACCOUNT_UNKNOWN),
                account: None,
                secret_version: Some(resolved.secret_version),
                endpoints,
            };
        }
        Ok(account) => account,
        Err(error) => {
            let mut checked = Checked::from_cloud_error(&error, &secret);
            if let Some(hint) = sts_endpoint_hint(pc, &error) {
                checked.append(hint);
            }
            checked.secret_version = Some(resolved.secret_version);
            checked.endpoints = endpoints;
            return checked;
        }
    };
    let mut checked = match probe(&resolved).await {
        Ok(()) => Checked {
            verdict: Verdict::ready(
                reason::CREDENTIALS_VALID,
                format!(
                    "the credentials ({secret}, account {account}) work in region {}",
                    resolved.region
                ),
            ),
            next: Next::AtRest,
            category: None,
            account: None,
            secret_version: None,
            endpoints: None,
        },
        Err(error) => Checked::from_cloud_error(&error, &secret),
    };
    checked.account = Some(account);
    checked.secret_version = Some(resolved.secret_version);
    checked.endpoints = endpoints;
    checked
}

/// When the STS call failed other than for the credentials, and it went to a
/// custom `endpoint` because no `stsEndpoint` is set: what to change.
fn sts_endpoint_hint(pc: &ProviderConfig, error: &CloudError) -> Option<&'static str> {
    let spec = &pc.spec;
    let custom = spec.provider == CloudProvider::Alibaba
        && spec.endpoint.is_some()
        && spec.sts_endpoint.is_none();
    (custom && error.category() != ErrorCategory::Auth).then_some(
        "; natop asked spec.endpoint which account the credentials belong to (STS \
         GetCallerIdentity): when spec.endpoint serves only the VPC API, set spec.stsEndpoint",
    )
}

/// Report the gateways in `pc`'s account that carry this natop's owner id
/// and that no NatGateway object claims (a metric, and a Warning event on
/// `pc` naming them). natop never deletes them by itself. Skipped until the
/// NatGateway cache is complete: an empty cache would make every gateway
/// look unclaimed.
async fn report_unclaimed(pc: &ProviderConfig, ctx: &Context) {
    let name = pc.name_any();
    let Some(store) = ctx.stores.get::<NatGateway>() else {
        return;
    };
    if tokio::time::timeout(Duration::from_secs(5), store.wait_until_ready())
        .await
        .is_err()
    {
        return;
    }
    let gateways: Vec<NatGateway> = store
        .state()
        .iter()
        .filter_map(|guard| guard.0.as_ref().ok().cloned())
        .collect();
    let mut regions = vec![pc.spec.region.clone()];
    for g in &gateways {
        if let Some(at) = g.status.as_ref().and_then(|s| s.location.as_ref())
            && at.provider_config == name
            && !regions.contains(&at.region)
        {
            regions.push(at.region.clone());
        }
    }
    let objects: Vec<String> = gateways
        .iter()
        .map(|g| object_tag_value(&g.namespace().unwrap_or_default(), &g.name_any()))
        .collect();
    let claimed: Vec<String> = ownership::claims(Some(store), |g: &NatGateway| {
        g.status.as_ref().and_then(|s| s.id.clone())
    })
    .into_iter()
    .flat_map(|c| [c.recorded, c.annotated])
    .flatten()
    .collect();
    let mut found_unclaimed = Vec::new();
    for region in regions {
        let resolved = match ctx.providers.resolve_config(pc, Some(&region)).await {
            Ok(resolved) => resolved,
            Err(_) => return,
        };
        let CloudClient::Alibaba(client) = &resolved.cloud else {
            return;
        };
        let listed = client
            .describe_all(&DescribeNatGateways {
                region_id: region.clone(),
                tags: vec![Tag {
                    key: OWNER_ID_TAG.to_string(),
                    value: Some(ctx.config.owner_id.clone()),
                }],
                ..Default::default()
            })
            .await;
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) => {
                // Absence is never concluded from a listing that failed.
                debug!(error = %e.stable_message(), "cannot list the gateways natop owns");
                return;
            }
        };
        let found: Vec<Found> = listed
            .iter()
            .map(|g| Found {
                id: g.nat_gateway_id.clone(),
                tags: g
                    .tags
                    .iter()
                    .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                    .collect(),
                leaving: g.status == "Deleting",
            })
            .collect();
        found_unclaimed.extend(
            unclaimed(
                &found,
                &ctx.config.owner_id,
                "NatGateway",
                &objects,
                &claimed,
            )
            .into_iter()
            .map(|id| format!("{id} ({region})")),
        );
    }
    ctx.metrics
        .unclaimed
        .get_or_create(&UnclaimedLabels {
            provider_config: name.clone(),
            kind: "NatGateway",
        })
        .set(i64::try_from(found_unclaimed.len()).unwrap_or(i64::MAX));
    if !found_unclaimed.is_empty() {
        let note = format!(
            "gateways {} carry this natop's owner id ({}) but no NatGateway object claims them: \
             apply their objects again (natop adopts them), adopt them with \
             natop.dev/external-id, or delete them in the console; natop never deletes them by \
             itself",
            found_unclaimed.join(", "),
            ctx.config.owner_id
        );
        warn!(count = found_unclaimed.len(), "unclaimed gateways");
        reconcile::event(
            ctx,
            pc,
            crate::controller::events::EventType::Warning,
            "UnclaimedResources",
            "Report",
            note,
        )
        .await;
    }
}

#[instrument(skip_all, fields(provider_config = %pc.name_any()))]
async fn reconcile(
    pc: Arc<ProviderConfig>,
    ctx: Arc<Context>,
) -> Result<controller::Action, ReconcileError> {
    let result = reconcile::counted(KIND, &ctx, check_and_report(&pc, &ctx)).await;
    reconcile::count_retrying(KIND, &ctx);
    result.map(Into::into)
}

/// Check the credentials and write what the check says.
async fn check_and_report(pc: &ProviderConfig, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = pc.name_any();
    let key = pacing_key(&name);
    let inputs = check_inputs(pc).unwrap_or_default();
    let drift = ctx.config.drift_interval;

    // A second trigger of what was just checked (the ProviderConfig's own
    // event and its Secret's, or a cached copy older than the status the
    // check wrote) checks nothing, once the Secret's version (metadata only)
    // says it has not changed.
    if let Some(last) = ctx.checks.get(&name)
        && repeats(&last, inputs, None, std::time::Instant::now(), drift).is_some()
        && let Ok(version) = ctx.providers.secret_version(pc).await
        && let Some(wait) = repeats(
            &last,
            inputs,
            Some(version.as_deref().unwrap_or_default()),
            std::time::Instant::now(),
            drift,
        )
    {
        debug!(?wait, "checked moments ago with the same inputs");
        return Ok(Action::requeue(wait));
    }

    // The spec or the Secret may have changed: build the clients afresh.
    ctx.providers.invalidate(&name);
    let checked = check(pc, ctx).await;
    if checked.next == Next::Cancelled {
        debug!("check cancelled by shutdown");
        return Ok(Action::await_change());
    }

    // Before the status: once it says Ready, the check made all its calls.
    if checked.verdict.is_ready() && pc.spec.provider == CloudProvider::Alibaba {
        report_unclaimed(pc, ctx).await;
    }

    let generation = pc.metadata.generation;
    let previous = pc
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let new_status = ProviderConfigStatus {
        observed_generation: generation,
        conditions: status::conditions(previous, generation, &checked.verdict),
        account_id: checked.account.clone(),
        checked_secret_version: checked.secret_version.clone(),
        endpoint: checked.endpoints.as_ref().map(|(api, _)| api.clone()),
        sts_endpoint: checked.endpoints.as_ref().and_then(|(_, sts)| sts.clone()),
    };
    let api: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let written = status::apply_status(&api, pc, &new_status).await?;
    ctx.checks.record(
        &name,
        matches!(checked.next, Next::AtRest | Next::Stalled).then(|| LastCheck {
            inputs,
            secret_version: checked.secret_version.clone().unwrap_or_default(),
            at: std::time::Instant::now(),
        }),
    );

    if let Some(category) = checked.category {
        ctx.metrics
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: KIND,
                category,
            })
            .inc();
    }
    let (reason, message) = (checked.verdict.reason(), checked.verdict.message());
    if written {
        if checked.verdict.is_ready() {
            info!(reason, "credentials work");
        } else {
            warn!(reason, message, "credentials do not work");
        }
    } else {
        debug!(reason, "status unchanged");
    }

    let at_rest = || timing::jitter(ctx.config.drift_interval, 0.1);
    Ok(match checked.next {
        Next::AtRest | Next::Stalled => {
            ctx.pacing.settled(&key);
            Action::requeue(at_rest())
        }
        Next::Retry => {
            let delay = ctx.pacing.backoff(&key);
            debug!(?delay, "retrying");
            Action::requeue(delay)
        }
        Next::Cancelled => Action::await_change(),
    })
}

fn error_policy(
    pc: Arc<ProviderConfig>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> controller::Action {
    let name = pc.name_any();
    warn!(provider_config = %name, category = error.category(), %error, "reconcile failed");
    reconcile::after_error(&ctx, &pacing_key(&name), error).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_repeated_only_for_other_inputs_or_after_half_a_drift_interval() {
        let drift = Duration::from_secs(600);
        let at = std::time::Instant::now();
        let last = LastCheck {
            inputs: 7,
            secret_version: "41".into(),
            at,
        };
        let secs = Duration::from_secs;
        // (inputs, secret version read, age, expected wait)
        let cases: [(u64, Option<&str>, u64, Option<Duration>); 7] = [
            (7, Some("41"), 0, Some(secs(600))),
            (7, None, 10, Some(secs(590))),
            (7, Some("41"), 299, Some(secs(301))),
            // Half a drift interval on: the drift check is due soon.
            (7, Some("41"), 300, None),
            (7, Some("41"), 540, None),
            // The spec, a label or an annotation changed.
            (8, Some("41"), 0, None),
            // The Secret changed.
            (7, Some("42"), 0, None),
        ];
        for (inputs, version, age, expected) in cases {
            assert_eq!(
                repeats(&last, inputs, version, at + secs(age), drift),
                expected,
                "inputs {inputs}, secret {version:?}, age {age} s"
            );
        }
        let none = LastCheck {
            inputs: 7,
            secret_version: String::new(),
            at,
        };
        // No Secret (RRSA): its version reads as "".
        assert_eq!(repeats(&none, 7, Some(""), at, drift), Some(drift));
    }
    use crate::api::provider_config::{CloudProvider, Credentials, ProviderConfigSpec};
    use crate::cloud::Provider;

    fn pc(name: &str, namespace: &str, secret: &str) -> ProviderConfig {
        ProviderConfig::new(
            name,
            ProviderConfigSpec {
                provider: CloudProvider::Alibaba,
                region: "cn-hangzhou".into(),
                endpoint: None,
                sts_endpoint: None,
                allow_insecure_endpoint: false,
                ca_bundle: None,
                allowed_namespaces: Vec::new(),
                allowed_namespace_selector: None,
                credentials: Credentials::secret(namespace, secret),
                rate_limit: None,
            },
        )
    }

    #[test]
    fn secrets_map_to_the_provider_configs_naming_them() {
        let pcs = [
            pc("a", "natop-system", "creds"),
            pc("b", "natop-system", "other"),
            pc("c", "natop-system", "creds"),
            pc("d", "elsewhere", "creds"),
        ];
        let names: Vec<String> = refs_naming(pcs.iter(), "natop-system", "creds")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a", "c"]);
        assert!(refs_naming(pcs.iter(), "natop-system", "none").is_empty());
    }

    fn service(code: &str, message: &str, category: ErrorCategory) -> CloudError {
        CloudError::Service {
            provider: Provider::Alibaba,
            action: "DescribeNatGateways".into(),
            status: 400,
            code: code.into(),
            message: message.into(),
            request_id: "REQ-123".into(),
            category,
        }
    }

    #[test]
    fn cloud_errors_become_stable_verdicts() {
        let rejected = service(
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dsts-token",
            ErrorCategory::Auth,
        );
        let c = Checked::from_cloud_error(&rejected, "natop-system/creds");
        assert_eq!(c.next, Next::Stalled);
        let Verdict::Stalled { reason, message } = &c.verdict else {
            panic!("{c:?}")
        };
        assert_eq!(reason, "CredentialsRejected");
        assert!(message.contains("SignatureDoesNotMatch"), "{message}");
        assert!(message.contains("natop-system/creds"), "{message}");
        assert!(
            !message.contains("sts-token") && !message.contains("REQ-123"),
            "{message}"
        );
        assert!(!message.contains("string to sign"), "{message}");

        let ucloud = CloudError::Service {
            provider: Provider::UCloud,
            action: "DescribeBandwidthPackage".into(),
            status: 200,
            code: "172".into(),
            message: "User not exist".into(),
            request_id: String::new(),
            category: ErrorCategory::Auth,
        };
        let c = Checked::from_cloud_error(&ucloud, "ns/s");
        assert_eq!(c.category, Some("CredentialsRejected"));
        assert!(matches!(&c.verdict, Verdict::Stalled { message, .. } if message.contains("172")));

        let forbidden = service(
            "Forbidden.RAM",
            "User not authorized to operate on the specified resource. (RAM permission vpc:DescribeNatGateways is not granted)",
            ErrorCategory::Auth,
        );
        let c = Checked::from_cloud_error(&forbidden, "Secret ns/s");
        let Verdict::Stalled { reason, message } = &c.verdict else {
            panic!("{c:?}")
        };
        assert_eq!(reason, "ForbiddenRAM");
        assert!(message.contains("lack a RAM permission"), "{message}");
        assert!(message.contains("vpc:DescribeNatGateways"), "{message}");

        let token = CloudError::Credentials {
            provider: Provider::Alibaba,
            reason: "OidcTokenExpired",
            detail: "alibaba AssumeRoleWithOIDC failed: AuthenticationFail.OIDCToken.Expired: This JsonWebToken is expired. (HTTP 401)".into(),
        };
        let c = Checked::from_cloud_error(&token, "RRSA role r");
        assert_eq!(c.next, Next::Retry, "it can heal: a renewed token");
        let Verdict::Progressing { reason, message } = &c.verdict else {
            panic!("{c:?}")
        };
        assert_eq!(reason, "OidcTokenExpired");
        assert!(
            message.contains("objects using this ProviderConfig wait"),
            "{message}"
        );

        let unreachable = CloudError::Transport {
            provider: Provider::Alibaba,
            action: "DescribeNatGateways".into(),
            detail: "connection failed".into(),
            category: ErrorCategory::Transport,
        };
        let c = Checked::from_cloud_error(&unreachable, "ns/s");
        assert_eq!(c.next, Next::Retry);
        assert!(
            matches!(&c.verdict, Verdict::Progressing { reason, .. } if reason == "EndpointUnreachable")
        );

        let throttled = service("Throttling.User", "flow control", ErrorCategory::Throttled);
        let c = Checked::from_cloud_error(&throttled, "ns/s");
        assert_eq!(c.next, Next::Retry);
        assert_eq!(c.category, Some("Throttled"));
        assert!(
            matches!(&c.verdict, Verdict::Progressing { reason, .. } if reason == "ThrottlingUser")
        );

        let region = service(
            "InvalidRegionId.NotFound",
            "bad region",
            ErrorCategory::Validation,
        );
        let c = Checked::from_cloud_error(&region, "ns/s");
        assert_eq!(c.next, Next::Stalled);
        assert!(
            matches!(&c.verdict, Verdict::Stalled { reason, .. } if reason == "InvalidRegionIdNotFound")
        );

        let mut numeric = service("230", "Params error", ErrorCategory::Validation);
        if let CloudError::Service { provider, .. } = &mut numeric {
            *provider = Provider::UCloud;
        }
        assert_eq!(cloud_reason(&numeric), "RetCode230");

        let cancelled = CloudError::Cancelled {
            provider: Provider::Alibaba,
            action: "DescribeNatGateways".into(),
        };
        assert_eq!(
            Checked::from_cloud_error(&cancelled, "ns/s").next,
            Next::Cancelled
        );
    }

    #[test]
    fn provider_errors_become_verdicts() {
        let missing = ProviderError::SecretNotFound {
            provider_config: "default".into(),
            namespace: "natop-system".into(),
            name: "creds".into(),
        };
        let c = Checked::from_provider_error(&missing);
        assert_eq!(c.next, Next::Stalled);
        assert!(
            matches!(&c.verdict, Verdict::Stalled { reason, .. } if reason == "SecretNotFound")
        );
        let api = ProviderError::Kubernetes {
            action: "read Secret natop-system/creds".into(),
            detail: "HTTP 500".into(),
        };
        let c = Checked::from_provider_error(&api);
        assert_eq!(c.next, Next::Retry);
        assert!(
            matches!(&c.verdict, Verdict::Progressing { reason, .. } if reason == "KubernetesApiError")
        );
    }

    #[test]
    fn every_condition_has_a_message() {
        for verdict in [
            Verdict::ready("CredentialsValid", "ok"),
            Verdict::progressing("EndpointUnreachable", "down"),
            Verdict::stalled("SecretNotFound", "gone"),
        ] {
            let c = status::conditions(&[], Some(1), &verdict);
            assert_eq!(c.len(), 3);
            assert!(c.iter().all(|c| !c.message.is_empty()), "{c:?}");
        }
    }

    #[test]
    fn messages_are_cleaned() {
        assert_eq!(clean_message("plain"), "plain");
        assert_eq!(
            clean_message(
                "Specified signature is not matched with our calculation. server string to sign is:POST&x"
            ),
            "Specified signature is not matched with our calculation."
        );
        assert!(clean_message(&"x".repeat(1000)).len() <= 300);
    }
}
