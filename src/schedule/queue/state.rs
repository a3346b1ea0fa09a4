//! The queue's log records and its in-memory indexes, replayed from the log.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Entry, Removal};
use crate::clock::millis;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Record {
    Put(Box<Entry>),
    Releasing {
        id: String,
        version: u64,
        request_id: String,
    },
    Removed {
        id: String,
        version: u64,
        why: Removal,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
    },
    /// Release now (admin): the entry's release time becomes `at` if it was later.
    Hurry {
        id: Option<String>,
        #[serde(with = "millis")]
        at: DateTime<Utc>,
    },
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) entries: HashMap<String, Entry>,
    pub(super) by_key: HashMap<String, String>,
    /// (release_at, id) of entries not being released.
    pub(super) due: BTreeSet<(DateTime<Utc>, String)>,
    /// (first_deferred_at, id)
    pub(super) ages: BTreeSet<(DateTime<Utc>, String)>,
    pub(super) next_version: u64,
}

pub(super) fn key(lead_id: &str, phone: &str) -> String {
    format!("{lead_id}\u{1f}{phone}")
}

impl Inner {
    pub(super) fn unindex(&mut self, e: &Entry) {
        self.due.remove(&(e.release_at, e.id.clone()));
        self.ages.remove(&(e.first_deferred_at, e.id.clone()));
    }

    pub(super) fn index(&mut self, e: &Entry) {
        if e.releasing.is_none() {
            self.due.insert((e.release_at, e.id.clone()));
        }
        self.ages.insert((e.first_deferred_at, e.id.clone()));
    }

    pub(super) fn apply(&mut self, record: Record) {
        match record {
            Record::Put(e) => {
                self.next_version = self.next_version.max(e.version + 1);
                if let Some(old) = self.entries.remove(&e.id) {
                    self.unindex(&old);
                }
                self.by_key.insert(key(&e.lead_id, &e.phone), e.id.clone());
                self.index(&e);
                self.entries.insert(e.id.clone(), *e);
            }
            Record::Releasing {
                id,
                version,
                request_id,
            } => {
                let Some(mut e) = self.entries.remove(&id) else {
                    return;
                };
                if e.version == version {
                    self.unindex(&e);
                    e.releasing = Some(request_id);
                    self.index(&e);
                }
                self.entries.insert(id, e);
            }
            Record::Removed { id, version, .. } => {
                if self.entries.get(&id).is_some_and(|e| e.version == version) {
                    if let Some(e) = self.entries.remove(&id) {
                        self.unindex(&e);
                        self.by_key.remove(&key(&e.lead_id, &e.phone));
                    }
                }
            }
            Record::Hurry { id, at } => {
                let ids: Vec<String> = match id {
                    Some(id) => vec![id],
                    None => self.entries.keys().cloned().collect(),
                };
                for id in ids {
                    let Some(mut e) = self.entries.remove(&id) else {
                        continue;
                    };
                    if e.release_at > at {
                        self.unindex(&e);
                        e.release_at = at;
                        self.index(&e);
                    }
                    self.entries.insert(id, e);
                }
            }
        }
    }
}

pub(super) fn line(record: &Record) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}
