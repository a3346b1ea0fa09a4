//! The storage probe: can this instance take a webhook durably right now? One trait,
//! [`StorageProbe`], with [`FileProbe`] (the data directory takes a write) and [`DbProbe`]
//! (the database answers within two seconds; its `DATA_DIR` still holds the quarantine,
//! so it is probed too). `startup/` picks one; `/health` and `/health/ready` only ask it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

/// How long the database has to answer a probe.
pub const PING_WITHIN: Duration = Duration::from_secs(2);

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Probed {
    /// The data directory took a write (and lost it again).
    pub data_dir_writable: bool,
    /// Why a webhook taken now would not be durable; `None` when it would.
    pub not_ready: Option<String>,
    /// A component of its own for `/health` (the database: reachable, the pool's use),
    /// and whether it is healthy.
    pub component: Option<(&'static str, Value, bool)>,
}

/// The storage probe's role.
pub trait StorageProbe: Send + Sync {
    /// The storage's name in `/health/ready`: `files` or `database`.
    fn name(&self) -> &'static str;
    fn probe(&self) -> BoxFuture<'_, Probed>;
}

/// Writes and removes a probe file in `dir`, on the blocking pool.
async fn writable(dir: &Path) -> bool {
    let probe = dir.join(".health-probe");
    tokio::task::spawn_blocking(move || {
        let ok = std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    })
    .await
    .unwrap_or(false)
}

/// The file backend: everything is in the data directory.
pub struct FileProbe {
    dir: PathBuf,
}

impl FileProbe {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl StorageProbe for FileProbe {
    fn name(&self) -> &'static str {
        "files"
    }

    fn probe(&self) -> BoxFuture<'_, Probed> {
        Box::pin(async move {
            let ok = writable(&self.dir).await;
            Probed {
                data_dir_writable: ok,
                not_ready: (!ok)
                    .then(|| format!("the data directory {} is not writable", self.dir.display())),
                component: None,
            }
        })
    }
}

/// The database backend: the database answers; the data directory is probed for `/health`.
pub struct DbProbe {
    db: crate::db::Db,
    dir: PathBuf,
}

impl DbProbe {
    pub fn new(db: crate::db::Db, dir: impl Into<PathBuf>) -> Self {
        Self {
            db,
            dir: dir.into(),
        }
    }
}

impl StorageProbe for DbProbe {
    fn name(&self) -> &'static str {
        "database"
    }

    fn probe(&self) -> BoxFuture<'_, Probed> {
        Box::pin(async move {
            let (data_dir_writable, ping) =
                tokio::join!(writable(&self.dir), self.db.ping(PING_WITHIN));
            let error = ping
                .err()
                .map(|e| format!("the database is unreachable: {e}"));
            let (size, idle) = self.db.pool_use();
            let mut report = json!({
                "status": if error.is_none() { "ok" } else { "unhealthy" },
                "reachable": error.is_none(),
                "pool_size": size,
                "idle": idle,
            });
            if let Some(e) = &error {
                report["error"] = json!(e);
            }
            Probed {
                data_dir_writable,
                component: Some(("database", report, error.is_none())),
                not_ready: error,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_data_directory_that_takes_no_write_is_not_ready() {
        let dir = tempfile::tempdir().expect("dir");
        let probe = FileProbe::new(dir.path());
        let p = probe.probe().await;
        assert!(p.data_dir_writable && p.not_ready.is_none() && p.component.is_none());
        // A directory where the probe file goes: no file can be written there.
        std::fs::create_dir(dir.path().join(".health-probe")).expect("mkdir");
        let p = probe.probe().await;
        assert!(!p.data_dir_writable);
        assert!(p.not_ready.is_some_and(|e| e.contains("not writable")));
    }

    #[tokio::test]
    async fn a_database_that_answers_is_ready_and_reported() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        let dir = tempfile::tempdir().expect("dir");
        let p = DbProbe::new(db.clone(), dir.path()).probe().await;
        assert!(p.not_ready.is_none(), "{:?}", p.not_ready);
        let (name, report, healthy) = p.component.expect("a database component");
        assert_eq!(
            (name, report["reachable"].clone(), healthy),
            ("database", json!(true), true)
        );
        test.set_reachable(false).await.expect("take it away");
        let p = DbProbe::new(db.clone(), dir.path()).probe().await;
        assert!(p.not_ready.is_some_and(|e| e.contains("database")));
        test.set_reachable(true).await.expect("bring it back");
        db.pool.close().await;
    }
}
