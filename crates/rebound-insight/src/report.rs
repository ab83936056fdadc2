//! The report: one pass over the window's events feeds the rate counters
//! (totals, groups, time series, reason mix, top patterns per provider) and
//! the incident detector at once. Memory grows with the number of distinct
//! groups, buckets and patterns, never with the number of events.

use crate::alerts::{Alert, AlertConfig, ScopeCounters};
use crate::detect::{DetectConfig, Detector, Incident};
use crate::model::Map;
use crate::model::{Bucket, Counts, Dimension, Flags, Rates, Row};
use crate::source::{self, Part, Window};
use serde::{Deserialize, Serialize};

/// Groups given their own time series (the first seen); further groups
/// have totals only.
pub const MAX_SERIES_KEYS: usize = 200;
/// Distinct patterns kept per provider; further ones count as `(other)`.
pub const MAX_PATTERNS_PER_PROVIDER: usize = 2000;

/// What to report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub window: Window,
    pub by: Dimension,
    pub bucket: Bucket,
    /// Rows in the group table and series drawn (0: all groups).
    pub top: usize,
    /// Patterns listed per provider.
    pub top_patterns: usize,
    pub detect: DetectConfig,
    pub alerts: AlertConfig,
    /// Reader threads (each with its own connection).
    pub readers: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            window: Window::default(),
            by: Dimension::Provider,
            bucket: Bucket::Hour,
            top: 20,
            top_patterns: 5,
            detect: DetectConfig::default(),
            alerts: AlertConfig::default(),
            readers: READERS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub rates: Rates,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Bucket start, UTC ms.
    pub t: i64,
    #[serde(flatten)]
    pub counts: Counts,
    pub rates: Rates,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub key: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternRow {
    pub pattern: String,
    pub reason: String,
    pub count: u64,
    /// Share of the provider's failed attempts.
    pub share: f64,
    pub sample: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderPatterns {
    pub provider: String,
    pub failures: u64,
    pub patterns: Vec<PatternRow>,
}

/// The whole report (`--json` prints it as is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub events: u64,
    pub by: Dimension,
    pub bucket: Bucket,
    pub totals: Group,
    /// Groups by `by`, most attempted first.
    pub groups: Vec<Group>,
    /// Time series of the top groups (the `by` dimension), buckets with no
    /// events omitted.
    pub series: Vec<Series>,
    /// Failed attempts (bounces and deferrals) by reason, most first.
    pub reasons: Vec<(String, u64)>,
    pub top_patterns: Vec<ProviderPatterns>,
    /// Incidents, by opening time (open ones have `state = "open"`).
    pub incidents: Vec<Incident>,
    pub detect: DetectConfig,
    /// Rates over their threshold per provider, domain, IP and campaign,
    /// furthest over first (empty when alerts are off).
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// All traffic per bucket (buckets with no events omitted): the HTML
    /// page's failures-by-kind chart.
    #[serde(default)]
    pub overall: Vec<Point>,
    /// The alert thresholds in force (the page draws them as reference
    /// lines).
    #[serde(default)]
    pub alert_config: AlertConfig,
}

#[derive(Default)]
struct PatternAgg {
    reason: String,
    count: u64,
    sample: String,
}

/// Accumulates a report from rows fed in time order.
pub struct Aggregator {
    opts: ReportOptions,
    events: u64,
    first: Option<i64>,
    last: Option<i64>,
    totals: Counts,
    groups: Map<String, GroupAgg>,
    reasons: Map<String, u64>,
    patterns: Map<String, (u64, Map<String, PatternAgg>)>,
    /// Per provider, domain, IP and campaign, for the alerts.
    scopes: Option<ScopeCounters>,
    detector: Detector,
    overall: Vec<(i64, Counts)>,
}

impl Aggregator {
    pub fn new(opts: ReportOptions) -> Self {
        Aggregator {
            detector: Detector::new(opts.detect.clone()),
            scopes: opts
                .alerts
                .enabled
                .then(|| ScopeCounters::new(opts.alerts.max_keys)),
            opts,
            events: 0,
            first: None,
            last: None,
            totals: Counts::default(),
            groups: Map::default(),
            reasons: Map::default(),
            patterns: Map::default(),
            overall: Vec::new(),
        }
    }

    pub fn push(&mut self, r: &Row<'_>) {
        self.push_n(r, 1);
    }

    /// Counts `n` events like `r` (the same minute, provider, domain and
    /// grouping value; deliveries pre-counted by a reader).
    pub fn push_n(&mut self, r: &Row<'_>, n: u64) {
        self.push_counts(r, n);
        self.detector.push_n(r, n);
    }

    /// Feeds the detector alone: `n` attempts like `r` (deliveries of one
    /// minute to one provider), which [`Aggregator::push_counts`] counts
    /// elsewhere.
    pub fn push_attempts(&mut self, r: &Row<'_>, n: u64) {
        self.detector.push_n(r, n);
    }

    /// Counts `n` events like `r` in everything but the detector (which
    /// gets them per minute through [`Aggregator::push_attempts`]).
    pub fn push_counts(&mut self, r: &Row<'_>, n: u64) {
        self.events += n;
        self.first = Some(self.first.map_or(r.time_ms, |f| f.min(r.time_ms)));
        self.last = Some(self.last.map_or(r.time_ms, |l| l.max(r.time_ms)));
        let f = Flags::of(r);
        self.totals.add(f, n);
        if let Some(s) = &mut self.scopes {
            s.push(r, f, n);
        }
        let key = self.opts.by.key(r);
        let b = self.opts.bucket.floor(r.time_ms);
        let g = match self.groups.get_mut(key) {
            Some(g) => g,
            None => {
                let with_series = self.groups.len() < MAX_SERIES_KEYS;
                self.groups.entry(key.to_string()).or_insert(GroupAgg {
                    counts: Counts::default(),
                    with_series,
                    series: Vec::new(),
                })
            }
        };
        g.counts.add(f, n);
        if g.with_series {
            add_to_series(&mut g.series, b, f, n);
        }
        add_to_series(&mut self.overall, b, f, n);
        if f.failed() {
            match self.reasons.get_mut(r.reason) {
                Some(v) => *v += 1,
                None => {
                    self.reasons.insert(r.reason.to_string(), 1);
                }
            }
            let (total, pats) = match self.patterns.get_mut(r.provider) {
                Some(p) => p,
                None => self
                    .patterns
                    .entry(r.provider.to_string())
                    .or_insert_with(|| (0, Map::default())),
            };
            *total += 1;
            let pkey = if pats.contains_key(r.pattern) || pats.len() < MAX_PATTERNS_PER_PROVIDER {
                r.pattern
            } else {
                "(other)"
            };
            match pats.get_mut(pkey) {
                Some(p) => p.count += 1,
                None => {
                    pats.insert(
                        pkey.to_string(),
                        PatternAgg {
                            reason: r.reason.to_string(),
                            count: 1,
                            sample: r.text.to_string(),
                        },
                    );
                }
            }
        }
    }

    pub fn finish(mut self) -> Report {
        self.detector.finish();
        let opts = &self.opts;
        let mut series_of: Map<String, Vec<(i64, Counts)>> = Map::default();
        let mut groups: Vec<Group> = self
            .groups
            .into_iter()
            .map(|(key, g)| {
                if g.with_series {
                    series_of.insert(key.clone(), g.series);
                }
                Group {
                    key,
                    rates: g.counts.rates(),
                    counts: g.counts,
                }
            })
            .collect();
        groups.sort_by(|a, b| {
            b.counts
                .attempted
                .cmp(&a.counts.attempted)
                .then(b.counts.bounced.cmp(&a.counts.bounced))
                .then_with(|| a.key.cmp(&b.key))
        });
        let keep = if opts.top == 0 { usize::MAX } else { opts.top };
        let series_keys: Vec<String> = groups
            .iter()
            .take(keep.min(12))
            .map(|g| g.key.clone())
            .collect();
        groups.truncate(keep);
        let series = series_keys
            .into_iter()
            .filter_map(|k| {
                let m = series_of.remove(&k)?;
                Some(Series {
                    key: k,
                    points: m
                        .into_iter()
                        .map(|(t, counts)| Point {
                            t,
                            rates: counts.rates(),
                            counts,
                        })
                        .collect(),
                })
            })
            .collect();
        let mut reasons: Vec<(String, u64)> = self.reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut top_patterns: Vec<ProviderPatterns> = self
            .patterns
            .into_iter()
            .map(|(provider, (failures, pats))| {
                let mut v: Vec<PatternRow> = pats
                    .into_iter()
                    .map(|(pattern, a)| PatternRow {
                        pattern,
                        reason: a.reason,
                        count: a.count,
                        share: a.count as f64 / failures.max(1) as f64,
                        sample: a.sample,
                    })
                    .collect();
                v.sort_by(|a, b| {
                    b.count
                        .cmp(&a.count)
                        .then_with(|| a.pattern.cmp(&b.pattern))
                });
                v.truncate(opts.top_patterns);
                ProviderPatterns {
                    provider,
                    failures,
                    patterns: v,
                }
            })
            .collect();
        top_patterns.sort_by(|a, b| {
            b.failures
                .cmp(&a.failures)
                .then_with(|| a.provider.cmp(&b.provider))
        });
        top_patterns.truncate(keep.min(10));
        Report {
            since_ms: opts.window.since_ms,
            until_ms: opts.window.until_ms,
            first_event_ms: self.first,
            last_event_ms: self.last,
            events: self.events,
            by: opts.by,
            bucket: opts.bucket,
            totals: Group {
                key: "all".into(),
                rates: self.totals.rates(),
                counts: self.totals,
            },
            groups,
            series,
            reasons,
            top_patterns,
            // Newest first: what a person opening the report needs first.
            incidents: {
                let mut v = self.detector.incidents();
                v.reverse();
                v
            },
            detect: opts.detect.clone(),
            alerts: self
                .scopes
                .as_ref()
                .map(|s| s.judge(&opts.alerts))
                .unwrap_or_default(),
            overall: self
                .overall
                .into_iter()
                .map(|(t, counts)| Point {
                    t,
                    rates: counts.rates(),
                    counts,
                })
                .collect(),
            alert_config: opts.alerts.clone(),
        }
    }
}

/// Counts `n` events of flags `f` in bucket `b` of a series kept in time
/// order. Rows come in time order: the bucket is the last one or a new
/// one; anything else is found by binary search.
fn add_to_series(series: &mut Vec<(i64, Counts)>, b: i64, f: Flags, n: u64) {
    match series.last_mut() {
        Some((t, c)) if *t == b => c.add(f, n),
        Some((t, _)) if *t > b => match series.binary_search_by_key(&b, |x| x.0) {
            Ok(i) => series[i].1.add(f, n),
            Err(i) => {
                let mut c = Counts::default();
                c.add(f, n);
                series.insert(i, (b, c));
            }
        },
        _ => {
            let mut c = Counts::default();
            c.add(f, n);
            series.push((b, c));
        }
    }
}

struct GroupAgg {
    counts: Counts,
    with_series: bool,
    series: Vec<(i64, Counts)>,
}

/// Reader threads working ahead of the counting thread, by default.
pub const READERS: usize = 3;
/// The window is cut into this many time chunks, read in turn by the
/// readers.
const CHUNKS: i64 = 256;
/// Rows per batch handed from a reader to the counting thread.
const BATCH: usize = 8192;
/// Batches a reader may hold ready before it waits.
const AHEAD: usize = 8;

enum Msg {
    Batch(Batch),
    End,
    Failed(source::Error),
}

/// Builds the report of a store (SQLite file or `postgres://` URL) in one
/// streaming pass in time order.
///
/// The window is cut into time chunks; [`READERS`] threads, each with its
/// own read-only connection, read the chunks round-robin (reader `j` takes
/// chunks `j`, `j + READERS`, …) and pack rows into batches; the calling
/// thread counts the chunks in order. A reader holds at most `AHEAD`
/// batches (a few MB), so memory stays bounded whatever the number of
/// events, and the counting sees events exactly in time order.
pub fn build(url: &str, opts: ReportOptions) -> Result<Report, source::Error> {
    build_within(url, opts, &Bounds::default())
}

/// What one report may cost, for callers that serve many (the HTTP
/// server): the series' size, and a flag that stops the work when nobody
/// waits for it any more.
#[derive(Debug, Default)]
pub struct Bounds {
    /// Most time buckets the window may hold (0: no bound). Memory grows
    /// with buckets times the groups that get a series.
    pub max_buckets: usize,
    /// Set by the caller to stop: the build then ends with
    /// [`source::Error::Cancelled`] at the next chunk.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// [`build`] within [`Bounds`].
pub fn build_within(
    url: &str,
    opts: ReportOptions,
    bounds: &Bounds,
) -> Result<Report, source::Error> {
    build_inner(url, opts, bounds, true)
}

/// [`build`] with every delivery counted from the events, none read from
/// the rollups (the report as it was built before ledger migration 5):
/// the same report, for benchmarks and tests that compare the two.
pub fn build_without_rollups(url: &str, opts: ReportOptions) -> Result<Report, source::Error> {
    build_inner(url, opts, &Bounds::default(), false)
}

fn build_inner(
    url: &str,
    opts: ReportOptions,
    bounds: &Bounds,
    rollups: bool,
) -> Result<Report, source::Error> {
    use std::sync::mpsc::sync_channel;
    source::ensure_schema(url)?;
    let mut first = source::Reader::open(url)?;
    let Some((lo, hi)) = first.time_range(opts.window)? else {
        return Ok(Aggregator::new(opts).finish());
    };
    let buckets = ((hi - lo) / opts.bucket.ms() + 1) as u64;
    if bounds.max_buckets > 0 && buckets > bounds.max_buckets as u64 {
        return Err(source::Error::TooBig(format!(
            "the window holds {buckets} {} buckets, more than {}: choose a coarser bucket or a shorter window",
            opts.bucket.as_str(),
            bounds.max_buckets
        )));
    }
    let cancelled = || {
        bounds
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    };
    let chunks = plan_chunks(lo, hi + 1, opts.bucket, rollups);
    let readers = opts.readers.min(chunks.len()).max(1);
    let mut agg = Aggregator::new(opts.clone());
    let mut first = Some(first);
    std::thread::scope(|scope| {
        let mut inboxes = Vec::new();
        for j in 0..readers {
            let (tx, rx) = sync_channel::<Msg>(AHEAD);
            inboxes.push(rx);
            let mine: Vec<Chunk> = chunks.iter().skip(j).step_by(readers).copied().collect();
            let reader = if j == 0 { first.take() } else { None };
            let by = opts.by;
            let all_scopes = opts.alerts.enabled;
            let bucket = opts.bucket;
            scope.spawn(move || {
                let mut rd = match reader.map(Ok).unwrap_or_else(|| source::Reader::open(url)) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Msg::Failed(e));
                        return;
                    }
                };
                for Chunk { window: w, rolled } in mine {
                    let mut batch = Batch::default();
                    let mut gone = false;
                    // Deliveries come counted, from the rollups or by the
                    // store, per minute and key; failures one by one.
                    let mut take = |r: &Row<'_>, n, part| {
                        if gone {
                            return;
                        }
                        batch.push(r, n, part);
                        if batch.rows.len() >= BATCH {
                            let full = std::mem::take(&mut batch);
                            gone = tx.send(Msg::Batch(full)).is_err();
                        }
                    };
                    let r = if rolled {
                        rd.scan_rolled(w, by, all_scopes, bucket, &mut take)
                    } else {
                        rd.scan_counted(w, by, all_scopes, bucket, &mut take)
                    };
                    if let Err(e) = r {
                        let _ = tx.send(Msg::Failed(e));
                        return;
                    }
                    if !batch.rows.is_empty() && tx.send(Msg::Batch(batch)).is_err() {
                        return;
                    }
                    if gone || tx.send(Msg::End).is_err() {
                        return;
                    }
                }
            });
        }
        for k in 0..chunks.len() {
            // Dropping the inboxes on the way out stops the readers.
            if cancelled() {
                return Err(source::Error::Cancelled);
            }
            let inbox = &inboxes[k % readers];
            loop {
                match inbox.recv() {
                    Ok(Msg::Batch(b)) => {
                        for i in 0..b.rows.len() {
                            let (row, n) = (b.row(i), b.rows[i].n);
                            match b.rows[i].part {
                                Part::Event => agg.push_n(&row, n),
                                Part::Counts => agg.push_counts(&row, n),
                                Part::Attempts => agg.push_attempts(&row, n),
                            }
                        }
                    }
                    Ok(Msg::End) => break,
                    Ok(Msg::Failed(e)) => return Err(e),
                    Err(_) => unreachable!("a reader ends each chunk or reports its failure"),
                }
            }
        }
        Ok(())
    })?;
    let mut report = agg.finish();
    // Deliveries are counted per minute by the readers: the exact first
    // and last times come from the database.
    report.first_event_ms = Some(lo);
    report.last_event_ms = Some(hi);
    Ok(report)
}

/// A time chunk of the report's window, and whether its deliveries are
/// read from the rollups.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Chunk {
    window: Window,
    rolled: bool,
}

const HOUR: i64 = 3_600_000;

/// Cuts `[lo, end)` into about [`CHUNKS`] chunks. With hour or day
/// buckets, the whole UTC hours inside it are read from the ledger's
/// per-hour rollups, in chunks of whole hours; the part of an hour at
/// either end (a window that does not start or end on the hour) is read
/// from the events. Minute buckets need minutes, which only the events
/// hold.
fn plan_chunks(lo: i64, end: i64, bucket: Bucket, rollups: bool) -> Vec<Chunk> {
    fn cut(lo: i64, end: i64, step: i64, rolled: bool, out: &mut Vec<Chunk>) {
        let mut s = lo;
        while s < end {
            let e = s.saturating_add(step).min(end);
            out.push(Chunk {
                window: Window {
                    since_ms: Some(s),
                    until_ms: Some(e),
                },
                rolled,
            });
            s = e;
        }
    }
    let mut out = Vec::new();
    let first_hour = lo.div_euclid(HOUR) * HOUR + if lo.rem_euclid(HOUR) == 0 { 0 } else { HOUR };
    let last_hour = end.div_euclid(HOUR) * HOUR;
    if !rollups || bucket == Bucket::Minute || first_hour >= last_hour {
        cut(
            lo,
            end,
            ((end - lo) / CHUNKS + 1).max(60_000),
            false,
            &mut out,
        );
        return out;
    }
    let hours = (last_hour - first_hour) / HOUR;
    let step = (hours / CHUNKS + 1) * HOUR;
    // The edges are under an hour each: one chunk apiece.
    cut(lo, first_hour, HOUR, false, &mut out);
    cut(first_hour, last_hour, step, true, &mut out);
    cut(last_hour, end, HOUR, false, &mut out);
    out
}

/// Rows packed for the trip between threads: strings copied into one
/// buffer, fields as spans of it.
#[derive(Default)]
struct Batch {
    buf: String,
    rows: Vec<Packed>,
}

#[derive(Clone, Copy)]
struct Span(u32, u32);

const NO_SPAN: Span = Span(u32::MAX, 0);

struct Packed {
    time_ms: i64,
    /// Events this row stands for.
    n: u64,
    part: Part,
    hardbounce: bool,
    /// provider, domain, ip, campaign, outcome, reason, owner, status,
    /// pattern, blocklist, text
    f: [Span; 11],
}

impl Batch {
    fn span(&mut self, s: Option<&str>) -> Span {
        match s {
            None => NO_SPAN,
            Some(s) => {
                let start = self.buf.len() as u32;
                self.buf.push_str(s);
                Span(start, s.len() as u32)
            }
        }
    }

    fn push(&mut self, r: &Row<'_>, n: u64, part: Part) {
        let f = [
            self.span(Some(r.provider)),
            self.span(Some(r.domain)),
            self.span(r.ip),
            self.span(r.campaign),
            self.span(Some(r.outcome)),
            self.span(Some(r.reason)),
            self.span(Some(r.owner)),
            self.span(r.status),
            self.span(Some(r.pattern)),
            self.span(r.blocklist),
            self.span(Some(r.text)),
        ];
        self.rows.push(Packed {
            time_ms: r.time_ms,
            n,
            part,
            hardbounce: r.hardbounce,
            f,
        });
    }

    fn get(&self, s: Span) -> Option<&str> {
        (s.0 != u32::MAX).then(|| &self.buf[s.0 as usize..(s.0 + s.1) as usize])
    }

    fn row(&self, i: usize) -> Row<'_> {
        let p = &self.rows[i];
        let g = |k: usize| self.get(p.f[k]);
        Row {
            time_ms: p.time_ms,
            provider: g(0).unwrap_or(""),
            domain: g(1).unwrap_or(""),
            ip: g(2),
            campaign: g(3),
            outcome: g(4).unwrap_or(""),
            reason: g(5).unwrap_or(""),
            owner: g(6).unwrap_or(""),
            status: g(7),
            hardbounce: p.hardbounce,
            pattern: g(8).unwrap_or(""),
            blocklist: g(9),
            text: g(10).unwrap_or(""),
        }
    }
}
