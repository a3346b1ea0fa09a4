//! The storage role of the lists' versions: [`ListVersions`], the newest version of each
//! list (its record and its snapshot's bytes). Two implementations: [`FileVersions`]
//! (`DATA_DIR/lists/<name>.snapshot` beside `<name>.json`, written atomically; one
//! process, so the newest version number lives in memory and nothing changes underneath)
//! and [`DbVersions`] (`list_versions`, shared by every instance; a version replaces the
//! stored one only if it is newer, so two instances loading at once never diverge).
//! `startup/` picks one; [`super::Lists`] holds it.
//!
//! Blocking, like the loaders that call it: run it off the async threads.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::store::Meta;
use crate::store::StoreError;

/// Where the lists' versions are kept.
pub trait ListVersions: Send + Sync {
    /// The newest stored version number of list `name` (0 when none).
    fn latest(&self, name: &str) -> Result<u64, StoreError>;
    /// The newest stored version of `name`: its record and its snapshot's bytes (the
    /// caller checks them against the record); an unreadable record is an error.
    fn read(&self, name: &str) -> Result<Option<(Meta, Vec<u8>)>, StoreError>;
    /// Keeps a new version; false (nothing written) when one as new is already stored.
    fn keep(&self, name: &str, meta: &Meta, snapshot: &[u8]) -> Result<bool, StoreError>;
    /// Where a list's version is kept, for errors and the log.
    fn describe(&self, name: &str) -> String;
}

fn unreadable(what: String) -> StoreError {
    StoreError::Io(io::Error::new(io::ErrorKind::InvalidData, what))
}

/// The versions as files in a directory.
pub struct FileVersions {
    dir: PathBuf,
    latest: Mutex<HashMap<String, u64>>,
}

impl FileVersions {
    /// Versions in `data_dir/lists`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(&data_dir.join(super::store::LISTS_DIR))
    }

    /// Versions under `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            latest: Mutex::new(HashMap::new()),
        }
    }

    /// The record of the newest version, if any.
    fn record(&self, name: &str) -> Result<Option<Meta>, StoreError> {
        let path = self.dir.join(format!("{name}.json"));
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| unreadable(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unreadable(format!("{}: {e}", path.display()))),
        }
    }

    fn note(&self, name: &str, version: u64) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let v = latest.entry(name.to_string()).or_default();
        *v = (*v).max(version);
    }
}

impl ListVersions for FileVersions {
    /// Known in memory once read or kept; the first time, from the record on disk.
    fn latest(&self, name: &str) -> Result<u64, StoreError> {
        let known = {
            let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            latest.get(name).copied()
        };
        match known {
            Some(v) => Ok(v),
            None => Ok(self.record(name)?.map_or(0, |m| m.version)),
        }
    }

    fn read(&self, name: &str) -> Result<Option<(Meta, Vec<u8>)>, StoreError> {
        let Some(meta) = self.record(name)? else {
            return Ok(None);
        };
        let path = self.dir.join(format!("{name}.snapshot"));
        let bytes =
            std::fs::read(&path).map_err(|e| unreadable(format!("{}: {e}", path.display())))?;
        self.note(name, meta.version);
        Ok(Some((meta, bytes)))
    }

    fn keep(&self, name: &str, meta: &Meta, snapshot: &[u8]) -> Result<bool, StoreError> {
        if self.latest(name)? >= meta.version {
            return Ok(false);
        }
        std::fs::create_dir_all(&self.dir)?;
        crate::store::write_atomic(&self.dir.join(format!("{name}.snapshot")), snapshot)?;
        let json = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
        crate::store::write_atomic(&self.dir.join(format!("{name}.json")), &json)?;
        self.note(name, meta.version);
        Ok(true)
    }

    fn describe(&self, name: &str) -> String {
        self.dir
            .join(format!("{name}.snapshot"))
            .display()
            .to_string()
    }
}

/// The versions as rows, on the runtime `handle` (the callers block).
pub struct DbVersions {
    db: crate::db::Db,
    handle: tokio::runtime::Handle,
}

impl DbVersions {
    /// Must be made on the runtime its calls will block on.
    pub fn new(db: crate::db::Db) -> Self {
        Self {
            db,
            handle: tokio::runtime::Handle::current(),
        }
    }
}

impl ListVersions for DbVersions {
    fn latest(&self, name: &str) -> Result<u64, StoreError> {
        let v = self.handle.block_on(self.db.list_version(name))?;
        Ok(v.map_or(0, |v| v.max(0) as u64))
    }

    fn read(&self, name: &str) -> Result<Option<(Meta, Vec<u8>)>, StoreError> {
        let Some((record, bytes)) = self.handle.block_on(self.db.list_snapshot(name))? else {
            return Ok(None);
        };
        let meta: Meta = serde_json::from_value(record)
            .map_err(|e| unreadable(format!("{}: {e}", self.describe(name))))?;
        Ok(Some((meta, bytes)))
    }

    fn keep(&self, name: &str, meta: &Meta, snapshot: &[u8]) -> Result<bool, StoreError> {
        let record = serde_json::to_value(meta).map_err(io::Error::other)?;
        let version = i64::try_from(meta.version).map_err(io::Error::other)?;
        Ok(self.handle.block_on(self.db.store_list_version(
            name,
            version,
            &record,
            snapshot,
            meta.loaded_at,
        ))?)
    }

    fn describe(&self, name: &str) -> String {
        format!("the stored version of list `{name}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(version: u64) -> Meta {
        Meta {
            version,
            downloaded_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            loaded_at: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default(),
            source: "ftc.txt".into(),
            sha256: "ab".into(),
            count: 3,
            prefixes: 0,
            snapshot_sha256: "cd".into(),
        }
    }

    /// What every implementation does: nothing stored reads as none and version 0; a kept
    /// version reads back whole; a newer one replaces it; one no newer is refused.
    fn behaves(versions: &dyn ListVersions) {
        assert_eq!(versions.read("ftc").expect("read"), None);
        assert_eq!(versions.latest("ftc").expect("latest"), 0);
        assert!(versions.keep("ftc", &meta(1), b"one").expect("keep"));
        assert_eq!(
            versions.read("ftc").expect("read"),
            Some((meta(1), b"one".to_vec()))
        );
        assert!(versions.keep("ftc", &meta(2), b"two").expect("newer"));
        assert!(!versions.keep("ftc", &meta(2), b"again").expect("as new"));
        assert!(!versions.keep("ftc", &meta(1), b"older").expect("older"));
        assert_eq!(versions.latest("ftc").expect("latest"), 2);
        assert_eq!(
            versions.read("ftc").expect("read"),
            Some((meta(2), b"two".to_vec()))
        );
        assert_eq!(versions.latest("internal").expect("other list"), 0);
    }

    #[test]
    fn files_behave_as_list_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        behaves(&FileVersions::new(&dir.path().join("lists")));
        // A restarted process reads the newest version back.
        let again = FileVersions::new(&dir.path().join("lists"));
        assert_eq!(
            again.read("ftc").expect("read").map(|v| v.0.version),
            Some(2)
        );
        assert_eq!(again.latest("ftc").expect("latest"), 2);
    }

    #[test]
    fn an_unreadable_record_is_an_error_not_a_missing_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ftc.json"), b"{").expect("write");
        let versions = FileVersions::new(dir.path());
        assert!(matches!(versions.read("ftc"), Err(StoreError::Io(_))));
    }

    #[test]
    fn rows_behave_as_list_versions() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let Some(test) = rt.block_on(crate::db::scratch::Scratch::create()) else {
            return;
        };
        let db = rt
            .block_on(crate::db::Db::connect(&test.url, 2))
            .expect("connect");
        let versions = {
            let _in = rt.enter();
            DbVersions::new(db.clone())
        };
        behaves(&versions);
        rt.block_on(db.pool.close());
    }
}
