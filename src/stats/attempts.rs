//! The seed's blocklist statistics: attempts by flag (with per-date counts) and by field
//! (with per-value counts), built from `attempts_YYYY-MM-DD.jsonl`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{DateRange, DaySummary};

/// What an attempt line tells about the flag that blocked it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagSeen {
    pub count: u64,
    pub field: String,
    pub value: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptsDay {
    pub total: u64,
    pub blocked: u64,
    pub by_flag: HashMap<String, FlagSeen>,
    pub by_field: HashMap<String, (u64, HashMap<String, u64>)>,
}

#[derive(Deserialize)]
struct Row<'a> {
    #[serde(borrow, default)]
    field: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    flag_id: Option<Cow<'a, str>>,
    #[serde(default)]
    blocked: Option<bool>,
    #[serde(borrow, default)]
    flag_reason: Option<Cow<'a, str>>,
}

impl DaySummary for AttemptsDay {
    fn fold(&mut self, line: &[u8]) -> bool {
        let Ok(row) = serde_json::from_slice::<Row<'_>>(line) else {
            return false;
        };
        self.total += 1;
        if row.blocked != Some(true) {
            return true;
        }
        self.blocked += 1;
        let field = row.field.as_deref().unwrap_or("");
        let value = row.value.as_deref().unwrap_or("");
        if let Some(id) = row.flag_id.as_deref().filter(|id| !id.is_empty()) {
            let seen = self
                .by_flag
                .entry(id.to_string())
                .or_insert_with(|| FlagSeen {
                    field: field.to_string(),
                    value: value.to_string(),
                    ..FlagSeen::default()
                });
            seen.count += 1;
            if let Some(reason) = row.flag_reason {
                seen.reason = Some(reason.into_owned());
            }
        }
        let (count, values) = self.by_field.entry(field.to_string()).or_default();
        *count += 1;
        match values.get_mut(value) {
            Some(n) => *n += 1,
            None => {
                values.insert(value.to_string(), 1);
            }
        }
        true
    }
}

/// The flag as it is now, if it still exists (id, field, value, reason).
pub type CurrentFlag<'a> = &'a dyn Fn(&str) -> Option<Value>;

#[derive(Serialize)]
pub struct FlagEntry {
    pub flag: Value,
    pub count: u64,
    pub dates: BTreeMap<String, u64>,
}

#[derive(Serialize)]
pub struct FieldEntry {
    pub count: u64,
    pub values: BTreeMap<String, u64>,
}

/// The seed's statistics shape.
#[derive(Serialize)]
pub struct BlocklistStatistics {
    pub date_range: Value,
    pub total_attempts: u64,
    pub blocked_attempts: u64,
    pub by_flag: BTreeMap<String, FlagEntry>,
    pub by_field: BTreeMap<String, FieldEntry>,
}

/// Merges day summaries. A flag removed since is shown with what the attempts recorded.
pub fn merge(
    range: DateRange,
    days: &[(NaiveDate, Arc<AttemptsDay>)],
    current: CurrentFlag<'_>,
) -> BlocklistStatistics {
    let mut out = BlocklistStatistics {
        date_range: json!({"start": range.start.to_string(), "end": range.end.to_string()}),
        total_attempts: 0,
        blocked_attempts: 0,
        by_flag: BTreeMap::new(),
        by_field: BTreeMap::new(),
    };
    let mut last_seen: HashMap<&str, &FlagSeen> = HashMap::new();
    for (date, day) in days {
        out.total_attempts += day.total;
        out.blocked_attempts += day.blocked;
        for (id, seen) in &day.by_flag {
            let entry = out.by_flag.entry(id.clone()).or_insert_with(|| FlagEntry {
                flag: Value::Null,
                count: 0,
                dates: BTreeMap::new(),
            });
            entry.count += seen.count;
            *entry.dates.entry(date.to_string()).or_insert(0) += seen.count;
            last_seen.insert(id, seen);
        }
        for (field, (count, values)) in &day.by_field {
            let entry = out
                .by_field
                .entry(field.clone())
                .or_insert_with(|| FieldEntry {
                    count: 0,
                    values: BTreeMap::new(),
                });
            entry.count += count;
            for (value, n) in values {
                match entry.values.get_mut(value) {
                    Some(total) => *total += n,
                    None => {
                        entry.values.insert(value.clone(), *n);
                    }
                }
            }
        }
    }
    for (id, entry) in out.by_flag.iter_mut() {
        entry.flag = current(id).unwrap_or_else(|| {
            let seen = last_seen.get(id.as_str());
            let mut known = Map::new();
            known.insert("id".into(), json!(id));
            known.insert("field".into(), json!(seen.map(|s| s.field.as_str())));
            known.insert("value".into(), json!(seen.map(|s| s.value.as_str())));
            known.insert(
                "reason".into(),
                json!(seen.and_then(|s| s.reason.as_deref())),
            );
            known.insert("removed".into(), json!(true));
            Value::Object(known)
        });
    }
    out
}
