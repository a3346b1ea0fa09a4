//! The storage role of leases: [`Leases`], which instance runs a singleton job (releasing
//! deferred leads, reconciliation, retention, rollups, a feed's refresh). Two
//! implementations: [`OneProcess`] (the file backend: the data-directory lock already makes
//! this process the only one, so it always holds every lease) and [`DbLeases`] (a row per
//! lease in PostgreSQL, taken or renewed in one statement; a holder that dies stops
//! renewing and another takes over once the lease expires). `startup/` picks one.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::StoreError;

/// Who runs a singleton job.
pub trait Leases: Send + Sync {
    /// Takes or renews `name` for this instance until `at + ttl`; true if it holds it now.
    fn take<'a>(
        &'a self,
        name: &'a str,
        at: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Gives `name` up if this instance holds it (a clean shutdown hands over at once).
    fn give_up<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The file backend's leases: one process, which holds all of them.
pub struct OneProcess;

impl Leases for OneProcess {
    fn take<'a>(
        &'a self,
        _name: &'a str,
        _at: DateTime<Utc>,
        _ttl: chrono::Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async { Ok(true) })
    }

    fn give_up<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Leases in the database, held under this instance's name.
pub struct DbLeases {
    db: crate::db::Db,
    holder: String,
}

impl DbLeases {
    pub fn new(db: crate::db::Db) -> Self {
        let holder = db.holder.clone();
        Self { db, holder }
    }
}

impl Leases for DbLeases {
    fn take<'a>(
        &'a self,
        name: &'a str,
        at: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { Ok(self.db.try_lease(name, &self.holder, at, ttl).await?) })
    }

    fn give_up<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { Ok(self.db.release_lease(name, &self.holder).await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap_or_default()
    }

    /// What every implementation does for one instance alone: it takes a lease, renews it,
    /// gives it up and takes it again.
    async fn behaves(leases: &dyn Leases) {
        let ttl = chrono::Duration::seconds(60);
        assert!(leases.take("release", at(0), ttl).await.expect("take"));
        assert!(leases.take("release", at(30), ttl).await.expect("renew"));
        assert!(leases.take("feed:a", at(30), ttl).await.expect("another"));
        leases.give_up("release").await.expect("give up");
        leases
            .give_up("never-taken")
            .await
            .expect("give up one never held");
        assert!(leases.take("release", at(31), ttl).await.expect("again"));
    }

    #[tokio::test]
    async fn one_process_behaves_as_leases() {
        behaves(&OneProcess).await;
    }

    #[tokio::test]
    async fn rows_behave_as_leases_and_exclude_another_holder() {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let connect = || crate::db::Db::connect(&test.url, 2);
        let a = DbLeases::new(connect().await.expect("a"));
        let b = DbLeases::new(connect().await.expect("b"));
        behaves(&a).await;
        let ttl = chrono::Duration::seconds(60);
        assert!(!b
            .take("release", at(40), ttl)
            .await
            .expect("b while a holds"));
        assert!(b
            .take("release", at(92), ttl)
            .await
            .expect("b after expiry"));
        assert!(!a
            .take("release", at(93), ttl)
            .await
            .expect("a after b took it"));
        b.give_up("release").await.expect("b gives up");
        assert!(a.take("release", at(94), ttl).await.expect("a again"));
        a.db.pool.close().await;
        b.db.pool.close().await;
    }
}
