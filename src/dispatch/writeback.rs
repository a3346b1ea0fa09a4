//! The loop back to Convoso: after a call's outcome (and, if configured, a block by chosen
//! stages) the lead is updated in Convoso with a status mapped from the outcome and the
//! call's details; an outcome that says do-not-call also flags the number here at once and,
//! if configured, inserts it into Convoso's DNC list. The writes go through their own
//! durable outbox ([`crate::convoso::writes`]; rows in database mode) and a sender task
//! that retries with backoff; `GET /api/admin/convoso/pending` shows what is open.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::SharedClock;
use crate::config::convoso::{normalise_tag, ConvosoSettings};
use crate::convoso::writes::FileWrites;
use crate::convoso::{ConvosoClient, Write, WriteKind, WriteState};
use crate::journal::Outcome;
use crate::metrics::{Metrics, WriteLabels};

/// How often the sender looks for due writes when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);
/// Writes sent per pass.
const BATCH: usize = 50;
/// `/health` is `degraded` once a write has been failing this long.
pub const DEGRADED_AFTER: TimeDelta = TimeDelta::minutes(10);

pub enum Store {
    File(FileWrites),
    Db(crate::db::Db),
}

pub struct Writeback {
    store: Store,
    client: ConvosoClient,
    settings: ConvosoSettings,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    wake: tokio::sync::Notify,
    /// The oldest `failing_since` among open writes, as of the sender's last look.
    failing_since: Mutex<Option<DateTime<Utc>>>,
}

/// What a completion tells about the call, for the lead update.
#[derive(Debug, Clone, Default)]
pub struct CallDetails {
    pub call_id: String,
    pub duration_s: Option<f64>,
    pub answered_by: Option<String>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    pub transcript: Option<String>,
}

/// The status to write for an outcome and its tags, and whether it means do-not-call:
/// a do-not-call tag first, then a merged transfer, then the not-interested and callback
/// tags, then the outcome itself (`human` for a human answer with no such tag).
pub fn status_for(c: &ConvosoSettings, outcome: Outcome, tags: &[String]) -> (String, bool) {
    let tags: Vec<String> = tags.iter().map(|t| normalise_tag(t)).collect();
    let has = |want: &[&str]| tags.iter().any(|t| want.contains(&t.as_str()));
    let dnc_tag = tags.iter().any(|t| c.dnc_tags.contains(t));
    let key = if dnc_tag {
        "do_not_call"
    } else if outcome == Outcome::Transferred {
        "transferred"
    } else if has(&["not_interested", "decline", "declined"]) {
        "not_interested"
    } else if has(&["callback", "call_back", "callback_requested"]) {
        "callback"
    } else {
        outcome.as_str()
    };
    let status = c.status_for(key);
    let dnc = dnc_tag
        || c.dnc_statuses
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&status));
    (status, dnc)
}

/// The `leads/update` fields for a call's outcome.
pub fn lead_update(
    c: &ConvosoSettings,
    lead_id: &str,
    list_id: Option<&str>,
    status: &str,
    call: &CallDetails,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("lead_id".into(), lead_id.to_string());
    if let Some(l) = list_id {
        p.insert("list_id".into(), l.to_string());
    }
    p.insert("status".into(), status.to_string());
    p.insert("call_id".into(), call.call_id.clone());
    if let Some(d) = call.duration_s {
        p.insert("call_duration".into(), format!("{}", d.round() as i64));
    }
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            p.insert(k.to_string(), v.to_string());
        }
    };
    put("answered_by", &call.answered_by);
    put("recording_url", &call.recording_url);
    put("call_summary", &call.summary);
    let transcript = call.transcript.as_ref().map(|t| {
        if t.chars().count() > c.transcript_max_chars {
            let mut cut: String = t.chars().take(c.transcript_max_chars).collect();
            cut.push_str(" […]");
            cut
        } else {
            t.clone()
        }
    });
    put("call_transcript", &transcript);
    p
}

/// The `dnc/insert` fields for a number (E.164 `+1…`: digits without the country code).
pub fn dnc_insert(c: &ConvosoSettings, phone: &str, reason: &str) -> BTreeMap<String, String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let (code, national) = match digits.strip_prefix('1') {
        Some(rest) if phone.starts_with("+1") => ("1", rest.to_string()),
        _ => ("1", digits.clone()),
    };
    BTreeMap::from([
        ("phone_number".to_string(), national),
        ("phone_code".to_string(), code.to_string()),
        ("campaign_id".to_string(), c.dnc_campaign_id.to_string()),
        ("reason".to_string(), reason.to_string()),
    ])
}

fn kind_label(k: WriteKind) -> &'static str {
    match k {
        WriteKind::LeadUpdate => "lead_update",
        WriteKind::DncInsert => "dnc_insert",
    }
}

impl Writeback {
    pub fn new(
        store: Store,
        settings: &ConvosoSettings,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            store,
            client: ConvosoClient::new(settings)?,
            settings: settings.clone(),
            clock,
            metrics,
            wake: tokio::sync::Notify::new(),
            failing_since: Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &ConvosoSettings {
        &self.settings
    }

    /// Queues a write (durable on return) unless one with its id exists; wakes the sender.
    pub async fn enqueue(&self, w: Write) -> Result<bool, String> {
        let queued = match &self.store {
            Store::File(f) => f.enqueue(w).await.map_err(|e| e.to_string())?,
            Store::Db(db) => {
                let body = serde_json::to_value(&w).map_err(|e| e.to_string())?;
                db.enqueue_write(&w.id, w.state.as_str(), w.next_at, w.created_at, &body)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        if queued {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Write>, String> {
        match &self.store {
            Store::File(f) => Ok(f.due(now, BATCH)),
            Store::Db(db) => db
                .claim_writes(now, BATCH as i64)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|v| serde_json::from_value(v).map_err(|e| format!("an unreadable write: {e}")))
                .collect(),
        }
    }

    async fn save(&self, w: &Write) -> Result<(), String> {
        match &self.store {
            Store::File(f) => f.save(w).await.map_err(|e| e.to_string()),
            Store::Db(db) => {
                let body = serde_json::to_value(w).map_err(|e| e.to_string())?;
                db.save_write(&w.id, w.state.as_str(), w.next_at, &body)
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// The open writes: queued, failing (with the last error), given up.
    pub async fn pending(&self) -> Result<Vec<Write>, String> {
        match &self.store {
            Store::File(f) => Ok(f.list()),
            Store::Db(db) => db
                .open_writes(10_000)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|v| serde_json::from_value(v).map_err(|e| format!("an unreadable write: {e}")))
                .collect(),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Write>, String> {
        match &self.store {
            Store::File(f) => Ok(f.get(id)),
            Store::Db(db) => db
                .write_by_id(id)
                .await
                .map_err(|e| e.to_string())?
                .map(|v| serde_json::from_value(v).map_err(|e| format!("an unreadable write: {e}")))
                .transpose(),
        }
    }

    /// An admin's retry of an open write (due now, a fresh run of tries); `None` when no
    /// open write has that id, `Err` while it is being sent.
    pub async fn retry(&self, id: &str) -> Result<Option<Write>, String> {
        self.admin(id, |w, now| w.requeue(now)).await
    }

    /// An admin sets an open write aside (it is not sent).
    pub async fn dismiss(&self, id: &str) -> Result<Option<Write>, String> {
        self.admin(id, |w, _| w.state = WriteState::Dismissed).await
    }

    async fn admin(
        &self,
        id: &str,
        change: impl FnOnce(&mut Write, DateTime<Utc>),
    ) -> Result<Option<Write>, String> {
        if let Store::File(f) = &self.store {
            if f.is_taken(id) {
                return Err("it is being sent right now; try again in a moment".into());
            }
        }
        let Some(mut w) = self.get(id).await?.filter(Write::is_open) else {
            return Ok(None);
        };
        change(&mut w, self.clock.now());
        self.save(&w).await?;
        self.wake.notify_one();
        Ok(Some(w))
    }

    /// Sends due writes until `shutdown`.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut looked = None::<DateTime<Utc>>;
        loop {
            let now = self.clock.now();
            match self.due(now).await {
                Ok(writes) => {
                    for w in writes {
                        self.send(w).await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot read the Convoso writes"),
            }
            // The health figure, every few seconds.
            if looked.is_none_or(|t| now - t >= TimeDelta::seconds(5)) {
                looked = Some(now);
                if let Ok(open) = self.pending().await {
                    let oldest = open.iter().filter_map(|w| w.failing_since).min();
                    *self
                        .failing_since
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = oldest;
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn send(&self, mut w: Write) {
        let sent = self.client.send(w.kind, &w.params).await;
        let now = self.clock.now();
        w.settle(sent.as_ref(), now, &self.settings);
        let result = match (&sent, w.state) {
            (None, _) => {
                tracing::info!(write = %w.id, kind = kind_label(w.kind), params = ?w.params, "dry-run: CONVOSO_AUTH_TOKEN is not set; this write was not sent");
                "dry_run"
            }
            (_, WriteState::Done) => "done",
            (_, WriteState::GaveUp) => {
                tracing::error!(write = %w.id, error = w.last_error.as_deref().unwrap_or(""), "a Convoso write gave up; it waits for an admin's retry");
                "gave_up"
            }
            _ => {
                tracing::warn!(write = %w.id, attempts = w.attempts, error = w.last_error.as_deref().unwrap_or(""), "a Convoso write failed; it will be tried again");
                "retry"
            }
        };
        self.metrics
            .convoso_writes
            .get_or_create(&WriteLabels {
                kind: kind_label(w.kind),
                result,
            })
            .inc();
        if w.failing_since.is_some() {
            let mut worst = self
                .failing_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *worst = worst.min(w.failing_since).or(w.failing_since);
        }
        if let Err(e) = self.save(&w).await {
            tracing::error!(write = %w.id, error = %e, "cannot record a Convoso write's result; it will be sent again");
        }
    }
}

impl crate::health::HealthSource for Writeback {
    fn name(&self) -> &'static str {
        "convoso"
    }

    /// `degraded` while a write has been failing for more than ten minutes.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let since = *self
            .failing_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = self.clock.now();
        let late = since.is_some_and(|s| now - s > DEGRADED_AFTER);
        let mut r = ComponentReport::new(if late {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        })
        .with("dry_run", self.client.dry_run());
        if let Some(s) = since {
            r = r.with("failing_since", s.to_rfc3339());
        }
        if late {
            r = r.with(
                "error",
                "writes to Convoso have been failing for more than 10 minutes: see GET /api/admin/convoso/pending",
            );
        }
        r
    }
}

impl super::Gateway {
    /// What an outcome sets off beyond the journal, before it is journaled (so a failure
    /// is answered with an error and Bland's retry finds the call unsettled): the number
    /// flagged at once when the outcome says do-not-call, then the Convoso writes — the
    /// lead update and, if configured, the DNC insert. Each is idempotent: the flag is
    /// found live, the writes are keyed by the call id.
    pub(super) async fn follow_up(
        &self,
        c: &super::completion::Completion,
        request_id: Option<&str>,
        lead_id: Option<&str>,
        phone: Option<&str>,
    ) -> Result<(), String> {
        let Some(wb) = &self.writeback else {
            return Ok(());
        };
        let dnc = status_for(wb.settings(), c.outcome, &c.tags).1;
        if let (Some(lead_id), Some(phone)) = (lead_id, phone) {
            self.redial_after(c, request_id, lead_id, phone, dnc)
                .await?;
        }
        let s = wb.settings();
        let (status, dnc) = status_for(s, c.outcome, &c.tags);
        let now = self.clock.now();
        let reason = format!("do-not-call from call {}", c.call_id);
        if let (true, Some(phone)) = (dnc, phone) {
            let record = crate::blocklist::FlagRecord {
                field: Some("phone".into()),
                value: Some(serde_json::Value::String(phone.to_string())),
                reason: Some(reason.clone()),
                added_by: Some("outcome".into()),
                ..Default::default()
            };
            let added = self.blocklist.add(record).await.map_err(|e| {
                format!("could not flag {phone}, which asked not to be called: {e}")
            })?;
            tracing::warn!(call_id = %c.call_id, flag_id = %added.flag.id, "do-not-call outcome: the number is flagged");
        }
        if let Some(lead_id) = lead_id {
            let details = CallDetails {
                call_id: c.call_id.clone(),
                duration_s: c.duration_s,
                answered_by: c.answered_by.clone(),
                recording_url: c.recording_url.clone(),
                summary: c.summary.clone(),
                transcript: c.transcript.clone(),
            };
            let params = lead_update(s, lead_id, c.list_id.as_deref(), &status, &details);
            let mut w = Write::new(
                format!("lead_{}", c.call_id),
                WriteKind::LeadUpdate,
                params,
                now,
            );
            w.call_id = Some(c.call_id.clone());
            w.lead_id = Some(lead_id.to_string());
            w.phone = phone.map(str::to_string);
            wb.enqueue(w)
                .await
                .map_err(|e| format!("could not queue the Convoso update: {e}"))?;
        }
        if let (true, true, Some(phone)) = (dnc, s.push_dnc, phone) {
            let mut w = Write::new(
                format!("dnc_{}", c.call_id),
                WriteKind::DncInsert,
                dnc_insert(s, phone, &reason),
                now,
            );
            w.call_id = Some(c.call_id.clone());
            w.lead_id = lead_id.map(str::to_string);
            w.phone = Some(phone.to_string());
            wb.enqueue(w)
                .await
                .map_err(|e| format!("could not queue the Convoso DNC insert: {e}"))?;
        }
        Ok(())
    }
}

impl super::Gateway {
    /// A block by one of `write_blocked_stages`, written back to the lead once its decision
    /// is durable: status `do_not_call` (DNC) for a do-not-call list's block, else
    /// `blocked`. A failure to queue it is logged; the decision stands.
    pub(super) async fn write_back_block(
        &self,
        lead: &crate::domain::Lead,
        request_id: &str,
        decided: &super::Submitted,
    ) {
        let Some(wb) = &self.writeback else { return };
        let e = &decided.eval;
        let Some(stage) = e
            .stage
            .filter(|_| e.decision == crate::journal::Decision::Blocked)
        else {
            return;
        };
        let s = wb.settings();
        if !s.write_blocked_stages.iter().any(|x| x == stage) {
            return;
        }
        let key = match &e.block {
            Some(b) if b.source == "list" => "do_not_call",
            _ => "blocked",
        };
        let mut params = BTreeMap::from([
            ("lead_id".to_string(), lead.lead_id.clone()),
            ("status".to_string(), s.status_for(key)),
        ]);
        if let Some(list) = lead.field("list_id") {
            params.insert("list_id".into(), list);
        }
        let mut w = Write::new(
            format!("block_{request_id}"),
            WriteKind::LeadUpdate,
            params,
            self.clock.now(),
        );
        w.lead_id = Some(lead.lead_id.clone());
        w.phone = Some(lead.phone.as_str().to_string());
        if let Err(err) = wb.enqueue(w).await {
            tracing::error!(request_id, error = %err, "could not queue the Convoso update for a block");
        }
    }
}
