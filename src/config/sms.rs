//! `[sms]`: texts. What inbound texts are read for:
//!
//! | key | environment | default |
//! |---|---|---|
//! | `opt_out_words` | `SMS_OPT_OUT_WORDS` | the CTIA set: `STOP,STOPALL,UNSUBSCRIBE,CANCEL,END,QUIT,REVOKE,OPTOUT` |
//! | `callback_words` | `SMS_CALLBACK_WORDS` | `YES,CALL ME,CALL` |
//! | `opt_out_confirmation` | `SMS_OPT_OUT_CONFIRMATION` | [`OPT_OUT_CONFIRMATION`] (`none`: no confirmation) |
//!
//! Words and phrases, comma-separated (a TOML array in the file), matched as whole words
//! in any case ([`crate::sms::words`]). Text follow-ups after unanswered calls:
//!
//! | key | environment | default |
//! |---|---|---|
//! | `enabled` | `SMS_ENABLED` | false |
//! | `from` | `SMS_FROM` | unset: the caller-ID pool's number for the lead, else `BLAND_FROM`'s first |
//! | `triggers` | `SMS_TRIGGERS` | `voicemail,no_answer` |
//! | `day_gaps` | `SMS_DAY_GAPS` | `0,1,3,7` (days after the call; at most 4) |
//! | `messages` | `SMS_MESSAGES` | none (`|`-separated; one per day gap, at most 4) |
//! | `max_per_day` | `SMS_MAX_PER_DAY` | 1 (texts to one number per local day) |
//! | `start`, `end` | `SMS_START`, `SMS_END` | `08:00`, `21:00` (the recipient's local time; the state rules apply too) |
//! | `days` | `SMS_DAYS` | `mon,tue,wed,thu,fri,sat` |

use super::{flag, parse_list, positive, ConfigError, Settings};

/// The CTIA opt-out words, and the two carriers also honour.
pub const OPT_OUT_WORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
/// Replies that ask for a call.
pub const CALLBACK_WORDS: [&str; 3] = ["YES", "CALL ME", "CALL"];

#[derive(Debug, Clone, PartialEq)]
pub struct SmsSettings {
    pub opt_out_words: Vec<String>,
    pub callback_words: Vec<String>,
    /// The one text that confirms an opt-out; empty: none.
    pub opt_out_confirmation: String,
    pub enabled: bool,
    pub from: Option<String>,
    /// Outcome names (`journal::Outcome::as_str`).
    pub triggers: Vec<String>,
    pub day_gaps: Vec<u32>,
    pub messages: Vec<String>,
    pub max_per_day: u32,
    /// Seconds after local midnight.
    pub start: u32,
    pub end: u32,
    /// Monday first.
    pub days: [bool; 7],
}

/// The outcomes a sequence may follow (`journal::Outcome`'s names).
const OUTCOMES: [&str; 6] = [
    "human",
    "voicemail",
    "no_answer",
    "busy",
    "transferred",
    "failed",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `HH:MM` (00:00 … 24:00) as seconds after midnight.
fn hhmm(v: &str) -> Option<u32> {
    let (h, m) = v.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 || h == 24 && m == 0).then_some(h * 3600 + m * 60)
}

/// The default confirmation of an opt-out (one text, within minutes, as the FCC allows).
pub const OPT_OUT_CONFIRMATION: &str = "You are unsubscribed and will get no more texts from us.";

/// At most this many texts in a sequence.
pub const MAX_MESSAGES: usize = 4;

impl Default for SmsSettings {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Self {
            opt_out_words: own(&OPT_OUT_WORDS),
            callback_words: own(&CALLBACK_WORDS),
            opt_out_confirmation: OPT_OUT_CONFIRMATION.into(),
            enabled: false,
            from: None,
            triggers: vec!["voicemail".into(), "no_answer".into()],
            day_gaps: vec![0, 1, 3, 7],
            messages: Vec::new(),
            max_per_day: 1,
            start: 8 * 3600,
            end: 21 * 3600,
            days: [true, true, true, true, true, true, false],
        }
    }
}

impl Settings {
    pub(super) fn read_sms<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        if let Some((v, origin)) = get("SMS_OPT_OUT_WORDS") {
            self.sms.opt_out_words = parse_list(v);
            if self.sms.opt_out_words.is_empty() {
                return Err(ConfigError::new(
                    origin,
                    "name at least one opt-out word: texts must be able to opt out",
                ));
            }
        }
        if let Some((v, _)) = get("SMS_CALLBACK_WORDS") {
            self.sms.callback_words = parse_list(v);
        }
        if let Some((v, _)) = get("SMS_OPT_OUT_CONFIRMATION") {
            self.sms.opt_out_confirmation = if v.eq_ignore_ascii_case("none") {
                String::new()
            } else {
                v.to_string()
            };
        }
        self.read_sequences(get)
    }

    fn read_sequences<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let s = &mut self.sms;
        s.enabled = flag(get, "SMS_ENABLED", false)?;
        s.from = super::text(get, "SMS_FROM");
        if let Some((v, origin)) = get("SMS_TRIGGERS") {
            s.triggers = parse_list(v)
                .iter()
                .map(|t| {
                    let t = t.to_ascii_lowercase();
                    OUTCOMES
                        .contains(&t.as_str())
                        .then_some(t.clone())
                        .ok_or_else(|| {
                            ConfigError::new(
                                origin,
                                format!("`{t}` is not an outcome ({})", OUTCOMES.join(", ")),
                            )
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some((v, origin)) = get("SMS_DAY_GAPS") {
            s.day_gaps = parse_list(v)
                .iter()
                .map(|d| {
                    d.parse::<u32>().map_err(|_| {
                        ConfigError::new(origin, format!("`{d}` is not a whole number of days"))
                    })
                })
                .collect::<Result<_, _>>()?;
            if s.day_gaps.is_empty()
                || s.day_gaps.len() > MAX_MESSAGES
                || s.day_gaps.windows(2).any(|w| w[0] > w[1])
            {
                return Err(ConfigError::new(
                    origin,
                    format!("give 1 to {MAX_MESSAGES} day gaps in increasing order"),
                ));
            }
        }
        if let Some((v, origin)) = get("SMS_MESSAGES") {
            s.messages = v
                .split('|')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            if s.messages.len() > MAX_MESSAGES {
                return Err(ConfigError::new(
                    origin,
                    format!("at most {MAX_MESSAGES} messages"),
                ));
            }
        }
        self.read_window(get)?;
        self.sms.check()
    }

    /// The texts' hours and days, and the daily cap.
    fn read_window<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let s = &mut self.sms;
        if let Some(n) = positive(get, "SMS_MAX_PER_DAY")? {
            s.max_per_day = u32::try_from(n).unwrap_or(u32::MAX);
        }
        for (var, slot) in [("SMS_START", &mut s.start), ("SMS_END", &mut s.end)] {
            if let Some((v, origin)) = get(var) {
                *slot = hhmm(v).ok_or_else(|| {
                    ConfigError::new(origin, format!("`{v}` is not a time (HH:MM)"))
                })?;
            }
        }
        if let Some((v, origin)) = get("SMS_DAYS") {
            let mut days = [false; 7];
            for d in parse_list(v) {
                let i = DAYS
                    .iter()
                    .position(|w| w.eq_ignore_ascii_case(&d))
                    .ok_or_else(|| {
                        ConfigError::new(origin, format!("`{d}` is not a day (mon … sun)"))
                    })?;
                days[i] = true;
            }
            s.days = days;
        }
        Ok(())
    }
}

impl SmsSettings {
    /// What no single setting shows: the window's order, messages for a sequence.
    fn check(&self) -> Result<(), ConfigError> {
        let s = self;
        if s.start >= s.end {
            return Err(ConfigError::new("SMS_START", "must be before SMS_END"));
        }
        if s.enabled && s.messages.is_empty() {
            return Err(ConfigError::new(
                "SMS_MESSAGES",
                "SMS_ENABLED needs at least one message",
            ));
        }
        if s.messages.len() > s.day_gaps.len() {
            return Err(ConfigError::new(
                "SMS_MESSAGES",
                format!(
                    "{} messages but {} day gaps: give a gap for each",
                    s.messages.len(),
                    s.day_gaps.len()
                ),
            ));
        }
        Ok(())
    }
}
