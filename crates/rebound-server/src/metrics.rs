//! Prometheus metrics (OpenMetrics text, which Prometheus scrapes natively).
//!
//! Label values are bounded: routes are the router's templates (never raw
//! paths), sources the fixed list of event sources, reasons Sisimai's fixed
//! vocabulary, providers the classifier's provider names (a fixed set from
//! the rule tables) or `other`; alert keys the current alert list (at most
//! `alerts.max_alerts`, replaced at each refresh).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    pub scope: &'static str,
    /// Escaped with [`label_value`]: keys come from ingested events.
    pub key: String,
    pub metric: &'static str,
}

/// A label value from outside data, made safe for the exposition format:
/// prometheus-client writes label values as given, so a `"`, `\\` or line
/// break in a campaign name would break the whole scrape. Escaped as
/// OpenMetrics says, and cut to 200 characters.
pub fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(200));
    for c in s.chars().take(200) {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

type HistogramFn = fn() -> Histogram;

/// The rules in use, as a label (`rebound_rules_info{rules_id} 1`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RulesLabels {
    pub rules_id: String,
}

pub struct Metrics {
    registry: Registry,
    /// One series, the rules in use (replaced on reload).
    pub rules: Family<RulesLabels, Gauge>,
    pub events: Family<EventLabels, Counter>,
    pub ingest: Family<IngestLabels, Counter>,
    pub suppressions: Gauge,
    pub incidents_open: Gauge,
    /// The rate of each current alert, refreshed with the incident list.
    pub alert_values: Family<AlertLabels, Gauge<f64, AtomicU64>>,
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
        let rules = Family::<RulesLabels, Gauge>::default();
        registry.register(
            "rebound_rules_info",
            "The classifier rules in use, by rules id (built-in rules and user files)",
            rules.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        let ingest = Family::<IngestLabels, Counter>::default();
        let suppressions = Gauge::default();
        let incidents_open = Gauge::default();
        let alert_values = Family::<AlertLabels, Gauge<f64, AtomicU64>>::default();
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
            "rebound_alert_value",
            "Rate of each current alert (bounce, hard-bounce, complaint, deferral) over the incident window, by scope, key and metric",
            alert_values.clone(),
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
            rules,
            events,
            ingest,
            suppressions,
            incidents_open,
            alert_values,
            requests,
            latency,
        }
    }

    /// Shows `id` as the rules in use (and no other).
    pub fn set_rules_id(&self, id: &str) {
        self.rules.clear();
        self.rules
            .get_or_create(&RulesLabels {
                rules_id: id.to_string(),
            })
            .set(1);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_from_outside_are_escaped() {
        assert_eq!(super::label_value("spring"), "spring");
        assert_eq!(super::label_value("a\"b\\c\nd\re"), "a\\\"b\\\\c\\nd e");
        assert_eq!(super::label_value(&"x".repeat(500)).len(), 200);
    }
}
