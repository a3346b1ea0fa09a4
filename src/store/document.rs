//! Admin-editable JSON documents (scheduler config and the like): read at startup, changed
//! by a partial `PUT`, written atomically. The owner passes a function that checks and
//! compiles a document; this module does the merging and the field-by-field error naming,
//! and holds the storage role ([`DocumentStore`]: a file in `DATA_DIR`, or a row in
//! PostgreSQL that every instance follows, [`Document::follow`]). A write names the
//! version it merged onto; if another instance wrote first, the patch is merged again onto
//! the newer document.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::doc_store::{DocumentStore, Written};
use super::StoreError;

/// Why a document, or a value in it, is refused: the message starts with the offending
/// field's path (`hours.monday: …`), and the API answers it as a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Self(message.to_string())
    }
}

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
pub fn field<T: DeserializeOwned>(obj: &Map<String, Value>, name: &str) -> Result<T, Invalid> {
    let v = obj.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| Invalid(format!("{name}: {e}")))
}

/// Refuses keys that are not in `known`.
pub fn only_known(obj: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), Invalid> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Invalid(format!(
            "{path}{k}: unknown field (expected one of: {})",
            known.join(", ")
        ))),
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
pub type Parse<D, C> = Box<dyn Fn(&Value) -> Result<(D, C), Invalid> + Send + Sync>;

/// How many times a write is merged again after losing a race.
const WRITE_TRIES: usize = 5;

pub struct Document<D, C> {
    store: Arc<dyn DocumentStore>,
    name: String,
    default: Value,
    current: ArcSwap<Stored<D, C>>,
    /// The stored version `current` was read from (0 = never written). Held only for a
    /// compare and a swap, never across an await.
    version: Mutex<i64>,
    /// Serialises updates (read-merge-write).
    writing: tokio::sync::Mutex<()>,
    parse: Parse<D, C>,
}

impl<D: Serialize + Clone, C> Document<D, C> {
    /// The document `name` in `store`, or `default` while none was written. A stored
    /// document that does not parse is an error naming it (the file, or the row) and the
    /// field. Fields missing from an older document take their defaults.
    pub async fn open(
        store: Arc<dyn DocumentStore>,
        name: &str,
        default: D,
        parse: Parse<D, C>,
    ) -> anyhow::Result<Self> {
        let default = serde_json::to_value(&default)?;
        let described =
            |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: {e}", store.describe(name));
        let stored = store.read(name).await.map_err(|e| described(&e))?;
        let mut full = default.clone();
        let version = match &stored {
            Some(s) => {
                merge(&mut full, &s.body);
                s.version
            }
            None => 0,
        };
        let (doc, compiled) = parse(&full).map_err(|e| described(&e))?;
        Ok(Self {
            store,
            name: name.to_string(),
            default,
            current: ArcSwap::from_pointee(Stored { doc, compiled }),
            version: Mutex::new(version),
            writing: tokio::sync::Mutex::new(()),
            parse,
        })
    }

    /// Re-reads the document if another instance changed it. Returns whether the live
    /// document changed. A stored document that does not parse is logged and the current
    /// one stays in force.
    pub async fn reload(&self) -> Result<bool, StoreError> {
        let name = &self.name;
        let Some(stored) = self.store.read(name).await? else {
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

    /// Follows the document until `shutdown` resolves, reloading it each time the store
    /// says it may have changed elsewhere. Returns at once where nothing else writes it.
    pub async fn follow(&self, shutdown: impl std::future::Future<Output = ()>) {
        let Some(mut watch) = self.store.watch().await else {
            return;
        };
        let name = &self.name;
        tokio::pin!(shutdown);
        // Listening now: a change made between the first read and this point is caught by
        // reading once more; every later one wakes the watch.
        let mut first = true;
        loop {
            if !first {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = watch.next(name) => {}
                }
            }
            first = false;
            if let Err(e) = self.reload().await {
                tracing::warn!(document = %name, error = %e, "cannot re-read a document");
            }
        }
    }

    /// Applies a partial change: merged, checked, written (durably), then made live. On
    /// any error nothing changes. When another instance wrote first, the patch is merged
    /// again onto the newer document.
    pub async fn update(&self, patch: &Value) -> Result<D, UpdateError> {
        if !patch.is_object() {
            return Err(UpdateError::Invalid(
                "the body must be a JSON object".into(),
            ));
        }
        let _guard = self.writing.lock().await;
        for _ in 0..WRITE_TRIES {
            let (current, expected) = self.snapshot();
            let mut value = serde_json::to_value(&current.doc)
                .map_err(|e| UpdateError::Storage(io::Error::other(e).into()))?;
            merge(&mut value, patch);
            let (doc, compiled) = (self.parse)(&value).map_err(UpdateError::Invalid)?;
            let body = serde_json::to_value(&doc)
                .map_err(|e| UpdateError::Storage(io::Error::other(e).into()))?;
            match self.store.write(&self.name, &body, expected).await? {
                Written::Done(version) => {
                    let stored = Stored {
                        doc: doc.clone(),
                        compiled,
                    };
                    // A newer version may already be live (a reload overtook the write);
                    // ours is then part of its history and the answer stays ours.
                    self.install(version, stored);
                    return Ok(doc);
                }
                Written::Stale => {
                    self.reload().await?;
                }
            }
        }
        Err(UpdateError::Storage(
            io::Error::other("the document kept changing underneath this update; try again").into(),
        ))
    }
}

impl<D, C> Document<D, C> {
    /// The live document and the stored version it came from, read together.
    fn snapshot(&self) -> (Arc<Stored<D, C>>, i64) {
        let v = self.version.lock().unwrap_or_else(PoisonError::into_inner);
        (self.get(), *v)
    }

    pub fn get(&self) -> Arc<Stored<D, C>> {
        self.current.load_full()
    }

    /// Makes a version live unless a newer one already is (a reload and a local write
    /// may race; the higher version wins). Returns whether it was installed.
    fn install(&self, new_version: i64, stored: Stored<D, C>) -> bool {
        let mut v = self.version.lock().unwrap_or_else(PoisonError::into_inner);
        if new_version <= *v {
            return false;
        }
        *v = new_version;
        self.current.store(Arc::new(stored));
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Storage(#[from] StoreError),
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
