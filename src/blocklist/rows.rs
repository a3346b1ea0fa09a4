//! The flags on PostgreSQL ([`DbFlags`]): flags are rows, every write is committed before
//! it is answered and then applied to this instance's index, and every instance follows
//! the change log ([`crate::db::flags`]) — woken by `NOTIFY`, and polling every
//! [`POLL_EVERY`] in case a notification was missed — so a change answered by any
//! instance matches on all of them within a second. There is no JSON document to
//! hand-edit in this mode: `callgate blocklist export/import` and the API are the way.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::flag::Flag;
use super::store::{AddedMany, FlagStore, Patch};
use super::{read, write, BlocklistError, FlagIndex};
use crate::db::flags::{self as rows, FlagChange, FlagRow};
use crate::db::{Db, DbError};
use crate::health::ComponentReport;
use crate::store::StoreError;

/// How often an instance looks for changes it was not told about.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// The flags' rows and the change log followed.
pub struct DbFlags {
    db: Db,
    /// The last change-log `seq` applied.
    seq: tokio::sync::Mutex<i64>,
    /// Notifications of changes, listened for from the first [`FlagStore::changed`] on
    /// (a listener holds a pooled connection, so an offline command never takes one);
    /// `Some(None)`: listening failed, polling only.
    listener: tokio::sync::Mutex<Option<Option<crate::db::Listener>>>,
}

impl From<DbError> for BlocklistError {
    fn from(e: DbError) -> Self {
        Self::Storage(e.into())
    }
}

fn to_row(f: &Flag) -> FlagRow {
    FlagRow {
        id: f.id().to_string(),
        field: f.field.to_string(),
        value: f.value().to_string(),
        reason: f.reason.as_deref().map(str::to_string),
        added_by: f.added_by.as_deref().map(str::to_string),
        added_at: f.added_at,
        expires_at: f.expires_at,
        updated_at: f.updated_at,
    }
}

fn from_row(r: FlagRow) -> Flag {
    let mut flag = Flag::new(&r.id, Arc::from(r.field), &r.value, r.added_at);
    flag.reason = r.reason.map(Arc::from);
    flag.added_by = r.added_by.map(Arc::from);
    flag.expires_at = r.expires_at;
    flag.updated_at = r.updated_at;
    flag
}

fn put(index: &mut FlagIndex, flag: Flag) {
    index.remove(flag.id());
    index.insert(flag);
}

impl DbFlags {
    /// Loads every flag from the database.
    pub async fn open(db: Db) -> Result<(FlagIndex, Self), DbError> {
        let (enabled, flags, seq) = db.load_flags().await?;
        let mut index = FlagIndex::new(enabled);
        for row in flags {
            index.insert(from_row(row));
        }
        index.shrink();
        tracing::info!(
            flags = index.len(),
            enabled,
            seq,
            "blocklist loaded from the database"
        );
        Ok((
            index,
            Self {
                db,
                seq: tokio::sync::Mutex::new(seq),
                listener: tokio::sync::Mutex::new(None),
            },
        ))
    }
}

impl FlagStore for DbFlags {
    /// The database decides whether the field and value already have a live flag (any
    /// instance's).
    fn add<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        flag: Flag,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(Flag, bool), BlocklistError>> {
        Box::pin(async move {
            let (row, existed) = self.db.add_flag(&to_row(&flag), at).await?;
            let stored = from_row(row);
            if !existed {
                put(&mut write(index), stored.clone());
            }
            Ok((stored, existed))
        })
    }

    fn remove<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        id: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Flag, BlocklistError>> {
        Box::pin(async move {
            let gone = self
                .db
                .delete_flag(id, at)
                .await?
                .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
            write(index).remove(id);
            Ok(from_row(gone))
        })
    }

    fn update<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        id: &'a str,
        patch: Patch<'a>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Flag, BlocklistError>> {
        Box::pin(async move {
            let next = {
                let index = read(index);
                let current = index
                    .get(id)
                    .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
                patch(&index, current)?
            };
            self.db.put_flag(&to_row(&next), at).await?;
            put(&mut write(index), next.clone());
            Ok(next)
        })
    }

    fn set_enabled<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        enabled: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), BlocklistError>> {
        Box::pin(async move {
            self.db.set_blocklist_enabled(enabled, at).await?;
            write(index).enabled = enabled;
            Ok(())
        })
    }

    fn add_many<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        flags: Vec<Flag>,
        keep_ids: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<AddedMany, BlocklistError>> {
        Box::pin(async move {
            const CHUNK: usize = 10_000;
            let (mut added, mut same_id, mut existing) = (Vec::new(), 0, Vec::new());
            for chunk in flags.chunks(CHUNK) {
                let rows: Vec<FlagRow> = chunk.iter().map(to_row).collect();
                let outcomes = self.db.add_flags(&rows, at, keep_ids).await?;
                let mut index = write(index);
                for (flag, outcome) in chunk.iter().zip(outcomes) {
                    match outcome {
                        rows::Added::Inserted => {
                            put(&mut index, flag.clone());
                            added.push(flag.clone());
                        }
                        rows::Added::SameId => same_id += 1,
                        rows::Added::Existing(row) => existing.push(from_row(row)),
                    }
                }
            }
            Ok((added, same_id, existing))
        })
    }

    fn catch_up<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async move {
            let mut seq = self.seq.lock().await;
            let changes = self.db.flag_changes_since(*seq).await?;
            if changes.is_empty() {
                return Ok(0);
            }
            let mut index = write(index);
            for (s, change) in &changes {
                match change {
                    FlagChange::Put(row) => put(&mut index, from_row(row.clone())),
                    FlagChange::Delete(id) => {
                        index.remove(id);
                    }
                    FlagChange::Enabled(on) => index.enabled = *on,
                }
                *seq = *s;
            }
            Ok(changes.len())
        })
    }

    fn changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut listener = self.listener.lock().await;
            if listener.is_none() {
                *listener = Some(match self.db.listen(rows::CHANNEL).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for flag changes; polling");
                        None
                    }
                });
            }
            let heard = async {
                match listener.as_mut().and_then(Option::as_mut) {
                    Some(l) => {
                        let _ = l.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(POLL_EVERY) => {}
                _ = heard => {}
            }
        })
    }

    /// Nothing to fold: every change is a committed row.
    fn fold(&self, _index: &RwLock<FlagIndex>) -> Result<bool, StoreError> {
        Ok(false)
    }

    fn report(&self, report: ComponentReport) -> ComponentReport {
        report
            .with("backend", "database")
            .with("pending_changes", 0)
    }
}
