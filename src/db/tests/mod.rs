//! Against the PostgreSQL of the machine (`CALLGATE_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test makes a database of its own
//! and drops it.

use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

use super::*;

mod documents;
mod queues;
mod records;

fn admin_url() -> String {
    std::env::var("CALLGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database, dropped with this value (also when the test panics).
struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Self {
        let name = format!("callgate_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (see CALLGATE_TEST_DATABASE_URL)");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        admin.close().await.expect("close");
        let base = admin_url();
        let root = base.rsplit_once('/').map_or(base.as_str(), |(r, _)| r);
        Self {
            url: format!("{root}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // On a thread of its own: `drop` may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await.expect("admin");
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .expect("drop database");
            })
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("instant")
}

fn journal_line(
    day: &str,
    at_: &str,
    phone: &str,
    lead: &str,
    text: &str,
) -> journals::JournalLine {
    journals::JournalLine {
        journal: journals::Journal::Calls,
        business_date: day.parse().expect("date"),
        at: at(at_),
        request_id: Some(format!("req_{text}")),
        lead_id: Some(lead.into()),
        phone: Some(phone.into()),
        call_id: None,
        line: format!("{{\"event\":\"decision\",\"n\":\"{text}\"}}"),
    }
}

/// A listener on `channel`.
async fn listen(db: &Db, channel: &str) -> sqlx::postgres::PgListener {
    let mut l = sqlx::postgres::PgListener::connect_with(&db.pool)
        .await
        .expect("listener");
    l.listen(channel).await.expect("listen");
    l
}

#[tokio::test]
async fn two_instances_starting_together_apply_each_migration_once() {
    let test = TestDb::create().await;
    let (a, b) = tokio::join!(Db::connect(&test.url, 2), Db::connect(&test.url, 2));
    let (a, b) = (a.expect("first instance"), b.expect("second instance"));
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&a.pool)
            .await
            .expect("migrations table");
    let expected: Vec<(i64, bool)> = MIGRATIONS.iter().map(|(v, _, _)| (*v, true)).collect();
    assert_eq!(applied, expected);
    // A third start finds nothing to do.
    Db::connect(&test.url, 1).await.expect("restart");
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}
