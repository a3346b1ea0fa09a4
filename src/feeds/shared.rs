//! Feeds in database mode: the last good copy of each feed is a shared row, fetched by the
//! instance holding the feed's lease; the others install it when it is newer than theirs.

use std::sync::Arc;
use std::time::Duration;

use super::{lock, read, Feed, Feeds};
use crate::config::FeedKind;

/// Database mode: how long a feed's lease lasts without renewal (another instance takes
/// the fetching over this long after its holder stops).
pub const LEASE_TTL: chrono::Duration = chrono::Duration::seconds(60);

/// Database mode: how often each instance renews or looks at a feed's lease and copy.
pub(super) const SHARED_TICK: Duration = Duration::from_secs(20);

impl Feeds {
    /// Database mode: the last good copies live in the database, shared by every
    /// instance (an instance with no network still blocks with another's copy), and each
    /// feed is fetched by the instance holding its lease. Loads the stored copies.
    pub async fn with_db(mut self, db: crate::db::Db, holder: String) -> Self {
        self.shared = Some((db, holder));
        for i in 0..self.feeds.len() {
            self.adopt_shared(&self.feeds[i]).await;
        }
        self.rebuild_screen();
        self
    }

    /// Installs the database's copy of `feed` if it is newer than the list in force.
    async fn adopt_shared(&self, feed: &Feed) {
        let Some((db, _)) = &self.shared else { return };
        match db.cached_feed(&feed.settings.name).await {
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
                    tracing::info!(feed = %feed.settings.name, entries = read(&feed.list).len(), "feed loaded from the shared copy");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(feed = %feed.settings.name, error = %e, "cannot read the shared feed copy")
            }
        }
    }
}

impl Feeds {
    /// [`Feeds::run`] in database mode: every [`SHARED_TICK`] (or the feed's period if
    /// shorter) the instance holding a feed's lease renews it and fetches the feed when its
    /// period has passed; the others install the stored copy when it is newer than theirs.
    pub(super) async fn run_shared(
        self: Arc<Self>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut loops = tokio::task::JoinSet::new();
        for i in 0..self.feeds.len() {
            let feeds = self.clone();
            loops.spawn(async move {
                let feed = &feeds.feeds[i];
                let Some((db, holder)) = &feeds.shared else { return };
                let every = feed.settings.refresh;
                let lease = format!("feed:{}", feed.settings.name);
                let mut fetched: Option<tokio::time::Instant> = None;
                loop {
                    let now = feeds.clock.now();
                    match db.try_lease(&lease, holder, now, LEASE_TTL).await {
                        Ok(true) if fetched.is_none_or(|t| t.elapsed() >= every) => {
                            feeds.refresh_feed(feed).await;
                            fetched = Some(tokio::time::Instant::now());
                            lock(&feed.status).next_refresh = chrono::Duration::from_std(every)
                                .ok()
                                .map(|d| feeds.clock.now() + d);
                        }
                        Ok(true) => {}
                        Ok(false) => feeds.adopt_shared(feed).await,
                        Err(e) => {
                            tracing::warn!(feed = %feed.settings.name, error = %e, "cannot take the feed's lease; the list in force stays")
                        }
                    }
                    tokio::time::sleep(every.min(SHARED_TICK)).await;
                }
            });
        }
        shutdown.await;
        loops.abort_all();
    }
}
