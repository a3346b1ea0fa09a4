use super::*;

fn attempt(at: &str, value: &str) -> Attempt {
    Attempt {
        timestamp: at.parse().expect("instant"),
        field: "phone".into(),
        value: value.into(),
        lead_id: Some("67890".into()),
        phone: Some(value.into()),
        blocked: true,
        reason: format!("Blocked by flag: phone={value}"),
        flag_id: Some("flag_1".into()),
        request_id: Some("req_1".into()),
        stage: "blocklist".into(),
        source: "flag".into(),
        flag_reason: None,
        list: None,
        list_version: None,
    }
}

async fn day_of(journals: &Journals, at: &str) -> String {
    journals
        .append_attempt(&attempt(at, "+13055551234"))
        .wait()
        .await
        .expect("durable");
    let date = journals.date_of(at.parse().expect("instant"));
    let path = journals.attempts_path(date);
    assert!(path.exists(), "{}", path.display());
    date.to_string()
}

#[tokio::test]
async fn files_rotate_at_eastern_midnight_whatever_the_host_zone() {
    // The host's zone must not matter; nothing reads it.
    std::env::set_var("TZ", "Asia/Tokyo");
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = Journals::open(dir.path(), chrono_tz::America::New_York).expect("open");
    let cases = [
        // An ordinary night (EST, UTC-5).
        ("2026-01-15T04:59:59.999Z", "2026-01-14"),
        ("2026-01-15T05:00:00.000Z", "2026-01-15"),
        // Spring forward, 2026-03-08: the day starts at 00:00 EST and ends at 24:00 EDT.
        ("2026-03-08T04:59:59.999Z", "2026-03-07"),
        ("2026-03-08T05:00:00.000Z", "2026-03-08"),
        ("2026-03-09T03:59:59.999Z", "2026-03-08"),
        ("2026-03-09T04:00:00.000Z", "2026-03-09"),
        // Fall back, 2026-11-01: starts at 00:00 EDT, ends at 24:00 EST.
        ("2026-11-01T03:59:59.999Z", "2026-10-31"),
        ("2026-11-01T04:00:00.000Z", "2026-11-01"),
        ("2026-11-02T04:59:59.999Z", "2026-11-01"),
        ("2026-11-02T05:00:00.000Z", "2026-11-02"),
    ];
    for (at, want) in cases {
        assert_eq!(day_of(&journals, at).await, want, "{at}");
    }
    let text = std::fs::read_to_string(journals.attempts_path("2026-11-01".parse().expect("date")))
        .expect("read");
    assert_eq!(text.lines().count(), 2);
    let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
    assert_eq!(first["timestamp"], "2026-11-01T04:00:00.000Z");
    for key in [
        "field",
        "value",
        "lead_id",
        "phone",
        "blocked",
        "reason",
        "flag_id",
        "request_id",
        "stage",
        "source",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
}

#[tokio::test]
async fn call_events_go_to_the_calls_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = Journals::open(dir.path(), chrono_tz::America::New_York).expect("open");
    let event = CallEvent::Outcome {
        timestamp: "2026-11-23T15:00:00Z".parse().expect("instant"),
        request_id: Some("req_1".into()),
        call_id: "c1".into(),
        outcome: Outcome::NoAnswer,
        duration_s: Some(12.0),
        matched: true,
        lead_id: Some("7".into()),
        phone: Some("+13055551234".into()),
        tags: vec!["voicemail".into()],
        source: None,
    };
    journals.append_call(&event).wait().await.expect("durable");
    let day = read_day(
        &journals.calls_path("2026-11-23".parse().expect("date")),
        None,
    )
    .expect("read");
    assert_eq!(day.records.len(), 1);
    assert_eq!(day.records[0]["event"], "outcome");
    assert_eq!(day.records[0]["outcome"], "no_answer");
    let back: CallEvent = serde_json::from_value(day.records[0].clone()).expect("round trip");
    assert_eq!(back, event);
}

#[test]
fn torn_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("attempts_2026-11-23.jsonl");
    std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"c\":").expect("write");
    let day = read_day(&path, None).expect("read");
    assert_eq!((day.records.len(), day.torn), (2, 1));
    let missing = read_day(&dir.path().join("none.jsonl"), None).expect("missing is empty");
    assert_eq!((missing.records.len(), missing.torn), (0, 0));
}

#[test]
fn retention_removes_only_files_older_than_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in [ATTEMPTS_DIR, CALLS_DIR] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    let names = [
        (ATTEMPTS_DIR, "attempts_2025-11-22.jsonl"),
        (ATTEMPTS_DIR, "attempts_2025-11-23.jsonl"),
        (ATTEMPTS_DIR, "attempts_2024-01-01.json"),
        (CALLS_DIR, "calls_2025-11-01.jsonl"),
        (CALLS_DIR, "notes.txt"),
    ];
    for (sub, name) in names {
        std::fs::write(dir.path().join(sub).join(name), "").expect("write");
    }
    let today: NaiveDate = "2026-11-23".parse().expect("date");
    assert!(retention::purge(dir.path(), today, 0)
        .expect("keep all")
        .is_empty());
    let removed = retention::purge(dir.path(), today, 365).expect("purge");
    assert_eq!(removed.len(), 3);
    assert!(dir
        .path()
        .join(ATTEMPTS_DIR)
        .join("attempts_2025-11-23.jsonl")
        .exists());
    assert!(!dir
        .path()
        .join(ATTEMPTS_DIR)
        .join("attempts_2025-11-22.jsonl")
        .exists());
    assert!(dir.path().join(CALLS_DIR).join("notes.txt").exists());
}

#[tokio::test]
async fn attempts_lost_with_a_power_cut_are_restored_from_the_call_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journals = Journals::open(dir.path(), chrono_tz::America::New_York).expect("open");
    let a = attempt("2026-11-23T15:00:00Z", "+13055551234");
    let decision = CallEvent::Decision {
        timestamp: a.timestamp,
        request_id: "req_1".into(),
        lead_id: Some("67890".into()),
        phone: Some("+13055551234".into()),
        decision: Decision::Blocked,
        stage: Some("blocklist".into()),
        reason: Some(a.reason.clone()),
        release: false,
        queue_id: None,
        release_at: None,
        trace: None,
        attempt: Some(Box::new(a.clone())),
        fields: None,
    };
    journals
        .append_decision(&decision)
        .wait()
        .await
        .expect("durable");
    let day: NaiveDate = "2026-11-23".parse().expect("date");
    let attempts = journals.attempts_path(day);
    assert_eq!(
        read_day(&attempts, None).expect("read").records.len(),
        1,
        "written with the decision"
    );
    // A power cut loses the unsynced attempt line; the synced decision still has it.
    std::fs::write(&attempts, "").expect("lose it");
    assert_eq!(journals.restore_attempts(&[day]).await.expect("restore"), 1);
    let back = read_day(&attempts, None).expect("read");
    assert_eq!(back.records.len(), 1);
    assert_eq!(back.records[0]["request_id"], "req_1");
    assert_eq!(
        journals.restore_attempts(&[day]).await.expect("again"),
        0,
        "nothing twice"
    );
}
