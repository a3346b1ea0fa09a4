//! Statistics over the daily journals. Each day's summary is cached with the journal
//! store's marker of what it covers (files: the bytes; rows: the count, or a settled day's
//! last line id): a past day is read once and never again, and its summary is kept by the
//! store (a sidecar file, or a rollup row every instance shares); today's file is read only
//! from where the previous request stopped (rows: afresh when the count moved), and a file
//! that shrank (rewritten by a migration) is summarised afresh. Days missing from the cache
//! are summarised in parallel.

pub mod attempts;
pub mod calls;
pub mod range;
pub mod scrub;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use attempts::AttemptsDay;
pub use calls::CallsDay;
pub use range::{parse_range, DateRange};

pub use crate::journal::store::sidecar_path;
use crate::journal::{Journals, Kind};

use crate::store::quarantine::Quarantine;
use crate::store::StoreResult;

/// A summary built line by line from one journal file.
pub trait DaySummary:
    Default + Clone + Send + Sync + Serialize + DeserializeOwned + 'static
{
    /// Folds one complete line; returns false if the line is not a record (torn).
    fn fold(&mut self, line: &[u8]) -> bool;
}

#[derive(Clone)]
struct Cached<T> {
    consumed: u64,
    summary: Arc<T>,
}

/// Summaries for one journal kind, keyed by business date.
pub struct DayCache<T: DaySummary> {
    entries: Mutex<HashMap<NaiveDate, Cached<T>>>,
    journals: Arc<Journals>,
    kind: Kind,
    /// Where a line that is not a record (and not a torn write) is kept aside.
    quarantine: Option<Arc<Quarantine>>,
}

impl<T: DaySummary> DayCache<T> {
    pub fn new(journals: Arc<Journals>, kind: Kind) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            journals,
            kind,
            quarantine: None,
        }
    }

    /// The summary of every day in `range`, oldest first, each brought up to date. Days
    /// before `today` are closed: their summaries are also kept by the journal store.
    pub fn days(
        &self,
        range: DateRange,
        today: NaiveDate,
    ) -> StoreResult<Vec<(NaiveDate, Arc<T>)>> {
        let dates: Vec<NaiveDate> = range.dates().collect();
        let known: Vec<Option<Cached<T>>> = {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            dates.iter().map(|d| entries.get(d).cloned()).collect()
        };
        let jobs: Vec<(NaiveDate, Option<Cached<T>>)> = dates.iter().copied().zip(known).collect();
        let results = run_parallel(jobs, |(date, cached)| {
            Ok((date, self.update(date, today, cached)?))
        })?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(results
            .into_iter()
            .map(|(date, cached)| {
                let summary = cached.summary.clone();
                entries.insert(date, cached);
                (date, summary)
            })
            .collect())
    }

    /// Brings one day's summary up to its journal's marker (complete lines only).
    fn update(
        &self,
        date: NaiveDate,
        today: NaiveDate,
        cached: Option<Cached<T>>,
    ) -> StoreResult<Cached<T>> {
        let store = self.journals.store();
        let kind = self.kind;
        let closed = date < today;
        // A settled day (before yesterday) has no decision still committing into it.
        let settled = today.pred_opt().is_some_and(|y| date < y);
        let marker = store.day_marker(kind, date, settled)?;
        let before = cached.as_ref().map(|c| c.consumed);
        if let Some(c) = cached.as_ref().filter(|c| c.consumed == marker) {
            return Ok(c.clone());
        }
        if closed {
            // Kept by an earlier process, or by another instance.
            if let Some((m, stored)) = store.kept_summary(kind, date)? {
                if m == marker {
                    if let Ok(summary) = serde_json::from_value::<T>(stored) {
                        return Ok(Cached {
                            consumed: marker,
                            summary: Arc::new(summary),
                        });
                    }
                }
            }
        }
        // Resume where the cache stopped if the store can; else the whole day afresh.
        let resume = cached.filter(|c| c.consumed < marker);
        let from = resume.as_ref().map_or(0, |c| c.consumed);
        let (start, bytes, resumed) = match store.day_since(kind, date, from, marker)? {
            Some(bytes) => (from, bytes, true),
            None => (0, store.day_bytes(kind, date)?, false),
        };
        let mut summary = match resume.filter(|_| resumed) {
            Some(c) => Arc::unwrap_or_clone(c.summary),
            None => T::default(),
        };
        let path = self.journals.path(kind, date);
        let complete = fold_lines(
            &path,
            start,
            &bytes,
            &mut summary,
            self.quarantine.as_deref(),
        );
        let consumed = if resumed {
            start + complete as u64
        } else {
            marker
        };
        if closed && consumed > 0 && before != Some(consumed) {
            let kept = serde_json::to_value(&summary)
                .map_err(|e| io::Error::other(e).into())
                .and_then(|v| store.keep_summary(kind, date, consumed, &v));
            if let Err(e) = kept {
                tracing::warn!(file = %path.display(), error = %e, "could not keep a day summary");
            }
        }
        Ok(Cached {
            consumed,
            summary: Arc::new(summary),
        })
    }
}

/// Runs `f` over `jobs` on up to two threads, keeping the order of `jobs`.
fn run_parallel<J: Send, R: Send>(
    jobs: Vec<J>,
    f: impl Fn(J) -> StoreResult<R> + Sync,
) -> StoreResult<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 2);
    if jobs.len() < 2 || threads == 1 {
        return jobs.into_iter().map(&f).collect();
    }
    let mut slots: Vec<(usize, J)> = jobs.into_iter().enumerate().collect();
    let half = slots.len() / 2;
    let second = slots.split_off(half);
    let f = &f;
    let (a, b) = std::thread::scope(|s| {
        let handle = s.spawn(move || {
            second
                .into_iter()
                .map(|(i, j)| f(j).map(|r| (i, r)))
                .collect::<StoreResult<Vec<_>>>()
        });
        let a = slots
            .into_iter()
            .map(|(i, j)| f(j).map(|r| (i, r)))
            .collect::<StoreResult<Vec<_>>>();
        let b = handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("statistics worker panicked").into()));
        (a, b)
    });
    let mut all = a?;
    all.extend(b?);
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// Folds the complete lines of `bytes` (read from `path` at `consumed`) into `summary`;
/// returns how many bytes that was.
pub(crate) fn fold_lines<T: DaySummary>(
    path: &Path,
    consumed: u64,
    bytes: &[u8],
    summary: &mut T,
    quarantine: Option<&Quarantine>,
) -> usize {
    let complete = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    let torn_tail = usize::from(crate::store::quarantine::has_open_tail(bytes));
    let mut start = 0usize;
    for newline in memchr::memchr_iter(b'\n', &bytes[..complete]) {
        let (line, offset) = (&bytes[start..newline], start);
        start = newline + 1;
        if line.iter().all(u8::is_ascii_whitespace) || summary.fold(line) {
            continue;
        }
        // Not counted: a record of another kind, or a line that cannot be read at all,
        // which is kept aside rather than skipped in silence (only the unterminated tail,
        // not folded here, can be a torn write).
        match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            Ok(_) => {}
            Err(e) => {
                if let Some(q) = quarantine {
                    q.keep(path, consumed + offset as u64, line, &e.to_string());
                }
            }
        }
    }
    if torn_tail > 0 {
        tracing::warn!(file = %path.display(), "skipped a torn last journal line (crash mid-write)");
    }
    complete
}

/// Both journals' summaries.
pub struct Statistics {
    pub attempts: DayCache<AttemptsDay>,
    pub calls: DayCache<CallsDay>,
}

impl Statistics {
    /// Statistics over `journals` (files or rows alike).
    pub fn new(journals: Arc<Journals>) -> Self {
        Self {
            attempts: DayCache::new(journals.clone(), Kind::Attempts),
            calls: DayCache::new(journals, Kind::Calls),
        }
    }

    /// Lines of either journal that cannot be read are kept aside in `quarantine`.
    pub fn with_quarantine(mut self, quarantine: Arc<Quarantine>) -> Self {
        self.attempts.quarantine = Some(quarantine.clone());
        self.calls.quarantine = Some(quarantine);
        self
    }

    /// The seed's blocklist statistics for `range` (`today` = the current business date).
    pub fn blocklist(
        &self,
        range: DateRange,
        today: NaiveDate,
        current: attempts::CurrentFlag<'_>,
    ) -> StoreResult<attempts::BlocklistStatistics> {
        let days = self.attempts.days(range, today)?;
        Ok(attempts::merge(range, &days, current))
    }

    /// Brings every day of `range` up to date in both journals (in database mode, storing
    /// the rollups of settled days that lack one). Returns how many days were read.
    pub fn warm(&self, range: DateRange, today: NaiveDate) -> StoreResult<usize> {
        Ok(self.attempts.days(range, today)?.len() + self.calls.days(range, today)?.len())
    }

    /// Pipeline statistics per day and in total for `range`.
    pub fn pipeline(
        &self,
        range: DateRange,
        today: NaiveDate,
        tz: &str,
    ) -> StoreResult<calls::PipelineStatistics> {
        let days = self.calls.days(range, today)?;
        Ok(calls::merge(range, tz, &days))
    }

    /// The do-not-call lists' proof of scrub for `range`.
    pub fn audit(&self, range: DateRange, today: NaiveDate, tz: &str) -> StoreResult<scrub::Audit> {
        let days = self.calls.days(range, today)?;
        let days = days.iter().map(|(date, d)| scrub::AuditDay {
            date: date.to_string(),
            leads_checked: d.lists_checked,
            lists: d.lists.clone(),
        });
        Ok(scrub::audit(range, tz, days.collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Statistics {
        let tz = chrono_tz::America::New_York;
        Statistics::new(Arc::new(Journals::open(dir, tz).expect("journals")))
    }

    fn line(flag: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-11-20T15:00:00.000Z","field":"phone","value":"+13055551234","blocked":true,"reason":"r","flag_id":"{flag}","stage":"blocklist","source":"flag"}}"#
        ) + "\n"
    }

    #[test]
    fn closed_days_keep_their_summary_on_disk_until_the_journal_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let day: NaiveDate = "2026-11-20".parse().expect("date");
        let today: NaiveDate = "2026-11-23".parse().expect("date");
        let journal = crate::journal::attempts_path(dir.path(), day);
        std::fs::create_dir_all(journal.parent().expect("parent")).expect("mkdir");
        std::fs::write(&journal, line("a") + &line("a")).expect("write");
        let range = DateRange {
            start: day,
            end: day,
        };
        let none = |_: &str| None;

        // Today's file is open: no summary on disk for it.
        let open_range = DateRange {
            start: today,
            end: today,
        };
        files(dir.path())
            .blocklist(open_range, today, &none)
            .expect("stats");
        assert!(!sidecar_path(&crate::journal::attempts_path(dir.path(), today)).exists());

        let first = files(dir.path())
            .blocklist(range, today, &none)
            .expect("stats");
        assert_eq!(first.total_attempts, 2);
        let sidecar = sidecar_path(&journal);
        assert!(sidecar.exists());

        // A new process uses the summary (proved by planting a different count in it).
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&sidecar).expect("read")).expect("json");
        doc["summary"]["total"] = 99.into();
        std::fs::write(&sidecar, serde_json::to_vec(&doc).expect("json")).expect("write");
        let again = files(dir.path())
            .blocklist(range, today, &none)
            .expect("stats");
        assert_eq!(again.total_attempts, 99);

        // Once the journal grows (a migration appended), the summary is rebuilt.
        let mut text = std::fs::read_to_string(&journal).expect("read");
        text.push_str(&line("b"));
        std::fs::write(&journal, text).expect("append");
        let rebuilt = files(dir.path())
            .blocklist(range, today, &none)
            .expect("stats");
        assert_eq!(rebuilt.total_attempts, 3);
        assert_eq!(rebuilt.by_flag["b"].count, 1);
    }

    #[test]
    fn summary_files_expire_with_their_journal() {
        let name = "attempts_2024-01-01.jsonl.summary";
        assert_eq!(
            crate::journal::retention::file_date(name),
            "2024-01-01".parse().ok()
        );
    }
}
