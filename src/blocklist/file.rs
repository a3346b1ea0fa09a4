//! The flags as files ([`FileFlags`]): `blocklist-config.json` and its group-committed
//! change log (formats in [`super::persist`]). A change goes into memory and the log under
//! the index's exclusive lock; the caller waits for the `fsync` after releasing it (so
//! concurrent writes share a sync), and the change is undone if the sync fails. The log is
//! folded into the document ([`FlagStore::fold`]) when enough records pile up, when writes
//! are idle, and at shutdown ([`super::watch::maintain`]); a person's edit of the document
//! is applied by [`FileFlags::reload`] ([`super::watch::watch`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::flag::{self, Flag};
use super::persist::{
    self, ChangeOut, LoadError, Loaded, CHANGES_COMPACTING, CHANGES_FILE, CONFIG_FILE,
};
use super::store::{AddedMany, FlagStore, Patch};
use super::{lock, read, write, BlocklistError, FlagIndex};
use crate::health::ComponentReport;
use crate::metrics::Metrics;
use crate::store::appender::{Appender, Pending};
use crate::store::StoreError;

/// (length, modification time, inode) — tells our own writes from a person's edits.
pub(super) type FileId = (u64, std::time::SystemTime, u64);

#[derive(Default)]
pub(super) struct FileState {
    /// The document as we last wrote it or last applied it.
    pub(super) known: Option<FileId>,
    /// A hand edit that was refused, and why.
    pub(super) refused: Option<(FileId, String)>,
}

pub(super) fn file_id(path: &Path) -> io::Result<FileId> {
    id_of(&std::fs::metadata(path)?)
}

fn id_of(meta: &std::fs::Metadata) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    Ok((meta.len(), meta.modified()?, meta.ino()))
}

/// The blocklist's files in a data directory.
pub struct FileFlags {
    pub(super) log: Appender,
    pub(super) dir: PathBuf,
    pub(super) country: String,
    pub(super) metrics: Arc<Metrics>,
    /// Records in the change log since the last compaction.
    pending: AtomicUsize,
    compact_after: usize,
    compacting: Mutex<()>,
    pub(super) file: Mutex<FileState>,
    /// The last hand edit that removed flags: how many, and the backup of the list before.
    pub(super) removed_by_edit: Mutex<Option<(usize, String)>>,
    pub(crate) compact_wanted: tokio::sync::Notify,
}

impl FileFlags {
    /// Loads `dir/blocklist-config.json` (creating the default document if there is none),
    /// replays the change log, and folds it in; `read_only` writes nothing (no fold, no
    /// log opened). A corrupt document is an error that names the file and the problem:
    /// the service must not start without its blocklist.
    pub fn open(
        dir: &Path,
        country: &str,
        compact_after: usize,
        now_ms: i64,
        metrics: Arc<Metrics>,
        read_only: bool,
    ) -> Result<(FlagIndex, Self), LoadError> {
        let config = dir.join(CONFIG_FILE);
        let live = dir.join(CHANGES_FILE);
        let compacting = dir.join(CHANGES_COMPACTING);
        let io_err = |file: &Path, e: io::Error| LoadError {
            file: file.to_path_buf(),
            message: e.to_string(),
        };
        let Loaded {
            index,
            replayed,
            torn,
        } = persist::load(dir, country, now_ms)?;
        let files = |log, known| Self {
            log,
            dir: dir.to_path_buf(),
            country: country.to_string(),
            metrics: metrics.clone(),
            pending: AtomicUsize::new(0),
            compact_after,
            compacting: Mutex::new(()),
            file: Mutex::new(FileState {
                known,
                refused: None,
            }),
            removed_by_edit: Mutex::new(None),
            compact_wanted: tokio::sync::Notify::new(),
        };
        if read_only {
            let log = Appender::detached().map_err(|e| io_err(dir, e))?;
            return Ok((index, files(log, None)));
        }
        if replayed > 0 || torn > 0 || !config.exists() {
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
        tracing::info!(
            flags = index.len(),
            enabled = index.enabled,
            replayed,
            "blocklist loaded"
        );
        let known = file_id(&config).ok();
        Ok((index, files(log, known)))
    }

    pub(super) fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    fn enqueue(&self, change: ChangeOut<'_>) -> Pending {
        self.log.append(change.to_line())
    }

    /// Counts `records` toward the next fold, asking for one when enough piled up.
    fn wrote(&self, records: usize) {
        let pending = self.pending.fetch_add(records, Ordering::Relaxed) + records;
        if pending >= self.compact_after {
            self.compact_wanted.notify_one();
        }
    }

    /// Records in the change log since the last fold.
    pub fn pending_changes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Waits for `pending`'s sync; counts `records` if it held, else undoes with `undo`.
    async fn commit(
        &self,
        pending: Pending,
        records: usize,
        undo: impl FnOnce(),
    ) -> Result<(), BlocklistError> {
        match pending.wait().await {
            Ok(()) => {
                self.wrote(records);
                Ok(())
            }
            Err(e) => {
                undo();
                Err(e.into())
            }
        }
    }

    fn add_fresh(
        &self,
        index: &RwLock<FlagIndex>,
        flags: Vec<Flag>,
        now: i64,
    ) -> (AddedMany, Vec<Pending>) {
        const CHUNK: usize = 10_000;
        let (mut added, mut existing, mut waits) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in flags.chunks(CHUNK) {
            let mut fresh = Vec::with_capacity(chunk.len());
            let mut index = write(index);
            for flag in chunk {
                if let Some(found) = index.live_with_value(&flag.field, flag.value(), now) {
                    existing.push(found.clone());
                    continue;
                }
                let mut flag = flag.clone();
                while index.contains_id(flag.id()) {
                    flag.set_id(&flag::new_flag_id(now));
                }
                index.insert(flag.clone());
                fresh.push(flag);
            }
            if !fresh.is_empty() {
                waits.push(self.enqueue(ChangeOut::PutMany { flags: &fresh }));
            }
            drop(index);
            added.extend(fresh);
        }
        ((added, 0, existing), waits)
    }

    fn add_kept(&self, index: &RwLock<FlagIndex>, flags: Vec<Flag>) -> (AddedMany, Vec<Pending>) {
        let (mut same_id, mut existing, mut fresh) = (0, Vec::new(), Vec::new());
        let mut index = write(index);
        for flag in flags {
            if index.contains_id(flag.id()) {
                same_id += 1;
                continue;
            }
            let found = index.with_value(&flag.field, flag.value()).next().cloned();
            if let Some(found) = found {
                existing.push(found);
            } else {
                index.insert(flag.clone());
                fresh.push(flag);
            }
        }
        let waits = if fresh.is_empty() {
            Vec::new()
        } else {
            vec![self.enqueue(ChangeOut::PutMany { flags: &fresh })]
        };
        ((fresh, same_id, existing), waits)
    }
}

impl FlagStore for FileFlags {
    fn add<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        mut flag: Flag,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(Flag, bool), BlocklistError>> {
        Box::pin(async move {
            let now = at.timestamp_millis();
            let pending = {
                let mut index = write(index);
                if let Some(existing) = index.live_with_value(&flag.field, flag.value(), now) {
                    return Ok((existing.clone(), true));
                }
                while index.contains_id(flag.id()) {
                    flag.set_id(&flag::new_flag_id(now));
                }
                let pending = self.enqueue(ChangeOut::Put { flag: &flag });
                index.insert(flag.clone());
                pending
            };
            self.commit(pending, 1, || {
                write(index).remove(flag.id());
            })
            .await?;
            Ok((flag, false))
        })
    }

    fn remove<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        id: &'a str,
        _at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Flag, BlocklistError>> {
        Box::pin(async move {
            let (flag, pending) = {
                let mut index = write(index);
                let flag = index
                    .remove(id)
                    .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
                (flag, self.enqueue(ChangeOut::Delete { id }))
            };
            let back = flag.clone();
            self.commit(pending, 1, || write(index).insert(back))
                .await?;
            Ok(flag)
        })
    }

    fn update<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        id: &'a str,
        patch: Patch<'a>,
        _at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Flag, BlocklistError>> {
        Box::pin(async move {
            let (updated, before, pending) = {
                let mut index = write(index);
                let current = index
                    .get(id)
                    .ok_or_else(|| BlocklistError::NotFound(id.to_string()))?;
                let next = patch(&index, current)?;
                let pending = self.enqueue(ChangeOut::Put { flag: &next });
                let before = index.remove(id);
                index.insert(next.clone());
                (next, before, pending)
            };
            self.commit(pending, 1, || {
                let mut index = write(index);
                index.remove(id);
                if let Some(before) = before {
                    index.insert(before);
                }
            })
            .await?;
            Ok(updated)
        })
    }

    fn set_enabled<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        enabled: bool,
        _at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), BlocklistError>> {
        Box::pin(async move {
            let (before, pending) = {
                let mut index = write(index);
                let before = std::mem::replace(&mut index.enabled, enabled);
                (before, self.enqueue(ChangeOut::Enabled { enabled }))
            };
            self.commit(pending, 1, || write(index).enabled = before)
                .await
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
            let (done, waits) = if keep_ids {
                self.add_kept(index, flags)
            } else {
                self.add_fresh(index, flags, at.timestamp_millis())
            };
            for wait in waits {
                wait.wait().await?;
            }
            self.wrote(done.0.len());
            Ok(done)
        })
    }

    fn catch_up<'a>(
        &'a self,
        _index: &'a RwLock<FlagIndex>,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(async { Ok(0) })
    }

    fn changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }

    /// Blocking; skipped while the document on disk is a refused hand edit (the person's
    /// file is left as it is).
    fn fold(&self, index: &RwLock<FlagIndex>) -> Result<bool, StoreError> {
        let _one = lock(&self.compacting);
        let config = self.config_path();
        if let Some((bad, _)) = &lock(&self.file).refused {
            if file_id(&config).ok().as_ref() == Some(bad) {
                return Ok(false);
            }
        }
        let index = read(index);
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

    fn report(&self, report: ComponentReport) -> ComponentReport {
        self.hand_edits(
            report
                .with("backend", "file")
                .with("pending_changes", self.pending_changes()),
        )
    }
}
