//! Text follow-ups: after a call whose outcome is one of `[sms] triggers` (voicemail and
//! no answer by default), the lead's sequence of texts is scheduled — message *k* at the
//! call plus `day_gaps[k]` days — unless one is already pending for the number (a new
//! trigger never restarts the cadence). A new lead webhook for the number, a person
//! answering, or an opt-out cancels what is pending.
//!
//! Each text passes its own checks when it is due ([`check`]) and is sent once
//! ([`send`]): the storage role [`TextStore`] holds the texts (`file.rs`: a log in
//! `DATA_DIR/texts/`; `rows.rs`: the `texts` table, claimed so two instances never send
//! one text), a text is saved as `sending` before the provider is asked, and one found
//! `sending` after a crash becomes `unconfirmed`, never sent again on its own. Every step
//! is journaled (`sms_scheduled`, `sms_sent`, `sms_blocked`, `sms_failed`).

pub mod check;
pub mod config;
mod file;
mod rows;
pub mod send;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use file::FileTexts;
pub use rows::DbTexts;

use crate::clock::{millis, millis_opt};
use crate::journal::records::TextLine;
use crate::journal::{CallEvent, Journals};
use crate::store::document::Document;
use crate::store::StoreResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextState {
    /// Waits for `due_at` (and its checks).
    Scheduled,
    /// Being sent: the provider was (or is being) asked.
    Sending,
    Sent,
    /// The send may have reached the provider: never sent again on its own.
    Unconfirmed,
    /// May never go (`reason`), or cancelled.
    Blocked,
    /// The provider refused it, or kept failing.
    Failed,
}

impl TextState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Unconfirmed => "unconfirmed",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
        }
    }
}

/// One text of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    /// Ours: `sms_<the call's request id>_<step>`.
    pub id: String,
    pub lead_id: String,
    /// E.164.
    pub phone: String,
    /// The lead's fields (the template's values, the checks' input).
    pub fields: Map<String, Value>,
    pub step: u32,
    pub of: u32,
    pub state: TextState,
    #[serde(with = "millis")]
    pub due_at: DateTime<Utc>,
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub provider_id: Option<String>,
    #[serde(default, with = "millis_opt")]
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tries: u32,
    /// The one confirmation of an opt-out: its own text, sent even though the number is
    /// now blocked, whatever the hour and the daily cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmation: bool,
}

impl Text {
    pub fn is_open(&self) -> bool {
        matches!(self.state, TextState::Scheduled | TextState::Sending)
    }

    /// Whether it counts toward the number's texts of the day.
    pub fn went(&self) -> bool {
        matches!(self.state, TextState::Sent | TextState::Unconfirmed)
    }

    fn line(&self, now: DateTime<Utc>) -> TextLine {
        TextLine {
            timestamp: now,
            text_id: self.id.clone(),
            lead_id: self.lead_id.clone(),
            phone: self.phone.clone(),
            step: self.step,
            of: self.of,
            status: Some(self.state.as_str().to_string()),
            reason: self.reason.clone(),
            due_at: (self.state == TextState::Scheduled).then_some(self.due_at),
            from: self.from.clone(),
            provider_id: self.provider_id.clone(),
            confirmation: self.confirmation,
        }
    }
}

/// The texts' storage role. Every change is durable (synced, or committed) on return.
pub trait TextStore: Send + Sync {
    /// Adds the texts whose ids are not there yet; how many were added.
    fn schedule<'a>(&'a self, texts: &'a [Text]) -> BoxFuture<'a, StoreResult<usize>>;
    /// Up to `limit` scheduled texts due at `now`, earliest first, taken for sending (no
    /// other sender gets them until they are saved, or for `claim` at most).
    fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        claim: Duration,
    ) -> BoxFuture<'_, StoreResult<Vec<Text>>>;
    /// Records a text's new state and lets it go.
    fn save<'a>(&'a self, t: &'a Text) -> BoxFuture<'a, StoreResult<()>>;
    /// Texts left `sending` by a sender that stopped (its claim ran out before `now`)
    /// become `unconfirmed`; they are answered.
    fn settle_abandoned(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<Vec<Text>>>;
    /// The number's texts created since `since`, oldest first.
    fn of_phone<'a>(
        &'a self,
        phone: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<Vec<Text>>>;
}

/// The follow-up texts: scheduling and cancelling (the sender is [`send`]).
pub struct Texts {
    pub(crate) store: Arc<dyn TextStore>,
    pub(crate) journals: Arc<Journals>,
    pub(crate) settings: Arc<crate::config::Settings>,
    /// The sequences' rules ([`config`]), and the texts' weekly rule compiled from them.
    pub config: Document<config::SequenceConfig, crate::schedule::window::WeekRule>,
}

impl Texts {
    /// Over `store`, with the config document in `docs` (its default: the settings).
    pub async fn open(
        store: Arc<dyn TextStore>,
        journals: Arc<Journals>,
        settings: Arc<crate::config::Settings>,
        docs: Arc<dyn crate::store::doc_store::DocumentStore>,
    ) -> anyhow::Result<Self> {
        let default = config::SequenceConfig::from_settings(&settings.sms);
        let parse: crate::store::document::Parse<_, _> = Box::new(config::SequenceConfig::parse);
        let config = Document::open(docs, config::FILE, default, parse).await?;
        Ok(Self {
            store,
            journals,
            settings,
            config,
        })
    }

    /// Whether follow-up texts are on.
    pub fn enabled(&self) -> bool {
        self.config.get().doc.enabled
    }

    pub(crate) async fn journal(&self, event: CallEvent) -> StoreResult<()> {
        self.journals.append_call(&event).wait().await
    }

    /// Journals the texts a crash left `sending` (found `unconfirmed` at startup).
    pub async fn abandoned_at_start(
        &self,
        texts: Vec<Text>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for t in texts {
            tracing::warn!(text_id = %t.id, phone = %t.phone, "a text was being sent when the gateway stopped: unconfirmed, not sent again");
            self.journal(CallEvent::SmsFailed(t.line(now))).await?;
        }
        Ok(())
    }

    /// After a call's outcome: schedules the lead's sequence if the outcome triggers one
    /// and none is pending for the number; how many texts were scheduled.
    pub async fn after_outcome(
        &self,
        outcome: &str,
        call: &str,
        lead_id: &str,
        phone: &str,
        fields: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let c = self.config.get();
        let s = &c.doc;
        if !s.enabled || !s.triggers.iter().any(|t| t == outcome) {
            return Ok(0);
        }
        let recent = self.store.of_phone(phone, now - Duration::days(30)).await?;
        if recent.iter().any(Text::is_open) {
            return Ok(0);
        }
        let of = s.messages.len() as u32;
        let texts: Vec<Text> = (0..s.messages.len())
            .map(|k| Text {
                id: format!("sms_{call}_{}", k + 1),
                lead_id: lead_id.to_string(),
                phone: phone.to_string(),
                fields: fields.clone(),
                step: k as u32 + 1,
                of,
                state: TextState::Scheduled,
                due_at: now + Duration::days(i64::from(s.day_gaps[k])),
                created_at: now,
                from: None,
                body: None,
                reason: None,
                provider_id: None,
                done_at: None,
                tries: 0,
                confirmation: false,
            })
            .collect();
        let added = self.store.schedule(&texts).await?;
        if added > 0 {
            for t in &texts {
                self.journal(CallEvent::SmsScheduled(t.line(now))).await?;
            }
            tracing::info!(lead_id, phone, texts = added, "text follow-ups scheduled");
        }
        Ok(added)
    }

    /// After an opt-out: the one confirmation text (`SMS_OPT_OUT_CONFIRMATION`; none when
    /// it is empty), due now, once per number, from `to` (the number the lead texted) when
    /// known. Whether it was scheduled.
    pub async fn confirm_opt_out(
        &self,
        lead_id: Option<&str>,
        phone: &str,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if self.settings.sms.opt_out_confirmation.is_empty() {
            return Ok(false);
        }
        let t = Text {
            id: format!("sms_optout_{phone}"),
            lead_id: lead_id.unwrap_or_default().to_string(),
            phone: phone.to_string(),
            fields: Map::new(),
            step: 1,
            of: 1,
            state: TextState::Scheduled,
            due_at: now,
            created_at: now,
            // From the number the lead texted, when it said.
            from: to.map(str::to_string),
            body: None,
            reason: None,
            provider_id: None,
            done_at: None,
            tries: 0,
            confirmation: true,
        };
        let added = self.store.schedule(std::slice::from_ref(&t)).await? > 0;
        if added {
            self.journal(CallEvent::SmsScheduled(t.line(now))).await?;
        }
        Ok(added)
    }

    /// Cancels the number's pending texts (`why`: a new lead, a person answered, an
    /// opt-out); how many.
    pub async fn cancel(&self, phone: &str, why: &str, now: DateTime<Utc>) -> StoreResult<usize> {
        let mut n = 0;
        for mut t in self.store.of_phone(phone, now - Duration::days(30)).await? {
            if t.state != TextState::Scheduled || t.confirmation {
                continue;
            }
            t.state = TextState::Blocked;
            t.reason = Some(format!("cancelled: {why}"));
            t.done_at = Some(now);
            self.store.save(&t).await?;
            self.journal(CallEvent::SmsBlocked(t.line(now))).await?;
            n += 1;
        }
        if n > 0 {
            tracing::info!(phone, texts = n, why, "pending texts cancelled");
        }
        Ok(n)
    }
}
#[cfg(test)]
mod tests;
