//! The shared vocabulary of insight: one event as read back ([`Row`]),
//! the counters every rate is computed from ([`Counts`], [`Rates`]), the
//! grouping dimensions and the time buckets.

use rebound_ingest::Event;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The hash map insight counts in (a fast, non-cryptographic hash: keys
/// are provider names, domains and patterns, hashed once per event).
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::str::FromStr;

/// One event as insight reads it: the few columns it needs, borrowed from a
/// database row or an [`Event`] ([`OwnedRow`]).
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub time_ms: i64,
    /// The receiving provider ([`provider_key`]).
    pub provider: &'a str,
    /// The recipient domain (for deliveries read by [`crate::report::build`]
    /// from SQLite: only when grouping by domain or counting alerts, else empty).
    pub domain: &'a str,
    pub ip: Option<&'a str>,
    pub campaign: Option<&'a str>,
    /// `delivered`, `bounced`, `deferred`, `expired`, `complained`,
    /// `dropped`, `autoreply`.
    pub outcome: &'a str,
    pub reason: &'a str,
    pub owner: &'a str,
    /// Enhanced status, e.g. `5.7.1`.
    pub status: Option<&'a str>,
    pub hardbounce: bool,
    pub pattern: &'a str,
    /// The blocklist as stored (JSON of [`rebound_core::Blocklist`]).
    pub blocklist: Option<&'a str>,
    /// The raw reply (may be empty for delivered events).
    pub text: &'a str,
}

/// The receiving provider an event is counted under: the classifier's
/// provider when it recognised one (from the reply text, the remote host or
/// the recipient's domain), else the recipient domain itself.
pub fn provider_key<'a>(provider: Option<&'a str>, domain: &'a str) -> &'a str {
    match provider {
        Some(p) if !p.is_empty() => p,
        _ => domain,
    }
}

/// An owned [`Row`], built from an [`Event`] (the incremental path).
#[derive(Debug, Clone)]
pub struct OwnedRow {
    pub time_ms: i64,
    pub provider: String,
    pub domain: String,
    pub ip: Option<String>,
    pub campaign: Option<String>,
    pub outcome: &'static str,
    pub reason: &'static str,
    pub owner: &'static str,
    pub status: Option<String>,
    pub hardbounce: bool,
    pub pattern: String,
    pub blocklist: Option<String>,
    pub text: String,
}

impl OwnedRow {
    pub fn from_event(e: &Event) -> Self {
        let v = &e.verdict;
        OwnedRow {
            time_ms: e.time_ms,
            provider: provider_key(v.provider.as_deref(), &e.recipient_domain).to_string(),
            domain: e.recipient_domain.clone(),
            ip: e.sending_ip.clone(),
            campaign: e.campaign.clone(),
            outcome: e.outcome.as_str(),
            reason: v.reason.as_str(),
            owner: v.owner.as_str(),
            status: v.deliverystatus.map(|s| s.to_string()),
            hardbounce: v.hardbounce,
            pattern: v.pattern.clone(),
            blocklist: v
                .blocklist
                .as_ref()
                .and_then(|b| serde_json::to_string(b).ok()),
            text: e.text.clone(),
        }
    }

    pub fn as_row(&self) -> Row<'_> {
        Row {
            time_ms: self.time_ms,
            provider: &self.provider,
            domain: &self.domain,
            ip: self.ip.as_deref(),
            campaign: self.campaign.as_deref(),
            outcome: self.outcome,
            reason: self.reason,
            owner: self.owner,
            status: self.status.as_deref(),
            hardbounce: self.hardbounce,
            pattern: &self.pattern,
            blocklist: self.blocklist.as_deref(),
            text: &self.text,
        }
    }
}

/// What one event counts as. See [`Counts`] for the definitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub attempted: bool,
    pub delivered: bool,
    pub bounced: bool,
    pub hard: bool,
    pub deferred: bool,
    pub complaint: bool,
    pub auth_failure: bool,
    pub block: bool,
    pub dropped: bool,
}

impl Flags {
    pub fn of(r: &Row<'_>) -> Flags {
        let mut f = Flags::default();
        match r.outcome {
            "delivered" => {
                f.attempted = true;
                f.delivered = true;
            }
            "bounced" | "expired" => {
                f.attempted = true;
                f.bounced = true;
                f.hard = r.hardbounce;
            }
            "deferred" => {
                f.attempted = true;
                f.deferred = true;
            }
            "complained" => f.complaint = true,
            "dropped" => f.dropped = true,
            _ => {}
        }
        if f.bounced || f.deferred {
            f.auth_failure = r.owner == "sender_auth";
            f.block = r.blocklist.is_some()
                || matches!(r.owner, "sender_reputation" | "policy")
                || matches!(r.reason, "blocked" | "badreputation");
        }
        f
    }

    /// A failed attempt (bounce or deferral).
    pub fn failed(&self) -> bool {
        self.bounced || self.deferred
    }
}

/// Counters over a set of events.
///
/// * `attempted` = `delivered` + `bounced` + `deferred`, one per
///   message-recipient delivery attempt as recorded (a message deferred
///   twice and then delivered is three attempts).
/// * `delivered`: accepted by the receiving server (the accepted volume).
/// * `bounced`: final failures (outcome `bounced` or `expired`); `hard` of
///   them are dead addresses (the classifier's `hardbounce`: user unknown,
///   host unknown…), `soft` the rest (blocks, full mailboxes, content…).
/// * `deferred`: temporary failures the sender retries.
/// * `complaints`: feedback-loop reports. Not an attempt: they arrive after
///   delivery, so the complaint rate is over `delivered`.
/// * `auth_failures`: failed attempts (bounce or deferral) whose owner is
///   the sender's authentication (SPF, DKIM, DMARC, PTR, TLS).
/// * `blocks`: failed attempts refused because of the sender: a named
///   blocklist, or owner `sender_reputation`/`policy`, or reason
///   `blocked`/`badreputation`.
/// * `dropped`: not attempted (an ESP's own suppression); not in any rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub attempted: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub hard: u64,
    pub soft: u64,
    pub deferred: u64,
    pub complaints: u64,
    pub auth_failures: u64,
    pub blocks: u64,
    pub dropped: u64,
}

impl Counts {
    pub fn add(&mut self, f: Flags, n: u64) {
        self.attempted += n * f.attempted as u64;
        self.delivered += n * f.delivered as u64;
        self.bounced += n * f.bounced as u64;
        self.hard += n * (f.bounced && f.hard) as u64;
        self.soft += n * (f.bounced && !f.hard) as u64;
        self.deferred += n * f.deferred as u64;
        self.complaints += n * f.complaint as u64;
        self.auth_failures += n * f.auth_failure as u64;
        self.blocks += n * f.block as u64;
        self.dropped += n * f.dropped as u64;
    }

    pub fn merge(&mut self, o: &Counts) {
        self.attempted += o.attempted;
        self.delivered += o.delivered;
        self.bounced += o.bounced;
        self.hard += o.hard;
        self.soft += o.soft;
        self.deferred += o.deferred;
        self.complaints += o.complaints;
        self.auth_failures += o.auth_failures;
        self.blocks += o.blocks;
        self.dropped += o.dropped;
    }

    pub fn rates(&self) -> Rates {
        let over = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let a = self.attempted;
        Rates {
            bounce_rate: over(self.bounced, a),
            hard_bounce_rate: over(self.hard, a),
            soft_bounce_rate: over(self.soft, a),
            deferral_rate: over(self.deferred, a),
            complaint_rate: over(self.complaints, self.delivered),
            auth_failure_rate: over(self.auth_failures, a),
            block_rate: over(self.blocks, a),
        }
    }
}

/// Rates derived from [`Counts`]; all over `attempted` except the complaint
/// rate (over `delivered`). 0 when the denominator is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub bounce_rate: f64,
    pub hard_bounce_rate: f64,
    pub soft_bounce_rate: f64,
    pub deferral_rate: f64,
    pub complaint_rate: f64,
    pub auth_failure_rate: f64,
    pub block_rate: f64,
}

/// What to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Provider,
    Domain,
    Ip,
    Campaign,
    Reason,
    Owner,
    Pattern,
}

impl Dimension {
    pub const ALL: &'static [Dimension] = &[
        Dimension::Provider,
        Dimension::Domain,
        Dimension::Ip,
        Dimension::Campaign,
        Dimension::Reason,
        Dimension::Owner,
        Dimension::Pattern,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Provider => "provider",
            Dimension::Domain => "domain",
            Dimension::Ip => "ip",
            Dimension::Campaign => "campaign",
            Dimension::Reason => "reason",
            Dimension::Owner => "owner",
            Dimension::Pattern => "pattern",
        }
    }

    /// The group an event falls in; `-` when the event has no value.
    pub fn key<'a>(self, r: &Row<'a>) -> &'a str {
        let s = match self {
            Dimension::Provider => r.provider,
            Dimension::Domain => r.domain,
            Dimension::Ip => r.ip.unwrap_or(""),
            Dimension::Campaign => r.campaign.unwrap_or(""),
            Dimension::Reason => r.reason,
            Dimension::Owner => r.owner,
            Dimension::Pattern => r.pattern,
        };
        if s.is_empty() { "-" } else { s }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Dimension::ALL
            .iter()
            .copied()
            .find(|d| d.as_str() == s || (s == "recipient_domain" && *d == Dimension::Domain))
            .ok_or_else(|| {
                format!("unknown grouping {s:?} (provider, domain, ip, campaign, reason, owner, pattern)")
            })
    }
}

/// Time-series bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Minute,
    Hour,
    Day,
}

impl Bucket {
    pub fn ms(self) -> i64 {
        match self {
            Bucket::Minute => 60_000,
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }

    /// The start of the bucket holding `t` (UTC).
    pub fn floor(self, t: i64) -> i64 {
        t.div_euclid(self.ms()) * self.ms()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }
}

impl FromStr for Bucket {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "minute" | "min" | "m" => Ok(Bucket::Minute),
            "hour" | "h" => Ok(Bucket::Hour),
            "day" | "d" => Ok(Bucket::Day),
            _ => Err(format!("unknown bucket {s:?} (minute, hour, day)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: &'static str, reason: &'static str, owner: &'static str) -> Row<'static> {
        Row {
            time_ms: 0,
            provider: "google",
            domain: "gmail.com",
            ip: None,
            campaign: None,
            outcome,
            reason,
            owner,
            status: None,
            hardbounce: reason == "userunknown",
            pattern: "",
            blocklist: None,
            text: "",
        }
    }

    #[test]
    fn rates_follow_the_definitions() {
        let mut c = Counts::default();
        for _ in 0..90 {
            c.add(Flags::of(&row("delivered", "delivered", "none")), 1);
        }
        c.add(Flags::of(&row("bounced", "userunknown", "recipient")), 4);
        c.add(
            Flags::of(&row("bounced", "blocked", "sender_reputation")),
            2,
        );
        c.add(Flags::of(&row("deferred", "authfailure", "sender_auth")), 4);
        c.add(Flags::of(&row("complained", "feedback", "none")), 9);
        c.add(Flags::of(&row("dropped", "suppressed", "none")), 5);
        assert_eq!(c.attempted, 100);
        assert_eq!((c.bounced, c.hard, c.soft, c.deferred), (6, 4, 2, 4));
        assert_eq!((c.blocks, c.auth_failures, c.dropped), (2, 4, 5));
        let r = c.rates();
        assert!((r.bounce_rate - 0.06).abs() < 1e-12);
        assert!((r.hard_bounce_rate - 0.04).abs() < 1e-12);
        assert!((r.deferral_rate - 0.04).abs() < 1e-12);
        assert!((r.complaint_rate - 0.1).abs() < 1e-12);
        assert!((r.block_rate - 0.02).abs() < 1e-12);
        assert_eq!(Counts::default().rates(), Rates::default());
    }

    #[test]
    fn buckets_floor_in_utc() {
        assert_eq!(Bucket::Hour.floor(3_600_000 * 5 + 59), 3_600_000 * 5);
        assert_eq!(Bucket::Day.floor(-1), -86_400_000);
        assert_eq!("ip".parse::<Dimension>().unwrap(), Dimension::Ip);
        assert!("nope".parse::<Dimension>().is_err());
    }
}
