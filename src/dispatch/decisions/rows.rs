//! Decisions on PostgreSQL, where several instances share one database: a unit is a
//! transaction holding the advisory lock of each of its numbers ([`crate::db::decisions`],
//! taken in key order, so two units sharing numbers on any instances wait for each other
//! instead of deadlocking). Inside it the instance reads every instance's recent
//! call-journal lines for the numbers into its trackers; the decision lines, the outbox
//! rows of accepted calls and the deferred rows then commit together. A second instance
//! deciding about the same number waits for that commit and then sees it, so exactly one
//! of two concurrent webhooks is accepted and the caps count every instance's calls.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::{DecisionUnit, Decisions, QueuedCall};
use crate::db::decisions::NumberTx;
use crate::db::deferred::Again;
use crate::db::journals::JournalLine;
use crate::db::Db;
use crate::domain::Lead;
use crate::journal::{CallEvent, Journals};
use crate::schedule::queue::{Deferral, Entry};
use crate::store::quarantine::Quarantine;
use crate::store::StoreError;
use crate::tracker::Tracker;

pub struct DbDecisions {
    db: Db,
    journals: Arc<Journals>,
    tracker: Arc<Tracker>,
    quarantine: Arc<Quarantine>,
}

impl DbDecisions {
    pub fn new(
        db: Db,
        journals: Arc<Journals>,
        tracker: Arc<Tracker>,
        quarantine: Arc<Quarantine>,
    ) -> Self {
        Self {
            db,
            journals,
            tracker,
            quarantine,
        }
    }

    /// A number's history lines, read back as events (an unreadable line is kept aside in
    /// the quarantine, never skipped in silence).
    fn events(&self, phone: &str, bytes: &[u8]) -> Vec<CallEvent> {
        let mut events = Vec::new();
        let label = std::path::PathBuf::from(format!("database:calls:{phone}"));
        crate::journal::each_call_in(&label, bytes, &self.quarantine, |e| events.push(e));
        events
    }

    /// The locks, and the numbers' histories as (phone, line), oldest first.
    async fn lock(
        &self,
        unique: &[&str],
        since: DateTime<Utc>,
    ) -> Result<(NumberTx, Vec<(String, String)>), StoreError> {
        if let [phone] = unique {
            let mut tx = self.db.lock_number(phone).await?;
            let lines = tx.history(since).await?;
            let lines = lines.into_iter().map(|l| (phone.to_string(), l)).collect();
            return Ok((tx, lines));
        }
        let mut tx = self.db.lock_numbers(unique).await?;
        let lines = tx.histories(unique, since).await?;
        Ok((tx, lines))
    }
}

impl Decisions for DbDecisions {
    fn begin<'a>(
        &'a self,
        leads: &'a [&'a Lead],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Box<dyn DecisionUnit>, StoreError>> {
        Box::pin(async move {
            let mut unique: Vec<&str> = leads.iter().map(|l| l.phone.as_str()).collect();
            unique.sort_unstable();
            unique.dedup();
            let (tx, history) = self.lock(&unique, self.tracker.history_since(now)).await?;
            let mut by_phone: HashMap<&str, Vec<u8>> = HashMap::new();
            for (phone, line) in &history {
                let bytes = by_phone.entry(phone.as_str()).or_default();
                bytes.extend_from_slice(line.as_bytes());
                bytes.push(b'\n');
            }
            for phone in &unique {
                let lead_ids: Vec<&str> = leads
                    .iter()
                    .filter(|l| l.phone.as_str() == *phone)
                    .map(|l| l.lead_id.as_str())
                    .collect();
                let bytes = by_phone.get(phone).map_or(&[][..], Vec::as_slice);
                self.tracker
                    .load_number(phone, &lead_ids, &self.events(phone, bytes));
            }
            let unit: Box<dyn DecisionUnit> = Box::new(DbUnit {
                tx,
                holder: self.db.holder.clone(),
                journals: self.journals.clone(),
                tracker: self.tracker.clone(),
                rows: Vec::with_capacity(leads.len() + 1),
            });
            Ok(unit)
        })
    }
}

struct DbUnit {
    tx: NumberTx,
    holder: String,
    journals: Arc<Journals>,
    tracker: Arc<Tracker>,
    /// The journal lines, written in one statement at commit.
    rows: Vec<JournalLine>,
}

impl DecisionUnit for DbUnit {
    fn defer<'a>(&'a mut self, d: Deferral<'a>) -> BoxFuture<'a, Result<String, StoreError>> {
        Box::pin(async move {
            let row = crate::dispatch::deferred::first_deferral(&d);
            Ok(self.tx.defer_lead(&row).await?)
        })
    }

    fn finish_release<'a>(
        &'a mut self,
        entry: &'a Entry,
        _now: DateTime<Utc>,
        again: Option<Deferral<'a>>,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let fields = again
                .as_ref()
                .map(|d| serde_json::Value::Object(d.lead.fields.clone()));
            let again = again.as_ref().zip(fields.as_ref()).map(|(d, lead)| Again {
                release_at: d.release_at,
                stage: d.stage,
                reason: d.reason,
                request_id: d.request_id,
                lead,
                at: d.now,
            });
            let deferred_again = again.is_some();
            if !self
                .tx
                .finish_release(&entry.id, &self.holder, again)
                .await?
            {
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "the release of deferred lead {} was taken over by another instance",
                    entry.id
                ))));
            }
            Ok(deferred_again.then(|| entry.id.clone()))
        })
    }

    fn record<'a>(&'a mut self, decision: &'a CallEvent) -> BoxFuture<'a, Result<(), StoreError>> {
        // The next lead of this unit for the same number sees this decision; the next
        // unit reads the number's history again under its lock.
        self.tracker.apply(decision);
        self.rows.extend(self.journals.decision_rows(decision));
        Box::pin(async { Ok(()) })
    }

    fn enqueue<'a>(&'a mut self, call: QueuedCall<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (rid, lead_id) = (call.request_id, call.lead_id);
            Ok(self
                .tx
                .enqueue_call_for(call.phone, rid, lead_id, &call.body, call.at)
                .await?)
        })
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StoreError>> {
        let DbUnit { mut tx, rows, .. } = *self;
        Box::pin(async move {
            tx.append_lines(&rows).await?;
            Ok(tx.commit().await?)
        })
    }
}
