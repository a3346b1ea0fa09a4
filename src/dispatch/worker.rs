//! The dispatcher: sends outbox entries to Bland within `BLAND_MAX_CALLS_PER_SECOND` and
//! `BLAND_MAX_CONCURRENT`, retries only what Bland certainly did not take (exponential
//! backoff with jitter capped at 60 s, `Retry-After` honoured, for `BLAND_RETRY_BUDGET_SECS`
//! from the first try and at most `BLAND_MAX_ATTEMPTS` tries, the same
//! `metadata.request_id` every time), and records every result. A call whose retries are
//! spent stays in the outbox as `failed` for an admin to resend or cancel. Intake only tells
//! the dispatcher, so waiting for a slot never slows a webhook. Which call goes next, and
//! the limits, are the sender's storage role ([`super::sends`]); this loop is the same
//! for both backends.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::outbox::Tried;
use super::sends::{Claim, Claimed};
use super::{Ledger, Wake};

/// The sender (see the module docs).
pub struct Sending {
    pub(super) ledger: Arc<Ledger>,
    /// Where the dispatcher takes its calls from (this process's queue, or claims).
    pub(super) sends: Arc<dyn super::sends::Sends>,
    /// Who places the calls (Bland); not live = dry run.
    pub(super) provider: Arc<dyn crate::provider::CallProvider>,
    /// The calling window, re-checked before each send.
    pub(super) scheduler: Arc<crate::schedule::Scheduler>,
    /// Which number each call is placed from (off without numbers).
    pub caller_ids: Arc<super::callerid::CallerIds>,
    /// Who journals the calls held for capacity (database mode: one instance).
    pub(super) leases: Arc<dyn crate::store::lease::Leases>,
    pub(super) held: super::held::Held,
}

/// Backoff before try `n + 1`: base × 2^(n−1), ±50 % jitter, capped at 60 s.
pub fn backoff(base_ms: u64, n: u32) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << n.saturating_sub(1).min(16));
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_millis(((exp as f64) * jitter) as u64).min(Duration::from_secs(60))
}

/// How often the dispatcher asks for calls it was not told about (other instances'
/// retries, calls left by an instance that stopped; nothing to find on one process).
pub const POLL: Duration = Duration::from_millis(250);

/// Runs until `shutdown` resolves, then lets sends in flight finish: told of each call
/// queued and each retry due, it asks [`Sends`] for calls until there is nothing to send
/// or no room, and sends each in a task of its own.
pub async fn run(
    gw: Arc<Sending>,
    mut queue: mpsc::UnboundedReceiver<Wake>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let sends = gw.sends.clone();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            wake = queue.recv() => match wake {
                Some(wake) => sends.told(wake),
                None => break,
            },
            _ = tick.tick() => {}
        }
        loop {
            // No caller id usable: nothing is claimed (no try counted, no budget spent)
            // until one is; the next tick looks again.
            if !gw.caller_id_usable().await {
                break;
            }
            match sends.claim(gw.ledger.clock.now()).await {
                Ok(Claim::Claimed(c)) => {
                    let gw = gw.clone();
                    in_flight.spawn(async move { send_claimed(&gw, *c).await });
                }
                Ok(Claim::Nothing | Claim::Full) => break,
                // A long wait (sending paused after a 429) is left to the next tick, so
                // a shutdown is never held up by it.
                Ok(Claim::Wait(d)) if d > POLL => break,
                Ok(Claim::Wait(d)) => tokio::time::sleep(d).await,
                Err(e) => {
                    tracing::error!(error = %e, "cannot take calls to send; retrying");
                    break;
                }
            }
        }
        gw.note_held().await;
    }
    while in_flight.join_next().await.is_some() {}
}

/// A claimed call: re-checked against the calling window, then sent.
async fn send_claimed(gw: &Sending, c: Claimed) {
    let Claimed {
        request_id: rid,
        next,
        slot,
    } = c;
    let now = gw.ledger.clock.now();
    // A call accepted just before a window closed, retried, or replayed after a restart
    // may be due when calling is no longer allowed: it goes back to the deferred queue.
    match gw
        .window_still_open(&rid, &next.body, &next.lead_id, &next.phone, now)
        .await
    {
        Ok(true) => {
            if let Some((next, caller_id)) = gw.caller_id_for(&rid, next, now).await {
                super::tries::Try::new(gw, &rid, next, now)
                    .with_caller_id(caller_id)
                    .send()
                    .await
            }
        }
        Ok(false) => {}
        Err(e) => {
            tracing::error!(request_id = %rid, error = %e, "could not move a call whose window closed back to the queue; trying again in a minute");
            let retry = Tried::Retry {
                n: next.n,
                error: format!(
                    "the calling window closed and the lead could not be re-queued: {e}"
                ),
                delay: Duration::from_secs(60),
            };
            if gw.ledger.finish_try(&rid, now, retry).await {
                gw.ledger.retry_after(&rid, Duration::from_secs(60));
            }
        }
    }
    drop(slot);
}

impl Sending {
    /// Whether a call may be claimed as far as the caller-ID pool is concerned (always,
    /// without a pool): some number is usable now. Otherwise the wait is logged once per
    /// reason and shown to admins ([`super::callerid::CallerIds::waiting`]).
    async fn caller_id_usable(&self) -> bool {
        let pool = &self.caller_ids;
        if !pool.active() {
            return true;
        }
        let now = self.ledger.clock.now();
        match pool.status(now).await {
            Ok((st, _)) => {
                let [queued, ..] = self.ledger.outbox_store.counts();
                pool.note_wait(&st, queued > 0)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the caller-ID pool's calls; no call is placed until it can be read");
                false
            }
        }
    }

    /// The call as it will be sent: from the number the pool chose (counted against its
    /// caps), or as stored without a pool. `None` when no number is usable after all (a
    /// take lost to another instance): the call is retried when one may be.
    async fn caller_id_for(
        &self,
        rid: &str,
        mut next: super::outbox::NextAttempt,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<(
        super::outbox::NextAttempt,
        Option<crate::journal::CallerIdChoice>,
    )> {
        use super::callerid::Chosen;
        let chosen = match self.caller_ids.choose(rid, &next.phone, now).await {
            Ok(c) => c,
            Err(e) => Chosen::NoneUsable {
                why: format!("cannot read the caller-ID pool: {e}"),
                until: None,
            },
        };
        match chosen {
            Chosen::Off => Some((next, None)),
            Chosen::Number(c) => {
                next.body = self.provider.with_from(&next.body, &c.number);
                Some((next, Some(c)))
            }
            // Looked at again in a second: the dispatcher's check before each claim then
            // holds it, without counting tries, until a number is usable.
            Chosen::NoneUsable { why, .. } => {
                let delay = Duration::from_secs(1);
                tracing::warn!(request_id = rid, error = %why, "no caller id for this call; it waits");
                let retry = Tried::Retry {
                    n: next.n,
                    error: why,
                    delay,
                };
                if self.ledger.finish_try(rid, now, retry).await {
                    self.ledger.retry_after(rid, delay);
                }
                None
            }
        }
    }
}
