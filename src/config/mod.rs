//! Settings: built-in defaults → optional TOML file → environment, then validated.
//!
//! Every scalar setting has one TOML key and one environment variable (see [`SETTINGS`]);
//! an invalid value is reported with the name the operator used (the env var, or the TOML
//! key and file). Secrets are wrapped in [`Secret`] so they never reach a log or a `Debug`.
//! This module reads the environment only through the `env` function it is given.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;

/// Default request body limit: 256 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

pub use keys::SETTINGS;

/// A configuration problem, naming the setting as the operator wrote it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct BlandSettings {
    /// `None` means dry-run: calls are logged, never sent.
    pub api_key: Option<Secret>,
    pub api_url: String,
    /// Secrets for `X-Webhook-Signature` on completion webhooks (two during rotation).
    pub webhook_secrets: Vec<Secret>,
    pub pathway_id: Option<String>,
    pub task: Option<String>,
    /// Caller ids, used round-robin.
    pub from: Vec<String>,
    pub voice: Option<String>,
    pub first_sentence: Option<String>,
    /// Minutes.
    pub max_duration: u32,
    pub record: bool,
    pub wait_for_greeting: bool,
    pub voicemail_message: Option<String>,
    pub voicemail_action: String,
    pub max_calls_per_second: f64,
    pub max_concurrent: usize,
    /// Bland's plan limits: tries started per clock hour and per business day, for the
    /// whole deployment (`None`: no limit).
    pub max_calls_per_hour: Option<u32>,
    pub max_calls_per_day: Option<u32>,
    pub timeout_secs: u64,
    /// Tries per call, counting the first, for failures Bland certainly did not take.
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    /// How long failures Bland certainly did not take are retried, from the first try.
    pub retry_budget_secs: u64,
    /// An `unconfirmed` call Bland's call list has not shown this long after its send is
    /// certainly absent.
    pub reconcile_after_minutes: u32,
    /// Resend a certainly absent unconfirmed call (same request id); off: it waits for an
    /// admin, as before.
    pub auto_resend_unconfirmed: bool,
    /// How often unconfirmed calls are looked up at Bland.
    pub reconcile_every_secs: u64,
    /// Extra body fields from the config file's `[bland.call]` table.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Validated settings for one server.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Accepted admin keys; several allow rotation without downtime. Empty = admin API off.
    pub admin_api_keys: Vec<Secret>,
    /// The business timezone: daily files, statistics and "today" use its dates.
    pub timezone: Tz,
    /// ISO 3166 country for phone numbers written without a country code.
    pub default_country: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub max_body_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// How long a request body may take to arrive, whole (slow bodies answer 408).
    pub body_timeout_secs: u64,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Daily journal files older than this many days are removed; 0 keeps everything.
    pub retention_days: u32,
    /// Fold the blocklist change log into the JSON file after this many records.
    pub blocklist_compact_after: usize,
    pub bland: BlandSettings,
    /// Required on lead webhooks when set (`X-Webhook-Token` or `?token=`).
    pub webhook_token: Option<Secret>,
    /// Our public URL; when set, Bland is told to post completions to `…/webhooks/bland`.
    pub public_base_url: Option<String>,
    pub lead_fields: crate::domain::LeadFieldNames,
    /// Deferred leads released per round, and the most accepted-but-unsent calls allowed to
    /// wait in the outbox before the next round (so a 09:00 backlog follows Bland's pace).
    pub release_batch: usize,
    /// `[content]`: blocked words and the lead fields screened for them.
    pub content: ContentSettings,
    /// `[[feeds]]`: remote number and word lists.
    pub feeds: Vec<FeedSettings>,
    /// `[[lists]]`: do-not-call lists, checked by the blocklist stage.
    pub lists: Vec<lists::ListSettings>,
    /// `DATABASE_URL` (`[database] url`): state in PostgreSQL, shared by every instance on
    /// it. `None` = the file backend in `DATA_DIR`.
    pub database_url: Option<Secret>,
    /// `DATABASE_MAX_CONNECTIONS` (`[database] max_connections`): the pool's size.
    pub database_max_connections: u32,
    /// `[convoso]`: outcomes written back to the lead, do-not-call requests.
    pub convoso: convoso::ConvosoSettings,
    /// `[redial]`: unanswered leads called again.
    pub redial: convoso::RedialSettings,
    /// `[sms]`: what inbound texts are read for.
    pub sms: sms::SmsSettings,
    /// `[[caller_ids]]` (each table with its `number`) and `[caller_id_pool]`: the
    /// caller-ID pool document's default, checked when the pool opens.
    pub caller_ids: Vec<serde_json::Value>,
    pub caller_id_pool: serde_json::Map<String, serde_json::Value>,
    /// Where the values came from (for the startup log line).
    pub config_file: Option<PathBuf>,
}

impl Settings {
    /// Defaults, suitable for tests: every field then overridden as needed.
    pub fn defaults() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 3000,
            data_dir: PathBuf::from("./data"),
            admin_api_keys: Vec::new(),
            timezone: chrono_tz::America::New_York,
            default_country: "US".into(),
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_timeout_secs: 30,
            body_timeout_secs: 30,
            workers: 0,
            retention_days: 365,
            blocklist_compact_after: 10_000,
            release_batch: 100,
            bland: BlandSettings {
                api_key: None,
                api_url: "https://api.bland.ai".into(),
                webhook_secrets: Vec::new(),
                pathway_id: None,
                task: None,
                from: Vec::new(),
                voice: None,
                first_sentence: None,
                max_duration: 30,
                record: false,
                wait_for_greeting: false,
                voicemail_message: None,
                voicemail_action: "leave_message".into(),
                max_calls_per_second: 5.0,
                max_concurrent: 10,
                max_calls_per_hour: None,
                max_calls_per_day: None,
                timeout_secs: 30,
                max_attempts: 100,
                retry_base_ms: 500,
                retry_budget_secs: 900,
                reconcile_after_minutes: 10,
                auto_resend_unconfirmed: false,
                reconcile_every_secs: 30,
                extra: serde_json::Map::new(),
            },
            webhook_token: None,
            public_base_url: None,
            lead_fields: crate::domain::LeadFieldNames::default(),
            content: ContentSettings::default(),
            feeds: Vec::new(),
            lists: Vec::new(),
            database_url: None,
            database_max_connections: 16,
            convoso: convoso::ConvosoSettings::default(),
            redial: convoso::RedialSettings::default(),
            sms: sms::SmsSettings::default(),
            caller_ids: Vec::new(),
            caller_id_pool: serde_json::Map::new(),
            config_file: None,
        }
    }

    /// Loads settings. `config_path` is `--config`; when `None`, `CALLGATE_CONFIG` (from
    /// `env`) or else `./callgate.toml` if it exists. `env` reads one environment variable.
    pub fn load(
        config_path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let explicit = config_path
            .map(Path::to_path_buf)
            .or_else(|| non_empty(env("CALLGATE_CONFIG")).map(PathBuf::from));
        let file = match explicit {
            Some(path) => Some(path),
            None => Some(PathBuf::from("callgate.toml")).filter(|p| p.is_file()),
        };
        let mut raw: HashMap<&'static str, (String, String)> = HashMap::new();
        let mut tables = file::Tables::default();
        if let Some(path) = &file {
            tables = file::read_file(path, &mut raw)?;
        }
        for (_, var) in SETTINGS {
            if let Some(value) = non_empty(env(var)) {
                raw.insert(var, (value, (*var).to_string()));
            }
        }
        let mut settings = Self::from_raw(&raw)?;
        settings.bland.extra = tables.bland_call;
        settings.content = tables.content;
        settings.feeds = tables.feeds;
        settings.lists = tables.lists;
        settings.caller_ids = tables.caller_ids;
        settings.caller_id_pool = tables.caller_id_pool;
        settings.config_file = file;
        Ok(settings)
    }

    fn from_raw(raw: &HashMap<&'static str, (String, String)>) -> Result<Self, ConfigError> {
        let mut s = Self::defaults();
        let get = |var: &str| raw.get(var).map(|(v, origin)| (v.trim(), origin.as_str()));
        s.read_service(&get)?;
        s.read_limits(&get)?;
        s.read_bland(&get)?;
        s.read_integration(&get)?;
        s.read_convoso(&get)?;
        s.read_sms(&get)?;
        s.validate()?;
        Ok(s)
    }

    /// Checks that do not depend on the source of a value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.host.is_empty() {
            return Err(ConfigError::new("HOST", "must not be empty"));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("DATA_DIR", "must not be empty"));
        }
        Ok(())
    }

    /// `true` when no Bland key is configured: calls are logged, not placed.
    pub fn dry_run(&self) -> bool {
        self.bland.api_key.is_none()
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A comma-separated list, items trimmed, empty ones dropped.
fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`, any case.
fn parse_flag(v: &str, origin: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            origin,
            format!("`{v}` is not true or false"),
        )),
    }
}

/// `var` as text, when set and not empty.
fn text<'a>(get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>, var: &str) -> Option<String> {
    get(var)
        .map(|(v, _)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// `var` as true or false ([`parse_flag`]), `default` when not set.
fn flag<'a>(
    get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    var: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    get(var).map_or(Ok(default), |(v, origin)| parse_flag(v, origin))
}

/// `var` as a positive whole number, when set.
fn positive<'a>(
    get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    var: &str,
) -> Result<Option<u64>, ConfigError> {
    get(var)
        .map(|(v, origin)| parse_positive(v, origin))
        .transpose()
}

fn parse_positive(v: &str, origin: &str) -> Result<u64, ConfigError> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::new(
            origin,
            format!("`{v}` is not a positive whole number"),
        )),
    }
}

mod bland;
pub mod convoso;
mod file;
mod integration;
mod keys;
pub mod lists;
mod service;
pub mod sms;
pub mod tables;

pub use tables::{ContentSettings, FeedFormat, FeedKind, FeedSettings};

#[cfg(test)]
mod tests;
