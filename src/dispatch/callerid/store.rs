//! The pool's storage role, [`PoolCalls`]: the calls placed from pool numbers and their
//! outcomes, and the take that counts a call only when the number's caps allow it.
//! [`FileCalls`] keeps them in memory, rebuilt at startup from the call journal's
//! dispatch lines (each carries the `caller_id` it used) and outcomes; on one process the
//! take is a mutex. [`DbCalls`] keeps them in `caller_id_calls`, the take under the
//! number's advisory lock, so two instances never exceed a cap together; its reads are
//! cached for [`READ_CACHE`] (weights and streaks may lag that much, caps never do).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::select::UsedCall;
use crate::journal::{CallEvent, DispatchStatus, Outcome};
use crate::store::{StoreError, StoreResult};

/// How long the database store's read of the window is reused.
pub const READ_CACHE: chrono::Duration = chrono::Duration::seconds(1);

/// A call to count, and the caps it must stay within.
pub struct Take<'a> {
    pub request_id: &'a str,
    pub number: &'a str,
    pub phone: &'a str,
    pub at: DateTime<Utc>,
    pub hour: DateTime<Utc>,
    pub day: DateTime<Utc>,
    pub hourly_cap: Option<u32>,
    pub daily_cap: Option<u32>,
    /// Calls older than this may be let go.
    pub keep_since: DateTime<Utc>,
}

pub trait PoolCalls: Send + Sync {
    /// The calls placed since `since`.
    fn calls_since(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Arc<Vec<UsedCall>>>>;
    /// Counts the call if the number's caps allow it; whether it was counted.
    fn take<'a>(&'a self, t: &'a Take<'a>) -> BoxFuture<'a, StoreResult<bool>>;
    /// A try that placed nothing gives its count back.
    fn give_back<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, StoreResult<()>>;
    /// A call's outcome; the number it was placed from, if it was a pool call.
    fn outcome<'a>(
        &'a self,
        request_id: &'a str,
        outcome: Outcome,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<Option<String>>>;
    /// Adds calls placed before this pool existed (the Node import), each once: a call
    /// whose id is already here is left as it is. How many were added.
    fn seed<'a>(&'a self, calls: &'a [UsedCall]) -> BoxFuture<'a, StoreResult<usize>>;
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One process: the calls in memory (see the module docs).
#[derive(Default)]
pub struct FileCalls {
    calls: Mutex<Arc<Vec<UsedCall>>>,
}

impl FileCalls {
    /// Replays the call journal's days from `from` to `to`: each dispatch that may have
    /// reached the provider with the caller id it used, and the outcomes.
    pub fn rebuild(
        journals: &crate::journal::Journals,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        quarantine: &crate::store::quarantine::Quarantine,
    ) -> std::io::Result<Self> {
        let mut calls: Vec<UsedCall> = Vec::new();
        let mut day = from;
        while day <= to {
            let path = journals.calls_path(day);
            crate::journal::for_each_call(&path, quarantine, |event| replay(&mut calls, &event))?;
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        Ok(Self {
            calls: Mutex::new(Arc::new(calls)),
        })
    }
}

fn replay(calls: &mut Vec<UsedCall>, event: &CallEvent) {
    match event {
        CallEvent::Dispatch {
            timestamp,
            request_id,
            status: DispatchStatus::Sent | DispatchStatus::Unconfirmed,
            phone,
            caller_id: Some(c),
            ..
        } => {
            calls.retain(|x| &x.request_id != request_id);
            calls.push(UsedCall {
                request_id: request_id.clone(),
                number: c.number.clone(),
                phone: phone.clone().unwrap_or_default(),
                at: *timestamp,
                outcome: None,
            });
        }
        CallEvent::Outcome {
            timestamp,
            request_id: Some(rid),
            outcome,
            ..
        } => {
            if let Some(x) = calls.iter_mut().rev().find(|x| &x.request_id == rid) {
                x.outcome = Some((*outcome, *timestamp));
            }
        }
        _ => {}
    }
}

impl PoolCalls for FileCalls {
    fn calls_since(
        &self,
        _since: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Arc<Vec<UsedCall>>>> {
        let calls = lock(&self.calls).clone();
        Box::pin(async move { Ok(calls) })
    }

    fn take<'a>(&'a self, t: &'a Take<'a>) -> BoxFuture<'a, StoreResult<bool>> {
        let mut guard = lock(&self.calls);
        let calls = Arc::make_mut(&mut guard);
        let counted = |from: DateTime<Utc>| {
            calls
                .iter()
                .filter(|c| c.number == t.number && c.at >= from && c.request_id != t.request_id)
                .count() as u64
        };
        let over = |cap: Option<u32>, used: u64| cap.is_some_and(|c| used >= u64::from(c));
        let ok = !over(t.hourly_cap, counted(t.hour)) && !over(t.daily_cap, counted(t.day));
        if ok {
            calls.retain(|c| c.request_id != t.request_id && c.at >= t.keep_since);
            calls.push(UsedCall {
                request_id: t.request_id.to_string(),
                number: t.number.to_string(),
                phone: t.phone.to_string(),
                at: t.at,
                outcome: None,
            });
        }
        Box::pin(async move { Ok(ok) })
    }

    fn give_back<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        let mut guard = lock(&self.calls);
        Arc::make_mut(&mut guard).retain(|c| c.request_id != request_id || c.outcome.is_some());
        Box::pin(async move { Ok(()) })
    }

    fn outcome<'a>(
        &'a self,
        request_id: &'a str,
        outcome: Outcome,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<Option<String>>> {
        let mut guard = lock(&self.calls);
        let calls = Arc::make_mut(&mut guard);
        let number = calls
            .iter_mut()
            .rev()
            .find(|c| c.request_id == request_id)
            .map(|c| {
                c.outcome = Some((outcome, at));
                c.number.clone()
            });
        Box::pin(async move { Ok(number) })
    }

    fn seed<'a>(&'a self, seeds: &'a [UsedCall]) -> BoxFuture<'a, StoreResult<usize>> {
        let mut guard = lock(&self.calls);
        let calls = Arc::make_mut(&mut guard);
        let known: std::collections::HashSet<String> =
            calls.iter().map(|c| c.request_id.clone()).collect();
        let new: Vec<UsedCall> = seeds
            .iter()
            .filter(|c| !known.contains(&c.request_id))
            .cloned()
            .collect();
        let added = new.len();
        calls.extend(new);
        calls.sort_by_key(|c| c.at);
        Box::pin(async move { Ok(added) })
    }
}

/// A read of the window: when it was read, from when, what.
type Cached = (DateTime<Utc>, DateTime<Utc>, Arc<Vec<UsedCall>>);

/// Several instances: `caller_id_calls` rows (see the module docs).
pub struct DbCalls {
    db: crate::db::Db,
    cache: Mutex<Option<Cached>>,
}

impl DbCalls {
    pub fn new(db: crate::db::Db) -> Self {
        Self {
            db,
            cache: Mutex::new(None),
        }
    }

    fn forget(&self) {
        *lock(&self.cache) = None;
    }
}

fn from_row(r: crate::db::caller_ids::CallerIdCall) -> UsedCall {
    let outcome = r
        .outcome
        .and_then(|o| serde_json::from_value::<Outcome>(serde_json::Value::String(o)).ok());
    UsedCall {
        request_id: r.request_id,
        number: r.number,
        phone: r.phone,
        at: r.at,
        outcome: outcome.zip(r.outcome_at),
    }
}

impl PoolCalls for DbCalls {
    fn calls_since(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, StoreResult<Arc<Vec<UsedCall>>>> {
        Box::pin(async move {
            if let Some((read_at, from, calls)) = lock(&self.cache).clone() {
                if from <= since && read_at <= now && now - read_at < READ_CACHE {
                    return Ok(calls);
                }
            }
            let rows = self
                .db
                .caller_id_calls(since)
                .await
                .map_err(StoreError::from)?;
            let calls = Arc::new(rows.into_iter().map(from_row).collect::<Vec<_>>());
            *lock(&self.cache) = Some((now, since, calls.clone()));
            Ok(calls)
        })
    }

    fn take<'a>(&'a self, t: &'a Take<'a>) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let take = crate::db::caller_ids::Take {
                request_id: t.request_id,
                number: t.number,
                phone: t.phone,
                at: t.at,
                hour: t.hour,
                day: t.day,
                hourly_cap: t.hourly_cap,
                daily_cap: t.daily_cap,
                keep_since: t.keep_since,
            };
            let taken = self
                .db
                .take_caller_id(&take)
                .await
                .map_err(StoreError::from)?;
            self.forget();
            Ok(taken)
        })
    }

    fn give_back<'a>(&'a self, request_id: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.db
                .give_back_caller_id(request_id)
                .await
                .map_err(StoreError::from)?;
            self.forget();
            Ok(())
        })
    }

    fn outcome<'a>(
        &'a self,
        request_id: &'a str,
        outcome: Outcome,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<Option<String>>> {
        Box::pin(async move {
            let number = self
                .db
                .caller_id_outcome(request_id, outcome.as_str(), at)
                .await
                .map_err(StoreError::from)?;
            self.forget();
            Ok(number)
        })
    }

    fn seed<'a>(&'a self, calls: &'a [UsedCall]) -> BoxFuture<'a, StoreResult<usize>> {
        Box::pin(async move {
            let rows: Vec<crate::db::caller_ids::CallerIdCall> = calls
                .iter()
                .map(|c| crate::db::caller_ids::CallerIdCall {
                    request_id: c.request_id.clone(),
                    number: c.number.clone(),
                    phone: c.phone.clone(),
                    at: c.at,
                    outcome: c.outcome.map(|(o, _)| o.as_str().to_string()),
                    outcome_at: c.outcome.map(|(_, at)| at),
                })
                .collect();
            let added = self
                .db
                .seed_caller_id_calls(&rows)
                .await
                .map_err(StoreError::from)?;
            self.forget();
            Ok(added)
        })
    }
}
