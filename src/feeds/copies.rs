//! The storage role of the feeds' last good copies: [`FeedCopies`]. Two implementations:
//! [`FileCopies`] (`DATA_DIR/feeds/<name>.json`, written atomically) and [`DbCopies`] (a
//! row per feed shared by every instance, never replaced by an older copy: an instance
//! with no network still blocks with another's copy). `startup/` picks one.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// The feeds' directory under `DATA_DIR` (file backend).
pub const FEEDS_DIR: &str = "feeds";

/// A feed's copy: when it was fetched, and its entries.
pub type Copy = (DateTime<Utc>, Vec<String>);

/// Where each feed's last good copy is kept.
pub trait FeedCopies: Send + Sync {
    /// Keeps `entries` as the feed's last good copy.
    fn store<'a>(
        &'a self,
        name: &'a str,
        fetched_at: DateTime<Utc>,
        entries: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The feed's last good copy, if one was ever stored; an unreadable one is an error.
    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Copy>, StoreError>>;

    /// How the log names where a loaded copy came from.
    fn label(&self) -> &'static str;
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    fetched_at: DateTime<Utc>,
    entries: Vec<String>,
}

/// A JSON file per feed.
pub struct FileCopies {
    dir: PathBuf,
}

impl FileCopies {
    /// Copies under `data_dir/feeds/`.
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            dir: data_dir.join(FEEDS_DIR),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }
}

impl FeedCopies for FileCopies {
    fn store<'a>(
        &'a self,
        name: &'a str,
        fetched_at: DateTime<Utc>,
        entries: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let cache = CacheFile {
                fetched_at,
                entries: entries.to_vec(),
            };
            std::fs::create_dir_all(&self.dir)?;
            let bytes = serde_json::to_vec(&cache).map_err(std::io::Error::other)?;
            crate::store::write_atomic(&self.path(name), &bytes)?;
            Ok(())
        })
    }

    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Copy>, StoreError>> {
        Box::pin(async move {
            let bytes = match std::fs::read(self.path(name)) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let cache: CacheFile = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
            Ok(Some((cache.fetched_at, cache.entries)))
        })
    }

    fn label(&self) -> &'static str {
        "its cache"
    }
}

/// A row per feed in the database.
pub struct DbCopies(pub crate::db::Db);

impl FeedCopies for DbCopies {
    fn store<'a>(
        &'a self,
        name: &'a str,
        fetched_at: DateTime<Utc>,
        entries: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.0.store_feed(name, fetched_at, entries).await?) })
    }

    fn load<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Copy>, StoreError>> {
        Box::pin(async move { Ok(self.0.cached_feed(name).await?) })
    }

    fn label(&self) -> &'static str {
        "the shared copy"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap_or_default()
    }

    /// What every implementation does: nothing stored reads as none, a stored copy reads
    /// back whole, a newer copy replaces it, and feeds are kept apart.
    async fn behaves(copies: &dyn FeedCopies) {
        assert_eq!(copies.load("scam").await.expect("load"), None);
        let first = vec!["+14155550101".to_string(), "+14155550102".to_string()];
        copies.store("scam", at(0), &first).await.expect("store");
        assert_eq!(
            copies.load("scam").await.expect("load"),
            Some((at(0), first))
        );
        let second = vec!["+14155550103".to_string()];
        copies.store("scam", at(60), &second).await.expect("newer");
        copies
            .store("words", at(5), &["refund".to_string()])
            .await
            .expect("other");
        assert_eq!(
            copies.load("scam").await.expect("load"),
            Some((at(60), second))
        );
        assert_eq!(
            copies.load("words").await.expect("load").map(|c| c.1),
            Some(vec!["refund".to_string()])
        );
    }

    #[tokio::test]
    async fn files_behave_as_feed_copies() {
        let dir = tempfile::tempdir().expect("tempdir");
        behaves(&FileCopies::new(dir.path())).await;
    }

    #[tokio::test]
    async fn an_unreadable_file_is_an_error_not_an_empty_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(FEEDS_DIR)).expect("dir");
        std::fs::write(dir.path().join("feeds/scam.json"), b"{not json").expect("write");
        let copies = FileCopies::new(dir.path());
        assert!(matches!(copies.load("scam").await, Err(StoreError::Io(_))));
    }

    #[tokio::test]
    async fn rows_behave_as_feed_copies_and_keep_the_newer() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        let copies = DbCopies(db.clone());
        behaves(&copies).await;
        // Another instance's older copy does not replace the newer one.
        copies.store("scam", at(30), &[]).await.expect("older");
        assert_eq!(
            copies.load("scam").await.expect("load").map(|c| c.0),
            Some(at(60))
        );
        db.pool.close().await;
    }
}
