//! The field-matching blocklist: flags, their indexes, durable changes and hot reload.
//!
//! Reads (matching, listing) take a shared lock on the in-memory [`FlagIndex`]. A write
//! changes memory and enqueues one change-log record under the exclusive lock, then waits
//! for the group-committed `fsync` after releasing it — so concurrent writes share a sync
//! and the cost of one add does not grow with the number of flags. The change log is folded
//! into `blocklist-config.json` in the background ([`Blocklist::compact`]), when idle, and
//! at shutdown.

pub mod bulk;
pub mod content;
pub mod file;
pub mod flag;
pub mod index;
pub mod persist;
pub mod query;
pub mod rows;
pub mod store;
pub mod watch;
mod writes;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;

pub use flag::{Flag, FlagError, FlagRecord};
pub use index::{FlagIndex, LeadMatch};

use crate::clock::SharedClock;
use crate::health::{ComponentReport, HealthSource, HealthStatus};
use crate::metrics::Metrics;
use crate::store::StoreError;
use file::FileFlags;
use store::FlagStore;

#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error(transparent)]
    Invalid(#[from] FlagError),
    #[error("blocklist flag `{0}` not found")]
    NotFound(String),
    #[error("another flag (`{0}`) already has this field and value")]
    Conflict(String),
    #[error("could not store the change: {0}")]
    Storage(#[from] StoreError),
}

impl From<io::Error> for BlocklistError {
    fn from(e: io::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// Changes to a flag; `None` leaves a part as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct FlagPatch {
    pub reason: Option<Option<String>>,
    pub expires_at: Option<Option<String>>,
    pub value: Option<Value>,
}

/// What `add` did.
#[derive(Debug)]
pub struct Added {
    pub flag: Flag,
    pub already_existed: bool,
}

pub struct Blocklist {
    index: RwLock<FlagIndex>,
    /// Where the flags are kept and how changes made elsewhere arrive.
    store: Arc<dyn FlagStore>,
    country: String,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Blocklist {
    /// The flags in `index`, kept by `store`.
    pub fn new(
        index: FlagIndex,
        store: Arc<dyn FlagStore>,
        country: &str,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        metrics.blocklist_flags.set(index.len() as i64);
        Self {
            index: RwLock::new(index),
            store,
            country: country.to_string(),
            clock,
            metrics,
        }
    }

    /// The blocklist of the data directory `dir` ([`FileFlags::open`]).
    pub fn open(
        dir: &Path,
        country: &str,
        compact_after: usize,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, persist::LoadError> {
        Ok(Self::open_files(dir, country, compact_after, clock, metrics)?.0)
    }

    /// [`Blocklist::open`], with its files for the tasks that fold the change log and
    /// apply hand edits ([`watch`]).
    pub fn open_files(
        dir: &Path,
        country: &str,
        compact_after: usize,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, Arc<FileFlags>), persist::LoadError> {
        let now = clock.now().timestamp_millis();
        let (index, files) =
            FileFlags::open(dir, country, compact_after, now, metrics.clone(), false)?;
        let files = Arc::new(files);
        let list = Self::new(index, files.clone(), country, clock, metrics);
        Ok((list, files))
    }

    /// The flags as they are on disk, read without writing anything (no compaction, no
    /// lock): for offline questions such as `callgate check` beside a running server.
    pub fn open_read_only(
        dir: &Path,
        country: &str,
        clock: SharedClock,
    ) -> Result<Self, persist::LoadError> {
        let now = clock.now().timestamp_millis();
        let metrics = Arc::new(Metrics::new());
        let (index, files) = FileFlags::open(dir, country, usize::MAX, now, metrics.clone(), true)?;
        Ok(Self::new(index, Arc::new(files), country, clock, metrics))
    }

    /// The blocklist in the database ([`rows::DbFlags`]), followed with [`Blocklist::follow`].
    pub async fn open_db(
        db: crate::db::Db,
        country: &str,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, crate::db::DbError> {
        let (index, flags) = rows::DbFlags::open(db).await?;
        Ok(Self::new(index, Arc::new(flags), country, clock, metrics))
    }

    pub fn country(&self) -> &str {
        &self.country
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Runs `f` with shared access to the flags.
    pub fn read<R>(&self, f: impl FnOnce(&FlagIndex) -> R) -> R {
        f(&read(&self.index))
    }

    pub fn is_enabled(&self) -> bool {
        read(&self.index).enabled
    }

    pub fn len(&self) -> usize {
        read(&self.index).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: &str) -> Option<Flag> {
        read(&self.index).get(id).cloned()
    }

    /// The first live flag matching a field of `lead` (phone fields first).
    pub fn match_lead(
        &self,
        lead: &serde_json::Map<String, Value>,
        now_ms: i64,
    ) -> Option<LeadMatch> {
        read(&self.index).match_lead(lead, &self.country, now_ms)
    }

    /// The live flag for one field and raw value, normalised like matching.
    pub fn lookup(&self, field: &str, raw: &str) -> Result<Option<Flag>, FlagError> {
        let field = flag::canonical_field(field);
        if field.is_empty() {
            return Err(FlagError::MissingField);
        }
        let value = flag::normalize_value(field, raw, &self.country)?;
        let now = self.now_ms();
        Ok(read(&self.index)
            .live_with_value(field, &value, now)
            .cloned())
    }

    /// Folds the change log into `blocklist-config.json` (files; blocking): see
    /// [`FlagStore::fold`].
    pub fn compact(&self) -> Result<bool, StoreError> {
        self.store.fold(&self.index)
    }

    /// Applies the changes made elsewhere since the last one applied; returns how many.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let n = self.store.catch_up(&self.index).await?;
        if n > 0 {
            self.metrics.blocklist_flags.set(self.len() as i64);
        }
        Ok(n)
    }

    /// Follows the changes made elsewhere until `shutdown` (other instances sharing the
    /// database; with files, nothing else writes through the store and this only waits).
    pub async fn follow(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.store.changed() => {}
            }
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "cannot read the flag change log");
            }
        }
    }
}

impl HealthSource for Blocklist {
    fn name(&self) -> &'static str {
        "blocklist"
    }

    fn report(&self) -> ComponentReport {
        let (flags, enabled) = self.read(|i| (i.len(), i.enabled));
        let report = ComponentReport::new(HealthStatus::Ok)
            .with("flags", flags)
            .with("enabled", enabled);
        self.store.report(report)
    }
}
