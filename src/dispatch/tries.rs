//! One try of a call, its attempt recorded: sent to the provider, and what came of it
//! recorded — the call journal first, then the outbox — with a retry scheduled only for
//! what the provider certainly did not take (after a 429, with every send paused).

use chrono::{DateTime, Utc};

use super::calls::CallRef;
use super::outbox::NextAttempt;
use super::outbox::Tried;
use super::worker::backoff;
use super::Sending;
use crate::journal::{CallEvent, DispatchStatus};
use crate::provider::SendResult;

/// A call about to be tried.
pub(super) struct Try<'a> {
    gw: &'a Sending,
    request_id: &'a str,
    next: NextAttempt,
    first_try: DateTime<Utc>,
    /// The caller-ID pool's choice (its count given back if nothing is placed).
    caller_id: Option<crate::journal::CallerIdChoice>,
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

impl<'a> Try<'a> {
    pub(super) fn new(
        gw: &'a Sending,
        request_id: &'a str,
        next: NextAttempt,
        now: DateTime<Utc>,
    ) -> Self {
        let first_try = next.first_try.unwrap_or(now);
        Self {
            gw,
            request_id,
            next,
            first_try,
            caller_id: None,
        }
    }

    pub(super) fn with_caller_id(mut self, c: Option<crate::journal::CallerIdChoice>) -> Self {
        self.caller_id = c;
        self
    }

    /// The call-journal line of this try's result.
    fn journal(
        &self,
        status: DispatchStatus,
        call_id: Option<String>,
        error: Option<String>,
    ) -> CallEvent {
        CallEvent::Dispatch {
            timestamp: self.gw.ledger.clock.now(),
            request_id: self.request_id.to_string(),
            status,
            lead_id: Some(self.next.lead_id.clone()),
            phone: Some(self.next.phone.clone()),
            call_id,
            error,
            caller_id: self.caller_id.clone(),
        }
    }

    /// Sends the call (or logs it, in a dry run) and records what came of it.
    pub(super) async fn send(self) {
        let (gw, request_id) = (self.gw, self.request_id);
        if !gw.provider.live() {
            tracing::info!(request_id, body = %self.next.body, "dry run: no BLAND_API_KEY, this call would have been sent");
            let journaled =
                gw.ledger
                    .record_dispatch(self.journal(DispatchStatus::DryRun, None, None));
            durable(journaled, "a dry run", request_id).await;
            gw.ledger
                .finish_try(request_id, gw.ledger.clock.now(), Tried::DryRun)
                .await;
            return;
        }
        let result = gw.provider.place(&self.next.body).await;
        let at = gw.ledger.clock.now();
        match self.throttled(result, at).await {
            SendResult::Queued { call_id } => self.sent(call_id, at).await,
            SendResult::Retry { after, why } | SendResult::Throttled { after, why }
                if self.may_retry(at) =>
            {
                self.give_back().await;
                let n = self.next.n;
                let delay =
                    after.unwrap_or_else(|| backoff(gw.ledger.settings.bland.retry_base_ms, n));
                tracing::warn!(request_id, attempt = n, error = %why, delay_ms = delay.as_millis() as u64, "Bland did not take the call; retrying");
                let tried = Tried::Retry {
                    n,
                    error: why,
                    delay,
                };
                if gw.ledger.finish_try(request_id, at, tried).await {
                    gw.ledger.retry_after(request_id, delay);
                }
            }
            SendResult::Retry { why, .. } | SendResult::Throttled { why, .. } => {
                self.give_back().await;
                let why = format!(
                    "gave up after {} tries in {} s: {why}",
                    self.next.n,
                    (at - self.first_try).num_seconds()
                );
                self.failed(why, at).await;
            }
            SendResult::Failed { status, message } => {
                self.give_back().await;
                self.failed(format!("Bland refused the call ({status}): {message}"), at)
                    .await;
            }
            SendResult::Unconfirmed { why } => self.unconfirmed(why, at).await,
        }
    }

    /// A 429: every send pauses for its `Retry-After` (or a backoff), on every instance,
    /// and this call is retried like any other try the provider did not take.
    async fn throttled(&self, result: SendResult, at: DateTime<Utc>) -> SendResult {
        let SendResult::Throttled { after, why } = result else {
            return result;
        };
        let delay = after
            .unwrap_or_else(|| backoff(self.gw.ledger.settings.bland.retry_base_ms, self.next.n));
        let until = at + chrono::Duration::from_std(delay).unwrap_or_default();
        match self.gw.sends.pause(until, &why).await {
            Ok(()) => {
                tracing::warn!(request_id = self.request_id, until = %crate::clock::format_instant(until), error = %why, "the provider is limiting the account: every send paused")
            }
            Err(e) => {
                tracing::error!(request_id = self.request_id, error = %e, "could not pause sending after a 429")
            }
        }
        SendResult::Retry {
            after: Some(delay),
            why,
        }
    }

    /// Nothing was placed: the caller id's count is given back.
    async fn give_back(&self) {
        if self.caller_id.is_some() {
            self.gw.caller_ids.give_back(self.request_id).await;
        }
    }

    /// Another try is allowed while both the tries and the time budget last.
    fn may_retry(&self, at: DateTime<Utc>) -> bool {
        let b = &self.gw.ledger.settings.bland;
        let spent = (at - self.first_try).num_milliseconds().max(0) as u64;
        self.next.n < b.max_attempts && spent < b.retry_budget_secs.saturating_mul(1000)
    }

    async fn sent(self, call_id: String, at: DateTime<Utc>) {
        let (gw, request_id) = (self.gw, self.request_id);
        let placed = CallRef {
            request_id: request_id.into(),
            lead_id: Some(self.next.lead_id.clone()),
            phone: Some(self.next.phone.clone()),
            outcome: None,
            sent_at: Some(at),
        };
        gw.ledger.placed.placed(&call_id, placed);
        // The call journal first: a crash before the outbox's record then leaves the
        // entry unconfirmed, and it is settled from the journal with its call id (the
        // other order could lose the call id, and its outcome would not match).
        let journaled = gw.ledger.record_dispatch(self.journal(
            DispatchStatus::Sent,
            Some(call_id.clone()),
            None,
        ));
        tracing::info!(
            request_id,
            call_id,
            attempt = self.next.n,
            "call placed with Bland"
        );
        durable(journaled, "a sent call", request_id).await;
        if let Some(k) = gw.provider.redial_of(&self.next.body) {
            let placed = gw.ledger.journals.append_call(&CallEvent::Redial {
                timestamp: at,
                request_id: Some(request_id.to_string()),
                lead_id: self.next.lead_id.clone(),
                phone: self.next.phone.clone(),
                n: k.min(1000) as u32,
                of: gw.ledger.settings.redial.max_redials,
                result: "placed".into(),
                after: None,
                queue_id: None,
                release_at: None,
            });
            durable(placed, "a placed redial", request_id).await;
        }
        gw.ledger
            .finish_try(request_id, at, Tried::Sent { call_id })
            .await;
    }

    async fn failed(self, why: String, at: DateTime<Utc>) {
        let (gw, request_id) = (self.gw, self.request_id);
        tracing::error!(request_id, attempt = self.next.n, error = %why, "dispatch failed");
        let journaled = gw.ledger.record_dispatch(self.journal(
            DispatchStatus::Failed,
            None,
            Some(why.clone()),
        ));
        gw.ledger
            .finish_try(request_id, at, Tried::Failed { error: why })
            .await;
        durable(journaled, "a failed dispatch", request_id).await;
    }

    async fn unconfirmed(self, why: String, at: DateTime<Utc>) {
        let (gw, request_id) = (self.gw, self.request_id);
        tracing::error!(request_id, attempt = self.next.n, error = %why, "dispatch unconfirmed: not retried, an admin must resolve it");
        let event = self.journal(DispatchStatus::Unconfirmed, None, Some(why.clone()));
        let journaled = gw.ledger.record_dispatch(event);
        gw.ledger
            .finish_try(request_id, at, Tried::Unconfirmed { error: why })
            .await;
        durable(journaled, "an unconfirmed dispatch", request_id).await;
    }
}
