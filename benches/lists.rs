//! Do-not-call number sets (issue 14 targets at 2.5·10^8 numbers: ≤ 1 byte per number,
//! lookup ≤ 100 ns median). Registry-like data: numbers clustered in area code + exchange
//! blocks of 10,000, 40 % of each block registered. Prints, per size, the time to build the
//! set from a file's text, its bytes per number, and the snapshot's write and read time;
//! then times lookups of registered and unregistered numbers.
//! Run: `cargo bench --bench lists`; `LISTS_FULL=1 cargo bench --bench lists` for the
//! national scale (2.5·10^8 numbers streamed from the generator, about a minute).

use std::hint::black_box;
use std::time::Instant;

use callgate::lists::{parse, NumberSet};
use criterion::Criterion;

/// `n` registry-like numbers as the FTC full-list text, one per line.
fn registry_text(n: u64) -> String {
    let mut out = String::with_capacity(n as usize * 11);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut written = 0;
    let mut block = 0u64;
    while written < n {
        let npa = 201 + (block / 800) % 790;
        let nxx = 200 + block % 800;
        for line in 0..10_000u64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            if (state >> 33) % 100 < 40 {
                out.push_str(&format!("{npa}{nxx}{line:04}\n"));
                written += 1;
                if written == n {
                    break;
                }
            }
        }
        block += 1;
    }
    out
}

/// The registry-like numbers as FTC text, generated while read (2.5·10^8 lines are 2.75 GB:
/// no file, no buffer).
struct Registry {
    left: u64,
    state: u64,
    block: u64,
    line: u64,
    pending: Vec<u8>,
}

impl Registry {
    fn new(n: u64) -> Self {
        Self {
            left: n,
            state: 0x9e37_79b9_7f4a_7c15,
            block: 0,
            line: 0,
            pending: Vec::new(),
        }
    }
}

impl std::io::Read for Registry {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.len() < buf.len() && self.left > 0 {
            self.state = self
                .state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            if (self.state >> 33) % 100 < 40 {
                let npa = 201 + (self.block / 800) % 790;
                let nxx = 200 + self.block % 800;
                let _ = std::io::Write::write_fmt(
                    &mut self.pending,
                    format_args!("{npa}{nxx}{:04}\n", self.line),
                );
                self.left -= 1;
            }
            self.line += 1;
            if self.line == 10_000 {
                self.line = 0;
                self.block += 1;
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `LISTS_FULL=1 cargo bench --bench lists`: the national scale, 2.5·10^8 numbers streamed
/// from the generator (no file), with RSS growth, snapshot times and a 100k change list.
fn full_scale() {
    let n = 250_000_000u64;
    let before = rss_mb();
    let t0 = Instant::now();
    let (set, report) = parse::read_list(
        std::io::BufReader::with_capacity(1 << 20, Registry::new(n)),
        false,
    )
    .expect("loads");
    let built = t0.elapsed();
    let grown = rss_mb() - before;
    let mut snapshot = Vec::new();
    let t1 = Instant::now();
    set.write_to(&mut snapshot).expect("write");
    let wrote = t1.elapsed();
    let t2 = Instant::now();
    let back = NumberSet::read_from(snapshot.as_slice()).expect("read");
    let read = t2.elapsed();
    assert_eq!(back.len(), report.entries);
    drop(back);
    let changes: String = (0..100_000u64)
        .map(|i| {
            format!(
                "{},2026-11-28 10:00:00,{}\n",
                9_990_000_000 + i,
                if i % 2 == 0 { "A" } else { "D" }
            )
        })
        .collect();
    let t3 = Instant::now();
    let (next, c) = parse::apply_changes(&set, changes.as_bytes()).expect("changes");
    let applied = t3.elapsed();
    println!(
        "{n} numbers: built from a streamed FTC text in {:.1} s, RSS +{grown:.0} MB ({:.3} bytes/number by RSS, {:.3} by the set's size), snapshot {} MB written in {} ms and read in {} ms; a 100k change list ({} added, {} deleted) applied to a copy in {} ms",
        built.as_secs_f64(),
        grown * 1_048_576.0 / n as f64,
        set.size_bytes() as f64 / n as f64,
        snapshot.len() / 1_000_000,
        wrote.as_millis(),
        read.as_millis(),
        c.added,
        c.deleted,
        applied.as_millis()
    );
    let hits: Vec<u64> = (0..100_000u64)
        .map(|i| 2_012_000_000 + i * 7)
        .filter(|h| next.lookup(*h).is_some())
        .collect();
    let t4 = Instant::now();
    let mut found = 0;
    for _ in 0..10 {
        for h in &hits {
            found += usize::from(next.lookup(black_box(*h)).is_some());
        }
    }
    println!(
        "lookups at {n}: {:.1} ns each over {} lookups",
        t4.elapsed().as_nanos() as f64 / (hits.len() * 10).max(1) as f64,
        found
    );
}

fn main() {
    if std::env::var("LISTS_FULL").is_ok_and(|v| v == "1") {
        full_scale();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for n in [1_000_000u64, 10_000_000] {
        let text = registry_text(n);
        let t0 = Instant::now();
        let (set, report) = parse::read_list(text.as_bytes(), false).expect("loads");
        let built = t0.elapsed();
        let mut snapshot = Vec::new();
        let t1 = Instant::now();
        set.write_to(&mut snapshot).expect("write");
        let wrote = t1.elapsed();
        let t2 = Instant::now();
        let back = NumberSet::read_from(snapshot.as_slice()).expect("read");
        let read = t2.elapsed();
        assert_eq!(back.len(), report.entries);
        println!(
            "{n} numbers: built from text in {:.2} s ({:.0} ns/line), {:.3} bytes/number, snapshot {} MB written in {} ms, read in {} ms",
            built.as_secs_f64(),
            built.as_nanos() as f64 / n as f64,
            set.size_bytes() as f64 / set.len() as f64,
            snapshot.len() / 1_000_000,
            wrote.as_millis(),
            read.as_millis()
        );
        let hits: Vec<u64> = text
            .lines()
            .step_by(997)
            .filter_map(|l| l.parse().ok())
            .collect();
        // Area code 999 holds no generated number.
        let misses: Vec<u64> = hits
            .iter()
            .map(|h| 9_990_000_000 + h % 10_000_000)
            .collect();
        let mut i = 0;
        c.bench_function(&format!("lists/lookup hit ({n})"), |b| {
            b.iter(|| {
                i = (i + 1) % hits.len();
                black_box(set.lookup(black_box(hits[i])))
            })
        });
        c.bench_function(&format!("lists/lookup miss ({n})"), |b| {
            b.iter(|| {
                i = (i + 1) % misses.len();
                black_box(set.lookup(black_box(misses[i])))
            })
        });
    }
    consult_every_list(&mut c);
    c.final_summary();
}

/// A lead's number against four lists as the check runs it (`Lists::consult`: state
/// coverage, consent, the gate and the lookup for each): a 10^7 national list, a state
/// list, an internal list with prefixes, a litigator list.
fn consult_every_list(c: &mut Criterion) {
    use callgate::config::lists::{ListKind, ListSettings};
    use callgate::lists::store::Load;
    let dir = tempfile::tempdir().expect("dir");
    let now: chrono::DateTime<chrono::Utc> = "2026-11-23T15:00:00Z".parse().expect("now");
    let list = |name: &str, kind, max: Option<u32>, states: &[&str]| ListSettings {
        name: name.into(),
        kind,
        max_age_days: max,
        states: states.iter().map(|s| s.to_string()).collect(),
        exemption: None,
    };
    let settings = [
        list("ftc", ListKind::NationalDnc, Some(31), &[]),
        list("tx", ListKind::StateDnc, Some(90), &["TX"]),
        list("ours", ListKind::InternalDnc, None, &[]),
        list("litigators", ListKind::Litigator, None, &[]),
    ];
    let clock = std::sync::Arc::new(callgate::clock::ManualClock::new(now));
    let versions = std::sync::Arc::new(callgate::lists::versions::FileVersions::in_data_dir(
        dir.path(),
    ));
    let lists =
        callgate::lists::Lists::open(dir.path(), &settings, clock, chrono_tz::UTC, versions)
            .expect("open");
    let text = registry_text(10_000_000);
    let load = |name: &str, body: &[u8]| {
        lists
            .replace(name, body, name, &Load::default(), now)
            .expect("loads");
    };
    load("ftc", text.as_bytes());
    load("tx", text.as_bytes().get(..11_000_000).unwrap_or_default());
    load("ours", b"212*\n786555*\n3055551234\n");
    load(
        "litigators",
        text.as_bytes().get(..1_100_000).unwrap_or_default(),
    );
    let leads: Vec<callgate::domain::Lead> = text
        .lines()
        .step_by(9973)
        .take(1000)
        .map(|n| {
            let serde_json::Value::Object(map) =
                serde_json::json!({"phone_number": n, "lead_id": "L", "state": "TX"})
            else {
                unreachable!()
            };
            callgate::domain::Lead::parse(map, &Default::default(), "US").expect("lead")
        })
        .collect();
    // The lookups alone: the same four sets, each asked about the number.
    let sets: Vec<NumberSet> = [
        text.as_bytes(),
        text.as_bytes().get(..11_000_000).unwrap_or_default(),
        b"212*\n786555*\n3055551234\n".as_slice(),
        text.as_bytes().get(..1_100_000).unwrap_or_default(),
    ]
    .iter()
    .map(|t| parse::read_list(*t, true).expect("loads").0)
    .collect();
    let numbers: Vec<u64> = text
        .lines()
        .step_by(9973)
        .take(1000)
        .filter_map(|l| l.parse().ok())
        .collect();
    let mut j = 0;
    c.bench_function("lists/lookup a number in 4 lists (10^7 national)", |b| {
        b.iter(|| {
            j = (j + 1) % numbers.len();
            let n = black_box(numbers[j]);
            sets.iter().filter(|s| s.lookup(n).is_some()).count()
        })
    });
    let today = now.date_naive();
    let mut i = 0;
    c.bench_function(
        "lists/consult a lead against 4 lists (10^7 national)",
        |b| {
            b.iter(|| {
                i = (i + 1) % leads.len();
                black_box(lists.consult(black_box(&leads[i]), &["TX"], now, today))
            })
        },
    );
}
