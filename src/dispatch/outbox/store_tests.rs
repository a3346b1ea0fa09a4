use super::*;

use crate::dispatch::testing::at;

fn state(entry: Option<Entry>) -> Option<State> {
    entry.map(|e| e.state)
}

/// What every implementation does, from two accepted calls `req_a` and `req_b` (in
/// that order) both handed to the sender: one comes back unconfirmed and one failed;
/// the unconfirmed one is resent once (never twice), the failed one settled.
async fn behaves(store: &dyn OutboxStore) {
    assert_eq!(
        state(store.entry("req_a").await.expect("a")),
        Some(State::InFlight)
    );
    let ids: Vec<String> = store
        .entries()
        .await
        .expect("entries")
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert_eq!(ids, ["req_a", "req_b"], "oldest first");
    assert_eq!(store.backlog().await.expect("backlog"), 0);
    let unconfirmed = Tried::Unconfirmed {
        error: "timed out".into(),
    };
    store.finish("req_a", at(2), unconfirmed).await.expect("a");
    let failed = Tried::Failed {
        error: "400".into(),
    };
    store.finish("req_b", at(2), failed).await.expect("b");
    store.refresh().await.expect("refresh");
    assert_eq!(store.counts(), [0, 0, 1, 1, 0]);
    assert!(store.requeue("req_a", 1, at(3)).await.expect("resend"));
    assert!(!store.requeue("req_a", 1, at(3)).await.expect("twice"));
    assert_eq!(
        state(store.entry("req_a").await.expect("a")),
        Some(State::Queued)
    );
    assert_eq!(store.backlog().await.expect("backlog"), 1);
    store
        .settle("req_b", false, None, at(4))
        .await
        .expect("settle");
    assert_eq!(
        store.entry("req_b").await.expect("b").map(|e| e.state),
        None
    );
    store.refresh().await.expect("refresh");
    // Queued again after an error: also counted as retrying.
    assert_eq!(store.counts(), [1, 0, 0, 0, 1]);
    assert_eq!(store.entries().await.expect("entries").len(), 1);
}

#[tokio::test]
async fn files_behave_as_an_outbox_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let quarantine = crate::store::quarantine::Quarantine::in_memory();
    let (outbox, _) = Outbox::open(dir.path(), at(0), &quarantine).expect("open");
    for (n, id) in ["req_a", "req_b"].into_iter().enumerate() {
        let queued = Record::Queued {
            request_id: id.into(),
            at: at(n as i64),
            lead_id: format!("lead-{id}"),
            phone: "+14155550101".into(),
            body: serde_json::json!({"phone_number": "+14155550101"}),
        };
        outbox.record(queued).wait().await.expect("queued");
        let tried = Record::Attempt {
            request_id: id.into(),
            at: at(1),
            n: 1,
        };
        outbox.record(tried).wait().await.expect("attempt");
    }
    behaves(&FileOutbox(Arc::new(outbox))).await;
}

#[tokio::test]
async fn rows_behave_as_an_outbox_store() {
    let Some(test) = crate::db::scratch::Scratch::create().await else {
        return;
    };
    let db = Db::connect(&test.url, 2).await.expect("connect");
    for (n, id) in ["req_a", "req_b"].into_iter().enumerate() {
        let body = serde_json::json!({"phone_number": "+14155550101"});
        db.enqueue_call(
            id,
            &format!("lead-{id}"),
            "+14155550101",
            &body,
            at(n as i64),
        )
        .await
        .expect("queued");
    }
    for _ in 0..2 {
        let claimed = db.claim_call(&db.holder, at(1), chrono::Duration::seconds(60));
        assert!(claimed.await.expect("claim").is_some());
    }
    behaves(&DbOutbox::new(db.clone())).await;
    db.pool.close().await;
}
