//! Group commit for intake in database mode: webhooks that arrive while a transaction is
//! committing are decided together in the next one — the database's counterpart of the
//! file journal's group commit. A batch takes the locks of all its numbers in key order
//! (no deadlock with another batch, on any instance), reads their histories in one query,
//! decides each lead in arrival order (a second lead for a number in the same batch sees
//! the first's decision), and commits every decision line, outbox row and deferred row at
//! once. Each webhook is answered after that commit, as on the single path
//! ([`super::shared`]); if it fails, every lead of the batch gets the error (503).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::shared::{db_io, Shared};
use super::{Gateway, Submitted};
use crate::db::deferred::DeferredRow;
use crate::domain::Lead;
use crate::journal::{CallEvent, Decision};

/// Most leads decided in one transaction.
pub const MAX_BATCH: usize = 256;

/// Batches committing at the same time per instance (one gathers while one commits).
pub const WORKERS: usize = 2;

/// How long a batch that already has company waits for more.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(1);

pub struct Job {
    pub lead: Lead,
    pub request_id: String,
    pub now: DateTime<Utc>,
    pub reply: oneshot::Sender<io::Result<Submitted>>,
}

/// The sending side, held by the gateway; the workers share the receiver.
pub struct Batcher {
    pub tx: mpsc::UnboundedSender<Job>,
    rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
}

impl Default for Batcher {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
        }
    }
}

/// Starts the workers (database mode); they stop when the gateway is dropped.
pub fn spawn(gw: &Arc<Gateway>) {
    let (Some(sh), Some(rx)) = (
        gw.shared.clone(),
        gw.batcher
            .rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(),
    ) else {
        return;
    };
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WORKERS {
        let (gw, sh, rx) = (Arc::downgrade(gw), sh.clone(), rx.clone());
        tokio::spawn(async move {
            loop {
                let jobs = {
                    let mut rx = rx.lock().await;
                    let Some(first) = rx.recv().await else { return };
                    let mut jobs = vec![first];
                    drain(&mut rx, &mut jobs);
                    // Under load, a moment's wait gathers the webhooks already on their way:
                    // fewer, larger commits (the database's CPU is the limit), at most
                    // LINGER added to a webhook's answer. A lone webhook does not wait.
                    if jobs.len() > 1 && jobs.len() < MAX_BATCH {
                        tokio::time::sleep(LINGER).await;
                        drain(&mut rx, &mut jobs);
                    }
                    jobs
                };
                let Some(gw) = gw.upgrade() else { return };
                tracing::debug!(leads = jobs.len(), "deciding a batch");
                gw.decide_batch(&sh, jobs).await;
            }
        });
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

fn copy_error(e: &io::Error) -> io::Error {
    crate::db::copy_io_error(e)
}

impl Gateway {
    async fn decide_batch(&self, sh: &Shared, jobs: Vec<Job>) {
        let (leads, replies): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .map(|j| ((j.lead, j.request_id, j.now), j.reply))
            .unzip();
        match self.try_batch(sh, &leads).await {
            Ok(decided) => {
                for (reply, s) in replies.into_iter().zip(decided) {
                    let _ = reply.send(Ok(s));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, leads = leads.len(), "a batch of decisions could not be committed");
                for reply in replies {
                    let _ = reply.send(Err(copy_error(&e)));
                }
            }
        }
    }

    async fn try_batch(
        &self,
        sh: &Shared,
        leads: &[(Lead, String, DateTime<Utc>)],
    ) -> io::Result<Vec<Submitted>> {
        let phones: Vec<&str> = leads.iter().map(|(l, _, _)| l.phone.as_str()).collect();
        let mut tx = sh.db.lock_numbers(&phones).await.map_err(db_io)?;
        let since = leads
            .iter()
            .map(|(_, _, now)| self.tracker.history_since(*now))
            .min()
            .unwrap_or_else(|| self.clock.now());
        let mut unique = phones.clone();
        unique.sort_unstable();
        unique.dedup();
        let history = tx.histories(&unique, since).await.map_err(db_io)?;
        let mut by_phone: HashMap<&str, Vec<u8>> = HashMap::new();
        for (phone, line) in &history {
            let bytes = by_phone.entry(phone.as_str()).or_default();
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        for phone in &unique {
            let lead_ids: Vec<&str> = leads
                .iter()
                .filter(|(l, _, _)| l.phone.as_str() == *phone)
                .map(|(l, _, _)| l.lead_id.as_str())
                .collect();
            let events = sh.events(phone, by_phone.get(phone).map_or(&[][..], Vec::as_slice));
            self.tracker.load_number(phone, &lead_ids, &events);
        }
        let mut rows = Vec::with_capacity(leads.len() + 1);
        let mut decided = Vec::with_capacity(leads.len());
        let mut accepted = false;
        for (lead, request_id, now) in leads {
            let eval = self.evaluate_logged(lead, request_id, *now, false);
            let queue_id = match (eval.decision, eval.release_at) {
                (Decision::Deferred, Some(release_at)) => Some(
                    tx.defer_lead(&DeferredRow {
                        id: format!("q_{}", uuid::Uuid::new_v4().simple()),
                        lead_id: lead.lead_id.clone(),
                        phone: lead.phone.as_str().to_string(),
                        request_id: request_id.clone(),
                        lead: serde_json::Value::Object(lead.fields.clone()),
                        first_deferred_at: *now,
                        deferred_at: *now,
                        release_at,
                        stage: eval.stage.unwrap_or("").to_string(),
                        reason: eval.reason.clone().unwrap_or_default(),
                        releases: 0,
                        releasing: None,
                    })
                    .await
                    .map_err(db_io)?,
                ),
                _ => None,
            };
            let decision =
                self.decision_event(lead, request_id, *now, &eval, false, queue_id.clone());
            if eval.decision == Decision::Accepted {
                let body = self.body_for(lead, request_id);
                tx.enqueue_call_for(lead.phone.as_str(), request_id, &lead.lead_id, &body, *now)
                    .await
                    .map_err(db_io)?;
                accepted = true;
            }
            // The next lead of this batch for the same number sees this decision.
            self.tracker.apply(&decision);
            rows.extend(self.journals.decision_rows(&decision));
            decided.push(Submitted { eval, queue_id });
        }
        tx.append_lines(&rows).await.map_err(db_io)?;
        tx.commit().await.map_err(db_io)?;
        if accepted {
            let _ = self.queue.send(String::new());
        }
        Ok(decided)
    }
}

impl Shared {
    /// A number's history lines, read back as events (an unreadable line is kept aside in
    /// the quarantine, never skipped in silence).
    pub fn events(&self, phone: &str, bytes: &[u8]) -> Vec<CallEvent> {
        let mut events = Vec::new();
        let label = std::path::PathBuf::from(format!("database:calls:{phone}"));
        crate::journal::each_call_in(&label, bytes, &self.quarantine, |e| events.push(e));
        events
    }
}
