//! Prometheus metrics. One [`Metrics`] per server (no process-global recorder, so several
//! servers can run in one test process); every counter the service exposes is a field here.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: &'static str,
    pub stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedLabels {
    pub feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// `lead_update` or `dnc_insert`.
    pub kind: &'static str,
    /// `done`, `dry_run`, `retry`, `gave_up`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListLabels {
    pub list: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallerIdLabels {
    pub number: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedResult {
    pub feed: String,
    pub result: &'static str,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs … ~13 s
    Histogram::new(exponential_buckets(0.0001, 2.5, 14))
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: HistogramFamily,
    pub blocklist_flags: Gauge,
    pub blocklist_writes: Family<OpLabels, Counter>,
    pub blocklist_reload_failures: Counter,
    pub leads: Family<DecisionLabels, Counter>,
    pub feed_entries: Family<FeedLabels, Gauge>,
    /// Per do-not-call list: numbers in the version in force, and its age in days (-1: never
    /// loaded). Set when `/metrics` is read.
    pub list_entries: Family<ListLabels, Gauge>,
    pub list_age_days: Family<ListLabels, Gauge>,
    pub feed_refreshes: Family<FeedResult, Counter>,
    /// Tries of writes to Convoso by kind and result.
    pub convoso_writes: Family<WriteLabels, Counter>,
    /// Set when `/metrics` is read.
    pub deferred_leads: Gauge,
    pub deferred_due: Gauge,
    /// Release passes this instance ran (in database mode, while it held the release
    /// lease): the release task is alive, and a test can wait for a pass after a clock move.
    pub release_passes: Counter,
    pub text_rounds: Counter,
    /// Per caller-ID pool number: calls today and this hour, pickups in the window, and
    /// whether it is usable now (1) or rested, cooling down, at a cap or disabled (0). Set
    /// when `/metrics` is read.
    pub caller_id_calls_today: Family<CallerIdLabels, Gauge>,
    pub caller_id_calls_hour: Family<CallerIdLabels, Gauge>,
    pub caller_id_pickups: Family<CallerIdLabels, Gauge>,
    pub caller_id_usable: Family<CallerIdLabels, Gauge>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("callgate"),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            blocklist_flags: Gauge::default(),
            blocklist_writes: Family::default(),
            blocklist_reload_failures: Counter::default(),
            leads: Family::default(),
            feed_entries: Family::default(),
            list_entries: Family::default(),
            list_age_days: Family::default(),
            feed_refreshes: Family::default(),
            convoso_writes: Family::default(),
            deferred_leads: Gauge::default(),
            deferred_due: Gauge::default(),
            release_passes: Counter::default(),
            text_rounds: Counter::default(),
            caller_id_calls_today: Family::default(),
            caller_id_calls_hour: Family::default(),
            caller_id_pickups: Family::default(),
            caller_id_usable: Family::default(),
        };
        m.register_requests();
        m.register_lists_and_queue();
        m
    }

    /// HTTP, the blocklist, decisions (in the order `/metrics` has always listed them).
    fn register_requests(&mut self) {
        let r = &mut self.registry;
        r.register(
            "http_requests",
            "HTTP requests by method, route and status",
            self.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            self.http_duration.clone(),
        );
        r.register(
            "blocklist_flags",
            "Flags currently in the blocklist",
            self.blocklist_flags.clone(),
        );
        r.register(
            "blocklist_writes",
            "Durable blocklist changes by operation",
            self.blocklist_writes.clone(),
        );
        r.register(
            "blocklist_reload_failures",
            "Hand edits of blocklist-config.json refused as invalid",
            self.blocklist_reload_failures.clone(),
        );
        r.register(
            "leads",
            "Lead webhooks by decision and deciding stage",
            self.leads.clone(),
        );
    }

    /// Feeds, Convoso writes, do-not-call lists, the deferred queue and its release task.
    fn register_lists_and_queue(&mut self) {
        let r = &mut self.registry;
        r.register(
            "feed_entries",
            "Entries in each feed's list in force",
            self.feed_entries.clone(),
        );
        r.register(
            "feed_refreshes",
            "Feed refreshes by result",
            self.feed_refreshes.clone(),
        );
        r.register(
            "convoso_writes",
            "Tries of writes to Convoso by kind and result",
            self.convoso_writes.clone(),
        );
        r.register(
            "list_entries",
            "Numbers in each do-not-call list's version in force",
            self.list_entries.clone(),
        );
        r.register(
            "list_age_days",
            "Age in days of each do-not-call list's snapshot (-1: never loaded)",
            self.list_age_days.clone(),
        );
        r.register(
            "deferred_leads",
            "Leads waiting in the deferred queue",
            self.deferred_leads.clone(),
        );
        r.register(
            "deferred_due",
            "Deferred leads whose release time has passed (waiting for a release round)",
            self.deferred_due.clone(),
        );
        r.register(
            "caller_id_calls_today",
            "Calls placed from each caller-ID pool number today (the business day)",
            self.caller_id_calls_today.clone(),
        );
        r.register(
            "caller_id_calls_hour",
            "Calls placed from each caller-ID pool number this clock hour",
            self.caller_id_calls_hour.clone(),
        );
        r.register(
            "caller_id_pickups",
            "Pickups of each caller-ID pool number's calls in the pool's rolling window",
            self.caller_id_pickups.clone(),
        );
        r.register(
            "caller_id_usable",
            "Whether each caller-ID pool number may place a call now (1) or not (0)",
            self.caller_id_usable.clone(),
        );
        r.register(
            "release_passes",
            "Release passes run by this instance (expiry and due releases of the deferred queue)",
            self.release_passes.clone(),
        );
        r.register(
            "text_rounds",
            "Rounds of the text sender run by this instance (due texts checked and sent)",
            self.text_rounds.clone(),
        );
    }

    /// Records one finished HTTP request.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = HttpLabels {
            method: method.to_string(),
            route: route.to_string(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&labels).observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_observations_are_rendered_with_labels() {
        let m = Metrics::new();
        m.observe_http("GET", "/health", 200, 0.001);
        let text = m.render();
        assert!(
            text.contains(
                r#"callgate_http_requests_total{method="GET",route="/health",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("callgate_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
