//! What admins and `/health` see of the lists: each list's version in force, its age and
//! status, and the freshness gates.

use chrono::NaiveDate;

use super::rules::{self, Freshness};
use super::Lists;

impl Lists {
    /// Every list as admins see it.
    pub fn views(&self, today: NaiveDate) -> Vec<serde_json::Value> {
        self.lists
            .iter()
            .map(|l| {
                let current = l.current.load();
                let snapshot = current.as_ref().map(|v| &v.snapshot);
                let empty = current.as_ref().is_none_or(|v| v.set.is_empty());
                // A load in progress shows as `loading`; the version in force still answers.
                let loading = l.loading.try_lock().is_err();
                let status = match (rules::freshness(&l.settings, snapshot, today), empty) {
                    _ if loading => "loading",
                    (Freshness::Stale, _) => "stale",
                    (_, true) => "empty",
                    _ => "ok",
                };
                serde_json::json!({
                    "name": l.settings.name,
                    "kind": l.settings.kind.as_str(),
                    "count": current.as_ref().map_or(0, |v| v.meta.count),
                    "prefixes": current.as_ref().map_or(0, |v| v.meta.prefixes),
                    "snapshot": current.as_ref().map(|v| serde_json::json!({
                        "version": v.meta.version,
                        "downloaded_at": v.meta.downloaded_at,
                        "loaded_at": v.meta.loaded_at,
                        "source": v.meta.source,
                        "sha256": v.meta.sha256,
                    })),
                    "age_days": snapshot.map(|s| rules::age_days(s, today)),
                    "max_age_days": l.settings.max_age_days,
                    "status": status,
                    "states": (!l.settings.states.is_empty()).then(|| l.settings.states.clone()),
                })
            })
            .collect()
    }

    /// Worst freshness across gated lists: for `/health`.
    pub fn freshness(&self, today: NaiveDate) -> Vec<(String, Freshness)> {
        self.lists
            .iter()
            .map(|l| {
                let current = l.current.load();
                // An emptied gated list is no current list.
                let in_force = current
                    .as_ref()
                    .filter(|v| !v.set.is_empty() || l.settings.max_age_days.is_none());
                let f = rules::freshness(&l.settings, in_force.map(|v| &v.snapshot), today);

                (l.settings.name.clone(), f)
            })
            .collect()
    }
}

impl crate::health::HealthSource for Lists {
    fn name(&self) -> &'static str {
        "lists"
    }

    /// `degraded` within five days of a gate closing, `unhealthy` once one is closed (its
    /// list blocks every lead it covers). Each list is named with its status, the age of
    /// its version in force and the days left before its gate closes, so the operator sees
    /// which list to load.
    fn report(&self) -> crate::health::ComponentReport {
        use crate::health::{ComponentReport, HealthStatus};
        let today = crate::clock::business_date(self.clock.now(), self.tz);
        let mut status = HealthStatus::Ok;
        let mut closed = Vec::new();
        let mut lists = Vec::with_capacity(self.lists.len());
        for (l, (name, f)) in self.lists.iter().zip(self.freshness(today)) {
            let current = l.current.load();
            let snapshot = current.as_ref().map(|v| &v.snapshot);
            let age = snapshot.map(|s| rules::age_days(s, today));
            let days_left = l
                .settings
                .max_age_days
                .zip(age)
                .map(|(max, age)| i64::from(max) - age);
            let (this, word) = match f {
                Freshness::Ok => (HealthStatus::Ok, "ok"),
                Freshness::Soon { .. } => (HealthStatus::Degraded, "closes_soon"),
                Freshness::Stale if snapshot.is_none() => (HealthStatus::Unhealthy, "never_loaded"),
                Freshness::Stale if current.as_ref().is_some_and(|v| v.set.is_empty()) => {
                    (HealthStatus::Unhealthy, "empty")
                }
                Freshness::Stale => (HealthStatus::Unhealthy, "stale"),
            };
            status = status.max(this);
            if this == HealthStatus::Unhealthy {
                closed.push(format!("{name} ({})", word.replace('_', " ")));
            }
            lists.push(serde_json::json!({
                "name": name,
                "kind": l.settings.kind.as_str(),
                "status": word,
                "version": current.as_ref().map(|v| v.meta.version),
                "downloaded_at": snapshot.map(|s| s.downloaded_at),
                "age_days": age,
                "max_age_days": l.settings.max_age_days,
                "days_left": days_left,
            }));
        }
        let mut report = ComponentReport::new(status).with("lists", lists);
        if !closed.is_empty() {
            report = report.with(
                "error",
                format!(
                    "gate closed, every lead they cover is blocked until a current version is loaded: {}",
                    closed.join(", ")
                ),
            );
        }
        report
    }
}
