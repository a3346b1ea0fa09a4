//! PostgreSQL storage, the backend `DATABASE_URL` selects (several instances on one
//! database). Each kind of state has its module, and each multi-instance rule is tested on
//! two connection pools to one database (`tests/`) and on two servers (`tests/api/shared*`):
//! - the pool and the schema migrations embedded from `migrations/`;
//! - [`documents`]: config documents, versioned, announced with `NOTIFY`;
//! - [`flags`]: flags and the change log every instance follows (writes serialised, so it
//!   is read in order);
//! - [`journals`]: the call and attempts journals as rows holding the files' JSON lines,
//!   per-day rollups, completions once per call id;
//! - [`outbox`], [`pace`], [`deferred`]: work claimed once with `FOR UPDATE SKIP LOCKED`
//!   and leases, within the deployment's limits;
//! - [`decisions`]: one accept per number, under transaction-scoped advisory locks;
//! - [`leases`], [`feeds`], [`lists`]: singleton jobs, shared feed copies and do-not-call
//!   list versions;
//! - [`copy`]: `callgate migrate --to-database`; [`scratch`]: throwaway test databases.
//!
//! Queries are runtime queries (no database is needed to build). Migrations run on a
//! dedicated connection that is closed afterwards, so the migrator's advisory lock (which
//! makes two instances starting at once apply each migration exactly once) can never stay
//! held by a pooled connection. No session-level advisory lock is used anywhere.

pub mod caller_ids;
pub mod copy;
pub mod decisions;
pub mod deferred;
pub mod documents;
pub mod feeds;
pub mod flags;
pub mod journals;
pub mod leases;
pub mod lists;
pub mod outbox;
pub mod pace;
pub mod scratch;
pub mod texts;
pub mod writes;

/// A connection listening for `NOTIFY` on a channel ([`Db::listen`]), named here so that
/// sqlx stays inside this module.
pub type Listener = sqlx::postgres::PgListener;

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// The schema, in order. A released migration is never edited: add the next one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "documents",
        include_str!("../../migrations/0001_documents.sql"),
    ),
    (
        2,
        "leases",
        include_str!("../../migrations/0002_leases.sql"),
    ),
    (3, "flags", include_str!("../../migrations/0003_flags.sql")),
    (
        4,
        "journals",
        include_str!("../../migrations/0004_journals.sql"),
    ),
    (
        5,
        "outbox",
        include_str!("../../migrations/0005_outbox.sql"),
    ),
    (
        6,
        "deferred",
        include_str!("../../migrations/0006_deferred.sql"),
    ),
    (
        7,
        "feed_cache",
        include_str!("../../migrations/0007_feed_cache.sql"),
    ),
    (
        8,
        "shared_dispatch",
        include_str!("../../migrations/0008_shared_dispatch.sql"),
    ),
    (
        9,
        "copied_files",
        include_str!("../../migrations/0009_copied_files.sql"),
    ),
    (
        10,
        "calls_indexes",
        include_str!("../../migrations/0010_calls_indexes.sql"),
    ),
    (
        11,
        "day_summaries",
        include_str!("../../migrations/0011_day_summaries.sql"),
    ),
    (
        12,
        "list_versions",
        include_str!("../../migrations/0012_list_versions.sql"),
    ),
    (
        13,
        "convoso_writes",
        include_str!("../../migrations/0013_convoso_writes.sql"),
    ),
    (
        14,
        "dispatch_pause",
        include_str!("../../migrations/0014_dispatch_pause.sql"),
    ),
    (
        15,
        "dispatch_starts",
        include_str!("../../migrations/0015_dispatch_starts.sql"),
    ),
    (
        16,
        "caller_id_calls",
        include_str!("../../migrations/0016_caller_id_calls.sql"),
    ),
    (17, "texts", include_str!("../../migrations/0017_texts.sql")),
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The cause is in the message, once: it is not also a `source`, so a chain printed
    /// by anyhow does not repeat it (sqlx's own errors repeat their database's message
    /// as their source).
    #[error("database: {}", sql_message(.0))]
    Sql(sqlx::Error),
    #[error("database migration: {}", migrate_message(.0))]
    Migrate(sqlx::migrate::MigrateError),
    /// A ping refused (`/health`, `/health/ready`): sqlx's words, as the probe shows them.
    #[error("{0}")]
    Ping(sqlx::Error),
    /// A ping not answered in time.
    #[error("no answer within {0} s")]
    NoAnswer(u64),
    /// A failure already described, passed on to each caller of one failed batch.
    #[error("{0}")]
    Reported(String),
    #[error("`{name}` was changed by another writer (version {found}, expected {expected})")]
    Conflict {
        name: String,
        expected: i64,
        found: i64,
    },
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<sqlx::migrate::MigrateError> for DbError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(e)
    }
}

/// The database's own message for an error it returned (without sqlx's "error returned
/// from database" wrapping), else sqlx's text.
fn sql_message(e: &sqlx::Error) -> String {
    match e {
        // 3D000: the database named in DATABASE_URL does not exist.
        sqlx::Error::Database(d) if d.code().as_deref() == Some("3D000") => format!(
            "{}; create it first (`createdb NAME`, or `CREATE DATABASE NAME;` in psql)",
            d.message()
        ),
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

fn migrate_message(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => sql_message(inner),
        other => other.to_string(),
    }
}

/// The embedded migrations as sqlx's migrator reads them.
#[derive(Debug, Clone, Copy)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*name),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// How long a request waits for a connection before it is answered 503 (the database is
/// unreachable or every connection is busy).
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A pool of connections to the callgate database.
#[derive(Clone)]
pub struct Db {
    pub pool: PgPool,
    /// This process's name in claims and leases (`host-pid-random`): ours, never a
    /// caller's, and different for every start.
    pub holder: String,
}

impl Db {
    /// Applies the embedded migrations, then opens the pool. Safe when several instances
    /// start at the same moment.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let options: PgConnectOptions = url.parse()?;
        // The server's NOTICEs ("relation _sqlx_migrations already exists, skipping" at
        // every start) are not news: only warnings and errors are sent to us.
        let options = options
            .application_name("callgate")
            .options([("client_min_messages", "warning")]);
        migrate(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "callgate".into());
        let holder = format!(
            "{host}-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(Self { pool, holder })
    }
}

impl Db {
    /// Whether the database answers within `within`; the error says why not.
    pub async fn ping(&self, within: std::time::Duration) -> Result<(), DbError> {
        match tokio::time::timeout(within, sqlx::query("SELECT 1").execute(&self.pool)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(DbError::Ping(e)),
            Err(_) => Err(DbError::NoAnswer(within.as_secs())),
        }
    }

    /// (connections open, of which idle).
    pub fn pool_use(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }
}

/// Runs every pending migration on a connection of its own, closed when done.
pub async fn migrate(options: &PgConnectOptions) -> Result<(), DbError> {
    let mut conn = options.connect().await?;
    let migrator = Migrator::new(Embedded).await?;
    let result = migrator.run_direct(&mut conn).await;
    conn.close().await?;
    result.map_err(DbError::from)
}

#[cfg(test)]
mod tests;
