//! Intake on PostgreSQL (`DATABASE_URL`), where several instances share one database. A
//! decision about a number is made inside a transaction holding that number's
//! transaction-scoped advisory lock ([`crate::db::decisions`]): the instance reads every
//! instance's recent call-journal events for the number into its trackers, runs the
//! pipeline, and commits the decision line (with a block's attempt), the outbox row of an
//! accepted call and the deferred row of a deferred lead together. A second instance
//! deciding about the same number waits for that commit and then sees it, so exactly one
//! of two concurrent webhooks is accepted and the caps count every instance's calls.

use std::io;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Gateway, Submitted};
use crate::db::deferred::{Again, DeferredRow};
use crate::db::{Db, DbError};
use crate::domain::Lead;
use crate::journal::Decision;
use crate::schedule::queue::Entry;
use crate::store::quarantine::Quarantine;

/// How long a claim on a call or a release lasts past the Bland timeout before another
/// instance may treat its holder as gone.
pub const CLAIM_MARGIN_SECS: i64 = 30;

/// What an instance holds for database mode.
pub struct Shared {
    pub db: Db,
    /// This instance's name in claims and leases ([`Db::holder`]).
    pub holder: String,
    pub quarantine: Arc<Quarantine>,
}

pub(crate) fn db_io(e: DbError) -> io::Error {
    e.into_io()
}

impl Shared {
    pub fn new(db: Db, quarantine: Arc<Quarantine>) -> Self {
        Self {
            holder: db.holder.clone(),
            db,
            quarantine,
        }
    }
}

impl Gateway {
    /// [`Gateway::decide`] in database mode (see the module docs). `release` is a row
    /// this instance has claimed.
    pub(crate) async fn decide_shared(
        &self,
        sh: &Shared,
        lead: &Lead,
        request_id: &str,
        now: DateTime<Utc>,
        release: Option<&Entry>,
    ) -> io::Result<Submitted> {
        let phone = lead.phone.as_str();
        let mut tx = sh.db.lock_number(phone).await.map_err(db_io)?;
        let lines = tx
            .history(self.tracker.history_since(now))
            .await
            .map_err(db_io)?;
        let mut bytes = Vec::new();
        for l in &lines {
            bytes.extend_from_slice(l.as_bytes());
            bytes.push(b'\n');
        }
        let events = sh.events(phone, &bytes);
        self.tracker
            .load_number(phone, &[lead.lead_id.as_str()], &events);
        let eval = self.evaluate_logged(lead, request_id, now, release.is_some());
        let fields = serde_json::Value::Object(lead.fields.clone());
        let stage = eval.stage.unwrap_or("");
        let reason = eval.reason.as_deref().unwrap_or("");
        let deferral = match eval.decision {
            Decision::Deferred => eval.release_at.map(|at| (at, stage, reason)),
            _ => None,
        };
        let queue_id = match (release, deferral) {
            (Some(entry), again) => {
                let again = again.map(|(release_at, stage, reason)| Again {
                    release_at,
                    stage,
                    reason,
                    request_id,
                    lead: &fields,
                    at: now,
                });
                let deferred_again = again.is_some();
                let held = tx
                    .finish_release(&entry.id, &sh.holder, again)
                    .await
                    .map_err(db_io)?;
                if !held {
                    return Err(io::Error::other(format!(
                        "the release of deferred lead {} was taken over by another instance",
                        entry.id
                    )));
                }
                deferred_again.then(|| entry.id.clone())
            }
            (None, Some((release_at, stage, reason))) => Some(
                tx.defer_lead(&first_deferral(
                    lead, request_id, now, release_at, stage, reason,
                ))
                .await
                .map_err(db_io)?,
            ),
            (None, None) => None,
        };
        let decision = self.decision_event(
            lead,
            request_id,
            now,
            &eval,
            release.is_some(),
            queue_id.clone(),
        );
        tx.append_lines(&self.journals.decision_rows(&decision))
            .await
            .map_err(db_io)?;
        if eval.decision == Decision::Accepted {
            let body = self.body_for(lead, request_id);
            tx.enqueue_call(request_id, &lead.lead_id, &body, now)
                .await
                .map_err(db_io)?;
        }
        tx.commit().await.map_err(db_io)?;
        self.tracker.apply(&decision);
        if eval.decision == Decision::Accepted {
            // A wake-up, not this id: the dispatcher claims whatever is due first.
            let _ = self.queue.send(String::new());
        }
        Ok(Submitted { eval, queue_id })
    }
}

/// A lead's first row in the deferred queue (a fresh queue id; deferred now, never
/// released yet).
pub(super) fn first_deferral(
    lead: &Lead,
    request_id: &str,
    now: DateTime<Utc>,
    release_at: DateTime<Utc>,
    stage: &str,
    reason: &str,
) -> DeferredRow {
    DeferredRow {
        id: format!("q_{}", uuid::Uuid::new_v4().simple()),
        lead_id: lead.lead_id.clone(),
        phone: lead.phone.as_str().to_string(),
        request_id: request_id.to_string(),
        lead: serde_json::Value::Object(lead.fields.clone()),
        first_deferred_at: now,
        deferred_at: now,
        release_at,
        stage: stage.to_string(),
        reason: reason.to_string(),
        releases: 0,
        releasing: None,
    }
}
