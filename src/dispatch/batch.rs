//! Group commit for intake, which `startup/` turns on for the database: webhooks that
//! arrive while a unit of decisions is committing are decided together in the next one —
//! the database's counterpart of the file journal's group commit. A batch is one unit
//! ([`super::decisions`]): the locks of all its numbers in key order (no deadlock with
//! another batch, on any instance), their histories read at once, each lead decided in
//! arrival order (a second lead for a number in the same batch sees the first's
//! decision), one commit. Each webhook is answered after that commit; if it fails, every
//! lead of the batch gets the error (503).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::decide::ToDecide;
use super::{Intake, Submitted};
use crate::domain::Lead;
use crate::store::StoreResult;

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
    pub reply: oneshot::Sender<StoreResult<Submitted>>,
}

/// The sending side, held by intake; the workers share the receiver.
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

/// Starts the workers (when intake decides in batches); they stop when intake is
/// dropped.
pub fn spawn(gw: &Arc<Intake>) {
    let Some(rx) = gw.batcher.as_ref().and_then(|b| {
        b.rx.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }) else {
        return;
    };
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WORKERS {
        let (gw, rx) = (Arc::downgrade(gw), rx.clone());
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
                gw.decide_batch(jobs).await;
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

impl Intake {
    async fn decide_batch(&self, jobs: Vec<Job>) {
        let (leads, replies): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .map(|j| ((j.lead, j.request_id, j.now), j.reply))
            .unzip();
        let intake: Vec<ToDecide<'_>> = leads
            .iter()
            .map(|(lead, request_id, now)| ToDecide {
                lead,
                request_id,
                now: *now,
                release: None,
            })
            .collect();
        match self.decide_all(&intake).await {
            Ok(decided) => {
                for (reply, s) in replies.into_iter().zip(decided) {
                    let _ = reply.send(Ok(s));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, leads = leads.len(), "a batch of decisions could not be committed");
                for reply in replies {
                    let _ = reply.send(Err(e.copy()));
                }
            }
        }
    }
}
