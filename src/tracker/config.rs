//! The two tracker config documents, persisted in `DATA_DIR` and edited with a partial
//! `PUT` (the Node version lost runtime changes on restart):
//! `answering-machine-config.json` and `protection-config.json`.

use crate::store::document::Invalid;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::numbers::InvalidClasses;
use crate::journal::Outcome;
use crate::store::document::{field, only_known};

pub const AM_FILE: &str = "answering-machine-config.json";
pub const PROTECTION_FILE: &str = "protection-config.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmConfig {
    pub enabled: bool,
    /// At this many counted outcomes today, a lead id + phone is blocked.
    pub max_attempts_per_day: u32,
    /// The outcomes that mean nobody answered.
    pub counted_outcomes: Vec<Outcome>,
}

impl Default for AmConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts_per_day: 4,
            counted_outcomes: vec![Outcome::Voicemail, Outcome::NoAnswer],
        }
    }
}

fn range(name: &str, v: u32, lo: u32, hi: u32) -> Result<u32, Invalid> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(Invalid(format!("{name}: must be between {lo} and {hi}")))
    }
}

impl AmConfig {
    pub fn parse(v: &Value) -> Result<Self, Invalid> {
        let obj = v.as_object().ok_or("the config must be a JSON object")?;
        only_known(
            obj,
            "",
            &["enabled", "max_attempts_per_day", "counted_outcomes"],
        )?;
        Ok(Self {
            enabled: field(obj, "enabled")?,
            max_attempts_per_day: range(
                "max_attempts_per_day",
                field(obj, "max_attempts_per_day")?,
                1,
                100,
            )?,
            counted_outcomes: field(obj, "counted_outcomes")?,
        })
    }
}

/// Which protection rules run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub active_call: bool,
    pub duplicate: bool,
    pub daily_cap: bool,
    pub rolling_cap: bool,
    pub terminal_outcomes: bool,
    pub terminal_status: bool,
    pub invalid_numbers: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectionConfig {
    pub enabled: bool,
    pub rules: Rules,
    /// A line with no outcome is free again after this plus the margin.
    pub max_call_minutes: u32,
    pub active_call_margin_minutes: u32,
    /// After a `transferred` outcome the line stays busy this long.
    pub transfer_cooldown_minutes: u32,
    pub duplicate_window_minutes: u32,
    pub max_daily_attempts_per_number: u32,
    /// States (by lead state or area code) with a rolling 24-hour cap.
    pub rolling_cap_states: Vec<String>,
    pub rolling_cap_calls: u32,
    /// Bland disposition or pathway tags that end the day for a number.
    pub not_interested_tags: Vec<String>,
    /// Lead `status` values blocked without any network call.
    pub terminal_statuses: Vec<String>,
    pub invalid_numbers: InvalidClasses,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Self {
            enabled: true,
            rules: Rules {
                active_call: true,
                duplicate: true,
                daily_cap: true,
                rolling_cap: true,
                terminal_outcomes: true,
                terminal_status: true,
                invalid_numbers: true,
            },
            max_call_minutes: 30,
            active_call_margin_minutes: 5,
            transfer_cooldown_minutes: 30,
            duplicate_window_minutes: 10,
            max_daily_attempts_per_number: 3,
            rolling_cap_states: list(&["FL", "OK", "MD"]),
            rolling_cap_calls: 3,
            not_interested_tags: list(&["not_interested", "do_not_call"]),
            terminal_statuses: list(&[
                "DNC",
                "DNCA",
                "DNCL",
                "DNCQ",
                "STOP",
                "DO_NOT_CALL",
                "SALE",
            ]),
            invalid_numbers: InvalidClasses::default(),
        }
    }
}

/// Tags compare lower-cased with spaces and hyphens as underscores.
pub fn normalise_tag(tag: &str) -> String {
    tag.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

impl ProtectionConfig {
    pub fn parse(v: &Value) -> Result<Self, Invalid> {
        let obj = v.as_object().ok_or("the config must be a JSON object")?;
        only_known(
            obj,
            "",
            &[
                "enabled",
                "rules",
                "max_call_minutes",
                "active_call_margin_minutes",
                "transfer_cooldown_minutes",
                "duplicate_window_minutes",
                "max_daily_attempts_per_number",
                "rolling_cap_states",
                "rolling_cap_calls",
                "not_interested_tags",
                "terminal_statuses",
                "invalid_numbers",
            ],
        )?;
        let minutes = |name: &str, lo: u32| -> Result<u32, Invalid> {
            range(name, field(obj, name)?, lo, 24 * 60)
        };
        let states: Vec<String> = field(obj, "rolling_cap_states")?;
        let states = states
            .iter()
            .map(|s| {
                let s = s.trim().to_ascii_uppercase();
                if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
                    Ok(s)
                } else {
                    Err(Invalid(format!(
                        "rolling_cap_states: `{s}` is not a two-letter state code"
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let words = |name: &str, f: fn(&str) -> String| -> Result<Vec<String>, Invalid> {
            let items: Vec<String> = field(obj, name)?;
            items
                .iter()
                .map(|t| match f(t) {
                    t if t.is_empty() => Err(Invalid(format!("{name}: empty entry"))),
                    t => Ok(t),
                })
                .collect()
        };
        Ok(Self {
            enabled: field(obj, "enabled")?,
            rules: field(obj, "rules")?,
            max_call_minutes: minutes("max_call_minutes", 1)?,
            active_call_margin_minutes: minutes("active_call_margin_minutes", 0)?,
            transfer_cooldown_minutes: minutes("transfer_cooldown_minutes", 0)?,
            duplicate_window_minutes: minutes("duplicate_window_minutes", 1)?,
            max_daily_attempts_per_number: range(
                "max_daily_attempts_per_number",
                field(obj, "max_daily_attempts_per_number")?,
                1,
                100,
            )?,
            rolling_cap_states: states,
            rolling_cap_calls: range(
                "rolling_cap_calls",
                field(obj, "rolling_cap_calls")?,
                1,
                100,
            )?,
            not_interested_tags: words("not_interested_tags", normalise_tag)?,
            terminal_statuses: words("terminal_statuses", |s| s.trim().to_ascii_uppercase())?,
            invalid_numbers: field(obj, "invalid_numbers")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::document::merge;
    use serde_json::json;

    fn protection(patch: Value) -> Result<ProtectionConfig, Invalid> {
        let mut v = serde_json::to_value(ProtectionConfig::default()).expect("serialise");
        merge(&mut v, &patch);
        ProtectionConfig::parse(&v)
    }

    #[test]
    fn defaults_parse_and_bad_values_name_the_field() {
        assert_eq!(protection(json!({})), Ok(ProtectionConfig::default()));
        for (patch, name) in [
            (json!({"max_call_minutes": 0}), "max_call_minutes"),
            (
                json!({"duplicate_window_minutes": 5000}),
                "duplicate_window_minutes",
            ),
            (json!({"rules": {"duplicate": "yes"}}), "rules"),
            (json!({"rules": {"nope": true}}), "rules"),
            (
                json!({"rolling_cap_states": ["Florida"]}),
                "rolling_cap_states",
            ),
            (json!({"not_interested_tags": [" "]}), "not_interested_tags"),
            (
                json!({"invalid_numbers": {"toll_free": 1}}),
                "invalid_numbers",
            ),
            (json!({"colour": 1}), "colour"),
        ] {
            let err = protection(patch.clone()).expect_err(&patch.to_string());
            assert!(err.0.starts_with(name), "{patch}: {err}");
        }
        let c = protection(
            json!({"not_interested_tags": ["Not Interested"], "terminal_statuses": [" dnc "]}),
        )
        .expect("valid");
        assert_eq!(c.not_interested_tags, ["not_interested"]);
        assert_eq!(c.terminal_statuses, ["DNC"]);
    }

    #[test]
    fn answering_machine_config_checks_its_fields() {
        let mut v = serde_json::to_value(AmConfig::default()).expect("serialise");
        merge(&mut v, &json!({"counted_outcomes": ["voicemail", "maybe"]}));
        let err = AmConfig::parse(&v).expect_err("unknown outcome");
        assert!(err.0.starts_with("counted_outcomes"), "{err}");
        let mut v = serde_json::to_value(AmConfig::default()).expect("serialise");
        merge(&mut v, &json!({"max_attempts_per_day": 0}));
        assert!(AmConfig::parse(&v)
            .expect_err("zero")
            .0
            .starts_with("max_attempts_per_day"));
    }
}
