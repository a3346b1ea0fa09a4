//! The `caller_ids` component of `/health`.

use serde_json::{json, Value};

use super::select::State;
use super::CallerIds;

impl crate::health::HealthSource for CallerIds {
    fn name(&self) -> &'static str {
        "caller_ids"
    }

    /// Degraded while calls wait because no number is usable, and while a number is
    /// rested automatically (an admin should look at it).
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        if !self.active() {
            return ComponentReport::new(HealthStatus::Ok).with("enabled", false);
        }
        let c = self.config.get();
        let st = self.last_statuses(self.clock.now());
        let auto: Vec<Value> = c
            .doc
            .numbers
            .iter()
            .filter_map(|(n, cfg)| {
                let r = cfg.rested.as_ref().filter(|r| r.by == "automatic")?;
                Some(json!({"number": n, "reason": r.reason}))
            })
            .collect();
        let waiting = self.waiting();
        let status = if waiting.is_some() || !auto.is_empty() {
            HealthStatus::Degraded
        } else {
            HealthStatus::Ok
        };
        let count = |s: State| st.iter().filter(|x| x.state == s).count();
        let mut report = ComponentReport::new(status)
            .with("enabled", true)
            .with("numbers", st.len())
            .with("usable", count(State::Usable))
            .with("rested", count(State::Rested))
            .with("cooling_down", count(State::CoolingDown))
            .with("at_cap", count(State::HourlyCap) + count(State::DailyCap));
        if !auto.is_empty() {
            report = report.with("rested_automatically", auto);
        }
        if let Some(w) = waiting {
            report = report.with("waiting", w.why);
        }
        report
    }
}
