//! The blocklist on PostgreSQL (`DATABASE_URL`): flags are rows, every write is committed
//! before it is answered and then applied to this instance's index, and every instance
//! follows the change log ([`crate::db::flags`]) — woken by `NOTIFY`, and polling every
//! [`POLL_EVERY`] in case a notification was missed — so a change answered by any instance
//! matches on all of them within a second. There is no JSON document to hand-edit in this
//! mode: `callgate blocklist export/import` and the API are the way.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::flag::{self, Flag, FlagError, FlagRecord};
use super::{write, Added, Blocklist, BlocklistError, FlagIndex, FlagPatch};
use crate::clock::SharedClock;
use crate::db::flags::{self as rows, FlagChange, FlagRow};
use crate::db::{Db, DbError};
use crate::metrics::Metrics;

/// How often an instance looks for changes it was not told about.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// The database side of a blocklist.
pub(super) struct Shared {
    pub db: Db,
    /// The last change-log `seq` applied.
    pub seq: tokio::sync::Mutex<i64>,
}

impl From<DbError> for BlocklistError {
    fn from(e: DbError) -> Self {
        Self::Storage(e.into_io())
    }
}

fn to_row(f: &Flag) -> FlagRow {
    FlagRow {
        id: f.id.to_string(),
        field: f.field.to_string(),
        value: f.value.to_string(),
        reason: f.reason.as_deref().map(str::to_string),
        added_by: f.added_by.as_deref().map(str::to_string),
        added_at: f.added_at,
        expires_at: f.expires_at,
        updated_at: f.updated_at,
    }
}

fn from_row(r: FlagRow) -> Flag {
    Flag {
        id: r.id.into_boxed_str(),
        field: Arc::from(r.field),
        value: r.value.into_boxed_str(),
        reason: r.reason.map(Arc::from),
        added_by: r.added_by.map(Arc::from),
        added_at: r.added_at,
        expires_at: r.expires_at,
        updated_at: r.updated_at,
        seq: 0,
    }
}

fn put(index: &mut FlagIndex, flag: Flag) {
    index.remove(&flag.id);
    index.insert(flag);
}

impl Blocklist {
    /// Loads every flag from the database.
    pub async fn open_db(
        db: Db,
        country: &str,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, DbError> {
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
        let log = crate::store::appender::Appender::detached()
            .map_err(|e| DbError::Sql(sqlx::Error::Io(e)))?;
        let mut list = Self::assemble(
            index,
            log,
            std::path::Path::new(""),
            country,
            usize::MAX,
            clock,
            metrics,
            None,
        );
        list.shared = Some(Shared {
            db,
            seq: tokio::sync::Mutex::new(seq),
        });
        Ok(list)
    }

    fn at(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Applies the changes other instances committed since the last one applied; returns
    /// how many.
    pub async fn catch_up(&self) -> Result<usize, DbError> {
        let Some(shared) = &self.shared else {
            return Ok(0);
        };
        let mut seq = shared.seq.lock().await;
        let changes = shared.db.flag_changes_since(*seq).await?;
        if changes.is_empty() {
            return Ok(0);
        }
        {
            let mut index = write(&self.index);
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
        }
        self.metrics.blocklist_flags.set(self.len() as i64);
        Ok(changes.len())
    }

    /// Follows the change log until `shutdown` (database mode; returns at once otherwise).
    pub async fn follow(&self, shutdown: impl std::future::Future<Output = ()>) {
        let Some(shared) = &self.shared else { return };
        tokio::pin!(shutdown);
        let mut listener = match shared.db.listen(rows::CHANNEL).await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for flag changes; polling");
                None
            }
        };
        let mut tick = tokio::time::interval(POLL_EVERY);
        loop {
            let heard = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = l.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tick.tick() => {}
                _ = heard => {}
            }
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "cannot read the flag change log");
            }
        }
    }

    /// [`Blocklist::add`] in database mode: the database decides whether the field and
    /// value already have a live flag (any instance's).
    pub(super) async fn add_shared(&self, db: &Db, flag: Flag) -> Result<Added, BlocklistError> {
        let (row, existed) = db.add_flag(&to_row(&flag), self.at()).await?;
        let stored = from_row(row);
        if !existed {
            put(&mut write(&self.index), stored.clone());
            self.after_write("add", 1);
        }
        Ok(Added {
            flag: stored,
            already_existed: existed,
        })
    }

    pub(super) async fn remove_shared(&self, db: &Db, id: &str) -> Result<Flag, BlocklistError> {
        let gone = db
            .delete_flag(id, self.at())
            .await?
            .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
        write(&self.index).remove(id);
        self.after_write("remove", 1);
        Ok(from_row(gone))
    }

    pub(super) async fn update_shared(
        &self,
        db: &Db,
        id: &str,
        patch: FlagPatch,
    ) -> Result<Flag, BlocklistError> {
        let next = {
            let index = super::read(&self.index);
            let current = index
                .get(id)
                .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
            self.patched(&index, current, patch)?
        };
        db.put_flag(&to_row(&next), self.at()).await?;
        put(&mut write(&self.index), next.clone());
        self.after_write("update", 1);
        Ok(next)
    }

    pub(super) async fn set_enabled_shared(
        &self,
        db: &Db,
        enabled: bool,
    ) -> Result<(), BlocklistError> {
        db.set_blocklist_enabled(enabled, self.at()).await?;
        write(&self.index).enabled = enabled;
        self.after_write("enabled", 1);
        Ok(())
    }

    /// Bulk adds (`keep_ids: false`) and migration imports (`true`) in database mode:
    /// (added, already there by id, already there by field and value).
    pub(super) async fn add_many_shared(
        &self,
        db: &Db,
        flags: Vec<Flag>,
        keep_ids: bool,
    ) -> Result<(Vec<Flag>, usize, Vec<Flag>), BlocklistError> {
        const CHUNK: usize = 10_000;
        let (mut added, mut same_id, mut existing) = (Vec::new(), 0, Vec::new());
        for chunk in flags.chunks(CHUNK) {
            let rows: Vec<FlagRow> = chunk.iter().map(to_row).collect();
            let outcomes = db.add_flags(&rows, self.at(), keep_ids).await?;
            let mut index = write(&self.index);
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
        if !added.is_empty() {
            self.after_write(if keep_ids { "import" } else { "bulk" }, added.len());
        }
        Ok((added, same_id, existing))
    }

    /// A new flag from a record, with a fresh id (the shared path of `add` and bulk).
    pub(super) fn fresh_flag(&self, mut record: FlagRecord, now: i64) -> Result<Flag, FlagError> {
        record.id = None;
        record.updated_at = None;
        record.into_flag(&self.country, now, || flag::new_flag_id(now))
    }
}
