//! Admin-editable JSON documents (scheduler config and the like): read at startup, changed
//! by a partial `PUT`, written atomically. The owner passes a function that checks and compiles a document; this
//! module does the merging, the field-by-field error naming and the file handling.

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

pub struct Document<D, C> {
    path: PathBuf,
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
            path: path.to_path_buf(),
            current: ArcSwap::from_pointee(Stored { doc, compiled }),
            writing: Mutex::new(()),
            parse,
        })
    }

    pub fn get(&self) -> Arc<Stored<D, C>> {
        self.current.load_full()
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
        let mut value = serde_json::to_value(&self.get().doc)
            .map_err(|e| UpdateError::Storage(io::Error::other(e)))?;
        merge(&mut value, patch);
        let (doc, compiled) = (self.parse)(&value).map_err(UpdateError::Invalid)?;
        let bytes = serde_json::to_vec_pretty(&doc).map_err(io::Error::other)?;
        crate::store::write_atomic(&self.path, &bytes)?;
        self.current.store(Arc::new(Stored {
            doc: doc.clone(),
            compiled,
        }));
        Ok(doc)
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
