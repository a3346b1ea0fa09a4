//! One set of behaviour checks, run against both implementations of [`Sends`]: two
//! queued calls handed out one at a time under a limit of one in flight, each with its
//! try recorded; a retry handed out again as the next try; nothing once all are settled;
//! nothing while a pause lasts.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;
use crate::config::Settings;
use crate::dispatch::outbox::store::{OutboxStore, Tried};

use crate::dispatch::testing::at;

fn bland() -> crate::config::BlandSettings {
    let mut b = Settings::defaults().bland;
    b.max_concurrent = 1;
    b.max_calls_per_second = 1e9; // no spacing to wait out
    b
}

async fn claim(sends: &dyn Sends, now: DateTime<Utc>) -> Claim {
    sends.claim(now).await.expect("claim")
}

fn claimed(c: Claim) -> Claimed {
    match c {
        Claim::Claimed(c) => *c,
        Claim::Nothing => panic!("nothing to send"),
        Claim::Full => panic!("no room"),
        Claim::Wait(d) => panic!("asked to wait {d:?}"),
    }
}

async fn sent(outbox: &dyn OutboxStore, c: Claimed, now: DateTime<Utc>) {
    let tried = Tried::Sent {
        call_id: format!("call-{}", c.request_id),
    };
    outbox
        .finish(&c.request_id, now, tried)
        .await
        .expect("sent");
}

/// What every implementation does with `req_a` and `req_b` queued in its outbox.
async fn behaves(sends: &dyn Sends, outbox: &dyn OutboxStore) {
    sends.told(Wake::Queued("req_a".into()));
    sends.told(Wake::Queued("req_b".into()));
    let a = claimed(claim(sends, at(1)).await);
    assert_eq!(
        (a.request_id.as_str(), a.next.n),
        ("req_a", 1),
        "oldest first"
    );
    assert!(
        matches!(claim(sends, at(1)).await, Claim::Full),
        "one in flight"
    );
    let entry = outbox.entry("req_a").await.expect("entry").expect("open");
    assert_eq!(
        entry.attempts.len(),
        1,
        "the try is recorded before it is handed out"
    );
    sent(outbox, a, at(2)).await;

    let b = claimed(claim(sends, at(3)).await);
    assert_eq!((b.request_id.as_str(), b.next.n), ("req_b", 1));
    let retry = Tried::Retry {
        n: 1,
        error: "busy".into(),
        delay: std::time::Duration::from_secs(60),
    };
    outbox.finish("req_b", at(4), retry).await.expect("retry");
    drop(b);
    // The backoff ran out (the dispatcher's timer): the next try of the same call.
    sends.told(Wake::Retry("req_b".into()));
    let again = claimed(claim(sends, at(5)).await);
    assert_eq!((again.request_id.as_str(), again.next.n), ("req_b", 2));
    sent(outbox, again, at(6)).await;
    assert!(matches!(claim(sends, at(7)).await, Claim::Nothing));

    // A 429: nothing is handed out until the pause ends, and an earlier one set after it
    // does not shorten it (the database's row says so to the claim).
    sends.pause(at(20), "429: slow down").await.expect("pause");
    sends.pause(at(10), "earlier").await.expect("pause");
    let p = sends.paused(at(8)).expect("paused");
    assert_eq!((p.until, p.why.as_str()), (at(20), "429: slow down"));
    match claim(sends, at(8)).await {
        Claim::Wait(d) => assert_eq!(d, std::time::Duration::from_secs(12)),
        _ => panic!("a claim while paused waits for its end"),
    }
    assert!(sends.paused(at(20)).is_none(), "over at its end");
    assert!(matches!(claim(sends, at(21)).await, Claim::Nothing));
}

/// Each implementation over a fresh outbox holding `req_a` and `req_b`.
async fn files(
    dir: &std::path::Path,
    bland: &crate::config::BlandSettings,
) -> (FileSends, crate::dispatch::outbox::store::FileOutbox) {
    use crate::dispatch::outbox::{store::FileOutbox, Outbox, Record};
    let quarantine = crate::store::quarantine::Quarantine::in_memory();
    let (outbox, _) = Outbox::open(dir, at(0), &quarantine).expect("open");
    let outbox = Arc::new(outbox);
    for id in ["req_a", "req_b"] {
        let queued = Record::Queued {
            request_id: id.into(),
            at: at(0),
            lead_id: format!("lead-{id}"),
            phone: "+14155550101".into(),
            body: serde_json::json!({"phone_number": "+14155550101"}),
        };
        outbox.record(queued).wait().await.expect("queued");
    }
    let sends = FileSends::new(outbox.clone(), bland, chrono_tz::America::New_York);
    (sends, FileOutbox(outbox))
}

async fn rows(
    db: &crate::db::Db,
    bland: &crate::config::BlandSettings,
) -> (DbSends, crate::dispatch::outbox::store::DbOutbox) {
    for (n, id) in ["req_a", "req_b"].into_iter().enumerate() {
        let body = serde_json::json!({"phone_number": "+14155550101"});
        let lead = format!("lead-{id}");
        let queued = db.enqueue_call(id, &lead, "+14155550101", &body, at(n as i64 - 10));
        queued.await.expect("queued");
    }
    let outbox = crate::dispatch::outbox::store::DbOutbox::new(db.clone());
    let sends = DbSends::new(db.clone(), bland, chrono_tz::America::New_York);
    (sends, outbox)
}

/// A budget of one call an hour: the second waits for the next hour (21:00 UTC, 2,000 s
/// after `at(0)`), and `capacity` says so.
async fn budget_behaves(sends: &dyn Sends, outbox: &dyn OutboxStore) {
    sends.told(Wake::Queued("req_a".into()));
    sends.told(Wake::Queued("req_b".into()));
    let a = claimed(claim(sends, at(1)).await);
    sent(outbox, a, at(2)).await;
    match claim(sends, at(3)).await {
        Claim::Wait(d) => assert_eq!(d, std::time::Duration::from_secs(1997)),
        _ => panic!("the hour's budget is spent"),
    }
    let used = sends.capacity(at(3)).expect("a budget is set");
    assert_eq!(
        (used.hour, used.per_hour, used.held_until),
        (1, Some(1), Some(at(2000)))
    );
    let b = claimed(claim(sends, at(2000)).await);
    assert_eq!(b.request_id, "req_b");
}

fn one_an_hour() -> crate::config::BlandSettings {
    let mut b = bland();
    b.max_calls_per_hour = Some(1);
    b
}

#[tokio::test]
async fn files_behave_as_sends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sends, outbox) = files(dir.path(), &bland()).await;
    behaves(&sends, &outbox).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (sends, outbox) = files(dir.path(), &one_an_hour()).await;
    budget_behaves(&sends, &outbox).await;
}

#[tokio::test]
async fn rows_behave_as_sends() {
    for bland in [bland(), one_an_hour()] {
        let Some(test) = crate::db::scratch::Scratch::create().await else {
            return;
        };
        let db = crate::db::Db::connect(&test.url, 2).await.expect("connect");
        let (sends, outbox) = rows(&db, &bland).await;
        if bland.max_calls_per_hour.is_some() {
            budget_behaves(&sends, &outbox).await;
        } else {
            behaves(&sends, &outbox).await;
        }
        db.pool.close().await;
    }
}
