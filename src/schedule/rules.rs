//! The compliance data: `state-rules.json` (federal window, federal holidays, and per state
//! its zones, weekday/Saturday/Sunday windows and holiday policy) and the area-code table
//! `npa_tz.csv` (NPA → state and every IANA zone seen under it; see
//! `rules/NOTICE-npa-data.md`). Both ship inside the binary and are replaced by a file of
//! the same name in `DATA_DIR` when one exists, so a rule can be corrected without a
//! release (restart to apply). A file that does not parse stops startup with its name and
//! the problem.

use crate::store::document::Invalid;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono_tz::Tz;
use serde::Deserialize;

use super::holidays::{calendar, HolidaySpec};
use super::window::{Day, Special, WeekRule, Window};
use crate::domain::PhoneNumber;

pub const RULES_FILE: &str = "state-rules.json";
pub const NPA_FILE: &str = "npa_tz.csv";
const BUILT_IN_RULES: &str = include_str!("../../rules/state-rules.json");
const BUILT_IN_NPA: &str = include_str!("../../rules/npa_tz_detail.csv");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowText {
    start: String,
    end: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DayText {
    Word(String),
    Window(WindowText),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateText {
    name: String,
    zones: Vec<String>,
    weekday: Option<DayText>,
    saturday: Option<DayText>,
    sunday: Option<DayText>,
    holidays: Option<DayText>,
    #[serde(default)]
    extra_holidays: Vec<HolidaySpec>,
    #[serde(default)]
    territory: bool,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    confidence: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesText {
    version: String,
    #[serde(default)]
    about: Option<String>,
    federal: WindowText,
    federal_holidays: Vec<HolidaySpec>,
    states: HashMap<String, StateText>,
}

/// A state (or territory): its zones and its rule.
#[derive(Debug, Clone)]
pub struct StateRule {
    pub code: String,
    pub zones: Vec<Tz>,
    pub rule: WeekRule,
}

/// Loaded rules and area codes.
#[derive(Debug)]
pub struct Rules {
    pub version: String,
    /// `built-in` or the path of the override file.
    pub source: String,
    pub npa_source: String,
    pub federal: WeekRule,
    pub federal_holidays: Arc<HashMap<chrono::NaiveDate, String>>,
    states: HashMap<String, StateRule>,
    names: HashMap<String, String>,
    npa: HashMap<u16, (String, Vec<Tz>)>,
    /// Every zone of the 50 states and DC, for the "unknown zone" opt-out.
    pub all_zones: Vec<Tz>,
}

fn zone(name: &str) -> Result<Tz, Invalid> {
    name.parse::<Tz>()
        .map_err(|_| Invalid(format!("`{name}` is not an IANA time zone")))
}

fn window(w: &WindowText) -> Result<Window, Invalid> {
    Window::parse(&w.start, &w.end)
}

/// A day rule: absent = no state limit (the federal window still applies).
fn day(text: &Option<DayText>) -> Result<Day, Invalid> {
    match text {
        None => Ok(Day::Open(Window {
            start: 0,
            end: 86400,
        })),
        Some(DayText::Word(w)) if w == "closed" => Ok(Day::Closed),
        Some(DayText::Word(w)) => Err(Invalid(format!(
            "`{w}` is not \"closed\" or {{start, end}}"
        ))),
        Some(DayText::Window(w)) => window(w).map(Day::Open),
    }
}

fn state_rule(
    code: &str,
    s: &StateText,
    federal: &Arc<HashMap<chrono::NaiveDate, String>>,
) -> Result<StateRule, Invalid> {
    let field = |f: &str, e: Invalid| Invalid(format!("states.{code}.{f}: {e}"));
    let weekday = day(&s.weekday).map_err(|e| field("weekday", e))?;
    let mut days = [weekday; 7];
    days[5] = day(&s.saturday).map_err(|e| field("saturday", e))?;
    days[6] = day(&s.sunday).map_err(|e| field("sunday", e))?;
    let mut special = Vec::new();
    match &s.holidays {
        None if !s.extra_holidays.is_empty() => {
            return Err(field(
                "extra_holidays",
                "needs `holidays` (closed or a window)".into(),
            ))
        }
        None => {}
        Some(_) => {
            let d = day(&s.holidays).map_err(|e| field("holidays", e))?;
            let mut dates = (**federal).clone();
            for (date, name) in
                calendar(&s.extra_holidays).map_err(|e| field("extra_holidays", e))?
            {
                dates.entry(date).or_insert(name);
            }
            special.push(Special {
                dates: Arc::new(dates),
                day: d,
            });
        }
    }
    let zones = s
        .zones
        .iter()
        .map(|z| zone(z))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| field("zones", e))?;
    if zones.is_empty() {
        return Err(field("zones", "name at least one zone".into()));
    }
    let _ = (&s.source, &s.confidence);
    Ok(StateRule {
        code: code.to_string(),
        zones,
        rule: WeekRule {
            name: format!("{code} calling window"),
            days,
            special,
        },
    })
}

fn parse_npa(text: &str) -> Result<HashMap<u16, (String, Vec<Tz>)>, Invalid> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let npa_col = col("npa").ok_or("no `npa` column")?;
    let state_col = col("state").ok_or("no `state` column")?;
    // The detail table lists every zone; the short one only the primary zone.
    let zones_col = col("iana_tz_all")
        .or_else(|| col("iana_tz"))
        .ok_or("no `iana_tz_all` or `iana_tz` column")?;
    let mut out = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| format!("line {line}: {e}"))?;
        let get = |c: usize| row.get(c).unwrap_or("").trim();
        let npa: u16 = get(npa_col)
            .parse()
            .map_err(|_| format!("line {line}: `{}` is not an area code", get(npa_col)))?;
        let zones = get(zones_col)
            .split('|')
            .map(|z| zone(z.trim()).map_err(|e| format!("line {line}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(npa, (get(state_col).to_ascii_uppercase(), zones));
    }
    Ok(out)
}

fn read_override(data_dir: &Path, name: &str) -> anyhow::Result<Option<String>> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

impl Rules {
    /// The built-in data, each file replaced by its copy in `data_dir` if there is one.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let (rules_text, source) = match read_override(data_dir, RULES_FILE)? {
            Some(t) => (t, data_dir.join(RULES_FILE).display().to_string()),
            None => (BUILT_IN_RULES.to_string(), "built-in".to_string()),
        };
        let (npa_text, npa_source) = match read_override(data_dir, NPA_FILE)? {
            Some(t) => (t, data_dir.join(NPA_FILE).display().to_string()),
            None => (BUILT_IN_NPA.to_string(), "built-in".to_string()),
        };
        let mut rules =
            Self::parse(&rules_text, &npa_text).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        rules.source = source;
        rules.npa_source = npa_source;
        Ok(rules)
    }

    /// The data shipped in the binary (checked by a unit test).
    pub fn built_in() -> anyhow::Result<Self> {
        Self::parse(BUILT_IN_RULES, BUILT_IN_NPA)
            .map_err(|e| anyhow::anyhow!("built-in rules: {e}"))
    }

    fn parse(rules: &str, npa: &str) -> Result<Self, Invalid> {
        let doc: RulesText = serde_json::from_str(rules).map_err(|e| e.to_string())?;
        let _ = &doc.about;
        let federal_window = window(&doc.federal).map_err(|e| format!("federal: {e}"))?;
        let federal_holidays = Arc::new(
            calendar(&doc.federal_holidays).map_err(|e| format!("federal_holidays: {e}"))?,
        );
        let mut states = HashMap::new();
        let mut names = HashMap::new();
        let mut all_zones: Vec<Tz> = Vec::new();
        for (code, s) in &doc.states {
            let code = code.to_ascii_uppercase();
            let rule = state_rule(&code, s, &federal_holidays)?;
            for z in rule.zones.iter().filter(|_| !s.territory) {
                if !all_zones.contains(z) {
                    all_zones.push(*z);
                }
            }
            names.insert(s.name.to_ascii_lowercase(), code.clone());
            names.insert(code.to_ascii_lowercase(), code.clone());
            states.insert(code, rule);
        }
        all_zones.sort_by_key(|z| z.name());
        Ok(Self {
            version: doc.version,
            source: "built-in".into(),
            npa_source: "built-in".into(),
            federal: WeekRule {
                name: "federal calling window".into(),
                days: [Day::Open(federal_window); 7],
                special: Vec::new(),
            },
            federal_holidays,
            states,
            names,
            npa: parse_npa(npa).map_err(|e| format!("{NPA_FILE}: {e}"))?,
            all_zones,
        })
    }

    /// A state by code (`TX`) or name (`texas`), case-insensitive.
    pub fn state(&self, text: &str) -> Option<&StateRule> {
        let code = self.names.get(&text.trim().to_ascii_lowercase())?;
        self.states.get(code)
    }

    /// The area code's state (or province) and zones.
    pub fn area_code(&self, npa: &str) -> Option<(&str, &[Tz])> {
        let n: u16 = npa.parse().ok()?;
        self.npa.get(&n).map(|(s, z)| (s.as_str(), z.as_slice()))
    }

    /// The states a lead is in, as codes: the one its first present state field names,
    /// then the one its area code belongs to (once each).
    pub fn lead_states<'a>(
        &'a self,
        state_fields: &[String],
        lead: &crate::domain::Lead,
    ) -> Vec<&'a str> {
        let own = state_fields
            .iter()
            .find_map(|f| lead.fields.get(f).and_then(|v| v.as_str()))
            .and_then(|s| self.state(s))
            .map(|s| s.code.as_str());
        let area = lead
            .phone
            .area_code()
            .and_then(|npa| self.area_code(npa))
            .map(|(s, _)| s);
        let mut states: Vec<&str> = [own, area].into_iter().flatten().collect();
        states.dedup();
        states
    }

    pub fn area_codes(&self) -> usize {
        self.npa.len()
    }
}

/// Where the called party may be: every candidate zone and every state whose rules apply.
#[derive(Debug, Default, Clone)]
pub struct Place<'a> {
    pub zones: Vec<Tz>,
    pub states: Vec<&'a StateRule>,
    /// What was looked at, for the reason when nothing was found.
    pub notes: Vec<String>,
}

impl Rules {
    /// Candidates from the lead's state field and from the phone's area code.
    pub fn place<'a>(&'a self, state: Option<&str>, phone: &PhoneNumber) -> Place<'a> {
        let mut place = Place::default();
        let add = |zones: &[Tz], code: &str, place: &mut Place<'a>| {
            for z in zones {
                if !place.zones.contains(z) {
                    place.zones.push(*z);
                }
            }
            if let Some(rule) = self.states.get(code) {
                if !place.states.iter().any(|s| s.code == code) {
                    place.states.push(rule);
                }
            }
        };
        match state.filter(|s| !s.trim().is_empty()) {
            None => place.notes.push("the lead has no state".into()),
            Some(text) => match self.state(text) {
                Some(rule) => add(&rule.zones, &rule.code, &mut place),
                None => place.notes.push(format!("state `{text}` is not known")),
            },
        }
        match phone.area_code() {
            None if !phone.is_nanp() => place
                .notes
                .push(format!("{} is not a NANP number", phone.as_str())),
            None => place.notes.push("the number has no area code".into()),
            Some(npa) => match self.area_code(npa) {
                Some((code, zones)) => add(zones, code, &mut place),
                None => place
                    .notes
                    .push(format!("area code {npa} is not in the area-code table")),
            },
        }
        place
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
