//! Loading a list: a full file replaces it, a change list amends the version in force, an
//! admin may empty it. Each builds the new set beside the one in force, keeps its snapshot
//! (files, or the database), and only then swaps it in; a refused file changes nothing.

use std::io::{self, Read};
use std::sync::{MutexGuard, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::formats;
use super::parse::{self, LoadError, Report};
use super::set::NumberSet;
use super::store::{hex, install, List, Lists, Load, Meta};

/// Passes bytes through while hashing them.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

impl Lists {
    /// The list `name`, held against other loads of it until the guard drops.
    fn take(&self, name: &str) -> Result<(&List, MutexGuard<'_, ()>), ReplaceError> {
        let list = self
            .find(name)
            .ok_or_else(|| ReplaceError::NoSuchList(name.into()))?;
        Ok((
            list,
            list.loading.lock().unwrap_or_else(PoisonError::into_inner),
        ))
    }

    /// Replaces a list with the file read from `input` (blocking: run it off the async
    /// threads). Any wrapping and format [`super::formats`] reads; the download date is
    /// `load.downloaded_at`, else a date in `source` (the file's name), else the newest
    /// entry of a zip archive, else today.
    pub fn replace(
        &self,
        name: &str,
        input: impl Read,
        source: &str,
        load: &Load,
        now: DateTime<Utc>,
    ) -> Result<(Meta, Report), ReplaceError> {
        let (list, _one) = self.take(name)?;
        let mut hashing = Hashing {
            inner: input,
            hash: Sha256::new(),
        };
        let mut reader = parse::ListReader::new(list.settings.kind.accepts_prefixes());
        let stamped = formats::for_each_part(&mut hashing, &self.dir, |(part, lines)| {
            reader.part(part, lines, load.column.as_deref())
        })?;
        let (set, report) = reader.finish()?;
        let sha256 = hex(&hashing.hash.finalize());
        let version = list.current.load().as_ref().map_or(0, |v| v.meta.version) + 1;
        let downloaded_at = self.download_date(list, load.downloaded_at, source, stamped, now)?;
        let meta = self.keep(name, &set, version, downloaded_at, now, source, sha256)?;
        install(list, meta.clone(), set);
        tracing::info!(list = name, version = meta.version, count = meta.count, invalid = report.invalid, %downloaded_at, "list replaced");
        Ok((meta, report))
    }

    /// The operator's date, else one in the file's name, else the archive's, else today;
    /// never after today. A date only inferred (from the name or the zip's entries) is
    /// refused when it cannot be the download's: before the version in force, before the
    /// list's source existed ([`source_began`]), or already past the list's
    /// `max_age_days` — a zip stamped with the format's default 1980-01-01 would
    /// otherwise become a version stale at once and close the gate. The operator's own
    /// `downloaded_at` is taken as given.
    fn download_date(
        &self,
        list: &List,
        given: Option<NaiveDate>,
        source: &str,
        stamped: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<NaiveDate, ReplaceError> {
        let today = crate::clock::business_date(now, self.tz);
        if let Some(d) = given {
            return Ok(d.min(today));
        }
        let (inferred, from) = match (formats::date_in_name(source), stamped) {
            (Some(d), _) => (d, "the file's name"),
            (None, Some(d)) => (d, "the dates of the zip's entries"),
            (None, None) => return Ok(today),
        };
        let inferred = inferred.min(today);
        let in_force = list.current.load().as_ref().map(|v| v.meta.downloaded_at);
        let began = source_began(list.settings.kind);
        let why = if inferred < began {
            Some(format!("before the list's source existed ({began})"))
        } else if let Some(d) = in_force.filter(|d| inferred < *d) {
            Some(format!("older than the version in force (downloaded {d})"))
        } else {
            list.settings.max_age_days.and_then(|max| {
                let age = (today - inferred).num_days();
                (age > i64::from(max)).then(|| {
                    format!("{age} days old, past this list's max_age_days ({max}): it would be stale at once")
                })
            })
        };
        match why {
            None => Ok(inferred),
            Some(why) => Err(ReplaceError::Date(format!(
                "the download date {inferred}, taken from {from}, is {why}; nothing was \
                 loaded. If the file really is from then, or to give the right date, send \
                 downloaded_at=YYYY-MM-DD"
            ))),
        }
    }

    /// Empties a list, as a new version (blocking). A gated list then blocks every lead it
    /// covers: an empty registry is not a current registry.
    pub fn empty(&self, name: &str, now: DateTime<Utc>) -> Result<Meta, ReplaceError> {
        let (list, _one) = self.take(name)?;
        let version = list.current.load().as_ref().map_or(0, |v| v.meta.version) + 1;
        let set = NumberSet::new();
        let today = crate::clock::business_date(now, self.tz);
        let meta = self.keep(
            name,
            &set,
            version,
            today,
            now,
            "emptied by an admin",
            String::new(),
        )?;
        install(list, meta.clone(), set);
        tracing::warn!(list = name, version, "list emptied by an admin");
        Ok(meta)
    }

    /// Applies an FTC change list (plain, gzip or zip) to the version in force, as a new
    /// version (blocking). The new version keeps the base's download date unless
    /// `load.downloaded_at` is given or the file's name carries a date.
    pub fn apply_changes(
        &self,
        name: &str,
        input: impl Read,
        source: &str,
        load: &Load,
        now: DateTime<Utc>,
    ) -> Result<(Meta, parse::Changes), ReplaceError> {
        let (list, _one) = self.take(name)?;
        let base = list.current.load_full();
        let empty = NumberSet::new();
        let mut hashing = Hashing {
            inner: input,
            hash: Sha256::new(),
        };
        let mut reader = parse::ChangeReader::new(base.as_ref().map_or(&empty, |v| &v.set));
        let stamped = formats::for_each_part(&mut hashing, &self.dir, |(part, lines)| {
            reader.part(part, lines)
        })?;
        let (set, changes) = reader.finish()?;
        let sha256 = hex(&hashing.hash.finalize());
        let version = base.as_ref().map_or(0, |v| v.meta.version) + 1;
        let downloaded_at = match (load.downloaded_at, formats::date_in_name(source), stamped) {
            (None, None, None) => base
                .as_ref()
                .map(|v| v.meta.downloaded_at)
                .unwrap_or_else(|| crate::clock::business_date(now, self.tz)),
            (given, _, _) => self.download_date(list, given, source, stamped, now)?,
        };
        let meta = self.keep(name, &set, version, downloaded_at, now, source, sha256)?;
        install(list, meta.clone(), set);
        tracing::info!(
            list = name,
            version,
            added = changes.added,
            deleted = changes.deleted,
            "list change list applied"
        );
        Ok((meta, changes))
    }

    /// Keeps the new version's snapshot and record in the list versions and returns its
    /// record. The version number follows the newest stored one, and a load that another
    /// instance beat to the same number is refused (load it again) rather than diverging
    /// from the others.
    #[allow(clippy::too_many_arguments)]
    fn keep(
        &self,
        name: &str,
        set: &NumberSet,
        version: u64,
        downloaded_at: NaiveDate,
        now: DateTime<Utc>,
        source: &str,
        sha256: String,
    ) -> Result<Meta, ReplaceError> {
        let mut bytes = Vec::with_capacity(set.size_bytes() as usize + 64);
        set.write_to(&mut bytes)?;
        let mut meta = Meta {
            version,
            downloaded_at,
            loaded_at: now,
            source: source.to_string(),
            sha256,
            count: set.len(),
            prefixes: set.prefixes(),
            snapshot_sha256: hex(&Sha256::digest(&bytes)),
        };
        meta.version = meta.version.max(self.versions.latest(name)? + 1);
        if !self.versions.keep(name, &meta, &bytes)? {
            return Err(ReplaceError::Conflict(name.to_string()));
        }
        Ok(meta)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error("no list `{0}` is configured")]
    NoSuchList(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("could not keep the snapshot: {0}")]
    Storage(#[from] crate::store::StoreError),
    #[error("another instance loaded list `{0}` at the same moment; load it again")]
    Conflict(String),
    /// A download date inferred from the file that cannot be right.
    #[error("{0}")]
    Date(String),
}

impl From<io::Error> for ReplaceError {
    fn from(e: io::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// The first day a list of `kind` can have been downloaded: the National Do Not Call
/// Registry opened on 2003-06-27; no do-not-call list predates the TCPA (1991-12-20).
pub fn source_began(kind: crate::config::lists::ListKind) -> NaiveDate {
    use crate::config::lists::ListKind;
    let (y, m, d) = match kind {
        ListKind::NationalDnc => (2003, 6, 27),
        _ => (1991, 12, 20),
    };
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}
