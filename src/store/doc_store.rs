//! The storage role of the admin-editable config documents: [`DocumentStore`], a named
//! JSON body with a version, written only over the version it was read at (so two admins
//! on two instances never silently overwrite each other), and followed for changes made
//! elsewhere. Two implementations: [`FileDocuments`] (`DATA_DIR/<name>`, one process, so
//! the version lives in memory and nothing ever changes underneath) and [`DbDocuments`]
//! (a row each in PostgreSQL, announced through `NOTIFY`, polled as a fallback).
//! `startup/` picks one; [`super::document::Document`] holds the trait.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::StoreError;

/// A document as stored: its body and the version it was read at (0 = never written).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub body: Value,
    pub version: i64,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored as this version.
    Done(i64),
    /// Another writer changed the document after the version named: nothing was written.
    Stale,
}

/// Resolves each time a document may have changed on another instance.
pub trait DocumentWatch: Send {
    /// Waits for the next change of `name` (or the next poll, when notifications may
    /// have been missed).
    fn next<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, ()>;
}

/// The config documents' storage role.
pub trait DocumentStore: Send + Sync {
    /// How a document is named in errors and logs (a file path, or the row's name).
    fn describe(&self, name: &str) -> String;
    /// The stored document, if one was ever written.
    fn read<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>>;
    /// Writes `body` as `name` if its version is still `expected`; durable before it
    /// returns.
    fn write<'a>(
        &'a self,
        name: &'a str,
        body: &'a Value,
        expected: i64,
    ) -> BoxFuture<'a, Result<Written, StoreError>>;
    /// A watch on changes made elsewhere; `None` when nothing else can write (files).
    fn watch(&self) -> BoxFuture<'_, Option<Box<dyn DocumentWatch>>>;
}

/// Documents as files in one directory, owned by this process (the data-dir lock).
pub struct FileDocuments {
    dir: PathBuf,
    /// The version of each document read or written by this process.
    versions: Mutex<HashMap<String, i64>>,
}

impl FileDocuments {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            versions: Mutex::new(HashMap::new()),
        }
    }

    fn versions(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DocumentStore for FileDocuments {
    fn describe(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn read<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>> {
        Box::pin(async move {
            let path = self.dir.join(name);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::Io(e)),
            };
            let body = serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
            })?;
            let version = *self.versions().entry(name.to_string()).or_insert(1);
            Ok(Some(Versioned { body, version }))
        })
    }

    fn write<'a>(
        &'a self,
        name: &'a str,
        body: &'a Value,
        expected: i64,
    ) -> BoxFuture<'a, Result<Written, StoreError>> {
        Box::pin(async move {
            let found = self.versions().get(name).copied().unwrap_or(0);
            if found != expected {
                return Ok(Written::Stale);
            }
            let bytes = serde_json::to_vec_pretty(body).map_err(io::Error::other)?;
            let path = self.dir.join(name);
            tokio::task::spawn_blocking(move || super::write_atomic(&path, &bytes))
                .await
                .map_err(io::Error::other)??;
            let mut versions = self.versions();
            let v = versions.entry(name.to_string()).or_insert(0);
            *v += 1;
            Ok(Written::Done(*v))
        })
    }

    fn watch(&self) -> BoxFuture<'_, Option<Box<dyn DocumentWatch>>> {
        Box::pin(async { None })
    }
}

/// How often a following instance re-reads its document when no notification came.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

/// Documents as rows in PostgreSQL, shared by every instance; each row records when it
/// was written (by the injected clock).
pub struct DbDocuments {
    db: crate::db::Db,
    clock: crate::clock::SharedClock,
}

impl DbDocuments {
    pub fn new(db: crate::db::Db, clock: crate::clock::SharedClock) -> Self {
        Self { db, clock }
    }
}

impl DocumentStore for DbDocuments {
    fn describe(&self, name: &str) -> String {
        format!("document {name}")
    }

    fn read<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>> {
        Box::pin(async move {
            Ok(self.db.document(name).await?.map(|s| Versioned {
                body: s.body,
                version: s.version,
            }))
        })
    }

    fn write<'a>(
        &'a self,
        name: &'a str,
        body: &'a Value,
        expected: i64,
    ) -> BoxFuture<'a, Result<Written, StoreError>> {
        Box::pin(async move {
            let at = self.clock.now();
            match self.db.put_document(name, body, expected, at).await {
                Ok(v) => Ok(Written::Done(v)),
                Err(crate::db::DbError::Conflict { .. }) => Ok(Written::Stale),
                Err(e) => Err(StoreError::Database(e)),
            }
        })
    }

    fn watch(&self) -> BoxFuture<'_, Option<Box<dyn DocumentWatch>>> {
        Box::pin(async move {
            let listener = match self.db.listen_documents().await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for document changes; polling");
                    None
                }
            };
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.reset(); // the first poll one period from now, not at once
            Some(Box::new(Notified { listener, tick }) as Box<dyn DocumentWatch>)
        })
    }
}

/// Notifications naming a document, with a poll every [`POLL_EVERY`] in case one was
/// missed (a lost connection).
struct Notified {
    listener: Option<crate::db::Listener>,
    tick: tokio::time::Interval,
}

impl DocumentWatch for Notified {
    fn next<'a>(&'a mut self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            loop {
                let heard = async {
                    match self.listener.as_mut() {
                        Some(l) => l.recv().await.map(|n| n.payload() == name).ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = self.tick.tick() => return,
                    heard = heard => if heard.unwrap_or(true) { return },
                }
            }
        })
    }
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own (so a test
/// already inside a runtime may call it too): unit tests that open a document.
#[cfg(test)]
pub(crate) fn run<F>(f: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a test runtime")
                    .block_on(f)
            })
            .join()
            .expect("the test future did not panic")
    })
}

/// The documents of a test's data directory.
#[cfg(test)]
pub(crate) fn files(dir: &std::path::Path) -> std::sync::Arc<dyn DocumentStore> {
    std::sync::Arc::new(FileDocuments::new(dir))
}

#[cfg(test)]
mod tests {
    //! One set of behaviour checks, run against both implementations (the database one
    //! when a PostgreSQL server answers; CI requires it).
    use super::*;
    use serde_json::json;

    async fn behaves(store: &dyn DocumentStore) {
        assert_eq!(store.read("scheduler").await.expect("read"), None);
        let body = json!({"enabled": true, "hours": {"mon": null}});
        let v1 = store
            .write("scheduler", &body, 0)
            .await
            .expect("first write");
        assert_eq!(v1, Written::Done(1));
        let read = store.read("scheduler").await.expect("read");
        assert_eq!(
            read,
            Some(Versioned {
                body: body.clone(),
                version: 1
            })
        );
        // A writer that read version 0 is refused, and nothing changes.
        let stale = store
            .write("scheduler", &json!({}), 0)
            .await
            .expect("stale write");
        assert_eq!(stale, Written::Stale);
        assert_eq!(
            store.read("scheduler").await.expect("read").map(|v| v.body),
            Some(body)
        );
        let v2 = store
            .write("scheduler", &json!({"enabled": false}), 1)
            .await
            .expect("second write");
        assert_eq!(v2, Written::Done(2));
        // Documents are independent.
        assert_eq!(store.read("protection").await.expect("read"), None);
        assert!(store.describe("scheduler").contains("scheduler"));
    }

    #[tokio::test]
    async fn files_behave_as_a_document_store() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileDocuments::new(dir.path());
        behaves(&store).await;
        assert!(
            store.watch().await.is_none(),
            "nothing else writes the files"
        );
        // Written atomically as pretty JSON a person can read.
        let text = std::fs::read_to_string(dir.path().join("scheduler")).expect("file");
        assert!(text.contains("\"enabled\": false"), "{text}");
        // A restarted process reads the file as version 1 and writes over it.
        let again = FileDocuments::new(dir.path());
        let read = again
            .read("scheduler")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(read.version, 1);
        let w = again
            .write("scheduler", &json!({}), 1)
            .await
            .expect("write");
        assert_eq!(w, Written::Done(2));
    }

    #[tokio::test]
    async fn a_file_that_is_not_json_is_an_error_not_a_default() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("scheduler"), b"{not json").expect("write");
        let store = FileDocuments::new(dir.path());
        assert!(matches!(
            store.read("scheduler").await,
            Err(StoreError::Io(_))
        ));
    }

    #[tokio::test]
    async fn rows_behave_as_a_document_store() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::ManualClock::new(
            "2026-12-01T15:00:00Z".parse().expect("instant"),
        ));
        let store = DbDocuments::new(db.clone(), clock.clone());
        behaves(&store).await;
        // Another instance's write wakes the watch.
        let mut watch = store.watch().await.expect("rows are followed");
        let other = DbDocuments::new(
            crate::db::Db::connect(&test.url, 2).await.expect("two"),
            clock,
        );
        let woke = async {
            watch.next("scheduler").await;
        };
        let body = json!({"x": 1});
        let write = other.write("scheduler", &body, 2);
        let (woken, w) = tokio::join!(tokio::time::timeout(Duration::from_secs(4), woke), write);
        assert_eq!(w.expect("write"), Written::Done(3));
        assert!(woken.is_ok(), "woken by the notification, before any poll");
        db.pool.close().await;
    }
}
