//! Hot reload: a person's edit of `blocklist-config.json` is applied within about a second
//! (notify, debounced). The edited document becomes the base and the change log is
//! replayed on top, so API changes not yet folded into the file are kept. An invalid edit
//! is refused: the last good state stays in force, the error is logged and shown in
//! `/health`, and the file is left exactly as the person wrote it.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::file::{file_id, FileFlags, FileId};
use super::persist::{self, CHANGES_COMPACTING, CHANGES_FILE, CONFIG_FILE};
use super::{lock, write, Blocklist, FlagIndex};
use crate::health::{ComponentReport, HealthStatus};

/// Quiet time after the last event before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The file is the one we wrote or already applied.
    Unchanged,
    Applied {
        flags: usize,
    },
    Refused(String),
}

impl FileFlags {
    /// `report` with what `/health` says of hand edits: a refused one (degraded, the last
    /// good state in force) and one that removed flags (with the backup of the list before).
    pub(super) fn hand_edits(&self, report: ComponentReport) -> ComponentReport {
        let refused = lock(&self.file)
            .refused
            .as_ref()
            .map(|(_, why)| why.clone());
        let removed_by_edit = lock(&self.removed_by_edit).clone();
        let mut report = report;
        if refused.is_some() || removed_by_edit.is_some() {
            report.status = report.status.max(HealthStatus::Degraded);
        }
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

impl Blocklist {
    /// Reads the document of `files` if someone else changed it and applies it. Blocking.
    pub fn reload_from_disk(&self, files: &FileFlags) -> Reload {
        files.reload(&self.index, self.now_ms())
    }
}

impl FileFlags {
    /// Reads the document if someone else changed it and applies it to `index`. Blocking.
    pub(super) fn reload(&self, index: &RwLock<FlagIndex>, now: i64) -> Reload {
        let path = self.config_path();
        let id = match file_id(&path) {
            Ok(id) => id,
            Err(e) => return self.refuse(None, format!("{CONFIG_FILE} cannot be read: {e}")),
        };
        {
            let file = lock(&self.file);
            if file.known == Some(id) || file.refused.as_ref().is_some_and(|(bad, _)| *bad == id) {
                return Reload::Unchanged;
            }
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => return self.refuse(Some(id), format!("{CONFIG_FILE} cannot be read: {e}")),
        };
        let mut fresh = match persist::parse_config(&bytes, &path, &self.country, now) {
            Ok(index) => index,
            Err(e) => return self.refuse(Some(id), e.to_string()),
        };
        let mut index = write(index);
        if let Err(e) = self.log.flush().wait_blocking() {
            return self.refuse(Some(id), format!("change log: {e}"));
        }
        for log in [CHANGES_COMPACTING, CHANGES_FILE] {
            if let Err(e) = persist::replay(&self.dir.join(log), &mut fresh, &self.country, now) {
                return self.refuse(Some(id), e.to_string());
            }
        }
        let flags = fresh.len();
        let removed = index.iter().filter(|f| !fresh.contains_id(f.id())).count();
        *lock(&self.removed_by_edit) = None;
        if removed > 0 {
            // The previous list is kept: a `git checkout` or a slip of the editor that
            // empties the list can be undone by hand.
            let stamp = chrono::DateTime::from_timestamp_millis(now)
                .unwrap_or_default()
                .format("%Y%m%dT%H%M%S%.3fZ");
            let backup = self.dir.join(format!("{CONFIG_FILE}.{stamp}.bak"));
            if let Err(e) = persist::write_config(&backup, &index) {
                return self.refuse(
                    Some(id),
                    format!("it removes {removed} flags and the previous list could not be backed up: {e}"),
                );
            }
            tracing::warn!(removed, flags, backup = %backup.display(),
                "a hand edit of {CONFIG_FILE} removed flags; the previous list is kept as a backup");
            *lock(&self.removed_by_edit) = Some((removed, backup.display().to_string()));
        }
        *index = fresh;
        drop(index);
        let mut file = lock(&self.file);
        file.known = Some(id);
        file.refused = None;
        self.metrics.blocklist_flags.set(flags as i64);
        tracing::info!(
            flags,
            removed,
            "blocklist reloaded after a hand edit of {CONFIG_FILE}"
        );
        Reload::Applied { flags }
    }

    fn refuse(&self, id: Option<FileId>, why: String) -> Reload {
        tracing::error!(error = %why, "refused an edit of {CONFIG_FILE}; the last good blocklist stays in force");
        self.metrics.blocklist_reload_failures.inc();
        if let Some(id) = id {
            lock(&self.file).refused = Some((id, why.clone()));
        }
        Reload::Refused(why)
    }
}

/// Watches the data directory and reloads on edits until `shutdown` resolves.
pub async fn watch(
    blocklist: Arc<Blocklist>,
    files: Arc<FileFlags>,
    dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| n == CONFIG_FILE))
            {
                let _ = tx.send(());
            }
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch the data directory; hand edits need a restart");
            return;
        }
    };
    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
        tracing::error!(error = %e, "cannot watch the data directory; hand edits need a restart");
        return;
    }
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            got = rx.recv() => {
                if got.is_none() { break; }
                // Debounce: wait until events stop for a moment.
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(DEBOUNCE) => break,
                        more = rx.recv() => if more.is_none() { break },
                    }
                }
                let (bl, files) = (blocklist.clone(), files.clone());
                let _ = tokio::task::spawn_blocking(move || bl.reload_from_disk(&files)).await;
            }
        }
    }
}

/// Folds the change log into the document when enough records pile up, or when writes
/// have been idle for one `idle` period, until `shutdown` resolves.
pub async fn maintain(
    blocklist: Arc<Blocklist>,
    files: Arc<FileFlags>,
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut seen = usize::MAX;
    loop {
        let run = tokio::select! {
            _ = &mut shutdown => break,
            _ = files.compact_wanted.notified() => true,
            _ = tokio::time::sleep(idle) => {
                let now = files.pending_changes();
                let idle_with_work = now > 0 && now == seen;
                seen = now;
                idle_with_work
            }
        };
        if run {
            let bl = blocklist.clone();
            match tokio::task::spawn_blocking(move || bl.compact()).await {
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "blocklist compaction failed; the change log keeps every change")
                }
                Err(e) => tracing::error!(error = %e, "blocklist compaction task failed"),
                Ok(Ok(_)) => {}
            }
        }
    }
}
