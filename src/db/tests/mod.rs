//! Against the PostgreSQL of the machine (`CALLGATE_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test makes a database of its own
//! and drops it.

use std::time::Duration;

use serde_json::json;

use super::*;

mod documents;
mod queues;
mod records;

/// A fresh database, dropped with this value; `None` skips the test (no server, not CI).
struct TestDb(scratch::Scratch);

impl std::ops::Deref for TestDb {
    type Target = scratch::Scratch;
    fn deref(&self) -> &scratch::Scratch {
        &self.0
    }
}

impl TestDb {
    async fn create() -> Option<Self> {
        scratch::Scratch::create().await.map(Self)
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
    let Some(test) = TestDb::create().await else {
        return;
    };
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
