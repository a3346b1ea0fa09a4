//! Against the PostgreSQL of the machine (`CALLGATE_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test makes a database of its own
//! and drops it.

use std::time::Duration;

use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

use super::*;

fn admin_url() -> String {
    std::env::var("CALLGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database; [`TestDb::drop_db`] removes it.
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

    async fn drop_db(self) {
        let mut admin = PgConnection::connect(&admin_url()).await.expect("admin");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop database");
    }
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("instant")
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
    test.drop_db().await;
}

#[tokio::test]
async fn a_document_write_is_versioned_and_announced_to_other_instances() {
    let test = TestDb::create().await;
    let one = Db::connect(&test.url, 2).await.expect("instance one");
    let two = Db::connect(&test.url, 2).await.expect("instance two");
    let mut heard = two.listen_documents().await.expect("listen");
    assert_eq!(one.document("scheduler").await.expect("read"), None);
    let body = json!({"hours": {"mon": {"start": "09:00", "end": "17:00"}}});
    let v1 = one
        .put_document("scheduler", &body, 0, at("2026-12-01T15:00:00Z"))
        .await
        .expect("first write");
    assert_eq!(v1, 1);
    let note = tokio::time::timeout(Duration::from_secs(5), heard.recv())
        .await
        .expect("a notification within 5 s")
        .expect("notification");
    assert_eq!(note.payload(), "scheduler");
    let seen = two
        .document("scheduler")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((seen.body, seen.version), (body, 1));
    // A writer that read version 0 is refused now: no silent overwrite.
    let stale = two
        .put_document("scheduler", &json!({}), 0, at("2026-12-01T15:01:00Z"))
        .await;
    assert!(
        matches!(
            stale,
            Err(DbError::Conflict {
                expected: 0,
                found: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    let v2 = two
        .put_document(
            "scheduler",
            &json!({"enabled": false}),
            1,
            at("2026-12-01T15:02:00Z"),
        )
        .await
        .expect("second write");
    assert_eq!(v2, 2);
    let last = one
        .document("scheduler")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(last.updated_at, at("2026-12-01T15:02:00Z"));
    drop(heard);
    one.pool.close().await;
    two.pool.close().await;
    test.drop_db().await;
}
