//! [`DbWrites`]: the Convoso writes as rows in PostgreSQL (`db/writes.rs`), shared by every
//! instance. A write is taken with a lease, so each instance sends different writes and a
//! write whose sender died is sent again once its lease runs out.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{Write, WriteStore};
use crate::store::StoreError;

/// The most open writes one listing returns.
const OPEN_LIMIT: i64 = 10_000;

pub struct DbWrites {
    db: crate::db::Db,
}

impl DbWrites {
    pub fn new(db: crate::db::Db) -> Self {
        Self { db }
    }
}

/// A stored body read back; one that no longer reads is an error naming it.
fn read(v: Value) -> Result<Write, StoreError> {
    serde_json::from_value(v).map_err(|e| {
        StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("an unreadable write: {e}"),
        ))
    })
}

fn body(w: &Write) -> Result<Value, StoreError> {
    serde_json::to_value(w).map_err(|e| StoreError::Io(std::io::Error::other(e)))
}

impl WriteStore for DbWrites {
    fn enqueue(&self, w: Write) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let body = body(&w)?;
            Ok(self
                .db
                .enqueue_write(&w.id, w.state.as_str(), w.next_at, w.created_at, &body)
                .await?)
        })
    }

    fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<Write>, StoreError>> {
        Box::pin(async move {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = self.db.claim_writes(now, limit).await?;
            rows.into_iter().map(read).collect()
        })
    }

    fn save<'a>(&'a self, w: &'a Write) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let body = body(w)?;
            Ok(self
                .db
                .save_write(&w.id, w.state.as_str(), w.next_at, &body)
                .await?)
        })
    }

    fn open_writes(&self) -> BoxFuture<'_, Result<Vec<Write>, StoreError>> {
        Box::pin(async move {
            let rows = self.db.open_writes(OPEN_LIMIT).await?;
            rows.into_iter().map(read).collect()
        })
    }

    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Write>, StoreError>> {
        Box::pin(async move {
            let Some(v) = self.db.write_by_id(id).await? else {
                return Ok(None);
            };
            Ok(Some(read(v)?).filter(Write::is_open))
        })
    }

    /// A taken row carries its lease; an admin's change over it is the sender's to
    /// overwrite or not (the writes are idempotent), so nothing waits here.
    fn is_taken(&self, _id: &str) -> bool {
        false
    }
}
