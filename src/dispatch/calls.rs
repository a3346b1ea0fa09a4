//! Calls Bland has taken, by `call_id`: which request they belong to and whether their
//! outcome has arrived. Rebuilt at startup from the recent call journals, so a duplicate
//! completion webhook after a restart is still recognised — also one for a call we never
//! placed, which is journaled (unmatched) once, as the database backend does.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::journal::{calls_path, CallEvent, Journals, Outcome};
use crate::store::quarantine::Quarantine;
use crate::store::StoreError;

/// How many days of call journals are read at startup (calls end well within one).
pub const REBUILD_DAYS: u64 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct CallRef {
    pub request_id: String,
    pub lead_id: Option<String>,
    pub phone: Option<String>,
    pub outcome: Option<Outcome>,
    /// When Bland took it (for calls whose completion never came).
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// Not a call we placed (or one older than the index remembers).
    Unknown,
    /// Its outcome was already recorded.
    Duplicate,
    /// First outcome for this call.
    New(CallRef),
}

#[derive(Default)]
pub struct CallIndex {
    calls: Mutex<HashMap<String, CallRef>>,
    /// Call ids of completions that matched no call of ours, already journaled.
    unmatched: Mutex<HashSet<String>>,
}

impl CallIndex {
    pub fn rebuild(data_dir: &Path, today: NaiveDate, quarantine: &Quarantine) -> Self {
        let index = Self::default();
        let mut calls = HashMap::new();
        let mut unmatched = HashSet::new();
        for back in (0..REBUILD_DAYS).rev() {
            let Some(date) = today.checked_sub_days(chrono::Days::new(back)) else {
                continue;
            };
            let path = calls_path(data_dir, date);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // Only dispatch and outcome lines carry a call id; the rest are not parsed
            // (an unreadable one is kept aside by the tracker's replay of the same file).
            let finder = memchr::memmem::Finder::new(b"\"call_id\":\"");
            let mut events = Vec::new();
            let select = |l: &[u8]| finder.find(l).is_some();
            quarantine.parse_selected::<Value>(&path, &bytes, select, |v| events.push(v));
            for event in events {
                let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
                let Some(call_id) = text("call_id") else {
                    continue;
                };
                match event.get("event").and_then(Value::as_str) {
                    Some("dispatch") if text("status").as_deref() == Some("sent") => {
                        let request_id = text("request_id").unwrap_or_default();
                        calls.insert(
                            call_id,
                            CallRef {
                                request_id,
                                lead_id: text("lead_id"),
                                phone: text("phone"),
                                outcome: None,
                                sent_at: text("timestamp").and_then(|t| t.parse().ok()),
                            },
                        );
                    }
                    Some("outcome") => match calls.get_mut(&call_id) {
                        Some(c) => {
                            c.outcome = event
                                .get("outcome")
                                .cloned()
                                .and_then(|o| serde_json::from_value(o).ok());
                        }
                        None => {
                            unmatched.insert(call_id);
                        }
                    },
                    _ => {}
                }
            }
        }
        *index.calls.lock().unwrap_or_else(PoisonError::into_inner) = calls;
        *index
            .unmatched
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = unmatched;
        index
    }

    pub fn insert(&self, call_id: &str, call: CallRef) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(call_id.to_string(), call);
    }

    /// The call id Bland gave `request_id`, if the index knows one (a linear scan: for the
    /// handful of calls a restart leaves unconfirmed).
    pub fn call_of(&self, request_id: &str) -> Option<String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(_, c)| c.request_id == request_id)
            .map(|(id, _)| id.clone())
    }

    pub fn contains(&self, call_id: &str) -> bool {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(call_id)
    }

    /// Records `outcome` for `call_id` unless it is unknown or already has one. Atomic, so
    /// two copies of the same webhook arriving together count once.
    pub fn claim(&self, call_id: &str, outcome: Outcome) -> Claim {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        match calls.get_mut(call_id) {
            None => {
                let mut seen = self
                    .unmatched
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if seen.insert(call_id.to_string()) {
                    Claim::Unknown
                } else {
                    Claim::Duplicate
                }
            }
            Some(c) if c.outcome.is_some() => Claim::Duplicate,
            Some(c) => {
                c.outcome = Some(outcome);
                Claim::New(c.clone())
            }
        }
    }

    /// Forgets an outcome whose journal write failed, so Bland's retry is not a duplicate.
    pub fn unclaim(&self, call_id: &str) {
        self.unmatched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(call_id);
        if let Some(c) = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(call_id)
        {
            c.outcome = None;
        }
    }

    /// Calls taken by Bland between `from` and `until` whose outcome has not arrived.
    pub fn silent(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, c)| c.outcome.is_none())
            .filter(|(_, c)| c.sent_at.is_some_and(|t| t >= from && t <= until))
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The storage role of the calls placed and their outcomes: [`PlacedCalls`]. Two
/// implementations: [`FileCalls`] (this index, rebuilt from the call journal at startup,
/// and the call journal) and [`DbCalls`] (the `sent` lines every instance journals, and
/// `call_outcomes`, which takes one outcome per call id across instances). `startup/`
/// picks one; the gateway holds it.
pub trait PlacedCalls: Send + Sync {
    /// A call the provider took (files: into the index; rows: its journaled `sent` line
    /// is the record, nothing to do).
    fn placed(&self, call_id: &str, call: CallRef);
    /// The call id journaled as sent for `request_id`.
    fn call_of<'a>(
        &'a self,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
    /// Calls the provider took between `from` and `until` whose outcome has not arrived.
    fn silent(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;
    /// The start of a completion: whose call it is, or that its outcome is recorded.
    fn begin<'a>(
        &'a self,
        call_id: &'a str,
        outcome: Outcome,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;
    /// Forgets a begun outcome that was not recorded, so the provider's retry is not a
    /// duplicate.
    fn abandon(&self, call_id: &str);
    /// Journals the `outcome` event once per call id; false when another delivery
    /// recorded it first.
    fn record<'a>(&'a self, event: &'a CallEvent) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// The index of this instance's calls, and the call journal.
pub struct FileCalls {
    pub index: std::sync::Arc<CallIndex>,
    pub journals: std::sync::Arc<Journals>,
}

impl PlacedCalls for FileCalls {
    fn placed(&self, call_id: &str, call: CallRef) {
        self.index.insert(call_id, call);
    }

    fn call_of<'a>(
        &'a self,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move { Ok(self.index.call_of(request_id)) })
    }

    fn silent(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        Box::pin(async move { Ok(self.index.silent(from, until)) })
    }

    fn begin<'a>(
        &'a self,
        call_id: &'a str,
        outcome: Outcome,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move { Ok(self.index.claim(call_id, outcome)) })
    }

    fn abandon(&self, call_id: &str) {
        self.index.unclaim(call_id);
    }

    fn record<'a>(&'a self, event: &'a CallEvent) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.journals.append_call(event).wait().await?;
            Ok(true)
        })
    }
}

/// The calls every instance placed, as journal rows.
pub struct DbCalls {
    db: crate::db::Db,
    /// The business timezone (the date of an outcome's journal line).
    tz: chrono_tz::Tz,
}

impl DbCalls {
    pub fn new(db: crate::db::Db, tz: chrono_tz::Tz) -> Self {
        Self { db, tz }
    }
}

impl PlacedCalls for DbCalls {
    fn placed(&self, _call_id: &str, _call: CallRef) {}

    fn call_of<'a>(
        &'a self,
        request_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move { Ok(self.db.journaled_call_id(request_id).await?) })
    }

    fn silent(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        Box::pin(async move { Ok(self.db.silent_calls(from, until).await?) })
    }

    /// Found by its `sent` line; an outcome already in `call_outcomes` is a duplicate. An
    /// unknown call's repeat is found a duplicate when it is recorded.
    fn begin<'a>(
        &'a self,
        call_id: &'a str,
        outcome: Outcome,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let Some((request_id, lead_id, phone)) = self.db.call_by_id(call_id).await? else {
                return Ok(Claim::Unknown);
            };
            if self.db.outcome_recorded(call_id).await? {
                return Ok(Claim::Duplicate);
            }
            Ok(Claim::New(CallRef {
                request_id: request_id.unwrap_or_default(),
                lead_id,
                phone,
                outcome: Some(outcome),
                sent_at: None,
            }))
        })
    }

    fn abandon(&self, _call_id: &str) {}

    fn record<'a>(&'a self, event: &'a CallEvent) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let date = crate::clock::business_date(event.at(), self.tz);
            let line = crate::journal::rows::call_line(event, date);
            Ok(self.db.record_outcome(&line).await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::journal::DispatchStatus;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap_or_default()
    }

    fn outcome(call_id: &str, request_id: Option<&str>) -> CallEvent {
        CallEvent::Outcome {
            timestamp: at(60),
            request_id: request_id.map(str::to_string),
            call_id: call_id.into(),
            outcome: Outcome::Voicemail,
            duration_s: Some(12.0),
            matched: request_id.is_some(),
            lead_id: None,
            phone: None,
            tags: Vec::new(),
            source: None,
        }
    }

    /// Journals the `sent` line of `call_id` and tells `calls` about it.
    async fn send(calls: &dyn PlacedCalls, journals: &Journals, call_id: &str, rid: &str) {
        let sent = CallEvent::Dispatch {
            timestamp: at(0),
            request_id: rid.into(),
            status: DispatchStatus::Sent,
            lead_id: Some("L1".into()),
            phone: Some("+14155550101".into()),
            call_id: Some(call_id.into()),
            error: None,
        };
        journals.append_call(&sent).wait().await.expect("sent line");
        let call = CallRef {
            request_id: rid.into(),
            lead_id: Some("L1".into()),
            phone: Some("+14155550101".into()),
            outcome: None,
            sent_at: Some(at(0)),
        };
        calls.placed(call_id, call);
    }

    /// What every implementation does: a placed call is found by request id and is silent
    /// until its outcome is recorded, once; an abandoned outcome can be begun again; an
    /// unknown call's outcome is recorded once.
    async fn behaves(calls: &dyn PlacedCalls, journals: &Journals) {
        send(calls, journals, "call_1", "req_1").await;
        send(calls, journals, "call_2", "req_2").await;
        assert_eq!(
            calls.call_of("req_1").await.expect("of"),
            Some("call_1".into())
        );
        assert_eq!(calls.call_of("req_x").await.expect("of"), None);
        let mut silent = calls.silent(at(-10), at(100)).await.expect("silent");
        silent.sort();
        assert_eq!(silent, ["call_1", "call_2"]);

        let Claim::New(call) = calls
            .begin("call_1", Outcome::Voicemail)
            .await
            .expect("begin")
        else {
            panic!("a placed call's first outcome is new");
        };
        assert_eq!(
            (call.request_id.as_str(), call.lead_id.as_deref()),
            ("req_1", Some("L1"))
        );
        assert!(calls
            .record(&outcome("call_1", Some("req_1")))
            .await
            .expect("record"));
        assert_eq!(
            calls.begin("call_1", Outcome::Human).await.expect("again"),
            Claim::Duplicate
        );
        assert_eq!(
            calls.silent(at(-10), at(100)).await.expect("silent"),
            ["call_2"]
        );

        assert!(matches!(
            calls.begin("call_2", Outcome::Busy).await.expect("2"),
            Claim::New(_)
        ));
        calls.abandon("call_2");
        assert!(matches!(
            calls.begin("call_2", Outcome::Busy).await.expect("2"),
            Claim::New(_)
        ));

        assert_eq!(
            calls.begin("call_9", Outcome::Busy).await.expect("9"),
            Claim::Unknown
        );
        assert!(calls
            .record(&outcome("call_9", None))
            .await
            .expect("record unknown"));
        match calls.begin("call_9", Outcome::Busy).await.expect("9 again") {
            Claim::Duplicate => {}
            Claim::Unknown => {
                assert!(!calls
                    .record(&outcome("call_9", None))
                    .await
                    .expect("repeat"));
            }
            Claim::New(_) => panic!("an unknown call is never new"),
        }
    }

    #[tokio::test]
    async fn files_behave_as_placed_calls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journals = Arc::new(Journals::open(dir.path(), chrono_tz::UTC).expect("journals"));
        let calls = FileCalls {
            index: Arc::new(CallIndex::default()),
            journals: journals.clone(),
        };
        behaves(&calls, &journals).await;
    }

    #[tokio::test]
    async fn rows_behave_as_placed_calls() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 4).await.expect("connect");
        let dir = tempfile::tempdir().expect("tempdir");
        let journals = Journals::open_db(db.clone(), dir.path(), chrono_tz::UTC);
        behaves(&DbCalls::new(db.clone(), chrono_tz::UTC), &journals).await;
        db.pool.close().await;
    }
}
