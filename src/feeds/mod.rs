//! Remote number and word feeds (`[[feeds]]`), refreshed on their own schedule, with the
//! last good copy of each cached under `DATA_DIR/feeds/` (in database mode, in the
//! database, fetched by the instance holding the feed's lease) and loaded at startup before
//! the first fetch — a restart without network still blocks. A failed fetch (network error,
//! non-2xx, timeout, a body over the size limit, or zero entries where there were some)
//! keeps the last good list; the failure is logged and shown. Also owns the content screen:
//! `[content]` words plus every word feed, rebuilt into one automaton when a list changes.

pub mod parse;
mod shared;

pub use shared::LEASE_TTL;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::blocklist::content::Screen;
use crate::clock::SharedClock;
use crate::config::{ContentSettings, FeedKind, FeedSettings};
use crate::health::{ComponentReport, HealthSource, HealthStatus};
use crate::metrics::{FeedLabels, Metrics};

pub const FEEDS_DIR: &str = "feeds";

#[derive(Serialize, Deserialize)]
struct CacheFile {
    fetched_at: DateTime<Utc>,
    entries: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedStatus {
    pub entries: usize,
    pub skipped: usize,
    pub last_success: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub next_refresh: Option<DateTime<Utc>>,
    /// Where the list in force came from: `network` or `cache`.
    pub source: Option<&'static str>,
}

struct Feed {
    settings: FeedSettings,
    list: RwLock<Arc<Vec<String>>>,
    numbers: RwLock<Arc<HashSet<String>>>,
    status: Mutex<FeedStatus>,
}

/// One feed's state, as shown to admins.
#[derive(Debug, Clone, Serialize)]
pub struct FeedView {
    pub name: String,
    pub kind: &'static str,
    pub url: String,
    pub refresh_secs: u64,
    #[serde(flatten)]
    pub status: FeedStatus,
    pub stale: bool,
}

pub struct Feeds {
    feeds: Vec<Feed>,
    words: Vec<String>,
    screen: RwLock<Arc<Screen>>,
    pub lead_fields: Vec<String>,
    http: reqwest::Client,
    dir: PathBuf,
    country: String,
    clock: SharedClock,
    started: DateTime<Utc>,
    metrics: Arc<Metrics>,
    /// Database mode: the shared last good copies, and this instance's name in leases.
    shared: Option<(crate::db::Db, String)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    l.read().unwrap_or_else(PoisonError::into_inner).clone()
}

fn set<T>(l: &RwLock<T>, v: T) {
    *l.write().unwrap_or_else(PoisonError::into_inner) = v;
}

impl Feeds {
    /// Loads each feed's cached copy; fetching starts with [`Feeds::run`].
    pub fn new(
        feeds: &[FeedSettings],
        content: &ContentSettings,
        data_dir: &Path,
        country: &str,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        let dir = data_dir.join(FEEDS_DIR);
        let started = clock.now();
        let this = Self {
            feeds: feeds
                .iter()
                .map(|s| Feed {
                    settings: s.clone(),
                    list: RwLock::new(Arc::new(Vec::new())),
                    numbers: RwLock::new(Arc::new(HashSet::new())),
                    status: Mutex::new(FeedStatus::default()),
                })
                .collect(),
            words: content.blocked_words.clone(),
            screen: RwLock::new(Arc::new(Screen::new(Vec::new()))),
            lead_fields: content.lead_fields.clone(),
            http,
            dir,
            country: country.to_string(),
            clock,
            started,
            metrics,
            shared: None,
        };
        for feed in &this.feeds {
            let path = this.cache_path(&feed.settings.name);
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            match serde_json::from_slice::<CacheFile>(&bytes) {
                Ok(cache) => {
                    let mut st = lock(&feed.status);
                    st.last_success = Some(cache.fetched_at);
                    st.source = Some("cache");
                    drop(st);
                    this.install(feed, cache.entries);
                    tracing::info!(feed = %feed.settings.name, entries = read(&feed.list).len(), "feed loaded from its cache");
                }
                Err(e) => {
                    tracing::warn!(feed = %feed.settings.name, error = %e, "unreadable feed cache ignored")
                }
            }
        }
        this.rebuild_screen();
        this
    }

    fn cache_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn install(&self, feed: &Feed, entries: Vec<String>) {
        if feed.settings.kind == FeedKind::Numbers {
            set(&feed.numbers, Arc::new(entries.iter().cloned().collect()));
        }
        lock(&feed.status).entries = entries.len();
        self.metrics
            .feed_entries
            .get_or_create(&FeedLabels {
                feed: feed.settings.name.clone(),
            })
            .set(entries.len() as i64);
        set(&feed.list, Arc::new(entries));
    }

    fn rebuild_screen(&self) {
        let mut terms = self.words.clone();
        for feed in self
            .feeds
            .iter()
            .filter(|f| f.settings.kind == FeedKind::Words)
        {
            terms.extend(read(&feed.list).iter().cloned());
        }
        set(&self.screen, Arc::new(Screen::new(terms)));
    }

    /// The content screen in force.
    pub fn screen(&self) -> Arc<Screen> {
        read(&self.screen)
    }

    /// The name of the first numbers feed listing `phone` (E.164).
    pub fn number_feed(&self, phone: &str) -> Option<&str> {
        self.feeds
            .iter()
            .filter(|f| f.settings.kind == FeedKind::Numbers)
            .find(|f| read(&f.numbers).contains(phone))
            .map(|f| f.settings.name.as_str())
    }

    async fn fetch(&self, feed: &Feed) -> Result<(Vec<String>, usize), String> {
        let s = &feed.settings;
        let mut req = self.http.get(&s.url);
        for (k, v) in &s.headers {
            req = req.header(k, v.expose());
        }
        let mut res = req
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("answered {}", res.status()));
        }
        if res.content_length().is_some_and(|n| n > s.max_bytes) {
            return Err(format!("body is over the {} byte limit", s.max_bytes));
        }
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > s.max_bytes {
                return Err(format!("body is over the {} byte limit", s.max_bytes));
            }
        }
        let text = String::from_utf8_lossy(&body);
        let parsed = parse::parse(
            &text,
            s.format,
            content_type.as_deref(),
            s.kind,
            &self.country,
        );
        let before = read(&feed.list).len();
        if parsed.entries.is_empty() && before > 0 {
            return Err(format!(
                "the feed returned no entries (it had {before}); keeping the last good list"
            ));
        }
        Ok((parsed.entries, parsed.skipped))
    }

    /// Fetches one feed now; on success installs and caches the list.
    async fn refresh_feed(&self, feed: &Feed) {
        let now = self.clock.now();
        let labels = FeedLabels {
            feed: feed.settings.name.clone(),
        };
        lock(&feed.status).last_attempt = Some(now);
        match self.fetch(feed).await {
            Ok((entries, skipped)) => {
                let stored = match &self.shared {
                    Some((db, _)) => db
                        .store_feed(&feed.settings.name, now, &entries)
                        .await
                        .map_err(crate::db::DbError::into_io),
                    None => self.cache_file(&feed.settings.name, now, &entries),
                };
                if let Err(e) = stored {
                    tracing::warn!(feed = %feed.settings.name, error = %e, "could not cache the feed");
                }
                let count = entries.len();
                self.install(feed, entries);
                {
                    let mut st = lock(&feed.status);
                    st.last_success = Some(now);
                    st.last_error = None;
                    st.skipped = skipped;
                    st.source = Some("network");
                }
                if feed.settings.kind == FeedKind::Words {
                    self.rebuild_screen();
                }
                self.metrics
                    .feed_refreshes
                    .get_or_create(&crate::metrics::FeedResult {
                        feed: labels.feed,
                        result: "success",
                    })
                    .inc();
                tracing::info!(feed = %feed.settings.name, entries = count, skipped, "feed refreshed");
            }
            Err(e) => {
                lock(&feed.status).last_error = Some(e.clone());
                self.metrics
                    .feed_refreshes
                    .get_or_create(&crate::metrics::FeedResult {
                        feed: labels.feed,
                        result: "failure",
                    })
                    .inc();
                tracing::error!(feed = %feed.settings.name, error = %e, "feed refresh failed; the last good list stays in force");
            }
        }
    }

    fn cache_file(&self, name: &str, at: DateTime<Utc>, entries: &[String]) -> std::io::Result<()> {
        let cache = CacheFile {
            fetched_at: at,
            entries: entries.to_vec(),
        };
        std::fs::create_dir_all(&self.dir)?;
        let bytes = serde_json::to_vec(&cache).map_err(std::io::Error::other)?;
        crate::store::write_atomic(&self.cache_path(name), &bytes)
    }

    /// Refreshes every feed, or the one named; `None` if no feed has that name.
    pub async fn refresh(&self, name: Option<&str>) -> Option<Vec<FeedView>> {
        let chosen: Vec<&Feed> = self
            .feeds
            .iter()
            .filter(|f| name.is_none_or(|n| f.settings.name == n))
            .collect();
        if chosen.is_empty() && name.is_some() {
            return None;
        }
        for feed in chosen {
            self.refresh_feed(feed).await;
        }
        Some(self.status())
    }

    pub fn status(&self) -> Vec<FeedView> {
        let now = self.clock.now();
        self.feeds
            .iter()
            .map(|f| {
                let status = lock(&f.status).clone();
                let since = status.last_success.unwrap_or(self.started);
                let limit = chrono::Duration::from_std(f.settings.refresh * 2)
                    .unwrap_or(chrono::Duration::MAX);
                FeedView {
                    name: f.settings.name.clone(),
                    kind: match f.settings.kind {
                        FeedKind::Numbers => "numbers",
                        FeedKind::Words => "words",
                    },
                    url: f.settings.url.clone(),
                    refresh_secs: f.settings.refresh.as_secs(),
                    stale: now - since > limit,
                    status,
                }
            })
            .collect()
    }

    /// Fetches every feed at once (without delaying startup), then each on its schedule,
    /// until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        if self.shared.is_some() {
            return self.run_shared(shutdown).await;
        }
        let mut loops = tokio::task::JoinSet::new();
        for i in 0..self.feeds.len() {
            let feeds = self.clone();
            loops.spawn(async move {
                loop {
                    let feed = &feeds.feeds[i];
                    feeds.refresh_feed(feed).await;
                    let every = feed.settings.refresh;
                    lock(&feed.status).next_refresh = chrono::Duration::from_std(every)
                        .ok()
                        .map(|d| feeds.clock.now() + d);
                    tokio::time::sleep(every).await;
                }
            });
        }
        shutdown.await;
        loops.abort_all();
    }
}

/// Runs `tick` now and then once per `every`, measured from the end of each run, forever.
pub async fn every_period<F, Fut>(every: Duration, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        tick().await;
        tokio::time::sleep(every).await;
    }
}

impl HealthSource for Feeds {
    fn name(&self) -> &'static str {
        "feeds"
    }

    /// Degraded when a feed has had no success for twice its refresh period; each feed is
    /// named with its status, its source (network or cache) and its last error.
    fn report(&self) -> ComponentReport {
        let views = self.status();
        let stale = views.iter().any(|v| v.stale);
        let stale_names: Vec<&str> = views
            .iter()
            .filter(|v| v.stale)
            .map(|v| v.name.as_str())
            .collect();
        let feeds: Vec<serde_json::Value> = views
            .iter()
            .map(|v| {
                serde_json::json!({
                    "name": v.name,
                    "status": if v.stale { "stale" } else { "ok" },
                    "entries": v.status.entries,
                    "source": v.status.source,
                    "last_success": v.status.last_success,
                    "last_error": v.status.last_error,
                    "next_refresh": v.status.next_refresh,
                    "stale": v.stale,
                })
            })
            .collect();
        let report = ComponentReport::new(if stale {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        })
        .with("feeds", feeds)
        .with("content_terms", self.screen().len());
        if stale_names.is_empty() {
            report
        } else {
            report.with(
                "error",
                format!(
                    "no successful fetch for twice the refresh period: {}",
                    stale_names.join(", ")
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests;
