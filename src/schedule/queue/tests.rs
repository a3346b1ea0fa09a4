use super::*;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn lead(id: &str, phone: &str, note: &str) -> Lead {
    let map = json!({"lead_id": id, "phone_number": phone, "note": note});
    Lead::parse(
        map.as_object().cloned().unwrap_or_default(),
        &Default::default(),
        "US",
    )
    .expect("lead")
}

async fn defer(q: &DeferredQueue, l: &Lead, rid: &str, now: &str, release: &str) -> String {
    let (id, pending) = q.defer(Deferral {
        lead: l,
        request_id: rid,
        now: at(now),
        release_at: at(release),
        stage: "schedule",
        reason: "closed",
    });
    pending.wait().await.expect("durable");
    id
}

#[tokio::test]
async fn the_same_lead_is_one_entry_and_the_newer_payload_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (q, _) = DeferredQueue::open(
        dir.path(),
        &crate::store::quarantine::Quarantine::in_memory(),
    )
    .expect("open");
    let first = defer(
        &q,
        &lead("7", "3055550123", "old"),
        "a",
        "2026-11-21T15:00:00Z",
        "2026-11-23T14:00:00Z",
    )
    .await;
    let again = defer(
        &q,
        &lead("7", "(305) 555-0123", "new"),
        "b",
        "2026-11-22T15:00:00Z",
        "2026-11-23T14:00:00Z",
    )
    .await;
    let other = defer(
        &q,
        &lead("8", "3055550123", "x"),
        "c",
        "2026-11-22T15:00:00Z",
        "2026-11-23T15:00:00Z",
    )
    .await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(q.len(), 2);
    let e = q.get(&first).expect("entry");
    assert_eq!(e.fields()["note"], "new");
    assert_eq!(e.request_id, "b");
    assert_eq!(
        e.first_deferred_at,
        at("2026-11-21T15:00:00Z"),
        "age counts from the first deferral"
    );
    let (total, page) = q.list(None, Some("+13055550123"), 0, 10);
    assert_eq!((total, page.len()), (2, 2));
    assert_eq!(page[0].id, first, "ordered by release time");
    let (total, page) = q.list(Some("8"), None, 0, 10);
    assert_eq!((total, page[0].id.as_str()), (1, other.as_str()));
}

#[tokio::test]
async fn restart_keeps_entries_and_reports_releases_in_doubt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, c);
    {
        let (q, _) = DeferredQueue::open(
            dir.path(),
            &crate::store::quarantine::Quarantine::in_memory(),
        )
        .expect("open");
        a = defer(
            &q,
            &lead("1", "3055550001", ""),
            "r1",
            "2026-11-21T15:00:00Z",
            "2026-11-23T14:00:00Z",
        )
        .await;
        b = defer(
            &q,
            &lead("2", "3055550002", ""),
            "r2",
            "2026-11-21T15:00:00Z",
            "2026-11-23T14:00:00Z",
        )
        .await;
        c = defer(
            &q,
            &lead("3", "3055550003", ""),
            "r3",
            "2026-11-21T15:00:00Z",
            "2026-11-23T14:00:00Z",
        )
        .await;
        let eb = q.get(&b).expect("b");
        let claim = q.releasing(&eb, &eb.release_request_id()).expect("claimed");
        claim.wait().await.expect("durable");
        assert!(q.releasing(&eb, "again").is_none(), "one release at a time");
        let ec = q.get(&c).expect("c");
        q.remove(&ec, Removal::Released, at("2026-11-23T14:00:00Z"))
            .wait()
            .await
            .expect("durable");
        assert_eq!(
            q.due(at("2026-11-23T14:00:00Z"), 10).len(),
            1,
            "b is being released"
        );
    }
    let (q, in_doubt) = DeferredQueue::open(
        dir.path(),
        &crate::store::quarantine::Quarantine::in_memory(),
    )
    .expect("reopen");
    assert_eq!(q.len(), 2);
    assert!(q.get(&a).is_some() && q.get(&c).is_none());
    assert_eq!(in_doubt.len(), 1);
    assert_eq!(in_doubt[0].releasing.as_deref(), Some("r2-r1"));
    q.retry_later(&in_doubt[0]);
    assert_eq!(q.due(at("2026-11-23T14:00:00Z"), 10).len(), 2);
}

#[tokio::test]
async fn a_newer_deferral_survives_the_removal_of_the_older_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (q, _) = DeferredQueue::open(
        dir.path(),
        &crate::store::quarantine::Quarantine::in_memory(),
    )
    .expect("open");
    let id = defer(
        &q,
        &lead("1", "3055550001", "v1"),
        "r1",
        "2026-11-21T15:00:00Z",
        "2026-11-23T14:00:00Z",
    )
    .await;
    let old = q.get(&id).expect("entry");
    defer(
        &q,
        &lead("1", "3055550001", "v2"),
        "r2",
        "2026-11-22T15:00:00Z",
        "2026-11-23T14:00:00Z",
    )
    .await;
    q.remove(&old, Removal::Released, at("2026-11-23T14:00:00Z"))
        .wait()
        .await
        .expect("durable");
    assert_eq!(
        q.get(&id).map(|e| e.fields()["note"].clone()),
        Some(json!("v2"))
    );
}

#[tokio::test]
async fn hurry_and_expiry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (q, _) = DeferredQueue::open(
        dir.path(),
        &crate::store::quarantine::Quarantine::in_memory(),
    )
    .expect("open");
    let id = defer(
        &q,
        &lead("1", "3055550001", ""),
        "r1",
        "2026-11-21T15:00:00Z",
        "2026-11-23T14:00:00Z",
    )
    .await;
    defer(
        &q,
        &lead("2", "3055550002", ""),
        "r2",
        "2026-11-22T15:00:00Z",
        "2026-11-23T14:00:00Z",
    )
    .await;
    let now = at("2026-11-22T16:00:00Z");
    assert!(q.due(now, 10).is_empty());
    let (n, p) = q.hurry(Some(&id), now);
    p.wait().await.expect("durable");
    assert_eq!(n, 1);
    assert_eq!(q.due(now, 10).len(), 1);
    assert_eq!(q.expired(at("2026-11-21T15:00:00Z"), 10).len(), 1);
    assert_eq!(q.expired(at("2026-11-21T14:59:59Z"), 10).len(), 0);
    drop(q);
    let (q, _) = DeferredQueue::open(
        dir.path(),
        &crate::store::quarantine::Quarantine::in_memory(),
    )
    .expect("reopen");
    assert_eq!(q.due(now, 10).len(), 1, "hurry is durable");
}
