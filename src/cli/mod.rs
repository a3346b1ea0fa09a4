//! Offline and remote admin commands: `callgate blocklist import|export`, `stats`,
//! `check`. Offline they work on the data directory directly (taking its lock, so they
//! refuse while a server holds it), or with `DATABASE_URL` on the database (while servers
//! run: they follow the change log); with `--url` they go through a running server's
//! admin API.

mod check;
pub mod lists;

pub use check::check;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::blocklist::{bulk, Blocklist};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::DataDirLock;

/// Where an admin command sends its work.
pub enum Target {
    DataDir,
    Api { url: String, api_key: String },
}

/// The blocklist to work on without a server: the data directory (locked), or with
/// `DATABASE_URL` the database (no lock: running instances follow the change log).
async fn open_offline(settings: &Settings) -> anyhow::Result<(Option<DataDirLock>, Blocklist)> {
    if let Some(url) = &settings.database_url {
        let db = crate::db::Db::connect(url.expose(), 2)
            .await
            .context("DATABASE_URL: cannot connect to the database")?;
        let blocklist = Blocklist::open_db(
            db,
            &settings.default_country,
            Arc::new(SystemClock),
            Arc::new(Metrics::new()),
        )
        .await?;
        return Ok((None, blocklist));
    }
    let lock = DataDirLock::acquire(&settings.data_dir).map_err(|e| match e {
        e @ crate::store::lock::LockError::Held { .. } => {
            anyhow::anyhow!("{e}, or use --url to go through its API")
        }
        e => e.into(),
    })?;
    let blocklist = Blocklist::open(
        &settings.data_dir,
        &settings.default_country,
        usize::MAX,
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )?;
    Ok((Some(lock), blocklist))
}

fn is_json(path: &Path, format: Option<&str>) -> bool {
    match format {
        Some(f) => f.eq_ignore_ascii_case("json"),
        None => path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json")),
    }
}

pub fn http_client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .context("cannot build the HTTP client")
}

/// `callgate blocklist import FILE`.
pub async fn import(
    settings: &Settings,
    file: &Path,
    format: Option<&str>,
    target: Target,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let json = is_json(file, format);
    if let Target::Api { url, api_key } = target {
        let response = http_client()?
            .post(format!(
                "{}/api/admin/blocklist/bulk",
                url.trim_end_matches('/')
            ))
            .header("X-API-Key", api_key)
            .header(
                "Content-Type",
                if json { "application/json" } else { "text/csv" },
            )
            .body(bytes)
            .send()
            .await
            .context("request to the server failed")?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("server answered {status}: {body}");
        }
        println!("{body}");
        return Ok(());
    }
    let (_lock, blocklist) = open_offline(settings).await?;
    let blocklist = Arc::new(blocklist);
    let country = settings.default_country.clone();
    let parsed = if json {
        bulk::parse_json(&bytes, &country)?
    } else {
        bulk::parse_csv(&bytes, &country)
    };
    let bar = indicatif::ProgressBar::new(parsed.records.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} flags {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut added, mut existing) = (0, 0);
    let mut records = parsed.records;
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(10_000));
        let chunk = std::mem::replace(&mut records, rest);
        let n = chunk.len() as u64;
        let (a, e) = blocklist.add_many(chunk).await?;
        added += a.len();
        existing += e.len();
        bar.inc(n);
    }
    bar.finish_and_clear();
    let folding = blocklist.clone();
    tokio::task::spawn_blocking(move || folding.compact())
        .await?
        .context("cannot write blocklist-config.json")?;
    let into = match &settings.database_url {
        Some(_) => "the database".to_string(),
        None => settings.data_dir.display().to_string(),
    };
    println!(
        "imported {} into {into}: {added} added, {existing} already present, {} invalid",
        file.display(),
        parsed.invalid.len()
    );
    for bad in &parsed.invalid {
        println!("  line {}: `{}`: {}", bad.line, bad.value, bad.error);
    }
    Ok(())
}

/// `callgate blocklist export`.
pub async fn export(
    settings: &Settings,
    format: &str,
    output: Option<&Path>,
    target: Target,
) -> anyhow::Result<()> {
    let csv = match format.to_ascii_lowercase().as_str() {
        "csv" => true,
        "json" => false,
        other => bail!("--format must be csv or json, not `{other}`"),
    };
    let bytes = match target {
        Target::Api { url, api_key } => {
            let response = http_client()?
                .get(format!(
                    "{}/api/admin/blocklist/export?format={}",
                    url.trim_end_matches('/'),
                    if csv { "csv" } else { "json" }
                ))
                .header("X-API-Key", api_key)
                .send()
                .await
                .context("request to the server failed")?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .context("reading the server's answer")?;
            if !status.is_success() {
                bail!(
                    "server answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            body.to_vec()
        }
        Target::DataDir => {
            let (_lock, blocklist) = open_offline(settings).await?;
            blocklist.read(|index| -> anyhow::Result<Vec<u8>> {
                if csv {
                    Ok(bulk::to_csv(&index.sorted())?)
                } else {
                    let doc =
                        serde_json::json!({"enabled": index.enabled, "flags": index.sorted()});
                    Ok(serde_json::to_vec_pretty(&doc)?)
                }
            })?
        }
    };
    match output {
        Some(path) => std::fs::write(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

/// `callgate stats`: pipeline statistics per business day from the journals (the files in
/// `DATA_DIR`, or the database's rows with `DATABASE_URL`), as JSON or CSV.
pub async fn stats(
    settings: &Settings,
    start: Option<&str>,
    end: Option<&str>,
    csv: bool,
) -> anyhow::Result<Vec<u8>> {
    let today = crate::clock::business_date(chrono::Utc::now(), settings.timezone);
    let range = crate::stats::parse_range(start, end, today).map_err(anyhow::Error::msg)?;
    let journals = match &settings.database_url {
        None => crate::journal::Journals::open(&settings.data_dir, settings.timezone)?,
        Some(url) => {
            let db = crate::db::Db::connect(url.expose(), 2).await?;
            crate::journal::Journals::open_db(db, &settings.data_dir, settings.timezone)
        }
    };
    let statistics = crate::stats::Statistics::new(std::sync::Arc::new(journals));
    let tz = settings.timezone.name();
    let stats =
        tokio::task::spawn_blocking(move || statistics.pipeline(range, today, tz)).await??;
    Ok(if csv {
        crate::stats::calls::to_csv(&stats)?
    } else {
        let mut v = serde_json::to_vec_pretty(&stats)?;
        v.push(b'\n');
        v
    })
}
