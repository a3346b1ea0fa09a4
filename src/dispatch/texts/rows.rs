//! [`DbTexts`]: the texts as `texts` rows shared by every instance (see `db/texts.rs`).
//! A row that cannot be read back goes to the quarantine, never skipped in silence.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{Text, TextState, TextStore};
use crate::db::texts::TextRow;
use crate::db::Db;
use crate::store::quarantine::Quarantine;
use crate::store::{StoreError, StoreResult};

pub struct DbTexts {
    db: Db,
    quarantine: Arc<Quarantine>,
}

impl DbTexts {
    pub fn new(db: Db, quarantine: Arc<Quarantine>) -> Self {
        Self { db, quarantine }
    }

    fn read(&self, records: Vec<Value>) -> Vec<Text> {
        records
            .into_iter()
            .filter_map(|v| match serde_json::from_value::<Text>(v.clone()) {
                Ok(t) => Some(t),
                Err(e) => {
                    let line = v.to_string();
                    self.quarantine.keep(
                        std::path::Path::new("db:texts"),
                        0,
                        line.as_bytes(),
                        &e.to_string(),
                    );
                    None
                }
            })
            .collect()
    }
}

fn row(t: &Text) -> StoreResult<(TextRow<'_>, ())> {
    let record = serde_json::to_value(t).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
    Ok((
        TextRow {
            id: &t.id,
            phone: &t.phone,
            state: t.state.as_str(),
            due_at: t.due_at,
            created_at: t.created_at,
            record,
        },
        (),
    ))
}

impl TextStore for DbTexts {
    fn schedule<'a>(&'a self, texts: &'a [Text]) -> BoxFuture<'a, StoreResult<usize>> {
        Box::pin(async move {
            let rows = texts
                .iter()
                .map(|t| row(t).map(|(r, ())| r))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(self.db.insert_texts(&rows).await?)
        })
    }

    fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        claim: Duration,
    ) -> BoxFuture<'_, StoreResult<Vec<Text>>> {
        Box::pin(async move {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let records = self.db.claim_texts(now, limit, now + claim).await?;
            Ok(self.read(records))
        })
    }

    fn save<'a>(&'a self, t: &'a Text) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let (r, ()) = row(t)?;
            Ok(self.db.save_text(&r, t.state == TextState::Sending).await?)
        })
    }

    fn settle_abandoned(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<Vec<Text>>> {
        Box::pin(async move {
            let reason = "the sender stopped while sending it: it may have been sent";
            let records = self.db.settle_abandoned_texts(now, reason).await?;
            Ok(self.read(records))
        })
    }

    fn of_phone<'a>(
        &'a self,
        phone: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<Vec<Text>>> {
        Box::pin(async move {
            let records = self.db.texts_of(phone, since).await?;
            Ok(self.read(records))
        })
    }
}
