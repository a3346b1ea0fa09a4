//! The blocklist's files: `blocklist-config.json` (the seed's `{enabled, flags}` document,
//! complete after every compaction) and `blocklist-changes.jsonl`, an append-only change
//! log replayed on top of it. A compaction rotates the log to
//! `blocklist-changes.compacting.jsonl`, rewrites the document atomically and deletes the
//! rotated log; replaying a log twice is harmless because every change is a put or delete
//! by id.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Serialize};

use super::flag::{new_flag_id, Flag, FlagRecord};
use super::index::FlagIndex;
use crate::store::atomic::write_atomic_with;

pub const CONFIG_FILE: &str = "blocklist-config.json";
pub const CHANGES_FILE: &str = "blocklist-changes.jsonl";
pub const CHANGES_COMPACTING: &str = "blocklist-changes.compacting.jsonl";

/// A file that cannot be used, with what is wrong and where.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct LoadError {
    pub file: PathBuf,
    pub message: String,
}

#[derive(Serialize)]
struct ConfigDocOut<'a> {
    enabled: bool,
    flags: Vec<&'a Flag>,
}

/// One change-log record, as written.
#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ChangeOut<'a> {
    Put { flag: &'a Flag },
    PutMany { flags: &'a [Flag] },
    Delete { id: &'a str },
    Enabled { enabled: bool },
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum ChangeIn {
    Put { flag: FlagRecord },
    PutMany { flags: Vec<FlagRecord> },
    Delete { id: String },
    Enabled { enabled: bool },
}

impl ChangeOut<'_> {
    pub fn to_line(&self) -> Vec<u8> {
        // Serialising our own types to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Parses and checks a config document: valid JSON, every flag valid, ids unique. Flags
/// are checked and indexed one at a time as they stream in, so loading a million flags
/// never holds a second copy of them.
pub fn parse_config(
    bytes: &[u8],
    file: &Path,
    country: &str,
    now_ms: i64,
) -> Result<FlagIndex, LoadError> {
    let mut index = FlagIndex::new(true);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = DocSeed {
        index: &mut index,
        country,
        now_ms,
    };
    let result = seed.deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = result {
        let message = if e.is_data() {
            e.to_string()
        } else {
            format!("not a valid blocklist document ({e}); expected {{\"enabled\": true, \"flags\": [...]}}")
        };
        return Err(LoadError {
            file: file.to_path_buf(),
            message,
        });
    }
    index.shrink();
    Ok(index)
}

struct DocSeed<'a> {
    index: &'a mut FlagIndex,
    country: &'a str,
    now_ms: i64,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"enabled\": bool, \"flags\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "enabled" => self.index.enabled = map.next_value()?,
                "flags" => map.next_value_seed(FlagsSeed {
                    index: &mut *self.index,
                    country: self.country,
                    now_ms: self.now_ms,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct FlagsSeed<'a> {
    index: &'a mut FlagIndex,
    country: &'a str,
    now_ms: i64,
}

impl<'de> DeserializeSeed<'de> for FlagsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FlagsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of flags")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(record) = seq.next_element::<FlagRecord>()? {
            n += 1;
            let shown_id = record.id.clone().unwrap_or_default();
            let now = self.now_ms;
            let flag = record
                .into_flag(self.country, now, || new_flag_id(now))
                .map_err(|e| A::Error::custom(format!("flag #{n} (id `{shown_id}`): {e}")))?;
            if self.index.contains_id(flag.id()) {
                return Err(A::Error::custom(format!(
                    "flag #{n}: duplicate id `{}`",
                    flag.id()
                )));
            }
            self.index.insert(flag);
        }
        Ok(())
    }
}

/// Writes the full document atomically, flags oldest first, pretty-printed like the seed.
/// Writes the document atomically; answers the written file's metadata (see
/// `write_atomic_with`).
pub fn write_config(path: &Path, index: &FlagIndex) -> io::Result<std::fs::Metadata> {
    let doc = ConfigDocOut {
        enabled: index.enabled,
        flags: index.sorted(),
    };
    write_atomic_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// What a replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    pub applied: usize,
    pub torn: usize,
}

/// Applies a change log to `index`. A torn last line (a crash mid-append) is skipped and
/// counted; a bad line anywhere else is an error.
pub fn replay(
    path: &Path,
    index: &mut FlagIndex,
    country: &str,
    now_ms: i64,
) -> Result<ReplayStats, LoadError> {
    let err = |message: String| LoadError {
        file: path.to_path_buf(),
        message,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReplayStats::default()),
        Err(e) => return Err(err(format!("cannot read: {e}"))),
    };
    let mut stats = ReplayStats::default();
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.len().saturating_sub(1);
    for (n, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let change: ChangeIn = match serde_json::from_slice(line) {
            Ok(c) => c,
            Err(_) if n == last => {
                stats.torn += 1;
                continue;
            }
            Err(e) => return Err(err(format!("line {}: {e}", n + 1))),
        };
        apply(change, index, country, now_ms).map_err(|m| err(format!("line {}: {m}", n + 1)))?;
        stats.applied += 1;
    }
    Ok(stats)
}

fn apply(
    change: ChangeIn,
    index: &mut FlagIndex,
    country: &str,
    now_ms: i64,
) -> Result<(), super::FlagError> {
    let mut put = |record: FlagRecord| -> Result<(), super::FlagError> {
        let flag = record.into_flag(country, now_ms, || new_flag_id(now_ms))?;
        index.remove(flag.id());
        index.insert(flag);
        Ok(())
    };
    match change {
        ChangeIn::Put { flag } => put(flag)?,
        ChangeIn::PutMany { flags } => {
            for flag in flags {
                put(flag)?;
            }
        }
        ChangeIn::Delete { id } => {
            index.remove(&id);
        }
        ChangeIn::Enabled { enabled } => index.enabled = enabled,
    }
    Ok(())
}

/// The flags at startup: the document and the change log replayed over it.
pub(super) struct Loaded {
    pub(super) index: FlagIndex,
    /// Change-log records applied, and torn last lines skipped.
    pub(super) replayed: usize,
    pub(super) torn: usize,
}

/// Reads `dir`'s document (a fresh one when there is none and no change log) and replays
/// the change log (the one being folded first).
pub(super) fn load(dir: &Path, country: &str, now_ms: i64) -> Result<Loaded, LoadError> {
    let config = dir.join(CONFIG_FILE);
    let live = dir.join(CHANGES_FILE);
    let compacting = dir.join(CHANGES_COMPACTING);
    let mut index = match std::fs::read(&config) {
        Ok(bytes) => parse_config(&bytes, &config, country, now_ms)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if live.exists() || compacting.exists() {
                return Err(LoadError {
                    file: config,
                    message: "is missing but the change log beside it exists; restore the \
                              file (the change log only holds recent changes)"
                        .into(),
                });
            }
            FlagIndex::new(true)
        }
        Err(e) => {
            return Err(LoadError {
                file: config,
                message: e.to_string(),
            })
        }
    };
    let (mut torn, mut replayed) = (0, 0);
    for path in [&compacting, &live] {
        let stats = replay(path, &mut index, country, now_ms)?;
        torn += stats.torn;
        replayed += stats.applied;
    }
    if torn > 0 {
        tracing::warn!(
            torn,
            "skipped a torn last line in the blocklist change log (crash mid-write)"
        );
    }
    Ok(Loaded {
        index,
        replayed,
        torn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_documents_say_what_and_where() {
        let file = Path::new("blocklist-config.json");
        let e = parse_config(b"{\"flags\": [", file, "US", 0)
            .err()
            .expect("bad json");
        assert!(
            e.to_string()
                .starts_with("blocklist-config.json: not a valid blocklist document"),
            "{e}"
        );
        let doc = br#"{"enabled":true,"flags":[{"id":"a","field":"phone","value":"123"}]}"#;
        let e = parse_config(doc, file, "US", 0).err().expect("bad phone");
        assert!(e.to_string().contains("flag #1 (id `a`)"), "{e}");
        let doc =
            br#"{"flags":[{"id":"a","field":"x","value":"1"},{"id":"a","field":"y","value":"2"}]}"#;
        let e = parse_config(doc, file, "US", 0).err().expect("dup id");
        assert!(e.to_string().contains("duplicate id `a`"), "{e}");
    }

    #[test]
    fn replay_applies_puts_and_deletes_and_skips_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(CHANGES_FILE);
        std::fs::write(
            &path,
            concat!(
                r#"{"op":"put","flag":{"id":"a","field":"phone","value":"+13055551234","added_at":"2024-01-01T00:00:00Z"}}"#, "\n",
                r#"{"op":"put","flag":{"id":"b","field":"lead_id","value":"1"}}"#, "\n",
                r#"{"op":"delete","id":"a"}"#, "\n",
                r#"{"op":"enabled","enabled":false}"#, "\n",
                r#"{"op":"put","flag":{"id":"c","fi"#
            ),
        )
        .expect("write");
        let mut index = FlagIndex::new(true);
        let stats = replay(&path, &mut index, "US", 0).expect("replay");
        assert_eq!(
            stats,
            ReplayStats {
                applied: 4,
                torn: 1
            }
        );
        assert!(index.get("a").is_none() && index.get("b").is_some() && !index.enabled);
        // Replaying again changes nothing.
        replay(&path, &mut index, "US", 0).expect("replay twice");
        assert_eq!(index.len(), 1);
    }
}
