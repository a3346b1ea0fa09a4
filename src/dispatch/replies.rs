//! Texts the leads send us and the callbacks they ask for (`POST /webhooks/sms`,
//! `POST /webhooks/call-back`).
//!
//! - A callback puts the lead in the deferred queue (stage `callback`) for the instant
//!   asked, or now: the release task runs it through the whole pipeline then, so the
//!   calling windows, caps, lists and the answering-machine check decide as for any lead,
//!   and a window that is closed defers it again. The queue keeps one entry per lead and
//!   number, so asking twice schedules one call.
//! - A text is read for an opt-out or a callback word ([`crate::sms::words`]) and acted on
//!   before it is journaled (a failure answers 503 and the provider's retry finds it not
//!   done): an opt-out flags the number at once (`added_by: "sms"`, the text kept as the
//!   reason), cancels the lead's redials and, with `CONVOSO_PUSH_DNC`, queues Convoso's
//!   DNC insert; a callback word schedules a callback for the latest lead decided for the
//!   number (the last 7 days) and writes its Convoso status (`callback`, `CB` by
//!   default). Each text's key is journaled once under the number's lock: a repeated
//!   webhook is answered `duplicate` and does nothing again.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::follow_up::FollowUpError;
use super::{FollowUps, Intake};
use crate::convoso::{Write, WriteKind};
use crate::domain::Lead;
use crate::journal::CallEvent;
use crate::sms::words::{classify, Asked};
use crate::store::{StoreError, StoreResult};

pub const STAGE: &str = "callback";
/// How far back the lead a text comes from is looked for.
const LEAD_DAYS: i64 = 7;
/// The longest text kept in the journal, in characters.
pub const MAX_BODY_CHARS: usize = 1600;

/// A callback scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub queue_id: String,
    pub release_at: DateTime<Utc>,
}

/// An inbound text, as the route read it.
pub struct Inbound<'a> {
    /// The sender, E.164.
    pub phone: &'a str,
    pub to: Option<&'a str>,
    pub body: &'a str,
    /// Recorded once (the provider's message id, or a digest of the text).
    pub key: &'a str,
}

/// What a text did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyDone {
    Recorded {
        asked: Asked,
        action: &'static str,
        lead_id: Option<String>,
        flag_id: Option<String>,
        queue_id: Option<String>,
    },
    /// The same text was recorded before: nothing was done again.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    FollowUp(#[from] FollowUpError),
}

impl ReplyError {
    pub fn is_database(&self) -> bool {
        match self {
            Self::Store(e) => e.is_database(),
            Self::FollowUp(e) => e.is_database(),
        }
    }
}

/// A short, stable name for a text's key (the Convoso writes' keys).
fn digest(key: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(key.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Intake {
    /// Schedules a callback for `lead` at `at` (or now, if `at` is not ahead) and
    /// journals it; durable when it returns.
    pub async fn callback(
        &self,
        lead: &Lead,
        request_id: &str,
        at: Option<DateTime<Utc>>,
        source: &str,
    ) -> StoreResult<Scheduled> {
        let now = self.ledger.clock.now();
        let release_at = at.filter(|a| *a > now).unwrap_or(now);
        let reason = format!("callback asked for ({source})");
        let queue_id = self
            .follow_ups
            .defer_for(lead, request_id, now, release_at, STAGE, &reason)
            .await?;
        let event = CallEvent::Callback {
            timestamp: now,
            request_id: request_id.to_string(),
            lead_id: lead.lead_id.clone(),
            phone: lead.phone.as_str().to_string(),
            source: source.to_string(),
            queue_id: queue_id.clone(),
            release_at,
        };
        self.ledger.journals.append_call(&event).wait().await?;
        tracing::info!(request_id, lead_id = %lead.lead_id, source, release_at = %crate::clock::format_instant(release_at), "callback scheduled");
        Ok(Scheduled {
            queue_id,
            release_at,
        })
    }

    /// Reads a text and acts on it (see the module docs).
    pub async fn reply(&self, t: Inbound<'_>, request_id: &str) -> Result<ReplyDone, ReplyError> {
        let lead = self.latest_lead(t.phone).await?;
        if self.seen(&lead, t.phone, t.key).await? {
            return Ok(ReplyDone::Duplicate);
        }
        let s = &self.ledger.settings.sms;
        let asked = classify(t.body, &s.opt_out_words, &s.callback_words);
        let lead_id = lead.as_ref().map(|l| l.lead_id.clone());
        let (mut flag_id, mut queue_id) = (None, None);
        let action = match (&asked, &lead) {
            (Asked::OptOut(_), _) => {
                let id = self
                    .follow_ups
                    .opt_out(t.phone, t.to, t.body, lead_id.as_deref(), t.key)
                    .await?;
                flag_id = Some(id);
                "flagged"
            }
            (Asked::Callback(_), Some(l)) => {
                let done = self.callback(l, request_id, None, "sms").await?;
                self.follow_ups.callback_status(l, t.key).await?;
                queue_id = Some(done.queue_id);
                "callback"
            }
            _ => "none",
        };
        let event = CallEvent::Reply {
            timestamp: self.ledger.clock.now(),
            request_id: request_id.to_string(),
            key: t.key.to_string(),
            phone: t.phone.to_string(),
            to: t.to.map(str::to_string),
            lead_id: lead_id.clone(),
            body: t.body.chars().take(MAX_BODY_CHARS).collect(),
            asked: asked.kind().to_string(),
            word: asked.word().map(str::to_string),
            action: action.to_string(),
            flag_id: flag_id.clone(),
            queue_id: queue_id.clone(),
        };
        let probe = probe_lead(&lead, t.phone, &self.ledger.settings)?;
        let leads = [&probe];
        let mut unit = self
            .decisions
            .begin(&leads, self.ledger.clock.now())
            .await?;
        if !self.ledger.tracker.has_reply(t.phone, t.key) {
            unit.record(&event).await?;
            unit.commit().await?;
        }
        tracing::info!(
            request_id,
            phone = t.phone,
            asked = asked.kind(),
            action,
            "a text from a lead was read"
        );
        Ok(ReplyDone::Recorded {
            asked,
            action,
            lead_id,
            flag_id,
            queue_id,
        })
    }

    /// Whether the text was recorded before (under the number's lock, so every
    /// instance's history of the number is read in database mode).
    async fn seen(&self, lead: &Option<Lead>, phone: &str, key: &str) -> StoreResult<bool> {
        let probe = probe_lead(lead, phone, &self.ledger.settings)?;
        let leads = [&probe];
        let unit = self
            .decisions
            .begin(&leads, self.ledger.clock.now())
            .await?;
        let seen = self.ledger.tracker.has_reply(phone, key);
        drop(unit);
        Ok(seen)
    }

    /// The latest lead decided for `phone` in the last days, with the fields it came with.
    async fn latest_lead(&self, phone: &str) -> StoreResult<Option<Lead>> {
        let journals = Arc::clone(&self.ledger.journals);
        let today = journals.date_of(self.ledger.clock.now());
        let needle = json!({ "phone": phone }).to_string();
        let needle = needle.trim_matches(|c| c == '{' || c == '}').to_string();
        let wanted = phone.to_string();
        let found = tokio::task::spawn_blocking(move || {
            for back in 0..LEAD_DAYS {
                let day = today - Duration::days(back);
                let lines = journals.calls_containing(day, &needle, None)?;
                let last = lines.into_iter().rev().find(|l| {
                    l["event"] == "decision" && l["phone"].as_str() == Some(wanted.as_str())
                });
                if last.is_some() {
                    return Ok::<_, StoreError>(last);
                }
            }
            Ok(None)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
        let s = &self.ledger.settings;
        Ok(found.and_then(|line| {
            let mut fields: Map<String, Value> =
                line["fields"].as_object().cloned().unwrap_or_default();
            fields.insert("phone_number".into(), json!(phone));
            if let Some(id) = line["lead_id"].as_str() {
                fields.entry("lead_id").or_insert_with(|| json!(id));
            }
            fields.remove(crate::provider::REDIAL_FIELD);
            Lead::parse(fields, &s.lead_fields, &s.default_country).ok()
        }))
    }
}

/// The lead whose number's lock a text is recorded under: its own, or a stand-in for a
/// number no lead is known for.
fn probe_lead(lead: &Option<Lead>, phone: &str, s: &crate::config::Settings) -> StoreResult<Lead> {
    if let Some(l) = lead {
        return Ok(l.clone());
    }
    let id_field = s
        .lead_fields
        .lead_id
        .first()
        .map_or("lead_id", String::as_str);
    let phone_field = s
        .lead_fields
        .phone
        .first()
        .map_or("phone_number", String::as_str);
    let fields = Map::from_iter([
        (phone_field.to_string(), json!(phone)),
        (id_field.to_string(), json!("sms")),
    ]);
    Lead::parse(fields, &s.lead_fields, &s.default_country)
        .map_err(|e| StoreError::Io(std::io::Error::other(e.join("; "))))
}

impl FollowUps {
    /// An opt-out: the number flagged, the lead's redials cancelled, Convoso's DNC
    /// insert queued if configured. The flag's id.
    pub(super) async fn opt_out(
        &self,
        phone: &str,
        to: Option<&str>,
        body: &str,
        lead_id: Option<&str>,
        key: &str,
    ) -> Result<String, FollowUpError> {
        let reason: String = body.chars().take(500).collect();
        let flag_id = self
            .flag_number(phone, format!("opted out by text: {reason}"), "sms")
            .await?;
        tracing::warn!(phone, flag_id, "opted out by text: the number is flagged");
        if let Some(lead_id) = lead_id {
            self.cancel_redials(lead_id, Some(phone))
                .await
                .map_err(FollowUpError::redial(Some("stop the lead's redials")))?;
        }
        let now = self.ledger.clock.now();
        let texts = async {
            self.texts
                .cancel(phone, "the number opted out", now)
                .await?;
            self.texts.confirm_opt_out(lead_id, phone, to, now).await
        };
        texts.await.map_err(FollowUpError::Texts)?;
        if let Some(wb) = self.writeback.as_ref().filter(|w| w.settings().push_dnc) {
            let params =
                crate::convoso::params::dnc_insert(wb.settings(), phone, "opted out by text");
            let mut w = Write::new(
                format!("dnc_sms_{}", digest(key)),
                WriteKind::DncInsert,
                params,
                self.ledger.clock.now(),
            );
            w.lead_id = lead_id.map(str::to_string);
            w.phone = Some(phone.to_string());
            wb.enqueue(w).await.map_err(|source| FollowUpError::Write {
                what: "DNC insert",
                source,
            })?;
        }
        Ok(flag_id)
    }

    /// A callback asked for by text: the lead's Convoso status (`callback`).
    pub(super) async fn callback_status(
        &self,
        lead: &Lead,
        key: &str,
    ) -> Result<(), FollowUpError> {
        let Some(wb) = &self.writeback else {
            return Ok(());
        };
        let s = wb.settings();
        let mut params = std::collections::BTreeMap::from([
            ("lead_id".to_string(), lead.lead_id.clone()),
            ("status".to_string(), s.status_for("callback")),
        ]);
        if let Some(list) = lead.field("list_id") {
            params.insert("list_id".into(), list);
        }
        let mut w = Write::new(
            format!("cb_sms_{}", digest(key)),
            WriteKind::LeadUpdate,
            params,
            self.ledger.clock.now(),
        );
        w.lead_id = Some(lead.lead_id.clone());
        w.phone = Some(lead.phone.as_str().to_string());
        wb.enqueue(w).await.map_err(|source| FollowUpError::Write {
            what: "update",
            source,
        })?;
        Ok(())
    }
}
