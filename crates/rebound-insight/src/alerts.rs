//! Rate alerts ("the 2% line"): over a report's window, every provider,
//! recipient domain, sending IP and campaign whose bounce, hard-bounce,
//! complaint or deferral rate is above its threshold — with enough volume
//! and enough confidence that the rate is not luck: the lower bound of the
//! rate's Wilson score interval must be above the threshold, so 3 bounces
//! out of 20 never alert however high 15% looks.
//!
//! The counts come from the report's single pass ([`ScopeCounters`], fed
//! by the `Aggregator`); memory is bounded by `max_keys` per scope.

use crate::model::{Counts, Flags, Map, Row};
use serde::{Deserialize, Serialize};

/// The key under which a scope counts events beyond `max_keys`; it mixes
/// unrelated senders or receivers, so it never alerts.
pub const OTHER: &str = "(other)";

/// Alert thresholds (`[alerts]` in the same TOML file as `[incidents]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// Count per scope and judge at all. Off, the report's scan reads only
    /// the grouping column for deliveries (what the incident list needs).
    pub enabled: bool,
    /// Bounces over attempts.
    pub bounce_rate: f64,
    /// Dead-address bounces over attempts.
    pub hard_bounce_rate: f64,
    /// Complaints over delivered.
    pub complaint_rate: f64,
    /// Deferrals over attempts.
    pub deferral_rate: f64,
    /// Smallest denominator (attempts; delivered for complaints) judged.
    pub min_attempts: u64,
    /// Normal quantile of the Wilson interval (1.96: 95% two-sided).
    pub z: f64,
    /// Distinct keys counted per scope; the rest count as `(other)`.
    pub max_keys: usize,
    /// Alerts kept (the furthest over their threshold).
    pub max_alerts: usize,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bounce_rate: 0.02,
            hard_bounce_rate: 0.01,
            complaint_rate: 0.001,
            deferral_rate: 0.10,
            min_attempts: 200,
            z: 1.96,
            max_keys: 10_000,
            max_alerts: 1000,
        }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Provider,
    Domain,
    Ip,
    Campaign,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Provider, Scope::Domain, Scope::Ip, Scope::Campaign];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Provider => "provider",
            Scope::Domain => "domain",
            Scope::Ip => "ip",
            Scope::Campaign => "campaign",
        }
    }

    /// The event's key in this scope; `None` when it has no value (an
    /// event without a campaign is not in any campaign).
    fn key<'a>(self, r: &Row<'a>) -> Option<&'a str> {
        let k = match self {
            Scope::Provider => Some(r.provider),
            Scope::Domain => Some(r.domain),
            Scope::Ip => r.ip,
            Scope::Campaign => r.campaign,
        };
        k.filter(|k| !k.is_empty())
    }
}

/// Which rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    BounceRate,
    HardBounceRate,
    ComplaintRate,
    DeferralRate,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::BounceRate,
        Metric::HardBounceRate,
        Metric::ComplaintRate,
        Metric::DeferralRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::BounceRate => "bounce_rate",
            Metric::HardBounceRate => "hard_bounce_rate",
            Metric::ComplaintRate => "complaint_rate",
            Metric::DeferralRate => "deferral_rate",
        }
    }

    /// (numerator, denominator) as the report's rates define them.
    fn of(self, c: &Counts) -> (u64, u64) {
        match self {
            Metric::BounceRate => (c.bounced, c.attempted),
            Metric::HardBounceRate => (c.hard, c.attempted),
            Metric::ComplaintRate => (c.complaints, c.delivered),
            Metric::DeferralRate => (c.deferred, c.attempted),
        }
    }

    fn threshold(self, cfg: &AlertConfig) -> f64 {
        match self {
            Metric::BounceRate => cfg.bounce_rate,
            Metric::HardBounceRate => cfg.hard_bounce_rate,
            Metric::ComplaintRate => cfg.complaint_rate,
            Metric::DeferralRate => cfg.deferral_rate,
        }
    }
}

/// One key over one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub scope: Scope,
    pub key: String,
    pub metric: Metric,
    /// The observed rate.
    pub value: f64,
    pub threshold: f64,
    /// The rate's denominator: attempts (delivered for complaints).
    pub attempts: u64,
    /// The key's first event in the window, UTC ms.
    pub since_ms: i64,
}

impl Alert {
    /// How far over: the rate as a multiple of its threshold (the alerts'
    /// order, comparable across metrics whose thresholds differ 100-fold).
    pub fn over(&self) -> f64 {
        if self.threshold > 0.0 {
            self.value / self.threshold
        } else {
            f64::INFINITY
        }
    }
}

/// The lower bound of the Wilson score interval of `k` successes in `n`
/// trials at normal quantile `z` (0 when `n` is 0).
pub fn wilson_lower(k: u64, n: u64, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

struct KeyAgg {
    counts: Counts,
    since_ms: i64,
}

/// Counts per key of the four scopes, each capped at `max_keys`.
pub struct ScopeCounters {
    max_keys: usize,
    maps: [Map<String, KeyAgg>; 4],
}

impl ScopeCounters {
    pub fn new(max_keys: usize) -> Self {
        ScopeCounters {
            max_keys,
            maps: Default::default(),
        }
    }

    /// Counts `n` events like `r` (flags `f`) under each scope's key.
    pub fn push(&mut self, r: &Row<'_>, f: Flags, n: u64) {
        for (i, scope) in Scope::ALL.iter().enumerate() {
            let Some(key) = scope.key(r) else { continue };
            let map = &mut self.maps[i];
            let a = match map.get_mut(key) {
                Some(a) => a,
                None => {
                    let k = if map.len() < self.max_keys {
                        key
                    } else {
                        OTHER
                    };
                    map.entry(k.to_string()).or_insert(KeyAgg {
                        counts: Counts::default(),
                        since_ms: r.time_ms,
                    })
                }
            };
            a.counts.add(f, n);
            // Deliveries arrive pre-counted per minute, after the minute's
            // failures: the first event is the earliest seen, not the first.
            a.since_ms = a.since_ms.min(r.time_ms);
        }
    }

    /// The alerts, furthest over their threshold first.
    pub fn judge(&self, cfg: &AlertConfig) -> Vec<Alert> {
        let mut out = Vec::new();
        for (i, scope) in Scope::ALL.iter().enumerate() {
            for (key, a) in &self.maps[i] {
                if key == OTHER {
                    continue;
                }
                // A sending IP or campaign with failures but no delivery in
                // the window is one the input does not name on deliveries
                // (Postfix's delivery lines carry no sending IP, while a
                // refusal may quote it): its rates cannot be measured, and
                // an alert would say 100% for what is an attribution gap.
                // Blocks of such an asset still open incidents.
                if matches!(scope, Scope::Ip | Scope::Campaign) && a.counts.delivered == 0 {
                    continue;
                }
                for metric in Metric::ALL {
                    let (k, n) = metric.of(&a.counts);
                    let threshold = metric.threshold(cfg);
                    if n == 0 || n < cfg.min_attempts {
                        continue;
                    }
                    if wilson_lower(k, n, cfg.z) > threshold {
                        out.push(Alert {
                            scope: *scope,
                            key: key.clone(),
                            metric,
                            value: k as f64 / n as f64,
                            threshold,
                            attempts: n,
                            since_ms: a.since_ms,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| {
            b.over()
                .total_cmp(&a.over())
                .then(a.scope.cmp(&b.scope))
                .then_with(|| a.key.cmp(&b.key))
                .then(a.metric.cmp(&b.metric))
        });
        out.truncate(cfg.max_alerts);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_hand_computed_bounds() {
        // 52/2000 (2.6%), z = 1.96, by hand: centre 0.026 + 0.00096 =
        // 0.02696; spread 1.96·√(0.026·0.974/2000 + 3.8416/16e6) =
        // 1.96·√1.29021e-5 = 0.0070403; over 1.0019208 → 0.019882.
        assert!((wilson_lower(52, 2000, 1.96) - 0.019882).abs() < 2e-6);
        // 3/20, z = 1.96: (0.15 + 0.09604 − 1.96·√(0.006375 + 0.0024)) /
        // 1.19208 = 0.05237.
        assert!((wilson_lower(3, 20, 1.96) - 0.05237).abs() < 2e-5);
        // 10/5000: (0.002 + 0.00038416 − 0.0012966) / 1.00076832 = 0.0010867.
        assert!((wilson_lower(10, 5000, 1.96) - 0.0010867).abs() < 2e-6);
        assert_eq!(wilson_lower(0, 0, 1.96), 0.0);
        assert_eq!(wilson_lower(0, 100, 1.96), 0.0);
    }

    #[test]
    fn names_are_the_documented_ones() {
        let a = Alert {
            scope: Scope::Ip,
            key: "198.51.100.1".into(),
            metric: Metric::HardBounceRate,
            value: 0.05,
            threshold: 0.01,
            attempts: 1000,
            since_ms: 7,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"scope": "ip", "key": "198.51.100.1",
                "metric": "hard_bounce_rate", "value": 0.05, "threshold": 0.01,
                "attempts": 1000, "since_ms": 7})
        );
        for (m, s) in Metric::ALL.iter().zip([
            "bounce_rate",
            "hard_bounce_rate",
            "complaint_rate",
            "deferral_rate",
        ]) {
            assert_eq!(serde_json::to_value(m).unwrap(), s);
            assert_eq!(m.as_str(), s);
        }
        for (sc, s) in Scope::ALL
            .iter()
            .zip(["provider", "domain", "ip", "campaign"])
        {
            assert_eq!(serde_json::to_value(sc).unwrap(), s);
        }
    }

    #[test]
    fn config_reads_from_toml_with_defaults() {
        let c: AlertConfig = toml::from_str("bounce_rate = 0.03\nmin_attempts = 50\n").unwrap();
        assert_eq!(c.bounce_rate, 0.03);
        assert_eq!(c.min_attempts, 50);
        assert_eq!(c.deferral_rate, 0.10);
        assert!(toml::from_str::<AlertConfig>("bounce = 1").is_err());
    }
}
