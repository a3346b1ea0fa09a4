//! The durable deferred queue (`DATA_DIR/deferred/queue.jsonl`): a lead the pipeline
//! deferred is on disk before the webhook is answered, and waits here for its release time.
//! One entry per lead id + phone: deferring the same lead again replaces the payload and
//! release time but keeps the entry's id and its first deferral time (from which
//! `max_defer_hours` is counted).
//!
//! Releasing is two-phase so a crash can neither lose nor double-dial a lead: a synced
//! `releasing` record names the request id the release will use, then the pipeline decides
//! (decision journaled, call in the outbox), then the entry is removed. At startup an entry
//! still marked `releasing` is settled by looking for that request id in the outbox and the
//! call journal (see `dispatch::release`). The file is rewritten with the live entries at
//! each start.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::millis;
use crate::domain::Lead;
use crate::store::appender::{Appender, Pending};
use crate::store::quarantine::Quarantine;

pub const QUEUE_DIR: &str = "deferred";
pub const QUEUE_FILE: &str = "queue.jsonl";

/// Why an entry left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    Released,
    Deleted,
    Expired,
}

/// A queued lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub version: u64,
    /// The request that deferred it most recently.
    pub request_id: String,
    pub lead_id: String,
    pub phone: String,
    #[serde(with = "millis")]
    pub first_deferred_at: DateTime<Utc>,
    #[serde(with = "millis")]
    pub deferred_at: DateTime<Utc>,
    #[serde(with = "millis")]
    pub release_at: DateTime<Utc>,
    pub stage: String,
    pub reason: String,
    /// How many times it has been released and deferred again.
    pub releases: u32,
    /// The lead's fields as received, kept as compact JSON text (a fraction of the memory
    /// of a parsed map); written and shown as an object.
    #[serde(with = "json_text")]
    pub lead: Arc<str>,
    /// Set while a release is under way: the request id it uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releasing: Option<String>,
}

/// A JSON object held as text.
mod json_text {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        serde_json::from_str::<Value>(text)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(v.to_string().into())
    }
}

impl Entry {
    /// The lead's fields.
    pub fn fields(&self) -> serde_json::Map<String, Value> {
        serde_json::from_str(&self.lead).unwrap_or_default()
    }

    /// The request id the next release of this entry uses.
    pub fn release_request_id(&self) -> String {
        format!("{}-r{}", self.request_id, self.releases + 1)
    }
}

mod state;

use state::{key, line, Inner, Record};

pub struct DeferredQueue {
    log: Appender,
    inner: Mutex<Inner>,
}

/// What to defer: the lead and the pipeline's answer.
pub struct Deferral<'a> {
    pub lead: &'a Lead,
    pub request_id: &'a str,
    pub now: DateTime<Utc>,
    pub release_at: DateTime<Utc>,
    pub stage: &'a str,
    pub reason: &'a str,
}

impl DeferredQueue {
    /// Replays and rewrites the queue. Entries still marked `releasing` are returned as
    /// they are, for the caller to settle.
    pub fn open(data_dir: &Path, quarantine: &Quarantine) -> io::Result<(Self, Vec<Entry>)> {
        let dir = data_dir.join(QUEUE_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(QUEUE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut inner = Inner::default();
        let torn = quarantine.parse_lines::<Record>(&path, &bytes, |r| inner.apply(r));
        if torn > 0 {
            tracing::warn!(
                torn,
                "skipped a torn last deferred-queue line (crash mid-write)"
            );
        }
        let mut live: Vec<&Entry> = inner.entries.values().collect();
        live.sort_by_key(|e| (e.release_at, e.id.clone()));
        crate::store::atomic::write_atomic_with(&path, |w| {
            use std::io::Write;
            for e in &live {
                w.write_all(&line(&Record::Put(Box::new((*e).clone()))))?;
                w.write_all(b"\n")?;
            }
            Ok(())
        })?;
        let in_doubt = live
            .iter()
            .filter(|e| e.releasing.is_some())
            .map(|e| (*e).clone())
            .collect();
        let log = Appender::open(&path)?;
        Ok((
            Self {
                log,
                inner: Mutex::new(inner),
            },
            in_doubt,
        ))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, inner: &mut Inner, record: Record) -> Pending {
        let pending = self.log.append(line(&record));
        inner.apply(record);
        pending
    }

    /// Adds or replaces the lead's entry; returns its id and the write to wait for.
    pub fn defer(&self, d: Deferral<'_>) -> (String, Pending) {
        let mut inner = self.inner();
        let phone = d.lead.phone.as_str().to_string();
        let existing = inner
            .by_key
            .get(&key(&d.lead.lead_id, &phone))
            .and_then(|id| inner.entries.get(id));
        let (id, first, releases) = match existing {
            Some(e) => (
                e.id.clone(),
                e.first_deferred_at,
                e.releases + u32::from(e.releasing.is_some()),
            ),
            None => (format!("q_{}", uuid::Uuid::new_v4().simple()), d.now, 0),
        };
        let version = inner.next_version;
        let entry = Entry {
            id: id.clone(),
            version,
            request_id: d.request_id.to_string(),
            lead_id: d.lead.lead_id.clone(),
            phone,
            first_deferred_at: first,
            deferred_at: d.now,
            release_at: d.release_at,
            stage: d.stage.to_string(),
            reason: d.reason.to_string(),
            releases,
            lead: serde_json::to_string(&d.lead.fields)
                .unwrap_or_default()
                .into(),
            releasing: None,
        };
        let pending = self.record(&mut inner, Record::Put(Box::new(entry)));
        (id, pending)
    }

    /// Up to `limit` entries due at `now`, earliest first, not already being released.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Vec<Entry> {
        let inner = self.inner();
        inner
            .due
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .filter_map(|(_, id)| inner.entries.get(id).cloned())
            .collect()
    }

    /// Up to `limit` entries first deferred at or before `cutoff`.
    pub fn expired(&self, cutoff: DateTime<Utc>, limit: usize) -> Vec<Entry> {
        let inner = self.inner();
        inner
            .ages
            .iter()
            .take_while(|(at, _)| *at <= cutoff)
            .filter_map(|(_, id)| inner.entries.get(id))
            .filter(|e| e.releasing.is_none())
            .take(limit)
            .cloned()
            .collect()
    }

    /// Claims an entry for release with the request id it will use. `None` when it is
    /// gone, changed since `e` was read, or already being released (one release at a time).
    pub fn releasing(&self, e: &Entry, request_id: &str) -> Option<Pending> {
        let mut inner = self.inner();
        let current = inner.entries.get(&e.id)?;
        if current.version != e.version || current.releasing.is_some() {
            return None;
        }
        Some(self.record(
            &mut inner,
            Record::Releasing {
                id: e.id.clone(),
                version: e.version,
                request_id: request_id.to_string(),
            },
        ))
    }

    /// Removes the entry if it is still the given version (a newer deferral of the same
    /// lead stays).
    pub fn remove(&self, e: &Entry, why: Removal, at: DateTime<Utc>) -> Pending {
        let mut inner = self.inner();
        self.record(
            &mut inner,
            Record::Removed {
                id: e.id.clone(),
                version: e.version,
                why,
                at,
            },
        )
    }

    /// Makes one entry (or all) due now. Returns how many entries that covers.
    pub fn hurry(&self, id: Option<&str>, at: DateTime<Utc>) -> (usize, Pending) {
        let mut inner = self.inner();
        let n = match id {
            Some(id) => usize::from(inner.entries.contains_key(id)),
            None => inner.entries.len(),
        };
        let pending = self.record(
            &mut inner,
            Record::Hurry {
                id: id.map(str::to_string),
                at,
            },
        );
        (n, pending)
    }

    /// Makes the entries for `phone` deferred by `stage` due at `at` (a line became free).
    /// Returns how many, and the write to wait for (none when there were none).
    pub fn hurry_phone(&self, phone: &str, stage: &str, at: DateTime<Utc>) -> Vec<Pending> {
        let mut inner = self.inner();
        let ids: Vec<String> = inner
            .entries
            .values()
            .filter(|e| e.phone == phone && e.stage == stage && e.release_at > at)
            .map(|e| e.id.clone())
            .collect();
        ids.into_iter()
            .map(|id| self.record(&mut inner, Record::Hurry { id: Some(id), at }))
            .collect()
    }

    /// Puts an entry whose release could not be recorded back in line.
    pub fn retry_later(&self, e: &Entry) {
        let mut inner = self.inner();
        if let Some(mut cur) = inner.entries.remove(&e.id) {
            if cur.releasing.is_some() {
                inner.unindex(&cur);
                cur.releasing = None;
                inner.index(&cur);
            }
            inner.entries.insert(e.id.clone(), cur);
        }
    }

    pub fn get(&self, id: &str) -> Option<Entry> {
        self.inner().entries.get(id).cloned()
    }

    /// The entry of a lead and number (there is at most one), without a scan.
    pub fn get_for(&self, lead_id: &str, phone: &str) -> Option<Entry> {
        let inner = self.inner();
        let id = inner.by_key.get(&key(lead_id, phone))?;
        inner.entries.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.inner().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries due at `now`, and the oldest first deferral.
    pub fn summary(&self, now: DateTime<Utc>) -> (usize, usize, Option<DateTime<Utc>>) {
        let inner = self.inner();
        let due = inner.due.iter().take_while(|(at, _)| *at <= now).count();
        let oldest = inner.ages.first().map(|(at, _)| *at);
        (inner.entries.len(), due, oldest)
    }

    /// Entries matching the filters, by release time; returns (total matching, page).
    pub fn list(
        &self,
        lead_id: Option<&str>,
        phone: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<Entry>) {
        let inner = self.inner();
        let matching = inner
            .due
            .iter()
            .map(|(_, id)| id)
            .chain(
                inner
                    .entries
                    .values()
                    .filter(|e| e.releasing.is_some())
                    .map(|e| &e.id),
            )
            .filter_map(|id| inner.entries.get(id))
            .filter(|e| lead_id.is_none_or(|l| e.lead_id == l))
            .filter(|e| phone.is_none_or(|p| e.phone == p));
        let mut total = 0;
        let mut page = Vec::new();
        for e in matching {
            if total >= offset && page.len() < limit {
                page.push(e.clone());
            }
            total += 1;
        }
        (total, page)
    }

    pub fn flush(&self) -> Pending {
        self.log.flush()
    }
}

#[cfg(test)]
mod tests;
