//! A completion (read by the provider from its webhook, or polled): the call it belongs
//! to, settled once, and what it sets off.

use super::calls::Claim;
use super::Completed;
use crate::journal::CallEvent;
pub use crate::provider::Completion;

/// Why a completion was not recorded (the webhook answers 503 and the provider retries).
#[derive(Debug, thiserror::Error)]
pub enum CompletionError {
    /// The payload is not a completion.
    #[error("{0}")]
    Invalid(String),
    /// Its call is still being sent, by an instance that may have died holding the claim.
    #[error("call {0} is still being sent (its result is not recorded yet)")]
    StillSending(String),
    /// A store failed; `Database` when it is the database.
    #[error("{doing}: {source}")]
    Store {
        doing: String,
        #[source]
        source: crate::store::StoreError,
    },
    /// What the outcome sets off (a flag, a redial, a Convoso write) failed.
    #[error(transparent)]
    FollowUp(#[from] super::follow_up::FollowUpError),
    /// An unconfirmed call could not be settled as sent.
    #[error("could not settle unconfirmed call {request_id}: {why}")]
    Settle { request_id: String, why: String },
}

impl CompletionError {
    fn store(doing: impl Into<String>) -> impl FnOnce(crate::store::StoreError) -> Self {
        let doing = doing.into();
        move |source| Self::Store { doing, source }
    }

    /// Whether the database is what failed.
    pub fn is_database(&self) -> bool {
        match self {
            Self::Store { source, .. } => matches!(source, crate::store::StoreError::Database(_)),
            Self::FollowUp(e) => e.is_database(),
            Self::Invalid(_) | Self::StillSending(_) | Self::Settle { .. } => false,
        }
    }
}

/// How long a completion waits for the recorded result of its call's send.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl super::FollowUps {
    /// A completion whose `metadata.request_id` names an `unconfirmed` call of ours (a
    /// send cut short by a timeout or a crash) proves Bland took it: the call is settled as
    /// sent with this `call_id`, and the completion then counts as its outcome.
    async fn settle_unconfirmed(&self, c: &Completion) -> Result<(), CompletionError> {
        let Some(request_id) = &c.request_id else {
            return Ok(());
        };
        let entry = self
            .ledger
            .outbox_store
            .entry(request_id)
            .await
            .map_err(CompletionError::store("could not read the outbox"))?;
        let Some(entry) = entry.filter(|e| e.state == super::outbox::State::Unconfirmed) else {
            return Ok(());
        };
        self.ledger
            .settle_sent(&entry, Some(c.call_id.clone()))
            .await
            .map_err(|e| CompletionError::Settle {
                request_id: request_id.clone(),
                why: e.to_string(),
            })?;
        tracing::info!(request_id = %request_id, call_id = %c.call_id, "unconfirmed call settled as sent by its completion");
        Ok(())
    }

    /// Records a completion webhook's payload once per `call_id` (the provider reads it).
    pub async fn complete(
        &self,
        payload: &serde_json::Value,
    ) -> Result<(Completion, Completed), CompletionError> {
        let c = self
            .provider
            .parse_completion(payload)
            .map_err(|e| CompletionError::Invalid(e.to_string()))?;
        self.complete_parsed(c).await
    }

    /// A completion can overtake its own send: Bland calls back before its answer to our
    /// `POST /v1/calls` has been recorded (or while another instance records it). A
    /// completion naming a call of ours that is still in flight waits, at most
    /// [`SEND_WAIT`], for the send's result, so it is matched instead of consumed as
    /// `unmatched`. Still in flight then (its sender died holding the claim), the answer is
    /// an error (503): nothing is recorded, Bland's retry or reconciliation applies it.
    async fn await_send(&self, c: &Completion) -> Result<(), CompletionError> {
        let Some(request_id) = &c.request_id else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + SEND_WAIT;
        loop {
            let entry = self
                .ledger
                .outbox_store
                .entry(request_id)
                .await
                .map_err(CompletionError::store("could not read the outbox"))?;
            if !entry.is_some_and(|e| e.state == super::outbox::State::InFlight) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CompletionError::StillSending(request_id.clone()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// [`super::FollowUps::complete`] for a completion already read (a polled one included):
    /// the call is found among the calls placed (every instance's, in database mode), its
    /// follow-up runs before the outcome is recorded (so a failure leaves the call
    /// unsettled for the provider's retry; each step is idempotent: the flag found live,
    /// writes keyed by the call id, the redial keyed by lead and number), and the outcome
    /// is journaled once per `call_id`.
    pub async fn complete_parsed(
        &self,
        c: Completion,
    ) -> Result<(Completion, Completed), CompletionError> {
        self.await_send(&c).await?;
        self.settle_unconfirmed(&c).await?;
        let begun = self
            .ledger
            .placed
            .begin(&c.call_id, c.outcome)
            .await
            .map_err(CompletionError::store("could not look the call up"))?;
        let (request_id, lead_id, phone) = match begun {
            Claim::Duplicate => return Ok((c, Completed::Duplicate)),
            Claim::Unknown => (None, None, None),
            Claim::New(call) => (Some(call.request_id), call.lead_id, call.phone),
        };
        let matched = request_id.is_some();
        if matched {
            let followed = self
                .follow_up(
                    &c,
                    request_id.as_deref(),
                    lead_id.as_deref(),
                    phone.as_deref(),
                )
                .await;
            if let Err(e) = followed {
                self.ledger.placed.abandon(&c.call_id);
                return Err(CompletionError::FollowUp(e));
            }
        }
        let event = CallEvent::Outcome {
            timestamp: self.ledger.clock.now(),
            request_id: request_id.clone().or_else(|| c.request_id.clone()),
            call_id: c.call_id.clone(),
            outcome: c.outcome,
            duration_s: c.duration_s,
            matched,
            lead_id,
            phone: phone.clone(),
            tags: c.tags.clone(),
            source: c.polled.then(|| "poll".to_string()),
        };
        let fresh = match self.ledger.placed.record(&event).await {
            Ok(fresh) => fresh,
            Err(e) => {
                self.ledger.placed.abandon(&c.call_id);
                return Err(CompletionError::store("could not record the outcome")(e));
            }
        };
        if !fresh {
            return Ok((c, Completed::Duplicate));
        }
        self.ledger.tracker.apply(&event);
        if let Some(rid) = &request_id {
            self.caller_ids.outcome(rid, c.outcome, event.at()).await;
        }
        if let Some(phone) = &phone {
            self.ledger.line_free(phone, event.at());
        }
        match request_id {
            Some(request_id) => Ok((c, Completed::Recorded { request_id })),
            None => {
                tracing::warn!(call_id = %c.call_id, "completion for a call we did not place; journaled as unmatched, no tracker changed");
                Ok((c, Completed::Unmatched))
            }
        }
    }
}
