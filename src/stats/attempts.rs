//! The seed's blocklist statistics: attempts by flag (with per-date counts) and by field
//! (with per-value counts), built from `attempts_YYYY-MM-DD.jsonl`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use chrono::NaiveDate;
use memchr::memmem;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{DateRange, DaySummary};

/// What an attempt line tells about the flag that blocked it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagSeen {
    pub count: u64,
    pub field: String,
    pub value: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AttemptsDay {
    pub total: u64,
    pub blocked: u64,
    pub by_flag: HashMap<String, FlagSeen>,
    pub by_field: HashMap<String, (u64, HashMap<String, u64>)>,
    /// Blocks by do-not-call list (attempts with a `list`).
    #[serde(default)]
    pub by_list: HashMap<String, u64>,
}

#[derive(Debug, PartialEq, Deserialize)]
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

/// A JSON string or `null` after `"key":`, searched from `from`. Returns the value and
/// where the search may continue; `None` when the key is not there or its value is not a
/// plain (escape-free) string or null.
fn value_after<'a>(
    line: &'a [u8],
    from: usize,
    key: &memmem::Finder<'_>,
) -> Option<(Option<&'a str>, usize)> {
    let start = from + key.find(&line[from..])? + key.needle().len();
    let rest = &line[start..];
    if rest.starts_with(b"null") {
        return Some((None, start + 4));
    }
    let body = rest.strip_prefix(b"\"")?;
    let len = memchr::memchr(b'"', body)?;
    let text = &body[..len];
    if memchr::memchr(b'\\', text).is_some() {
        return None;
    }
    Some((Some(std::str::from_utf8(text).ok()?), start + 1 + len + 1))
}

struct Keys {
    field: memmem::Finder<'static>,
    value: memmem::Finder<'static>,
    blocked: memmem::Finder<'static>,
    flag_id: memmem::Finder<'static>,
    flag_reason: memmem::Finder<'static>,
    list: memmem::Finder<'static>,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    field: memmem::Finder::new(b"\"field\":"),
    value: memmem::Finder::new(b"\"value\":"),
    blocked: memmem::Finder::new(b"\"blocked\":"),
    flag_id: memmem::Finder::new(b"\"flag_id\":"),
    flag_reason: memmem::Finder::new(b"\"flag_reason\":"),
    list: memmem::Finder::new(b"\"list\":"),
});

/// The do-not-call list an attempt names (written by list blocks only; list names are
/// plain configuration names, so the substring search is exact).
fn list_of(line: &[u8]) -> Option<&str> {
    value_after(line, 0, &KEYS.list).and_then(|(name, _)| name)
}

/// The fast path for the flat lines we write ourselves, whose keys come in a fixed order
/// (`field`, `value`, …, `blocked`, …, `flag_id`, …, `flag_reason`): one forward pass of
/// substring searches instead of a full parse. Anything else (another order, a missing
/// key, escapes, nested objects) returns `None` and the line goes through serde, so both
/// paths agree.
fn fast_row(line: &[u8]) -> Option<Row<'_>> {
    let k = &*KEYS;
    if line.first() != Some(&b'{')
        || line.last() != Some(&b'}')
        || memchr::memchr(b'{', &line[1..]).is_some()
    {
        return None;
    }
    let (field, pos) = value_after(line, 0, &k.field)?;
    let (value, pos) = value_after(line, pos, &k.value)?;
    let at = pos + k.blocked.find(&line[pos..])? + k.blocked.needle().len();
    let (blocked, pos) = match &line[at..] {
        rest if rest.starts_with(b"true") => (true, at + 4),
        rest if rest.starts_with(b"false") => (false, at + 5),
        _ => return None,
    };
    let (flag_id, pos) = value_after(line, pos, &k.flag_id)?;
    let (flag_reason, _) = value_after(line, pos, &k.flag_reason)?;
    Some(Row {
        field: Some(Cow::Borrowed(field?)),
        value: Some(Cow::Borrowed(value?)),
        flag_id: flag_id.map(Cow::Borrowed),
        blocked: Some(blocked),
        flag_reason: flag_reason.map(Cow::Borrowed),
    })
}

fn parse_row(line: &[u8]) -> Option<Row<'_>> {
    fast_row(line).or_else(|| serde_json::from_slice::<Row<'_>>(line).ok())
}

impl DaySummary for AttemptsDay {
    fn fold(&mut self, line: &[u8]) -> bool {
        let Some(row) = parse_row(line) else {
            return false;
        };
        self.total += 1;
        if row.blocked != Some(true) {
            return true;
        }
        self.blocked += 1;
        let field = row.field.as_deref().unwrap_or("");
        let value = row.value.as_deref().unwrap_or("");
        if row.flag_id.is_none() {
            if let Some(list) = list_of(line) {
                match self.by_list.get_mut(list) {
                    Some(n) => *n += 1,
                    None => {
                        self.by_list.insert(list.to_string(), 1);
                    }
                }
            }
        }
        if let Some(id) = row.flag_id.as_deref().filter(|id| !id.is_empty()) {
            // Look up by `&str` first: an owned key is made only for a new entry.
            if !self.by_flag.contains_key(id) {
                let seen = FlagSeen {
                    field: field.to_string(),
                    value: value.to_string(),
                    ..FlagSeen::default()
                };
                self.by_flag.insert(id.to_string(), seen);
            }
            if let Some(seen) = self.by_flag.get_mut(id) {
                seen.count += 1;
                if let Some(reason) = row
                    .flag_reason
                    .filter(|r| seen.reason.as_deref() != Some(r.as_ref()))
                {
                    seen.reason = Some(reason.into_owned());
                }
            }
        }
        if !self.by_field.contains_key(field) {
            self.by_field.insert(field.to_string(), Default::default());
        }
        let Some((count, values)) = self.by_field.get_mut(field) else {
            return true;
        };
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

/// Blocks by one do-not-call list, in total and per date.
#[derive(Serialize, Default)]
pub struct ListEntry {
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
    /// Blocks by do-not-call list (an addition to the seed's shape).
    pub by_list: BTreeMap<String, ListEntry>,
}

/// One flag's total, its per-date counts and the latest thing known about it.
type FlagTally<'a> = (u64, Vec<(NaiveDate, u64)>, &'a FlagSeen);

/// Merges day summaries. A flag removed since is shown with what the attempts recorded.
/// Counting uses hash maps keyed by strings borrowed from the summaries; only the output
/// allocates.
pub fn merge(
    range: DateRange,
    days: &[(NaiveDate, Arc<AttemptsDay>)],
    current: CurrentFlag<'_>,
) -> BlocklistStatistics {
    let mut total_attempts = 0;
    let mut blocked_attempts = 0;
    let mut flags: HashMap<&str, FlagTally<'_>> = HashMap::new();
    let mut fields: HashMap<&str, (u64, HashMap<&str, u64>)> = HashMap::new();
    let mut by_list: BTreeMap<String, ListEntry> = BTreeMap::new();
    for (date, day) in days {
        for (list, n) in &day.by_list {
            let entry = by_list.entry(list.clone()).or_default();
            entry.count += n;
            entry.dates.insert(date.to_string(), *n);
        }
        total_attempts += day.total;
        blocked_attempts += day.blocked;
        for (id, seen) in &day.by_flag {
            let entry = flags.entry(id.as_str()).or_insert((0, Vec::new(), seen));
            entry.0 += seen.count;
            entry.1.push((*date, seen.count));
            entry.2 = seen;
        }
        for (field, (count, values)) in &day.by_field {
            let entry = fields.entry(field.as_str()).or_default();
            entry.0 += count;
            entry.1.reserve(values.len());
            for (value, n) in values {
                *entry.1.entry(value.as_str()).or_insert(0) += n;
            }
        }
    }
    let by_flag = flags
        .into_iter()
        .map(|(id, (count, dates, seen))| {
            let flag = current(id).unwrap_or_else(|| {
                let mut known = Map::new();
                known.insert("id".into(), json!(id));
                known.insert("field".into(), json!(seen.field));
                known.insert("value".into(), json!(seen.value));
                known.insert("reason".into(), json!(seen.reason));
                known.insert("removed".into(), json!(true));
                Value::Object(known)
            });
            let dates = dates.into_iter().map(|(d, n)| (d.to_string(), n)).collect();
            (id.to_string(), FlagEntry { flag, count, dates })
        })
        .collect();
    let by_field = fields
        .into_iter()
        .map(|(field, (count, values))| {
            let values = values
                .into_iter()
                .map(|(v, n)| (v.to_string(), n))
                .collect();
            (field.to_string(), FieldEntry { count, values })
        })
        .collect();
    BlocklistStatistics {
        date_range: json!({"start": range.start.to_string(), "end": range.end.to_string()}),
        total_attempts,
        blocked_attempts,
        by_flag,
        by_field,
        by_list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_serde_or_steps_aside() {
        let lines: [&[u8]; 8] = [
            br#"{"timestamp":"2026-11-23T15:00:00.000Z","field":"phone","value":"+13055551234","lead_id":"1","phone":"+13055551234","blocked":true,"reason":"Blocked by flag: phone=+13055551234","flag_id":"flag_1","request_id":"r","stage":"blocklist","source":"flag","flag_reason":"asked"}"#,
            br#"{"timestamp":"2026-11-23T15:00:00.000Z","field":"lead_id","value":"7","lead_id":null,"phone":null,"blocked":false,"reason":"x","flag_id":null,"request_id":null,"stage":"blocklist","source":"flag","flag_reason":null}"#,
            br#"{"field":"note","value":"say \"hi\"","blocked":true,"flag_id":"f"}"#,
            br#"{"value":"v","field":"f","blocked":true}"#,
            br#"{"field":"f","value":"v","blocked":true,"extra":{"field":"g"}}"#,
            br#"{"field":"f","value":"v"}"#,
            br#"{"flag_id":"x","field":"f","value":"v","blocked":true,"flag_reason":null}"#,
            br#"{"field":"f","value":"v","blocked":true,"flag_id":"x"}"#,
        ];
        for line in lines {
            let slow = serde_json::from_slice::<Row<'_>>(line).ok();
            if let Some(fast) = fast_row(line) {
                assert_eq!(Some(fast), slow, "{}", String::from_utf8_lossy(line));
            }
            assert_eq!(parse_row(line), slow, "{}", String::from_utf8_lossy(line));
        }
        assert!(fast_row(lines[0]).is_some() && fast_row(lines[1]).is_some());
        assert!(
            fast_row(lines[2]).is_none(),
            "escaped strings go through serde"
        );
        assert!(
            fast_row(lines[4]).is_none(),
            "nested objects go through serde"
        );
    }
}
