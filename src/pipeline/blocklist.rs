//! The `blocklist` check: field/value flags (feeds and content screening join later).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{BlockDetails, Check, Verdict};
use crate::blocklist::Blocklist;
use crate::domain::Lead;

pub struct BlocklistCheck {
    flags: Arc<Blocklist>,
}

impl BlocklistCheck {
    pub fn new(flags: Arc<Blocklist>) -> Self {
        Self { flags }
    }
}

impl Check for BlocklistCheck {
    fn stage(&self) -> &'static str {
        "blocklist"
    }

    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict {
        match self.flags.match_lead(&lead.fields, now.timestamp_millis()) {
            None => Verdict::Allow,
            Some(hit) => Verdict::Block {
                reason: format!("Blocked by flag: {}={}", hit.flag.field, hit.flag.value),
                details: Some(BlockDetails {
                    field: hit.flag.field.to_string(),
                    value: hit.value,
                    flag_id: Some(hit.flag.id.to_string()),
                    source: "flag",
                    flag_reason: hit.flag.reason.as_deref().map(str::to_string),
                }),
            },
        }
    }
}
