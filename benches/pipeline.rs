//! A full pipeline decision for a 12-field lead with 100k flags (target ≤ 5 µs), with and
//! without parsing the lead from its JSON fields. Run: `cargo bench --bench pipeline`

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;

use callgate::blocklist::Blocklist;
use callgate::clock::SystemClock;
use callgate::domain::{Lead, LeadFieldNames};
use chrono::Utc;
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
            2_000_000_000 + i
        )
        .expect("write");
    }
    write!(doc, "]}}").expect("write");
    doc.flush().expect("flush");
    drop(doc);
    let flags =
        Arc::new(Blocklist::open_read_only(dir.path(), "US", Arc::new(SystemClock)).expect("load"));
    let pipeline = callgate::pipeline::standard(flags);
    let names = LeadFieldNames::default();
    let now = Utc::now();
    let blocked = fields("+12000050000");
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
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
