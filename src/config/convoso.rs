//! `[convoso]`: writing call outcomes back to the lead in Convoso, and do-not-call requests.
//!
//! | TOML key (`[convoso]`) | environment | default |
//! |---|---|---|
//! | `api_url` | `CONVOSO_API_URL` | `https://api.convoso.com` |
//! | `auth_token` | `CONVOSO_AUTH_TOKEN` | unset: dry-run (what would be sent is logged) |
//! | `status_map` | `CONVOSO_STATUS_MAP` | see [`DEFAULT_STATUS`] (`outcome=STATUS`, comma-separated; overrides by key) |
//! | `transcript_max_chars` | `CONVOSO_TRANSCRIPT_MAX_CHARS` | 4000 |
//! | `write_blocked_stages` | `CONVOSO_WRITE_BLOCKED_STAGES` | none (blocks are not written back) |
//! | `dnc_tags` | `CONVOSO_DNC_TAGS` | `do_not_call,dnc,stop` |
//! | `dnc_statuses` | `CONVOSO_DNC_STATUSES` | `DNC` |
//! | `push_dnc` | `CONVOSO_PUSH_DNC` | false |
//! | `dnc_campaign_id` | `CONVOSO_DNC_CAMPAIGN_ID` | 0 (global) |
//! | `max_attempts` | `CONVOSO_MAX_ATTEMPTS` | 10 |
//! | `retry_base_ms` | `CONVOSO_RETRY_BASE_MS` | 2000 (doubling, at most 10 minutes apart) |
//! | `timeout_secs` | `CONVOSO_TIMEOUT_SECS` | 15 |

use std::collections::BTreeMap;

use super::{parse_flag, parse_list, positive, ConfigError, Secret, Settings};

/// The outcome → Convoso status table, the Node version's defaults. `human` is a human
/// answer with no tag that says more; `not_interested`, `callback` and `do_not_call` are
/// read from the call's tags; `blocked` is a lead blocked by a chosen stage.
pub const DEFAULT_STATUS: [(&str, &str); 10] = [
    ("transferred", "ACA"),
    ("voicemail", "A"),
    ("no_answer", "NA"),
    ("busy", "B"),
    ("failed", "N"),
    ("not_interested", "NI"),
    ("callback", "CB"),
    ("human", "CD"),
    ("do_not_call", "DNC"),
    ("blocked", "BLOCK"),
];

#[derive(Debug, Clone)]
pub struct ConvosoSettings {
    pub api_url: String,
    /// `None` = dry-run.
    pub auth_token: Option<Secret>,
    pub status: BTreeMap<String, String>,
    pub transcript_max_chars: usize,
    /// Stages whose blocks are written back (`schedule`, `answering_machine`,
    /// `protection`, `blocklist`).
    pub write_blocked_stages: Vec<String>,
    /// Tags (normalised: lower case, spaces and hyphens as `_`) that mean do-not-call.
    pub dnc_tags: Vec<String>,
    /// Statuses we write that mean do-not-call.
    pub dnc_statuses: Vec<String>,
    pub push_dnc: bool,
    pub dnc_campaign_id: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub timeout_secs: u64,
}

impl Default for ConvosoSettings {
    fn default() -> Self {
        Self {
            api_url: "https://api.convoso.com".into(),
            auth_token: None,
            status: DEFAULT_STATUS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            transcript_max_chars: 4000,
            write_blocked_stages: Vec::new(),
            dnc_tags: vec!["do_not_call".into(), "dnc".into(), "stop".into()],
            dnc_statuses: vec!["DNC".into()],
            push_dnc: false,
            dnc_campaign_id: 0,
            max_attempts: 10,
            retry_base_ms: 2000,
            timeout_secs: 15,
        }
    }
}

impl ConvosoSettings {
    /// The status for `key` (an outcome, or `not_interested`, `callback`, `do_not_call`,
    /// `human`, `blocked`).
    pub fn status_for(&self, key: &str) -> String {
        self.status.get(key).cloned().unwrap_or_else(|| "N".into())
    }

    /// True when a call's tag means do-not-call (whole tags, never substrings).
    pub fn is_dnc_tag(&self, tag: &str) -> bool {
        let t = normalise_tag(tag);
        self.dnc_tags.contains(&t)
    }
}

/// `Do Not Call`, `do-not-call` → `do_not_call`.
pub fn normalise_tag(tag: &str) -> String {
    tag.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

/// `[redial]`: unanswered leads called again through the deferred queue.
///
/// | TOML key (`[redial]`) | environment | default |
/// |---|---|---|
/// | `enabled` | `REDIAL_ENABLED` | false |
/// | `intervals_minutes` | `REDIAL_INTERVALS_MINUTES` | `30,60,120,240` (the last repeats) |
/// | `max_redials` | `REDIAL_MAX` | 6 |
#[derive(Debug, Clone)]
pub struct RedialSettings {
    pub enabled: bool,
    pub intervals_minutes: Vec<u32>,
    pub max_redials: u32,
}

impl Default for RedialSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            intervals_minutes: vec![30, 60, 120, 240],
            max_redials: 6,
        }
    }
}

impl RedialSettings {
    /// Minutes before redial `n` (from 1): the `n`-th interval, the last one repeating.
    pub fn interval(&self, n: u32) -> u32 {
        let i = (n.max(1) - 1) as usize;
        self.intervals_minutes
            .get(i)
            .or(self.intervals_minutes.last())
            .copied()
            .unwrap_or(30)
    }
}

const STAGES: [&str; 4] = ["schedule", "answering_machine", "protection", "blocklist"];

impl Settings {
    pub(super) fn read_convoso<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let c = &mut self.convoso;
        if let Some((v, origin)) = get("CONVOSO_API_URL") {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(ConfigError::new(
                    origin,
                    "must be an http:// or https:// URL",
                ));
            }
            c.api_url = v.trim_end_matches('/').to_string();
        }
        c.auth_token = get("CONVOSO_AUTH_TOKEN")
            .map(|(v, _)| v.trim())
            .filter(|v| !v.is_empty())
            .map(Secret::new);
        if let Some((v, origin)) = get("CONVOSO_STATUS_MAP") {
            read_status_map(&mut c.status, v, origin)?;
        }
        if let Some(n) = positive(get, "CONVOSO_TRANSCRIPT_MAX_CHARS")? {
            c.transcript_max_chars = n.min(1_000_000) as usize;
        }
        if let Some(n) = positive(get, "CONVOSO_MAX_ATTEMPTS")? {
            c.max_attempts = n.min(1000) as u32;
        }
        if let Some(n) = positive(get, "CONVOSO_RETRY_BASE_MS")? {
            c.retry_base_ms = n;
        }
        if let Some(n) = positive(get, "CONVOSO_TIMEOUT_SECS")? {
            c.timeout_secs = n.min(600);
        }
        self.read_convoso_dnc(get)?;
        self.read_redial(get)
    }

    /// Which blocks are written back, and how do-not-call is told and pushed.
    fn read_convoso_dnc<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let list = parse_list;
        let c = &mut self.convoso;
        if let Some((v, origin)) = get("CONVOSO_WRITE_BLOCKED_STAGES") {
            let stages = list(v);
            if let Some(bad) = stages.iter().find(|s| !STAGES.contains(&s.as_str())) {
                return Err(ConfigError::new(
                    origin,
                    format!("`{bad}` is not one of {}", STAGES.join(", ")),
                ));
            }
            c.write_blocked_stages = stages;
        }
        if let Some((v, _)) = get("CONVOSO_DNC_TAGS") {
            c.dnc_tags = list(v).iter().map(|t| normalise_tag(t)).collect();
        }
        if let Some((v, _)) = get("CONVOSO_DNC_STATUSES") {
            c.dnc_statuses = list(v).iter().map(|s| s.to_ascii_uppercase()).collect();
        }
        if let Some((v, origin)) = get("CONVOSO_PUSH_DNC") {
            c.push_dnc = parse_flag(v, origin)?;
        }
        if let Some((v, origin)) = get("CONVOSO_DNC_CAMPAIGN_ID") {
            c.dnc_campaign_id = v
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(origin, format!("`{v}` is not a whole number")))?;
        }
        Ok(())
    }

    /// Redials after an unanswered call.
    fn read_redial<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let list = parse_list;
        let r = &mut self.redial;
        if let Some((v, origin)) = get("REDIAL_ENABLED") {
            r.enabled = parse_flag(v, origin)?;
        }
        if let Some((v, origin)) = get("REDIAL_INTERVALS_MINUTES") {
            let parsed: Result<Vec<u32>, _> = list(v).iter().map(|m| m.parse::<u32>()).collect();
            match parsed {
                Ok(m) if !m.is_empty() && m.iter().all(|x| (1..=10_080).contains(x)) => {
                    r.intervals_minutes = m
                }
                _ => {
                    return Err(ConfigError::new(
                        origin,
                        format!("`{v}` is not a list of minutes, each 1 to 10080"),
                    ))
                }
            }
        }
        if let Some(n) = positive(get, "REDIAL_MAX")? {
            r.max_redials = n.min(100) as u32;
        }
        Ok(())
    }
}

/// `CONVOSO_STATUS_MAP`: `outcome=STATUS` pairs over the defaults.
fn read_status_map(
    status: &mut std::collections::BTreeMap<String, String>,
    v: &str,
    origin: &str,
) -> Result<(), ConfigError> {
    for pair in parse_list(v) {
        let Some((k, s)) = pair.split_once('=') else {
            return Err(ConfigError::new(
                origin,
                format!("`{pair}` is not outcome=STATUS"),
            ));
        };
        let (k, s) = (k.trim().to_ascii_lowercase(), s.trim());
        if !DEFAULT_STATUS.iter().any(|(d, _)| *d == k) || s.is_empty() {
            let keys: Vec<&str> = DEFAULT_STATUS.iter().map(|(d, _)| *d).collect();
            return Err(ConfigError::new(
                origin,
                format!(
                    "`{pair}`: the outcome must be one of {} and the status not empty",
                    keys.join(", ")
                ),
            ));
        }
        status.insert(k, s.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(Some(std::path::Path::new("/dev/null")), &|k| {
            env.get(k).cloned()
        })
    }

    #[test]
    fn defaults_overrides_and_errors_naming_the_variable() {
        let s = load(&[]).expect("defaults");
        assert_eq!(s.convoso.status_for("transferred"), "ACA");
        assert_eq!(s.convoso.status_for("human"), "CD");
        assert!(s.convoso.auth_token.is_none());
        assert!(s.convoso.is_dnc_tag("Do Not Call"));
        assert!(!s.convoso.is_dnc_tag("stopped"), "whole tags only");
        let s = load(&[("CONVOSO_STATUS_MAP", "human=HU, voicemail=AM")]).expect("map");
        assert_eq!(
            (
                s.convoso.status_for("human"),
                s.convoso.status_for("voicemail")
            ),
            ("HU".into(), "AM".into())
        );
        assert_eq!(
            s.convoso.status_for("busy"),
            "B",
            "others keep their default"
        );
        let e = load(&[("CONVOSO_STATUS_MAP", "happy=H")]).expect_err("unknown outcome");
        assert_eq!(e.setting, "CONVOSO_STATUS_MAP");
        let e = load(&[("CONVOSO_WRITE_BLOCKED_STAGES", "blocklist,lunch")]).expect_err("stage");
        assert!(e.message.contains("lunch"), "{e}");
        let e = load(&[("CONVOSO_API_URL", "ftp://x")]).expect_err("url");
        assert_eq!(e.setting, "CONVOSO_API_URL");
        let s = load(&[("REDIAL_INTERVALS_MINUTES", "5, 10")]).expect("intervals");
        assert_eq!(
            (
                s.redial.interval(1),
                s.redial.interval(2),
                s.redial.interval(7)
            ),
            (5, 10, 10)
        );
        assert!(!s.redial.enabled, "off by default");
        let e = load(&[("REDIAL_INTERVALS_MINUTES", "0")]).expect_err("zero");
        assert_eq!(e.setting, "REDIAL_INTERVALS_MINUTES");
    }
}
