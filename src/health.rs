//! Health reporting: each component that can go wrong implements [`HealthSource`]; `/health`
//! shows them all and its status is the worst of theirs.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
    Unhealthy,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub status: HealthStatus,
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ComponentReport {
    pub fn new(status: HealthStatus) -> Self {
        Self {
            status,
            details: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

pub trait HealthSource: Send + Sync {
    fn name(&self) -> &'static str;
    fn report(&self) -> ComponentReport;
}
