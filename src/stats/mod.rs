//! Statistics over the daily journals. Each day's summary is cached with the number of
//! bytes of its file it covers: a past day is read once and never again (its file no longer
//! changes), today's file is read only from where the previous request stopped, and a file
//! that shrank (rewritten by a migration) is summarised afresh. Days missing from the cache
//! are summarised in parallel.

pub mod attempts;
pub mod calls;
pub mod range;
mod rows;
pub mod scrub;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use attempts::AttemptsDay;
pub use calls::CallsDay;
pub use range::{parse_range, DateRange};

use crate::store::quarantine::Quarantine;

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
    path_of: fn(&Path, NaiveDate) -> PathBuf,
    data_dir: PathBuf,
    /// Where a line that is not a record (and not a torn write) is kept aside.
    quarantine: Option<Arc<Quarantine>>,
    /// Database mode: days are read from the journal rows; `consumed` is a settled day's
    /// last line id, or a recent day's line count (a day whose marker changed is summarised
    /// afresh); a settled day's rollup is kept in the database (`day_summaries`) for every
    /// instance, like the file backend's sidecar.
    rows: Option<(Arc<crate::journal::Journals>, crate::journal::Kind)>,
}

impl<T: DaySummary> DayCache<T> {
    pub fn new(data_dir: &Path, path_of: fn(&Path, NaiveDate) -> PathBuf) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            path_of,
            data_dir: data_dir.to_path_buf(),
            quarantine: None,
            rows: None,
        }
    }

    /// The summary of every day in `range`, oldest first, each brought up to date. Days
    /// before `today` are closed: their summaries are also kept on disk beside the journal.
    pub fn days(&self, range: DateRange, today: NaiveDate) -> io::Result<Vec<(NaiveDate, Arc<T>)>> {
        let dates: Vec<NaiveDate> = range.dates().collect();
        let known: Vec<Option<Cached<T>>> = {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            dates.iter().map(|d| entries.get(d).cloned()).collect()
        };
        let jobs: Vec<(NaiveDate, Option<Cached<T>>)> = dates.iter().copied().zip(known).collect();
        let results = run_parallel(jobs, |(date, cached)| {
            if let Some((journals, kind)) = &self.rows {
                return Ok((
                    date,
                    self.update_rows(journals, *kind, (date, today), cached)?,
                ));
            }
            let path = (self.path_of)(&self.data_dir, date);
            let closed = date < today;
            let cached = match cached {
                None if closed => load_sidecar(&path),
                other => other,
            };
            let before = cached.as_ref().map(|c| c.consumed);
            let fresh = update(&path, cached, self.quarantine.as_deref())?;
            if closed && before != Some(fresh.consumed) && fresh.consumed > 0 {
                store_sidecar(&path, &fresh);
            }
            Ok((date, fresh))
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
}

/// A closed day's summary on disk, valid while its journal keeps the length it had.
#[derive(Serialize, Deserialize)]
struct Sidecar<T> {
    file_len: u64,
    summary: T,
}

pub fn sidecar_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".summary");
    journal.with_file_name(name)
}

fn load_sidecar<T: DaySummary>(journal: &Path) -> Option<Cached<T>> {
    let len = std::fs::metadata(journal).ok()?.len();
    let bytes = std::fs::read(sidecar_path(journal)).ok()?;
    let sidecar: Sidecar<T> = serde_json::from_slice(&bytes).ok()?;
    (sidecar.file_len == len).then(|| Cached {
        consumed: len,
        summary: Arc::new(sidecar.summary),
    })
}

fn store_sidecar<T: DaySummary>(journal: &Path, cached: &Cached<T>) {
    let sidecar = Sidecar {
        file_len: cached.consumed,
        summary: &*cached.summary,
    };
    let written = serde_json::to_vec(&sidecar)
        .map_err(io::Error::other)
        .and_then(|bytes| crate::store::write_atomic(&sidecar_path(journal), &bytes));
    if let Err(e) = written {
        tracing::warn!(file = %journal.display(), error = %e, "could not keep a day summary on disk");
    }
}

/// Runs `f` over `jobs` on up to two threads, keeping the order of `jobs`.
fn run_parallel<J: Send, R: Send>(
    jobs: Vec<J>,
    f: impl Fn(J) -> io::Result<R> + Sync,
) -> io::Result<Vec<R>> {
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
                .collect::<io::Result<Vec<_>>>()
        });
        let a = slots
            .into_iter()
            .map(|(i, j)| f(j).map(|r| (i, r)))
            .collect::<io::Result<Vec<_>>>();
        let b = handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("statistics worker panicked")));
        (a, b)
    });
    let mut all = a?;
    all.extend(b?);
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// Brings one day's summary up to the end of its file (complete lines only).
fn update<T: DaySummary>(
    path: &Path,
    cached: Option<Cached<T>>,
    quarantine: Option<&Quarantine>,
) -> io::Result<Cached<T>> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let (mut consumed, summary) = match cached {
        Some(c) if c.consumed == len => return Ok(c),
        Some(c) if c.consumed < len => (c.consumed, c.summary),
        _ => (0, Arc::new(T::default())),
    };
    if len == 0 {
        return Ok(Cached {
            consumed: 0,
            summary,
        });
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(consumed))?;
    let mut bytes = Vec::with_capacity((len - consumed) as usize);
    file.take(len - consumed).read_to_end(&mut bytes)?;
    let mut summary = Arc::unwrap_or_clone(summary);
    let complete = fold_lines(path, consumed, &bytes, &mut summary, quarantine);
    consumed += complete as u64;
    Ok(Cached {
        consumed,
        summary: Arc::new(summary),
    })
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
    pub fn new(data_dir: &Path) -> Self {
        Self {
            attempts: DayCache::new(data_dir, crate::journal::attempts_path),
            calls: DayCache::new(data_dir, crate::journal::calls_path),
        }
    }

    /// Database mode: the days are read from `journals`' rows.
    pub fn with_rows(mut self, journals: Arc<crate::journal::Journals>) -> Self {
        if journals.rows().is_some() {
            self.attempts.rows = Some((journals.clone(), crate::journal::Kind::Attempts));
            self.calls.rows = Some((journals, crate::journal::Kind::Calls));
        }
        self
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
    ) -> io::Result<attempts::BlocklistStatistics> {
        let days = self.attempts.days(range, today)?;
        Ok(attempts::merge(range, &days, current))
    }

    /// Brings every day of `range` up to date in both journals (in database mode, storing
    /// the rollups of settled days that lack one). Returns how many days were read.
    pub fn warm(&self, range: DateRange, today: NaiveDate) -> io::Result<usize> {
        Ok(self.attempts.days(range, today)?.len() + self.calls.days(range, today)?.len())
    }

    /// Pipeline statistics per day and in total for `range`.
    pub fn pipeline(
        &self,
        range: DateRange,
        today: NaiveDate,
        tz: &str,
    ) -> io::Result<calls::PipelineStatistics> {
        let days = self.calls.days(range, today)?;
        Ok(calls::merge(range, tz, &days))
    }

    /// The do-not-call lists' proof of scrub for `range`.
    pub fn audit(&self, range: DateRange, today: NaiveDate, tz: &str) -> io::Result<scrub::Audit> {
        let days = self.calls.days(range, today)?;
        Ok(scrub::audit(range, tz, &days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        Statistics::new(dir.path())
            .blocklist(open_range, today, &none)
            .expect("stats");
        assert!(!sidecar_path(&crate::journal::attempts_path(dir.path(), today)).exists());

        let first = Statistics::new(dir.path())
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
        let again = Statistics::new(dir.path())
            .blocklist(range, today, &none)
            .expect("stats");
        assert_eq!(again.total_attempts, 99);

        // Once the journal grows (a migration appended), the summary is rebuilt.
        let mut text = std::fs::read_to_string(&journal).expect("read");
        text.push_str(&line("b"));
        std::fs::write(&journal, text).expect("append");
        let rebuilt = Statistics::new(dir.path())
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
