use super::*;
use crate::store::quarantine::Quarantine;

fn now() -> DateTime<Utc> {
    "2026-11-23T15:00:00Z".parse().expect("instant")
}

fn queued(id: &str) -> Record {
    Record::Queued {
        request_id: id.into(),
        at: now(),
        lead_id: "1".into(),
        phone: "+13055551234".into(),
        body: serde_json::json!({"x": id}),
    }
}

#[tokio::test]
async fn replay_sends_queued_marks_interrupted_unconfirmed_and_drops_finished() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (outbox, ready) =
            Outbox::open(dir.path(), now(), &Quarantine::in_memory()).expect("open");
        assert!(ready.is_empty());
        let attempt = |id: &str| Record::Attempt {
            request_id: id.into(),
            at: now(),
            n: 1,
        };
        let records = [
            queued("a"),
            queued("b"),
            queued("c"),
            queued("d"),
            attempt("b"),
            attempt("c"),
            Record::Sent {
                request_id: "c".into(),
                at: now(),
                call_id: "call-c".into(),
            },
            attempt("d"),
            Record::Retry {
                request_id: "d".into(),
                at: now(),
                n: 1,
                error: "503".into(),
            },
            queued("e"),
            Record::Failed {
                request_id: "e".into(),
                at: now(),
                error: "gave up".into(),
            },
        ];
        for r in records {
            outbox.record(r).wait().await.expect("durable");
        }
    }
    let (outbox, ready) =
        Outbox::open(dir.path(), now(), &Quarantine::in_memory()).expect("reopen");
    assert_eq!(ready.len(), 2);
    assert!(ready.contains(&"a".to_string()) && ready.contains(&"d".to_string()));
    assert_eq!(outbox.get("b").map(|e| e.state), Some(State::Unconfirmed));
    assert!(outbox.get("c").is_none());
    assert_eq!(outbox.next_attempt("d").map(|a| a.n), Some(2));
    // The rewrite keeps the unconfirmed state across another restart.
    drop(outbox);
    let (outbox, ready) =
        Outbox::open(dir.path(), now(), &Quarantine::in_memory()).expect("third open");
    assert_eq!(outbox.get("b").map(|e| e.state), Some(State::Unconfirmed));
    assert_eq!(
        outbox.get("e").map(|e| (e.state, e.last_error)),
        Some((State::Failed, Some("gave up".into()))),
        "a failed call stays until an admin settles it"
    );
    assert_eq!(ready.len(), 2);
    assert_eq!(
        outbox.next_attempt("d").map(|a| a.n),
        Some(2),
        "attempt count survives the rewrite"
    );
}
