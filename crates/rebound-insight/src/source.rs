//! Reading the ledger's `events` table: one streaming, read-only query in
//! time order, on SQLite or PostgreSQL, opened from the same URL as the
//! ledger. Only the columns insight needs are read; the reply text and
//! pattern only for failures. Nothing is kept: each row is handed to a
//! callback and dropped.

use crate::model::{Bucket, Dimension, Map, Row, provider_key};

/// The part of the timeline to read: `since_ms <= time_ms < until_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// A read error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ledger: {0}")]
    Ledger(#[from] rebound_ledger::Error),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// The report would exceed its [`Bounds`](crate::report::Bounds).
    #[error("{0}")]
    TooBig(String),
    /// The caller stopped the work.
    #[error("cancelled")]
    Cancelled,
}

/// The verdict's pattern and blocklist live in `verdict_details`, keyed by
/// `events.detail_key`.
const COLUMNS: &str = "e.time_ms, e.provider, e.recipient_domain, e.sending_ip, e.campaign, e.outcome, e.reason, e.owner, e.status, e.hardbounce, CASE WHEN e.outcome = 'delivered' THEN '' ELSE COALESCE(d.pattern, '') END, d.blocklist, CASE WHEN e.outcome = 'delivered' THEN '' ELSE e.text END";
const FROM: &str = "events e LEFT JOIN verdict_details d ON d.key = e.detail_key";

/// Creates or migrates the ledger's schema at `url` (through the ledger),
/// so that reading an empty or new store works.
pub fn ensure_schema(url: &str) -> Result<(), Error> {
    drop(rebound_ledger::open(url)?);
    Ok(())
}

/// Reads every event of the window in time order and hands it to `f`;
/// returns the number of events read. `by` says which grouping column the
/// caller needs for every event (the others are read for failures only).
pub fn scan(
    url: &str,
    w: Window,
    by: Dimension,
    f: &mut dyn FnMut(&Row<'_>),
) -> Result<u64, Error> {
    ensure_schema(url)?;
    Reader::open(url)?.scan(w, by, f)
}

/// A read-only connection to the ledger's events (several can read at
/// once).
pub enum Reader {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl Reader {
    /// Opens a connection; the schema must exist ([`ensure_schema`]).
    pub fn open(url: &str) -> Result<Reader, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Reader::Postgres(Box::new(connect_postgres(url)?)));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        // A one-pass scan reuses no page: a small cache (8 MiB) is as
        // fast as a large one, and the report runs several readers.
        conn.pragma_update(None, "cache_size", -8_192)?;
        // No mmap: on a 5 GB ledger the page faults cost more than reads.
        Ok(Reader::Sqlite(conn))
    }

    /// The first and last event times in the window, if any.
    pub fn time_range(&mut self, w: Window) -> Result<Option<(i64, i64)>, Error> {
        let since = w.since_ms.unwrap_or(i64::MIN);
        let until = w.until_ms.unwrap_or(i64::MAX);
        let q = |order: &str| {
            format!(
                "SELECT time_ms FROM events WHERE time_ms >= $1 AND time_ms < $2 ORDER BY time_ms {order} LIMIT 1"
            )
        };
        match self {
            Reader::Sqlite(c) => {
                use rusqlite::OptionalExtension;
                let lo: Option<i64> = c
                    .query_row(&q("ASC"), [since, until], |r| r.get(0))
                    .optional()?;
                let hi: Option<i64> = c
                    .query_row(&q("DESC"), [since, until], |r| r.get(0))
                    .optional()?;
                Ok(lo.zip(hi))
            }
            Reader::Postgres(c) => {
                let lo = c.query_opt(&q("ASC"), &[&since, &until])?;
                let hi = c.query_opt(&q("DESC"), &[&since, &until])?;
                Ok(lo.zip(hi).map(|(a, b)| (a.get(0), b.get(0))))
            }
        }
    }

    /// Reads the window's events in time order (see [`scan`]).
    pub fn scan(
        &mut self,
        w: Window,
        by: Dimension,
        f: &mut dyn FnMut(&Row<'_>),
    ) -> Result<u64, Error> {
        self.scan_with(w, by, false, f)
    }

    /// [`scan`](Reader::scan), and with `all_scopes` every delivery also
    /// carries its domain, IP and campaign (what the alerts count by),
    /// whatever `by` is.
    /// One time chunk for the report, its deliveries counted rather than
    /// read out (see [`Part`]): `Counts` per `bucket` and key (provider
    /// key, recipient domain, and sending IP and campaign when `all_scopes`
    /// or `by` need them), `Attempts` per minute and provider, and the
    /// other events one by one with every field (`Event`). Per minute, its
    /// events come first, then its attempts, in time order; the counts
    /// come at the end of the chunk.
    pub fn scan_counted(
        &mut self,
        w: Window,
        by: Dimension,
        all_scopes: bool,
        bucket: Bucket,
        f: &mut dyn FnMut(&Row<'_>, u64, Part),
    ) -> Result<(), Error> {
        let since = w.since_ms.unwrap_or(i64::MIN);
        let until = w.until_ms.unwrap_or(i64::MAX);
        let extra = match by {
            _ if all_scopes => "recipient_domain, sending_ip, campaign",
            Dimension::Ip => "'', sending_ip, NULL",
            Dimension::Campaign => "'', NULL, campaign",
            Dimension::Domain => "recipient_domain, NULL, NULL",
            _ => "'', NULL, NULL",
        };
        let failures = FAILURES;
        // The chunk's delivery counts (a few per provider and bucket or
        // minute) are held while its failures stream past them.
        let mut counts: Vec<DeliveryGroup> = Vec::new();
        let mut attempts: Vec<DeliveryGroup> = Vec::new();
        match self {
            Reader::Sqlite(c) => return counted_sqlite(c, since, until, extra, bucket, f),
            // PostgreSQL aggregates by hashing, and every row it does not
            // send saves its encoding and the trip.
            Reader::Postgres(c) => {
                let b = bucket.ms();
                let by_key = format!(
                    "SELECT time_ms / {b} AS m, MIN(time_ms), COALESCE(NULLIF(provider, ''), recipient_domain) AS p, {extra}, COUNT(*) \
                     FROM events WHERE time_ms >= $1 AND time_ms < $2 AND outcome = 'delivered' GROUP BY 1, 3, 4, 5, 6"
                );
                let by_provider = "SELECT time_ms / 60000 AS m, MIN(time_ms), COALESCE(NULLIF(provider, ''), recipient_domain) AS p, \
                     '', NULL::TEXT, NULL::TEXT, COUNT(*) \
                     FROM events WHERE time_ms >= $1 AND time_ms < $2 AND outcome = 'delivered' GROUP BY 1, 3 ORDER BY 1";
                for (q, out) in [(by_key.as_str(), &mut counts), (by_provider, &mut attempts)] {
                    for r in c.query(q, &[&since, &until])? {
                        out.push(DeliveryGroup {
                            minute: r.get(0),
                            first_ms: r.get(1),
                            provider: r.get::<_, Option<String>>(2).unwrap_or_default(),
                            domain: r.get::<_, Option<String>>(3).unwrap_or_default(),
                            ip: r.get(4),
                            campaign: r.get(5),
                            n: r.get::<_, i64>(6) as u64,
                        });
                    }
                }
            }
        }
        let Reader::Postgres(c) = self else {
            unreachable!("SQLite counted in one pass above")
        };
        // The counts' minutes are indexes (time / 60 000).
        interleave(
            &attempts,
            &counts,
            |t| t.div_euclid(60_000),
            f,
            &mut |emit| postgres_failures(c, failures, since, until, emit),
        )
    }

    /// [`scan_counted`](Reader::scan_counted) for a window of whole UTC
    /// hours and a bucket of an hour or more, with the deliveries read from
    /// the ledger's rollups (ledger migration 5, kept as events arrive)
    /// instead of counted from the events: `Counts` from `rollup_hours`
    /// (summed per bucket and key by the store: a few rows per hour),
    /// `Attempts` from `rollup_minutes`; only the failures are read one by
    /// one, from the ledger's copy of them (`report_failures`). The rows come in
    /// the order `scan_counted` gives them.
    pub fn scan_rolled(
        &mut self,
        w: Window,
        by: Dimension,
        all_scopes: bool,
        bucket: Bucket,
        f: &mut dyn FnMut(&Row<'_>, u64, Part),
    ) -> Result<(), Error> {
        debug_assert!(bucket != Bucket::Minute, "the rollups are per hour");
        let since = w.since_ms.unwrap_or(i64::MIN);
        let until = w.until_ms.unwrap_or(i64::MAX);
        // A missing IP or campaign is '' in the rollups: the report reads
        // '' and none alike (no group, no alert key).
        let extra = match by {
            _ if all_scopes => "domain, sending_ip, campaign",
            Dimension::Ip => "'', sending_ip, ''",
            Dimension::Campaign => "'', '', campaign",
            Dimension::Domain => "domain, '', ''",
            _ => "'', '', ''",
        };
        let b = bucket.ms();
        let by_key = format!(
            "SELECT hour_ms - ((hour_ms % {b}) + {b}) % {b}, MIN(first_ms), provider, {extra}, CAST(SUM(n) AS BIGINT) \
             FROM rollup_hours WHERE hour_ms >= $1 AND hour_ms < $2 AND outcome = 'delivered' AND n > 0 \
             GROUP BY 1, 3, 4, 5, 6"
        );
        let by_provider = "SELECT minute_ms, minute_ms, provider, '', '', '', n FROM rollup_minutes \
             WHERE minute_ms >= $1 AND minute_ms < $2 AND n > 0 ORDER BY minute_ms";
        let mut counts: Vec<DeliveryGroup> = Vec::new();
        let mut attempts: Vec<DeliveryGroup> = Vec::new();
        for (q, out) in [(by_key.as_str(), &mut counts), (by_provider, &mut attempts)] {
            match self {
                Reader::Sqlite(c) => {
                    let mut st = c.prepare_cached(q)?;
                    let mut rows = st.query([since, until])?;
                    while let Some(r) = rows.next()? {
                        out.push(DeliveryGroup::from_sqlite(r)?);
                    }
                }
                Reader::Postgres(c) => {
                    for r in c.query(q, &[&since, &until])? {
                        out.push(DeliveryGroup {
                            minute: r.get(0),
                            first_ms: r.get(1),
                            provider: r.get(2),
                            domain: r.get(3),
                            ip: Some(r.get(4)),
                            campaign: Some(r.get(5)),
                            n: r.get::<_, i64>(6) as u64,
                        });
                    }
                }
            }
        }
        // The rollup's minutes are times (minute_ms).
        let minute_of = |t: i64| t.div_euclid(60_000) * 60_000;
        match self {
            Reader::Sqlite(c) => interleave(&attempts, &counts, minute_of, f, &mut |emit| {
                let mut st = c.prepare_cached(FAILURES_ROLLED)?;
                let mut rows = st.query([since, until])?;
                let s = text_or_null;
                while let Some(r) = rows.next()? {
                    emit(&Row {
                        time_ms: r.get(0)?,
                        provider: s(r, 1)?.unwrap_or(""),
                        outcome: s(r, 2)?.unwrap_or(""),
                        domain: s(r, 3)?.unwrap_or(""),
                        ip: s(r, 4)?,
                        campaign: s(r, 5)?,
                        reason: s(r, 6)?.unwrap_or(""),
                        owner: s(r, 7)?.unwrap_or(""),
                        status: s(r, 8)?,
                        hardbounce: r.get(9)?,
                        pattern: s(r, 10)?.unwrap_or(""),
                        blocklist: s(r, 11)?,
                        text: s(r, 12)?.unwrap_or(""),
                    });
                }
                Ok(())
            }),
            Reader::Postgres(c) => interleave(&attempts, &counts, minute_of, f, &mut |emit| {
                postgres_failures(c, FAILURES_ROLLED, since, until, emit)
            }),
        }
    }

    pub fn scan_with(
        &mut self,
        w: Window,
        by: Dimension,
        all_scopes: bool,
        f: &mut dyn FnMut(&Row<'_>),
    ) -> Result<u64, Error> {
        match self {
            Reader::Sqlite(c) => scan_sqlite(c, w, by, all_scopes, f),
            Reader::Postgres(c) => scan_postgres(c, w, f),
        }
    }
}

/// SQLite: the ordered scan reads only what every event needs (time,
/// provider, outcome and the grouping column, or the domain, IP and
/// campaign when `all_scopes`); the other columns are read by row id for
/// the events that are not deliveries (a few percent), which halves the
/// work per row.
fn scan_sqlite(
    conn: &rusqlite::Connection,
    w: Window,
    by: Dimension,
    all_scopes: bool,
    f: &mut dyn FnMut(&Row<'_>),
) -> Result<u64, Error> {
    let extra = match by {
        _ if all_scopes => "recipient_domain, sending_ip, campaign",
        Dimension::Ip => "NULL, sending_ip, NULL",
        Dimension::Campaign => "NULL, NULL, campaign",
        Dimension::Domain => "recipient_domain, NULL, NULL",
        _ => "NULL, NULL, NULL",
    };
    // The provider key (see `provider_key`) computed in SQL: one column.
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, time_ms, COALESCE(NULLIF(provider, ''), recipient_domain), outcome, {extra} FROM events WHERE time_ms >= ?1 AND time_ms < ?2 ORDER BY time_ms"
    ))?;
    let mut detail = conn.prepare_cached(
        "SELECT e.sending_ip, e.campaign, e.reason, e.owner, e.status, e.hardbounce, COALESCE(d.pattern, ''), d.blocklist, e.text, e.recipient_domain FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key WHERE e.id = ?1",
    )?;
    let mut rows = st.query(rusqlite::params![
        w.since_ms.unwrap_or(i64::MIN),
        w.until_ms.unwrap_or(i64::MAX)
    ])?;
    let mut n = 0u64;
    fn s<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
        Ok(r.get_ref(i)?.as_str_or_null()?)
    }
    while let Some(r) = rows.next()? {
        let provider = s(r, 2)?.unwrap_or("");
        let outcome = s(r, 3)?.unwrap_or("");
        let time_ms = r.get(1)?;
        if outcome == "delivered" {
            f(&Row {
                time_ms,
                provider,
                // Deliveries carry only the columns selected above.
                domain: s(r, 4)?.unwrap_or(""),
                ip: s(r, 5)?,
                campaign: s(r, 6)?,
                outcome,
                reason: "delivered",
                owner: "none",
                status: None,
                hardbounce: false,
                pattern: "",
                blocklist: None,
                text: "",
            });
        } else {
            let id: i64 = r.get(0)?;
            let mut d = detail.query([id])?;
            if let Some(d) = d.next()? {
                f(&Row {
                    time_ms,
                    provider,
                    domain: s(d, 9)?.unwrap_or(""),
                    ip: s(d, 0)?,
                    campaign: s(d, 1)?,
                    outcome,
                    reason: s(d, 2)?.unwrap_or(""),
                    owner: s(d, 3)?.unwrap_or(""),
                    status: s(d, 4)?,
                    hardbounce: d.get(5)?,
                    pattern: s(d, 6)?.unwrap_or(""),
                    blocklist: s(d, 7)?,
                    text: s(d, 8)?.unwrap_or(""),
                });
            }
        }
        n += 1;
    }
    Ok(n)
}

/// What a row of [`Reader::scan_counted`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// One event that is not a delivery: counted everywhere.
    Event,
    /// Deliveries of one bucket and key: rates, groups, series and alerts,
    /// not the detector.
    Counts,
    /// Deliveries of one minute to one provider: the detector only (its
    /// shares are of each minute's attempts).
    Attempts,
}

/// Deliveries of one minute (or bucket) with the same provider, domain,
/// IP and campaign, counted.
struct DeliveryGroup {
    minute: i64,
    first_ms: i64,
    provider: String,
    domain: String,
    ip: Option<String>,
    campaign: Option<String>,
    n: u64,
}

/// [`Reader::scan_counted`] on SQLite, in one pass over the covering index
/// `events_report`: SQLite groups by sorting, which costs more than reading
/// the rows, and a second pass for the failures would step through the
/// index again; so deliveries are counted here as they pass and each other
/// event's fields are fetched by id (a few percent of the rows).
fn counted_sqlite(
    conn: &rusqlite::Connection,
    since: i64,
    until: i64,
    extra: &str,
    bucket: Bucket,
    f: &mut dyn FnMut(&Row<'_>, u64, Part),
) -> Result<(), Error> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT id, time_ms, COALESCE(NULLIF(provider, ''), recipient_domain), outcome, {extra} FROM events \
         WHERE time_ms >= $1 AND time_ms < $2 ORDER BY time_ms"
    ))?;
    let mut detail = conn.prepare_cached(
        "SELECT e.sending_ip, e.campaign, e.reason, e.owner, e.status, e.hardbounce, COALESCE(d.pattern, ''), d.blocklist, e.text, e.recipient_domain \
         FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key WHERE e.id = $1",
    )?;
    let mut rows = st.query([since, until])?;
    let (mut minute, mut period) = (i64::MIN, i64::MIN);
    let mut by_key: Map<String, (u64, i64)> = Map::default();
    let mut by_provider: Map<String, (u64, i64)> = Map::default();
    let mut counts: Vec<DeliveryGroup> = Vec::new();
    let mut attempts: Vec<DeliveryGroup> = Vec::new();
    let mut key = String::new();
    let s = text_or_null;
    while let Some(r) = rows.next()? {
        let t: i64 = r.get(1)?;
        let m = t.div_euclid(60_000);
        if m != minute {
            // The minute's attempts follow its other events.
            DeliveryGroup::drain(minute, &mut by_provider, &mut attempts);
            for g in attempts.drain(..) {
                f(&g.row(), g.n, Part::Attempts);
            }
            minute = m;
        }
        let provider = s(r, 2)?.unwrap_or("");
        let outcome = s(r, 3)?.unwrap_or("");
        if outcome != "delivered" {
            let id: i64 = r.get(0)?;
            let mut d = detail.query([id])?;
            if let Some(d) = d.next()? {
                f(
                    &Row {
                        time_ms: t,
                        provider,
                        domain: s(d, 9)?.unwrap_or(""),
                        ip: s(d, 0)?,
                        campaign: s(d, 1)?,
                        outcome,
                        reason: s(d, 2)?.unwrap_or(""),
                        owner: s(d, 3)?.unwrap_or(""),
                        status: s(d, 4)?,
                        hardbounce: d.get(5)?,
                        pattern: s(d, 6)?.unwrap_or(""),
                        blocklist: s(d, 7)?,
                        text: s(d, 8)?.unwrap_or(""),
                    },
                    1,
                    Part::Event,
                );
            }
            continue;
        }
        let b = bucket.floor(t);
        if b != period {
            DeliveryGroup::drain(period, &mut by_key, &mut counts);
            period = b;
        }
        key.clear();
        key.push_str(provider);
        for i in 4..=6 {
            key.push(SEP);
            match s(r, i)? {
                Some(x) => key.push_str(x),
                None => key.push(NONE),
            }
        }
        match by_key.get_mut(key.as_str()) {
            Some(v) => v.0 += 1,
            None => {
                by_key.insert(key.clone(), (1, t));
            }
        }
        match by_provider.get_mut(provider) {
            Some(v) => v.0 += 1,
            None => {
                by_provider.insert(provider.to_string(), (1, t));
            }
        }
    }
    DeliveryGroup::drain(minute, &mut by_provider, &mut attempts);
    for g in attempts.drain(..) {
        f(&g.row(), g.n, Part::Attempts);
    }
    DeliveryGroup::drain(period, &mut by_key, &mut counts);
    for g in &counts {
        f(&g.row(), g.n, Part::Counts);
    }
    Ok(())
}

/// The events of a window that are not deliveries, in time order, with
/// every field the report and the detector read (`events_failures`, a
/// partial index, holds just them).
const FAILURES: &str = "SELECT e.time_ms, COALESCE(NULLIF(e.provider, ''), e.recipient_domain), e.outcome, e.recipient_domain, \
     e.sending_ip, e.campaign, e.reason, e.owner, e.status, e.hardbounce, COALESCE(d.pattern, ''), d.blocklist, e.text \
     FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key \
     WHERE e.time_ms >= $1 AND e.time_ms < $2 AND e.outcome <> 'delivered' ORDER BY e.time_ms, e.id";

/// [`FAILURES`] from the ledger's copy of the failures (`report_failures`,
/// migration 5), stored together in time order rather than scattered
/// among the deliveries.
const FAILURES_ROLLED: &str = "SELECT f.time_ms, f.provider, f.outcome, f.domain, \
     f.sending_ip, f.campaign, f.reason, f.owner, f.status, f.hardbounce, COALESCE(d.pattern, ''), d.blocklist, f.text \
     FROM report_failures f LEFT JOIN verdict_details d ON d.key = f.detail_key \
     WHERE f.time_ms >= $1 AND f.time_ms < $2 ORDER BY f.time_ms, f.id";

/// A row of [`FAILURES`] read from PostgreSQL.
/// Reads failures in time order, handing each to the function it is given.
type FailureReader<'a> = dyn FnMut(&mut dyn FnMut(&Row<'_>)) -> Result<(), Error> + 'a;

/// Hands on the failures `read` streams (in time order), each minute's
/// `attempts` after that minute's failures, then the `counts`: the order
/// [`Reader::scan_counted`] promises. `minute_of` maps a time to the unit
/// the attempts' `minute` is in.
fn interleave(
    attempts: &[DeliveryGroup],
    counts: &[DeliveryGroup],
    minute_of: impl Fn(i64) -> i64,
    f: &mut dyn FnMut(&Row<'_>, u64, Part),
    read: &mut FailureReader<'_>,
) -> Result<(), Error> {
    let mut next = 0;
    read(&mut |r: &Row<'_>| {
        let minute = minute_of(r.time_ms);
        while let Some(g) = attempts.get(next).filter(|g| g.minute < minute) {
            f(&g.row(), g.n, Part::Attempts);
            next += 1;
        }
        f(r, 1, Part::Event);
    })?;
    for g in &attempts[next..] {
        f(&g.row(), g.n, Part::Attempts);
    }
    for g in counts {
        f(&g.row(), g.n, Part::Counts);
    }
    Ok(())
}

/// The failures of `[since, until)` from PostgreSQL, streamed: `query`
/// selects the columns [`postgres_failure`] reads.
fn postgres_failures(
    c: &mut postgres::Client,
    query: &str,
    since: i64,
    until: i64,
    emit: &mut dyn FnMut(&Row<'_>),
) -> Result<(), Error> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut it = c.query_raw(
        query,
        [&since as &(dyn postgres::types::ToSql + Sync), &until],
    )?;
    while let Some(r) = it.next()? {
        emit(&postgres_failure(&r));
    }
    Ok(())
}

fn postgres_failure(r: &postgres::Row) -> Row<'_> {
    Row {
        time_ms: r.get(0),
        provider: r.get::<_, Option<&str>>(1).unwrap_or(""),
        outcome: r.get(2),
        domain: r.get(3),
        ip: r.get(4),
        campaign: r.get(5),
        reason: r.get(6),
        owner: r.get(7),
        status: r.get(8),
        hardbounce: r.get(9),
        pattern: r.get::<_, Option<&str>>(10).unwrap_or(""),
        blocklist: r.get(11),
        text: r.get::<_, Option<&str>>(12).unwrap_or(""),
    }
}

fn text_or_null<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    Ok(r.get_ref(i)?.as_str_or_null()?)
}

/// Separates the fields of a delivery key; stands for a missing IP or
/// campaign (neither occurs in stored text).
const SEP: char = '\u{1f}';
const NONE: char = '\u{1e}';

impl DeliveryGroup {
    /// Moves one minute's counts (keyed `provider SEP domain SEP ip SEP
    /// campaign`) into `groups`.
    fn drain(minute: i64, counts: &mut Map<String, (u64, i64)>, groups: &mut Vec<DeliveryGroup>) {
        for (k, (n, first_ms)) in counts.drain() {
            let mut parts = k.split(SEP);
            let mut next = || parts.next().unwrap_or("");
            let (provider, domain, ip, campaign) = (next(), next(), next(), next());
            let some = |x: &str| (!x.starts_with(NONE)).then(|| x.to_string());
            groups.push(DeliveryGroup {
                minute,
                first_ms,
                provider: provider.to_string(),
                domain: domain.to_string(),
                ip: some(ip),
                campaign: some(campaign),
                n,
            });
        }
    }

    /// A row of [`Reader::scan_rolled`]'s rollup queries (bucket or
    /// minute, first time, provider, domain, IP, campaign, count).
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryGroup> {
        Ok(DeliveryGroup {
            minute: r.get(0)?,
            first_ms: r.get(1)?,
            provider: r.get(2)?,
            domain: r.get(3)?,
            ip: Some(r.get(4)?),
            campaign: Some(r.get(5)?),
            n: r.get::<_, i64>(6)? as u64,
        })
    }

    fn row(&self) -> Row<'_> {
        Row {
            time_ms: self.first_ms,
            provider: &self.provider,
            domain: &self.domain,
            ip: self.ip.as_deref(),
            campaign: self.campaign.as_deref(),
            outcome: "delivered",
            reason: "delivered",
            owner: "none",
            status: None,
            hardbounce: false,
            pattern: "",
            blocklist: None,
            text: "",
        }
    }
}

fn connect_postgres(url: &str) -> Result<postgres::Client, Error> {
    Ok(rebound_ledger::connect_to_schema(url)?)
}

fn scan_postgres(
    client: &mut postgres::Client,
    w: Window,
    f: &mut dyn FnMut(&Row<'_>),
) -> Result<u64, Error> {
    use postgres::fallible_iterator::FallibleIterator;
    let since = w.since_ms.unwrap_or(i64::MIN);
    let until = w.until_ms.unwrap_or(i64::MAX);
    let mut it = client.query_raw(
        &format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE e.time_ms >= $1 AND e.time_ms < $2 ORDER BY e.time_ms"
        ),
        [&since as &(dyn postgres::types::ToSql + Sync), &until],
    )?;
    let mut n = 0u64;
    while let Some(r) = it.next()? {
        let domain: &str = r.get(2);
        let row = Row {
            time_ms: r.get(0),
            provider: provider_key(r.get(1), domain),
            domain,
            ip: r.get(3),
            campaign: r.get(4),
            outcome: r.get(5),
            reason: r.get(6),
            owner: r.get(7),
            status: r.get(8),
            hardbounce: r.get(9),
            pattern: r.get::<_, Option<&str>>(10).unwrap_or(""),
            blocklist: r.get(11),
            text: r.get::<_, Option<&str>>(12).unwrap_or(""),
        };
        f(&row);
        n += 1;
    }
    Ok(n)
}
