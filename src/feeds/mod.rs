//! Remote number and word feeds (`[[feeds]]`), refreshed on their own schedule, with the
//! last good copy of each cached under `DATA_DIR/feeds/` (in database mode, in the
//! database, fetched by the instance holding the feed's lease) and loaded at startup before
//! the first fetch — a restart without network still blocks. A failed fetch (network error,
//! non-2xx, timeout, a body over the size limit, or zero entries where there were some)
//! keeps the last good list; the failure is logged and shown. Also owns the content screen:
//! `[content]` words plus every word feed, rebuilt into one automaton when a list changes.

pub mod copies;
mod fetch;
pub mod parse;

pub use copies::{FeedCopies, FEEDS_DIR};

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::blocklist::content::Screen;
use crate::clock::SharedClock;
use crate::config::{ContentSettings, FeedKind, FeedSettings};
use crate::health::{ComponentReport, HealthSource, HealthStatus};
use crate::metrics::{FeedLabels, Metrics};

use crate::store::lease::Leases;

/// How long a feed's lease lasts without renewal (with several instances, another takes
/// the fetching over this long after its holder stops).
pub const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// How often each instance renews or looks at a feed's lease and copy, at the longest.
const TICK: Duration = Duration::from_secs(20);

/// How often an instance without the lease and without any list looks for the first copy.
const FIRST_COPY_TICK: Duration = Duration::from_secs(1);

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
    copies: Arc<dyn FeedCopies>,
    leases: Arc<dyn Leases>,
    country: String,
    clock: SharedClock,
    started: DateTime<Utc>,
    metrics: Arc<Metrics>,
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
    /// Loads each feed's last good copy from `copies`; fetching starts with [`Feeds::run`],
    /// each feed by the instance holding its lease in `leases`.
    pub async fn open(
        feeds: &[FeedSettings],
        content: &ContentSettings,
        country: &str,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        copies: Arc<dyn FeedCopies>,
        leases: Arc<dyn Leases>,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
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
            copies,
            leases,
            country: country.to_string(),
            clock,
            started,
            metrics,
        };
        for feed in &this.feeds {
            this.adopt(feed).await;
        }
        this.rebuild_screen();
        this
    }

    /// Installs the stored copy of `feed` if it is newer than the list in force (with
    /// several instances, another's fetch).
    async fn adopt(&self, feed: &Feed) {
        match self.copies.load(&feed.settings.name).await {
            Ok(Some((fetched_at, entries))) => {
                let newer = lock(&feed.status)
                    .last_success
                    .is_none_or(|t| t < fetched_at);
                if newer {
                    {
                        let mut st = lock(&feed.status);
                        st.last_success = Some(fetched_at);
                        st.source = Some("cache");
                    }
                    self.install(feed, entries);
                    if feed.settings.kind == FeedKind::Words {
                        self.rebuild_screen();
                    }
                    tracing::info!(feed = %feed.settings.name, entries = read(&feed.list).len(), from = self.copies.label(), "feed loaded from its last good copy");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(feed = %feed.settings.name, error = %e, from = self.copies.label(), "unreadable feed copy ignored")
            }
        }
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

    /// Fetches one feed now; on success installs and caches the list.
    async fn refresh_feed(&self, feed: &Feed) {
        let now = self.clock.now();
        let labels = FeedLabels {
            feed: feed.settings.name.clone(),
        };
        lock(&feed.status).last_attempt = Some(now);
        let had = read(&feed.list).len();
        match fetch::fetch(&self.http, &feed.settings, had, &self.country).await {
            Ok((entries, skipped)) => {
                let stored = self.copies.store(&feed.settings.name, now, &entries).await;
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
                lock(&feed.status).last_error = Some(e.to_string());
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
        let mut loops = tokio::task::JoinSet::new();
        for i in 0..self.feeds.len() {
            let feeds = self.clone();
            loops.spawn(async move { feeds.follow(&feeds.feeds[i]).await });
        }
        shutdown.await;
        loops.abort_all();
    }

    /// One feed's loop: the instance holding the feed's lease renews it and fetches the
    /// feed when its period has passed; an instance without it installs the stored copy
    /// when that is newer than its own. Wakes when the next fetch is due, and at least
    /// every [`TICK`].
    async fn follow(&self, feed: &Feed) {
        let every = feed.settings.refresh;
        let lease = format!("feed:{}", feed.settings.name);
        let mut fetched: Option<tokio::time::Instant> = None;
        loop {
            let now = self.clock.now();
            let taken = self.leases.take(&lease, now, LEASE_TTL).await;
            // An instance that has no list yet and not the lease looks for the holder's
            // first copy every second, not every tick.
            let waiting = matches!(taken, Ok(false));
            match taken {
                Ok(true) if fetched.is_none_or(|t| t.elapsed() >= every) => {
                    self.refresh_feed(feed).await;
                    fetched = Some(tokio::time::Instant::now());
                    lock(&feed.status).next_refresh = chrono::Duration::from_std(every)
                        .ok()
                        .map(|d| self.clock.now() + d);
                }
                Ok(true) => {}
                Ok(false) => self.adopt(feed).await,
                Err(e) => {
                    tracing::warn!(feed = %feed.settings.name, error = %e, "cannot take the feed's lease; the list in force stays")
                }
            }
            let mut pause = wait(every, fetched.map(|t| t.elapsed()));
            if waiting && lock(&feed.status).last_success.is_none() {
                pause = pause.min(FIRST_COPY_TICK);
            }
            tokio::time::sleep(pause).await;
        }
    }
}

/// How long a feed's loop sleeps: until the next fetch is due (`every` after the last,
/// or a whole period when none was made or it is overdue), at most [`TICK`].
fn wait(every: Duration, since_fetch: Option<Duration>) -> Duration {
    since_fetch
        .map(|s| every.saturating_sub(s))
        .filter(|left| !left.is_zero())
        .unwrap_or(every)
        .min(TICK)
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
