//! Conditions (kstatus conventions) and status writes: server-side apply on
//! `/status`, one field manager, and only when something changed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::{FIELD_MANAGER, condition};

/// Where an object stands, as the three conditions say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The cloud resource exists and matches the spec.
    Ready {
        /// CamelCase reason.
        reason: String,
        /// What a person reads.
        message: String,
    },
    /// natop is working towards the spec (waiting on the cloud, or retrying).
    Progressing {
        /// CamelCase reason or the cloud's error code.
        reason: String,
        /// What a person reads.
        message: String,
    },
    /// natop cannot make progress until the object or what it references changes.
    Stalled {
        /// CamelCase reason or the cloud's error code.
        reason: String,
        /// What a person reads, including what to change.
        message: String,
    },
}

impl Verdict {
    /// Shorthand for [`Verdict::Ready`].
    pub fn ready(reason: &str, message: impl Into<String>) -> Verdict {
        Verdict::Ready {
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Verdict::Progressing`].
    pub fn progressing(reason: &str, message: impl Into<String>) -> Verdict {
        Verdict::Progressing {
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Verdict::Stalled`].
    pub fn stalled(reason: &str, message: impl Into<String>) -> Verdict {
        Verdict::Stalled {
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// Ready: `what` (`gateway ngw-…`) matches the spec; `Observed` when
    /// natop only observes it.
    pub fn in_sync(what: &str, observe: bool) -> Verdict {
        if observe {
            Verdict::ready(
                "Observed",
                format!("{what} matches the spec (observed, not managed)"),
            )
        } else {
            Verdict::ready(
                "Available",
                format!("{what} is available and matches the spec"),
            )
        }
    }

    /// Whether the object is Ready.
    pub fn is_ready(&self) -> bool {
        matches!(self, Verdict::Ready { .. })
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Ready { reason, .. }
            | Verdict::Progressing { reason, .. }
            | Verdict::Stalled { reason, .. } => reason,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Verdict::Ready { message, .. }
            | Verdict::Progressing { message, .. }
            | Verdict::Stalled { message, .. } => message,
        }
    }
}

/// Whether condition `type_` is `True` among `conditions`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// The three conditions for `verdict`. A condition whose status did not change
/// keeps its `lastTransitionTime`.
pub fn conditions(
    previous: &[Condition],
    generation: Option<i64>,
    verdict: &Verdict,
) -> Vec<Condition> {
    let (ready, reconciling, stalled) = match verdict {
        // Messages are never empty: the API server stores an empty string as null.
        Verdict::Ready { reason, message } => (
            ("True", reason.as_str(), message.as_str()),
            ("False", reason.as_str(), "up to date"),
            ("False", reason.as_str(), "not stalled"),
        ),
        Verdict::Progressing { reason, message } => (
            ("False", reason.as_str(), message.as_str()),
            ("True", reason.as_str(), message.as_str()),
            ("False", reason.as_str(), "making progress"),
        ),
        Verdict::Stalled { reason, message } => (
            ("False", reason.as_str(), message.as_str()),
            (
                "False",
                reason.as_str(),
                "waiting for a change of the object or what it references",
            ),
            ("True", reason.as_str(), message.as_str()),
        ),
    };
    [
        (condition::READY, ready),
        (condition::RECONCILING, reconciling),
        (condition::STALLED, stalled),
    ]
    .into_iter()
    .map(|(type_, (status, reason, message))| {
        let last = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone());
        Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            observed_generation: generation,
            last_transition_time: last.unwrap_or_else(|| Time(jiff::Timestamp::now())),
        }
    })
    .collect()
}

/// The `Drifted` condition of an observed object: `difference` says how the
/// cloud resource differs from the spec, `None` that it matches. It keeps its
/// `lastTransitionTime` while its status does not change.
pub fn drifted(
    previous: &[Condition],
    generation: Option<i64>,
    difference: Option<&str>,
) -> Condition {
    let (status, reason, message) = match difference {
        Some(difference) => ("True", "Drifted", difference),
        None => ("False", "InSync", "matches the spec"),
    };
    let last = previous
        .iter()
        .find(|c| c.type_ == condition::DRIFTED && c.status == status)
        .map(|c| c.last_transition_time.clone());
    Condition {
        type_: condition::DRIFTED.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: last.unwrap_or_else(|| Time(jiff::Timestamp::now())),
    }
}

/// Write `status` with server-side apply on `/status` unless it equals the
/// object's current status. Returns whether the object changed: a write the
/// API server found nothing to do for (the status already so, or fields
/// another manager owns making the copies differ) leaves its resourceVersion
/// as it was, and no watch event will follow it.
pub async fn apply_status<K, S>(api: &Api<K>, object: &K, status: &S) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    S: Serialize,
{
    let desired = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    let current = serde_json::to_value(object)
        .map_err(kube::Error::SerdeError)?
        .get("status")
        .cloned()
        .unwrap_or(Value::Null);
    if current == desired {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": desired,
    });
    send_status(api, object, &patch).await
}

/// Write `status` with server-side apply on `/status` only if the object is
/// still at `object`'s resourceVersion: a writer that read an older version
/// gets a Conflict instead of overwriting what another writer recorded
/// (natop records a purchase before it makes one; two writers must not both
/// record and buy). Returns whether the object changed, as
/// [`apply_status`] does.
pub async fn apply_status_unchanged_since<K, S>(
    api: &Api<K>,
    object: &K,
    status: &S,
) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    S: Serialize,
{
    let desired = serde_json::to_value(status).map_err(kube::Error::SerdeError)?;
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": object.meta().name, "resourceVersion": object.meta().resource_version},
        "status": desired,
    });
    send_status(api, object, &patch).await
}

/// Send `patch` (an apply configuration of `object`'s status) as natop's
/// field manager; whether the object's resourceVersion moved.
async fn send_status<K>(api: &Api<K>, object: &K, patch: &Value) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let updated = api
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    let changed = updated.meta().resource_version != object.meta().resource_version;
    if !changed {
        tracing::debug!(object = %name, "the status write changed nothing on the API server");
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_progressing_and_stalled_set_the_three_conditions() {
        let c = conditions(
            &[],
            Some(3),
            &Verdict::ready("Available", "gateway ngw-1 is available"),
        );
        let status = |t: &str| c.iter().find(|x| x.type_ == t).map(|x| x.status.clone());
        assert_eq!(status("Ready").as_deref(), Some("True"));
        assert_eq!(status("Reconciling").as_deref(), Some("False"));
        assert_eq!(status("Stalled").as_deref(), Some("False"));
        assert!(c.iter().all(|x| x.observed_generation == Some(3)));

        let c = conditions(
            &[],
            Some(3),
            &Verdict::stalled("InvalidSpec", "vpcId is immutable"),
        );
        let stalled = c.iter().find(|x| x.type_ == "Stalled").unwrap();
        assert_eq!(
            (stalled.status.as_str(), stalled.reason.as_str()),
            ("True", "InvalidSpec")
        );
        let ready = c.iter().find(|x| x.type_ == "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.message.as_str()),
            ("False", "vpcId is immutable")
        );
    }

    #[test]
    fn transition_time_changes_only_on_a_real_transition() {
        let old_time = Time(jiff::Timestamp::from_second(1_000).unwrap());
        let mut first = conditions(&[], Some(1), &Verdict::progressing("Creating", "creating"));
        for c in &mut first {
            c.last_transition_time = old_time.clone();
        }
        let same = conditions(
            &first,
            Some(1),
            &Verdict::progressing("Pending", "still creating"),
        );
        assert!(
            same.iter().all(|c| c.last_transition_time == old_time),
            "no status flipped"
        );
        let ready = conditions(&first, Some(1), &Verdict::ready("Available", "done"));
        let get = |t: &str| {
            ready
                .iter()
                .find(|c| c.type_ == t)
                .unwrap()
                .last_transition_time
                .clone()
        };
        assert_ne!(get("Ready"), old_time, "Ready flipped");
        assert_ne!(get("Reconciling"), old_time, "Reconciling flipped");
        assert_eq!(get("Stalled"), old_time, "Stalled stayed False");
    }
}
