//! Throwaway databases for tests and benchmarks: [`Scratch::create`] makes a database of
//! its own on the PostgreSQL at `CALLGATE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), and dropping the value drops it (also
//! when a test panics).
//!
//! Without a reachable server, [`Scratch::create`] prints one line saying how to run the
//! database tests and returns `None` so the caller skips; with `CI=true` it panics instead:
//! CI must run them.

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Connection, Executor, PgConnection};

/// The server's maintenance database URL.
pub fn admin_url() -> String {
    std::env::var("CALLGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that lives as long as this value.
#[derive(Debug)]
pub struct Scratch {
    pub name: String,
    pub url: String,
}

static SKIP_NOTED: AtomicBool = AtomicBool::new(false);

impl Scratch {
    /// A fresh, empty database (no schema: the first [`super::Db::connect`] migrates it).
    pub async fn create() -> Option<Self> {
        let mut admin = match PgConnection::connect(&admin_url()).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "CI=true and PostgreSQL is unreachable at {}: {e}",
                        admin_url()
                    );
                }
                if !SKIP_NOTED.swap(true, Ordering::Relaxed) {
                    // Straight to stderr: the test harness would swallow `eprintln!` of a
                    // passing test, and this line is for whoever runs `cargo test`.
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr(),
                        "skipping the PostgreSQL tests: no server at {} ({e}); start one or set CALLGATE_TEST_DATABASE_URL to run them",
                        admin_url()
                    );
                }
                return None;
            }
        };
        let name = format!("callgate_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let base = admin_url();
        let root = base.rsplit_once('/').map_or(base.as_str(), |(r, _)| r);
        Some(Self {
            url: format!("{root}/{name}"),
            name,
        })
    }
}

impl Scratch {
    /// Simulates the database going away (`false`: new connections refused, every open
    /// one terminated) and coming back (`true`).
    pub async fn set_reachable(&self, reachable: bool) -> Result<(), super::DbError> {
        let mut admin = PgConnection::connect(&admin_url()).await?;
        admin
            .execute(format!("ALTER DATABASE {} ALLOW_CONNECTIONS {reachable}", self.name).as_str())
            .await?;
        if !reachable {
            admin
                .execute(
                    format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                         WHERE datname = '{}' AND pid <> pg_backend_pid()",
                        self.name
                    )
                    .as_str(),
                )
                .await?;
        }
        let _ = admin.close().await;
        Ok(())
    }
}

impl Scratch {
    /// Runs one statement on the scratch database (tests that damage stored state).
    pub async fn execute(&self, sql: &str) -> Result<u64, super::DbError> {
        let mut conn = PgConnection::connect(&self.url).await?;
        let done = conn.execute(sql).await?;
        let _ = conn.close().await;
        Ok(done.rows_affected())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let name = self.name.clone();
        // On a thread of its own: `drop` may run inside a runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
