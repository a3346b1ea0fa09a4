//! The versions in force under load: lookups running while change lists are applied see
//! one whole version or the next, never a mix.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::rules::Verdict;
use super::store::Load;
use super::Lists;
use crate::config::lists::{ListKind, ListSettings};
use crate::domain::{Lead, LeadFieldNames};

fn lead(phone: u64) -> Lead {
    let serde_json::Value::Object(map) =
        serde_json::json!({"phone_number": phone.to_string(), "lead_id": "L"})
    else {
        unreachable!()
    };
    Lead::parse(map, &LeadFieldNames::default(), "US").expect("lead")
}

/// One internal list `ours` in a fresh data directory, on a fixed clock.
fn internal_list() -> (tempfile::TempDir, DateTime<Utc>, Lists) {
    let dir = tempfile::tempdir().expect("dir");
    let now: DateTime<Utc> = "2026-11-23T15:00:00Z".parse().expect("now");
    let settings = [ListSettings {
        name: "ours".into(),
        kind: ListKind::InternalDnc,
        max_age_days: None,
        states: Vec::new(),
        exemption: None,
    }];
    let clock = Arc::new(crate::clock::ManualClock::new(now));
    let versions = Arc::new(super::versions::FileVersions::in_data_dir(dir.path()));
    let lists = Lists::open(dir.path(), &settings, clock, chrono_tz::UTC, versions).expect("open");
    (dir, now, lists)
}

#[test]
fn lookups_during_change_lists_see_one_whole_version_or_the_next() {
    let (_dir, now, lists) = internal_list();
    let lists = Arc::new(lists);
    // Odd versions hold block A, even versions block B.
    let a: Vec<u64> = (0..2000).map(|i| 2125550000 + i).collect();
    let b: Vec<u64> = (0..2000).map(|i| 3125550000 + i).collect();
    let text = |add: &[u64], del: &[u64]| -> String {
        add.iter()
            .map(|n| format!("{n},2026-11-23 10:00:00,A\n"))
            .chain(del.iter().map(|n| format!("{n},2026-11-23 10:00:00,D\n")))
            .collect()
    };
    let first: String = a.iter().map(|n| format!("{n}\n")).collect();
    lists
        .replace("ours", first.as_bytes(), "a", &Load::default(), now)
        .expect("v1");
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (lists, stop, a, b) = (lists.clone(), stop.clone(), a.clone(), b.clone());
            let reads = reads.clone();
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    let (number, in_a) = if i % 2 == 0 {
                        (a[i % a.len()], true)
                    } else {
                        (b[i % b.len()], false)
                    };
                    i += 7;
                    let c = lists.consult(&lead(number), &[], now, now.date_naive());
                    let version = c[0].record.version.expect("loaded");
                    let hit = matches!(c[0].verdict, Verdict::Hit { .. });
                    assert_eq!(
                        hit,
                        (version % 2 == 1) == in_a,
                        "{number} in version {version}"
                    );
                    seen.insert(version);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                seen
            })
        })
        .collect();
    // Each version is read some before the next is applied (counted, not timed).
    let read_some = |reads: &AtomicUsize| {
        let from = reads.load(Ordering::Relaxed);
        while reads.load(Ordering::Relaxed) < from + 50 {
            std::thread::yield_now();
        }
    };
    for round in 0..6 {
        read_some(&reads);
        let changes = if round % 2 == 0 {
            text(&b, &a)
        } else {
            text(&a, &b)
        };
        lists
            .apply_changes("ours", changes.as_bytes(), "c", &Load::default(), now)
            .expect("applies");
    }
    read_some(&reads);
    stop.store(true, Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    for r in readers {
        seen.extend(r.join().expect("reader"));
    }
    assert_eq!(seen.len(), 7, "every version was read: {seen:?}");
    assert_eq!(lists.lookup("+13125550000").len(), 0, "version 7 holds A");
    assert_eq!(lists.lookup("+12125550000").len(), 1);
}

#[test]
fn a_list_being_loaded_reports_loading_and_keeps_answering() {
    let (_dir, now, lists) = internal_list();
    lists
        .replace(
            "ours",
            "3055551234\n".as_bytes(),
            "a",
            &Load::default(),
            now,
        )
        .expect("v1");
    let status = |lists: &Lists| lists.views(now.date_naive())[0]["status"].clone();
    assert_eq!(status(&lists), "ok");
    let held = lists.lists[0].loading.lock().expect("lock");
    assert_eq!(status(&lists), "loading");
    assert_eq!(
        lists.lookup("+13055551234").len(),
        1,
        "the version in force answers"
    );
    drop(held);
    assert_eq!(status(&lists), "ok");
}
