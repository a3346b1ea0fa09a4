//! The caller-ID pool's config document (`caller-ids.json`, or its row): the numbers
//! keyed by E.164, each with its tags, caps and rest, and the pool's rules. Its default is
//! the config file's `[[caller_ids]]` and `[caller_id_pool]`; a partial `PUT` changes it
//! (a number set to `null` leaves the pool), and the rest/unrest routes write a number's
//! `rested` here, so a rest holds on every instance and across restarts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::PhoneNumber;
use crate::store::document::{field, only_known, Invalid};

pub const FILE: &str = "caller-ids.json";

/// Why and until when a number is rested (`until: None`: until an admin brings it back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rest {
    pub reason: String,
    #[serde(default, with = "crate::clock::millis_opt")]
    pub until: Option<DateTime<Utc>>,
    #[serde(with = "crate::clock::millis")]
    pub at: DateTime<Utc>,
    /// `admin` or `automatic`.
    pub by: String,
}

/// One number of the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberConfig {
    /// The area codes it should serve (its own is implied).
    #[serde(default)]
    pub area_codes: Vec<String>,
    /// The states it should serve (its area code's state is implied).
    #[serde(default)]
    pub states: Vec<String>,
    /// Its own caps; `None`: the pool's.
    #[serde(default)]
    pub daily_cap: Option<u32>,
    #[serde(default)]
    pub hourly_cap: Option<u32>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub rested: Option<Rest>,
    /// Calls before this instant do not count toward the automatic rest (set when an
    /// admin brings the number back, so the calls that rested it do not rest it again).
    #[serde(default, with = "crate::clock::millis_opt")]
    pub counted_from: Option<DateTime<Utc>>,
}

fn yes() -> bool {
    true
}

/// After `after` non-pickup outcomes in a row, the number cools down for `minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cooldown {
    pub after: u32,
    pub minutes: u32,
}

/// A number whose answered rate over its last `calls` calls is below `fraction` of the
/// pool's is rested until an admin brings it back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRest {
    pub enabled: bool,
    pub calls: u32,
    pub fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolConfig {
    pub numbers: BTreeMap<String, NumberConfig>,
    /// Every number's caps unless it sets its own (`None`: no cap).
    pub daily_cap: Option<u32>,
    pub hourly_cap: Option<u32>,
    /// The rolling window of the pickup rates, and of "the number that last reached
    /// this lead".
    pub window_hours: u32,
    pub cooldowns: Vec<Cooldown>,
    /// Cooldowns never leave fewer usable numbers than this.
    pub min_available: u32,
    pub auto_rest: AutoRest,
    /// Streaks count only outcomes after this instant (`clear cooldowns`).
    #[serde(default, with = "crate::clock::millis_opt")]
    pub cooldowns_cleared_at: Option<DateTime<Utc>>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            numbers: BTreeMap::new(),
            daily_cap: Some(100),
            hourly_cap: None,
            window_hours: 48,
            cooldowns: vec![
                Cooldown {
                    after: 5,
                    minutes: 5,
                },
                Cooldown {
                    after: 10,
                    minutes: 15,
                },
            ],
            min_available: 1,
            auto_rest: AutoRest {
                enabled: true,
                calls: 20,
                fraction: 0.5,
            },
            cooldowns_cleared_at: None,
        }
    }
}

const KNOWN: &[&str] = &[
    "numbers",
    "daily_cap",
    "hourly_cap",
    "window_hours",
    "cooldowns",
    "min_available",
    "auto_rest",
    "cooldowns_cleared_at",
];

impl PoolConfig {
    /// Checks a full document; errors name the field.
    pub fn parse(v: &Value) -> Result<Self, Invalid> {
        let obj = v.as_object().ok_or("the config must be a JSON object")?;
        only_known(obj, "", KNOWN)?;
        let mut numbers = BTreeMap::new();
        let raw = obj.get("numbers").and_then(Value::as_object);
        for (key, entry) in raw.into_iter().flatten() {
            if entry.is_null() {
                continue; // removed by a PUT
            }
            let at = |e: &dyn std::fmt::Display| Invalid(format!("numbers.{key}: {e}"));
            let phone = PhoneNumber::parse(key, "US").map_err(|e| at(&e))?;
            if phone.as_str() != key {
                return Err(at(&format!("write it in E.164, as `{}`", phone.as_str())));
            }
            let n: NumberConfig = serde_json::from_value(entry.clone()).map_err(|e| at(&e))?;
            for code in &n.area_codes {
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(at(&format!(
                        "area_codes: `{code}` is not a 3-digit area code"
                    )));
                }
            }
            numbers.insert(key.clone(), n);
        }
        let c = Self {
            numbers,
            daily_cap: field(obj, "daily_cap")?,
            hourly_cap: field(obj, "hourly_cap")?,
            window_hours: field(obj, "window_hours")?,
            cooldowns: field(obj, "cooldowns")?,
            min_available: field(obj, "min_available")?,
            auto_rest: field(obj, "auto_rest")?,
            cooldowns_cleared_at: field::<Option<String>>(obj, "cooldowns_cleared_at")?
                .map(|t| {
                    t.parse()
                        .map_err(|e| Invalid(format!("cooldowns_cleared_at: {e}")))
                })
                .transpose()?,
        };
        if !(1..=24 * 30).contains(&c.window_hours) {
            return Err("window_hours: must be between 1 and 720".into());
        }
        if !(0.0..=1.0).contains(&c.auto_rest.fraction) || c.auto_rest.calls == 0 {
            return Err("auto_rest: `calls` must be at least 1 and `fraction` within 0..1".into());
        }
        if c.cooldowns.iter().any(|d| d.after == 0) {
            return Err("cooldowns: `after` must be at least 1".into());
        }
        Ok(c)
    }

    /// The number's caps: its own, else the pool's.
    pub fn caps(&self, n: &NumberConfig) -> (Option<u32>, Option<u32>) {
        (
            n.hourly_cap.or(self.hourly_cap),
            n.daily_cap.or(self.daily_cap),
        )
    }

    /// The cooldown a streak of `streak` non-pickups earns, in minutes.
    pub fn cooldown_minutes(&self, streak: u32) -> Option<u32> {
        self.cooldowns
            .iter()
            .filter(|c| streak >= c.after)
            .max_by_key(|c| c.after)
            .map(|c| c.minutes)
    }
}

/// The default document from the config file: `[[caller_ids]]` entries (each with its
/// `number`) keyed by number, over `[caller_id_pool]`'s settings.
pub fn from_settings(numbers: &[Value], pool: &serde_json::Map<String, Value>) -> Value {
    let mut doc = serde_json::to_value(PoolConfig::default()).unwrap_or(Value::Null);
    if let Some(obj) = doc.as_object_mut() {
        for (k, v) in pool {
            obj.insert(k.clone(), v.clone());
        }
        let mut keyed = serde_json::Map::new();
        for entry in numbers {
            let mut entry = entry.clone();
            let number = entry
                .as_object_mut()
                .and_then(|o| o.remove("number"))
                .and_then(|n| n.as_str().map(str::to_string))
                .unwrap_or_default();
            let key = PhoneNumber::parse(&number, "US")
                .map(|p| p.as_str().to_string())
                .unwrap_or(number);
            keyed.insert(key, entry);
        }
        obj.insert("numbers".into(), Value::Object(keyed));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_issue_form_parses_and_bad_entries_are_named() {
        let numbers = [
            json!({"number": "+13125550123", "area_codes": ["312", "773"],
            "states": ["IL"], "daily_cap": 100, "hourly_cap": 20}),
        ];
        let doc = from_settings(&numbers, &serde_json::Map::new());
        let c = PoolConfig::parse(&doc).expect("parses");
        let n = &c.numbers["+13125550123"];
        assert_eq!(
            (n.area_codes.len(), n.daily_cap, n.hourly_cap),
            (2, Some(100), Some(20))
        );
        assert_eq!(c.caps(n), (Some(20), Some(100)));
        assert_eq!(c.cooldown_minutes(4), None);
        assert_eq!(c.cooldown_minutes(7), Some(5));
        assert_eq!(c.cooldown_minutes(12), Some(15));
        let mut bad = doc.clone();
        bad["numbers"]["+13125550123"]["area_codes"] = json!(["31"]);
        let e = PoolConfig::parse(&bad).expect_err("refused");
        assert!(e.0.starts_with("numbers.+13125550123: area_codes"), "{e}");
        let mut bad = doc.clone();
        bad["numbers"]["3125550123"] = json!({});
        let e = PoolConfig::parse(&bad).expect_err("refused");
        assert!(e.0.contains("as `+13125550123`"), "{e}");
        let mut gone = doc;
        gone["numbers"]["+13125550123"] = Value::Null;
        assert!(PoolConfig::parse(&gone).expect("parses").numbers.is_empty());
    }
}
