//! The outbox, the deferred queue and decisions: each piece of work done once across
//! instances.

use super::*;

#[tokio::test]
async fn each_call_is_claimed_by_one_instance_and_a_dead_claim_becomes_unconfirmed() {
    use outbox::TryResult;
    let Some(test) = TestDb::create().await else {
        return;
    };
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
    let Some(test) = TestDb::create().await else {
        return;
    };
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
    assert_eq!(three.releasing.as_deref(), Some("req_3-r1"));
    assert_eq!(three.lead, json!({"lead_id": "L3", "newer": true}));
    assert_eq!(three.first_deferred_at, at("2026-12-01T02:00:00Z"));
    // `a` decides its leads: one is deferred again, the rest leave the queue.
    let later = at("2026-12-01T15:00:00Z");
    let payload = json!({"lead_id": "again"});
    for (n, r) in x.iter().enumerate() {
        let again = (n == 0).then_some(deferred::Again {
            release_at: later,
            stage: "protection",
            reason: "line busy",
            request_id: "req_again",
            lead: &payload,
            at: later,
        });
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
    assert_eq!(
        due[0].releasing,
        Some("req_again-r2".to_string()),
        "the release after a re-deferral is named after the request that deferred it"
    );
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

#[tokio::test]
async fn of_two_instances_deciding_about_one_number_at_once_exactly_one_accepts() {
    let Some(test) = TestDb::create().await else {
        return;
    };
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
        let mut l = journal_line(
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
