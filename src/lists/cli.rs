//! `callgate lists import NAME FILE [--changes] [--downloaded-at DATE]` and `callgate lists
//! lookup PHONE`, offline on the data directory (taking its lock). The file is read a line
//! at a time, so the 3 GB national file goes in without being held in memory; a progress
//! bar follows the bytes read.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;

use super::Lists;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::store::DataDirLock;

fn open(settings: &Settings) -> anyhow::Result<(DataDirLock, Lists)> {
    let lock = DataDirLock::acquire(&settings.data_dir)?;
    Ok((lock, read(settings)?))
}

/// The lists as the data directory holds them, without the lock (reads only).
fn read(settings: &Settings) -> anyhow::Result<Lists> {
    Lists::open(
        &settings.data_dir,
        &settings.lists,
        Arc::new(SystemClock),
        settings.timezone,
    )
}

/// Reads through a progress bar over the file's bytes.
struct Progress<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Loads `file` into list `name` (a full list, or with `changes` a change list).
pub fn import(
    settings: &Settings,
    name: &str,
    file: &Path,
    changes: bool,
    downloaded_at: Option<&str>,
) -> anyhow::Result<String> {
    let (_lock, lists) = open(settings)?;
    let date = downloaded_at
        .map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d"))
        .transpose()
        .context("--downloaded-at must be YYYY-MM-DD")?;
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let input = Progress {
        inner: f,
        bar: bar.clone(),
    };
    let source = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let out = if changes {
        let (meta, c) = lists.apply_changes(name, input, &source, date, now)?;
        format!(
            "list {name}: version {} ({} numbers), {} added, {} deleted, {} invalid",
            meta.version, meta.count, c.added, c.deleted, c.report.invalid
        )
    } else {
        let today = crate::clock::business_date(now, settings.timezone);
        let (meta, report) = lists.replace(name, input, &source, date.unwrap_or(today), now)?;
        let mut text = format!(
            "list {name}: version {} ({} numbers, {} prefixes, downloaded {}), {} invalid",
            meta.version, meta.count, meta.prefixes, meta.downloaded_at, report.invalid
        );
        for bad in &report.invalid_lines {
            text.push_str(&format!(
                "\n  line {}: `{}`: {}",
                bad.line, bad.text, bad.error
            ));
        }
        text
    };
    bar.finish_and_clear();
    Ok(out)
}

/// The lists holding `phone`, as JSON.
pub fn lookup(settings: &Settings, phone: &str) -> anyhow::Result<serde_json::Value> {
    let lists = read(settings)?;
    let number = crate::domain::PhoneNumber::parse(phone, &settings.default_country)
        .map_err(|e| anyhow::anyhow!("{phone}: {e}"))?;
    Ok(serde_json::json!({"phone": number.as_str(), "lists": lists.lookup(number.as_str())}))
}
