//! Rebound's ledger: the event store, the suppression policy and list, and
//! the record of sender-side issues, on SQLite (embedded default) or
//! PostgreSQL (several instances sharing one store).
//!
//! This crate owns storage and policy; parsing inputs is `rebound-ingest`'s
//! and judging replies the classifier's. Both backends implement one
//! synchronous [`Store`] trait over the same schema (versioned in
//! `schema_version`); the policy engine ([`engine`]) is shared and runs
//! inside the transaction that inserts a batch, so a batch lands whole —
//! events, suppressions, audit rows and sender issues — or not at all.
//!
//! Re-ingesting adds nothing: every event carries a dedupe key with a UNIQUE
//! index, and inserts are `ON CONFLICT DO NOTHING`; the policy only sees
//! events that were new.

mod engine;
mod pg_connect;
pub mod pipeline;
pub mod policy;
mod postgres_store;
pub mod reclassify;
mod rollup;
mod schema;
mod sqlite_store;
pub mod synth;

pub use pipeline::{IngestOptions, IngestStats, ingest};
pub use policy::{Class, Policy};
pub use postgres_store::{PgStore, connect_to_schema};
pub use reclassify::{ReclassifyJob, ReclassifyOptions, ReclassifyReport};
pub use sqlite_store::{SnapshotChecker, SqliteStore};

use rebound_ingest::Event;
use serde::{Deserialize, Serialize};

/// The default SQLite file when neither `--db` nor `REBOUND_DATABASE_URL`
/// names a store.
pub const DEFAULT_DB: &str = "rebound.db";

/// A storage error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// An active suppression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppression {
    pub address: String,
    pub domain: String,
    /// Why: `hardbounce`, `complaint`, `repeated_softbounce`, `manual`,
    /// `import`.
    pub reason: String,
    /// The verdict reason behind it (`userunknown`, `mailboxfull`, …) or a
    /// free note for manual entries.
    pub detail: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// `policy` or the user who added it.
    pub created_by: String,
    /// Events linked to it.
    pub event_count: i64,
}

/// One audit row: every suppression, removal and manual addition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub address: String,
    /// `suppress`, `add`, `remove`.
    pub action: String,
    pub actor: String,
    pub at_ms: i64,
    pub reason: String,
    pub note: String,
}

/// A stored event with its row id and policy class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub id: i64,
    pub policy_class: String,
    #[serde(flatten)]
    pub event: Event,
}

/// Sender-side refusals, grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SenderIssue {
    pub sending_ip: Option<String>,
    pub sender_domain: Option<String>,
    /// The receiving provider that refused (or the recipient domain).
    pub provider: Option<String>,
    pub reason: String,
    pub blocklist: Option<String>,
    pub count: i64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// Filters for [`Store::events`].
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub since_ms: Option<i64>,
    pub recipient: Option<String>,
    /// Receiving provider (verdict) or, failing that, recipient domain.
    pub provider: Option<String>,
    pub reason: Option<String>,
    pub limit: usize,
}

/// What one committed batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Events new to the store.
    pub inserted: usize,
    /// Events already there (same dedupe key).
    pub duplicates: usize,
    /// Addresses suppressed by this batch.
    pub suppressed: Vec<String>,
    /// Sender issues recorded.
    pub sender_issues: usize,
}

/// A manual suppression (`add`, `import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualSuppression {
    pub address: String,
    #[serde(default = "manual")]
    pub reason: String,
    #[serde(default)]
    pub detail: String,
}

fn manual() -> String {
    "manual".into()
}

/// A one-time key and when its claim may be forgotten (after the request
/// it came with can no longer be accepted anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceKey {
    pub key: String,
    pub expires_ms: i64,
}

/// The event store and suppression list.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Inserts a batch of events and applies the policy to the new ones, in
    /// one transaction, which first claims `once` when given (a signed
    /// webhook's one-time token). `None`: the key was already claimed, by
    /// this or any server sharing the store, and nothing was stored. A
    /// failed store claims nothing, so a retry is not a replay.
    fn ingest_claiming(
        &mut self,
        events: &[Event],
        policy: &Policy,
        once: Option<&OnceKey>,
    ) -> Result<Option<BatchOutcome>>;

    /// [`Store::ingest_claiming`] without a one-time key.
    fn ingest_batch(&mut self, events: &[Event], policy: &Policy) -> Result<BatchOutcome> {
        Ok(self
            .ingest_claiming(events, policy, None)?
            .expect("a batch without a one-time key always runs"))
    }

    /// [`Store::ingest_claiming`] with a one-time key.
    fn ingest_batch_once(
        &mut self,
        events: &[Event],
        policy: &Policy,
        once: &OnceKey,
    ) -> Result<Option<BatchOutcome>> {
        self.ingest_claiming(events, policy, Some(once))
    }

    /// Looks up normalised addresses; one answer per address, in order.
    fn check(&mut self, addresses: &[String]) -> Result<Vec<Option<Suppression>>>;

    /// Active suppressions, by address.
    fn suppressions(&mut self, limit: Option<usize>) -> Result<Vec<Suppression>>;

    /// The events behind a suppression, oldest first.
    fn suppression_events(&mut self, address: &str) -> Result<Vec<StoredEvent>>;

    /// Adds suppressions by hand (already normalised addresses); returns how
    /// many were new.
    fn add_suppressions(&mut self, items: &[ManualSuppression], actor: &str) -> Result<usize>;

    /// Lifts a suppression, recording who and when; returns whether there
    /// was one. Soft bounces before the removal no longer count.
    fn remove_suppression(&mut self, address: &str, actor: &str, note: &str) -> Result<bool>;

    /// Audit trail, newest first (for one address or all).
    fn audit(&mut self, address: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>>;

    /// Events matching the query, newest first.
    fn events(&mut self, query: &EventQuery) -> Result<Vec<StoredEvent>>;

    /// Sender-side issues grouped by sending IP, sender domain, provider,
    /// reason and blocklist; most frequent first.
    fn sender_issues(&mut self, since_ms: Option<i64>) -> Result<Vec<SenderIssue>>;

    /// Number of stored events.
    fn count_events(&mut self) -> Result<u64>;

    /// Number of active suppressions (the server's gauge reads it on every
    /// scrape, so it must not load the list).
    fn count_suppressions(&mut self) -> Result<u64>;

    /// One batch of a reclassify run ([`reclassify`]) in one transaction,
    /// committed when the job applies, rolled back otherwise; false when no
    /// event was left.
    fn reclassify_batch(&mut self, job: &mut ReclassifyJob<'_, '_>) -> Result<bool>;

    /// Verdicts changed by reclassify runs, newest first (for one event or
    /// all).
    fn verdict_changes(
        &mut self,
        event_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<VerdictChange>>;
}

/// One verdict a reclassify run changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictChange {
    pub event_id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub old_reason: String,
    pub new_reason: String,
    pub old_class: String,
    pub new_class: String,
    /// `None`: the event was stored before rules had ids.
    pub old_rules_id: Option<String>,
    pub new_rules_id: String,
    /// What decided the new verdict (`rule ID`, `status 5.1.1`, …).
    pub decided_by: String,
}

/// `SELECT` of [`VerdictChange`].
pub(crate) const VERDICT_CHANGE_SELECT: &str = "SELECT event_id, at_ms, actor, old_reason, new_reason, old_class, new_class, old_rules_id, new_rules_id, decided_by FROM verdict_changes";

/// Opens (creating and migrating if needed) the store a URL names:
/// `postgres://…`/`postgresql://…` (an optional `schema=NAME` query
/// parameter selects a schema, created if missing), otherwise a SQLite file
/// path (`sqlite://` or `sqlite:` prefixes allowed).
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    match sqlite_file(url) {
        Some(path) => Ok(Box::new(SqliteStore::open(path)?)),
        None => Ok(Box::new(PgStore::connect(url)?)),
    }
}

/// The file a SQLite store URL names (`sqlite://` or `sqlite:` prefixes
/// allowed); `None` for a PostgreSQL URL.
pub fn sqlite_file(url: &str) -> Option<&str> {
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    (!postgres).then(|| {
        url.strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url)
    })
}

/// The store named by `--db`, else `REBOUND_DATABASE_URL`, else
/// [`DEFAULT_DB`].
pub fn resolve_url(db: Option<&str>) -> String {
    db.map(str::to_string)
        .or_else(|| {
            std::env::var("REBOUND_DATABASE_URL")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_DB.to_string())
}

pub(crate) fn now_ms() -> i64 {
    rebound_ingest::time::now_ms()
}
