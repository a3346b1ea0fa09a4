use std::sync::Arc;

use super::*;
use crate::journal::DispatchStatus;
use crate::journal::{CallEvent, Journals};

use crate::dispatch::testing::at;

fn outcome(call_id: &str, request_id: Option<&str>) -> CallEvent {
    CallEvent::Outcome {
        timestamp: at(60),
        request_id: request_id.map(str::to_string),
        call_id: call_id.into(),
        outcome: Outcome::Voicemail,
        duration_s: Some(12.0),
        matched: request_id.is_some(),
        lead_id: None,
        phone: None,
        tags: Vec::new(),
        source: None,
    }
}

/// Journals the `sent` line of `call_id` and tells `calls` about it.
async fn send(calls: &dyn PlacedCalls, journals: &Journals, call_id: &str, rid: &str) {
    let sent = CallEvent::Dispatch {
        timestamp: at(0),
        request_id: rid.into(),
        status: DispatchStatus::Sent,
        lead_id: Some("L1".into()),
        phone: Some("+14155550101".into()),
        call_id: Some(call_id.into()),
        error: None,
        caller_id: None,
    };
    journals.append_call(&sent).wait().await.expect("sent line");
    let call = CallRef {
        request_id: rid.into(),
        lead_id: Some("L1".into()),
        phone: Some("+14155550101".into()),
        outcome: None,
        sent_at: Some(at(0)),
    };
    calls.placed(call_id, call);
}

/// What every implementation does: a placed call is found by request id and is silent
/// until its outcome is recorded, once; an abandoned outcome can be begun again; an
/// unknown call's outcome is recorded once.
async fn behaves(calls: &dyn PlacedCalls, journals: &Journals) {
    send(calls, journals, "call_1", "req_1").await;
    send(calls, journals, "call_2", "req_2").await;
    assert_eq!(
        calls.call_of("req_1").await.expect("of"),
        Some("call_1".into())
    );
    assert_eq!(calls.call_of("req_x").await.expect("of"), None);
    let mut silent = calls.silent(at(-10), at(100)).await.expect("silent");
    silent.sort();
    assert_eq!(silent, ["call_1", "call_2"]);

    let Claim::New(call) = calls
        .begin("call_1", Outcome::Voicemail)
        .await
        .expect("begin")
    else {
        panic!("a placed call's first outcome is new");
    };
    assert_eq!(
        (call.request_id.as_str(), call.lead_id.as_deref()),
        ("req_1", Some("L1"))
    );
    assert!(calls
        .record(&outcome("call_1", Some("req_1")))
        .await
        .expect("record"));
    assert_eq!(
        calls.begin("call_1", Outcome::Human).await.expect("again"),
        Claim::Duplicate
    );
    assert_eq!(
        calls.silent(at(-10), at(100)).await.expect("silent"),
        ["call_2"]
    );

    assert!(matches!(
        calls.begin("call_2", Outcome::Busy).await.expect("2"),
        Claim::New(_)
    ));
    calls.abandon("call_2");
    assert!(matches!(
        calls.begin("call_2", Outcome::Busy).await.expect("2"),
        Claim::New(_)
    ));

    assert_eq!(
        calls.begin("call_9", Outcome::Busy).await.expect("9"),
        Claim::Unknown
    );
    assert!(calls
        .record(&outcome("call_9", None))
        .await
        .expect("record unknown"));
    match calls.begin("call_9", Outcome::Busy).await.expect("9 again") {
        Claim::Duplicate => {}
        Claim::Unknown => {
            assert!(!calls
                .record(&outcome("call_9", None))
                .await
                .expect("repeat"));
        }
        Claim::New(_) => panic!("an unknown call is never new"),
    }
}

#[tokio::test]
async fn files_behave_as_placed_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = Arc::new(Journals::open(dir.path(), chrono_tz::UTC).expect("journals"));
    let calls = FileCalls {
        index: Arc::new(CallIndex::default()),
        journals: journals.clone(),
    };
    behaves(&calls, &journals).await;
}

#[tokio::test]
async fn rows_behave_as_placed_calls() {
    let Some(test) = crate::db::scratch::Scratch::create().await else {
        return;
    };
    let db = crate::db::Db::connect(&test.url, 4).await.expect("connect");
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = Journals::open_db(db.clone(), dir.path(), chrono_tz::UTC);
    behaves(&DbCalls::new(db.clone(), chrono_tz::UTC), &journals).await;
    db.pool.close().await;
}
