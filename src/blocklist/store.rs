//! The storage role of the flags and their change feed: [`FlagStore`]. A store applies a
//! change to the in-memory [`FlagIndex`] it is given and makes it durable before it
//! returns, and follows the changes made elsewhere. Two implementations:
//! [`super::file::FileFlags`] (`blocklist-config.json` and its group-committed change log;
//! the change goes into memory and the log under the index's exclusive lock, and the
//! caller waits for the `fsync` after releasing it, undone if it fails) and
//! [`super::rows::DbFlags`] (rows committed first — the database decides whether a field
//! and value already have a live flag, whichever instance asks — then applied here; every
//! instance follows the change log). `startup/` picks one; [`super::Blocklist`] holds it.

use std::sync::RwLock;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::flag::Flag;
use super::{BlocklistError, FlagIndex};
use crate::health::ComponentReport;
use crate::store::StoreError;

/// A flag's new state computed from the index and its current state (a clash is an error).
pub type Patch<'a> = &'a (dyn Fn(&FlagIndex, &Flag) -> Result<Flag, BlocklistError> + Sync);

/// What a bulk add did: the flags added, how many were already there by id (imports that
/// keep ids), and the live flags already holding a field and value.
pub type AddedMany = (Vec<Flag>, usize, Vec<Flag>);

/// The flags' storage role.
pub trait FlagStore: Send + Sync {
    /// Adds `flag` unless a live flag has its field and value; the flag stored (or the one
    /// found) and whether it already existed.
    fn add<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        flag: Flag,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(Flag, bool), BlocklistError>>;

    /// Removes the flag `id`; the flag removed.
    fn remove<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        id: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Flag, BlocklistError>>;

    /// Replaces the flag `id` by what `patch` makes of it; the flag stored.
    fn update<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        id: &'a str,
        patch: Patch<'a>,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Flag, BlocklistError>>;

    /// Turns all matching on or off.
    fn set_enabled<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        enabled: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), BlocklistError>>;

    /// Adds many flags: fresh ids, skipping a field and value a live flag holds
    /// (`keep_ids: false`, bulk), or the flags' own ids and times, skipping an id already
    /// here or a field and value any flag holds (`true`, migration).
    fn add_many<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
        flags: Vec<Flag>,
        keep_ids: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<AddedMany, BlocklistError>>;

    /// Applies the changes made elsewhere since the last one applied; how many (files:
    /// nothing else writes through the store, a hand edit is `watch`'s).
    fn catch_up<'a>(
        &'a self,
        index: &'a RwLock<FlagIndex>,
    ) -> BoxFuture<'a, Result<usize, StoreError>>;

    /// Resolves when changes may have been made elsewhere (a notification, or the next
    /// poll); never, where nothing else writes.
    fn changed(&self) -> BoxFuture<'_, ()>;

    /// Folds what was appended into the document (files; blocking); false when there was
    /// nothing to do.
    fn fold(&self, index: &RwLock<FlagIndex>) -> Result<bool, crate::store::StoreError>;

    /// The store's part of the blocklist's health: `backend`, `pending_changes`, and a
    /// refused or destructive hand edit (files).
    fn report(&self, report: ComponentReport) -> ComponentReport;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::blocklist::file::FileFlags;
    use crate::blocklist::rows::DbFlags;

    const T0: i64 = 1_780_000_000_000;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(T0 + ms).unwrap_or_default()
    }

    fn flag(id: &str, value: &str) -> Flag {
        let mut flag = Flag::new(id, Arc::from("phone"), value, T0);
        flag.reason = Some(Arc::from("asked"));
        flag
    }

    fn ids(index: &RwLock<FlagIndex>) -> Vec<String> {
        let index = index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ids: Vec<String> = index.iter().map(|f| f.id().to_string()).collect();
        ids.sort();
        ids
    }

    /// What every implementation does to the index it is given: an add, a repeat of its
    /// field and value answered with the first, an update and its clash, a remove and a
    /// remove of nothing, matching turned off, a bulk add and a migration import.
    async fn behaves(store: &dyn FlagStore, index: &RwLock<FlagIndex>) {
        let (first, existed) = store
            .add(index, flag("flag_a", "+14155550101"), at(0))
            .await
            .expect("add");
        assert!(!existed);
        let (again, existed) = store
            .add(index, flag("flag_x", "+14155550101"), at(1))
            .await
            .expect("repeat");
        assert!(existed, "a live flag has this field and value");
        assert_eq!(again.id(), first.id());
        assert_eq!(ids(index), ["flag_a"]);

        store
            .add(index, flag("flag_b", "+14155550102"), at(2))
            .await
            .expect("add b");
        let reason = |_: &FlagIndex, f: &Flag| {
            let mut next = f.clone();
            next.reason = Some(Arc::from("litigator"));
            Ok(next)
        };
        let updated = store
            .update(index, "flag_b", &reason, at(3))
            .await
            .expect("update");
        assert_eq!(updated.reason.as_deref(), Some("litigator"));
        let clash = |_: &FlagIndex, _: &Flag| Err(BlocklistError::Conflict("flag_a".into()));
        assert!(matches!(
            store.update(index, "flag_b", &clash, at(4)).await,
            Err(BlocklistError::Conflict(_))
        ));
        assert!(matches!(
            store.update(index, "nope", &reason, at(4)).await,
            Err(BlocklistError::NotFound(_))
        ));

        let gone = store.remove(index, "flag_a", at(5)).await.expect("remove");
        assert_eq!(gone.value(), "+14155550101");
        assert!(matches!(
            store.remove(index, "flag_a", at(6)).await,
            Err(BlocklistError::NotFound(_))
        ));
        store
            .set_enabled(index, false, at(7))
            .await
            .expect("disable");
        assert!(!index.read().map(|i| i.enabled).unwrap_or(true));

        let bulk = vec![
            flag("flag_c", "+14155550103"),
            flag("flag_d", "+14155550102"),
        ];
        let (added, _, existing) = store
            .add_many(index, bulk, false, at(8))
            .await
            .expect("bulk");
        assert_eq!(added.len(), 1, "the second number is flag_b's");
        assert_eq!(
            existing.iter().map(|f| f.id()).collect::<Vec<_>>(),
            ["flag_b"]
        );
        let kept = vec![
            flag("flag_b", "+14155550199"),
            flag("flag_e", "+14155550105"),
        ];
        let (added, same_id, _) = store
            .add_many(index, kept, true, at(9))
            .await
            .expect("import");
        assert_eq!((added.len(), same_id), (1, 1));
        assert_eq!(ids(index), ["flag_b", "flag_c", "flag_e"]);
    }

    #[tokio::test]
    async fn files_behave_as_a_flag_store_and_read_back_after_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let open = || FileFlags::open(dir.path(), "US", 1000, T0, metrics.clone(), false);
        let (index, files) = open().expect("open");
        let index = RwLock::new(index);
        behaves(&files, &index).await;
        assert_eq!(
            files.catch_up(&index).await.expect("nothing else writes"),
            0
        );
        drop(files);
        let (reread, _) = open().expect("reopen");
        let reread = RwLock::new(reread);
        assert_eq!(ids(&reread), ["flag_b", "flag_c", "flag_e"]);
        assert!(!reread.read().map(|i| i.enabled).unwrap_or(true));
    }

    #[tokio::test]
    async fn rows_behave_as_a_flag_store_and_another_instance_catches_up() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        let (index, flags) = DbFlags::open(db.clone()).await.expect("open");
        let index = RwLock::new(index);
        let other = crate::db::Db::connect(&test.url, 2).await.expect("two");
        let (other_index, other_flags) = DbFlags::open(other.clone()).await.expect("open two");
        let other_index = RwLock::new(other_index);
        behaves(&flags, &index).await;
        assert!(other_flags.catch_up(&other_index).await.expect("catch up") > 0);
        assert_eq!(ids(&other_index), ["flag_b", "flag_c", "flag_e"]);
        assert!(!other_index.read().map(|i| i.enabled).unwrap_or(true));
        // The database decides a repeat, whichever instance asks.
        let (_, existed) = other_flags
            .add(&other_index, flag("flag_y", "+14155550103"), at(20))
            .await
            .expect("repeat elsewhere");
        assert!(existed);
        db.pool.close().await;
        other.pool.close().await;
    }
}
