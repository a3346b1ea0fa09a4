//! Bland's settings: the API and its key, the webhook secrets, and how calls are placed,
//! paced, retried and reconciled.

use super::{flag, parse_list, positive, text, ConfigError, Secret, Settings};

impl Settings {
    /// Bland's API, its webhook secrets, the call settings, pacing, retries, reconciliation.
    pub(super) fn read_bland<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let list = parse_list;
        if let Some((v, _)) = get("BLAND_API_KEY") {
            self.bland.api_key = Some(Secret::new(v));
        }
        if let Some((v, origin)) = get("BLAND_API_URL") {
            let url = reqwest::Url::parse(v)
                .map_err(|e| ConfigError::new(origin, format!("`{v}` is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new(
                    origin,
                    "must be an http:// or https:// URL",
                ));
            }
            self.bland.api_url = v.trim_end_matches('/').to_string();
        }
        let b = &mut self.bland;
        if let Some((v, _)) = get("BLAND_WEBHOOK_SECRET") {
            b.webhook_secrets = list(v).into_iter().map(Secret::new).collect();
        }
        b.pathway_id = text(get, "BLAND_PATHWAY_ID");
        b.task = text(get, "BLAND_TASK");
        if let Some((v, _)) = get("BLAND_FROM") {
            b.from = list(v);
        }
        b.voice = text(get, "BLAND_VOICE");
        b.first_sentence = text(get, "BLAND_FIRST_SENTENCE");
        if let Some(n) = positive(get, "BLAND_MAX_DURATION")? {
            b.max_duration = n.min(u64::from(u32::MAX)) as u32;
        }
        b.record = flag(get, "BLAND_RECORD", false)?;
        b.wait_for_greeting = flag(get, "BLAND_WAIT_FOR_GREETING", false)?;
        b.voicemail_message = text(get, "BLAND_VOICEMAIL_MESSAGE");
        if let Some((v, origin)) = get("BLAND_VOICEMAIL_ACTION") {
            if !matches!(v, "leave_message" | "hangup") {
                return Err(ConfigError::new(
                    origin,
                    format!("`{v}` is not leave_message or hangup"),
                ));
            }
            b.voicemail_action = v.to_string();
        }
        self.read_bland_pacing(get)
    }

    /// How fast and how many at once calls are placed, retried and reconciled.
    fn read_bland_pacing<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let b = &mut self.bland;
        if let Some((v, origin)) = get("BLAND_MAX_CALLS_PER_SECOND") {
            b.max_calls_per_second = match v.parse::<f64>() {
                Ok(n) if n > 0.0 && n.is_finite() => n,
                _ => {
                    return Err(ConfigError::new(
                        origin,
                        format!("`{v}` is not a positive number"),
                    ))
                }
            };
        }
        if let Some(n) = positive(get, "BLAND_MAX_CONCURRENT")? {
            b.max_concurrent = n as usize;
        }
        if let Some(n) = positive(get, "BLAND_MAX_CALLS_PER_HOUR")? {
            b.max_calls_per_hour = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(n) = positive(get, "BLAND_MAX_CALLS_PER_DAY")? {
            b.max_calls_per_day = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(n) = positive(get, "BLAND_TIMEOUT_SECS")? {
            b.timeout_secs = n;
        }
        if let Some(n) = positive(get, "BLAND_MAX_ATTEMPTS")? {
            b.max_attempts = n.min(1000) as u32;
        }
        if let Some(n) = positive(get, "BLAND_RETRY_BASE_MS")? {
            b.retry_base_ms = n;
        }
        if let Some(n) = positive(get, "BLAND_RETRY_BUDGET_SECS")? {
            b.retry_budget_secs = n.min(7 * 86_400);
        }
        if let Some(n) = positive(get, "BLAND_RECONCILE_AFTER_MINUTES")? {
            b.reconcile_after_minutes = n.min(7 * 1440) as u32;
        }
        b.auto_resend_unconfirmed = flag(get, "BLAND_AUTO_RESEND_UNCONFIRMED", false)?;
        if let Some(n) = positive(get, "BLAND_RECONCILE_EVERY_SECS")? {
            b.reconcile_every_secs = n.min(86_400);
        }
        Ok(())
    }
}
