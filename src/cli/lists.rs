//! `callgate lists import NAME FILE [--changes] [--downloaded-at DATE] [--column C]
//! [--url URL]` and `callgate lists lookup PHONE`. Offline the load works on the data
//! directory (taking its lock), or with `DATABASE_URL` stores the new version in the
//! database, where running instances pick it up within seconds; with `--url` the file is
//! streamed to a running server's `PUT /api/admin/lists/{name}`. Either way the file is read
//! as it goes (the 3 GB national file is never held in memory) behind a progress bar over
//! its bytes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::NaiveDate;

use super::Target;
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::lists::store::Load;
use crate::lists::versions::{DbVersions, FileVersions, ListVersions};
use crate::lists::Lists;
use crate::store::DataDirLock;

/// The lists as stored (the data directory, or the database's versions), without a lock.
async fn read(settings: &Settings) -> anyhow::Result<Lists> {
    let clock = Arc::new(SystemClock);
    let versions: Arc<dyn ListVersions> = match &settings.database_url {
        Some(url) => {
            let db = crate::db::Db::connect(url.expose(), 2)
                .await
                .context("DATABASE_URL: cannot connect to the database")?;
            Arc::new(DbVersions::new(db))
        }
        None => Arc::new(FileVersions::in_data_dir(&settings.data_dir)),
    };
    Lists::load(
        &settings.data_dir,
        &settings.lists,
        clock,
        settings.timezone,
        versions,
    )
    .await
}

fn bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
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

/// What `lists import` was asked to do.
pub struct Import {
    pub name: String,
    pub file: PathBuf,
    pub changes: bool,
    pub downloaded_at: Option<String>,
    pub column: Option<String>,
}

/// Loads `file` into list `name` (a full list, or with `changes` a change list).
pub async fn import(settings: &Settings, job: Import, target: Target) -> anyhow::Result<String> {
    let downloaded_at = job
        .downloaded_at
        .as_deref()
        .map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d"))
        .transpose()
        .context("--downloaded-at must be YYYY-MM-DD")?;
    let f = std::fs::File::open(&job.file)
        .with_context(|| format!("cannot read {}", job.file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if let Target::Api { url, api_key } = target {
        return upload(&url, &api_key, &job, downloaded_at, f, len).await;
    }
    let _lock = match settings.database_url {
        Some(_) => None,
        None => Some(
            DataDirLock::acquire(&settings.data_dir).map_err(|e| match e {
                e @ crate::store::lock::LockError::Held { .. } => {
                    anyhow::anyhow!("{e}, or use --url to go through its API")
                }
                e => e.into(),
            })?,
        ),
    };
    let lists = read(settings).await?;
    let source = file_name(&job.file);
    let load = Load {
        downloaded_at,
        column: job.column.clone(),
    };
    let bar = bar(len);
    let input = Progress {
        inner: f,
        bar: bar.clone(),
    };
    let now = chrono::Utc::now();
    let name = job.name.clone();
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        if job.changes {
            let (meta, c) = lists.apply_changes(&name, input, &source, &load, now)?;
            return Ok(format!(
                "list {name}: version {} ({}), {} added, {} deleted, {} invalid",
                meta.version,
                count(meta.count, "number", "numbers"),
                c.added,
                c.deleted,
                c.report.invalid
            ));
        }
        let (meta, report) = lists.replace(&name, input, &source, &load, now)?;
        let mut text = format!(
            "list {name}: version {} ({}, {}, downloaded {}), {} invalid",
            meta.version,
            count(meta.count, "number", "numbers"),
            count(meta.prefixes as u64, "prefix", "prefixes"),
            meta.downloaded_at,
            report.invalid
        );
        for bad in &report.invalid_lines {
            let file = bad
                .file
                .as_deref()
                .map(|f| format!("{f} "))
                .unwrap_or_default();
            text.push_str(&format!(
                "\n  {file}line {}: `{}`: {}",
                bad.line, bad.text, bad.error
            ));
        }
        Ok(text)
    })
    .await
    .context("the load stopped")??;
    bar.finish_and_clear();
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Streams the file to a running server.
async fn upload(
    url: &str,
    api_key: &str,
    job: &Import,
    downloaded_at: Option<NaiveDate>,
    f: std::fs::File,
    len: u64,
) -> anyhow::Result<String> {
    use futures_util::StreamExt;
    let base = url.trim_end_matches('/');
    let name = &job.name;
    let endpoint = if job.changes {
        format!("{base}/api/admin/lists/{name}/changes")
    } else {
        format!("{base}/api/admin/lists/{name}")
    };
    // The file's name goes along: the server records it and reads a date in it.
    let mut query: Vec<(&str, String)> = vec![("source", file_name(&job.file))];
    if let Some(d) = downloaded_at {
        query.push(("downloaded_at", d.to_string()));
    }
    if let Some(c) = &job.column {
        query.push(("column", c.clone()));
    }
    let bar = bar(len);
    let counted = bar.clone();
    let stream = chunks(tokio::fs::File::from_std(f)).map(move |chunk| {
        if let Ok(c) = &chunk {
            counted.inc(c.len() as u64);
        }
        chunk
    });
    let client = super::http_client()?;
    let request = if job.changes {
        client.post(&endpoint)
    } else {
        client.put(&endpoint)
    };
    let response = request
        .query(&query)
        .header("X-API-Key", api_key)
        .header("Content-Length", len)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .context("request to the server failed")?;
    bar.finish_and_clear();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("server answered {status}: {body}");
    }
    Ok(body)
}

/// A file as a stream of chunks.
fn chunks(file: tokio::fs::File) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}

/// The lists holding `phone`, as JSON.
pub async fn lookup(settings: &Settings, phone: &str) -> anyhow::Result<serde_json::Value> {
    let lists = read(settings).await?;
    let number = crate::domain::PhoneNumber::parse(phone, &settings.default_country)
        .map_err(|e| anyhow::anyhow!("{phone}: {e}"))?;
    Ok(serde_json::json!({"phone": number.as_str(), "lists": lists.lookup(number.as_str())}))
}

/// `1 prefix`, `2 prefixes`.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
