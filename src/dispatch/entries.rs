//! The outbox over either backend, for the parts of the gateway that read or settle
//! entries (admin views, resolutions, completions, the dispatcher's results): the file
//! outbox of this instance, or the database's rows shared by every instance.

use std::io;

use chrono::{DateTime, Utc};

use super::outbox::{AttemptLog, Entry, Record, State};
use super::shared::db_io;
use super::Gateway;
use crate::db::outbox::{OpenCall, TryResult};

/// What a try came to, as the dispatcher records it.
#[derive(Debug, Clone)]
pub enum Tried {
    Sent {
        call_id: String,
    },
    DryRun,
    /// Certainly not taken; try `n + 1` after `delay`.
    Retry {
        n: u32,
        error: String,
        delay: std::time::Duration,
    },
    Failed {
        error: String,
    },
    Unconfirmed {
        error: String,
    },
    /// The calling window closed; the lead is back in the deferred queue as `queue_id`.
    Deferred {
        queue_id: String,
    },
}

fn entry_of(c: OpenCall) -> Entry {
    let state = match c.state.as_str() {
        "queued" => State::Queued,
        "in_flight" => State::InFlight,
        "failed" => State::Failed,
        _ => State::Unconfirmed,
    };
    let attempts = c
        .attempts
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    let at = t.get("at")?.as_str()?;
                    Some(AttemptLog {
                        n: u32::try_from(t.get("n")?.as_u64()?).ok()?,
                        at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
                        error: t.get("error").and_then(|e| e.as_str()).map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Entry {
        request_id: c.request_id,
        lead_id: c.lead_id,
        phone: c.phone,
        state,
        queued_at: c.queued_at,
        attempts,
        last_error: c.last_error,
        body: c.body,
    }
}

impl Gateway {
    /// An open outbox entry.
    pub async fn outbox_entry(&self, request_id: &str) -> io::Result<Option<Entry>> {
        match &self.shared {
            None => Ok(self.outbox.get(request_id)),
            Some(sh) => Ok(sh
                .db
                .open_call(request_id)
                .await
                .map_err(db_io)?
                .map(entry_of)),
        }
    }

    /// Every open outbox entry, oldest first.
    pub async fn outbox_entries(&self) -> io::Result<Vec<Entry>> {
        match &self.shared {
            None => Ok(self.outbox.pending()),
            Some(sh) => Ok(sh
                .db
                .open_calls()
                .await
                .map_err(db_io)?
                .into_iter()
                .map(entry_of)
                .collect()),
        }
    }

    /// Accepted calls not yet handed to Bland (every instance's, in database mode).
    pub async fn outbox_backlog(&self) -> io::Result<usize> {
        match &self.shared {
            None => Ok(self.outbox.backlog()),
            Some(sh) => {
                let counts = sh.db.outbox_counts().await.map_err(db_io)?;
                Ok(usize::try_from(counts[0]).unwrap_or(0))
            }
        }
    }

    /// Takes an unconfirmed or failed entry out of the outbox: sent (with its call id
    /// when known) or not.
    pub(crate) async fn outbox_settle(
        &self,
        request_id: &str,
        sent: bool,
        call_id: Option<String>,
    ) -> io::Result<()> {
        let at = self.clock.now();
        match &self.shared {
            None => {
                self.outbox
                    .record(Record::Resolved {
                        request_id: request_id.into(),
                        at,
                        sent,
                        call_id,
                    })
                    .wait()
                    .await
            }
            Some(sh) => {
                let sent_as = sent.then(|| call_id.unwrap_or_default());
                sh.db
                    .settle_call(request_id, sent_as.as_deref(), at)
                    .await
                    .map_err(db_io)?;
                Ok(())
            }
        }
    }

    /// An admin's resend of an unconfirmed call: queued again under the same request id.
    /// Puts an unconfirmed call back in the queue; false when it is not unconfirmed any
    /// more (settled or requeued meanwhile), so it is never queued twice.
    pub(crate) async fn outbox_requeue(&self, request_id: &str, n: u32) -> io::Result<bool> {
        let at = self.clock.now();
        let requeued = match &self.shared {
            None => {
                let retry = Record::Retry {
                    request_id: request_id.into(),
                    at,
                    n,
                    error: "resend requested by an admin".into(),
                };
                match self.outbox.record_if(retry, State::Unconfirmed) {
                    Some(pending) => {
                        pending.wait().await?;
                        true
                    }
                    None => false,
                }
            }
            Some(sh) => sh.db.requeue_call(request_id, at).await.map_err(db_io)?,
        };
        if requeued {
            let _ = self.queue.send(request_id.into());
        }
        Ok(requeued)
    }

    /// Records what a try came to; false when it could not be recorded (logged).
    pub(crate) async fn finish_try(
        &self,
        request_id: &str,
        at: DateTime<Utc>,
        tried: Tried,
    ) -> bool {
        let result = match &self.shared {
            None => {
                let record = match tried {
                    Tried::Sent { call_id } => Record::Sent {
                        request_id: request_id.into(),
                        at,
                        call_id,
                    },
                    Tried::DryRun => Record::DryRun {
                        request_id: request_id.into(),
                        at,
                    },
                    Tried::Retry { n, error, .. } => Record::Retry {
                        request_id: request_id.into(),
                        at,
                        n,
                        error,
                    },
                    Tried::Failed { error } => Record::Failed {
                        request_id: request_id.into(),
                        at,
                        error,
                    },
                    Tried::Unconfirmed { error } => Record::Unconfirmed {
                        request_id: request_id.into(),
                        at,
                        error,
                    },
                    Tried::Deferred { queue_id } => Record::Deferred {
                        request_id: request_id.into(),
                        at,
                        queue_id,
                    },
                };
                self.outbox.record(record).wait().await
            }
            Some(sh) => {
                let result = match tried {
                    Tried::Sent { call_id } => TryResult::Sent { call_id },
                    Tried::DryRun => TryResult::DryRun,
                    Tried::Retry { error, delay, .. } => TryResult::Retry {
                        error,
                        next_try_at: at
                            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero()),
                    },
                    Tried::Failed { error } => TryResult::Failed { error },
                    Tried::Unconfirmed { error } => TryResult::Unconfirmed { error },
                    Tried::Deferred { .. } => TryResult::Deferred,
                };
                match sh.db.record_try(request_id, &sh.holder, &result, at).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(io::Error::other(
                        "the claim on this call expired before its result was recorded; it is unconfirmed",
                    )),
                    Err(e) => Err(db_io(e)),
                }
            }
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(request_id, error = %e, "could not record the result of a send");
                false
            }
        }
    }
}
