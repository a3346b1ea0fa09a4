//! Config documents, leases and feed caches shared by two instances.

use super::*;

#[tokio::test]
async fn a_document_write_is_versioned_and_announced_to_other_instances() {
    let Some(test) = TestDb::create().await else {
        return;
    };
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
        crate::store::document::Document::open(
            std::sync::Arc::new(crate::store::doc_store::DbDocuments::new(db.clone(), clock)),
            "protection",
            json!({"a": 1}),
            parse,
        )
        .await
        .expect("open"),
    )
}

async fn update(
    doc: &std::sync::Arc<crate::store::document::Document<serde_json::Value, ()>>,
    patch: serde_json::Value,
) -> Result<serde_json::Value, crate::store::document::UpdateError> {
    doc.update(&patch).await
}

#[tokio::test]
async fn a_document_changed_on_one_instance_is_live_on_the_other_and_no_patch_is_lost() {
    let Some(test) = TestDb::create().await else {
        return;
    };
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
    let Some(test) = TestDb::create().await else {
        return;
    };
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

#[tokio::test]
async fn a_feed_copy_is_shared_and_never_replaced_by_an_older_one() {
    let Some(test) = TestDb::create().await else {
        return;
    };
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
