//! The service's own settings: where it listens and keeps its data, who may administer
//! it, its clock and country, its logs, and its limits.

use std::path::PathBuf;
use std::str::FromStr;

use chrono_tz::Tz;

use super::{parse_positive, ConfigError, LogFormat, Secret, Settings};

impl Settings {
    /// Address, data directory, database, admin keys, timezone, country, logging.
    pub(super) fn read_service<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        if let Some((v, _)) = get("HOST") {
            self.host = v.to_string();
        }
        if let Some((v, origin)) = get("PORT") {
            self.port = v
                .parse()
                .map_err(|_| ConfigError::new(origin, format!("`{v}` is not a port (0-65535)")))?;
        }
        if let Some((v, _)) = get("DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some((v, origin)) = get("DATABASE_URL") {
            if !(v.starts_with("postgres://") || v.starts_with("postgresql://")) {
                return Err(ConfigError::new(
                    origin,
                    "must be a PostgreSQL URL (postgres://user@host:port/database)",
                ));
            }
            self.database_url = Some(Secret::new(v));
        }
        if let Some((v, origin)) = get("DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = parse_positive(v, origin)?.min(1000) as u32;
        }
        if let Some((v, _)) = get("ADMIN_API_KEY") {
            self.admin_api_keys = v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(Secret::new)
                .collect();
        }
        if let Some((v, origin)) = get("TIMEZONE") {
            self.timezone = Tz::from_str(v).map_err(|_| {
                ConfigError::new(
                    origin,
                    format!("unknown timezone `{v}` (use an IANA name such as America/New_York)"),
                )
            })?;
        }
        if let Some((v, origin)) = get("DEFAULT_COUNTRY") {
            let upper = v.to_ascii_uppercase();
            if upper.len() != 2 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError::new(
                    origin,
                    format!("`{v}` is not a two-letter country code"),
                ));
            }
            if crate::domain::phone::country_calling_code(&upper).is_none() {
                return Err(ConfigError::new(origin, format!("unknown country `{v}`")));
            }
            self.default_country = upper;
        }
        if let Some((v, origin)) = get("LOG_FORMAT") {
            self.log_format = match v.to_ascii_lowercase().as_str() {
                "pretty" | "text" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::new(
                        origin,
                        format!("`{v}` is not `pretty` or `json`"),
                    ))
                }
            };
        }
        if let Some((v, origin)) = get("RUST_LOG") {
            tracing_subscriber::EnvFilter::try_new(v)
                .map_err(|e| ConfigError::new(origin, format!("`{v}` is not a log filter: {e}")))?;
            self.log_level = v.to_string();
        }
        Ok(())
    }

    /// Request body size and time, shutdown, workers, retention, flag-log compaction.
    pub(super) fn read_limits<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        if let Some((v, origin)) = get("MAX_BODY_BYTES") {
            self.max_body_bytes = parse_positive(v, origin)? as usize;
        }
        if let Some((v, origin)) = get("SHUTDOWN_TIMEOUT_SECS") {
            self.shutdown_timeout_secs = v.parse().map_err(|_| {
                ConfigError::new(origin, format!("`{v}` is not a number of seconds"))
            })?;
        }
        if let Some((v, origin)) = get("BODY_TIMEOUT_SECS") {
            self.body_timeout_secs = parse_positive(v, origin)?;
        }
        if let Some((v, origin)) = get("WORKERS") {
            self.workers = v.parse().map_err(|_| {
                ConfigError::new(origin, format!("`{v}` is not a number of workers"))
            })?;
        }
        if let Some((v, origin)) = get("RETENTION_DAYS") {
            self.retention_days = v.parse().map_err(|_| {
                ConfigError::new(
                    origin,
                    format!("`{v}` is not a number of days (0 keeps everything)"),
                )
            })?;
        }
        if let Some((v, origin)) = get("BLOCKLIST_COMPACT_AFTER") {
            self.blocklist_compact_after = parse_positive(v, origin)? as usize;
        }
        Ok(())
    }
}
