//! Admin-editable JSON documents (scheduler config and the like): read at startup, changed
//! by a partial `PUT`, written atomically. The owner passes a function that checks and
//! compiles a document; this module does the merging, the field-by-field error naming and
//! the storage: a file in `DATA_DIR`, or a row in PostgreSQL ([`Document::open_db`]) that
//! every instance follows through `NOTIFY` ([`Document::follow`]), with polling as the
//! fallback. A database write names the version it merged onto; if another instance wrote
//! first, the patch is merged again onto the newer document.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Merges `patch` into `base`: objects key by key (recursively), anything else replaces.
/// `null` is a value here (a closed day), not a deletion.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Deserialises one field of an object, naming it in the error.
pub fn field<T: DeserializeOwned>(obj: &Map<String, Value>, name: &str) -> Result<T, String> {
    let v = obj.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| format!("{name}: {e}"))
}

/// Refuses keys that are not in `known`.
pub fn only_known(obj: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{path}{k}: unknown field (expected one of: {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

/// The live document and its compiled form, swapped together on each change.
pub struct Stored<D, C> {
    pub doc: D,
    pub compiled: C,
}

/// Checks a full document (the error starts with the offending field's path) and builds
/// what the service uses at run time.
pub type Parse<D, C> = Box<dyn Fn(&Value) -> Result<(D, C), String> + Send + Sync>;

/// Where a document lives.
enum Backend {
    File(PathBuf),
    Db {
        db: crate::db::Db,
        name: String,
        /// The row version `current` was read from (0 = never written). Held only for a
        /// compare and a swap, never across an await.
        version: Mutex<i64>,
        clock: crate::clock::SharedClock,
    },
}

/// How many times a database write is merged again after losing a race.
const WRITE_TRIES: usize = 5;

/// How often a following instance re-reads its document when no notification came.
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Document<D, C> {
    backend: Backend,
    default: Value,
    current: ArcSwap<Stored<D, C>>,
    /// Serialises updates (read-merge-write).
    writing: Mutex<()>,
    parse: Parse<D, C>,
}

impl<D: Serialize + Clone, C> Document<D, C> {
    /// Reads `path`, or uses `default` when it does not exist. A file that does not parse
    /// is an error naming the file and the field. Fields missing from an older file take
    /// their defaults.
    pub fn open(path: &Path, default: D, parse: Parse<D, C>) -> anyhow::Result<Self> {
        let mut full = serde_json::to_value(&default)?;
        match std::fs::read(path) {
            Ok(bytes) => {
                let value: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                merge(&mut full, &value);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
        let (doc, compiled) =
            parse(&full).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self {
            backend: Backend::File(path.to_path_buf()),
            default: serde_json::to_value(&default)?,
            current: ArcSwap::from_pointee(Stored { doc, compiled }),
            writing: Mutex::new(()),
            parse,
        })
    }

    /// The document `name` in the database, or `default` while none was written. A stored
    /// document that no longer parses is an error naming it and the field.
    pub async fn open_db(
        db: &crate::db::Db,
        name: &str,
        default: D,
        parse: Parse<D, C>,
        clock: crate::clock::SharedClock,
    ) -> anyhow::Result<Self> {
        let default = serde_json::to_value(&default)?;
        let stored = db.document(name).await?;
        let mut full = default.clone();
        let version = match &stored {
            Some(s) => {
                merge(&mut full, &s.body);
                s.version
            }
            None => 0,
        };
        let (doc, compiled) = parse(&full).map_err(|e| anyhow::anyhow!("document {name}: {e}"))?;
        Ok(Self {
            backend: Backend::Db {
                db: db.clone(),
                name: name.to_string(),
                version: Mutex::new(version),
                clock,
            },
            default,
            current: ArcSwap::from_pointee(Stored { doc, compiled }),
            writing: Mutex::new(()),
            parse,
        })
    }

    /// Re-reads a database document if another instance changed it. Returns whether the
    /// live document changed. A stored document that does not parse is logged and the
    /// current one stays in force. A file document never changes underneath.
    pub async fn reload(&self) -> Result<bool, crate::db::DbError> {
        let Backend::Db { db, name, .. } = &self.backend else {
            return Ok(false);
        };
        let Some(stored) = db.document(name).await? else {
            return Ok(false);
        };
        if stored.version <= self.snapshot().1 {
            return Ok(false);
        }
        let mut full = self.default.clone();
        merge(&mut full, &stored.body);
        match (self.parse)(&full) {
            Ok((doc, compiled)) => {
                let installed = self.install(stored.version, Stored { doc, compiled });
                if installed {
                    tracing::info!(document = %name, version = stored.version, "document reloaded");
                }
                Ok(installed)
            }
            Err(e) => {
                tracing::error!(document = %name, version = stored.version, error = %e,
                    "a stored document does not parse; the current one stays in force");
                Ok(false)
            }
        }
    }

    /// Follows a database document until `shutdown` resolves: reloads on each `NOTIFY`
    /// naming it, and every [`POLL_EVERY`] in case a notification was missed (a lost
    /// connection). Returns at once for a file document.
    pub async fn follow(&self, shutdown: impl std::future::Future<Output = ()>) {
        let Backend::Db { db, name, .. } = &self.backend else {
            return;
        };
        tokio::pin!(shutdown);
        let mut listener = match db.listen_documents().await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(document = %name, error = %e, "cannot listen for document changes; polling");
                None
            }
        };
        let mut tick = tokio::time::interval(POLL_EVERY);
        loop {
            let heard = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|n| n.payload() == name.as_str()).ok(),
                    None => std::future::pending().await,
                }
            };
            let wanted = tokio::select! {
                _ = &mut shutdown => return,
                _ = tick.tick() => true,
                heard = heard => heard.unwrap_or(true),
            };
            if wanted {
                if let Err(e) = self.reload().await {
                    tracing::warn!(document = %name, error = %e, "cannot re-read a document");
                }
            }
        }
    }

    /// Applies a partial change: merged, checked, written atomically, then made live. On
    /// any error nothing changes.
    pub fn update(&self, patch: &Value) -> Result<D, UpdateError> {
        if !patch.is_object() {
            return Err(UpdateError::Invalid(
                "the body must be a JSON object".into(),
            ));
        }
        let _guard = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..WRITE_TRIES {
            let (current, expected) = self.snapshot();
            let mut value = serde_json::to_value(&current.doc)
                .map_err(|e| UpdateError::Storage(io::Error::other(e)))?;
            merge(&mut value, patch);
            let (doc, compiled) = (self.parse)(&value).map_err(UpdateError::Invalid)?;
            match self.save(&doc, expected)? {
                Saved::Done(version) => {
                    let stored = Stored {
                        doc: doc.clone(),
                        compiled,
                    };
                    // A newer version may already be live (a reload overtook the write);
                    // ours is then part of its history and the answer stays ours.
                    self.install(version, stored);
                    return Ok(doc);
                }
                Saved::Stale => {}
            }
        }
        Err(UpdateError::Storage(io::Error::other(
            "the document kept changing underneath this update; try again",
        )))
    }

    /// Writes `doc`; `Stale` when another instance wrote first (the live document has
    /// then been re-read, so the caller merges again). Blocking: callers run it on the
    /// blocking pool, where the database write is driven on the runtime's handle.
    fn save(&self, doc: &D, expected: i64) -> Result<Saved, UpdateError> {
        match &self.backend {
            Backend::File(path) => {
                let bytes = serde_json::to_vec_pretty(doc).map_err(io::Error::other)?;
                crate::store::write_atomic(path, &bytes)?;
                Ok(Saved::Done(0))
            }
            Backend::Db {
                db, name, clock, ..
            } => {
                let body = serde_json::to_value(doc).map_err(io::Error::other)?;
                let handle = tokio::runtime::Handle::current();
                match handle.block_on(db.put_document(name, &body, expected, clock.now())) {
                    Ok(v) => Ok(Saved::Done(v)),
                    Err(crate::db::DbError::Conflict { .. }) => {
                        handle
                            .block_on(self.reload())
                            .map_err(|e| UpdateError::Storage(io::Error::other(e)))?;
                        Ok(Saved::Stale)
                    }
                    Err(e) => Err(UpdateError::Storage(io::Error::other(e))),
                }
            }
        }
    }
}

enum Saved {
    /// Written as this version (0 for a file).
    Done(i64),
    Stale,
}

impl<D, C> Document<D, C> {
    /// The live document and the database version it came from (0 for a file), read
    /// together.
    fn snapshot(&self) -> (Arc<Stored<D, C>>, i64) {
        match &self.backend {
            Backend::File(_) => (self.get(), 0),
            Backend::Db { version, .. } => {
                let v = version.lock().unwrap_or_else(PoisonError::into_inner);
                (self.get(), *v)
            }
        }
    }

    pub fn get(&self) -> Arc<Stored<D, C>> {
        self.current.load_full()
    }

    /// Makes a database version live unless a newer one already is (a reload and a local
    /// write may race; the higher version wins). Returns whether it was installed.
    fn install(&self, new_version: i64, stored: Stored<D, C>) -> bool {
        match &self.backend {
            Backend::File(_) => {
                self.current.store(Arc::new(stored));
                true
            }
            Backend::Db { version, .. } => {
                let mut v = version.lock().unwrap_or_else(PoisonError::into_inner);
                if new_version <= *v {
                    return false;
                }
                *v = new_version;
                self.current.store(Arc::new(stored));
                true
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_recursive_and_null_is_a_value() {
        let mut base = json!({"a": 1, "h": {"mon": {"start": "09:00"}, "sun": null}});
        merge(
            &mut base,
            &json!({"h": {"sun": {"start": "10:00"}, "mon": null}, "b": [1]}),
        );
        assert_eq!(
            base,
            json!({"a": 1, "b": [1], "h": {"mon": null, "sun": {"start": "10:00"}}})
        );
    }
}
