//! The run's lock: a `coordination.k8s.io` Lease in the target cluster, so two runs (two
//! operators, two terminals) never work on one expansion at once. It is taken before the
//! journal is read, renewed in the background, and released at the end of the run.
//!
//! A lock that cannot be renewed is not silently kept: every failed renewal is counted, and once
//! the Lease has gone unrenewed for longer than it is valid (on this machine's monotonic clock,
//! not by comparing another machine's timestamps), the lock is *lost* and the run stops before its
//! next mutating action ([`Lock::ensure_held`]).
//!
//! The same rule decides when another run's Lease has expired: never by comparing its
//! `renewTime` (written on the other machine's clock, which may be skewed) with this machine's
//! clock, but by watching it. A Lease counts as expired only once it has stayed unchanged (same
//! holder, `renewTime` and resourceVersion) for its validity, as timed by this process's
//! monotonic clock, as client-go's leader election does. So a live holder whose clock is hours
//! off is never robbed, and a crashed holder's Lease is taken over after a full validity of
//! watching, which needs `--wait-for-lock`: without it, the lock is reported as held.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ports::{ClusterError, ClusterOps, LeaseMode, LeaseRecord};

use super::plan::ExpansionPlan;

/// How long a Lease is valid without renewal. A crashed run's lock expires after this.
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// A lock is given up this long before the Lease would expire, so no other run can take it while
/// this one still acts.
const SAFETY_MARGIN: Duration = Duration::from_secs(10);

/// The lock could not be taken or was lost.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LockError {
    /// Another run holds it.
    #[error(
        "context `{context}`: another run holds the lock `{name}` (holder `{holder}`); seen unchanged for {unchanged_seconds}s of the {expires_after_seconds}s after which an unrenewed Lease is taken over. Wait for that run to finish with --wait-for-lock (e.g. --wait-for-lock 5m); if it crashed, a wait longer than {expires_after_seconds}s takes its Lease over"
    )]
    Held {
        /// Context.
        context: String,
        /// Lease name.
        name: String,
        /// Who holds it.
        holder: String,
        /// For how long this process saw the Lease unchanged (0 on the first look: from here, one
        /// cannot tell how long ago the holder renewed).
        unchanged_seconds: u64,
        /// How long it must stay unchanged to count as expired.
        expires_after_seconds: u64,
    },
    /// Another run took it while this run held it.
    #[error(transparent)]
    Taken(ClusterError),
    /// The Lease could not be read or written.
    #[error("cannot take the lock: {0}")]
    Cluster(ClusterError),
    /// Renewals failed for longer than the Lease is valid: another run may have taken it.
    #[error(
        "lost the lock `{name}` in context `{context}`: {failures} renewal(s) failed over {seconds}s (last: {last_error}); stopped before the next change. Check the API server and run the same command again"
    )]
    Lost {
        /// Context.
        context: String,
        /// Lease name.
        name: String,
        /// Failed renewals in a row.
        failures: u32,
        /// Seconds since the last successful renewal.
        seconds: u64,
        /// The last renewal error.
        last_error: String,
    },
}

/// Where the lock lives: `(namespace, lease name)`, in the target cluster.
pub fn lock_location(plan: &ExpansionPlan) -> (String, String) {
    lease_for(&plan.target.namespace)
}

/// The Lease that guards the Apigee namespace `namespace` of a cluster: one name for every
/// operation, so an expansion into a region and a decommission checked from it exclude each other.
pub(crate) fn lease_for(namespace: &str) -> (String, String) {
    ("default".to_owned(), format!("apigee-multiregion-{namespace}"))
}

/// Another holder's Lease as this process watches it: the state last read and when (on this
/// process's monotonic clock) it was first seen in that state.
#[derive(Debug, Clone)]
struct Watched {
    lease: LeaseRecord,
    since: Instant,
}

impl Watched {
    /// The watch after reading `lease` at `now`: the clock restarts whenever the Lease changed.
    fn observe(previous: Option<Self>, lease: LeaseRecord, now: Instant) -> Self {
        match previous {
            Some(w) if w.lease.unchanged(&lease) => w,
            _ => Self { lease, since: now },
        }
    }

    /// How long the Lease must stay unchanged to count as expired: its own duration, and never
    /// less than this run's (a Lease without a duration is not expired at once).
    fn expires_after(&self, ttl: Duration) -> Duration {
        self.lease.duration.max(ttl)
    }

    /// How much longer it must stay unchanged to count as expired, seen from here (zero:
    /// expired). The one rule for both when to look again and whether to take it over.
    fn expires_in(&self, now: Instant, ttl: Duration) -> Duration {
        self.expires_after(ttl).saturating_sub(now.saturating_duration_since(self.since))
    }
}

/// A holder identity unique to one lock: host, process and a random part.
fn new_holder() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{host}/{}/{nanos:08x}-{n}", std::process::id())
}

#[derive(Debug)]
struct Health {
    /// When the last successful renewal was SENT (the server's expiry counts from about then).
    last_renewed: Instant,
    /// The same on the wall clock: `Instant` stops while the machine sleeps (a laptop lid), the
    /// Lease's expiry does not; the longer of the two is how long the lock went unrenewed.
    last_renewed_wall: std::time::SystemTime,
    failures: u32,
    last_error: Option<String>,
    lost: Option<LockError>,
}

impl Health {
    fn unrenewed(&self) -> Duration {
        let wall = std::time::SystemTime::now().duration_since(self.last_renewed_wall).unwrap_or_default();
        self.last_renewed.elapsed().max(wall)
    }
}

/// A held lock.
pub(crate) struct Lock {
    cluster: Arc<dyn ClusterOps>,
    namespace: String,
    name: String,
    holder: String,
    health: Arc<Mutex<Health>>,
    renew: tokio::task::JoinHandle<()>,
    ttl: Duration,
}

impl Lock {
    /// Takes the lock, waiting up to `wait` for another holder's to be released or to expire;
    /// the Lease is valid for `ttl` and renewed every `every`.
    pub async fn acquire(
        cluster: Arc<dyn ClusterOps>,
        (namespace, name): (String, String),
        wait: Duration,
        ttl: Duration,
        every: Duration,
    ) -> Result<Self, LockError> {
        let holder = new_holder();
        let started = Instant::now();
        let mut watched: Option<Watched> = None;
        loop {
            let take_over = watched.as_ref().filter(|w| w.expires_in(Instant::now(), ttl).is_zero()).map(|w| &w.lease);
            match cluster.acquire_lease(&namespace, &name, &holder, ttl, LeaseMode::Acquire { take_over }).await {
                Ok(()) => break,
                Err(ClusterError::Locked { context, name, lease }) => {
                    let now = Instant::now();
                    let w = Watched::observe(watched.take(), *lease, now);
                    let unchanged = now.saturating_duration_since(w.since);
                    let expires_after = w.expires_after(ttl);
                    let left = wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(LockError::Held {
                            context,
                            name,
                            holder: w.lease.holder,
                            unchanged_seconds: unchanged.as_secs(),
                            expires_after_seconds: expires_after.as_secs(),
                        });
                    }
                    // Look again when it would expire, and at least every 5 s (a release or a
                    // renewal shows sooner).
                    let pause =
                        w.expires_in(now, ttl).clamp(Duration::from_millis(20), Duration::from_secs(5)).min(left);
                    watched = Some(w);
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(LockError::Cluster(e)),
            }
        }
        let health = Arc::new(Mutex::new(Health {
            last_renewed: Instant::now(),
            last_renewed_wall: std::time::SystemTime::now(),
            failures: 0,
            last_error: None,
            lost: None,
        }));
        let (c, ns, n, h, hl) = (cluster.clone(), namespace.clone(), name.clone(), holder.clone(), health.clone());
        let context = cluster.context().to_owned();
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let (sent, sent_wall) = (Instant::now(), std::time::SystemTime::now());
                // A renewal renews OUR Lease: one that is gone (taken over and released by another
                // run while this one was stopped or asleep) or held by another is lost, never
                // created again.
                let result = c.acquire_lease(&ns, &n, &h, ttl, LeaseMode::Renew).await;
                let mut st = hl.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(()) => {
                        st.last_renewed = sent;
                        st.last_renewed_wall = sent_wall;
                        st.failures = 0;
                    }
                    Err(e) => {
                        st.failures += 1;
                        let taken = matches!(e, ClusterError::Locked { .. } | ClusterError::NotFound { .. });
                        st.last_error = Some(e.to_string());
                        let unrenewed = st.unrenewed();
                        if taken || unrenewed + SAFETY_MARGIN.min(ttl / 2) >= ttl {
                            st.lost = Some(if taken {
                                LockError::Taken(e)
                            } else {
                                LockError::Lost {
                                    context: context.clone(),
                                    name: n.clone(),
                                    failures: st.failures,
                                    seconds: unrenewed.as_secs(),
                                    last_error: st.last_error.clone().unwrap_or_default(),
                                }
                            });
                            return;
                        }
                    }
                }
            }
        });
        Ok(Self { cluster, namespace, name, holder, health, renew, ttl })
    }

    /// `Ok` while the lock is held; the reason it was lost otherwise. Called before every
    /// mutating action.
    pub fn ensure_held(&self) -> Result<(), LockError> {
        let st = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lost) = &st.lost {
            return Err(lost.clone());
        }
        // The renewal task may be starved or stuck in a slow call: judge by the clock too.
        let unrenewed = st.unrenewed();
        if unrenewed + SAFETY_MARGIN.min(self.ttl / 2) >= self.ttl {
            return Err(LockError::Lost {
                context: self.cluster.context().to_owned(),
                name: self.name.clone(),
                failures: st.failures,
                seconds: unrenewed.as_secs(),
                last_error: st.last_error.clone().unwrap_or_else(|| "no renewal finished".into()),
            });
        }
        Ok(())
    }

    /// Releases the lock (only if this run still holds it).
    pub async fn release(self) {
        self.renew.abort();
        let _ = self.cluster.release_lease(&self.namespace, &self.name, &self.holder).await;
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // A run that is dropped stops renewing; the Lease then expires within its TTL.
        self.renew.abort();
    }
}
