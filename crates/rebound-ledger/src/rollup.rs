//! Per-hour rollups of `events`, kept as events arrive (ledger migration
//! 5), so that a report over millions of events reads a few hundred
//! thousand counts instead of every row.
//!
//! - `rollup_hours`: events per UTC hour and (provider key, recipient
//!   domain, sending IP, campaign, outcome, reason, owner, hard bounce,
//!   blocklist named), with the earliest event time of each (an alert
//!   states since when its key is seen). The provider key is the report's
//!   (`provider`, else the recipient domain); a missing IP or campaign is
//!   `''` (the report reads both as "none").
//! - `rollup_minutes`: deliveries per UTC minute and provider key: the
//!   incident detector's shares are of each minute's attempts, and its
//!   failures are read one by one anyway.
//! - `report_failures`: the report's columns of every event that is not a
//!   delivery, by time: what the report reads one by one (the detector
//!   needs each failure's text, pattern, IP, domain and campaign), kept
//!   together instead of scattered through `events`.
//!
//! Who keeps them right: every statement that adds or changes events.
//! An ingest batch adds the events it inserted (never a duplicate: `ON
//! CONFLICT DO NOTHING` inserted no row, and the backends hand the engine
//! only the events they inserted) in its own transaction
//! (`engine::apply`, through `TxOps::roll_up`): [`BatchRollup`] computes
//! the rows from the events in memory, with the keys the SQL below
//! computes from stored rows. A verdict rewritten by reclassify is taken
//! out under its old key ([`HOURS_REMOVE`], [`MINUTES_REMOVE`],
//! [`FAILURES_REMOVE`]) before the `UPDATE` and added under its new one
//! after it ([`HOURS_ADD`], [`MINUTES_ADD`], [`FAILURES_ADD`], reading
//! the row back). Nothing deletes events; a retention job would have to
//! subtract what it deletes the same way.
//! `tests/store.rs` (`rollups_match_the_events`) checks the tables
//! against a `GROUP BY` over `events` after batches with duplicates and
//! after a reclassify.

/// The UTC hour (or minute) of `col`, floored also below 1970 (SQL's
/// `%` truncates toward zero).
macro_rules! floor_to {
    ($col:literal, $ms:literal) => {
        concat!(
            "(", $col, " - ((", $col, " % ", $ms, ") + ", $ms, ") % ", $ms, ")"
        )
    };
}

/// The grouping key of `rollup_hours` computed from `events e LEFT JOIN
/// verdict_details d`, in the table's column order.
macro_rules! hour_key {
    () => {
        concat!(
            floor_to!("e.time_ms", "3600000"),
            ", COALESCE(NULLIF(e.provider, ''), e.recipient_domain), e.recipient_domain, \
             COALESCE(e.sending_ip, ''), COALESCE(e.campaign, ''), e.outcome, e.reason, e.owner, \
             e.hardbounce, d.blocklist IS NOT NULL"
        )
    };
}

macro_rules! hour_columns {
    () => {
        "hour_ms, provider, domain, sending_ip, campaign, outcome, reason, owner, hardbounce, blocklisted"
    };
}

/// How an added `rollup_hours` row meets one already there: counts add
/// up, the earliest time stays. `$least` is the two-argument minimum
/// (`MIN` on SQLite, `LEAST` on PostgreSQL, or the `{LEAST}` placeholder).
macro_rules! hours_on_conflict {
    ($least:literal) => {
        concat!(
            " ON CONFLICT (",
            hour_columns!(),
            ") DO UPDATE SET n = rollup_hours.n + excluded.n, first_ms = ",
            $least,
            "(rollup_hours.first_ms, excluded.first_ms)"
        )
    };
}

/// The same for `rollup_minutes`.
macro_rules! minutes_on_conflict {
    () => {
        " ON CONFLICT (minute_ms, provider) DO UPDATE SET n = rollup_minutes.n + excluded.n"
    };
}

/// The columns of `report_failures`, in the table's order.
macro_rules! failure_table_columns {
    () => {
        "id, time_ms, provider, domain, sending_ip, campaign, outcome, reason, owner, status, hardbounce, detail_key, text"
    };
}

/// The row of `report_failures` from `events e`.
macro_rules! failure_columns {
    () => {
        "e.id, e.time_ms, COALESCE(NULLIF(e.provider, ''), e.recipient_domain), e.recipient_domain, \
         e.sending_ip, e.campaign, e.outcome, e.reason, e.owner, e.status, e.hardbounce, e.detail_key, e.text"
    };
}

/// Creates the tables and fills them from the events already stored (the
/// body of migration 5, for both backends).
pub const MIGRATION: &str = concat!(
    r#"
-- Events per UTC hour and key (see rebound-ledger's rollup.rs: who keeps
-- it right). A missing IP or campaign is ''.
CREATE TABLE rollup_hours (
    hour_ms BIGINT NOT NULL,
    provider TEXT NOT NULL,
    domain TEXT NOT NULL,
    sending_ip TEXT NOT NULL,
    campaign TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    owner TEXT NOT NULL,
    hardbounce BOOLEAN NOT NULL,
    blocklisted BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    first_ms BIGINT NOT NULL,
    PRIMARY KEY (hour_ms, provider, domain, sending_ip, campaign, outcome, reason, owner, hardbounce, blocklisted)
);
-- Deliveries per UTC minute and provider key (the incident detector's
-- attempts).
CREATE TABLE rollup_minutes (
    minute_ms BIGINT NOT NULL,
    provider TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (minute_ms, provider)
);
-- The report reads the failures (a few percent of the rows) one by one,
-- in time order: without this index it walks every delivery too.
CREATE INDEX events_failures ON events (time_ms, id) WHERE outcome <> 'delivered';
-- What the report reads of each event that is not a delivery, in time
-- order: the events table holds them scattered among the deliveries
-- (on PostgreSQL, 245,000 failures of 10 million events sat on 175,000
-- of its pages, 4 s of reads), here they are together.
CREATE TABLE report_failures (
    id BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    provider TEXT NOT NULL,
    domain TEXT NOT NULL,
    sending_ip TEXT,
    campaign TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT,
    hardbounce BOOLEAN NOT NULL,
    detail_key BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (time_ms, id)
){WITHOUT_ROWID};
INSERT INTO report_failures SELECT "#,
    failure_columns!(),
    " FROM events e WHERE e.outcome <> 'delivered';\n",
    r#"INSERT INTO rollup_hours ("#,
    hour_columns!(),
    ", n, first_ms) SELECT ",
    hour_key!(),
    ", COUNT(*), MIN(e.time_ms) FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key \
     WHERE true GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;\n",
    "INSERT INTO rollup_minutes (minute_ms, provider, n) SELECT ",
    floor_to!("time_ms", "60000"),
    ", COALESCE(NULLIF(provider, ''), recipient_domain), COUNT(*) FROM events \
     WHERE outcome = 'delivered' GROUP BY 1, 2;\n"
);

/// Adds the events of the ids `{IDS}` selects (SQLite: `e.id BETWEEN $1
/// AND $2`; PostgreSQL: `e.id = ANY($1)`) to `rollup_hours`. `{LEAST}` is
/// `MIN` on SQLite (its two-argument scalar form), `LEAST` on PostgreSQL.
pub const HOURS_ADD: &str = concat!(
    "INSERT INTO rollup_hours (",
    hour_columns!(),
    ", n, first_ms) SELECT ",
    hour_key!(),
    ", COUNT(*), MIN(e.time_ms) FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key \
     WHERE {IDS} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    hours_on_conflict!("{LEAST}")
);

/// The same for `rollup_minutes` (deliveries only).
pub const MINUTES_ADD: &str = concat!(
    "INSERT INTO rollup_minutes (minute_ms, provider, n) SELECT ",
    floor_to!("e.time_ms", "60000"),
    ", COALESCE(NULLIF(e.provider, ''), e.recipient_domain), COUNT(*) FROM events e \
     WHERE {IDS} AND e.outcome = 'delivered' GROUP BY 1, 2",
    minutes_on_conflict!()
);

/// Adds the failures among the events `{IDS}` selects to
/// `report_failures`.
pub const FAILURES_ADD: &str = concat!(
    "INSERT INTO report_failures SELECT ",
    failure_columns!(),
    " FROM events e WHERE {IDS} AND e.outcome <> 'delivered'"
);

/// Takes event `$1` out of `report_failures` (found by its time: the key
/// starts with it).
pub const FAILURES_REMOVE: &str = "DELETE FROM report_failures WHERE time_ms = (SELECT time_ms FROM events WHERE id = $1) AND id = $1";

/// Takes event `$1` out of `rollup_hours` under its key as stored now
/// (before its verdict is rewritten). When it was its row's earliest
/// event, the row's `first_ms` is found again among the others (rare: a
/// changed event that opened its hour and key).
pub const HOURS_REMOVE: &str = concat!(
    "UPDATE rollup_hours SET n = rollup_hours.n - 1, first_ms = CASE \
     WHEN rollup_hours.first_ms < o.time_ms OR rollup_hours.n = 1 THEN rollup_hours.first_ms \
     ELSE COALESCE((SELECT MIN(x.time_ms) FROM events x LEFT JOIN verdict_details xd ON xd.key = x.detail_key \
       WHERE x.time_ms >= rollup_hours.hour_ms AND x.time_ms < rollup_hours.hour_ms + 3600000 AND x.id <> $1 \
       AND COALESCE(NULLIF(x.provider, ''), x.recipient_domain) = rollup_hours.provider \
       AND x.recipient_domain = rollup_hours.domain AND COALESCE(x.sending_ip, '') = rollup_hours.sending_ip \
       AND COALESCE(x.campaign, '') = rollup_hours.campaign AND x.outcome = rollup_hours.outcome \
       AND x.reason = rollup_hours.reason AND x.owner = rollup_hours.owner \
       AND x.hardbounce = rollup_hours.hardbounce AND (xd.blocklist IS NOT NULL) = rollup_hours.blocklisted), \
       rollup_hours.first_ms) END \
     FROM (SELECT ",
    floor_to!("e.time_ms", "3600000"),
    " AS k_hour, COALESCE(NULLIF(e.provider, ''), e.recipient_domain) AS k_provider, \
     e.recipient_domain AS k_domain, COALESCE(e.sending_ip, '') AS k_ip, COALESCE(e.campaign, '') AS k_campaign, \
     e.outcome AS k_outcome, e.reason AS k_reason, e.owner AS k_owner, e.hardbounce AS k_hard, \
     d.blocklist IS NOT NULL AS k_listed, e.time_ms AS time_ms \
     FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key WHERE e.id = $1) AS o \
     WHERE rollup_hours.hour_ms = o.k_hour AND rollup_hours.provider = o.k_provider \
     AND rollup_hours.domain = o.k_domain AND rollup_hours.sending_ip = o.k_ip \
     AND rollup_hours.campaign = o.k_campaign AND rollup_hours.outcome = o.k_outcome \
     AND rollup_hours.reason = o.k_reason AND rollup_hours.owner = o.k_owner \
     AND rollup_hours.hardbounce = o.k_hard AND rollup_hours.blocklisted = o.k_listed"
);

/// Takes delivery `$1` out of `rollup_minutes` under its provider key as
/// stored now.
pub const MINUTES_REMOVE: &str = concat!(
    "UPDATE rollup_minutes SET n = n - 1 WHERE (minute_ms, provider) = (SELECT ",
    floor_to!("time_ms", "60000"),
    ", COALESCE(NULLIF(provider, ''), recipient_domain) FROM events WHERE id = $1 AND outcome = 'delivered')"
);

/// [`HOURS_ADD`] and [`MINUTES_ADD`] for a backend (built once, so that
/// the backends' statement caches can key them by address).
pub fn add_statements(postgres: bool) -> [&'static str; 3] {
    use std::sync::LazyLock;
    fn build(ids: &str, least: &str) -> [String; 3] {
        [HOURS_ADD, MINUTES_ADD, FAILURES_ADD]
            .map(|s| s.replace("{IDS}", ids).replace("{LEAST}", least))
    }
    static SQLITE: LazyLock<[String; 3]> = LazyLock::new(|| build("e.id BETWEEN $1 AND $2", "MIN"));
    static POSTGRES: LazyLock<[String; 3]> = LazyLock::new(|| build("e.id = ANY($1)", "LEAST"));
    let s = if postgres { &*POSTGRES } else { &*SQLITE };
    [s[0].as_str(), s[1].as_str(), s[2].as_str()]
}

/// One row of `rollup_hours` to add (its key, a count and the earliest
/// time among the counted events).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HourRow<'a> {
    pub hour_ms: i64,
    pub provider: &'a str,
    pub domain: &'a str,
    pub sending_ip: &'a str,
    pub campaign: &'a str,
    pub outcome: &'a str,
    pub reason: &'a str,
    pub owner: &'a str,
    pub hardbounce: bool,
    pub blocklisted: bool,
    pub n: i64,
    pub first_ms: i64,
}

/// One row of `report_failures` to add.
pub(crate) struct FailureRow<'a> {
    pub id: i64,
    pub time_ms: i64,
    pub provider: &'a str,
    pub domain: &'a str,
    pub sending_ip: Option<&'a str>,
    pub campaign: Option<&'a str>,
    pub outcome: &'a str,
    pub reason: &'a str,
    pub owner: &'a str,
    pub status: Option<String>,
    pub hardbounce: bool,
    pub detail_key: i64,
    pub text: &'a str,
}

/// What a batch adds to the three rollup tables, computed from the events
/// it inserted as they are in memory: the same keys [`HOURS_ADD`],
/// [`MINUTES_ADD`] and [`FAILURES_ADD`] compute from the stored rows (the
/// values stored are the event's own), without reading the rows back,
/// grouping them by sorting in SQL, and joining the details (which cost
/// an ingest batch on SQLite a third of its time). Rows are in key order,
/// so concurrent PostgreSQL batches lock shared rows in one order.
#[derive(Default)]
pub(crate) struct BatchRollup<'a> {
    pub hours: Vec<HourRow<'a>>,
    /// (minute, provider key, deliveries).
    pub minutes: Vec<(i64, &'a str, i64)>,
    pub failures: Vec<FailureRow<'a>>,
}

/// `col - floor-mod(col, unit)`: the SQL's floor (see `floor_to!`).
fn floor(t: i64, unit: i64) -> i64 {
    t - t.rem_euclid(unit)
}

impl<'a> BatchRollup<'a> {
    /// The rollup rows of `inserted`, the events a batch inserted with
    /// their new ids.
    pub fn of(inserted: &[(i64, &'a rebound_ingest::Event)]) -> Self {
        use std::collections::BTreeMap;
        let mut hours: BTreeMap<HourRow<'a>, (i64, i64)> = BTreeMap::new();
        let mut minutes: BTreeMap<(i64, &'a str), i64> = BTreeMap::new();
        let mut failures = Vec::new();
        for &(id, e) in inserted {
            let v = &e.verdict;
            let provider = match v.provider.as_deref() {
                Some(p) if !p.is_empty() => p,
                _ => e.recipient_domain.as_str(),
            };
            let outcome = e.outcome.as_str();
            let key = HourRow {
                hour_ms: floor(e.time_ms, 3_600_000),
                provider,
                domain: &e.recipient_domain,
                sending_ip: e.sending_ip.as_deref().unwrap_or(""),
                campaign: e.campaign.as_deref().unwrap_or(""),
                outcome,
                reason: v.reason.as_str(),
                owner: v.owner.as_str(),
                hardbounce: v.hardbounce,
                blocklisted: v.blocklist.is_some(),
                n: 0,
                first_ms: 0,
            };
            let slot = hours.entry(key).or_insert((0, e.time_ms));
            slot.0 += 1;
            slot.1 = slot.1.min(e.time_ms);
            if e.outcome == rebound_ingest::Outcome::Delivered {
                *minutes
                    .entry((floor(e.time_ms, 60_000), provider))
                    .or_default() += 1;
            } else {
                failures.push(FailureRow {
                    id,
                    time_ms: e.time_ms,
                    provider,
                    domain: &e.recipient_domain,
                    sending_ip: e.sending_ip.as_deref(),
                    campaign: e.campaign.as_deref(),
                    outcome,
                    reason: v.reason.as_str(),
                    owner: v.owner.as_str(),
                    status: v.deliverystatus.map(|s| s.to_string()),
                    hardbounce: v.hardbounce,
                    detail_key: crate::schema::detail_key(v),
                    text: &e.text,
                });
            }
        }
        failures.sort_by_key(|f| (f.time_ms, f.id));
        BatchRollup {
            hours: hours
                .into_iter()
                .map(|(k, (n, first_ms))| HourRow { n, first_ms, ..k })
                .collect(),
            minutes: minutes.into_iter().map(|((m, p), n)| (m, p, n)).collect(),
            failures,
        }
    }
}

/// Adds one [`HourRow`] (`$1`…`$12` in the table's column order, then
/// `n` and `first_ms`): SQLite's form, one row a statement.
pub const HOUR_UPSERT: &str = concat!(
    "INSERT INTO rollup_hours (",
    hour_columns!(),
    ", n, first_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    hours_on_conflict!("MIN")
);

/// Adds deliveries to one `rollup_minutes` row: (minute, provider, n).
pub const MINUTE_UPSERT: &str = concat!(
    "INSERT INTO rollup_minutes (minute_ms, provider, n) VALUES ($1, $2, $3)",
    minutes_on_conflict!()
);

/// Adds one [`FailureRow`] to `report_failures`, in the table's column
/// order.
pub const FAILURE_INSERT: &str = concat!(
    "INSERT INTO report_failures (",
    failure_table_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);

/// [`HOUR_UPSERT`] for PostgreSQL: a batch's rows (distinct keys) in one
/// statement, one array per column.
pub const HOURS_UPSERT_ARRAYS: &str = concat!(
    "INSERT INTO rollup_hours (",
    hour_columns!(),
    ", n, first_ms) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
     $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::bool[], $11::bigint[], $12::bigint[])",
    hours_on_conflict!("LEAST")
);

/// [`MINUTE_UPSERT`] for PostgreSQL, over arrays.
pub const MINUTES_UPSERT_ARRAYS: &str = concat!(
    "INSERT INTO rollup_minutes (minute_ms, provider, n) \
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
    minutes_on_conflict!()
);

/// [`FAILURE_INSERT`] for PostgreSQL, over arrays.
pub const FAILURES_INSERT_ARRAYS: &str = concat!(
    "INSERT INTO report_failures (",
    failure_table_columns!(),
    ") SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[], $12::bigint[], $13::text[])"
);
