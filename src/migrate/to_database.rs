//! `callgate migrate --to-database`: copies a file data directory (`DATA_DIR`, which must
//! not be in use: its lock is taken) into the database named by `DATABASE_URL`, so a
//! single-binary deployment can move to several instances. Copied: the flags with their
//! ids and timestamps (and whether matching is on), the config documents, every daily
//! journal file, the open outbox entries and the deferred queue. Idempotent: flags are
//! matched by id and by value, a journal file is recorded as copied in the same commit as
//! its lines, and existing outbox and queue rows are left as they are — run it twice, or
//! again after an interruption, and nothing is copied twice.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use serde_json::Value;

use crate::blocklist::Blocklist;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::db::copy::OutboxRow;
use crate::db::deferred::DeferredRow;
use crate::db::journals::JournalLine;
use crate::db::Db;
use crate::dispatch::outbox::{Outbox, State};
use crate::journal::records::{Attempt, CallEvent};
use crate::journal::retention::file_date;
use crate::journal::{complete_lines, rows, Kind, ATTEMPTS_DIR, CALLS_DIR};
use crate::metrics::Metrics;
use crate::schedule::queue::DeferredQueue;
use crate::store::quarantine::Quarantine;
use crate::store::DataDirLock;

/// What the copy did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub flags_added: usize,
    pub flags_already_there: usize,
    pub documents_copied: usize,
    pub documents_already_there: usize,
    pub journal_files_copied: usize,
    pub journal_files_already_there: usize,
    pub journal_lines: usize,
    /// Lines that could not be read, kept aside in the quarantine file.
    pub journal_lines_unreadable: usize,
    pub outbox_added: usize,
    pub outbox_already_there: usize,
    pub deferred_added: usize,
    pub deferred_already_there: usize,
}

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "flags: {} added, {} already there",
            self.flags_added, self.flags_already_there
        )?;
        writeln!(
            f,
            "config documents: {} copied, {} already there",
            self.documents_copied, self.documents_already_there
        )?;
        writeln!(
            f,
            "journal files: {} copied ({} lines, {} unreadable kept in quarantine), {} already there",
            self.journal_files_copied,
            self.journal_lines,
            self.journal_lines_unreadable,
            self.journal_files_already_there
        )?;
        writeln!(
            f,
            "outbox: {} added, {} already there",
            self.outbox_added, self.outbox_already_there
        )?;
        write!(
            f,
            "deferred queue: {} added, {} already there",
            self.deferred_added, self.deferred_already_there
        )
    }
}

fn bar(len: u64, what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {what} {{elapsed}}");
    bar.set_style(
        indicatif::ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Runs the copy.
pub async fn to_database(settings: &Settings) -> anyhow::Result<Copied> {
    let url = settings
        .database_url
        .as_ref()
        .context("--to-database: set DATABASE_URL to the database to copy into")?;
    let _lock = DataDirLock::acquire(&settings.data_dir)?;
    let db = Db::connect(url.expose(), 4)
        .await
        .context("DATABASE_URL: cannot connect to the database or migrate its schema")?;
    let dir = &settings.data_dir;
    let quarantine = Quarantine::open(dir).context("DATA_DIR: cannot open the quarantine file")?;
    let mut copied = Copied::default();
    copy_flags(settings, &db, &mut copied).await?;
    let now = Utc::now();
    for name in [
        crate::schedule::config::CONFIG_FILE,
        crate::tracker::config::AM_FILE,
        crate::tracker::config::PROTECTION_FILE,
        crate::dispatch::callerid::config::FILE,
        crate::dispatch::callerid::imported::FILE,
    ] {
        let path = dir.join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let body: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        if db.copy_document(name, &body, now).await? {
            copied.documents_copied += 1;
        } else {
            copied.documents_already_there += 1;
        }
    }
    copy_journals(dir, &db, &quarantine, &mut copied).await?;
    copy_queues(dir, &db, &quarantine, &mut copied).await?;
    Ok(copied)
}

async fn copy_flags(settings: &Settings, db: &Db, copied: &mut Copied) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let files = Blocklist::open(
        &settings.data_dir,
        &settings.default_country,
        usize::MAX,
        Arc::new(SystemClock),
        metrics.clone(),
    )?;
    let (flags, enabled) = files.read(|i| {
        (
            i.sorted().into_iter().cloned().collect::<Vec<_>>(),
            i.enabled,
        )
    });
    let shared = Blocklist::open_db(
        db.clone(),
        &settings.default_country,
        Arc::new(SystemClock),
        metrics,
    )
    .await?;
    let bar = bar(flags.len() as u64, "flags");
    let total = flags.len();
    for chunk in flags.chunks(10_000) {
        let (added, _, _) = shared.import_kept(chunk.to_vec()).await?;
        copied.flags_added += added;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    copied.flags_already_there = total - copied.flags_added;
    if shared.is_enabled() != enabled {
        shared.set_enabled(enabled).await?;
    }
    Ok(())
}

/// Every daily file of both journals, oldest first.
fn journal_files(dir: &Path) -> anyhow::Result<Vec<(Kind, std::path::PathBuf)>> {
    let mut files = Vec::new();
    for (which, sub) in [(Kind::Calls, CALLS_DIR), (Kind::Attempts, ATTEMPTS_DIR)] {
        let entries = match std::fs::read_dir(dir.join(sub)) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().to_string());
            if name.as_deref().is_some_and(|n| n.ends_with(".jsonl")) {
                files.push((which, path));
            }
        }
    }
    files.sort_by(|a, b| a.1.file_name().cmp(&b.1.file_name()));
    Ok(files)
}

async fn copy_journals(
    dir: &Path,
    db: &Db,
    quarantine: &Quarantine,
    copied: &mut Copied,
) -> anyhow::Result<()> {
    let files = journal_files(dir)?;
    let bar = bar(files.len() as u64, "journal files");
    for (which, path) in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some(date) = file_date(&name) else {
            bar.inc(1);
            continue;
        };
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = Vec::new();
        let (complete, _) = complete_lines(&bytes);
        for line in complete {
            let text = String::from_utf8_lossy(line).to_string();
            let parsed: Result<JournalLine, serde_json::Error> = match which {
                Kind::Calls => {
                    serde_json::from_slice::<CallEvent>(line).map(|e| rows::call_line(&e, date))
                }
                Kind::Attempts => {
                    serde_json::from_slice::<Attempt>(line).map(|a| rows::attempt_line(&a, date))
                }
            };
            match parsed {
                Ok(mut row) => {
                    row.line = text;
                    lines.push(row);
                }
                Err(e) => {
                    let offset = (line.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
                    quarantine.keep(&path, offset as u64, line, &e.to_string());
                    copied.journal_lines_unreadable += 1;
                }
            }
        }
        let sub = match which {
            Kind::Calls => CALLS_DIR,
            Kind::Attempts => ATTEMPTS_DIR,
        };
        let key = format!("{sub}/{name}");
        if db.copy_journal_file(&key, &lines, Utc::now()).await? {
            copied.journal_files_copied += 1;
            copied.journal_lines += lines.len();
        } else {
            copied.journal_files_already_there += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

async fn copy_queues(
    dir: &Path,
    db: &Db,
    quarantine: &Quarantine,
    copied: &mut Copied,
) -> anyhow::Result<()> {
    let (outbox, _) = Outbox::open(dir, Utc::now(), quarantine)?;
    for e in outbox.pending() {
        let state = match e.state {
            State::Queued => "queued",
            State::Failed => "failed",
            State::InFlight | State::Unconfirmed => "unconfirmed",
        };
        let row = OutboxRow {
            request_id: e.request_id.clone(),
            lead_id: e.lead_id.clone(),
            phone: e.phone.clone(),
            body: e.body.clone(),
            state: state.into(),
            queued_at: e.queued_at,
            attempts: serde_json::to_value(&e.attempts)?,
            last_error: e.last_error.clone(),
        };
        if db.copy_outbox_row(&row).await? {
            copied.outbox_added += 1;
        } else {
            copied.outbox_already_there += 1;
        }
    }
    let (queue, in_doubt) = DeferredQueue::open(dir, quarantine)?;
    if !in_doubt.is_empty() {
        tracing::warn!(count = in_doubt.len(), "deferred leads whose release was cut short are copied as waiting: start the file server once first to settle them if their calls may have been accepted");
    }
    let (_, entries) = queue.list(None, None, 0, usize::MAX);
    let bar = bar(entries.len() as u64, "deferred leads");
    for e in entries {
        let row = DeferredRow {
            id: e.id.clone(),
            lead_id: e.lead_id.clone(),
            phone: e.phone.clone(),
            request_id: e.request_id.clone(),
            lead: serde_json::from_str(&e.lead).unwrap_or(Value::Null),
            first_deferred_at: e.first_deferred_at,
            deferred_at: e.deferred_at,
            release_at: e.release_at,
            stage: e.stage.clone(),
            reason: e.reason.clone(),
            releases: i32::try_from(e.releases).unwrap_or(i32::MAX),
            releasing: None,
        };
        if db.copy_deferred_row(&row).await? {
            copied.deferred_added += 1;
        } else {
            copied.deferred_already_there += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}
