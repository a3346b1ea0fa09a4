//! The follow-up texts' config document (`sms-config.json`, or its row followed by every
//! instance): `GET`/`PUT /api/admin/sms/config` read and change it like the scheduler's.
//! Its default is `[sms]` / the `SMS_*` variables; a `PUT` changes only the fields given
//! and answers 400 naming the field it refuses. The words read in inbound texts and the
//! opt-out confirmation stay settings.

use serde::Serialize;
use serde_json::Value;

use crate::config::sms::{SmsSettings, MAX_MESSAGES};
use crate::schedule::window::{format_hhmm, parse_hhmm, Day, WeekRule, Window, WEEKDAYS};
use crate::store::document::{only_known, Invalid};

pub const FILE: &str = "sms-config.json";

const OUTCOMES: [&str; 6] = [
    "human",
    "voicemail",
    "no_answer",
    "busy",
    "transferred",
    "failed",
];
const FIELDS: [&str; 9] = [
    "enabled",
    "from",
    "triggers",
    "day_gaps",
    "messages",
    "max_per_day",
    "start",
    "end",
    "days",
];

/// The sequences' rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequenceConfig {
    pub enabled: bool,
    pub from: Option<String>,
    pub triggers: Vec<String>,
    pub day_gaps: Vec<u32>,
    pub messages: Vec<String>,
    pub max_per_day: u32,
    pub start: String,
    pub end: String,
    pub days: Vec<String>,
}

impl SequenceConfig {
    /// The document's default: the settings.
    pub fn from_settings(s: &SmsSettings) -> Self {
        Self {
            enabled: s.enabled,
            from: s.from.clone(),
            triggers: s.triggers.clone(),
            day_gaps: s.day_gaps.clone(),
            messages: s.messages.clone(),
            max_per_day: s.max_per_day,
            start: format_hhmm(s.start),
            end: format_hhmm(s.end),
            days: WEEKDAYS
                .iter()
                .zip(s.days)
                .filter(|(_, on)| *on)
                .map(|(d, _)| d.to_string())
                .collect(),
        }
    }

    /// Checks a whole document; the texts' weekly rule with it.
    pub fn parse(v: &Value) -> Result<(Self, WeekRule), Invalid> {
        let obj = v
            .as_object()
            .ok_or_else(|| Invalid("the document must be an object".into()))?;
        only_known(obj, "", &FIELDS)?;
        let f = Fields(obj);
        let enabled = f
            .get("enabled")
            .as_bool()
            .ok_or_else(|| Invalid("enabled: must be true or false".into()))?;
        let from = match f.get("from") {
            Value::Null => None,
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => return Err(Invalid("from: must be a number (a string) or null".into())),
        };
        let triggers = f.strings("triggers")?;
        if let Some(t) = triggers.iter().find(|t| !OUTCOMES.contains(&t.as_str())) {
            return Err(Invalid(format!(
                "triggers: `{t}` is not an outcome ({})",
                OUTCOMES.join(", ")
            )));
        }
        let (day_gaps, messages) = f.sequence(enabled)?;
        let max_per_day = f
            .get("max_per_day")
            .as_u64()
            .filter(|n| *n > 0)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Invalid("max_per_day: must be a positive whole number".into()))?;
        let (start, end, days, rule) = f.window()?;
        let c = Self {
            enabled,
            from,
            triggers,
            day_gaps,
            messages,
            max_per_day,
            start,
            end,
            days,
        };
        Ok((c, rule))
    }
}

/// The document's fields, read with the field named in every error.
struct Fields<'a>(&'a serde_json::Map<String, Value>);

impl Fields<'_> {
    fn get(&self, k: &str) -> &Value {
        self.0.get(k).unwrap_or(&Value::Null)
    }

    fn strings(&self, k: &str) -> Result<Vec<String>, Invalid> {
        let bad = || Invalid(format!("{k}: must be an array of strings"));
        self.get(k)
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect()
    }

    /// The day gaps (increasing, 1 to 4) and a message for each at most.
    fn sequence(&self, enabled: bool) -> Result<(Vec<u32>, Vec<String>), Invalid> {
        let bad = || Invalid("day_gaps: must be an array of whole days".into());
        let day_gaps: Vec<u32> = self
            .get("day_gaps")
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|d| {
                d.as_u64()
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(bad)
            })
            .collect::<Result<_, _>>()?;
        if day_gaps.is_empty()
            || day_gaps.len() > MAX_MESSAGES
            || day_gaps.windows(2).any(|w| w[0] > w[1])
        {
            return Err(Invalid(format!(
                "day_gaps: give 1 to {MAX_MESSAGES} day gaps in increasing order"
            )));
        }
        let messages = self.strings("messages")?;
        if messages.len() > day_gaps.len() || messages.iter().any(|m| m.trim().is_empty()) {
            return Err(Invalid(format!(
                "messages: at most one non-empty message per day gap ({})",
                day_gaps.len()
            )));
        }
        if enabled && messages.is_empty() {
            return Err(Invalid(
                "messages: texts are enabled, so give at least one message".into(),
            ));
        }
        Ok((day_gaps, messages))
    }

    /// `start`, `end`, `days`, and the weekly rule they make.
    fn window(&self) -> Result<(String, String, Vec<String>, WeekRule), Invalid> {
        let hhmm = |k: &str| {
            let s = self
                .get(k)
                .as_str()
                .ok_or_else(|| Invalid(format!("{k}: must be HH:MM")))?;
            parse_hhmm(s).map_err(|e| Invalid(format!("{k}: {}", e.0)))?;
            Ok::<_, Invalid>(s.to_string())
        };
        let (start, end) = (hhmm("start")?, hhmm("end")?);
        let window = Window::parse(&start, &end).map_err(|e| Invalid(format!("end: {}", e.0)))?;
        let days = self.strings("days")?;
        let mut open = [Day::Closed; 7];
        for d in &days {
            let i = WEEKDAYS
                .iter()
                .position(|w| w == d)
                .ok_or_else(|| Invalid(format!("days: `{d}` is not a day (mon … sun)")))?;
            open[i] = Day::Open(window);
        }
        let rule = WeekRule {
            name: "text hours".into(),
            days: open,
            special: Vec::new(),
        };
        Ok((start, end, days, rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_settings_are_a_valid_document_and_bad_fields_are_named() {
        let c = SequenceConfig::from_settings(&SmsSettings::default());
        let v = serde_json::to_value(&c).expect("json");
        let (back, rule) = SequenceConfig::parse(&v).expect("valid");
        assert_eq!(back, c);
        assert_eq!(rule.days[6], Day::Closed, "no texts on Sunday by default");
        let bad = |patch: Value| {
            let mut v = v.clone();
            crate::store::document::merge(&mut v, &patch);
            SequenceConfig::parse(&v).expect_err("invalid").0
        };
        assert!(bad(json!({"enabled": true})).starts_with("messages:"));
        assert!(bad(json!({"day_gaps": [3, 1]})).starts_with("day_gaps:"));
        assert!(bad(json!({"triggers": ["maybe"]})).starts_with("triggers:"));
        assert!(bad(json!({"start": "25:00"})).starts_with("start:"));
        assert!(bad(json!({"days": ["someday"]})).starts_with("days:"));
        assert!(bad(json!({"colour": "red"})).contains("unknown field"));
    }
}
