//! The text sender, on every instance: every [`TICK`] it settles texts a stopped sender
//! left `sending` (now `unconfirmed`), takes the due texts (claimed: each goes to one
//! sender), runs each through its checks ([`super::check`]) and sends it — saved
//! `sending` first, so a crash mid-send never sends it twice. A text that may not go now
//! is due again when it may; one that may never go is dropped with its reason. The
//! sending number is `SMS_FROM`, else the caller-ID pool's number that last called the
//! lead, else `BLAND_FROM`'s first (an opt-out's confirmation: the number the lead
//! texted).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::check::{check, recipient_zone, Inputs, TextVerdict};
use super::{Text, TextState, Texts};
use crate::clock::SharedClock;
use crate::domain::Lead;
use crate::journal::CallEvent;
use crate::pipeline::Check;
use crate::provider::{CallProvider, TextMessage, TextResult};
use crate::schedule::window::local_instant;
use crate::schedule::Scheduler;
use crate::store::StoreResult;

pub const TICK: std::time::Duration = std::time::Duration::from_millis(500);
/// How long a sender holds the texts it took.
const CLAIM_SECS: i64 = 120;
const BATCH: usize = 20;
/// A text the provider did not take is tried this many times.
const MAX_TRIES: u32 = 5;

pub struct Sender {
    pub texts: Arc<Texts>,
    pub scheduler: Arc<Scheduler>,
    pub blocklist: Option<Arc<dyn Check>>,
    pub provider: Arc<dyn CallProvider>,
    pub caller_ids: Arc<crate::dispatch::callerid::CallerIds>,
    pub clock: SharedClock,
    /// Counts the rounds (`callgate_text_rounds_total`).
    pub rounds: prometheus_client::metrics::counter::Counter,
}

/// Runs until `shutdown` resolves.
pub async fn run(s: Arc<Sender>, shutdown: impl std::future::Future<Output = ()>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = s.round().await {
            tracing::error!(error = %e, "could not send the due texts; trying again");
        }
        s.rounds.inc();
    }
}

impl Sender {
    /// One round: abandoned sends settled, due texts checked and sent.
    pub async fn round(&self) -> StoreResult<()> {
        let now = self.clock.now();
        let store = &self.texts.store;
        for t in store.settle_abandoned(now).await? {
            self.texts
                .journal(CallEvent::SmsFailed(t.line(now)))
                .await?;
        }
        for t in store
            .take_due(now, BATCH, Duration::seconds(CLAIM_SECS))
            .await?
        {
            let id = t.id.clone();
            if let Err(e) = self.one(t, now).await {
                tracing::error!(text_id = %id, error = %e, "a due text could not be handled; its claim runs out and it is taken again");
            }
        }
        Ok(())
    }

    async fn one(&self, mut t: Text, now: DateTime<Utc>) -> StoreResult<()> {
        let verdict = self.verdict(&t, now).await?;
        match verdict {
            TextVerdict::Wait { until, why } => {
                t.due_at = until.max(now + Duration::seconds(1));
                t.reason = Some(why);
                self.texts.store.save(&t).await
            }
            TextVerdict::Drop { why } => self.close(t, TextState::Blocked, why, now).await,
            TextVerdict::Send { body } => self.send(t, body, now).await,
        }
    }

    async fn verdict(&self, t: &Text, now: DateTime<Utc>) -> StoreResult<TextVerdict> {
        let s = &self.texts.settings;
        if t.confirmation {
            // Answers the lead's own opt-out: allowed once, though the number is blocked.
            return Ok(TextVerdict::Send {
                body: s.sms.opt_out_confirmation.clone(),
            });
        }
        let lead = match Lead::parse(t.fields.clone(), &s.lead_fields, &s.default_country) {
            Ok(l) => l,
            Err(e) => {
                return Ok(TextVerdict::Drop {
                    why: format!("the lead does not parse: {}", e.join("; ")),
                })
            }
        };
        let c = self.texts.config.get();
        let Some(template) = c.doc.messages.get(t.step as usize - 1) else {
            return Ok(TextVerdict::Drop {
                why: format!(
                    "the sequence has {} messages now, not {}",
                    c.doc.messages.len(),
                    t.step
                ),
            });
        };
        let zone = recipient_zone(&self.scheduler, &lead, s.timezone);
        let date = now.with_timezone(&zone).date_naive();
        let start = local_instant(zone, date, 0).unwrap_or(now - Duration::days(1));
        let next_day = date
            .succ_opt()
            .and_then(|d| local_instant(zone, d, 0))
            .unwrap_or(now + Duration::days(1));
        let sent_today = self
            .texts
            .store
            .of_phone(&t.phone, start - Duration::days(KEEP_SCAN_DAYS))
            .await?
            .iter()
            .filter(|x| x.went() && x.done_at.is_some_and(|d| d >= start))
            .count() as u32;
        let inputs = Inputs {
            scheduler: &self.scheduler,
            hours: &c.compiled,
            blocklist: self.blocklist.as_deref(),
            template,
            sent_today,
            max_per_day: c.doc.max_per_day,
            next_day,
        };
        Ok(check(&lead, now, &inputs))
    }

    async fn send(&self, mut t: Text, body: String, now: DateTime<Utc>) -> StoreResult<()> {
        let Some(from) = self.sending_number(&t, now).await else {
            let why = "no number to text from: set SMS_FROM, a caller-ID pool or BLAND_FROM";
            return self.close(t, TextState::Blocked, why.into(), now).await;
        };
        t.state = TextState::Sending;
        t.from = Some(from.clone());
        t.body = Some(body.clone());
        t.tries += 1;
        self.texts.store.save(&t).await?;
        let message = TextMessage {
            id: &t.id,
            to: &t.phone,
            from: &from,
            body: &body,
        };
        let result = self.provider.send_text(&message).await;
        let now = self.clock.now();
        match result {
            TextResult::Sent { id } => {
                t.provider_id = id;
                self.close(t, TextState::Sent, String::new(), now).await
            }
            TextResult::DryRun => {
                self.close(t, TextState::Sent, "dry run: logged, not sent".into(), now)
                    .await
            }
            TextResult::Retry { why } if t.tries < MAX_TRIES => {
                t.state = TextState::Scheduled;
                t.due_at = now + Duration::minutes(i64::from(t.tries));
                t.reason = Some(why);
                self.texts.store.save(&t).await
            }
            TextResult::Retry { why } => {
                let why = format!("{why} (gave up after {} tries)", t.tries);
                self.close(t, TextState::Failed, why, now).await
            }
            TextResult::Failed { status, message } => {
                let why = format!("the provider refused it ({status}): {message}");
                self.close(t, TextState::Failed, why, now).await
            }
            TextResult::Unconfirmed { why } => {
                self.close(t, TextState::Unconfirmed, why, now).await
            }
        }
    }

    /// Closes a text in `state` with `why`, and journals it.
    async fn close(
        &self,
        mut t: Text,
        state: TextState,
        why: String,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        t.state = state;
        t.reason = (!why.is_empty()).then_some(why);
        t.done_at = Some(now);
        self.texts.store.save(&t).await?;
        let line = t.line(now);
        let event = match state {
            TextState::Sent => CallEvent::SmsSent(line),
            TextState::Blocked => CallEvent::SmsBlocked(line),
            _ => CallEvent::SmsFailed(line),
        };
        tracing::info!(text_id = %t.id, phone = %t.phone, state = state.as_str(), reason = t.reason.as_deref().unwrap_or(""), "text");
        self.texts.journal(event).await
    }

    async fn sending_number(&self, t: &Text, now: DateTime<Utc>) -> Option<String> {
        let s = &self.texts.settings;
        // Chosen already: a confirmation's (the number the lead texted), or a retry's.
        let configured = self.texts.config.get().doc.from.clone();
        if let Some(f) = t.from.clone().or(configured) {
            return Some(f);
        }
        if let Ok(calls) = self.caller_ids.calls_to(&t.phone, now).await {
            if let Some(c) = calls.last() {
                return Some(c.number.clone());
            }
        }
        s.bland.from.first().cloned()
    }
}

/// How far before the recipient's day the texts are read (a day's start in any zone).
const KEEP_SCAN_DAYS: i64 = 1;
