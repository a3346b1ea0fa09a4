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
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("callgate");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let blocklist_flags = Gauge::default();
        let blocklist_writes = Family::<OpLabels, Counter>::default();
        let blocklist_reload_failures = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            http_duration.clone(),
        );
        registry.register(
            "blocklist_flags",
            "Flags currently in the blocklist",
            blocklist_flags.clone(),
        );
        registry.register(
            "blocklist_writes",
            "Durable blocklist changes by operation",
            blocklist_writes.clone(),
        );
        registry.register(
            "blocklist_reload_failures",
            "Hand edits of blocklist-config.json refused as invalid",
            blocklist_reload_failures.clone(),
        );
        let leads = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "leads",
            "Lead webhooks by decision and deciding stage",
            leads.clone(),
        );
        let feed_entries = Family::<FeedLabels, Gauge>::default();
        let feed_refreshes = Family::<FeedResult, Counter>::default();
        registry.register(
            "feed_entries",
            "Entries in each feed's list in force",
            feed_entries.clone(),
        );
        registry.register(
            "feed_refreshes",
            "Feed refreshes by result",
            feed_refreshes.clone(),
        );
        let convoso_writes = Family::<WriteLabels, Counter>::default();
        registry.register(
            "convoso_writes",
            "Tries of writes to Convoso by kind and result",
            convoso_writes.clone(),
        );
        let list_entries = Family::<ListLabels, Gauge>::default();
        let list_age_days = Family::<ListLabels, Gauge>::default();
        registry.register(
            "list_entries",
            "Numbers in each do-not-call list's version in force",
            list_entries.clone(),
        );
        registry.register(
            "list_age_days",
            "Age in days of each do-not-call list's snapshot (-1: never loaded)",
            list_age_days.clone(),
        );
        let deferred_leads = Gauge::default();
        let deferred_due = Gauge::default();
        registry.register(
            "deferred_leads",
            "Leads waiting in the deferred queue",
            deferred_leads.clone(),
        );
        registry.register(
            "deferred_due",
            "Deferred leads whose release time has passed (waiting for a release round)",
            deferred_due.clone(),
        );
        let release_passes = Counter::default();
        registry.register(
            "release_passes",
            "Release passes run by this instance (expiry and due releases of the deferred queue)",
            release_passes.clone(),
        );
        Self {
            release_passes,
            deferred_leads,
            deferred_due,
            feed_entries,
            list_entries,
            list_age_days,
            feed_refreshes,
            convoso_writes,
            leads,
            registry,
            http_requests,
            http_duration,
            blocklist_flags,
            blocklist_writes,
            blocklist_reload_failures,
        }
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
