//! Incident detection: one streaming pass over events in time order.
//!
//! Failed attempts are grouped by *signature*: the receiving provider, the
//! code family (`5.7.x` from the enhanced status, else the reason) and the
//! reply pattern. Dead-address bounces (userunknown, hostunknown, hasmoved,
//! notaccept) instead go to one cross-provider *list quality* signature,
//! since an import of bad addresses hits every provider at once.
//!
//! Time is cut into minutes. Each signature and each provider keeps a
//! sliding window (default 60 minutes) of per-minute counts. After each
//! minute, a signature whose window count `c` satisfies
//!
//! * `c >= min_events` (20), and
//! * `c / provider attempts in the window >= min_share` (5%), or
//!   `c >= spike_factor × max(baseline, baseline_floor)` (5× the trailing
//!   baseline, an exponentially weighted average of the signature's own
//!   per-window count, frozen while an incident is open)
//!
//! opens an incident (list quality: the share is of all attempts and must
//! reach `list_quality_bounce_rate`, 2%). It closes when the same test with
//! every threshold multiplied by `close_factor` (0.5) fails. Mailbox-level
//! reasons (full, suspended) and successes never open one; neither does a
//! single invalid recipient or a handful of 421s (fewer than `min_events`).
//!
//! Events may arrive slightly out of order: minutes are held back
//! `lateness_minutes` after the newest event seen before being judged; an
//! event older than that is counted in the oldest minute still open.

use crate::model::Map;
use crate::model::{Flags, Row};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MINUTE: i64 = 60_000;
const LIST_QUALITY_KEY: &str = "*\u{1f}recipient\u{1f}*";
/// Entries kept per affected-asset counter.
const MAX_ASSETS: usize = 64;

/// Detection thresholds (`[incidents]` in a TOML file, or flags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Sliding window, minutes.
    pub window_minutes: u32,
    /// Events of one signature needed in the window.
    pub min_events: u64,
    /// Share of the provider's attempts in the window.
    pub min_share: f64,
    /// …or this many times the signature's trailing baseline.
    pub spike_factor: f64,
    /// Smallest baseline the spike test uses (events per window), so that a
    /// signature never seen before needs `spike_factor × baseline_floor`.
    pub baseline_floor: f64,
    /// Half-life of the trailing baseline, hours.
    pub baseline_half_life_hours: f64,
    /// Minutes of history the detector must have seen before the spike
    /// test applies (until then only the share test can open an incident).
    pub baseline_warmup_minutes: u32,
    /// Overall dead-address bounce rate that makes a list-quality incident.
    pub list_quality_bounce_rate: f64,
    /// Thresholds are multiplied by this to decide that an incident is over.
    pub close_factor: f64,
    /// Minutes a minute is held back for late events.
    pub lateness_minutes: u32,
    /// Sample replies kept per incident.
    pub samples: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self {
            window_minutes: 60,
            min_events: 20,
            min_share: 0.05,
            spike_factor: 5.0,
            baseline_floor: 10.0,
            baseline_half_life_hours: 12.0,
            baseline_warmup_minutes: 60,
            list_quality_bounce_rate: 0.02,
            close_factor: 0.5,
            lateness_minutes: 5,
            samples: 3,
        }
    }
}

/// What kind of trouble an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The provider refuses on reputation or policy.
    Reputation,
    /// A DNS blocklist lists the sending IP or domain.
    Blocklist,
    /// SPF, DKIM, DMARC, PTR or TLS failures.
    Authentication,
    /// The provider throttles (too fast, too many connections).
    RateLimiting,
    /// The content is refused (spam, virus, links).
    Content,
    /// A wave of dead addresses (typically a list import).
    ListQuality,
    /// Anything else at volume (remote trouble, unknown).
    Other,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Reputation => "reputation",
            IncidentKind::Blocklist => "blocklist",
            IncidentKind::Authentication => "authentication",
            IncidentKind::RateLimiting => "rate_limiting",
            IncidentKind::Content => "content",
            IncidentKind::ListQuality => "list_quality",
            IncidentKind::Other => "other",
        }
    }

    /// The kind a failed attempt points to; `None` for failures that never
    /// make an incident (mailbox full, suspended) or are not failures.
    pub fn of(reason: &str, owner: &str, blocklist: bool) -> Option<IncidentKind> {
        if blocklist {
            return Some(IncidentKind::Blocklist);
        }
        Some(match reason {
            "userunknown" | "hostunknown" | "hasmoved" | "notaccept" => IncidentKind::ListQuality,
            "mailboxfull" | "suspend" | "delivered" | "feedback" | "vacation" | "suppressed" => {
                return None;
            }
            "authfailure" | "requireptr" | "failedstarttls" => IncidentKind::Authentication,
            "speeding" | "toomanyconn" => IncidentKind::RateLimiting,
            "spamdetected" | "contenterror" | "virusdetected" => IncidentKind::Content,
            "blocked" | "badreputation" | "policyviolation" | "rejected" => {
                IncidentKind::Reputation
            }
            _ => match owner {
                "sender_auth" => IncidentKind::Authentication,
                "content" => IncidentKind::Content,
                "sender_reputation" | "policy" => IncidentKind::Reputation,
                "mailbox" | "recipient" | "none" => return None,
                _ => IncidentKind::Other,
            },
        })
    }
}

/// The blocklist an incident names, and what it lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedAsset {
    /// Operator (`spamhaus`) and zone when known (`zen.spamhaus.org`).
    pub list: String,
    /// `ip`, `domain`, `url`, `unknown`.
    pub listed: String,
    /// The sending IP (or IPs) refused, when the list holds an IP.
    pub assets: Vec<String>,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub kind: IncidentKind,
    /// Receiving provider; `*` for list quality (all providers).
    pub provider: String,
    /// `5.7.x`-style family, or the reason when there is no status.
    pub family: String,
    pub pattern: String,
    pub reason: String,
    /// Who owns the problem (the verdicts' owner: `sender_reputation`,
    /// `sender_auth`, `content`, `recipient` for list quality, …).
    #[serde(default)]
    pub owner: String,
    /// `open` or `closed`.
    pub state: String,
    /// When the thresholds were crossed (end of that minute).
    pub opened_ms: i64,
    pub closed_ms: Option<i64>,
    /// First and last matching event of the episode.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Matching events since the episode began.
    pub events: u64,
    /// Largest window count, and the share of attempts then.
    pub peak_window_events: u64,
    pub peak_share: f64,
    /// Attempts (to the provider, or overall) in the window at opening.
    pub window_attempts_at_open: u64,
    /// Most affected assets, most frequent first, with their counts.
    pub ips: Vec<(String, u64)>,
    pub domains: Vec<(String, u64)>,
    pub campaigns: Vec<(String, u64)>,
    /// Providers affected (list quality).
    pub providers: Vec<(String, u64)>,
    pub blocklist: Option<ListedAsset>,
    pub samples: Vec<String>,
    /// The recommended first action.
    pub action: String,
}

/// An incident opened or closed, as reported by [`Detector::drain_changes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `opened` or `closed`.
    pub change: String,
    pub incident: Incident,
}

/// A sliding window of per-minute counts.
#[derive(Debug, Clone)]
struct Ring {
    slots: Vec<u64>,
    last: i64,
    sum: u64,
}

impl Ring {
    fn new(n: usize) -> Self {
        Ring {
            slots: vec![0; n.max(1)],
            last: i64::MIN,
            sum: 0,
        }
    }

    fn advance(&mut self, minute: i64) {
        let n = self.slots.len() as i64;
        if self.last == i64::MIN || minute - self.last >= n {
            self.slots.iter_mut().for_each(|s| *s = 0);
            self.sum = 0;
        } else {
            for m in self.last + 1..=minute {
                let i = m.rem_euclid(n) as usize;
                self.sum -= self.slots[i];
                self.slots[i] = 0;
            }
        }
        if minute > self.last || self.last == i64::MIN {
            self.last = minute;
        }
    }

    fn add(&mut self, minute: i64, v: u64) {
        self.advance(minute);
        let i = minute.rem_euclid(self.slots.len() as i64) as usize;
        self.slots[i] += v;
        self.sum += v;
    }

    fn sum_at(&mut self, minute: i64) -> u64 {
        self.advance(minute);
        self.sum
    }

    /// The sum of the last `k` minutes up to `minute`.
    fn sum_last(&mut self, minute: i64, k: i64) -> u64 {
        self.advance(minute);
        let n = self.slots.len() as i64;
        if k >= n {
            return self.sum;
        }
        (minute - k + 1..=minute)
            .map(|m| self.slots[m.rem_euclid(n) as usize])
            .sum()
    }
}

#[derive(Debug, Default)]
struct Counter(Map<String, u64>);

impl Counter {
    fn bump(&mut self, k: Option<&str>) {
        let Some(k) = k.filter(|k| !k.is_empty()) else {
            return;
        };
        if let Some(v) = self.0.get_mut(k) {
            *v += 1;
        } else if self.0.len() < MAX_ASSETS {
            self.0.insert(k.to_string(), 1);
        }
    }

    fn merge(&mut self, other: Counter) {
        for (k, n) in other.0 {
            if let Some(v) = self.0.get_mut(&k) {
                *v += n;
            } else if self.0.len() < MAX_ASSETS {
                self.0.insert(k, n);
            }
        }
    }

    fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self.0.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

#[derive(Debug)]
struct Sig {
    provider: String,
    family: String,
    pattern: String,
    reason: String,
    owner: String,
    kind: IncidentKind,
    blocklist: Option<String>,
    ring: Ring,
    /// Trailing baseline: EWMA of the per-minute count.
    ewma: f64,
    ewma_minute: i64,
    /// The current episode (since the window was last empty).
    episode_first_ms: i64,
    episode_last_ms: i64,
    episode_events: u64,
    ips: Counter,
    domains: Counter,
    campaigns: Counter,
    providers: Counter,
    /// IPs named by the replies of a blocklist signature.
    listed_ips: Counter,
    samples: Vec<String>,
    /// Events of minutes not judged yet, by minute.
    ahead: BTreeMap<i64, Ahead>,
    open: Option<Incident>,
}

/// A signature's events of one minute that is not judged yet. They join
/// the episode only when their minute is judged: minutes are judged
/// `lateness_minutes` behind the newest event, so an incident that closes
/// in a minute judged after a new burst began must neither count that
/// burst nor wipe it; its events start the next episode, whose first seen
/// is then their own time and not that of the first event after the
/// close.
#[derive(Debug)]
struct Ahead {
    events: u64,
    first_ms: i64,
    last_ms: i64,
    ips: Counter,
    domains: Counter,
    campaigns: Counter,
    providers: Counter,
    listed_ips: Counter,
    samples: Vec<String>,
}

impl Ahead {
    fn new() -> Self {
        Ahead {
            events: 0,
            first_ms: i64::MAX,
            last_ms: i64::MIN,
            ips: Counter::default(),
            domains: Counter::default(),
            campaigns: Counter::default(),
            providers: Counter::default(),
            listed_ips: Counter::default(),
            samples: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Slice {
    attempts: Map<String, u64>,
    all_attempts: u64,
    sigs: Map<String, u64>,
}

/// The streaming detector. Feed events in (roughly) time order with
/// [`Detector::push`]; read [`Detector::open_incidents`],
/// [`Detector::closed_incidents`] and [`Detector::drain_changes`] at any
/// time; [`Detector::finish`] judges the minutes still held back.
pub struct Detector {
    cfg: DetectConfig,
    decay: f64,
    providers: Map<String, Ring>,
    all: Ring,
    sigs: Map<String, Sig>,
    pending: BTreeMap<i64, Slice>,
    /// Minutes up to this one (exclusive) are judged.
    judged_until: i64,
    max_seen_ms: i64,
    closed: Vec<Incident>,
    changes: Vec<Change>,
    key: String,
    minutes_judged: u64,
    first_minute: i64,
    /// Events that arrived after their minute was judged.
    pub late_events: u64,
}

impl Detector {
    pub fn new(cfg: DetectConfig) -> Self {
        let half_life_min = (cfg.baseline_half_life_hours * 60.0).max(1.0);
        Detector {
            decay: 0.5f64.powf(1.0 / half_life_min),
            all: Ring::new(cfg.window_minutes as usize),
            cfg,
            providers: Map::default(),
            sigs: Map::default(),
            pending: BTreeMap::new(),
            judged_until: i64::MIN,
            max_seen_ms: i64::MIN,
            closed: Vec::new(),
            changes: Vec::new(),
            key: String::new(),
            minutes_judged: 0,
            first_minute: i64::MIN,
            late_events: 0,
        }
    }

    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// Feeds one event.
    pub fn push(&mut self, r: &Row<'_>) {
        self.push_n(r, 1);
    }

    /// Feeds `n` events like `r`.
    pub fn push_n(&mut self, r: &Row<'_>, n: u64) {
        let f = Flags::of(r);
        if !f.attempted {
            return;
        }
        let mut minute = r.time_ms.div_euclid(MINUTE);
        if minute < self.judged_until {
            self.late_events += 1;
            minute = self
                .pending
                .keys()
                .next()
                .copied()
                .unwrap_or(self.judged_until);
        }
        let slice = self.pending.entry(minute).or_default();
        slice.all_attempts += n;
        if let Some(v) = slice.attempts.get_mut(r.provider) {
            *v += n;
        } else {
            slice.attempts.insert(r.provider.to_string(), n);
        }
        if f.failed() {
            let kind = IncidentKind::of(r.reason, r.owner, r.blocklist.is_some());
            if let Some(kind) = kind {
                self.key.clear();
                if kind == IncidentKind::ListQuality {
                    // Only final dead-address bounces.
                    if f.bounced {
                        self.key.push_str(LIST_QUALITY_KEY);
                    }
                } else {
                    self.key.push_str(r.provider);
                    self.key.push('\u{1f}');
                    push_family(&mut self.key, r.status, r.reason);
                    self.key.push('\u{1f}');
                    self.key.push_str(r.pattern);
                }
                if !self.key.is_empty() {
                    if let Some(v) = slice.sigs.get_mut(self.key.as_str()) {
                        *v += n;
                    } else {
                        slice.sigs.insert(self.key.clone(), n);
                    }
                    let cfg_samples = self.cfg.samples;
                    let window = self.cfg.window_minutes as usize;
                    let sig = match self.sigs.get_mut(self.key.as_str()) {
                        Some(s) => s,
                        None => {
                            let s = new_sig(r, kind, window);
                            self.sigs.entry(self.key.clone()).or_insert(s)
                        }
                    };
                    // Held with its minute until that minute is judged: see
                    // `Ahead`.
                    let a = sig.ahead.entry(minute).or_insert_with(Ahead::new);
                    a.events += n;
                    a.first_ms = a.first_ms.min(r.time_ms);
                    a.last_ms = a.last_ms.max(r.time_ms);
                    a.ips.bump(r.ip);
                    a.domains.bump(Some(r.domain));
                    a.campaigns.bump(r.campaign);
                    a.providers.bump(Some(r.provider));
                    if r.blocklist.is_some() {
                        // The address the list holds is the one the reply
                        // names; the event's own sending IP otherwise.
                        let named = listed_ip(r.text);
                        a.listed_ips.bump(named.as_deref().or(r.ip));
                    }
                    if a.samples.len() < cfg_samples
                        && !r.text.is_empty()
                        && !a.samples.iter().any(|s| s == r.text)
                    {
                        a.samples.push(r.text.to_string());
                    }
                    if sig.blocklist.is_none() {
                        sig.blocklist = r.blocklist.map(str::to_string);
                    }
                }
            }
        }
        self.max_seen_ms = self.max_seen_ms.max(r.time_ms);
        let hold = (self.cfg.lateness_minutes as i64 + 1) * MINUTE;
        while let Some((&m, _)) = self.pending.first_key_value() {
            if m * MINUTE + hold > self.max_seen_ms {
                break;
            }
            self.judge_next();
        }
    }

    /// Judges every minute still held back (end of a batch).
    pub fn finish(&mut self) {
        while !self.pending.is_empty() {
            self.judge_next();
        }
    }

    /// Judges the minutes up to `now_ms` even without new events, so that
    /// incidents close when traffic stops.
    pub fn advance_to(&mut self, now_ms: i64) {
        self.max_seen_ms = self.max_seen_ms.max(now_ms);
        let hold = (self.cfg.lateness_minutes as i64 + 1) * MINUTE;
        while let Some((&m, _)) = self.pending.first_key_value() {
            if m * MINUTE + hold > self.max_seen_ms {
                break;
            }
            self.judge_next();
        }
        let target = (now_ms - hold).div_euclid(MINUTE);
        if self.judged_until != i64::MIN && target >= self.judged_until {
            self.judge_gap(self.judged_until, target + 1);
            self.judged_until = target + 1;
        }
    }

    pub fn open_incidents(&self) -> Vec<Incident> {
        let mut v: Vec<Incident> = self.sigs.values().filter_map(|s| s.open.clone()).collect();
        v.sort_by(|a, b| {
            a.opened_ms
                .cmp(&b.opened_ms)
                .then(a.provider.cmp(&b.provider))
        });
        v
    }

    pub fn closed_incidents(&self) -> &[Incident] {
        &self.closed
    }

    /// Every incident, closed ones first then open ones, by opening time.
    pub fn incidents(&self) -> Vec<Incident> {
        let mut v = self.closed.clone();
        v.extend(self.open_incidents());
        v.sort_by(|a, b| {
            a.opened_ms
                .cmp(&b.opened_ms)
                .then(a.provider.cmp(&b.provider))
        });
        v
    }

    /// Incidents opened or closed since the last call.
    pub fn drain_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    fn judge_next(&mut self) {
        let Some((m, slice)) = self.pending.pop_first() else {
            return;
        };
        if self.judged_until != i64::MIN && m > self.judged_until {
            self.judge_gap(self.judged_until, m);
        }
        self.judge_minute(m, Some(slice));
        self.judged_until = self.judged_until.max(m + 1);
    }

    /// Minutes without events: only open incidents can change (close).
    fn judge_gap(&mut self, from: i64, to: i64) {
        let any_open = self.sigs.values().any(|s| s.open.is_some());
        if !any_open {
            return;
        }
        let to = to.min(from + self.cfg.window_minutes as i64 + 1);
        for m in from..to {
            self.judge_minute(m, None);
        }
    }

    fn judge_minute(&mut self, m: i64, slice: Option<Slice>) {
        let cfg = self.cfg.clone();
        let mut touched: Vec<String> = Vec::new();
        if let Some(slice) = slice {
            self.all.add(m, slice.all_attempts);
            for (p, n) in slice.attempts {
                self.providers
                    .entry(p)
                    .or_insert_with(|| Ring::new(cfg.window_minutes as usize))
                    .add(m, n);
            }
            for (k, n) in slice.sigs {
                if let Some(s) = self.sigs.get_mut(&k) {
                    // A window that emptied ends the episode: the next
                    // event starts a new one (untouched signatures are not
                    // judged, so this is where their quiet is noticed).
                    if s.open.is_none() && s.ring.sum_at(m - 1) == 0 {
                        s.reset_episode();
                    }
                    s.ring.add(m, n);
                    s.absorb_until(m, cfg.samples);
                }
                touched.push(k);
            }
        }
        for (k, s) in self.sigs.iter() {
            if s.open.is_some() && !touched.contains(k) {
                touched.push(k.clone());
            }
        }
        let end_ms = (m + 1) * MINUTE;
        let window = cfg.window_minutes as f64;
        if self.first_minute == i64::MIN {
            self.first_minute = m;
        }
        // Minutes of history before this one; the baseline is an EWMA
        // started at zero, corrected for that start (as Adam's moments are).
        let history = m - self.first_minute;
        let spike_on = history >= cfg.baseline_warmup_minutes as i64;
        let correction = 1.0 - self.decay.powi(history.clamp(1, 1_000_000) as i32);
        for k in touched {
            let Some(s) = self.sigs.get_mut(&k) else {
                continue;
            };
            let c = s.ring.sum_at(m);
            // The share is taken over the episode so far (at least 5
            // minutes, at most the window), so that a sudden refusal is not
            // diluted by the quiet part of the window before it began.
            let span = if s.episode_first_ms == i64::MAX {
                window as i64
            } else {
                ((end_ms - s.episode_first_ms) / MINUTE + 1).clamp(5, window as i64)
            };
            let c_span = s.ring.sum_last(m, span);
            let attempts = if k == LIST_QUALITY_KEY {
                self.all.sum_last(m, span)
            } else {
                self.providers
                    .get_mut(&s.provider)
                    .map(|r| r.sum_last(m, span))
                    .unwrap_or(0)
            };
            let share = if attempts == 0 {
                0.0
            } else {
                c_span as f64 / attempts as f64
            };
            let min_share = if k == LIST_QUALITY_KEY {
                cfg.list_quality_bounce_rate
            } else {
                cfg.min_share
            };
            // Bring the baseline up to the previous minute (no events in
            // between means zeros).
            if s.ewma_minute != i64::MIN && m > s.ewma_minute + 1 {
                s.ewma *= self.decay.powi((m - s.ewma_minute - 1).min(100_000) as i32);
            }
            let baseline = (s.ewma / correction * window).max(cfg.baseline_floor);
            let test = |factor: f64| {
                c as f64 >= cfg.min_events as f64 * factor
                    && (share >= min_share * factor
                        || (spike_on && c as f64 >= cfg.spike_factor * baseline * factor))
            };
            match &mut s.open {
                None => {
                    if test(1.0) {
                        let inc = s.snapshot(IncidentKindState::Open, end_ms, c, share, attempts);
                        self.changes.push(Change {
                            change: "opened".into(),
                            incident: inc.clone(),
                        });
                        s.open = Some(inc);
                    }
                }
                Some(_) => {
                    if test(cfg.close_factor) {
                        let inc = s.snapshot(IncidentKindState::Open, end_ms, c, share, attempts);
                        s.open = Some(inc);
                    } else {
                        let mut inc =
                            s.snapshot(IncidentKindState::Closed, end_ms, c, share, attempts);
                        inc.closed_ms = Some(end_ms);
                        s.open = None;
                        self.changes.push(Change {
                            change: "closed".into(),
                            incident: inc.clone(),
                        });
                        self.closed.push(inc);
                        s.reset_episode();
                    }
                }
            }
            // The minute's own count enters the baseline unless an incident
            // is open (the baseline is what is normal).
            let this_minute = s.ring.slots[m.rem_euclid(s.ring.slots.len() as i64) as usize];
            if s.open.is_none() {
                s.ewma = s.ewma * self.decay + (1.0 - self.decay) * this_minute as f64;
            }
            s.ewma_minute = m;
            if c == 0 && s.open.is_none() {
                s.reset_episode();
            }
        }
        self.minutes_judged += 1;
        if self.minutes_judged.is_multiple_of(240) {
            self.prune(m);
        }
    }

    /// Forgets signatures that are quiet and have no baseline left.
    fn prune(&mut self, m: i64) {
        let decay = self.decay;
        self.sigs.retain(|_, s| {
            let age = m.saturating_sub(s.ewma_minute).clamp(0, 1_000_000) as i32;
            s.open.is_some()
                || !s.ahead.is_empty()
                || s.ring.sum_at(m) > 0
                || s.ewma * decay.powi(age) > 1e-4
        });
        let w = self.cfg.window_minutes as i64;
        self.providers.retain(|_, r| r.last.saturating_add(w) > m);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum IncidentKindState {
    Open,
    Closed,
}

impl Sig {
    fn reset_episode(&mut self) {
        self.episode_events = 0;
        self.episode_first_ms = i64::MAX;
        self.episode_last_ms = i64::MIN;
        self.ips = Counter::default();
        self.domains = Counter::default();
        self.campaigns = Counter::default();
        self.providers = Counter::default();
        self.listed_ips = Counter::default();
        self.samples.clear();
    }

    /// Moves the held events of minutes up to `m` into the episode.
    fn absorb_until(&mut self, m: i64, samples: usize) {
        while let Some(e) = self.ahead.first_entry() {
            if *e.key() > m {
                break;
            }
            let a = e.remove();
            if self.episode_events == 0 {
                self.episode_first_ms = a.first_ms;
            }
            self.episode_first_ms = self.episode_first_ms.min(a.first_ms);
            self.episode_last_ms = self.episode_last_ms.max(a.last_ms);
            self.episode_events += a.events;
            self.ips.merge(a.ips);
            self.domains.merge(a.domains);
            self.campaigns.merge(a.campaigns);
            self.providers.merge(a.providers);
            self.listed_ips.merge(a.listed_ips);
            for x in a.samples {
                if self.samples.len() < samples && !self.samples.contains(&x) {
                    self.samples.push(x);
                }
            }
        }
    }

    fn snapshot(
        &self,
        state: IncidentKindState,
        end_ms: i64,
        c: u64,
        share: f64,
        attempts: u64,
    ) -> Incident {
        let prev = self.open.as_ref();
        let (peak_c, peak_share) = match prev {
            Some(p) if p.peak_window_events >= c => (p.peak_window_events, p.peak_share),
            _ => (c, share),
        };
        let ips = self.ips.top(5);
        let blocklist = self.blocklist.as_deref().and_then(|j| {
            let b: rebound_core::Blocklist = serde_json::from_str(j).ok()?;
            let list = if b.zone.is_empty() {
                b.name.clone()
            } else {
                format!("{} ({})", b.name, b.zone)
            };
            let named = self.listed_ips.top(5);
            let (listed, assets) = match b.listed {
                // The sending domain is not among the event's fields (the
                // domains counted are the recipients').
                rebound_core::Listed::Domain => (b.listed, Vec::new()),
                rebound_core::Listed::Url => (b.listed, Vec::new()),
                // A list that refuses by IP, or one the classifier could
                // not tell: the IPs the replies name are what it lists.
                _ => {
                    let from = if named.is_empty() { &ips } else { &named };
                    let assets: Vec<String> = from.iter().map(|x| x.0.clone()).collect();
                    let listed = if assets.is_empty() {
                        b.listed
                    } else {
                        rebound_core::Listed::Ip
                    };
                    (listed, assets)
                }
            };
            Some(ListedAsset {
                list,
                listed: listed.as_str().to_string(),
                assets,
            })
        });
        let campaigns = self.campaigns.top(5);
        let mut inc = Incident {
            kind: self.kind,
            provider: self.provider.clone(),
            family: self.family.clone(),
            pattern: self.pattern.clone(),
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            state: match state {
                IncidentKindState::Open => "open",
                IncidentKindState::Closed => "closed",
            }
            .into(),
            opened_ms: prev.map(|p| p.opened_ms).unwrap_or(end_ms),
            closed_ms: None,
            first_seen_ms: self.episode_first_ms,
            last_seen_ms: self.episode_last_ms,
            events: self.episode_events,
            peak_window_events: peak_c,
            peak_share,
            window_attempts_at_open: prev.map(|p| p.window_attempts_at_open).unwrap_or(attempts),
            ips,
            domains: self.domains.top(5),
            campaigns,
            providers: self.providers.top(8),
            blocklist,
            samples: self.samples.clone(),
            action: String::new(),
        };
        inc.action = action(&inc);
        inc
    }
}

fn new_sig(r: &Row<'_>, kind: IncidentKind, window: usize) -> Sig {
    let list_quality = kind == IncidentKind::ListQuality;
    let mut family = String::new();
    push_family(&mut family, r.status, r.reason);
    Sig {
        provider: if list_quality {
            "*".into()
        } else {
            r.provider.to_string()
        },
        family: if list_quality {
            "recipient".into()
        } else {
            family
        },
        pattern: if list_quality {
            "*".into()
        } else {
            r.pattern.to_string()
        },
        reason: if list_quality {
            "userunknown".into()
        } else {
            r.reason.to_string()
        },
        owner: if list_quality {
            "recipient".into()
        } else {
            r.owner.to_string()
        },
        kind,
        blocklist: None,
        ring: Ring::new(window),
        ewma: 0.0,
        ewma_minute: i64::MIN,
        episode_first_ms: i64::MAX,
        episode_last_ms: i64::MIN,
        episode_events: 0,
        ips: Counter::default(),
        domains: Counter::default(),
        campaigns: Counter::default(),
        providers: Counter::default(),
        listed_ips: Counter::default(),
        samples: Vec::new(),
        ahead: BTreeMap::new(),
        open: None,
    }
}

/// The IP address a blocklist refusal names: the client address as ingest
/// reads it (`rebound_ingest::client_ip`: `Client host [IP]`, `IP address
/// IP`, `IP is listed`, a lookup link), never a server's (`host[IP]`). One
/// reader, so that an incident's listed IP and the sending IP stored with
/// its events agree.
pub fn listed_ip(text: &str) -> Option<String> {
    rebound_ingest::client_ip::named_in(text, None)
}

/// `5.7.x` from `5.7.1`; the reason when there is no enhanced status.
pub fn push_family(out: &mut String, status: Option<&str>, reason: &str) {
    match status.and_then(|s| {
        let mut it = s.split('.');
        Some((it.next()?, it.next()?))
    }) {
        Some((class, subject)) => {
            out.push_str(class);
            out.push('.');
            out.push_str(subject);
            out.push_str(".x");
        }
        None => out.push_str(reason),
    }
}

fn list(v: &[(String, u64)]) -> String {
    if v.is_empty() {
        return "the affected traffic".into();
    }
    v.iter()
        .map(|x| x.0.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The recommended first action for an incident.
pub fn action(i: &Incident) -> String {
    match i.kind {
        IncidentKind::Reputation => format!(
            "Slow down or pause sending to {} from {}; check complaints and engagement targeting of {} and the provider's postmaster tools before resuming.",
            i.provider,
            list(&i.ips),
            list(&i.campaigns)
        ),
        IncidentKind::Blocklist => match &i.blocklist {
            Some(b) => format!(
                "Look up {} on {} and request delisting once the cause is fixed; move traffic to {} off the listed {} meanwhile.",
                if b.assets.is_empty() {
                    "the sender".to_string()
                } else {
                    b.assets.join(", ")
                },
                b.list,
                i.provider,
                match b.listed.as_str() {
                    "domain" => "domain",
                    "url" => "URL",
                    _ => "IP",
                }
            ),
            None => format!(
                "Find which list {} uses to refuse {} and request delisting.",
                i.provider,
                list(&i.ips)
            ),
        },
        IncidentKind::Authentication => format!(
            "Check SPF, DKIM and DMARC alignment of the sending domain and the PTR of {}: {} is refusing unauthenticated mail.",
            list(&i.ips),
            i.provider
        ),
        IncidentKind::RateLimiting => format!(
            "Lower the sending rate and concurrency to {} from {}; deferred mail will be retried.",
            i.provider,
            list(&i.ips)
        ),
        IncidentKind::Content => format!(
            "Review the content of {} (links, URLs, attachments, spammy phrasing): {} refuses it.",
            list(&i.campaigns),
            i.provider
        ),
        IncidentKind::ListQuality => format!(
            "Stop {} and validate the list it was sent to (a recent import?); the dead addresses are suppressed automatically.",
            list(&i.campaigns)
        ),
        IncidentKind::Other => format!(
            "Look at the sample replies from {}: failures at volume with no known sender-side cause.",
            i.provider
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_793_577_600_000;

    fn row(
        t: i64,
        provider: &'static str,
        outcome: &'static str,
        reason: &'static str,
    ) -> Row<'static> {
        let (owner, status, pattern) = match reason {
            "delivered" => ("none", None, ""),
            "blocked" => ("sender_reputation", Some("5.7.1"), "550 5.7.1 blocked <ip>"),
            "userunknown" => ("recipient", Some("5.1.1"), "550 5.1.1 user unknown"),
            "toomanyconn" => (
                "sender_reputation",
                Some("4.7.0"),
                "421 4.7.0 too many connections",
            ),
            _ => ("unknown", None, "?"),
        };
        Row {
            time_ms: t,
            provider,
            domain: "example.net",
            ip: Some("198.51.100.1"),
            campaign: Some("c1"),
            outcome,
            reason,
            owner,
            status,
            hardbounce: reason == "userunknown",
            pattern,
            blocklist: None,
            text: pattern,
        }
    }

    /// `per_min` deliveries a minute to `provider` for `minutes`, plus
    /// `extra(minute)` failures of `reason` spread over that minute.
    fn run(
        d: &mut Detector,
        provider: &'static str,
        per_min: i64,
        minutes: i64,
        outcome: &'static str,
        reason: &'static str,
        extra: impl Fn(i64) -> i64,
    ) {
        for m in 0..minutes {
            let t = T0 + m * MINUTE;
            for i in 0..per_min {
                d.push(&row(
                    t + i * MINUTE / per_min.max(1),
                    provider,
                    "delivered",
                    "delivered",
                ));
            }
            for i in 0..extra(m) {
                d.push(&row(t + 500 + i, provider, outcome, reason));
            }
        }
        d.finish();
    }

    #[test]
    fn a_burst_of_blocks_opens_and_then_closes() {
        let mut d = Detector::new(DetectConfig::default());
        // 20 a minute; 5 blocks a minute during minutes 60..66.
        run(&mut d, "google", 20, 200, "bounced", "blocked", |m| {
            if (60..66).contains(&m) { 5 } else { 0 }
        });
        let v = d.incidents();
        assert_eq!(v.len(), 1, "{v:#?}");
        let i = &v[0];
        assert_eq!(
            (i.kind, i.provider.as_str(), i.family.as_str()),
            (IncidentKind::Reputation, "google", "5.7.x")
        );
        assert_eq!(i.events, 30);
        // 20 events reached during minute 63 (5 a minute from minute 60).
        assert_eq!(i.opened_ms, T0 + 64 * MINUTE);
        assert_eq!(i.first_seen_ms, T0 + 60 * MINUTE + 500);
        // Stays open while the window holds at least 25 (half of 5× the
        // baseline floor of 10); at minute 121 it holds minutes 62-65: 20,
        // and 20/1220 is under half of 5%.
        assert_eq!(i.closed_ms, Some(T0 + 122 * MINUTE));
        assert_eq!(i.state, "closed");
    }

    #[test]
    fn below_twenty_events_nothing_opens() {
        let mut d = Detector::new(DetectConfig::default());
        run(&mut d, "google", 20, 200, "bounced", "blocked", |m| {
            if m == 60 { 19 } else { 0 }
        });
        assert!(d.incidents().is_empty());
        // A handful of 421s at a small provider: high share, few events.
        let mut d = Detector::new(DetectConfig::default());
        run(
            &mut d,
            "tiny.example",
            1,
            120,
            "deferred",
            "toomanyconn",
            |m| if m % 10 == 0 { 1 } else { 0 },
        );
        assert!(d.incidents().is_empty());
        // A single invalid recipient.
        let mut d = Detector::new(DetectConfig::default());
        run(&mut d, "google", 20, 120, "bounced", "userunknown", |m| {
            (m == 30) as i64
        });
        assert!(d.incidents().is_empty());
    }

    #[test]
    fn a_spike_over_the_baseline_opens_below_the_share() {
        let mut d = Detector::new(DetectConfig::default());
        // 200 a minute; 1 deferral every 2 minutes for a day (30 an hour,
        // 0.25%), then 4 a minute (240 an hour, 2%: below 5%, above 5× 30).
        run(
            &mut d,
            "microsoft",
            200,
            26 * 60,
            "deferred",
            "toomanyconn",
            |m| {
                if m < 24 * 60 { (m % 2 == 0) as i64 } else { 4 }
            },
        );
        let v = d.incidents();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].kind, IncidentKind::RateLimiting);
        assert!(v[0].peak_share < 0.05);
        assert!(v[0].opened_ms > T0 + 24 * 60 * MINUTE);
    }

    #[test]
    fn list_quality_needs_two_percent_of_all_attempts() {
        // 1.5% dead addresses: not a wave.
        let mut d = Detector::new(DetectConfig::default());
        run(&mut d, "google", 200, 180, "bounced", "userunknown", |_| 3);
        assert!(d.incidents().is_empty(), "{:#?}", d.incidents());
        // 3%: one list-quality incident for all providers.
        let mut d = Detector::new(DetectConfig::default());
        run(&mut d, "google", 200, 180, "bounced", "userunknown", |m| {
            if m >= 60 { 6 } else { 0 }
        });
        let v = d.incidents();
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].kind, v[0].provider.as_str()),
            (IncidentKind::ListQuality, "*")
        );
        assert_eq!(v[0].state, "open");
        assert_eq!(v[0].campaigns[0].0, "c1");
    }

    #[test]
    fn late_events_within_the_lateness_count_in_their_minute() {
        let mut d = Detector::new(DetectConfig::default());
        for m in 0..30 {
            for i in 0..10 {
                d.push(&row(
                    T0 + m * MINUTE + i * 1000,
                    "yahoo",
                    "delivered",
                    "delivered",
                ));
            }
        }
        // Three minutes late: still counted in minute 27, nothing folded.
        d.push(&row(T0 + 27 * MINUTE, "yahoo", "bounced", "blocked"));
        assert_eq!(d.late_events, 0);
        d.advance_to(T0 + 3 * 3_600_000);
        d.push(&row(T0, "yahoo", "bounced", "blocked"));
        assert_eq!(d.late_events, 1);
    }

    const M8: i64 = 480; // 08:00, in minutes of the day

    fn block(t: i64, ip: Option<&'static str>, text: &'static str) -> Row<'static> {
        Row {
            time_ms: t,
            provider: "google",
            domain: "gmail.com",
            ip,
            campaign: Some("c1"),
            outcome: "bounced",
            reason: "blocked",
            owner: "sender_reputation",
            status: Some("5.7.1"),
            hardbounce: false,
            pattern: "550 5.7.1 blocked <ip>",
            blocklist: None,
            text,
        }
    }

    /// 100 deliveries a minute to google over minutes `from..to` of the day
    /// and, in the minutes `blocks` says, that many refusals, the first at
    /// second 2 of the minute.
    fn day(d: &mut Detector, from: i64, to: i64, blocks: impl Fn(i64) -> i64) {
        for m in from..to {
            let t = T0 + m * MINUTE;
            for i in 0..100 {
                d.push(&row(t + i * 600, "google", "delivered", "delivered"));
            }
            for i in 0..blocks(m) {
                d.push(&block(
                    t + 2_000 + i * 100,
                    Some("198.51.100.1"),
                    "550 5.7.1 blocked",
                ));
            }
        }
        d.finish();
    }

    /// 8 refusals a minute over 08:00–08:09.
    fn burst_b(m: i64) -> i64 {
        if (M8..M8 + 10).contains(&m) { 8 } else { 0 }
    }

    #[test]
    fn an_incident_starts_at_its_first_event_whatever_closed_before_it() {
        // Burst A, 8 a minute over 06:53–07:02, opens an incident that
        // closes when fewer than 25 of its events are left in the hour
        // (half of 5× the baseline floor; its share of ~6,000 attempts is
        // far under 2.5%): three of its minutes, 24 events, at minute
        // 07:59, so closed at 08:00. That minute is judged only at 08:05
        // (5 minutes of hold-back), after burst B's first refusals arrived
        // at 08:00:02.
        let mut d = Detector::new(DetectConfig::default());
        day(&mut d, 0, 9 * 60, |m| {
            if (413..423).contains(&m) {
                8
            } else {
                burst_b(m)
            }
        });
        let v = d.incidents();
        assert_eq!(v.len(), 2, "{v:#?}");
        let (a, b) = (&v[0], &v[1]);
        assert_eq!(a.closed_ms, Some(T0 + M8 * MINUTE));
        // A keeps its own 80 events and ends with its last one (minute
        // 07:02, the 8th refusal at second 2.7).
        assert_eq!(a.events, 80);
        assert_eq!(a.last_seen_ms, T0 + 422 * MINUTE + 2_700);
        // B is seen from its first refusal, 08:00:02, with all 80 events.
        assert_eq!(b.first_seen_ms, T0 + M8 * MINUTE + 2_000);
        assert_eq!(b.events, 80);
        // Opened when its share over the 5 minutes before reached 5%:
        // at 08:03, 32 of 4 × 108 + 100 attempts (6%); at 08:02 it was
        // 24 of 3 × 108 + 2 × 100 (4.6%).
        assert_eq!(b.opened_ms, T0 + (M8 + 4) * MINUTE);

        // The same burst in a window that begins at 07:30: the same start
        // (and the same opening: the 5 minutes before hold the same
        // attempts).
        let mut d = Detector::new(DetectConfig::default());
        day(&mut d, M8 - 30, 9 * 60, burst_b);
        let v = d.incidents();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].first_seen_ms, T0 + M8 * MINUTE + 2_000);
        assert_eq!(v[0].opened_ms, T0 + (M8 + 4) * MINUTE);
    }

    #[test]
    fn a_stray_refusal_hours_before_is_not_the_incident_start() {
        // One refusal of the same signature at 05:00: its hour passes
        // empty, so it is not part of the 08:00 episode.
        let mut d = Detector::new(DetectConfig::default());
        day(&mut d, 0, 9 * 60, |m| if m == 300 { 1 } else { burst_b(m) });
        let v = d.incidents();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].first_seen_ms, T0 + M8 * MINUTE + 2_000);
        assert_eq!(v[0].events, 80);
    }

    #[test]
    fn a_blocklist_incident_names_the_ip_of_the_replies() {
        // Postfix-like events: no sending IP of their own; the reply names
        // it, in a form the ingest reader does not take.
        let mut d = Detector::new(DetectConfig::default());
        for m in 0..120 {
            let t = T0 + m * MINUTE;
            for i in 0..100 {
                d.push(&row(t + i * 600, "google", "delivered", "delivered"));
            }
            if m >= 60 {
                for i in 0..10 {
                    let mut r = block(
                        t + 2_000 + i * 100,
                        None,
                        "554 5.7.1 Service unavailable; 192.0.2.77 listed at zen.spamhaus.org",
                    );
                    r.blocklist =
                        Some(r#"{"name":"spamhaus","zone":"zen.spamhaus.org","listed":"unknown"}"#);
                    d.push(&r);
                }
            }
        }
        d.finish();
        let v = d.incidents();
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].kind, IncidentKind::Blocklist);
        let b = v[0].blocklist.as_ref().expect("a listed asset");
        assert_eq!(
            (b.list.as_str(), b.listed.as_str(), b.assets.clone()),
            (
                "spamhaus (zen.spamhaus.org)",
                "ip",
                vec!["192.0.2.77".to_string()]
            )
        );
        assert!(v[0].action.contains("192.0.2.77"), "{}", v[0].action);
    }
}
