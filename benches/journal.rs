//! Journal appends with concurrent writers (target ≥ 20k durable records/s) and statistics
//! over 30 days × 100k attempts (targets: ≤ 0.5 s cold, ≤ 50 ms repeated).
//! Run: `cargo bench --bench journal` (writes ~0.9 GB of journals to a temp dir once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use callgate::journal::{Attempt, Journals};
use callgate::stats::{DateRange, Statistics};
use chrono::{DateTime, NaiveDate, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn attempt(at: DateTime<Utc>, n: u64) -> Attempt {
    let phone = format!("+1305{:07}", n % 10_000);
    Attempt {
        timestamp: at,
        field: "phone".into(),
        value: phone.clone(),
        lead_id: Some(format!("{}", 100_000 + n)),
        phone: Some(phone.clone()),
        blocked: true,
        reason: format!("Blocked by flag: phone={phone}"),
        flag_id: Some(format!("flag_1735084012345_{:09}", n % 1_000)),
        request_id: Some(format!("req_{n:032x}")),
        stage: "blocklist".into(),
        source: "flag".into(),
        flag_reason: None,
        list: None,
        list_version: None,
    }
}

fn appends(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let journals =
        Arc::new(Journals::open(dir.path(), chrono_tz::America::New_York).expect("open"));
    let mut group = c.benchmark_group("journal_append");
    const WRITERS: u64 = 64;
    const PER_WRITER: u64 = 320;
    group.throughput(Throughput::Elements(WRITERS * PER_WRITER));
    group.sample_size(10);
    group.bench_function("64_writers_x_320_durable_records", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                rt.block_on(async {
                    let tasks: Vec<_> = (0..WRITERS)
                        .map(|w| {
                            let j = journals.clone();
                            tokio::spawn(async move {
                                for i in 0..PER_WRITER {
                                    j.append_attempt(&attempt(Utc::now(), w * PER_WRITER + i))
                                        .wait()
                                        .await
                                        .expect("durable");
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("writer");
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn statistics(c: &mut Criterion) {
    const DAYS: u64 = 30;
    const PER_DAY: u64 = 100_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let first: NaiveDate = "2026-10-01".parse().expect("date");
    for d in 0..DAYS {
        let date = first + chrono::Days::new(d);
        let path = callgate::journal::attempts_path(dir.path(), date);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let noon = date.and_hms_opt(16, 0, 0).expect("time").and_utc();
        let mut out = Vec::with_capacity((PER_DAY * 330) as usize);
        for n in 0..PER_DAY {
            serde_json::to_writer(&mut out, &attempt(noon, n)).expect("json");
            out.push(b'\n');
        }
        std::fs::write(&path, out).expect("write day");
        // Flush now, so writeback does not compete with the measurement.
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .expect("sync day");
    }
    let range = DateRange {
        start: first,
        end: first + chrono::Days::new(DAYS - 1),
    };
    let none = |_: &str| None;
    let today = range.end + chrono::Days::new(1);
    let sidecars = || {
        for d in range.dates() {
            let _ = std::fs::remove_file(callgate::stats::sidecar_path(
                &callgate::journal::attempts_path(dir.path(), d),
            ));
        }
    };
    let journals =
        Arc::new(Journals::open(dir.path(), chrono_tz::America::New_York).expect("open"));
    let mut group = c.benchmark_group("statistics_30_days_x_100k");
    group.sample_size(10);
    // First read of the raw journals: nothing cached in memory or on disk.
    group.bench_function("first_read_of_raw_journals", |b| {
        b.iter_batched(
            sidecars,
            |()| {
                let stats = Statistics::new(journals.clone());
                let s = stats.blocklist(range, today, &none).expect("stats");
                assert_eq!(s.total_attempts, DAYS * PER_DAY);
            },
            criterion::BatchSize::PerIteration,
        )
    });
    // A new process (empty memory) over closed days whose summaries are on disk.
    Statistics::new(journals.clone())
        .blocklist(range, today, &none)
        .expect("write summaries");
    group.bench_function("cold_new_process", |b| {
        b.iter(|| {
            let stats = Statistics::new(journals.clone());
            let s = stats.blocklist(range, today, &none).expect("stats");
            assert_eq!(s.total_attempts, DAYS * PER_DAY);
        })
    });
    let warm = Statistics::new(journals.clone());
    warm.blocklist(range, today, &none).expect("warm up");
    group.bench_function("repeated", |b| {
        b.iter(|| warm.blocklist(range, today, &none).expect("stats"))
    });
    group.finish();
}

criterion_group!(benches, appends, statistics);
criterion_main!(benches);
