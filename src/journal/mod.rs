//! The daily journals: `blocklist-attempts/attempts_YYYY-MM-DD.jsonl` (one line per blocked
//! attempt, the seed's fields plus ours) and `calls/calls_YYYY-MM-DD.jsonl` (every pipeline
//! decision, dispatch and call outcome). The date is the business date of the record's
//! instant in `TIMEZONE`, so files rotate at local midnight of that zone whatever the
//! host's own timezone is, and across DST changes. Appends are group-committed: durable
//! before the caller's response, many callers per `fsync`.

mod read;
pub mod records;
pub mod retention;
pub mod rows;
pub mod store;

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

pub use read::{each_call_in, for_each_call, lines_containing, read_day};
use read::{parse_day, select_lines};
pub use records::{Attempt, CallEvent, CallerIdChoice, Decision, DispatchStatus, Outcome};

use crate::clock::business_date;
use crate::store::appender::Pending;
pub use store::{FileJournal, JournalStore, Record};

pub const ATTEMPTS_DIR: &str = "blocklist-attempts";
pub const CALLS_DIR: &str = "calls";

pub struct Journals {
    store: Box<dyn JournalStore>,
    dir: PathBuf,
    tz: Tz,
}

/// Which journal.
pub use crate::db::journals::Journal as Kind;

/// One day's file read back: its records, and how many torn lines were skipped.
#[derive(Debug, Default)]
pub struct DayRecords {
    pub records: Vec<Value>,
    pub torn: usize,
}

impl Journals {
    /// The journals in `store`; `data_dir` names their days (files, and in logs).
    pub fn new(store: Box<dyn JournalStore>, data_dir: &Path, tz: Tz) -> Self {
        Self {
            store,
            dir: data_dir.to_path_buf(),
            tz,
        }
    }

    /// The journals as daily files under `data_dir` (the directories are created).
    pub fn open(data_dir: &Path, tz: Tz) -> io::Result<Self> {
        Ok(Self::new(
            Box::new(FileJournal::open(data_dir, tz)?),
            data_dir,
            tz,
        ))
    }

    /// The journals as rows in `db` (`DATABASE_URL`); `data_dir` only names them in logs.
    pub fn open_db(db: crate::db::Db, data_dir: &Path, tz: Tz) -> Self {
        Self::new(Box::new(rows::Rows::start(db)), data_dir, tz)
    }

    /// The storage role, for the day summaries.
    pub fn store(&self) -> &dyn JournalStore {
        &*self.store
    }

    /// The path of a day's journal (a file, or the name the rows are reported under).
    pub fn path(&self, kind: Kind, date: NaiveDate) -> PathBuf {
        match kind {
            Kind::Calls => self.calls_path(date),
            Kind::Attempts => self.attempts_path(date),
        }
    }

    /// One business day of a journal, as bytes of complete lines (the file, or the rows
    /// joined), with the path it is reported under.
    pub fn day_bytes(
        &self,
        kind: Kind,
        date: NaiveDate,
    ) -> crate::store::StoreResult<(PathBuf, Vec<u8>)> {
        let path = self.path(kind, date);
        Ok((path, self.store.day_bytes(kind, date)?))
    }

    /// Reads one day's journal (see [`read_day`]).
    pub fn read_day(
        &self,
        kind: Kind,
        date: NaiveDate,
        quarantine: Option<&crate::store::quarantine::Quarantine>,
    ) -> crate::store::StoreResult<DayRecords> {
        let (path, bytes) = self.day_bytes(kind, date)?;
        Ok(parse_day(&path, &bytes, quarantine))
    }

    /// The lines of one day's call journal containing `needle`, parsed (see
    /// [`lines_containing`]).
    pub fn calls_containing(
        &self,
        date: NaiveDate,
        needle: &str,
        quarantine: Option<&crate::store::quarantine::Quarantine>,
    ) -> crate::store::StoreResult<Vec<Value>> {
        let (path, bytes) = self.day_bytes(Kind::Calls, date)?;
        Ok(select_lines(&path, &bytes, needle, quarantine))
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn date_of(&self, at: DateTime<Utc>) -> NaiveDate {
        business_date(at, self.tz)
    }

    pub fn attempts_path(&self, date: NaiveDate) -> PathBuf {
        attempts_path(&self.dir, date)
    }

    pub fn calls_path(&self, date: NaiveDate) -> PathBuf {
        calls_path(&self.dir, date)
    }

    /// Appends a blocked attempt to the file of its business date.
    pub fn append_attempt(&self, attempt: &Attempt) -> Pending {
        let date = self.date_of(attempt.at());
        self.store.append(&[Record::Attempt(attempt, date, true)])
    }

    /// Appends a pipeline decision, dispatch or outcome to the file of its business date.
    pub fn append_call(&self, event: &CallEvent) -> Pending {
        let date = self.date_of(event.at());
        self.store.append(&[Record::Call(event, date)])
    }

    /// The rows of a decision (and of a block's attempt), for a caller that commits them
    /// in its own transaction.
    pub fn decision_rows(&self, event: &CallEvent) -> Vec<crate::db::journals::JournalLine> {
        let mut lines = vec![rows::call_line(event, self.date_of(event.at()))];
        if let CallEvent::Decision {
            attempt: Some(a), ..
        } = event
        {
            lines.push(rows::attempt_line(a, self.date_of(a.at())));
        }
        lines
    }

    /// A decision and, for a block, its attempt line, with one wake-up for the caller. The
    /// call journal is synced; the attempt line is written but not synced on its own: it
    /// survives the process being killed (page cache), and after a power cut
    /// [`Journals::restore_attempts`] rebuilds it from the decision, which carries it. One
    /// sync per batch instead of two.
    pub fn append_decision(&self, event: &CallEvent) -> Pending {
        let call = Record::Call(event, self.date_of(event.at()));
        match event {
            CallEvent::Decision {
                attempt: Some(a), ..
            } => self
                .store
                .append(&[call, Record::Attempt(a, self.date_of(a.at()), false)]),
            _ => self.store.append(&[call]),
        }
    }

    /// Appends to the attempts journals of `days` (business dates) every blocked attempt
    /// that the call journal holds but the attempts journal lacks — what a power cut can
    /// leave behind. Run at startup, before serving. Returns how many were restored.
    pub async fn restore_attempts(&self, days: &[NaiveDate]) -> crate::store::StoreResult<usize> {
        let restored = self.store.restore_attempts(days).await?;
        if restored > 0 {
            tracing::warn!(restored, "restored blocked attempts missing from the attempts journal (from the call journal)");
        }
        Ok(restored)
    }

    /// The decisions journaled for `request_id` on `days` (business dates), in order.
    pub fn decisions_for(
        &self,
        days: &[NaiveDate],
        request_id: &str,
    ) -> crate::store::StoreResult<Vec<Decision>> {
        let needle = format!("\"request_id\":{}", serde_json::Value::from(request_id));
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut out = Vec::new();
        for day in days {
            let (_, bytes) = self.day_bytes(Kind::Calls, *day)?;
            let (lines, _) = complete_lines(&bytes);
            for line in lines.filter(|l| finder.find(l).is_some()) {
                if let Ok(CallEvent::Decision {
                    request_id: id,
                    decision,
                    ..
                }) = serde_json::from_slice::<CallEvent>(line)
                {
                    if id == request_id {
                        out.push(decision);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Resolves once everything appended so far is on disk.
    pub fn flush(&self) -> Pending {
        self.store.flush()
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

pub fn attempts_path(data_dir: &Path, date: NaiveDate) -> PathBuf {
    data_dir
        .join(ATTEMPTS_DIR)
        .join(format!("attempts_{date}.jsonl"))
}

pub fn calls_path(data_dir: &Path, date: NaiveDate) -> PathBuf {
    data_dir.join(CALLS_DIR).join(format!("calls_{date}.jsonl"))
}

fn to_line(record: &impl serde::Serialize) -> Vec<u8> {
    // Our record types always serialise.
    serde_json::to_vec(record).unwrap_or_default()
}

fn to_text(record: &impl serde::Serialize) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// Splits a journal into complete lines. A last line without its newline is torn (a crash
/// mid-append) and is counted, not returned; the callers parse (and keep aside) the rest.
pub fn complete_lines(bytes: &[u8]) -> (impl Iterator<Item = &[u8]>, usize) {
    let end = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    let torn_tail = usize::from(bytes[end..].iter().any(|b| !b.is_ascii_whitespace()));
    let body = &bytes[..end];
    let mut start = 0;
    let lines = memchr::memchr_iter(b'\n', body)
        .map(move |newline| {
            let line = &body[start..newline];
            start = newline + 1;
            line
        })
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    (lines, torn_tail)
}

/// The first `"request_id":"…"` of a line we wrote (a decision's own id comes before the
/// attempt it carries; an attempt line has one).
fn request_id_of(line: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\"request_id\":\"";
    let start = memchr::memmem::find(line, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &line[start..])?;
    Some(&line[start..start + len])
}

fn read_or_empty(path: &Path) -> io::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Attempts carried by decisions in `calls` whose request id is absent from `attempts`.
/// Only ids are compared (substring search); only missing lines are parsed in full.
fn missing_attempts(calls: &Path, attempts: &Path) -> io::Result<Vec<Attempt>> {
    let calls = read_or_empty(calls)?;
    let carrier = memchr::memmem::Finder::new(b"\"attempt\":{");
    let (lines, _) = complete_lines(&calls);
    let carriers: Vec<&[u8]> = lines.filter(|l| carrier.find(l).is_some()).collect();
    if carriers.is_empty() {
        return Ok(Vec::new());
    }
    let attempts = read_or_empty(attempts)?;
    let (lines, _) = complete_lines(&attempts);
    let have: std::collections::HashSet<&[u8]> = lines.filter_map(request_id_of).collect();
    Ok(carriers
        .into_iter()
        .filter(|l| request_id_of(l).is_none_or(|id| !have.contains(id)))
        .filter_map(|l| match serde_json::from_slice::<CallEvent>(l) {
            Ok(CallEvent::Decision {
                attempt: Some(a), ..
            }) => Some(*a),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests;
