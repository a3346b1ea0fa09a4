//! Webhook and lead-field settings.

use super::{parse_list, positive, text, ConfigError, Secret, Settings};

impl Settings {
    /// Webhook, lead-field and release-batch settings.
    pub(super) fn read_integration<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Result<(), ConfigError> {
        let list = parse_list;
        self.webhook_token = text(get, "WEBHOOK_TOKEN").map(Secret::new);
        if let Some((v, origin)) = get("PUBLIC_BASE_URL") {
            reqwest::Url::parse(v)
                .map_err(|e| ConfigError::new(origin, format!("`{v}` is not a URL: {e}")))?;
            self.public_base_url = Some(v.trim_end_matches('/').to_string());
        }
        if let Some((v, origin)) = get("LEAD_PHONE_FIELDS") {
            self.lead_fields.phone = list(v);
            if self.lead_fields.phone.is_empty() {
                return Err(ConfigError::new(origin, "name at least one field"));
            }
        }
        if let Some((v, origin)) = get("LEAD_ID_FIELDS") {
            self.lead_fields.lead_id = list(v);
            if self.lead_fields.lead_id.is_empty() {
                return Err(ConfigError::new(origin, "name at least one field"));
            }
        }
        if let Some((v, _)) = get("LEAD_STATE_FIELDS") {
            self.lead_fields.state = list(v);
        }
        if let Some(n) = positive(get, "SCHEDULER_RELEASE_BATCH")? {
            self.release_batch = n as usize;
        }
        Ok(())
    }
}
