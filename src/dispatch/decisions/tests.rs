//! One set of behaviour checks, run against both implementations of [`Decisions`]: what
//! a committed unit leaves behind is read back through the same backend's deferred queue
//! and outbox, the trackers see each recorded decision at once, a release ends as
//! decided or deferred again under its id, and a second unit for a number waits for the
//! first.

use std::sync::Arc;

use super::*;
use crate::dispatch::deferred::{self, DeferredStore};
use crate::dispatch::outbox::store::OutboxStore;
use crate::journal::Decision;
use crate::tracker::Tracker;

use crate::dispatch::testing::{at, lead};

fn decision(l: &Lead, rid: &str, decision: Decision, queue_id: Option<String>) -> CallEvent {
    CallEvent::Decision {
        timestamp: at(0),
        request_id: rid.into(),
        lead_id: Some(l.lead_id.clone()),
        phone: Some(l.phone.as_str().to_string()),
        decision,
        stage: None,
        reason: None,
        release: false,
        queue_id,
        release_at: None,
        trace: None,
        attempt: None,
        fields: None,
    }
}

fn deferral<'a>(l: &'a Lead, rid: &'a str, release: i64) -> Deferral<'a> {
    Deferral {
        lead: l,
        request_id: rid,
        now: at(0),
        release_at: at(release),
        stage: "schedule",
        reason: "closed",
    }
}

struct Backend<'a> {
    decisions: &'a dyn Decisions,
    deferred: &'a dyn DeferredStore,
    outbox: &'a dyn OutboxStore,
    tracker: &'a Tracker,
}

/// What every implementation does.
async fn behaves(b: Backend<'_>) {
    let (a, c) = (lead("A", "+14155550101"), lead("C", "+14155550103"));
    // A unit over two numbers: A deferred, C accepted.
    let mut unit = b.decisions.begin(&[&a, &c], at(0)).await.expect("begin");
    let queue_id = unit.defer(deferral(&a, "req_a", 5)).await.expect("defer");
    unit.record(&decision(
        &a,
        "req_a",
        Decision::Deferred,
        Some(queue_id.clone()),
    ))
    .await
    .expect("record");
    unit.record(&decision(&c, "req_c", Decision::Accepted, None))
        .await
        .expect("record");
    let view = b.tracker.view(c.phone.as_str(), "C", at(1));
    assert_eq!(view.calls_today, 1, "the trackers see a decision at once");
    let call = QueuedCall {
        request_id: "req_c",
        lead_id: "C",
        phone: c.phone.as_str(),
        body: serde_json::json!({"phone_number": c.phone.as_str()}),
        at: at(0),
    };
    unit.enqueue(call).await.expect("enqueue");
    unit.commit().await.expect("commit");
    let queued = b
        .deferred
        .get(&queue_id)
        .await
        .expect("get")
        .expect("queued");
    assert_eq!((queued.lead_id.as_str(), queued.release_at), ("A", at(5)));
    let entry = b
        .outbox
        .entry("req_c")
        .await
        .expect("entry")
        .expect("in the outbox");
    assert_eq!(entry.lead_id, "C");

    // A's release, deferred again: the same entry, due later.
    let lease = chrono::Duration::seconds(60);
    let claimed = b
        .deferred
        .claim_due(at(10), 10, lease)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "A is due");
    let mut unit = b.decisions.begin(&[&a], at(10)).await.expect("begin");
    let rid = claimed[0].releasing.clone().expect("a release id");
    let again = Deferral {
        now: at(10),
        ..deferral(&a, &rid, 600)
    };
    let kept = unit.finish_release(&claimed[0], at(10), Some(again)).await;
    assert_eq!(kept.expect("again").as_deref(), Some(queue_id.as_str()));
    unit.commit().await.expect("commit");
    let later = b
        .deferred
        .get(&queue_id)
        .await
        .expect("get")
        .expect("still queued");
    assert_eq!(
        (later.release_at, later.releasing.is_none()),
        (at(600), true)
    );

    // Released and decided: it leaves the queue with the commit.
    let Claim::Claimed(e) = b
        .deferred
        .claim(&queue_id, at(20), lease)
        .await
        .expect("claim")
    else {
        panic!("claimed by an admin's release");
    };
    let mut unit = b.decisions.begin(&[&a], at(20)).await.expect("begin");
    let gone = unit
        .finish_release(&e, at(20), None)
        .await
        .expect("decided");
    assert_eq!(gone, None);
    unit.commit().await.expect("commit");
    assert!(b.deferred.get(&queue_id).await.expect("get").is_none());
}

use crate::dispatch::deferred::Claim;

/// A second unit for a number begins only once the first has ended; `waiting` resolves
/// when the second is certainly blocked on the lock.
async fn excludes<F>(decisions: Arc<dyn Decisions>, waiting: impl Fn() -> F)
where
    F: std::future::Future<Output = ()>,
{
    let a = lead("A", "+14155550101");
    let first = decisions.begin(&[&a], at(0)).await.expect("begin");
    let (second, other) = (decisions.clone(), a.clone());
    let waiter = tokio::spawn(async move {
        let unit = second.begin(&[&other], at(0)).await.expect("begin");
        unit.commit().await.expect("commit");
    });
    waiting().await;
    assert!(!waiter.is_finished(), "the second unit waits for the first");
    first.commit().await.expect("commit");
    waiter.await.expect("the second unit ends");
}

async fn file_backend(
    dir: &std::path::Path,
) -> (
    Arc<FileDecisions>,
    deferred::FileDeferred,
    crate::dispatch::outbox::store::FileOutbox,
    Arc<Tracker>,
) {
    use crate::dispatch::outbox::Outbox;
    use crate::schedule::queue::DeferredQueue;
    let quarantine = crate::store::quarantine::Quarantine::in_memory();
    let (outbox, _) = Outbox::open(dir, at(0), &quarantine).expect("outbox");
    let (queue, _) = DeferredQueue::open(dir, &quarantine).expect("queue");
    let journals = Arc::new(crate::journal::Journals::open(dir, chrono_tz::UTC).expect("journals"));
    let docs = crate::store::doc_store::files(dir);
    let tracker = Arc::new(Tracker::open(chrono_tz::UTC, docs).await.expect("tracker"));
    let (outbox, queue) = (Arc::new(outbox), Arc::new(queue));
    let decisions = FileDecisions::new(
        journals.clone(),
        outbox.clone(),
        queue.clone(),
        tracker.clone(),
    );
    let store = deferred::FileDeferred { queue, journals };
    (
        Arc::new(decisions),
        store,
        crate::dispatch::outbox::store::FileOutbox(outbox),
        tracker,
    )
}

#[tokio::test]
async fn files_behave_as_decisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (decisions, deferred, outbox, tracker) = file_backend(dir.path()).await;
    behaves(Backend {
        decisions: &*decisions,
        deferred: &deferred,
        outbox: &outbox,
        tracker: &tracker,
    })
    .await;
    // One process: the second unit is parked on the stripe's mutex once it has run.
    excludes(decisions, || async {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

#[tokio::test]
async fn rows_behave_as_decisions() {
    let Some(test) = crate::db::scratch::Scratch::create().await else {
        return;
    };
    let db = crate::db::Db::connect(&test.url, 4).await.expect("connect");
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = Arc::new(crate::journal::Journals::open_db(
        db.clone(),
        dir.path(),
        chrono_tz::UTC,
    ));
    let docs = crate::store::doc_store::files(dir.path());
    let tracker = Arc::new(Tracker::open(chrono_tz::UTC, docs).await.expect("tracker"));
    let quarantine = Arc::new(crate::store::quarantine::Quarantine::in_memory());
    let decisions = Arc::new(DbDecisions::new(
        db.clone(),
        journals,
        tracker.clone(),
        quarantine,
    ));
    behaves(Backend {
        decisions: &*decisions,
        deferred: &deferred::DbDeferred::new(db.clone(), chrono_tz::UTC),
        outbox: &crate::dispatch::outbox::store::DbOutbox::new(db.clone()),
        tracker: &tracker,
    })
    .await;
    // Several instances: the second unit's transaction waits on the number's advisory lock.
    let probe = db.clone();
    excludes(decisions, move || {
        let probe = probe.clone();
        async move {
            for _ in 0..500 {
                if probe.advisory_waiters().await.expect("pg_locks") > 0 {
                    return;
                }
                tokio::task::yield_now().await;
            }
            panic!("the second unit never waited on the lock");
        }
    })
    .await;
    db.pool.close().await;
}
