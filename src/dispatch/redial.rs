//! Redials: a `voicemail`, `no_answer` or `busy` outcome puts the lead back in the deferred
//! queue (stage `redial`, reason "redial 2 of 6 after voicemail") after a progressive
//! interval (`REDIAL_INTERVALS_MINUTES`, the last repeating), at most `REDIAL_MAX` times.
//! A redial re-enters the whole pipeline when released, so the answering-machine cap, the
//! number caps, the calling window and the lists still decide; one deferred by the window
//! waits for it. A `human` or `transferred` outcome or a do-not-call one stops the lead's
//! redials at once; a new webhook for the lead replaces its pending redial (deferred: the
//! queue keeps one entry per lead and number; accepted or blocked: the redial is removed).
//! The redial's number travels in the lead field `_callgate_redial` and Bland's echoed
//! `metadata.redial`, so a repeated completion schedules nothing twice.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use super::completion::Completion;
use super::follow_up::FollowUpError;
use super::FollowUps;
use crate::domain::Lead;
use crate::journal::{CallEvent, Outcome};
use crate::provider::REDIAL_FIELD;
use crate::schedule::queue::{Deferral, Entry};
use crate::store::StoreResult;

pub const STAGE: &str = "redial";
pub const PAUSED: &str = "redial_paused";
/// A paused redial's release time is pushed this far out.
const PAUSE_DAYS: i64 = 3650;

fn is_redial(e: &Entry) -> bool {
    e.stage == STAGE || e.stage == PAUSED
}

impl FollowUps {
    /// Schedules, stops or exhausts the lead's redials after an outcome.
    pub(super) async fn redial_after(
        &self,
        c: &Completion,
        request_id: Option<&str>,
        lead_id: &str,
        phone: &str,
        dnc: bool,
    ) -> Result<(), FollowUpError> {
        let r = &self.ledger.settings.redial;
        if !r.enabled {
            return Ok(());
        }
        let again = matches!(
            c.outcome,
            Outcome::Voicemail | Outcome::NoAnswer | Outcome::Busy
        );
        if dnc || matches!(c.outcome, Outcome::Human | Outcome::Transferred) {
            return self.stop_redials(c, lead_id, phone).await;
        }
        if !again {
            return Ok(());
        }
        let n = c.redial.unwrap_or(0) + 1;
        let now = self.ledger.clock.now();
        let event = |result: &str, queue_id: Option<String>, release_at: Option<DateTime<Utc>>| {
            CallEvent::Redial {
                timestamp: now,
                request_id: request_id.map(str::to_string),
                lead_id: lead_id.to_string(),
                phone: phone.to_string(),
                n,
                of: r.max_redials,
                result: result.to_string(),
                after: Some(c.outcome),
                queue_id,
                release_at,
            }
        };
        if n > r.max_redials {
            self.ledger
                .journals
                .append_call(&event("exhausted", None, None))
                .wait()
                .await
                .map_err(FollowUpError::redial(None))?;
            tracing::info!(lead_id, "redials exhausted");
            return Ok(());
        }
        let lead = self.redial_lead(c, lead_id, phone, n)?;
        let release_at = now + TimeDelta::minutes(i64::from(r.interval(n)));
        let reason = format!(
            "redial {n} of {} after {}",
            r.max_redials,
            c.outcome.as_str()
        );
        let queue_id = self
            .defer_for(
                &lead,
                &super::new_request_id(),
                now,
                release_at,
                STAGE,
                &reason,
            )
            .await
            .map_err(FollowUpError::redial(Some("schedule the redial")))?;
        self.ledger
            .journals
            .append_call(&event("scheduled", Some(queue_id), Some(release_at)))
            .wait()
            .await
            .map_err(FollowUpError::redial(None))?;
        tracing::info!(lead_id, n, %release_at, "redial scheduled");
        Ok(())
    }

    /// A person answered, the call was transferred, or the number asked not to be called:
    /// the lead's pending redials are cancelled.
    async fn stop_redials(
        &self,
        c: &Completion,
        lead_id: &str,
        phone: &str,
    ) -> Result<(), FollowUpError> {
        let stopped = self
            .cancel_redials(lead_id, Some(phone))
            .await
            .map_err(FollowUpError::redial(Some("stop the lead's redials")))?;
        if stopped > 0 {
            tracing::info!(lead_id, outcome = c.outcome.as_str(), "redials stopped");
        }
        Ok(())
    }

    /// The lead to call again: its fields as Bland echoes them, else what we know (number,
    /// lead id, list id), with the redial's number.
    fn redial_lead(
        &self,
        c: &Completion,
        lead_id: &str,
        phone: &str,
        n: u32,
    ) -> Result<Lead, FollowUpError> {
        let names = &self.ledger.settings.lead_fields;
        let mut fields: Map<String, Value> = c.request_data.clone().unwrap_or_default();
        let id_field = names.lead_id.first().map_or("lead_id", String::as_str);
        let phone_field = names.phone.first().map_or("phone_number", String::as_str);
        fields.insert(id_field.to_string(), json!(lead_id));
        fields.insert(phone_field.to_string(), json!(phone));
        if let (Some(list), false) = (&c.list_id, fields.contains_key("list_id")) {
            fields.insert("list_id".into(), json!(list));
        }
        fields.insert(REDIAL_FIELD.into(), json!(n));
        Lead::parse(fields, names, &self.ledger.settings.default_country)
            .map_err(|e| FollowUpError::RedialLead(e.join("; ")))
    }

    /// Puts a lead in the deferred queue; returns the entry's id.
    pub(super) async fn defer_for(
        &self,
        lead: &Lead,
        request_id: &str,
        now: DateTime<Utc>,
        release_at: DateTime<Utc>,
        stage: &str,
        reason: &str,
    ) -> StoreResult<String> {
        let d = Deferral {
            lead,
            request_id,
            now,
            release_at,
            stage,
            reason,
        };
        self.ledger.defer(d).await
    }

    /// The lead's pending redials (every number, or one).
    pub async fn redials_of(&self, lead_id: &str, phone: Option<&str>) -> StoreResult<Vec<Entry>> {
        if let Some(phone) = phone {
            // Every webhook asks (with redials on): the queue's index answers at once.
            let entries = self.ledger.deferred_store.of_lead(lead_id, phone).await?;
            return Ok(entries.into_iter().filter(is_redial).collect());
        }
        let ((_, entries), _) = self
            .ledger
            .deferred_page(Some(lead_id), phone, 0, 1000)
            .await?;
        Ok(entries.into_iter().filter(is_redial).collect())
    }

    /// Removes the lead's pending redials (journaled `dequeued`, `deleted`); how many.
    pub async fn cancel_redials(&self, lead_id: &str, phone: Option<&str>) -> StoreResult<usize> {
        let mut n = 0;
        for e in self.redials_of(lead_id, phone).await? {
            if let Some(Ok(_)) = self.ledger.delete_deferred(&e.id).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Pauses (`true`) or resumes the lead's redials: a paused one waits with its release
    /// time pushed out; a resumed one is due now. Returns the lead's redials after.
    pub async fn pause_redials(&self, lead_id: &str, pause: bool) -> StoreResult<Vec<Entry>> {
        let now = self.ledger.clock.now();
        let s = &self.ledger.settings;
        for e in self.redials_of(lead_id, None).await? {
            let (stage, release_at, reason) = match (pause, e.stage.as_str()) {
                (true, STAGE) => (
                    PAUSED,
                    now + TimeDelta::days(PAUSE_DAYS),
                    format!("paused: {}", e.reason),
                ),
                (false, PAUSED) => (
                    STAGE,
                    now,
                    e.reason.trim_start_matches("paused: ").to_string(),
                ),
                _ => continue,
            };
            let Ok(lead) = Lead::parse(e.fields(), &s.lead_fields, &s.default_country) else {
                continue;
            };
            self.defer_for(&lead, &e.request_id, now, release_at, stage, &reason)
                .await?;
        }
        self.redials_of(lead_id, None).await
    }
}
