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
pub mod flag;
pub mod index;
pub mod persist;
pub mod query;
mod shared;
pub mod watch;
mod writes;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::Value;

pub use flag::{Flag, FlagError, FlagRecord};
pub use index::{FlagIndex, LeadMatch};

use crate::clock::SharedClock;
use crate::health::{ComponentReport, HealthSource, HealthStatus};
use crate::metrics::Metrics;
use crate::store::appender::Appender;
use persist::{CHANGES_COMPACTING, CHANGES_FILE, CONFIG_FILE};

#[derive(Debug, thiserror::Error)]
pub enum BlocklistError {
    #[error(transparent)]
    Invalid(#[from] FlagError),
    #[error("blocklist flag `{0}` not found")]
    NotFound(String),
    #[error("another flag (`{0}`) already has this field and value")]
    Conflict(String),
    #[error("could not store the change: {0}")]
    Storage(#[from] io::Error),
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

/// (length, modification time, inode) — tells our own writes from a person's edits.
type FileId = (u64, std::time::SystemTime, u64);

#[derive(Default)]
struct FileState {
    /// The document as we last wrote it or last applied it.
    known: Option<FileId>,
    /// A hand edit that was refused, and why.
    refused: Option<(FileId, String)>,
}

pub struct Blocklist {
    index: RwLock<FlagIndex>,
    log: Appender,
    dir: PathBuf,
    country: String,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    /// Records in the change log since the last compaction.
    pending: AtomicUsize,
    compact_after: usize,
    compacting: Mutex<()>,
    file: Mutex<FileState>,
    /// The last hand edit that removed flags: how many, and the backup of the list before.
    removed_by_edit: Mutex<Option<(usize, String)>>,
    pub(crate) compact_wanted: tokio::sync::Notify,
    /// Database mode: the flags' rows and the change log followed.
    shared: Option<shared::Shared>,
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

fn file_id(path: &Path) -> io::Result<FileId> {
    id_of(&std::fs::metadata(path)?)
}

fn id_of(meta: &std::fs::Metadata) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    Ok((meta.len(), meta.modified()?, meta.ino()))
}

impl Blocklist {
    /// Loads `DATA_DIR/blocklist-config.json` (creating the default document if there is
    /// none), replays the change log, and folds it in. A corrupt document is an error that
    /// names the file and the problem: the service must not start without its blocklist.
    pub fn open(
        dir: &Path,
        country: &str,
        compact_after: usize,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, persist::LoadError> {
        Self::load(dir, country, compact_after, clock, metrics, false)
    }

    fn load(
        dir: &Path,
        country: &str,
        compact_after: usize,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        read_only: bool,
    ) -> Result<Self, persist::LoadError> {
        let config = dir.join(CONFIG_FILE);
        let live = dir.join(CHANGES_FILE);
        let compacting = dir.join(CHANGES_COMPACTING);
        let now = clock.now().timestamp_millis();
        let io_err = |file: &Path, e: io::Error| persist::LoadError {
            file: file.to_path_buf(),
            message: e.to_string(),
        };
        let mut index = match std::fs::read(&config) {
            Ok(bytes) => persist::parse_config(&bytes, &config, country, now)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if live.exists() || compacting.exists() {
                    return Err(persist::LoadError {
                        file: config,
                        message: "is missing but the change log beside it exists; restore the \
                                  file (the change log only holds recent changes)"
                            .into(),
                    });
                }
                FlagIndex::new(true)
            }
            Err(e) => return Err(io_err(&config, e)),
        };
        let mut torn = 0;
        let mut replayed = 0;
        for path in [&compacting, &live] {
            let stats = persist::replay(path, &mut index, country, now)?;
            torn += stats.torn;
            replayed += stats.applied;
        }
        if torn > 0 {
            tracing::warn!(
                torn,
                "skipped a torn last line in the blocklist change log (crash mid-write)"
            );
        }
        if read_only {
            return Ok(Self::assemble(
                index,
                Appender::detached().map_err(|e| io_err(dir, e))?,
                dir,
                country,
                compact_after,
                clock,
                metrics,
                None,
            ));
        }
        let needs_write = replayed > 0 || torn > 0 || !config.exists();
        if needs_write {
            persist::write_config(&config, &index).map_err(|e| io_err(&config, e))?;
        }
        for path in [&compacting, &live] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(path, e)),
            }
        }
        let log = Appender::open(&live).map_err(|e| io_err(&live, e))?;
        let known = file_id(&config).ok();
        tracing::info!(
            flags = index.len(),
            enabled = index.enabled,
            replayed,
            "blocklist loaded"
        );
        Ok(Self::assemble(
            index,
            log,
            dir,
            country,
            compact_after,
            clock,
            metrics,
            known,
        ))
    }

    /// The flags as they are on disk, read without writing anything (no compaction, no
    /// lock): for offline questions such as `callgate check` beside a running server.
    pub fn open_read_only(
        dir: &Path,
        country: &str,
        clock: SharedClock,
    ) -> Result<Self, persist::LoadError> {
        Self::load(
            dir,
            country,
            usize::MAX,
            clock,
            Arc::new(Metrics::new()),
            true,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        index: FlagIndex,
        log: Appender,
        dir: &Path,
        country: &str,
        compact_after: usize,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        known: Option<FileId>,
    ) -> Self {
        metrics.blocklist_flags.set(index.len() as i64);
        Self {
            index: RwLock::new(index),
            log,
            dir: dir.to_path_buf(),
            country: country.to_string(),
            clock,
            metrics,
            pending: AtomicUsize::new(0),
            compact_after,
            compacting: Mutex::new(()),
            file: Mutex::new(FileState {
                known,
                refused: None,
            }),
            removed_by_edit: Mutex::new(None),
            compact_wanted: tokio::sync::Notify::new(),
            shared: None,
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
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

    /// Folds the change log into `blocklist-config.json`. Blocking; skipped while the
    /// document on disk is a refused hand edit (the person's file is left as it is).
    pub fn compact(&self) -> io::Result<bool> {
        if self.shared.is_some() {
            return Ok(false);
        }
        let _one = lock(&self.compacting);
        let config = self.config_path();
        if let Some((bad, _)) = &lock(&self.file).refused {
            if file_id(&config).ok().as_ref() == Some(bad) {
                return Ok(false);
            }
        }
        let index = read(&self.index);
        let pending = self.pending.load(Ordering::Relaxed);
        if pending == 0 && config.exists() {
            return Ok(false);
        }
        let aside = self.dir.join(CHANGES_COMPACTING);
        self.log.rotate(aside.clone()).wait_blocking()?;
        self.pending.fetch_sub(pending, Ordering::Relaxed);
        // The id of what we wrote, not a stat after the rename: a hand edit made in between
        // would otherwise be taken for our own file and never applied.
        let written = persist::write_config(&config, &index)?;
        let mut file = lock(&self.file);
        file.known = id_of(&written).ok();
        file.refused = None;
        drop(file);
        drop(index);
        std::fs::remove_file(&aside)?;
        crate::store::atomic::sync_dir(&self.dir)?;
        tracing::debug!(pending, "blocklist change log folded into {}", CONFIG_FILE);
        Ok(true)
    }

    pub fn pending_changes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

impl HealthSource for Blocklist {
    fn name(&self) -> &'static str {
        "blocklist"
    }

    fn report(&self) -> ComponentReport {
        let (flags, enabled) = self.read(|i| (i.len(), i.enabled));
        let refused = lock(&self.file)
            .refused
            .as_ref()
            .map(|(_, why)| why.clone());
        let removed_by_edit = lock(&self.removed_by_edit).clone();
        let status = if refused.is_some() || removed_by_edit.is_some() {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        let mut report = ComponentReport::new(status)
            .with(
                "backend",
                if self.shared.is_some() {
                    "database"
                } else {
                    "file"
                },
            )
            .with("flags", flags)
            .with("enabled", enabled)
            .with("pending_changes", self.pending_changes());
        if let Some(why) = refused {
            report = report.with(
                "error",
                format!("hand edit refused, last good state in force: {why}"),
            );
        }
        if let Some((removed, backup)) = removed_by_edit {
            report = report
                .with("removed_by_hand_edit", removed)
                .with("backup", backup);
        }
        report
    }
}
