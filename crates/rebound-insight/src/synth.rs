//! A seeded generator of realistic delivery streams, with injected
//! incidents, and the scoring of detection against them.
//!
//! The stream: several providers (Gmail, Microsoft, Yahoo, Apple and a
//! long tail of other domains) with realistic shares, four sending IPs,
//! a few campaigns a day, diurnal volume, and background noise (invalid
//! addresses, full mailboxes, greylisting and throttling deferrals, the odd
//! block). Every event carries the reply text a real server of that
//! provider would give, and is judged by the real classifier (through
//! `rebound_ingest::Normaliser`), so detection is evaluated on the verdicts
//! it will see in production.
//!
//! The random numbers come from a SplitMix64 generator: the same seed gives
//! the same stream on every machine.

use crate::detect::{Incident, IncidentKind};
use rebound_core::Observation;
use rebound_ingest::{Event, Normaliser, Outcome, dedupe_key};
use serde::{Deserialize, Serialize};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Poisson-distributed count (normal approximation above 30).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            let u1 = self.f64().max(1e-12);
            let u2 = self.f64();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (mean + z * mean.sqrt()).round().max(0.0) as u64;
        }
        let l = (-mean).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.f64();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

/// A receiving provider in the simulation.
#[derive(Debug, Clone, Copy)]
pub struct Provider {
    /// The provider key insight groups by (the classifier's provider name).
    pub key: &'static str,
    pub domains: &'static [&'static str],
    /// Share of the traffic.
    pub weight: f64,
}

pub const PROVIDERS: &[Provider] = &[
    Provider {
        key: "google",
        domains: &["gmail.com", "googlemail.com"],
        weight: 0.40,
    },
    Provider {
        key: "microsoft",
        domains: &["outlook.com", "hotmail.com", "live.com"],
        weight: 0.20,
    },
    Provider {
        key: "yahoo",
        domains: &["yahoo.com", "ymail.com"],
        weight: 0.14,
    },
    Provider {
        key: "apple",
        domains: &["icloud.com", "me.com"],
        weight: 0.10,
    },
    Provider {
        key: "other",
        domains: &[
            "example-corp.com",
            "mail.example.org",
            "acme.example",
            "widgets.example.net",
            "univ.example.edu",
        ],
        weight: 0.16,
    },
];

pub const IPS: &[&str] = &[
    "198.51.100.10",
    "198.51.100.11",
    "198.51.100.12",
    "203.0.113.20",
];

/// An injected incident: the ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Injection {
    pub kind: IncidentKind,
    /// Provider key, or `*` (list quality: every provider).
    pub provider: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Share of the provider's attempts (from `ip` when set) affected.
    pub intensity: f64,
    /// Only traffic from this IP (blocklist listings).
    pub ip: Option<String>,
    /// Campaign of the affected traffic (list quality: the import).
    pub campaign: Option<String>,
    /// Affected events in the busiest 60 minutes, as generated (0 until
    /// the stream has been generated: see [`Synth::injections`]).
    #[serde(default)]
    pub peak_hour_events: u64,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub seed: u64,
    pub start_ms: i64,
    pub hours: i64,
    /// Mean attempts per hour (the diurnal curve swings around it).
    pub per_hour: f64,
    pub injections: Vec<Injection>,
}

impl SynthConfig {
    /// A clean stream: background noise only.
    pub fn clean(seed: u64, start_ms: i64, hours: i64, per_hour: f64) -> Self {
        SynthConfig {
            seed,
            start_ms,
            hours,
            per_hour,
            injections: Vec::new(),
        }
    }

    /// A stream with `n` incidents of every kind in turn, at random times
    /// (at least 5 hours apart, each 90 minutes to 3 hours long), on
    /// providers drawn from the big four.
    pub fn with_incidents(seed: u64, start_ms: i64, hours: i64, per_hour: f64, n: usize) -> Self {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
        let kinds = [
            IncidentKind::Reputation,
            IncidentKind::Blocklist,
            IncidentKind::Authentication,
            IncidentKind::RateLimiting,
            IncidentKind::Content,
            IncidentKind::ListQuality,
        ];
        let big = ["google", "microsoft", "yahoo", "apple"];
        let mut injections = Vec::new();
        // Leave 6 hours of history first so baselines exist.
        let slot = ((hours - 8) * HOUR) / n.max(1) as i64;
        for i in 0..n {
            let kind = kinds[i % kinds.len()];
            let slot_start = start_ms + 6 * HOUR + i as i64 * slot;
            let dur = 90 * MINUTE + rng.below(90) as i64 * MINUTE;
            let latest = (slot - dur - 3 * HOUR).max(0);
            let start = slot_start + (rng.below((latest / MINUTE) as u64 + 1) as i64) * MINUTE;
            let provider = match kind {
                IncidentKind::ListQuality => "*",
                // Texts below exist for these providers.
                IncidentKind::Blocklist => {
                    ["microsoft", "yahoo", "apple", "google"][rng.below(4) as usize]
                }
                IncidentKind::RateLimiting => {
                    ["google", "microsoft", "yahoo"][rng.below(3) as usize]
                }
                IncidentKind::Content => ["microsoft", "yahoo", "apple"][rng.below(3) as usize],
                _ => big[rng.below(4) as usize],
            };
            let (intensity, ip, campaign) = match kind {
                IncidentKind::ListQuality => {
                    (0.05 + rng.f64() * 0.04, None, Some(format!("import-{i}")))
                }
                IncidentKind::Blocklist => (
                    0.9,
                    Some(IPS[rng.below(IPS.len() as u64) as usize].to_string()),
                    None,
                ),
                IncidentKind::Content => (0.25 + rng.f64() * 0.3, None, Some(format!("promo-{i}"))),
                _ => (0.15 + rng.f64() * 0.35, None, None),
            };
            injections.push(Injection {
                kind,
                provider: provider.into(),
                start_ms: start,
                end_ms: start + dur,
                intensity,
                ip,
                campaign,
                peak_hour_events: 0,
            });
        }
        SynthConfig {
            seed,
            start_ms,
            hours,
            per_hour,
            injections,
        }
    }
}

/// The reply a provider gives for an injected kind: (outcome, text).
pub fn incident_reply(
    kind: IncidentKind,
    provider: &str,
    ip: &str,
    addr: &str,
    rng: &mut Rng,
) -> (Outcome, String) {
    let id = format!("{:x}", rng.next_u64() & 0xffff_ffff);
    use IncidentKind::*;
    match (kind, provider) {
        (Reputation, "google") => (Outcome::Bounced, format!("550-5.7.1 [{ip}] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address. To best protect our users from spam, the message has been blocked. Please visit https://support.google.com/mail/answer/188131 for more information. {id} - gsmtp")),
        (Reputation, "microsoft") => (Outcome::Bounced, format!("550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [{id}.eurprd04.prod.outlook.com]")),
        (Reputation, "yahoo") => (Outcome::Deferred, format!("421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes")),
        (Reputation, _) => (Outcome::Bounced, format!("554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137 {id}")),
        (Blocklist, "microsoft") => (Outcome::Bounced, format!("550 5.7.1 Service unavailable, Client host [{ip}] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/{ip} (AS3130). [{id}.namprd02.prod.outlook.com]")),
        (Blocklist, "yahoo") => (Outcome::Bounced, format!("553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes")),
        (Blocklist, "google") => (Outcome::Bounced, format!("550 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip} - gsmtp")),
        (Blocklist, "apple") => (Outcome::Bounced, format!("550 5.7.1 Mail from IP {ip} was rejected due to listing in Spamhaus SBL. For details please see http://www.spamhaus.org/query/bl?ip={ip} - mx01.mail.icloud.com")),
        (Blocklist, _) => (Outcome::Bounced, format!("554 5.7.1 Service unavailable; Client host [{ip}] blocked using b.barracudacentral.org; https://www.barracudacentral.org/rbl/removal-request/{ip}")),
        (Authentication, "google") => (Outcome::Bounced, format!("550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. Authentication results: DKIM = did not pass SPF [news.sender.example] with ip: [{ip}] = did not pass For instructions on setting up authentication, go to https://support.google.com/mail/answer/81126#authentication {id} - gsmtp")),
        (Authentication, "microsoft") => (Outcome::Bounced, format!("550 5.7.509 Access denied, sending domain news.sender.example does not pass DMARC verification and has a DMARC policy of reject. [{id}.eurprd05.prod.outlook.com]")),
        (Authentication, "yahoo") => (Outcome::Bounced, "554 5.7.9 Message not accepted for policy reasons. DMARC verification failed; see https://postmaster.yahooinc.com/error-codes".to_string()),
        (Authentication, _) => (Outcome::Bounced, "550 5.7.1 Message rejected: SPF check failed for news.sender.example; DKIM signature missing".to_string()),
        (RateLimiting, "google") => (Outcome::Deferred, format!("450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later time. If the user is able to receive mail at that time, your message will be delivered. For more information, go to https://support.google.com/mail/?p=ReceivingRate {id} - gsmtp")),
        (RateLimiting, "microsoft") => (Outcome::Deferred, format!("421 4.7.0 Too many connections from [{ip}], try again later. [{id}.prod.outlook.com]")),
        (RateLimiting, _) => (Outcome::Deferred, format!("421 4.7.0 [TSS09] Rate limited: too many messages from {ip}, try again later; see https://postmaster.yahooinc.com/error-codes")),
        (Content, "microsoft") => (Outcome::Bounced, format!("550 5.7.350 Remote server returned message detected as spam -> 554 5.2.0 STOREDRV.Deliver; message rejected as spam by Content Filtering [{id}.prod.outlook.com]")),
        (Content, "yahoo") => (Outcome::Bounced, "554 Message not allowed - Headers are not RFC compliant [290] mta1.mail.yahoo.com".to_string()),
        (Content, "apple") => (Outcome::Bounced, "550 5.7.1 Message rejected as spam by Content Filtering. mx01.mail.icloud.com".to_string()),
        (Content, _) => (Outcome::Bounced, "554 5.7.1 Message rejected: spam detected in message content (URL in message body is listed)".to_string()),
        (ListQuality, p) | (Other, p) => user_unknown(p, addr),
    }
}

pub fn user_unknown(provider: &str, addr: &str) -> (Outcome, String) {
    let t = match provider {
        "google" => "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser - gsmtp".to_string(),
        "microsoft" => format!(
            "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [{addr}]"
        ),
        "yahoo" => {
            "554 delivery error: dd This user doesn't have a yahoo.com account (".to_string()
                + addr
                + ") [0] - mta1234.mail.gq1.yahoo.com"
        }
        "apple" => format!("550 5.1.1 <{addr}>: user does not exist"),
        _ => format!(
            "550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox table"
        ),
    };
    (Outcome::Bounced, t)
}

/// Background noise: (probability, outcome, text) by provider.
fn noise(provider: &str, ip: &str, addr: &str, rng: &mut Rng) -> Option<(Outcome, String)> {
    let x = rng.f64();
    if x < 0.006 {
        return Some(user_unknown(provider, addr));
    }
    if x < 0.008 {
        return Some((
            Outcome::Bounced,
            match provider {
                "google" => "552-5.2.2 The email account that you tried to reach is over quota and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm - gsmtp".to_string(),
                _ => format!("552 5.2.2 <{addr}>: Mailbox full"),
            },
        ));
    }
    if x < 0.018 {
        return Some((
            Outcome::Deferred,
            match provider {
                "yahoo" => format!(
                    "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"
                ),
                "microsoft" => format!(
                    "451 4.7.500 Server busy. Please try again later from [{ip}]. (S77714) [x.prod.outlook.com]"
                ),
                _ => "450 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.html"
                    .to_string(),
            },
        ));
    }
    if x < 0.0195 {
        return Some((
            Outcome::Deferred,
            "421 4.4.2 Connection timed out".to_string(),
        ));
    }
    if x < 0.0200 {
        return Some(incident_reply(
            IncidentKind::Reputation,
            provider,
            ip,
            addr,
            rng,
        ));
    }
    None
}

/// The generated stream: an iterator of events in time order.
pub struct Synth {
    cfg: SynthConfig,
    rng: Rng,
    norm: Normaliser,
    minute: i64,
    queue: std::collections::VecDeque<Event>,
    n: u64,
    /// Per injection, affected events per minute since its start.
    affected: Vec<Vec<u64>>,
}

impl Synth {
    pub fn new(cfg: SynthConfig) -> Self {
        Synth {
            rng: Rng::new(cfg.seed),
            norm: Normaliser::new(),
            minute: 0,
            queue: Default::default(),
            n: 0,
            affected: cfg
                .injections
                .iter()
                .map(|i| vec![0; ((i.end_ms - i.start_ms) / MINUTE + 1).max(1) as usize])
                .collect(),
            cfg,
        }
    }

    fn diurnal(&self, t: i64) -> f64 {
        let h = (t.rem_euclid(86_400_000)) as f64 / HOUR as f64;
        // Peak at 15:00 UTC, trough at 03:00: 0.35× to 1.65×.
        1.0 + 0.65 * ((h - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin()
    }

    fn gen_minute(&mut self) {
        let t0 = self.cfg.start_ms + self.minute * MINUTE;
        let mean = self.cfg.per_hour / 60.0 * self.diurnal(t0);
        let n = self.rng.poisson(mean);
        let day = t0.div_euclid(86_400_000);
        let mut batch = Vec::with_capacity(n as usize + 4);
        for _ in 0..n {
            let t = t0 + self.rng.below(MINUTE as u64) as i64;
            let mut w = self.rng.f64();
            let mut p = &PROVIDERS[0];
            for pr in PROVIDERS {
                if w < pr.weight {
                    p = pr;
                    break;
                }
                w -= pr.weight;
            }
            let domain = p.domains[self.rng.below(p.domains.len() as u64) as usize];
            let addr = format!("user{}@{}", self.rng.below(2_000_000), domain);
            let ip = IPS[self.rng.below(IPS.len() as u64) as usize];
            let mut campaign = format!("news-{day}-{}", self.rng.below(3));
            let mut reply = None;
            for (k, inj) in self.cfg.injections.iter().enumerate() {
                if t < inj.start_ms || t >= inj.end_ms {
                    continue;
                }
                if inj.provider != "*" && inj.provider != p.key {
                    continue;
                }
                if inj.ip.as_deref().is_some_and(|x| x != ip) {
                    continue;
                }
                if self.rng.f64() < inj.intensity {
                    let slot = ((t - inj.start_ms) / MINUTE) as usize;
                    if let Some(x) = self.affected[k].get_mut(slot) {
                        *x += 1;
                    }
                    if let Some(c) = &inj.campaign {
                        campaign = c.clone();
                    }
                    reply = Some(incident_reply(inj.kind, p.key, ip, &addr, &mut self.rng));
                    break;
                }
            }
            if reply.is_none() {
                reply = noise(p.key, ip, &addr, &mut self.rng);
            }
            let (outcome, text) =
                reply.unwrap_or((Outcome::Delivered, "250 2.0.0 OK accepted".to_string()));
            batch.push(self.event(t, addr, ip, campaign, outcome, text));
        }
        // A feedback-loop complaint now and then.
        if self.rng.f64() < mean / 2000.0 {
            let addr = format!("user{}@yahoo.com", self.rng.below(2_000_000));
            batch.push(self.event(
                t0 + 30_000,
                addr,
                IPS[0],
                format!("news-{day}-0"),
                Outcome::Complained,
                String::new(),
            ));
        }
        batch.sort_by_key(|e| e.time_ms);
        self.queue.extend(batch);
    }

    fn event(
        &mut self,
        t: i64,
        addr: String,
        ip: &str,
        campaign: String,
        outcome: Outcome,
        text: String,
    ) -> Event {
        self.n += 1;
        let hint = match outcome {
            Outcome::Delivered => Some(rebound_core::Reason::Delivered),
            Outcome::Complained => Some(rebound_core::Reason::Feedback),
            _ => None,
        };
        let obs = Observation {
            text: text.clone(),
            smtpcommand: Some(if text.contains("content") || text.contains("5.7.0") {
                "DATA".into()
            } else {
                "RCPT".into()
            }),
            recipient: Some(addr.clone()),
            action: Some(
                match outcome {
                    Outcome::Delivered => "delivered",
                    Outcome::Deferred => "delayed",
                    _ => "failed",
                }
                .into(),
            ),
            reason_hint: hint,
            source: Some("pmta".into()),
            ..Observation::default()
        };
        let verdict = self.norm.classify(&obs);
        Event {
            time_ms: t,
            recipient_domain: rebound_ingest::domain_of(&addr).to_string(),
            recipient: addr,
            sender: Some("news@sender.example".into()),
            sending_ip: Some(ip.to_string()),
            campaign: Some(campaign),
            message_id: Some(format!("synth-{}-{}@sender.example", self.cfg.seed, self.n)),
            outcome,
            text,
            format: "synth".into(),
            source: format!("synth:{}", self.n),
            dedupe_key: dedupe_key(&format!("synth\u{1f}{}\u{1f}{}", self.cfg.seed, self.n)),
            verdict,
            evidence: Default::default(),
        }
    }
}

impl Synth {
    /// The injections with their generated volume (`peak_hour_events`),
    /// once the stream has been consumed.
    pub fn injections(&self) -> Vec<Injection> {
        self.cfg
            .injections
            .iter()
            .zip(&self.affected)
            .map(|(i, per_min)| {
                let peak = (0..per_min.len())
                    .map(|s| per_min[s..(s + 60).min(per_min.len())].iter().sum::<u64>())
                    .max()
                    .unwrap_or(0);
                Injection {
                    peak_hour_events: peak,
                    ..i.clone()
                }
            })
            .collect()
    }
}

impl Iterator for Synth {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        while self.queue.is_empty() {
            if self.minute >= self.cfg.hours * 60 {
                return None;
            }
            self.gen_minute();
            self.minute += 1;
        }
        self.queue.pop_front()
    }
}

/// How detection did against the injected truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub injected: usize,
    /// Injections that never reached `floor` affected events in an hour
    /// (below what the thresholds call meaningful volume): left out of
    /// recall, though detections matching them count as true positives.
    pub below_floor: usize,
    pub detected: usize,
    /// Detected incidents that match an injection.
    pub true_positives: usize,
    /// Injections matched by at least one detection.
    pub found: usize,
    pub precision: f64,
    pub recall: f64,
    /// Per found injection: minutes from its start to the first matching
    /// incident's opening.
    pub minutes_to_detect: Vec<f64>,
    pub unmatched_detections: Vec<String>,
    pub missed_injections: Vec<String>,
}

/// Whether a detected incident matches an injection: same kind, same
/// provider (any for `*`), and overlapping in time.
pub fn matches(d: &Incident, i: &Injection) -> bool {
    let d_end = d.closed_ms.unwrap_or(d.last_seen_ms).max(d.last_seen_ms);
    d.kind == i.kind
        && (i.provider == "*" || d.provider == i.provider)
        && d.first_seen_ms < i.end_ms
        && d_end >= i.start_ms
}

/// Scores detections against injections; `floor` is the detector's
/// `min_events` (injections whose busiest hour stayed below it are not
/// expected to be found).
pub fn score(injected: &[Injection], detected: &[Incident], floor: u64) -> Score {
    let tp = detected
        .iter()
        .filter(|d| injected.iter().any(|i| matches(d, i)))
        .count();
    let mut ttd = Vec::new();
    let mut missed = Vec::new();
    let mut below = 0;
    for i in injected {
        if i.peak_hour_events < floor {
            below += 1;
            continue;
        }
        let first = detected
            .iter()
            .filter(|d| matches(d, i))
            .map(|d| d.opened_ms)
            .min();
        match first {
            Some(o) => ttd.push((o - i.start_ms) as f64 / MINUTE as f64),
            None => missed.push(format!(
                "{:?} at {} from {}",
                i.kind, i.provider, i.start_ms
            )),
        }
    }
    let unmatched = detected
        .iter()
        .filter(|d| !injected.iter().any(|i| matches(d, i)))
        .map(|d| {
            format!(
                "{:?} at {} [{}] {} events: {}",
                d.kind, d.provider, d.family, d.events, d.pattern
            )
        })
        .collect();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Score {
        injected: injected.len(),
        below_floor: below,
        detected: detected.len(),
        true_positives: tp,
        found: ttd.len(),
        precision: ratio(tp, detected.len()),
        recall: ratio(ttd.len(), injected.len() - below),
        minutes_to_detect: ttd,
        unmatched_detections: unmatched,
        missed_injections: missed,
    }
}
