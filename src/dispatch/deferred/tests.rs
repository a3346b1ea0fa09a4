use super::*;
use crate::db::Db;
use crate::domain::Lead;

use crate::dispatch::testing::{at, lead};

async fn defer(store: &dyn DeferredStore, l: &Lead, release: i64, stage: &str) -> String {
    let d = Deferral {
        lead: l,
        request_id: &format!("req_{}", l.lead_id),
        now: at(0),
        release_at: at(release),
        stage,
        reason: "closed",
    };
    store.defer(d).await.expect("defer")
}

fn ids(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.lead_id.as_str()).collect()
}

/// What every implementation does: two leads deferred, one due; the due one claimed
/// once (not twice, not by an admin meanwhile), given back, claimed again and dropped;
/// the other made due by its free line, then expired only while nobody releases it.
async fn behaves(store: &dyn DeferredStore) {
    let lease = chrono::Duration::seconds(60);
    let (a, b) = (lead("A", "+14155550101"), lead("B", "+14155550102"));
    let a_id = defer(store, &a, 600, "protection").await;
    let b_id = defer(store, &b, 5, "schedule").await;
    assert_eq!(
        defer(store, &a, 600, "protection").await,
        a_id,
        "same lead, same id"
    );
    let now = at(10);
    let ((matching, page), summary) = store.page(None, None, 0, 10, now).await.expect("page");
    assert_eq!(
        (matching, ids(&page)),
        (2, vec!["B", "A"]),
        "by release time"
    );
    assert_eq!(summary, (2, 1, Some(at(0))));
    store.refresh(now).await.expect("refresh");
    assert_eq!(store.summary(now), (2, 1, Some(at(0))));
    let of_a = store.of_lead("A", "+14155550101").await.expect("of lead");
    assert_eq!(ids(&of_a), ["A"]);

    let claimed = store.claim_due(now, 10, lease).await.expect("claim");
    assert_eq!(ids(&claimed), ["B"]);
    assert_eq!(claimed[0].releasing.as_deref(), Some("req_B-r1"));
    assert!(store
        .claim_due(now, 10, lease)
        .await
        .expect("again")
        .is_empty());
    assert!(matches!(
        store.claim(&b_id, now, lease).await.expect("admin"),
        Claim::Busy
    ));
    assert!(matches!(
        store.claim("q_nope", now, lease).await.expect("nope"),
        Claim::Missing
    ));
    store.give_back(&claimed[0]).await.expect("give back");
    let again = store.claim_due(now, 10, lease).await.expect("claim again");
    assert_eq!(ids(&again), ["B"]);
    store.drop_release(&again[0], now).await.expect("drop");
    assert!(store.get(&b_id).await.expect("get").is_none());

    assert_eq!(
        store
            .hurry_phone("+14155550101", "protection", now)
            .await
            .expect("hurry"),
        1
    );
    assert_eq!(
        store
            .hurry_phone("+14155550101", "schedule", now)
            .await
            .expect("other stage"),
        0
    );
    let Claim::Claimed(e) = store.claim(&a_id, now, lease).await.expect("due now") else {
        panic!("the hurried entry is claimed");
    };
    assert!(
        store.expired(at(1), 10).await.expect("expired").is_empty(),
        "being released"
    );
    store.give_back(&e).await.expect("give back");
    let expired = store.expired(at(1), 10).await.expect("expired");
    assert_eq!(ids(&expired), ["A"]);
    let event = CallEvent::Dequeued {
        timestamp: now,
        request_id: e.request_id.clone(),
        queue_id: e.id.clone(),
        lead_id: Some("A".into()),
        phone: Some(e.phone.clone()),
        why: Removal::Expired,
        first_deferred_at: e.first_deferred_at,
    };
    let fresh = store.get(&a_id).await.expect("get").expect("still queued");
    assert!(store
        .dequeue(&fresh, &event, Removal::Expired, now)
        .await
        .expect("dequeue"));
    assert_eq!(
        store.page(None, None, 0, 10, now).await.expect("page").0 .0,
        0
    );
    assert_eq!(store.hurry_all(now).await.expect("hurry all"), 0);
}

#[tokio::test]
async fn files_behave_as_a_deferred_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quarantine = crate::store::quarantine::Quarantine::in_memory();
    let (queue, _) = DeferredQueue::open(dir.path(), &quarantine).expect("queue");
    let journals = Journals::open(dir.path(), chrono_tz::UTC).expect("journals");
    let store = FileDeferred {
        queue: Arc::new(queue),
        journals: Arc::new(journals),
    };
    behaves(&store).await;
    let day = store.journals.date_of(at(10));
    let (_, bytes) = store
        .journals
        .day_bytes(crate::journal::Kind::Calls, day)
        .expect("day");
    assert!(
        String::from_utf8_lossy(&bytes).contains("dequeued"),
        "journaled"
    );
}

#[tokio::test]
async fn rows_behave_as_a_deferred_store() {
    let Some(test) = crate::db::scratch::Scratch::create().await else {
        return;
    };
    let db = Db::connect(&test.url, 4).await.expect("connect");
    behaves(&DbDeferred::new(db.clone(), chrono_tz::UTC)).await;
    db.pool.close().await;
}
