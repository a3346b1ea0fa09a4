//! [`FileTexts`]: the texts in memory, each change a line of `DATA_DIR/texts/texts.jsonl`
//! (the whole text; the last line of an id wins), synced before it returns. At startup
//! the log is replayed — a text left `sending` by a crash becomes `unconfirmed` — and
//! rewritten with the open texts and those closed in the last [`KEEP_DAYS`] days (the
//! daily cap and the "one sequence at a time" rule read them).

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;

use super::{Text, TextState, TextStore};
use crate::store::appender::Appender;
use crate::store::quarantine::Quarantine;
use crate::store::StoreResult;

pub const TEXTS_DIR: &str = "texts";
pub const TEXTS_FILE: &str = "texts.jsonl";
/// How long a closed text is kept.
pub const KEEP_DAYS: i64 = 31;

pub struct FileTexts {
    log: Appender,
    texts: Mutex<HashMap<String, Text>>,
    /// Taken by the sender and not yet saved.
    taken: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn line(t: &Text) -> io::Result<Vec<u8>> {
    serde_json::to_vec(t).map_err(io::Error::other)
}

impl FileTexts {
    /// Replays the log (see the module docs); the texts found `sending` are answered,
    /// now `unconfirmed`, for the journal.
    pub fn open(
        data_dir: &Path,
        quarantine: &Quarantine,
        now: DateTime<Utc>,
    ) -> io::Result<(Self, Vec<Text>)> {
        let dir = data_dir.join(TEXTS_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(TEXTS_FILE);
        let mut texts: HashMap<String, Text> = HashMap::new();
        match std::fs::read(&path) {
            Ok(bytes) => {
                quarantine.parse_lines::<Text>(&path, &bytes, |t| {
                    texts.insert(t.id.clone(), t);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut abandoned = Vec::new();
        for t in texts.values_mut() {
            if t.state == TextState::Sending {
                t.state = TextState::Unconfirmed;
                t.reason =
                    Some("the gateway stopped while sending it: it may have been sent".into());
                t.done_at = Some(now);
                abandoned.push(t.clone());
            }
        }
        let keep = now - Duration::days(KEEP_DAYS);
        texts.retain(|_, t| t.is_open() || t.done_at.is_none_or(|d| d >= keep));
        let mut kept: Vec<&Text> = texts.values().collect();
        kept.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let mut bytes = Vec::new();
        for t in kept {
            bytes.extend(line(t)?);
            bytes.push(b'\n');
        }
        crate::store::write_atomic(&path, &bytes)?;
        let store = Self {
            log: Appender::open(&path)?,
            texts: Mutex::new(texts),
            taken: Mutex::new(HashSet::new()),
        };
        Ok((store, abandoned))
    }
}

impl TextStore for FileTexts {
    fn schedule<'a>(&'a self, new: &'a [Text]) -> BoxFuture<'a, StoreResult<usize>> {
        Box::pin(async move {
            let mut pending = Vec::new();
            {
                let mut texts = lock(&self.texts);
                for t in new {
                    if texts.contains_key(&t.id) {
                        continue;
                    }
                    texts.insert(t.id.clone(), t.clone());
                    pending.push(self.log.append(line(t)?));
                }
            }
            let added = pending.len();
            for p in pending {
                p.wait().await?;
            }
            Ok(added)
        })
    }

    fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        _claim: Duration,
    ) -> BoxFuture<'_, StoreResult<Vec<Text>>> {
        let texts = lock(&self.texts);
        let mut taken = lock(&self.taken);
        let mut due: Vec<Text> = texts
            .values()
            .filter(|t| {
                t.state == TextState::Scheduled && t.due_at <= now && !taken.contains(&t.id)
            })
            .cloned()
            .collect();
        due.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.id.cmp(&b.id)));
        due.truncate(limit);
        for t in &due {
            taken.insert(t.id.clone());
        }
        Box::pin(async move { Ok(due) })
    }

    fn save<'a>(&'a self, t: &'a Text) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let pending = {
                lock(&self.texts).insert(t.id.clone(), t.clone());
                self.log.append(line(t)?)
            };
            let done = pending.wait().await;
            if t.state != TextState::Sending {
                lock(&self.taken).remove(&t.id);
            }
            done
        })
    }

    fn settle_abandoned(&self, _now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<Vec<Text>>> {
        // One process: a text is left `sending` only by a crash, settled at open.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn of_phone<'a>(
        &'a self,
        phone: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<Vec<Text>>> {
        let mut out: Vec<Text> = lock(&self.texts)
            .values()
            .filter(|t| t.phone == phone && t.created_at >= since)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.step.cmp(&b.step)));
        Box::pin(async move { Ok(out) })
    }
}
