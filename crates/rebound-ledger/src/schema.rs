//! The schema, shared by both backends, and versioned migrations.
//!
//! SQL here is written once for both: `$1`-style parameters (SQLite reads
//! them as positional when they first appear in order), and the few type
//! names that differ are placeholders (`{ID}`, `{BLOB}`).

use crate::StoredEvent;
use rebound_core::{Blocklist, Verdict};
use rebound_ingest::Event;

/// Migrations, in order; each runs once, in a transaction, and bumps
/// `schema_version`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE events (
    id {ID},
    dedupe_key {BLOB} NOT NULL,
    time_ms BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    sender TEXT,
    sending_ip TEXT,
    campaign TEXT,
    message_id TEXT,
    outcome TEXT NOT NULL,
    replycode INTEGER,
    status TEXT,
    text TEXT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    hardbounce BOOLEAN NOT NULL,
    permanent BOOLEAN,
    owner TEXT NOT NULL,
    remedy TEXT NOT NULL,
    provider TEXT,
    detail_key BIGINT NOT NULL,
    rhost TEXT NOT NULL,
    smtpcommand TEXT NOT NULL,
    policy_class TEXT NOT NULL,
    ingested_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_dedupe ON events (dedupe_key);
CREATE INDEX events_recipient_time ON events (recipient, time_ms);
CREATE INDEX events_time ON events (time_ms);

-- The verdict's long, repetitive fields, stored once per distinct value.
CREATE TABLE verdict_details (
    key BIGINT PRIMARY KEY,
    blocklist TEXT,
    pattern TEXT NOT NULL,
    explain TEXT NOT NULL
);

CREATE TABLE suppressions (
    address TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    event_count BIGINT NOT NULL
);
CREATE TABLE suppression_events (
    address TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (address, event_id)
);
CREATE TABLE suppression_audit (
    id {ID},
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX suppression_audit_address ON suppression_audit (address, at_ms);
CREATE TABLE recipient_resets (
    address TEXT PRIMARY KEY,
    reset_ms BIGINT NOT NULL
);
CREATE TABLE sender_issues (
    id {ID},
    event_id BIGINT NOT NULL UNIQUE,
    time_ms BIGINT NOT NULL,
    sending_ip TEXT,
    sender_domain TEXT,
    provider TEXT,
    reason TEXT NOT NULL,
    owner TEXT NOT NULL,
    blocklist TEXT
);
CREATE INDEX sender_issues_time ON sender_issues (time_ms);
"#,
    ),
    (
        2,
        r#"
-- One-time keys of signed webhooks (Mailgun's token): claimed in the
-- transaction that stores the request's events, so a replay is refused on
-- every server sharing the store, and after a restart.
CREATE TABLE once_tokens (
    key TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX once_tokens_expiry ON once_tokens (expires_ms);
"#,
    ),
    (
        3,
        r#"
-- What each verdict was judged from besides the text (JSON of
-- `rebound_ingest::Evidence`; NULL for events stored before this
-- migration, which are judged again from their verdict's fields) and the
-- id of the rules that judged it (NULL: unknown).
ALTER TABLE events ADD COLUMN evidence TEXT;
ALTER TABLE events ADD COLUMN rules_id TEXT;
-- Every verdict `rebound reclassify --apply` changed, with both rule ids.
CREATE TABLE verdict_changes (
    id {ID},
    event_id BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    old_reason TEXT NOT NULL,
    new_reason TEXT NOT NULL,
    old_class TEXT NOT NULL,
    new_class TEXT NOT NULL,
    old_rules_id TEXT,
    new_rules_id TEXT NOT NULL,
    decided_by TEXT NOT NULL
);
CREATE INDEX verdict_changes_event ON verdict_changes (event_id);
"#,
    ),
    (
        4,
        r#"
-- The report (rebound-insight's source.rs) reads the time, outcome,
-- provider, recipient domain, sending IP and campaign of every event of a
-- window in time order: all in one index, so that scan never visits the
-- table (on SQLite, 1 million events: 0.7 s instead of 2.1 s).
CREATE INDEX events_report ON events (time_ms, outcome, provider, recipient_domain, sending_ip, campaign);
"#,
    ),
    // Per-hour rollups kept as events arrive, filled here from the events
    // already stored (`rollup.rs`).
    (5, crate::rollup::MIGRATION),
    (
        6,
        r#"
-- events_time (time_ms) repeats the first column of events_report, which
-- serves every query by time: one index fewer to write per event.
DROP INDEX IF EXISTS events_time;
"#,
    ),
    (
        7,
        r#"{SQLITE_ONLY}
-- SQLite gives a table keyed by text a hidden rowid and a second B-tree for
-- the key: a suppression check walked the key's index, then the table.
-- Without the rowid the rows live in the key's B-tree, one walk per lookup
-- (a batch check of 1,000 addresses: 940k -> 1.2M addresses/s). PostgreSQL
-- has no rowid; it skips this step.
CREATE TABLE suppressions_by_key (
    address TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    event_count BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO suppressions_by_key SELECT address, domain, reason, detail, created_ms, updated_ms, created_by, event_count FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_by_key RENAME TO suppressions;

CREATE TABLE suppression_events_by_key (
    address TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (address, event_id)
) WITHOUT ROWID;
INSERT INTO suppression_events_by_key SELECT address, event_id FROM suppression_events;
DROP TABLE suppression_events;
ALTER TABLE suppression_events_by_key RENAME TO suppression_events;

CREATE TABLE recipient_resets_by_key (
    address TEXT PRIMARY KEY,
    reset_ms BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO recipient_resets_by_key SELECT address, reset_ms FROM recipient_resets;
DROP TABLE recipient_resets;
ALTER TABLE recipient_resets_by_key RENAME TO recipient_resets;

CREATE TABLE once_tokens_by_key (
    key TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO once_tokens_by_key SELECT key, expires_ms FROM once_tokens;
DROP TABLE once_tokens;
ALTER TABLE once_tokens_by_key RENAME TO once_tokens;
CREATE INDEX once_tokens_expiry ON once_tokens (expires_ms);
"#,
    ),
];

/// Marks a migration that only SQLite runs (PostgreSQL records its version
/// and runs nothing), for storage details SQLite alone has.
const SQLITE_ONLY: &str = "{SQLITE_ONLY}";

/// Claiming a one-time key inside a batch's transaction: expired keys are
/// dropped first, then the key is inserted unless present (1 row: claimed).
pub const ONCE_EXPIRE: &str = "DELETE FROM once_tokens WHERE expires_ms < $1";
pub const ONCE_CLAIM: &str =
    "INSERT INTO once_tokens (key, expires_ms) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

pub fn ddl(sql: &str, postgres: bool) -> String {
    let (sqlite_only, sql) = match sql.strip_prefix(SQLITE_ONLY) {
        Some(rest) => (true, rest),
        None => (false, sql),
    };
    if postgres && sqlite_only {
        String::new()
    } else if postgres {
        sql.replace("{ID}", "BIGSERIAL PRIMARY KEY")
            .replace("{BLOB}", "BYTEA")
            .replace("{WITHOUT_ROWID}", "")
    } else {
        // A table keyed by time without a rowid is stored in time order.
        sql.replace("{ID}", "INTEGER PRIMARY KEY")
            .replace("{BLOB}", "BLOB")
            .replace("{WITHOUT_ROWID}", " WITHOUT ROWID")
    }
}

/// Columns of `events` in insert order (27 after `id`).
pub const EVENT_COLUMNS: &str = "dedupe_key, time_ms, recipient, recipient_domain, sender, sending_ip, campaign, message_id, outcome, replycode, status, text, format, source, reason, hardbounce, permanent, owner, remedy, provider, detail_key, rhost, smtpcommand, policy_class, ingested_ms, evidence, rules_id";
pub const EVENT_NCOLS: usize = 27;

/// `SELECT` list for reading events back (id first), with [`EVENT_FROM`].
pub const EVENT_SELECT: &str = "id, dedupe_key, time_ms, recipient, recipient_domain, sender, sending_ip, campaign, message_id, outcome, replycode, status, text, format, source, reason, hardbounce, permanent, owner, remedy, provider, blocklist, rhost, smtpcommand, COALESCE(pattern, ''), COALESCE(explain, ''), policy_class, evidence, rules_id";

/// An event's evidence as stored: JSON without the rules id (a column of
/// its own) and without `recorded` (a stored value is recorded evidence;
/// evidence not recorded is NULL, as in rows older than migration 3).
pub fn evidence_json(e: &Event) -> Option<String> {
    if !e.evidence.recorded {
        return None;
    }
    let mut ev = e.evidence.clone();
    ev.rules_id = None;
    ev.recorded = false;
    serde_json::to_string(&ev).ok()
}

/// The evidence read back: `None` (an event stored before evidence was
/// kept) is not recorded.
pub fn evidence_from(json: Option<&str>, rules_id: Option<String>) -> rebound_ingest::Evidence {
    let mut ev = json
        .and_then(|j| serde_json::from_str::<rebound_ingest::Evidence>(j).ok())
        .map(|mut ev| {
            ev.recorded = true;
            ev
        })
        .unwrap_or_default();
    ev.rules_id = rules_id;
    ev
}

/// The `FROM` of [`EVENT_SELECT`].
pub const EVENT_FROM: &str =
    "events LEFT JOIN verdict_details ON verdict_details.key = events.detail_key";

/// The key of a verdict's details (pattern, explain, blocklist): xxh3-64.
pub fn detail_key(v: &Verdict) -> i64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(v.pattern.as_bytes());
    h.update(b"\x1f");
    h.update(v.explain.as_bytes());
    if let Some(b) = &v.blocklist {
        h.update(b"\x1f");
        h.update(b.name.as_bytes());
        h.update(b"\x1f");
        h.update(b.zone.as_bytes());
        h.update(b"\x1f");
        h.update(b.listed.as_str().as_bytes());
    }
    h.digest() as i64
}

pub fn placeholders(start: usize, n: usize) -> String {
    let v: Vec<String> = (start..start + n).map(|i| format!("${i}")).collect();
    format!("({})", v.join(", "))
}

/// The blocklist as stored (JSON).
pub fn blocklist_json(b: &Option<Blocklist>) -> Option<String> {
    b.as_ref().and_then(|b| serde_json::to_string(b).ok())
}

/// A row read back, as plain values (both backends fill this).
pub struct EventRow {
    pub id: i64,
    pub dedupe_key: Vec<u8>,
    pub time_ms: i64,
    pub recipient: String,
    pub recipient_domain: String,
    pub sender: Option<String>,
    pub sending_ip: Option<String>,
    pub campaign: Option<String>,
    pub message_id: Option<String>,
    pub outcome: String,
    pub replycode: Option<i32>,
    pub status: Option<String>,
    pub text: String,
    pub format: String,
    pub source: String,
    pub reason: String,
    pub hardbounce: bool,
    pub permanent: Option<bool>,
    pub owner: String,
    pub remedy: String,
    pub provider: Option<String>,
    pub blocklist: Option<String>,
    pub rhost: String,
    pub smtpcommand: String,
    pub pattern: String,
    pub explain: String,
    pub policy_class: String,
    pub evidence: Option<String>,
    pub rules_id: Option<String>,
}

impl EventRow {
    pub fn into_stored(self) -> StoredEvent {
        let mut key = [0u8; 16];
        if self.dedupe_key.len() == 16 {
            key.copy_from_slice(&self.dedupe_key);
        }
        StoredEvent {
            id: self.id,
            policy_class: self.policy_class,
            event: Event {
                time_ms: self.time_ms,
                recipient: self.recipient,
                recipient_domain: self.recipient_domain,
                sender: self.sender,
                sending_ip: self.sending_ip,
                campaign: self.campaign,
                message_id: self.message_id,
                outcome: self
                    .outcome
                    .parse()
                    .unwrap_or(rebound_ingest::Outcome::Bounced),
                text: self.text,
                format: self.format,
                source: self.source,
                dedupe_key: key,
                verdict: Verdict {
                    replycode: self
                        .replycode
                        .and_then(|c| u16::try_from(c).ok())
                        .and_then(rebound_core::ReplyCode::new),
                    deliverystatus: self.status.and_then(|s| s.parse().ok()),
                    smtpcommand: self.smtpcommand,
                    rhost: self.rhost,
                    reason: self
                        .reason
                        .parse()
                        .unwrap_or(rebound_core::Reason::Undefined),
                    hardbounce: self.hardbounce,
                    permanent: self.permanent,
                    owner: self.owner.parse().unwrap_or(rebound_core::Owner::Unknown),
                    remedy: self
                        .remedy
                        .parse()
                        .unwrap_or(rebound_core::Remedy::Investigate),
                    provider: self.provider,
                    blocklist: self.blocklist.and_then(|b| serde_json::from_str(&b).ok()),
                    pattern: self.pattern,
                    explain: self.explain,
                },
                evidence: evidence_from(self.evidence.as_deref(), self.rules_id),
            },
        }
    }
}

/// The WHERE clause and parameters of an event query, `$1`-numbered.
pub fn event_filter(q: &crate::EventQuery) -> (String, Vec<QueryParam>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if let Some(s) = q.since_ms {
        params.push(QueryParam::Int(s));
        clauses.push(format!("time_ms >= ${}", params.len()));
    }
    if let Some(r) = &q.recipient {
        params.push(QueryParam::Text(r.clone()));
        clauses.push(format!("recipient = ${}", params.len()));
    }
    if let Some(p) = &q.provider {
        params.push(QueryParam::Text(p.to_ascii_lowercase()));
        let n = params.len();
        clauses.push(format!("(provider = ${n} OR recipient_domain = ${n})"));
    }
    if let Some(r) = &q.reason {
        params.push(QueryParam::Text(r.to_ascii_lowercase()));
        let n = params.len();
        clauses.push(format!(
            "(reason = ${n} OR policy_class = ${n} OR outcome = ${n})"
        ));
    }
    let w = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (w, params)
}

pub enum QueryParam {
    Int(i64),
    Text(String),
}

/// The sender's domain from an address.
pub fn sender_domain(e: &Event) -> Option<String> {
    e.sender
        .as_deref()
        .map(rebound_ingest::domain_of)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

/// `SELECT` list of [`crate::reclassify::JudgedRow`] (`FROM events`). The
/// old verdict's explanation and blocklist are only read for events stored
/// without evidence, which are judged again from them.
pub const JUDGING_SELECT: &str = "id, time_ms, recipient, recipient_domain, sender, sending_ip, campaign, message_id, outcome, text, format, source, replycode, status, reason, hardbounce, permanent, owner, remedy, provider, detail_key, rhost, smtpcommand, policy_class, evidence, rules_id, CASE WHEN evidence IS NULL THEN (SELECT blocklist FROM verdict_details WHERE key = detail_key) END, CASE WHEN evidence IS NULL THEN COALESCE((SELECT explain FROM verdict_details WHERE key = detail_key), '') ELSE '' END";

/// The `WHERE … ORDER BY … LIMIT` of a judging query, `$1`-numbered, and
/// its parameters.
pub fn judging_filter(q: &crate::reclassify::RowQuery<'_>) -> (String, Vec<QueryParam>) {
    let mut params = Vec::new();
    let mut clauses = Vec::new();
    match q.only {
        Some(a) => {
            params.push(QueryParam::Text(a.to_string()));
            clauses.push(format!("recipient = ${}", params.len()));
        }
        None => {
            params.push(QueryParam::Text(q.after.to_string()));
            clauses.push(format!("recipient > ${}", params.len()));
        }
    }
    if let Some(s) = q.since_ms {
        params.push(QueryParam::Int(s));
        clauses.push(format!("time_ms >= ${}", params.len()));
    }
    if let Some(r) = q.skip_rules {
        params.push(QueryParam::Text(r.to_string()));
        clauses.push(format!(
            "(rules_id IS NULL OR rules_id <> ${})",
            params.len()
        ));
    }
    let limit = if q.limit == usize::MAX {
        String::new()
    } else {
        format!(" LIMIT {}", q.limit)
    };
    (
        format!(
            "WHERE {} ORDER BY recipient, time_ms, id{limit}",
            clauses.join(" AND ")
        ),
        params,
    )
}

/// A judging row's plain values (both backends fill this).
pub struct JudgingValues {
    pub id: i64,
    pub time_ms: i64,
    pub recipient: String,
    pub recipient_domain: String,
    pub sender: Option<String>,
    pub sending_ip: Option<String>,
    pub campaign: Option<String>,
    pub message_id: Option<String>,
    pub outcome: String,
    pub text: String,
    pub format: String,
    pub source: String,
    pub replycode: Option<i32>,
    pub status: Option<String>,
    pub reason: String,
    pub hardbounce: bool,
    pub permanent: Option<bool>,
    pub owner: String,
    pub remedy: String,
    pub provider: Option<String>,
    pub detail_key: i64,
    pub rhost: String,
    pub smtpcommand: String,
    pub policy_class: String,
    pub evidence: Option<String>,
    pub rules_id: Option<String>,
    pub blocklist: Option<String>,
    pub explain: String,
}

impl JudgingValues {
    pub fn into_row(self) -> crate::reclassify::JudgedRow {
        let stored = EventRow {
            id: self.id,
            dedupe_key: Vec::new(),
            time_ms: self.time_ms,
            recipient: self.recipient,
            recipient_domain: self.recipient_domain,
            sender: self.sender,
            sending_ip: self.sending_ip,
            campaign: self.campaign,
            message_id: self.message_id,
            outcome: self.outcome,
            replycode: self.replycode,
            status: self.status,
            text: self.text,
            format: self.format,
            source: self.source,
            reason: self.reason,
            hardbounce: self.hardbounce,
            permanent: self.permanent,
            owner: self.owner,
            remedy: self.remedy,
            provider: self.provider,
            blocklist: self.blocklist,
            rhost: self.rhost,
            smtpcommand: self.smtpcommand,
            pattern: String::new(),
            explain: self.explain,
            policy_class: self.policy_class,
            evidence: self.evidence,
            rules_id: self.rules_id,
        }
        .into_stored();
        crate::reclassify::JudgedRow {
            id: stored.id,
            event: stored.event,
            policy_class: stored.policy_class,
            detail_key: self.detail_key,
        }
    }
}

/// Writing a re-judged verdict (`$14` the id: SQLite numbers parameters
/// in order of appearance, so they appear in order).
pub const UPDATE_VERDICT: &str = "UPDATE events SET replycode = $1, status = $2, reason = $3, hardbounce = $4, permanent = $5, owner = $6, remedy = $7, provider = $8, detail_key = $9, rhost = $10, smtpcommand = $11, policy_class = $12, rules_id = $13 WHERE id = $14";
pub const INSERT_DETAIL: &str = "INSERT INTO verdict_details (key, blocklist, pattern, explain) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
pub const INSERT_CHANGE: &str = "INSERT INTO verdict_changes (event_id, at_ms, actor, old_reason, new_reason, old_class, new_class, old_rules_id, new_rules_id, decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
pub const ADDRESS_EVENTS: &str =
    "SELECT id, time_ms, message_id, policy_class, reason FROM events WHERE recipient = $1";
pub const DROP_SENDER_ISSUE: &str = "DELETE FROM sender_issues WHERE event_id = $1";
