//! The dispatcher: sends outbox entries to Bland within `BLAND_MAX_CALLS_PER_SECOND` and
//! `BLAND_MAX_CONCURRENT`, retries only what Bland certainly did not take (exponential
//! backoff with jitter capped at 60 s, `Retry-After` honoured, for `BLAND_RETRY_BUDGET_SECS`
//! from the first try and at most `BLAND_MAX_ATTEMPTS` tries, the same
//! `metadata.request_id` every time), and records every result. A call whose retries are
//! spent stays in the outbox as `failed` for an admin to resend or cancel. Intake only enqueues
//! an id, so waiting for a slot never slows a webhook.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::calls::CallRef;
use super::entries::Tried;
use super::outbox::Record;
use super::{Gateway, Wake};
use crate::journal::{CallEvent, DispatchStatus};
use crate::provider::SendResult;

/// Backoff before try `n + 1`: base × 2^(n−1), ±50 % jitter, capped at 60 s.
pub fn backoff(base_ms: u64, n: u32) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << n.saturating_sub(1).min(16));
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_millis(((exp as f64) * jitter) as u64).min(Duration::from_secs(60))
}

/// Runs until `shutdown` resolves, then lets sends in flight finish.
pub async fn run(
    gateway: Arc<Gateway>,
    mut queue: mpsc::UnboundedReceiver<Wake>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Some(sh) = gateway.shared.clone() {
        return super::claims::run(gateway, sh, queue, shutdown).await;
    }
    let b = &gateway.settings.bland;
    let slots = Arc::new(Semaphore::new(b.max_concurrent.max(1)));
    let spacing = Duration::from_secs_f64(1.0 / b.max_calls_per_second);
    let mut next_start = Instant::now();
    let mut in_flight = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let id = tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => continue,
            wake = queue.recv() => match wake {
                Some(Wake::Queued(id) | Wake::Retry(id)) => id,
                None => break,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let now = Instant::now();
        if next_start > now {
            tokio::time::sleep_until(next_start).await;
        }
        next_start = next_start.max(now) + spacing;
        let gw = gateway.clone();
        in_flight.spawn(async move {
            send_one(&gw, &id).await;
            drop(slot);
        });
    }
    while in_flight.join_next().await.is_some() {}
}

/// Another try is allowed while both the tries and the time budget last.
fn may_retry(
    gw: &Gateway,
    n: u32,
    first_try: chrono::DateTime<chrono::Utc>,
    at: chrono::DateTime<chrono::Utc>,
) -> bool {
    let b = &gw.settings.bland;
    let spent = (at - first_try).num_milliseconds().max(0) as u64;
    n < b.max_attempts && spent < b.retry_budget_secs.saturating_mul(1000)
}

async fn durable(pending: crate::store::appender::Pending, what: &str, request_id: &str) -> bool {
    match pending.wait().await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(request_id, error = %e, "could not record {what}");
            false
        }
    }
}

async fn send_one(gw: &Gateway, request_id: &str) {
    let Some(next) = gw.outbox.next_attempt(request_id) else {
        return;
    };
    let now = gw.clock.now();
    // A call accepted just before a window closed, retried, or replayed after a restart
    // may be due when calling is no longer allowed: it goes back to the deferred queue.
    match gw
        .window_still_open(request_id, &next.body, &next.lead_id, &next.phone, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::error!(request_id, error = %e, "could not move a call whose window closed back to the queue; it stays in the outbox");
            return;
        }
    }
    // On disk before the request leaves: a crash from here on makes the entry unconfirmed.
    if !durable(
        gw.outbox.record(Record::Attempt {
            request_id: request_id.into(),
            at: now,
            n: next.n,
        }),
        "a dispatch attempt",
        request_id,
    )
    .await
    {
        let _ = gw.outbox.record(Record::Retry {
            request_id: request_id.into(),
            at: now,
            n: next.n,
            error: "could not record the attempt".into(),
        });
        return;
    }
    try_send(gw, request_id, next, now).await;
}

/// Sends a call whose attempt is recorded, and records what came of it: the call journal
/// first, then the outbox.
pub(super) async fn try_send(
    gw: &Gateway,
    request_id: &str,
    next: super::outbox::NextAttempt,
    now: chrono::DateTime<chrono::Utc>,
) {
    let super::outbox::NextAttempt {
        body,
        n,
        lead_id,
        phone,
        first_try,
    } = next;
    let first_try = first_try.unwrap_or(now);
    let journal = |status, call_id: Option<String>, error: Option<String>| CallEvent::Dispatch {
        timestamp: gw.clock.now(),
        request_id: request_id.to_string(),
        status,
        lead_id: Some(lead_id.clone()),
        phone: Some(phone.clone()),
        call_id,
        error,
    };
    if !gw.provider.live() {
        tracing::info!(request_id, body = %body, "dry run: no BLAND_API_KEY, this call would have been sent");
        let journaled = gw.record_dispatch(journal(DispatchStatus::DryRun, None, None));
        durable(journaled, "a dry run", request_id).await;
        gw.finish_try(request_id, gw.clock.now(), Tried::DryRun)
            .await;
        return;
    }
    let result = gw.provider.place(&body).await;
    let at = gw.clock.now();
    match result {
        SendResult::Queued { call_id } => {
            gw.placed.placed(
                &call_id,
                CallRef {
                    request_id: request_id.into(),
                    lead_id: Some(lead_id.clone()),
                    phone: Some(phone.clone()),
                    outcome: None,
                    sent_at: Some(at),
                },
            );
            // The call journal first: a crash before the outbox's record then leaves the
            // entry unconfirmed, and it is settled from the journal with its call id (the
            // other order could lose the call id, and its outcome would not match).
            let journaled =
                gw.record_dispatch(journal(DispatchStatus::Sent, Some(call_id.clone()), None));
            tracing::info!(request_id, call_id, attempt = n, "call placed with Bland");
            durable(journaled, "a sent call", request_id).await;
            if let Some(k) = gw.provider.redial_of(&body) {
                let placed = gw.journals.append_call(&CallEvent::Redial {
                    timestamp: at,
                    request_id: Some(request_id.to_string()),
                    lead_id: lead_id.clone(),
                    phone: phone.clone(),
                    n: k.min(1000) as u32,
                    of: gw.settings.redial.max_redials,
                    result: "placed".into(),
                    after: None,
                    queue_id: None,
                    release_at: None,
                });
                durable(placed, "a placed redial", request_id).await;
            }
            gw.finish_try(request_id, at, Tried::Sent { call_id }).await;
        }
        SendResult::Retry { after, why } if may_retry(gw, n, first_try, at) => {
            let delay = after.unwrap_or_else(|| backoff(gw.settings.bland.retry_base_ms, n));
            tracing::warn!(request_id, attempt = n, error = %why, delay_ms = delay.as_millis() as u64, "Bland did not take the call; retrying");
            let recorded = gw
                .finish_try(
                    request_id,
                    at,
                    Tried::Retry {
                        n,
                        error: why,
                        delay,
                    },
                )
                .await;
            if recorded {
                let queue = gw.queue.clone();
                let id = request_id.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = queue.send(Wake::Retry(id));
                });
            }
        }
        SendResult::Retry { .. } | SendResult::Failed { .. } => {
            let why = match result {
                SendResult::Failed { status, message } => {
                    format!("Bland refused the call ({status}): {message}")
                }
                SendResult::Retry { why, .. } => format!(
                    "gave up after {n} tries in {} s: {why}",
                    (at - first_try).num_seconds()
                ),
                _ => String::new(),
            };
            tracing::error!(request_id, attempt = n, error = %why, "dispatch failed");
            let journaled =
                gw.record_dispatch(journal(DispatchStatus::Failed, None, Some(why.clone())));
            gw.finish_try(request_id, at, Tried::Failed { error: why })
                .await;
            durable(journaled, "a failed dispatch", request_id).await;
        }
        SendResult::Unconfirmed { why } => {
            tracing::error!(request_id, attempt = n, error = %why, "dispatch unconfirmed: not retried, an admin must resolve it");
            let journaled = gw.record_dispatch(journal(
                DispatchStatus::Unconfirmed,
                None,
                Some(why.clone()),
            ));
            gw.finish_try(request_id, at, Tried::Unconfirmed { error: why })
                .await;
            durable(journaled, "an unconfirmed dispatch", request_id).await;
        }
    }
}
