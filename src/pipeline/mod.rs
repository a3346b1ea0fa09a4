//! The ordered pipeline of checks. Each check is a pure, synchronous function of the lead,
//! the instant and the state it holds, returning allow, defer (until when, why) or block
//! (why, details). The order is fixed by [`STAGES`] — cheap local checks first — whatever
//! order checks are registered in, so later checks slot in without touching this frame.
//! The first check that refuses decides; every decision carries a trace.

pub mod blocklist;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::Lead;
use crate::journal::Decision;
use crate::lists::ListUse;

/// The pipeline's stages, in the order they run.
pub const STAGES: [&str; 4] = ["schedule", "answering_machine", "protection", "blocklist"];

/// What a blocked attempt records in the attempts journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockDetails {
    pub field: String,
    pub value: String,
    pub flag_id: Option<String>,
    /// `flag`, `list`, `feed` or `content`.
    pub source: &'static str,
    pub flag_reason: Option<String>,
    /// A do-not-call list block: the list and the snapshot version in force.
    pub list: Option<(String, Option<u64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow,
    Defer {
        until: DateTime<Utc>,
        reason: String,
    },
    Block {
        reason: String,
        details: Option<BlockDetails>,
    },
}

pub trait Check: Send + Sync {
    /// One of [`STAGES`].
    fn stage(&self) -> &'static str;
    fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Verdict;
    /// The verdict and the do-not-call lists consulted for it (recorded in the trace);
    /// only the blocklist check consults lists.
    fn evaluate_traced(&self, lead: &Lead, now: DateTime<Utc>) -> (Verdict, Vec<ListUse>) {
        (self.evaluate(lead, now), Vec::new())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceStep {
    pub check: &'static str,
    /// `allow`, `defer` or `block`.
    pub verdict: &'static str,
    pub reason: Option<String>,
    pub micros: f64,
    /// The do-not-call lists this step consulted, each with its snapshot version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListUse>,
}

/// The pipeline's answer for one lead at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub decision: Decision,
    pub stage: Option<&'static str>,
    pub reason: Option<String>,
    pub release_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub block: Option<BlockDetails>,
    pub trace: Vec<TraceStep>,
}

impl Evaluation {
    pub fn flag_id(&self) -> Option<&str> {
        self.block.as_ref().and_then(|b| b.flag_id.as_deref())
    }
}

/// The pipeline the gateway runs — the server and the offline `check` both build it here,
/// so a new check is added in one place.
pub fn standard(
    scheduler: Arc<crate::schedule::Scheduler>,
    tracker: Arc<crate::tracker::Tracker>,
    flags: Arc<crate::blocklist::Blocklist>,
    lists: Arc<crate::lists::Lists>,
    feeds: Arc<crate::feeds::Feeds>,
    bland: &crate::config::BlandSettings,
    tz: chrono_tz::Tz,
) -> Pipeline {
    use crate::tracker::checks::{AnsweringMachineCheck, ProtectionCheck};
    Pipeline::new(vec![
        Arc::new(crate::schedule::ScheduleCheck(scheduler.clone())),
        Arc::new(AnsweringMachineCheck(tracker.clone())),
        Arc::new(ProtectionCheck {
            tracker,
            rules: scheduler.rules.clone(),
            state_fields: scheduler.state_fields.clone(),
        }),
        Arc::new(blocklist::BlocklistCheck::new(
            flags,
            lists,
            feeds,
            bland,
            scheduler.state_fields.clone(),
            scheduler.rules.clone(),
            tz,
        )),
    ])
}

#[derive(Clone, Default)]
pub struct Pipeline {
    checks: Vec<Arc<dyn Check>>,
}

fn rank(stage: &str) -> usize {
    STAGES
        .iter()
        .position(|s| *s == stage)
        .unwrap_or(STAGES.len())
}

impl Pipeline {
    /// Orders `checks` by stage.
    pub fn new(mut checks: Vec<Arc<dyn Check>>) -> Self {
        checks.sort_by_key(|c| rank(c.stage()));
        Self { checks }
    }

    /// The check of `stage`, run on its own (a text's blocklist check).
    pub fn check(&self, stage: &str) -> Option<Arc<dyn Check>> {
        self.checks.iter().find(|c| c.stage() == stage).cloned()
    }

    pub fn stages(&self) -> Vec<&'static str> {
        self.checks.iter().map(|c| c.stage()).collect()
    }

    /// Runs the checks in order; the first that refuses decides.
    pub fn evaluate(&self, lead: &Lead, now: DateTime<Utc>) -> Evaluation {
        let mut trace = Vec::with_capacity(self.checks.len());
        for check in &self.checks {
            let started = Instant::now();
            let (verdict, lists) = check.evaluate_traced(lead, now);
            let micros = started.elapsed().as_secs_f64() * 1e6;
            let stage = check.stage();
            match verdict {
                Verdict::Allow => trace.push(TraceStep {
                    check: stage,
                    verdict: "allow",
                    reason: None,
                    micros,
                    lists,
                }),
                Verdict::Defer { until, reason } => {
                    trace.push(TraceStep {
                        check: stage,
                        verdict: "defer",
                        reason: Some(reason.clone()),
                        micros,
                        lists,
                    });
                    return Evaluation {
                        decision: Decision::Deferred,
                        stage: Some(stage),
                        reason: Some(reason),
                        release_at: Some(until),
                        block: None,
                        trace,
                    };
                }
                Verdict::Block { reason, details } => {
                    trace.push(TraceStep {
                        check: stage,
                        verdict: "block",
                        reason: Some(reason.clone()),
                        micros,
                        lists,
                    });
                    return Evaluation {
                        decision: Decision::Blocked,
                        stage: Some(stage),
                        reason: Some(reason),
                        release_at: None,
                        block: details,
                        trace,
                    };
                }
            }
        }
        Evaluation {
            decision: Decision::Accepted,
            stage: None,
            reason: None,
            release_at: None,
            block: None,
            trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Verdict);

    impl Check for Fixed {
        fn stage(&self) -> &'static str {
            self.0
        }
        fn evaluate(&self, _: &Lead, _: DateTime<Utc>) -> Verdict {
            self.1.clone()
        }
    }

    fn lead() -> Lead {
        let map = serde_json::json!({"phone_number": "3055551234", "lead_id": "1"});
        Lead::parse(
            map.as_object().cloned().unwrap_or_default(),
            &Default::default(),
            "US",
        )
        .expect("lead")
    }

    #[test]
    fn checks_run_in_stage_order_and_the_first_refusal_decides() {
        let now = Utc::now();
        let block = Verdict::Block {
            reason: "listed".into(),
            details: None,
        };
        let defer = Verdict::Defer {
            until: now,
            reason: "closed".into(),
        };
        let p = Pipeline::new(vec![
            Arc::new(Fixed("blocklist", block)),
            Arc::new(Fixed("protection", Verdict::Allow)),
            Arc::new(Fixed("schedule", defer)),
        ]);
        assert_eq!(p.stages(), ["schedule", "protection", "blocklist"]);
        let e = p.evaluate(&lead(), now);
        assert_eq!(e.decision, Decision::Deferred);
        assert_eq!(e.stage, Some("schedule"));
        assert_eq!(e.trace.len(), 1, "nothing runs after the deciding check");
        let p = Pipeline::new(vec![Arc::new(Fixed("protection", Verdict::Allow))]);
        let e = p.evaluate(&lead(), now);
        assert_eq!(e.decision, Decision::Accepted);
        assert_eq!(e.trace[0].verdict, "allow");
    }
}
