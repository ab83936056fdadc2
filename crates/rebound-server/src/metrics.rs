//! Prometheus metrics (OpenMetrics text, which Prometheus scrapes natively).
//!
//! Label values are bounded: routes are the router's templates (never raw
//! paths), sources the fixed list of event sources, reasons Sisimai's fixed
//! vocabulary, providers the classifier's provider names (a fixed set from
//! the rule tables) or `other`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub source: String,
    pub reason: String,
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    pub source: String,
    /// `stored`, `duplicate` or `rejected`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// A route template of `ROUTES` (or `unmatched`): static, so that
    /// counting a request allocates nothing.
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
}

type HistogramFn = fn() -> Histogram;

pub struct Metrics {
    registry: Registry,
    pub events: Family<EventLabels, Counter>,
    pub ingest: Family<IngestLabels, Counter>,
    pub suppressions: Gauge,
    pub incidents_open: Gauge,
    pub requests: Family<HttpLabels, Counter>,
    pub latency: Family<HttpLabels, Histogram, HistogramFn>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~1.6 s in doublings.
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let events = Family::<EventLabels, Counter>::default();
        let ingest = Family::<IngestLabels, Counter>::default();
        let suppressions = Gauge::default();
        let incidents_open = Gauge::default();
        let requests = Family::<HttpLabels, Counter>::default();
        let latency =
            Family::<HttpLabels, Histogram, HistogramFn>::new_with_constructor(latency_histogram);
        registry.register(
            "rebound_events",
            "Events newly stored, by source, reason and receiving provider",
            events.clone(),
        );
        registry.register(
            "rebound_ingest_records",
            "Records posted to /v1/events, by source and result (stored, duplicate, rejected)",
            ingest.clone(),
        );
        registry.register(
            "rebound_suppressions",
            "Active suppressions in the store",
            suppressions.clone(),
        );
        registry.register(
            "rebound_incidents_open",
            "Open incidents over the incident window",
            incidents_open.clone(),
        );
        registry.register(
            "rebound_http_requests",
            "HTTP requests, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "rebound_http_request_duration_seconds",
            "HTTP request latency, by route template, method and status",
            latency.clone(),
        );
        Metrics {
            registry,
            events,
            ingest,
            suppressions,
            incidents_open,
            requests,
            latency,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
