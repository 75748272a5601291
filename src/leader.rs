//! Optional leader election of `natop run`: one `coordination.k8s.io/v1`
//! Lease covers every controller. An instance stands by until it acquires the
//! Lease, runs the controllers while it holds it, and stops everything as soon
//! as it can no longer be sure it holds it (the caller then exits non-zero and
//! the process manager restarts it as a follower). On a graceful shutdown the
//! leader finishes its in-flight reconciles while still holding the Lease,
//! then releases it so a follower takes over without waiting for it to expire.
//!
//! The Lease is acquired and renewed by `kube-lease-manager`. Because that
//! library keeps retrying a failed renewal without reporting it, a watchdog
//! here reads the Lease once a second and declares it lost when it is held by
//! someone else, deleted, or not renewed well before it expires (for instance
//! when the API server cannot be reached).

use std::future::Future;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{DurationSeconds, LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::server::Readiness;

/// Seconds a Lease stays valid after its last renewal.
pub const LEASE_DURATION_SECONDS: DurationSeconds = 15;
/// The holder renews this many seconds before the Lease expires.
pub const LEASE_GRACE_SECONDS: DurationSeconds = 5;
/// How often the leader confirms it still holds the Lease.
const CHECK_PERIOD: Duration = Duration::from_secs(1);
/// The leader gives up when its Lease would expire within this margin
/// without a confirmed renewal (the renewal is due `LEASE_GRACE_SECONDS`
/// before expiry, so a healthy renewal has two seconds to complete).
const EXPIRY_MARGIN: Duration = Duration::from_secs(3);
/// After the Lease is lost, how long the cancelled controllers get to stop.
const LOST_STOP_WAIT: Duration = Duration::from_secs(1);
/// How long releasing the Lease may take on shutdown.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// Where the Lease lives and who competes for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Election {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease_name: String,
    /// This instance's holder identity, unique among the candidates.
    pub identity: String,
}

/// A holder identity: the pod name (`POD_NAME`), else the host name, then a
/// random suffix so that two processes never share one.
pub fn identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "natop".to_string());
    format!("{base}_{}", uuid::Uuid::new_v4().simple())
}

/// How leading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shutdown was requested: the controllers finished and the Lease was
    /// released (or was never acquired).
    Shutdown,
    /// The Lease was lost: the controllers were cancelled; exit non-zero.
    LeaseLost,
    /// The controllers stopped although nobody asked them to.
    WorkStopped,
}

/// Why leader election could not run.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The Lease could not be read or created.
    #[error("cannot use the Lease {namespace}/{name}: {source}")]
    Join {
        /// Namespace of the Lease.
        namespace: String,
        /// Name of the Lease.
        name: String,
        /// The cause.
        #[source]
        source: LeaseManagerError,
    },
    /// The lease manager stopped while this instance was standing by.
    #[error("the lease manager stopped: {0}")]
    ManagerStopped(String),
}

/// Stand by until the Lease is acquired (marking `readiness` started: a
/// follower is ready), then run `work` while holding it. `work` must return
/// once `cancel` is cancelled. Cancels `cancel` when the Lease is lost.
pub async fn run<F, Fut>(
    client: Client,
    election: &Election,
    cancel: CancellationToken,
    readiness: &Readiness,
    work: F,
) -> Result<Ended, LeaderError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let manager = LeaseManagerBuilder::new(client.clone(), election.lease_name.clone())
        .with_namespace(election.namespace.clone())
        .with_identity(election.identity.clone())
        .with_duration(LEASE_DURATION_SECONDS)
        .with_grace(LEASE_GRACE_SECONDS)
        .build()
        .await
        .map_err(|source| LeaderError::Join {
            namespace: election.namespace.clone(),
            name: election.lease_name.clone(),
            source,
        })?;
    let (mut leading, manager_task) = manager.watch().await;
    readiness.mark_started();
    info!(
        lease = %format!("{}/{}", election.namespace, election.lease_name),
        identity = %election.identity,
        "standing by until this instance holds the Lease"
    );

    while !*leading.borrow_and_update() {
        tokio::select! {
            _ = cancel.cancelled() => {
                release(leading, manager_task, false).await;
                return Ok(Ended::Shutdown);
            }
            changed = leading.changed() => {
                if changed.is_err() {
                    let reason = match manager_task.await {
                        Ok(Ok(_)) => "no reason given".to_string(),
                        Ok(Err(e)) => e.to_string(),
                        Err(e) => e.to_string(),
                    };
                    return Err(LeaderError::ManagerStopped(reason));
                }
            }
        }
    }

    info!(identity = %election.identity, "this instance holds the Lease: starting the controllers");
    let leases = Api::<Lease>::namespaced(client, &election.namespace);
    let mut work = tokio::spawn(work());
    let work_result = {
        let lost = lease_lost(&mut leading, &leases, election);
        tokio::pin!(lost);
        // Lead until shutdown, the Lease is lost, or the work stops by itself.
        let stopped = tokio::select! {
            _ = cancel.cancelled() => None,
            reason = &mut lost => {
                return Ok(give_up(&reason, &cancel, work, manager_task).await);
            }
            result = &mut work => Some(result),
        };
        match stopped {
            Some(result) => result,
            // Shutdown: finish the in-flight reconciles while still holding
            // the Lease.
            None => tokio::select! {
                result = &mut work => result,
                reason = &mut lost => {
                    return Ok(give_up(&reason, &cancel, work, manager_task).await);
                }
            },
        }
    };
    let ended = match work_result {
        Ok(()) if cancel.is_cancelled() => Ended::Shutdown,
        Ok(()) => {
            error!("the controllers stopped unexpectedly");
            Ended::WorkStopped
        }
        Err(e) => {
            error!(error = %e, "the controllers failed");
            Ended::WorkStopped
        }
    };
    cancel.cancel();
    release(leading, manager_task, true).await;
    Ok(ended)
}

/// The Lease is lost: cancel the controllers, give them a moment, and stop
/// the lease manager without releasing anything.
async fn give_up(
    reason: &str,
    cancel: &CancellationToken,
    work: JoinHandle<()>,
    manager_task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
) -> Ended {
    error!(reason, "lost the Lease: stopping the controllers");
    cancel.cancel();
    let abort = work.abort_handle();
    if tokio::time::timeout(LOST_STOP_WAIT, work).await.is_err() {
        abort.abort();
    }
    manager_task.abort();
    Ended::LeaseLost
}

/// Release the Lease if `held` (the manager releases it only if it holds it)
/// by closing the manager's channel, and wait for the manager to finish.
async fn release(
    leading: watch::Receiver<bool>,
    manager_task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    held: bool,
) {
    drop(leading);
    let abort = manager_task.abort_handle();
    match tokio::time::timeout(RELEASE_WAIT, manager_task).await {
        Ok(Ok(Ok(_))) if held => info!("released the Lease"),
        Ok(Ok(Ok(_))) => info!("left the leader election"),
        Ok(Ok(Err(e))) => warn!(error = %e, "cannot release the Lease; it expires by itself"),
        Ok(Err(e)) => warn!(error = %e, "the lease manager failed; the Lease expires by itself"),
        Err(_) => {
            abort.abort();
            warn!("releasing the Lease timed out; it expires by itself");
        }
    }
}

/// Until when `lease` is held by `identity`, if it is.
pub fn held_until(lease: &Lease, identity: &str) -> Option<SystemTime> {
    let spec = lease.spec.as_ref()?;
    if spec.holder_identity.as_deref() != Some(identity) {
        return None;
    }
    let renewed: SystemTime = spec.renew_time.as_ref()?.0.into();
    let seconds = u64::try_from(spec.lease_duration_seconds?).ok()?;
    renewed.checked_add(Duration::from_secs(seconds))
}

/// Resolves with a reason once this instance can no longer be sure it holds
/// the Lease.
async fn lease_lost(
    leading: &mut watch::Receiver<bool>,
    leases: &Api<Lease>,
    election: &Election,
) -> String {
    // Just acquired: the renewal was written a moment ago.
    let mut valid_until =
        SystemTime::now() + Duration::from_secs(LEASE_DURATION_SECONDS) - CHECK_PERIOD;
    let mut ticks = tokio::time::interval(CHECK_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() {
                    return "the lease manager stopped".to_string();
                }
                if !*leading.borrow_and_update() {
                    return "the lease manager reports another holder".to_string();
                }
            }
            _ = ticks.tick() => {
                match tokio::time::timeout(CHECK_PERIOD, leases.get_opt(&election.lease_name)).await {
                    Ok(Ok(Some(lease))) => match held_until(&lease, &election.identity) {
                        Some(until) => valid_until = until,
                        None => {
                            let holder = lease
                                .spec
                                .and_then(|s| s.holder_identity)
                                .unwrap_or_else(|| "nobody".to_string());
                            return format!("the Lease is held by {holder}");
                        }
                    },
                    Ok(Ok(None)) => return "the Lease was deleted".to_string(),
                    Ok(Err(e)) => warn!(error = %e, "cannot read the Lease to confirm it is held"),
                    Err(_) => warn!("reading the Lease timed out"),
                }
                if SystemTime::now() + EXPIRY_MARGIN >= valid_until {
                    return "the Lease was not renewed in time".to_string();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn lease(holder: Option<&str>, renewed: Option<SystemTime>, seconds: Option<i32>) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_string),
                renew_time: renewed.map(|t| {
                    MicroTime(k8s_openapi::jiff::Timestamp::try_from(t).expect("timestamp"))
                }),
                lease_duration_seconds: seconds,
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn a_lease_is_held_until_its_renewal_plus_its_duration() {
        let renewed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            held_until(&lease(Some("me"), Some(renewed), Some(15)), "me"),
            Some(renewed + Duration::from_secs(15))
        );
        assert_eq!(
            held_until(&lease(Some("other"), Some(renewed), Some(15)), "me"),
            None
        );
        assert_eq!(
            held_until(&lease(None, Some(renewed), Some(15)), "me"),
            None
        );
        assert_eq!(held_until(&lease(Some("me"), None, Some(15)), "me"), None);
        assert_eq!(
            held_until(&lease(Some("me"), Some(renewed), None), "me"),
            None
        );
        assert_eq!(held_until(&Lease::default(), "me"), None);
    }

    #[test]
    fn identities_are_unique() {
        let (a, b) = (identity(), identity());
        assert_ne!(a, b);
        assert!(a.len() > 33, "{a}");
    }
}
