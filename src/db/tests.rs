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
    drop(test);
}

/// A config document as the admin API holds it, on two instances sharing one database.
async fn followed(
    db: &Db,
) -> std::sync::Arc<crate::store::document::Document<serde_json::Value, ()>> {
    let clock: crate::clock::SharedClock =
        std::sync::Arc::new(crate::clock::ManualClock::new(at("2026-12-01T15:00:00Z")));
    let parse: crate::store::document::Parse<serde_json::Value, ()> = Box::new(|v| {
        if v.get("bad").is_some() {
            return Err("bad: refused".into());
        }
        Ok((v.clone(), ()))
    });
    std::sync::Arc::new(
        crate::store::document::Document::open_db(db, "protection", json!({"a": 1}), parse, clock)
            .await
            .expect("open"),
    )
}

async fn update(
    doc: &std::sync::Arc<crate::store::document::Document<serde_json::Value, ()>>,
    patch: serde_json::Value,
) -> Result<serde_json::Value, crate::store::document::UpdateError> {
    let doc = doc.clone();
    tokio::task::spawn_blocking(move || doc.update(&patch))
        .await
        .expect("blocking task")
}

#[tokio::test]
async fn a_document_changed_on_one_instance_is_live_on_the_other_and_no_patch_is_lost() {
    let test = TestDb::create().await;
    let (db_a, db_b) = (
        Db::connect(&test.url, 2).await.expect("a"),
        Db::connect(&test.url, 2).await.expect("b"),
    );
    let (a, b) = (followed(&db_a).await, followed(&db_b).await);
    assert_eq!(
        b.get().doc,
        json!({"a": 1}),
        "the default until one is written"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = {
        let b = b.clone();
        tokio::spawn(async move {
            b.follow(async {
                let _ = stopped.await;
            })
            .await
        })
    };
    update(&a, json!({"x": 1})).await.expect("write on a");
    let mut seen = false;
    for _ in 0..100 {
        if b.get().doc == json!({"a": 1, "x": 1}) {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "b did not pick up a's change: {}", b.get().doc);
    // `a` has not re-read b's world: its write is merged again onto the newer document.
    update(&b, json!({"y": 2})).await.expect("write on b");
    let merged = update(&a, json!({"z": 3}))
        .await
        .expect("write on a after b");
    assert_eq!(merged, json!({"a": 1, "x": 1, "y": 2, "z": 3}));
    // An invalid patch changes nothing anywhere.
    assert!(update(&a, json!({"bad": true})).await.is_err());
    let stored = db_a
        .document("protection")
        .await
        .expect("read")
        .expect("row");
    assert_eq!((stored.version, stored.body), (3, merged));
    let _ = stop.send(());
    follower.await.expect("follower ends");
    db_a.pool.close().await;
    db_b.pool.close().await;
    drop(test);
}

#[tokio::test]
async fn one_instance_holds_a_lease_until_it_expires_or_is_given_up() {
    let test = TestDb::create().await;
    let db = Db::connect(&test.url, 4).await.expect("db");
    let ttl = chrono::Duration::seconds(30);
    let t0 = at("2026-12-01T15:00:00Z");
    // Two instances asking at the same moment: exactly one gets it.
    let (a, b) = tokio::join!(
        db.try_lease("release", "instance-a", t0, ttl),
        db.try_lease("release", "instance-b", t0, ttl)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert!(a ^ b, "exactly one holder: a={a} b={b}");
    let (holder, other) = if a {
        ("instance-a", "instance-b")
    } else {
        ("instance-b", "instance-a")
    };
    let t1 = t0 + chrono::Duration::seconds(20);
    assert!(db
        .try_lease("release", holder, t1, ttl)
        .await
        .expect("renew"));
    assert!(!db
        .try_lease("release", other, t1, ttl)
        .await
        .expect("still held"));
    // Renewed at t1, it runs to t1 + 30 s; then the other instance takes over.
    let t2 = t1 + ttl;
    assert!(db
        .try_lease("release", other, t2, ttl)
        .await
        .expect("expired"));
    assert!(!db
        .try_lease("release", holder, t2, ttl)
        .await
        .expect("lost"));
    db.release_lease("release", other).await.expect("give up");
    assert!(db
        .try_lease("release", holder, t2, ttl)
        .await
        .expect("free again"));
    db.pool.close().await;
    drop(test);
}

fn flag(id: &str, value: &str) -> flags::FlagRow {
    flags::FlagRow {
        id: id.into(),
        field: "phone".into(),
        value: value.into(),
        reason: Some("asked not to be called".into()),
        added_by: Some("admin".into()),
        added_at: at("2026-12-01T15:00:00Z").timestamp_millis(),
        expires_at: None,
        updated_at: None,
    }
}

#[tokio::test]
async fn flags_written_on_one_instance_reach_the_other_through_the_change_log() {
    use flags::FlagChange;
    let test = TestDb::create().await;
    let a = Db::connect(&test.url, 4).await.expect("a");
    let b = Db::connect(&test.url, 4).await.expect("b");
    let (enabled, none, start) = b.load_flags().await.expect("load");
    assert!(enabled && none.is_empty());
    let mut heard = listen(&b, flags::CHANNEL).await;
    let now = at("2026-12-01T15:00:00Z");
    // The same number added on both instances at once: one flag.
    let (fa, fb) = (
        flag("flag_a", "+13055551234"),
        flag("flag_b", "+13055551234"),
    );
    let (x, y) = tokio::join!(a.add_flag(&fa, now), b.add_flag(&fb, now));
    let ((fx, existed_x), (fy, existed_y)) = (x.expect("a adds"), y.expect("b adds"));
    assert!(existed_x ^ existed_y, "exactly one created it");
    assert_eq!(fx.id, fy.id, "both answer with the same flag");
    let note = tokio::time::timeout(Duration::from_secs(5), heard.recv())
        .await
        .expect("a notification within 5 s")
        .expect("notification");
    let seq: i64 = note.payload().parse().expect("seq");
    let changes = b.flag_changes_since(start).await.expect("changes");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, seq);
    assert!(matches!(&changes[0].1, FlagChange::Put(f) if f.id == fx.id));
    // An expired flag does not count as present.
    let mut old = flag("flag_old", "+13055550000");
    old.expires_at = Some(at("2026-12-01T14:00:00Z").timestamp_millis());
    a.put_flag(&old, now).await.expect("put expired");
    let (fresh, existed) = a
        .add_flag(&flag("flag_new", "+13055550000"), now)
        .await
        .expect("add over an expired flag");
    assert_eq!((fresh.id.as_str(), existed), ("flag_new", false));
    // Delete, disable: the other instance sees every change in order.
    let gone = b.delete_flag(&fx.id, now).await.expect("delete");
    assert_eq!(gone.map(|f| f.id), Some(fx.id.clone()));
    assert_eq!(b.delete_flag(&fx.id, now).await.expect("again"), None);
    a.set_blocklist_enabled(false, now).await.expect("disable");
    let later: Vec<FlagChange> = b
        .flag_changes_since(seq)
        .await
        .expect("changes")
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        later,
        vec![
            FlagChange::Put(old.clone()),
            FlagChange::Put(flag("flag_new", "+13055550000")),
            FlagChange::Delete(fx.id.clone()),
            FlagChange::Enabled(false),
        ]
    );
    let (enabled, rows, last) = a.load_flags().await.expect("reload");
    assert!(!enabled);
    assert_eq!(rows, vec![old, flag("flag_new", "+13055550000")]);
    assert_eq!(last, seq + 4);
    drop(heard);
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

/// A listener on `channel`.
async fn listen(db: &Db, channel: &str) -> sqlx::postgres::PgListener {
    let mut l = sqlx::postgres::PgListener::connect_with(&db.pool)
        .await
        .expect("listener");
    l.listen(channel).await.expect("listen");
    l
}

fn line(day: &str, at_: &str, phone: &str, lead: &str, text: &str) -> journals::JournalLine {
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

#[tokio::test]
async fn journal_lines_from_two_instances_read_back_per_day_and_by_number() {
    use journals::Journal;
    let test = TestDb::create().await;
    let a = Db::connect(&test.url, 2).await.expect("a");
    let b = Db::connect(&test.url, 2).await.expect("b");
    a.append_lines(&[
        line(
            "2026-11-30",
            "2026-12-01T04:59:00Z",
            "+13055551234",
            "L1",
            "one",
        ),
        line(
            "2026-12-01",
            "2026-12-01T05:00:00Z",
            "+13055551234",
            "L1",
            "two",
        ),
    ])
    .await
    .expect("a appends");
    b.append_lines(&[line(
        "2026-12-01",
        "2026-12-01T06:00:00Z",
        "+13055559999",
        "L2",
        "three",
    )])
    .await
    .expect("b appends");
    let mut attempt = line(
        "2026-12-01",
        "2026-12-01T06:00:00Z",
        "+13055559999",
        "L2",
        "x",
    );
    attempt.journal = Journal::Attempts;
    b.append_lines(&[attempt]).await.expect("attempt");
    let day = a
        .day_lines(Journal::Calls, "2026-12-01".parse().expect("date"))
        .await
        .expect("day");
    assert_eq!(
        day,
        [
            "{\"event\":\"decision\",\"n\":\"two\"}",
            "{\"event\":\"decision\",\"n\":\"three\"}"
        ]
    );
    let attempts = a
        .day_lines(Journal::Attempts, "2026-12-01".parse().expect("date"))
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 1);
    // The number's history across the business-day boundary, from either instance.
    let history = b
        .lines_for(
            Some("+13055551234"),
            None,
            at("2026-11-30T12:00:00Z"),
            at("2026-12-02T00:00:00Z"),
            100,
        )
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    let by_lead = b
        .lines_for(
            None,
            Some("L2"),
            at("2026-11-30T00:00:00Z"),
            at("2026-12-02T00:00:00Z"),
            100,
        )
        .await
        .expect("by lead");
    assert_eq!(by_lead, ["{\"event\":\"decision\",\"n\":\"three\"}"]);
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

#[tokio::test]
async fn each_call_is_claimed_by_one_instance_and_a_dead_claim_becomes_unconfirmed() {
    use outbox::TryResult;
    let test = TestDb::create().await;
    let a = Db::connect(&test.url, 4).await.expect("a");
    let b = Db::connect(&test.url, 4).await.expect("b");
    let t0 = at("2026-12-01T15:00:00Z");
    let lease = chrono::Duration::seconds(60);
    for i in 0..20 {
        a.enqueue_call(
            &format!("req_{i:02}"),
            "L",
            "+13055551234",
            &json!({"i": i}),
            t0,
        )
        .await
        .expect("enqueue");
    }
    // Both instances claim as fast as they can: every call once, none twice.
    let drain = |db: Db, holder: &'static str| async move {
        let mut got = Vec::new();
        while let Some(c) = db.claim_call(holder, t0, lease).await.expect("claim") {
            got.push(c.request_id);
        }
        got
    };
    let (x, y) = tokio::join!(drain(a.clone(), "a"), drain(b.clone(), "b"));
    let mut all: Vec<String> = x.iter().chain(y.iter()).cloned().collect();
    all.sort();
    let expected: Vec<String> = (0..20).map(|i| format!("req_{i:02}")).collect();
    assert_eq!(all, expected, "a took {}, b took {}", x.len(), y.len());
    // A retry waits for its time and keeps its attempt history.
    let first = x.first().or(y.first()).expect("one").clone();
    let holder = if x.contains(&first) { "a" } else { "b" };
    let next = t0 + chrono::Duration::seconds(2);
    let retry = TryResult::Retry {
        error: "503".into(),
        next_try_at: next,
    };
    assert!(a
        .record_try(&first, holder, &retry, t0)
        .await
        .expect("retry"));
    assert_eq!(a.claim_call("a", t0, lease).await.expect("early"), None);
    let again = a
        .claim_call("a", next, lease)
        .await
        .expect("due")
        .expect("claimed");
    assert_eq!(
        (again.request_id.as_str(), again.n, again.first_try),
        (first.as_str(), 2, t0)
    );
    assert!(a
        .record_try(
            &first,
            "a",
            &TryResult::Sent {
                call_id: "call-1".into()
            },
            next
        )
        .await
        .expect("sent"));
    // The other claims were never settled: their instance "died". After the lease they are
    // unconfirmed, and a late result from the dead claim is not applied.
    let expired = a.expire_claims(t0 + lease).await.expect("expire");
    assert_eq!(expired.len(), 19);
    let late = TryResult::Sent {
        call_id: "late".into(),
    };
    let other = expected.iter().find(|r| **r != first).expect("other");
    let late_holder = if x.contains(other) { "a" } else { "b" };
    assert!(!a
        .record_try(other, late_holder, &late, t0 + lease)
        .await
        .expect("late"));
    let open = b.open_calls().await.expect("open");
    assert_eq!(open.len(), 19);
    assert!(open.iter().all(|c| c.state == "unconfirmed"));
    // A completion (or an admin) settles one; the sent call is closed but remembered.
    assert!(b
        .settle_call(other, Some("call-x"), t0 + lease)
        .await
        .expect("settle"));
    assert!(!b
        .settle_call(other, None, t0 + lease)
        .await
        .expect("only once"));
    assert_eq!(b.open_calls().await.expect("open").len(), 18);
    assert!(b.has_call(&first).await.expect("seen") && !b.has_call("req_x").await.expect("unseen"));
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

fn deferred_row(i: usize, release_at: &str) -> deferred::DeferredRow {
    deferred::DeferredRow {
        id: format!("dq_{i:02}"),
        lead_id: format!("L{i}"),
        phone: format!("+1305555{i:04}"),
        request_id: format!("req_{i}"),
        lead: json!({"lead_id": format!("L{i}")}),
        first_deferred_at: at("2026-12-01T02:00:00Z"),
        deferred_at: at("2026-12-01T02:00:00Z"),
        release_at: at(release_at),
        stage: "schedule".into(),
        reason: "closed".into(),
        releases: 0,
        releasing: None,
    }
}

#[tokio::test]
async fn deferred_leads_are_released_once_across_instances() {
    let test = TestDb::create().await;
    let a = Db::connect(&test.url, 4).await.expect("a");
    let b = Db::connect(&test.url, 4).await.expect("b");
    for i in 0..15 {
        a.defer_lead(&deferred_row(i, "2026-12-01T14:00:00Z"))
            .await
            .expect("defer");
    }
    // The same lead deferred again keeps its row.
    let mut again = deferred_row(3, "2026-12-01T14:00:00Z");
    again.id = "dq_other".into();
    again.lead = json!({"lead_id": "L3", "newer": true});
    again.deferred_at = at("2026-12-01T03:00:00Z");
    assert_eq!(b.defer_lead(&again).await.expect("again"), "dq_03");
    let nine = at("2026-12-01T14:00:00Z");
    let lease = chrono::Duration::seconds(30);
    assert_eq!(a.deferred_summary(nine).await.expect("summary").0, 15);
    let (x, y) = tokio::join!(
        a.claim_releases("a", nine, 10, lease),
        b.claim_releases("b", nine, 10, lease)
    );
    let (x, y) = (x.expect("a claims"), y.expect("b claims"));
    let mut ids: Vec<&str> = x.iter().chain(y.iter()).map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (ids.len(), x.len() + y.len()),
        (15, 15),
        "each release claimed once"
    );
    let three = x
        .iter()
        .chain(y.iter())
        .find(|r| r.id == "dq_03")
        .expect("dq_03");
    assert_eq!(three.releasing.as_deref(), Some("dq_03-r1"));
    assert_eq!(three.lead, json!({"lead_id": "L3", "newer": true}));
    assert_eq!(three.first_deferred_at, at("2026-12-01T02:00:00Z"));
    // `a` decides its leads: one is deferred again, the rest leave the queue.
    let later = at("2026-12-01T15:00:00Z");
    for (n, r) in x.iter().enumerate() {
        let again = (n == 0).then_some((later, "protection", "line busy"));
        assert!(a.finish_release(&r.id, "a", again).await.expect("finish"));
    }
    // `b` died holding its claims: after the lease they are stale, and one instance adopts
    // each to settle it.
    let after = nine + lease;
    let stale = a.stale_releases(after).await.expect("stale");
    assert_eq!(stale.len(), y.len());
    assert!(a
        .adopt_release(&stale[0].id, "a", after, lease)
        .await
        .expect("adopt"));
    assert!(!b
        .adopt_release(&stale[0].id, "c", after, lease)
        .await
        .expect("taken"));
    assert!(!b
        .finish_release(&stale[0].id, "b", None)
        .await
        .expect("b lost it"));
    // The re-deferred lead waits for its line; a free line makes it due now.
    let requeued = &x[0];
    assert_eq!(
        a.hurry_phone(&requeued.phone, "protection", after)
            .await
            .expect("hurry"),
        1
    );
    let due = a
        .claim_releases("a", after, 10, lease)
        .await
        .expect("due again");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].releasing, Some(format!("{}-r2", requeued.id)));
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

#[tokio::test]
async fn a_feed_copy_is_shared_and_never_replaced_by_an_older_one() {
    let test = TestDb::create().await;
    let a = Db::connect(&test.url, 2).await.expect("a");
    let b = Db::connect(&test.url, 2).await.expect("b");
    assert_eq!(b.cached_feed("litigators").await.expect("none"), None);
    let newer = vec!["+13055551234".to_string(), "+13055559876".to_string()];
    a.store_feed("litigators", at("2026-12-01T12:00:00Z"), &newer)
        .await
        .expect("store");
    b.store_feed(
        "litigators",
        at("2026-12-01T06:00:00Z"),
        &["+1".to_string()],
    )
    .await
    .expect("older copy");
    assert_eq!(
        b.cached_feed("litigators").await.expect("read"),
        Some((at("2026-12-01T12:00:00Z"), newer))
    );
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

#[tokio::test]
async fn of_two_instances_deciding_about_one_number_at_once_exactly_one_accepts() {
    let test = TestDb::create().await;
    let a = Db::connect(&test.url, 8).await.expect("a");
    let b = Db::connect(&test.url, 8).await.expect("b");
    let now = at("2026-12-01T15:00:00Z");
    // A stand-in for the pipeline: accept unless the number has an accepted call already.
    let decide = |db: Db, who: &'static str| async move {
        let mut tx = db.lock_number("+13055551234").await.expect("lock");
        let history = tx
            .history(now - chrono::Duration::hours(25))
            .await
            .expect("history");
        let busy = history
            .iter()
            .any(|l| l.contains("\"decision\":\"accepted\""));
        let decision = if busy { "blocked" } else { "accepted" };
        let mut l = line(
            "2026-12-01",
            "2026-12-01T15:00:00Z",
            "+13055551234",
            who,
            who,
        );
        l.request_id = Some(format!("req_{who}"));
        l.line = format!("{{\"event\":\"decision\",\"decision\":\"{decision}\",\"by\":\"{who}\"}}");
        tx.append_lines(&[l]).await.expect("journal");
        if !busy {
            tx.enqueue_call(&format!("req_{who}"), who, &json!({}), now)
                .await
                .expect("outbox");
        }
        tx.commit().await.expect("commit");
        decision
    };
    for round in 0..5 {
        sqlx::query("TRUNCATE journal_lines, outbox")
            .execute(&a.pool)
            .await
            .expect("reset");
        let (x, y) = tokio::join!(decide(a.clone(), "a"), decide(b.clone(), "b"));
        let mut both = [x, y];
        both.sort();
        assert_eq!(both, ["accepted", "blocked"], "round {round}");
        let queued = a.open_calls().await.expect("open").len();
        assert_eq!(queued, 1, "one call queued in round {round}");
    }
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}
