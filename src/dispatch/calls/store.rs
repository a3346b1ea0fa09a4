//! The storage role of the calls placed and their outcomes ([`PlacedCalls`]), over the
//! call index and journal (files) or the journal rows (database).

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::{CallIndex, CallRef, Claim};
use crate::journal::{CallEvent, Journals, Outcome};
use crate::store::StoreError;

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
