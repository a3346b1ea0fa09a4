//! A full pipeline decision for a 12-field lead with 100k flags (target ≤ 5 µs), with and
//! without parsing the lead from its JSON fields, and the schedule check alone (allowing,
//! and deferring with the release-time search), and phone parsing (the NANP fast path and
//! libphonenumber's steps for other countries). Run: `cargo bench --bench pipeline`

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

use callgate::blocklist::Blocklist;
use callgate::clock::SystemClock;
use callgate::domain::{Lead, LeadFieldNames};
use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Map, Value};

fn fields(phone: &str) -> Map<String, Value> {
    json!({
        "phone_number": phone, "lead_id": "98765432", "list_id": "1001",
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org",
        "state": "FL", "postal_code": "33101", "status": "NEW", "city": "Miami",
        "address1": "1 Main St", "source": "web"
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn phone(c: &mut Criterion) {
    use callgate::domain::PhoneNumber;
    let mut group = c.benchmark_group("phone");
    for (name, spelling, country) in [
        ("nanp", "(305) 555-1234", "US"),
        ("international_br", "+55 11 2345-6789", "US"),
        ("international_gb", "+44 20 7946 0958", "US"),
        ("national_gb", "020 7946 0958", "GB"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| PhoneNumber::parse(black_box(spelling), country).expect("valid"))
        });
    }
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut doc = std::io::BufWriter::new(
        std::fs::File::create(dir.path().join("blocklist-config.json")).expect("create"),
    );
    write!(doc, "{{\"enabled\": true, \"flags\": [").expect("write");
    for i in 0..100_000u64 {
        let sep = if i == 0 { "" } else { "," };
        write!(
            doc,
            "{sep}{{\"id\":\"flag_{i}\",\"field\":\"phone\",\"value\":\"+1{}\"}}",
            3_052_000_000 + i
        )
        .expect("write");
    }
    write!(doc, "]}}").expect("write");
    doc.flush().expect("flush");
    drop(doc);
    let flags =
        Arc::new(Blocklist::open_read_only(dir.path(), "US", Arc::new(SystemClock)).expect("load"));
    let settings = callgate::config::Settings::defaults();
    let docs: Arc<dyn callgate::store::doc_store::DocumentStore> =
        Arc::new(callgate::store::doc_store::FileDocuments::new(dir.path()));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let feeds = Arc::new(rt.block_on(callgate::feeds::Feeds::open(
        &[],
        &settings.content,
        "US",
        Arc::new(SystemClock),
        Arc::new(callgate::metrics::Metrics::new()),
        Arc::new(callgate::feeds::copies::FileCopies::new(dir.path())),
        Arc::new(callgate::store::lease::OneProcess),
    )));
    let scheduler = Arc::new(
        rt.block_on(callgate::schedule::Scheduler::open(
            dir.path(),
            chrono_tz::America::New_York,
            vec!["state".into()],
            docs.clone(),
        ))
        .expect("scheduler"),
    );
    let tracker = Arc::new(
        rt.block_on(callgate::tracker::Tracker::open(
            chrono_tz::America::New_York,
            docs,
        ))
        .expect("tracker"),
    );
    let pipeline = callgate::pipeline::standard(
        scheduler.clone(),
        tracker,
        flags,
        Arc::new(callgate::lists::Lists::none()),
        feeds,
        &settings.bland,
        settings.timezone,
    );
    let names = LeadFieldNames::default();
    // Monday 10:00 Eastern: inside business hours and the Florida window.
    let now: DateTime<Utc> = "2026-11-23T15:00:00Z".parse().expect("instant");
    let blocked = fields("+13052050000");
    let allowed = fields("(305) 555-1234");
    let lead = Lead::parse(blocked.clone(), &names, "US").expect("lead");
    assert!(pipeline.evaluate(&lead, now).block.is_some());

    let mut group = c.benchmark_group("pipeline_100k_flags");
    group.bench_function("decide_blocked_lead", |b| {
        b.iter(|| pipeline.evaluate(black_box(&lead), now))
    });
    let ok = Lead::parse(allowed.clone(), &names, "US").expect("lead");
    group.bench_function("decide_accepted_lead", |b| {
        b.iter(|| pipeline.evaluate(black_box(&ok), now))
    });
    group.bench_function("parse_and_decide_blocked_lead", |b| {
        b.iter(|| {
            let lead = Lead::parse(black_box(blocked.clone()), &names, "US").expect("lead");
            pipeline.evaluate(&lead, now)
        })
    });
    group.finish();

    // The schedule check alone: allowed, and deferred (the release time is searched).
    let mut group = c.benchmark_group("schedule_check");
    group.bench_function("allow_fl_lead", |b| {
        b.iter(|| scheduler.decide(black_box(&ok), now))
    });
    let saturday: DateTime<Utc> = "2026-11-21T15:00:00Z".parse().expect("instant");
    group.bench_function("defer_fl_lead_saturday", |b| {
        b.iter(|| scheduler.decide(black_box(&ok), saturday))
    });
    group.finish();
}

/// Screening a 2 KB text against 1,000 phrases (target ≤ 5 µs); non-ASCII text too.
fn content(c: &mut Criterion) {
    use callgate::blocklist::content::Screen;
    let phrases: Vec<String> = (0..1000)
        .map(|i| format!("blocked phrase number {i}"))
        .chain(["prize".into()])
        .collect();
    let screen = Screen::new(phrases);
    let sentence =
        "Hello Ada, this is Maya calling about your recent enquiry on health coverage options. ";
    let ascii: String = sentence.repeat(2048 / sentence.len() + 1)[..2048].to_string();
    let accented = "Hola Ada, le llama María sobre su reciente consulta de cobertura médica — ¿tiene un momento? ";
    let mut non_ascii = String::new();
    while non_ascii.len() < 2048 {
        non_ascii.push_str(accented);
    }
    assert!(screen.matches(&ascii).is_empty());
    assert!(screen.matches("you won a PRIZE").contains(&"prize"));
    let mut group = c.benchmark_group("content_screen_1000_phrases");
    group.bench_function("ascii_2kb", |b| {
        b.iter(|| screen.matches(black_box(&ascii)))
    });
    group.bench_function("non_ascii_2kb", |b| {
        b.iter(|| screen.matches(black_box(&non_ascii)))
    });
    group.finish();
}

criterion_group!(benches, pipeline, content, phone);
criterion_main!(benches);
