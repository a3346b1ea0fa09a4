//! Flags and journal lines written by one instance and read by another.

use super::*;

fn flag(id: &str, value: &str) -> flags::FlagRow {
    flags::FlagRow {
        id: id.into(),
        field: "phone".into(),
        value: value.into(),
        reason: Some("asked not to be called".into()),
        added_by: Some("admin".into()),
        added_at: at("2026-12-01T15:00:00Z").timestamp_millis(),
        expires_at: None,
        updated_at: None,
    }
}

#[tokio::test]
async fn flags_written_on_one_instance_reach_the_other_through_the_change_log() {
    use flags::FlagChange;
    let Some(test) = TestDb::create().await else {
        return;
    };
    let a = Db::connect(&test.url, 4).await.expect("a");
    let b = Db::connect(&test.url, 4).await.expect("b");
    let (enabled, none, start) = b.load_flags().await.expect("load");
    assert!(enabled && none.is_empty());
    let mut heard = listen(&b, flags::CHANNEL).await;
    let now = at("2026-12-01T15:00:00Z");
    // The same number added on both instances at once: one flag.
    let (fa, fb) = (
        flag("flag_a", "+13055551234"),
        flag("flag_b", "+13055551234"),
    );
    let (x, y) = tokio::join!(a.add_flag(&fa, now), b.add_flag(&fb, now));
    let ((fx, existed_x), (fy, existed_y)) = (x.expect("a adds"), y.expect("b adds"));
    assert!(existed_x ^ existed_y, "exactly one created it");
    assert_eq!(fx.id, fy.id, "both answer with the same flag");
    let note = tokio::time::timeout(Duration::from_secs(5), heard.recv())
        .await
        .expect("a notification within 5 s")
        .expect("notification");
    let seq: i64 = note.payload().parse().expect("seq");
    let changes = b.flag_changes_since(start).await.expect("changes");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, seq);
    assert!(matches!(&changes[0].1, FlagChange::Put(f) if f.id == fx.id));
    // An expired flag does not count as present.
    let mut old = flag("flag_old", "+13055550000");
    old.expires_at = Some(at("2026-12-01T14:00:00Z").timestamp_millis());
    a.put_flag(&old, now).await.expect("put expired");
    let (fresh, existed) = a
        .add_flag(&flag("flag_new", "+13055550000"), now)
        .await
        .expect("add over an expired flag");
    assert_eq!((fresh.id.as_str(), existed), ("flag_new", false));
    // Delete, disable: the other instance sees every change in order.
    let gone = b.delete_flag(&fx.id, now).await.expect("delete");
    assert_eq!(gone.map(|f| f.id), Some(fx.id.clone()));
    assert_eq!(b.delete_flag(&fx.id, now).await.expect("again"), None);
    a.set_blocklist_enabled(false, now).await.expect("disable");
    let later: Vec<FlagChange> = b
        .flag_changes_since(seq)
        .await
        .expect("changes")
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    assert_eq!(
        later,
        vec![
            FlagChange::Put(old.clone()),
            FlagChange::Put(flag("flag_new", "+13055550000")),
            FlagChange::Delete(fx.id.clone()),
            FlagChange::Enabled(false),
        ]
    );
    let (enabled, rows, last) = a.load_flags().await.expect("reload");
    assert!(!enabled);
    assert_eq!(rows, vec![old, flag("flag_new", "+13055550000")]);
    assert_eq!(last, seq + 4);
    drop(heard);
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}

#[tokio::test]
async fn journal_lines_from_two_instances_read_back_per_day_and_by_number() {
    use journals::Journal;
    let Some(test) = TestDb::create().await else {
        return;
    };
    let a = Db::connect(&test.url, 2).await.expect("a");
    let b = Db::connect(&test.url, 2).await.expect("b");
    a.append_lines(&[
        journal_line(
            "2026-11-30",
            "2026-12-01T04:59:00Z",
            "+13055551234",
            "L1",
            "one",
        ),
        journal_line(
            "2026-12-01",
            "2026-12-01T05:00:00Z",
            "+13055551234",
            "L1",
            "two",
        ),
    ])
    .await
    .expect("a appends");
    b.append_lines(&[journal_line(
        "2026-12-01",
        "2026-12-01T06:00:00Z",
        "+13055559999",
        "L2",
        "three",
    )])
    .await
    .expect("b appends");
    let mut attempt = journal_line(
        "2026-12-01",
        "2026-12-01T06:00:00Z",
        "+13055559999",
        "L2",
        "x",
    );
    attempt.journal = Journal::Attempts;
    b.append_lines(&[attempt]).await.expect("attempt");
    let day = a
        .day_lines(Journal::Calls, "2026-12-01".parse().expect("date"))
        .await
        .expect("day");
    assert_eq!(
        day,
        [
            "{\"event\":\"decision\",\"n\":\"two\"}",
            "{\"event\":\"decision\",\"n\":\"three\"}"
        ]
    );
    let attempts = a
        .day_lines(Journal::Attempts, "2026-12-01".parse().expect("date"))
        .await
        .expect("attempts");
    assert_eq!(attempts.len(), 1);
    // The number's history across the business-day boundary, from either instance.
    let history = b
        .lines_for(
            Some("+13055551234"),
            None,
            at("2026-11-30T12:00:00Z"),
            at("2026-12-02T00:00:00Z"),
            100,
        )
        .await
        .expect("history");
    assert_eq!(history.len(), 2);
    let by_lead = b
        .lines_for(
            None,
            Some("L2"),
            at("2026-11-30T00:00:00Z"),
            at("2026-12-02T00:00:00Z"),
            100,
        )
        .await
        .expect("by lead");
    assert_eq!(by_lead, ["{\"event\":\"decision\",\"n\":\"three\"}"]);
    a.pool.close().await;
    b.pool.close().await;
    drop(test);
}
