//! The journals' storage role, [`JournalStore`]: appending records to the journal of
//! their business date (group-committed: durable before the caller answers), reading a
//! day back, and keeping a closed day's summary for the statistics. Two implementations:
//! [`FileJournal`] (daily files in `DATA_DIR`, a day's summary in a sidecar file beside
//! it) and [`super::rows::Rows`] (rows in PostgreSQL, a settled day's rollup in
//! `day_summaries` for every instance). `startup/` picks one; [`super::Journals`] holds it.
//!
//! The readers are blocking: they run on the blocking pool, or at startup.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{attempts_path, calls_path, read_or_empty, to_line, Attempt, CallEvent, Kind};
use crate::clock::business_date;
use crate::store::appender::{Appender, Pending};
use crate::store::StoreResult;

/// One record for the journal of its business date.
pub enum Record<'a> {
    /// A decision, dispatch, outcome or other call event (synced).
    Call(&'a CallEvent, NaiveDate),
    /// A blocked attempt; `synced: false` when it rides with the decision carrying it
    /// (written, not synced on its own: see [`super::Journals::append_decision`]).
    Attempt(&'a Attempt, NaiveDate, bool),
}

/// The journals' storage role.
pub trait JournalStore: Send + Sync {
    /// Appends `records` with one wake-up for the caller, once all are durable.
    fn append(&self, records: &[Record<'_>]) -> Pending;
    /// Resolves once everything appended so far is durable.
    fn flush(&self) -> Pending;
    /// One business day of a journal as complete lines (`\n`-joined).
    fn day_bytes(&self, kind: Kind, date: NaiveDate) -> StoreResult<Vec<u8>>;
    /// A marker of how much a day holds: the summary of a day is current while its marker
    /// is (files: the length; rows: the last line's id once `settled`, else the count).
    fn day_marker(&self, kind: Kind, date: NaiveDate, settled: bool) -> StoreResult<u64>;
    /// The day's bytes from marker `from` up to marker `to`, when the store can resume a
    /// day there (files: an offset); `None` when a day is always read whole (rows).
    fn day_since(
        &self,
        kind: Kind,
        date: NaiveDate,
        from: u64,
        to: u64,
    ) -> StoreResult<Option<Vec<u8>>>;
    /// A closed day's kept summary and the marker it covers.
    fn kept_summary(&self, kind: Kind, date: NaiveDate) -> StoreResult<Option<(u64, Value)>>;
    /// Keeps a closed day's summary (for the next process, or every instance).
    fn keep_summary(
        &self,
        kind: Kind,
        date: NaiveDate,
        marker: u64,
        summary: &Value,
    ) -> StoreResult<()>;
    /// Adds to the attempts journals of `days` each blocked attempt a decision carries but
    /// the attempts journal lacks (what a power cut can leave behind when the attempt line
    /// was not synced on its own); how many. Nothing to do where both commit together.
    fn restore_attempts<'a>(&'a self, days: &'a [NaiveDate]) -> BoxFuture<'a, StoreResult<usize>>;
    /// Retention: removes every day before `oldest_kept` (its records and its summary) and
    /// logs what went; how many files or lines.
    fn purge_before(&self, oldest_kept: NaiveDate) -> BoxFuture<'_, StoreResult<u64>>;
}

/// The journals as daily files: `calls/calls_DATE.jsonl`, `blocklist-attempts/
/// attempts_DATE.jsonl`, and `….jsonl.summary` beside a closed day.
pub struct FileJournal {
    appender: Appender,
    dir: PathBuf,
    tz: Tz,
}

impl FileJournal {
    /// Creates the journal directories under `data_dir`.
    pub fn open(data_dir: &Path, tz: Tz) -> io::Result<Self> {
        for sub in [super::ATTEMPTS_DIR, super::CALLS_DIR] {
            std::fs::create_dir_all(data_dir.join(sub))?;
        }
        Ok(Self {
            appender: Appender::detached()?,
            dir: data_dir.to_path_buf(),
            tz,
        })
    }

    fn path(&self, kind: Kind, date: NaiveDate) -> PathBuf {
        match kind {
            Kind::Calls => calls_path(&self.dir, date),
            Kind::Attempts => attempts_path(&self.dir, date),
        }
    }
}

/// A closed day's summary on disk, valid while its journal keeps the length it had.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sidecar<T> {
    file_len: u64,
    summary: T,
}

/// Where a journal file's summary is kept.
pub fn sidecar_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".summary");
    journal.with_file_name(name)
}

impl JournalStore for FileJournal {
    fn purge_before(&self, oldest_kept: NaiveDate) -> BoxFuture<'_, StoreResult<u64>> {
        let dir = self.dir.clone();
        Box::pin(async move {
            let purge = move || super::retention::purge_before(&dir, oldest_kept);
            let removed = tokio::task::spawn_blocking(purge)
                .await
                .map_err(io::Error::other)??;
            Ok(removed.len() as u64)
        })
    }

    fn append(&self, records: &[Record<'_>]) -> Pending {
        let mut lines = records
            .iter()
            .map(|r| match r {
                Record::Call(e, date) => (calls_path(&self.dir, *date), to_line(*e), true),
                Record::Attempt(a, date, synced) => {
                    (attempts_path(&self.dir, *date), to_line(*a), *synced)
                }
            })
            .collect::<Vec<_>>();
        if let [(_, _, true)] = lines.as_slice() {
            if let Some((path, line, _)) = lines.pop() {
                return self.appender.append_to(path, line);
            }
        }
        self.appender.append_many(lines)
    }

    fn flush(&self) -> Pending {
        self.appender.flush()
    }

    fn day_bytes(&self, kind: Kind, date: NaiveDate) -> StoreResult<Vec<u8>> {
        Ok(read_or_empty(&self.path(kind, date))?)
    }

    fn day_marker(&self, kind: Kind, date: NaiveDate, _settled: bool) -> StoreResult<u64> {
        match std::fs::metadata(self.path(kind, date)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn day_since(
        &self,
        kind: Kind,
        date: NaiveDate,
        from: u64,
        to: u64,
    ) -> StoreResult<Option<Vec<u8>>> {
        if to <= from {
            return Ok(Some(Vec::new()));
        }
        let mut file = File::open(self.path(kind, date))?;
        file.seek(SeekFrom::Start(from))?;
        let mut bytes = Vec::with_capacity(usize::try_from(to - from).unwrap_or(0));
        file.take(to - from).read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn kept_summary(&self, kind: Kind, date: NaiveDate) -> StoreResult<Option<(u64, Value)>> {
        let bytes = match std::fs::read(sidecar_path(&self.path(kind, date))) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // A sidecar that does not read is only a cache: the day is summarised afresh.
        Ok(serde_json::from_slice::<Sidecar<Value>>(&bytes)
            .ok()
            .map(|s| (s.file_len, s.summary)))
    }

    fn keep_summary(
        &self,
        kind: Kind,
        date: NaiveDate,
        marker: u64,
        summary: &Value,
    ) -> StoreResult<()> {
        let sidecar = Sidecar {
            file_len: marker,
            summary,
        };
        let bytes = serde_json::to_vec(&sidecar).map_err(io::Error::other)?;
        Ok(crate::store::write_atomic(
            &sidecar_path(&self.path(kind, date)),
            &bytes,
        )?)
    }

    fn restore_attempts<'a>(&'a self, days: &'a [NaiveDate]) -> BoxFuture<'a, StoreResult<usize>> {
        Box::pin(async move {
            let mut restored = 0;
            for day in days {
                let missing = super::missing_attempts(
                    &calls_path(&self.dir, *day),
                    &attempts_path(&self.dir, *day),
                )?;
                if missing.is_empty() {
                    continue;
                }
                let records = missing
                    .iter()
                    .map(|a| {
                        let date = business_date(a.at(), self.tz);
                        (attempts_path(&self.dir, date), to_line(a), true)
                    })
                    .collect();
                self.appender.append_many(records).wait().await?;
                restored += missing.len();
            }
            Ok(restored)
        })
    }
}

#[cfg(test)]
mod tests {
    //! One set of behaviour checks, run against both implementations (the rows when a
    //! PostgreSQL server answers; CI requires it).
    use std::sync::Arc;

    use super::*;
    use crate::journal::DispatchStatus;

    fn dispatch(at: &str, rid: &str) -> CallEvent {
        CallEvent::Dispatch {
            timestamp: at.parse().expect("instant"),
            request_id: rid.into(),
            status: DispatchStatus::Sent,
            lead_id: Some("L1".into()),
            phone: Some("+13055551234".into()),
            call_id: Some(format!("call-{rid}")),
            error: None,
            caller_id: None,
        }
    }

    fn attempt(at: &str, rid: &str) -> Attempt {
        Attempt {
            timestamp: at.parse().expect("instant"),
            field: "phone".into(),
            value: "+13055551234".into(),
            lead_id: Some("L1".into()),
            phone: Some("+13055551234".into()),
            blocked: true,
            reason: "Blocked by flag: phone=+13055551234".into(),
            flag_id: Some("flag_1".into()),
            request_id: Some(rid.into()),
            stage: "blocklist".into(),
            source: "flag".into(),
            flag_reason: None,
            list: None,
            list_version: None,
        }
    }

    /// Blocking reads, as the statistics make them (off the async threads).
    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        tokio::task::block_in_place(f)
    }

    async fn behaves(store: Arc<dyn JournalStore>) {
        let day: NaiveDate = "2026-11-23".parse().expect("date");
        let (calls, attempts) = (Kind::Calls, Kind::Attempts);
        assert_eq!(
            blocking(|| store.day_marker(calls, day, false)).expect("marker"),
            0
        );
        assert!(blocking(|| store.day_bytes(calls, day))
            .expect("bytes")
            .is_empty());
        let (one, a) = (
            dispatch("2026-11-23T15:00:00Z", "r1"),
            attempt("2026-11-23T15:00:00Z", "r1"),
        );
        store
            .append(&[Record::Call(&one, day), Record::Attempt(&a, day, false)])
            .wait()
            .await
            .expect("durable");
        let two = dispatch("2026-11-23T15:01:00Z", "r2");
        store
            .append(&[Record::Call(&two, day)])
            .wait()
            .await
            .expect("durable");
        store.flush().wait().await.expect("flushed");
        // Each journal holds its own lines, in order, as complete JSON lines.
        let text = blocking(|| store.day_bytes(calls, day)).expect("bytes");
        let lines: Vec<serde_json::Value> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&text));
        assert_eq!(
            (
                lines[0]["request_id"].clone(),
                lines[1]["request_id"].clone()
            ),
            ("r1".into(), "r2".into())
        );
        assert!(text.ends_with(b"\n"));
        let text = blocking(|| store.day_bytes(attempts, day)).expect("bytes");
        assert_eq!(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            1
        );
        // Another day is untouched.
        let next = day.succ_opt().expect("next day");
        assert!(blocking(|| store.day_bytes(calls, next))
            .expect("bytes")
            .is_empty());
        // The marker moves with what the day holds; a resumed read is the tail.
        let m1 = blocking(|| store.day_marker(calls, day, false)).expect("marker");
        assert!(m1 > 0);
        let three = dispatch("2026-11-23T15:02:00Z", "r3");
        store
            .append(&[Record::Call(&three, day)])
            .wait()
            .await
            .expect("durable");
        let m2 = blocking(|| store.day_marker(calls, day, false)).expect("marker");
        assert!(m2 > m1, "{m2} > {m1}");
        if let Some(tail) = blocking(|| store.day_since(calls, day, m1, m2)).expect("since") {
            let tail = String::from_utf8(tail).expect("utf-8");
            assert!(
                tail.contains("\"r3\"") && !tail.contains("\"r2\""),
                "{tail}"
            );
        }
        // A closed day's summary is kept with its marker.
        assert_eq!(
            blocking(|| store.kept_summary(calls, day)).expect("kept"),
            None
        );
        let summary = serde_json::json!({"total": 3});
        blocking(|| store.keep_summary(calls, day, m2, &summary)).expect("keep");
        assert_eq!(
            blocking(|| store.kept_summary(calls, day)).expect("kept"),
            Some((m2, summary))
        );
        // Nothing is missing from the attempts journal.
        assert_eq!(store.restore_attempts(&[day]).await.expect("restore"), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn files_behave_as_a_journal_store() {
        let dir = tempfile::tempdir().expect("dir");
        let tz = chrono_tz::America::New_York;
        behaves(Arc::new(FileJournal::open(dir.path(), tz).expect("open"))).await;
        assert!(dir.path().join("calls/calls_2026-11-23.jsonl").exists());
        assert!(dir
            .path()
            .join("calls/calls_2026-11-23.jsonl.summary")
            .exists());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn rows_behave_as_a_journal_store() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        behaves(Arc::new(crate::journal::rows::Rows::start(db.clone()))).await;
        db.pool.close().await;
    }
}
