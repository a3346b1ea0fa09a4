//! The scheduler's config document (`DATA_DIR/scheduler-config.json`, edited with
//! `PUT /api/admin/scheduler/config`): business hours per weekday in one zone, blackout
//! dates, federal holidays on/off, the called party's local window on/off, what to do when
//! the local zone is unknown, and how long a deferred lead may wait.

use crate::store::document::Invalid;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::window::{Day, Special, WeekRule, Window, WEEKDAYS};
use crate::store::document::{field, only_known};

pub const CONFIG_FILE: &str = "scheduler-config.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub start: String,
    pub end: String,
}

/// What to do with a NANP lead whose local zone cannot be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownZone {
    /// Block it (fail closed).
    Block,
    /// Call only when the window is open in every US zone.
    AllUsZones,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalWindow {
    pub enabled: bool,
    pub unknown_zone: UnknownZone,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchedulerConfig {
    pub enabled: bool,
    pub timezone: String,
    /// `mon` … `sun`; `None` = closed.
    pub hours: BTreeMap<String, Option<Hours>>,
    pub blackout_dates: Vec<NaiveDate>,
    pub federal_holidays: bool,
    pub local_window: LocalWindow,
    pub max_defer_hours: u32,
}

impl SchedulerConfig {
    /// Monday–Friday 09:00–17:00 in `tz`, closed on federal holidays, local window on.
    pub fn defaults(tz: Tz) -> Self {
        let hours = WEEKDAYS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let open = (i < 5).then(|| Hours {
                    start: "09:00".into(),
                    end: "17:00".into(),
                });
                (d.to_string(), open)
            })
            .collect();
        Self {
            enabled: true,
            timezone: tz.name().to_string(),
            hours,
            blackout_dates: Vec::new(),
            federal_holidays: true,
            local_window: LocalWindow {
                enabled: true,
                unknown_zone: UnknownZone::Block,
            },
            max_defer_hours: 72,
        }
    }

    /// Checks a full document, naming the first bad field.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let obj = value
            .as_object()
            .ok_or("the config must be a JSON object")?;
        only_known(
            obj,
            "",
            &[
                "enabled",
                "timezone",
                "hours",
                "blackout_dates",
                "federal_holidays",
                "local_window",
                "max_defer_hours",
            ],
        )?;
        let hours_obj = obj
            .get("hours")
            .and_then(Value::as_object)
            .ok_or("hours: must be an object with mon … sun")?;
        only_known(hours_obj, "hours.", &WEEKDAYS)?;
        let mut hours = BTreeMap::new();
        for day in WEEKDAYS {
            let h: Option<Hours> = field(hours_obj, day).map_err(|e| format!("hours.{e}"))?;
            if let Some(h) = &h {
                Window::parse(&h.start, &h.end).map_err(|e| format!("hours.{day}: {e}"))?;
            }
            hours.insert(day.to_string(), h);
        }
        let timezone: String = field(obj, "timezone")?;
        timezone
            .parse::<Tz>()
            .map_err(|_| format!("timezone: `{timezone}` is not an IANA time zone"))?;
        let blackout: Vec<String> = field(obj, "blackout_dates")?;
        let blackout_dates = blackout
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| format!("blackout_dates: `{d}` is not a date (YYYY-MM-DD)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let max_defer_hours: u32 = field(obj, "max_defer_hours")?;
        if !(1..=24 * 30).contains(&max_defer_hours) {
            return Err("max_defer_hours: must be between 1 and 720".into());
        }
        Ok(Self {
            enabled: field(obj, "enabled")?,
            timezone,
            hours,
            blackout_dates,
            federal_holidays: field(obj, "federal_holidays")?,
            local_window: field(obj, "local_window")?,
            max_defer_hours,
        })
    }
}

/// The config as the check uses it.
pub struct Compiled {
    /// Business hours and their zone; `None` when the scheduler is disabled.
    pub business: Option<(WeekRule, Tz)>,
    /// `None` when the local window is off.
    pub local: Option<UnknownZone>,
    pub max_defer: chrono::Duration,
}

/// Builds the business-hours rule; `federal` is the federal-holiday calendar.
pub fn compile(
    c: &SchedulerConfig,
    federal: &Arc<HashMap<NaiveDate, String>>,
) -> Result<Compiled, Invalid> {
    let tz: Tz = c
        .timezone
        .parse()
        .map_err(|_| format!("timezone: `{}` is not an IANA time zone", c.timezone))?;
    let mut days = [Day::Closed; 7];
    for (i, d) in WEEKDAYS.iter().enumerate() {
        if let Some(Some(h)) = c.hours.get(*d) {
            days[i] =
                Day::Open(Window::parse(&h.start, &h.end).map_err(|e| format!("hours.{d}: {e}"))?);
        }
    }
    let mut special = Vec::new();
    if !c.blackout_dates.is_empty() {
        let dates = c
            .blackout_dates
            .iter()
            .map(|d| (*d, "a blackout date".to_string()))
            .collect();
        special.push(Special {
            dates: Arc::new(dates),
            day: Day::Closed,
        });
    }
    if c.federal_holidays {
        special.push(Special {
            dates: federal.clone(),
            day: Day::Closed,
        });
    }
    let business = c.enabled.then(|| {
        (
            WeekRule {
                name: "business hours".into(),
                days,
                special,
            },
            tz,
        )
    });
    Ok(Compiled {
        business,
        local: c
            .local_window
            .enabled
            .then_some(c.local_window.unknown_zone),
        max_defer: chrono::Duration::hours(i64::from(c.max_defer_hours)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::document::merge;
    use serde_json::json;

    fn with(patch: Value) -> Result<SchedulerConfig, Invalid> {
        let mut v = serde_json::to_value(SchedulerConfig::defaults(chrono_tz::America::New_York))
            .expect("serialise");
        merge(&mut v, &patch);
        SchedulerConfig::parse(&v)
    }

    #[test]
    fn defaults_round_trip_and_bad_fields_are_named() {
        let d = with(json!({})).expect("defaults parse");
        assert_eq!(d.hours["sat"], None);
        assert_eq!(d.timezone, "America/New_York");
        let cases = [
            (
                json!({"hours": {"mon": {"start": "9", "end": "17:00"}}}),
                "hours.mon",
            ),
            (
                json!({"hours": {"tue": {"start": "17:00", "end": "09:00"}}}),
                "hours.tue",
            ),
            (json!({"hours": {"fun": null}}), "hours.fun"),
            (json!({"timezone": "Mars/Base"}), "timezone"),
            (json!({"enabled": "yes"}), "enabled"),
            (json!({"blackout_dates": ["2026-02-30"]}), "blackout_dates"),
            (
                json!({"local_window": {"enabled": true, "unknown_zone": "guess"}}),
                "local_window",
            ),
            (json!({"max_defer_hours": 0}), "max_defer_hours"),
            (json!({"colour": "blue"}), "colour"),
        ];
        for (patch, name) in cases {
            let err = with(patch.clone()).expect_err(&patch.to_string());
            assert!(err.0.starts_with(name), "{patch}: {err}");
        }
    }
}
