//! The decision, one path for both backends: a unit of work over the leads' numbers
//! ([`super::decisions`]), the pipeline for each lead in arrival order, and the
//! decision's writes — the call-journal line (with a block's attempt), the deferred
//! entry or the end of a release, the accepted call's outbox entry — made durable
//! together before any webhook is answered.

use std::io;

use chrono::{DateTime, Utc};

use super::decisions::QueuedCall;
use super::{Intake, Submitted};
use crate::domain::Lead;
use crate::journal::{Attempt, CallEvent, Decision};
use crate::pipeline::Evaluation;
use crate::schedule::queue::{Deferral, Entry};
use crate::store::StoreResult;

/// One lead to decide: a new lead, or a released queue entry this instance claimed.
pub struct ToDecide<'a> {
    pub lead: &'a Lead,
    pub request_id: &'a str,
    pub now: DateTime<Utc>,
    pub release: Option<&'a Entry>,
}

impl Intake {
    /// [`Intake::submit`]'s decision, for a new lead or a released queue entry
    /// (`release`): a released entry deferred again stays in the queue (same id);
    /// otherwise it leaves it once the decision is durable.
    pub(crate) async fn decide(
        &self,
        lead: &Lead,
        request_id: &str,
        now: DateTime<Utc>,
        release: Option<&Entry>,
    ) -> StoreResult<Submitted> {
        let one = ToDecide {
            lead,
            request_id,
            now,
            release,
        };
        let mut decided = self.decide_all(std::slice::from_ref(&one)).await?;
        decided
            .pop()
            .ok_or_else(|| io::Error::other("a decision went missing").into())
    }

    /// Decides `leads` in one unit of work (see the module docs); one answer per lead, in
    /// order, or one error for all of them (nothing of the unit is kept).
    pub(crate) async fn decide_all(&self, leads: &[ToDecide<'_>]) -> StoreResult<Vec<Submitted>> {
        let numbers: Vec<&Lead> = leads.iter().map(|i| i.lead).collect();
        let oldest = leads.iter().map(|i| i.now).min();
        let mut unit = self
            .decisions
            .begin(&numbers, oldest.unwrap_or_else(|| self.ledger.clock.now()))
            .await?;
        let mut decided = Vec::with_capacity(leads.len());
        for i in leads {
            let eval = self.evaluate_logged(i.lead, i.request_id, i.now, i.release.is_some());
            let again = match (eval.decision, eval.release_at) {
                (Decision::Deferred, Some(release_at)) => Some(Deferral {
                    lead: i.lead,
                    request_id: i.request_id,
                    now: i.now,
                    release_at,
                    stage: eval.stage.unwrap_or(""),
                    reason: eval.reason.as_deref().unwrap_or(""),
                }),
                _ => None,
            };
            let queue_id = match (i.release, again) {
                (Some(entry), again) => unit.finish_release(entry, i.now, again).await?,
                (None, Some(d)) => Some(unit.defer(d).await?),
                (None, None) => None,
            };
            let decision = self.decision_event(i, &eval, queue_id.clone());
            unit.record(&decision).await?;
            if eval.decision == Decision::Accepted {
                unit.enqueue(QueuedCall {
                    request_id: i.request_id,
                    lead_id: &i.lead.lead_id,
                    phone: i.lead.phone.as_str(),
                    body: self.body_for(i.lead, i.request_id),
                    at: i.now,
                })
                .await?;
            }
            decided.push(Submitted { eval, queue_id });
        }
        unit.commit().await?;
        for (i, d) in leads.iter().zip(&decided) {
            if d.eval.decision == Decision::Accepted {
                self.ledger.wake_sender(i.request_id);
            }
        }
        Ok(decided)
    }

    /// The pipeline's answer, logged.
    fn evaluate_logged(
        &self,
        lead: &Lead,
        request_id: &str,
        now: DateTime<Utc>,
        release: bool,
    ) -> Evaluation {
        let eval = self.pipeline.evaluate(lead, now);
        tracing::info!(request_id, lead_id = %lead.lead_id, phone = %lead.phone,
            decision = eval.decision.as_str(), stage = eval.stage.unwrap_or(""),
            reason = eval.reason.as_deref().unwrap_or(""), flag_id = eval.flag_id().unwrap_or(""),
            release, "lead decided");
        eval
    }

    /// The provider's call body for an accepted lead.
    fn body_for(&self, lead: &Lead, request_id: &str) -> serde_json::Value {
        let from = self.pick_from();
        self.provider.call_body(lead, request_id, from.as_deref())
    }

    /// The call-journal line of a decision (a block carries its attempt line).
    fn decision_event(
        &self,
        i: &ToDecide<'_>,
        eval: &Evaluation,
        queue_id: Option<String>,
    ) -> CallEvent {
        let (lead, now) = (i.lead, i.now);
        let attempt = match (eval.decision, &eval.block) {
            (Decision::Blocked, Some(block)) => Some(Attempt {
                timestamp: now,
                field: block.field.clone(),
                value: block.value.clone(),
                lead_id: Some(lead.lead_id.clone()),
                phone: Some(lead.phone.as_str().to_string()),
                blocked: true,
                reason: eval.reason.clone().unwrap_or_default(),
                flag_id: block.flag_id.clone(),
                request_id: Some(i.request_id.to_string()),
                stage: eval.stage.unwrap_or("blocklist").to_string(),
                source: block.source.to_string(),
                flag_reason: block.flag_reason.clone(),
                list: block.list.as_ref().map(|(name, _)| name.clone()),
                list_version: block.list.as_ref().and_then(|(_, v)| *v),
            }),
            _ => None,
        };
        CallEvent::Decision {
            timestamp: now,
            request_id: i.request_id.to_string(),
            lead_id: Some(lead.lead_id.clone()),
            phone: Some(lead.phone.as_str().to_string()),
            decision: eval.decision,
            stage: eval.stage.map(str::to_string),
            reason: eval.reason.clone(),
            release: i.release.is_some(),
            queue_id,
            release_at: eval.release_at,
            trace: serde_json::to_value(&eval.trace).ok(),
            attempt: attempt.map(Box::new),
            fields: Some(lead.recheck_fields()),
        }
    }
}
