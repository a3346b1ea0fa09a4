//! The dispatcher in database mode: instances take calls from the shared outbox by
//! claiming them ([`crate::db::Db::claim_paced`]), so each call is sent by exactly one
//! instance, and `BLAND_MAX_CONCURRENT` and `BLAND_MAX_CALLS_PER_SECOND` hold for the whole
//! deployment. The claim records the attempt and a lease (the Bland timeout plus
//! [`CLAIM_MARGIN_SECS`]) before the request leaves; a claim whose instance died runs out
//! and the call becomes `unconfirmed` (the release task's sweep), never resent on its own.
//!
//! An instance looks for due calls every [`POLL`] and at once when it accepted a call
//! itself; its own retries are claimed by id when their backoff timer fires (the only
//! claims that do not wait for `next_try_at`, so a retry is never early).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::outbox::NextAttempt;
use super::shared::{Shared, CLAIM_MARGIN_SECS};
use super::{Gateway, Wake};
use crate::db::outbox::Claimed;
use crate::db::pace::Claim;

/// How often every instance looks for due calls (other instances' retries, calls left by
/// an instance that stopped).
pub const POLL: Duration = Duration::from_millis(250);

/// Runs until `shutdown` resolves, then lets sends in flight finish.
pub async fn run(
    gw: Arc<Gateway>,
    sh: Arc<Shared>,
    mut queue: mpsc::UnboundedReceiver<Wake>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let b = &gw.settings.bland;
    let lease = chrono::Duration::seconds(b.timeout_secs as i64 + CLAIM_MARGIN_SECS);
    let spacing = chrono::Duration::microseconds((1e6 / b.max_calls_per_second).round() as i64);
    let max_in_flight = b.max_concurrent.max(1) as i64;
    let mut wanted: VecDeque<String> = VecDeque::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            wake = queue.recv() => match wake {
                // A call was queued here: claim what is due.
                Some(Wake::Queued(_)) => {}
                // This instance's retry timer fired for `id`: claim that call.
                Some(Wake::Retry(id)) => wanted.push_back(id),
                None => break,
            },
            _ = tick.tick() => {}
        }
        loop {
            let only = wanted.front().cloned();
            let claim = sh
                .db
                .claim_paced(
                    &sh.holder,
                    gw.clock.now(),
                    lease,
                    only.as_deref(),
                    max_in_flight,
                    spacing,
                )
                .await;
            match claim {
                Ok(Claim::Claimed(c)) => {
                    if only.is_some() {
                        wanted.pop_front();
                    }
                    let gw = gw.clone();
                    in_flight.spawn(async move { send_claimed(&gw, c).await });
                }
                Ok(Claim::Nothing) if only.is_some() => {
                    wanted.pop_front();
                }
                Ok(Claim::Nothing | Claim::Full) => break,
                Ok(Claim::Wait(d)) => tokio::time::sleep(d.min(Duration::from_secs(1))).await,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim calls from the database; retrying");
                    break;
                }
            }
        }
    }
    while in_flight.join_next().await.is_some() {}
}

async fn send_claimed(gw: &Gateway, c: Claimed) {
    let now = gw.clock.now();
    let rid = c.request_id.clone();
    match gw
        .window_still_open(&rid, &c.body, &c.lead_id, &c.phone, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(request_id = %rid, error = %e, "could not move a call whose window closed back to the queue; trying again in a minute");
            let retry = super::entries::Tried::Retry {
                n: u32::try_from(c.n).unwrap_or(1),
                error: format!(
                    "the calling window closed and the lead could not be re-queued: {e}"
                ),
                delay: Duration::from_secs(60),
            };
            gw.finish_try(&rid, now, retry).await;
            return;
        }
    }
    let next = NextAttempt {
        body: c.body,
        n: u32::try_from(c.n).unwrap_or(1),
        lead_id: c.lead_id,
        phone: c.phone,
        first_try: Some(c.first_try),
    };
    super::worker::try_send(gw, &rid, next, now).await;
}
