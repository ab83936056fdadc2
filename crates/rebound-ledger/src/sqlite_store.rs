//! SQLite backend: one file, WAL, `busy_timeout` so that several processes
//! can write (one at a time), batches in `BEGIN IMMEDIATE` transactions with
//! cached prepared statements.
//!
//! `synchronous=NORMAL`: in WAL mode a committed transaction survives the
//! process being killed (the WAL is in the OS's hands); only a power cut can
//! lose the last commits.

use crate::engine::{self, TxOps};
use crate::reclassify::{AddressEvent, Change, JudgedRow, ReclassifyOps, RowQuery, Stamp};
use crate::schema::{self, EVENT_COLUMNS, EVENT_FROM, EVENT_SELECT, EventRow, QueryParam};
use crate::{
    AuditEntry, BatchOutcome, Class, EventQuery, ManualSuppression, OnceKey, Policy, ReclassifyJob,
    Result, SenderIssue, Store, StoredEvent, Suppression, VerdictChange, now_ms,
};
use rebound_ingest::Event;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub struct SqliteStore {
    conn: Connection,
    /// Verdict-detail keys known to be stored (bounded).
    details: std::collections::HashSet<i64>,
}

impl SqliteStore {
    /// Opens or creates the database file and brings the schema up to date.
    pub fn open(path: &str) -> Result<Self> {
        Self::open_migrated_to(path, i64::MAX)
    }

    /// Opens the file with migrations up to `version` only: for tests of
    /// the migrations themselves (a store as an older release left it).
    #[doc(hidden)]
    pub fn open_migrated_to(path: &str, version: i64) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -65536)?;
        // Sorts spill to a file while migrating: migration 5 groups every
        // stored event (10 million: 1.7 GB in memory).
        conn.pragma_update(None, "temp_store", "FILE")?;
        // Checkpoint every ~40 MB of WAL rather than every 4 MB.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut s = Self {
            conn,
            details: Default::default(),
        };
        s.migrate(version)?;
        s.conn.pragma_update(None, "temp_store", "MEMORY")?;
        Ok(s)
    }

    /// The connection (tests of migrations write rows as an older release
    /// did).
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn migrate(&mut self, upto: i64) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        for (v, sql) in schema::MIGRATIONS {
            if *v > current && *v <= upto {
                tx.execute_batch(&schema::ddl(sql, false))?;
                tx.execute(
                    "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
                    params![v, now_ms()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// One batch in one transaction, claiming `once` first when given.
    fn batch(
        &mut self,
        events: &[Event],
        policy: &Policy,
        once: Option<&OnceKey>,
    ) -> Result<Option<BatchOutcome>> {
        let mut out = BatchOutcome::default();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        if let Some(once) = once {
            tx.execute(schema::ONCE_EXPIRE, params![now])?;
            if tx.execute(schema::ONCE_CLAIM, params![once.key, once.expires_ms])? == 0 {
                return Ok(None);
            }
        }

        let mut inserted = Vec::new();
        let mut new_details = Vec::new();
        {
            let mut det = tx.prepare_cached(
                "INSERT INTO verdict_details (key, blocklist, pattern, explain) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )?;
            let mut st = tx.prepare_cached(&format!(
                "INSERT INTO events ({EVENT_COLUMNS}) VALUES {} ON CONFLICT (dedupe_key) DO NOTHING",
                schema::placeholders(1, schema::EVENT_NCOLS)
            ))?;
            for e in events {
                let class = policy.class(e);
                let v = &e.verdict;
                let dk = schema::detail_key(v);
                if !self.details.contains(&dk) && !new_details.contains(&dk) {
                    det.execute(params![
                        dk,
                        schema::blocklist_json(&v.blocklist),
                        v.pattern,
                        v.explain
                    ])?;
                    new_details.push(dk);
                }
                let n = st.execute(params![
                    &e.dedupe_key[..],
                    e.time_ms,
                    e.recipient,
                    e.recipient_domain,
                    e.sender,
                    e.sending_ip,
                    e.campaign,
                    e.message_id,
                    e.outcome.as_str(),
                    v.replycode.map(|c| c.get() as i32),
                    v.deliverystatus.map(|s| s.to_string()),
                    e.text,
                    e.format,
                    e.source,
                    v.reason.as_str(),
                    v.hardbounce,
                    v.permanent,
                    v.owner.as_str(),
                    v.remedy.as_str(),
                    v.provider,
                    dk,
                    v.rhost,
                    v.smtpcommand,
                    class.as_str(),
                    now,
                    schema::evidence_json(e),
                    e.evidence.rules_id,
                ])?;
                if n == 1 {
                    out.inserted += 1;
                    inserted.push((tx.last_insert_rowid(), e, class));
                } else {
                    out.duplicates += 1;
                }
            }
        }
        engine::apply(&mut Tx(&tx), policy, &mut inserted, &mut out)?;
        tx.commit()?;
        if self.details.len() > 100_000 {
            self.details.clear();
        }
        self.details.extend(new_details);
        Ok(Some(out))
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?)
    }
}

struct Tx<'a>(&'a rusqlite::Transaction<'a>);

fn sqlite_values(params: Vec<QueryParam>) -> Vec<rusqlite::types::Value> {
    params
        .into_iter()
        .map(|p| match p {
            QueryParam::Int(i) => rusqlite::types::Value::Integer(i),
            QueryParam::Text(s) => rusqlite::types::Value::Text(s),
        })
        .collect()
}

fn row_to_judging(r: &rusqlite::Row<'_>) -> rusqlite::Result<schema::JudgingValues> {
    Ok(schema::JudgingValues {
        id: r.get(0)?,
        time_ms: r.get(1)?,
        recipient: r.get(2)?,
        recipient_domain: r.get(3)?,
        sender: r.get(4)?,
        sending_ip: r.get(5)?,
        campaign: r.get(6)?,
        message_id: r.get(7)?,
        outcome: r.get(8)?,
        text: r.get(9)?,
        format: r.get(10)?,
        source: r.get(11)?,
        replycode: r.get(12)?,
        status: r.get(13)?,
        reason: r.get(14)?,
        hardbounce: r.get(15)?,
        permanent: r.get(16)?,
        owner: r.get(17)?,
        remedy: r.get(18)?,
        provider: r.get(19)?,
        detail_key: r.get(20)?,
        rhost: r.get(21)?,
        smtpcommand: r.get(22)?,
        policy_class: r.get(23)?,
        evidence: r.get(24)?,
        rules_id: r.get(25)?,
        blocklist: r.get(26)?,
        explain: r.get(27)?,
    })
}

impl ReclassifyOps for Tx<'_> {
    fn judging_rows(&mut self, q: &RowQuery<'_>) -> Result<Vec<JudgedRow>> {
        let (w, params) = schema::judging_filter(q);
        let mut st = self.0.prepare_cached(&format!(
            "SELECT {} FROM events {w}",
            schema::JUDGING_SELECT
        ))?;
        let rows = st.query_map(rusqlite::params_from_iter(sqlite_values(params)), |r| {
            row_to_judging(r)
        })?;
        Ok(rows
            .map(|r| r.map(schema::JudgingValues::into_row))
            .collect::<rusqlite::Result<_>>()?)
    }

    fn address_events(&mut self, address: &str) -> Result<Vec<AddressEvent>> {
        let mut st = self.0.prepare_cached(schema::ADDRESS_EVENTS)?;
        let rows = st.query_map([address], |r| {
            Ok(AddressEvent {
                id: r.get(0)?,
                time_ms: r.get(1)?,
                message_id: r.get(2)?,
                class: r.get(3)?,
                reason: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn suppression(&mut self, address: &str) -> Result<Option<Suppression>> {
        let mut st = self.0.prepare_cached(SUPPRESSION_BY_ADDRESS)?;
        Ok(st.query_row([address], row_to_suppression).optional()?)
    }

    fn lift(&mut self, address: &str) -> Result<()> {
        self.0
            .execute("DELETE FROM suppressions WHERE address = $1", [address])?;
        self.0.execute(
            "DELETE FROM suppression_events WHERE address = $1",
            [address],
        )?;
        Ok(())
    }

    fn update_event(&mut self, id: i64, e: &Event, class: Class, rules_id: &str) -> Result<()> {
        let v = &e.verdict;
        let dk = schema::detail_key(v);
        // Out of the rollups under the old verdict, back in under the new
        // one after the update (`rollup.rs`).
        for sql in [
            crate::rollup::HOURS_REMOVE,
            crate::rollup::MINUTES_REMOVE,
            crate::rollup::FAILURES_REMOVE,
        ] {
            self.0.prepare_cached(sql)?.execute([id])?;
        }
        self.0
            .prepare_cached(schema::INSERT_DETAIL)?
            .execute(params![
                dk,
                schema::blocklist_json(&v.blocklist),
                v.pattern,
                v.explain
            ])?;
        self.0
            .prepare_cached(schema::UPDATE_VERDICT)?
            .execute(params![
                v.replycode.map(|c| c.get() as i32),
                v.deliverystatus.map(|s| s.to_string()),
                v.reason.as_str(),
                v.hardbounce,
                v.permanent,
                v.owner.as_str(),
                v.remedy.as_str(),
                v.provider,
                dk,
                v.rhost,
                v.smtpcommand,
                class.as_str(),
                rules_id,
                id,
            ])?;
        for sql in crate::rollup::add_statements(false) {
            self.0.prepare_cached(sql)?.execute(params![id, id])?;
        }
        Ok(())
    }

    fn stamp(&mut self, b: &Stamp<'_>) -> Result<()> {
        // The batch's transaction is `IMMEDIATE`: no other writer added an
        // event since it was read, so the range is exactly the ids (less
        // the changed ones, stamped with their new verdict), and
        // one statement walking the recipient index costs less than one
        // per id.
        let mut st = self.0.prepare_cached(
            "UPDATE events SET rules_id = $1 WHERE recipient >= $2 AND recipient <= $3 AND time_ms >= $4 AND (rules_id IS NULL OR rules_id <> $1)",
        )?;
        st.execute(params![
            b.rules_id,
            b.first,
            b.last,
            b.since_ms.unwrap_or(i64::MIN)
        ])?;
        Ok(())
    }

    fn drop_sender_issue(&mut self, event_id: i64) -> Result<()> {
        self.0
            .prepare_cached(schema::DROP_SENDER_ISSUE)?
            .execute([event_id])?;
        Ok(())
    }

    fn record_change(&mut self, c: &Change<'_>) -> Result<()> {
        self.0
            .prepare_cached(schema::INSERT_CHANGE)?
            .execute(params![
                c.event_id,
                c.at_ms,
                c.actor,
                c.old_reason,
                c.new_reason,
                c.old_class,
                c.new_class,
                c.old_rules_id,
                c.new_rules_id,
                c.decided_by,
            ])?;
        Ok(())
    }
}

impl TxOps for Tx<'_> {
    fn roll_up(&mut self, rows: &crate::rollup::BatchRollup<'_>) -> Result<()> {
        // One statement a row costs no round trip here; the rows are a
        // few hundred groups and the batch's failures.
        let mut hours = self.0.prepare_cached(crate::rollup::HOUR_UPSERT)?;
        for h in &rows.hours {
            hours.execute(params![
                h.hour_ms,
                h.provider,
                h.domain,
                h.sending_ip,
                h.campaign,
                h.outcome,
                h.reason,
                h.owner,
                h.hardbounce,
                h.blocklisted,
                h.n,
                h.first_ms
            ])?;
        }
        let mut minutes = self.0.prepare_cached(crate::rollup::MINUTE_UPSERT)?;
        for (minute, provider, n) in &rows.minutes {
            minutes.execute(params![minute, provider, n])?;
        }
        let mut failures = self.0.prepare_cached(crate::rollup::FAILURE_INSERT)?;
        for f in &rows.failures {
            failures.execute(params![
                f.id,
                f.time_ms,
                f.provider,
                f.domain,
                f.sending_ip,
                f.campaign,
                f.outcome,
                f.reason,
                f.owner,
                f.status,
                f.hardbounce,
                f.detail_key,
                f.text
            ])?;
        }
        Ok(())
    }

    fn last_delivery_ms(&mut self, address: &str) -> Result<Option<i64>> {
        let mut st = self.0.prepare_cached(
            "SELECT MAX(time_ms) FROM events WHERE recipient = $1 AND policy_class = 'delivered'",
        )?;
        Ok(st.query_row([address], |r| r.get(0))?)
    }

    fn reset_ms(&mut self, address: &str) -> Result<Option<i64>> {
        let mut st = self
            .0
            .prepare_cached("SELECT reset_ms FROM recipient_resets WHERE address = $1")?;
        Ok(st.query_row([address], |r| r.get(0)).optional()?)
    }

    fn soft_events(
        &mut self,
        address: &str,
        after_ms: i64,
    ) -> Result<Vec<(i64, i64, Option<String>)>> {
        let mut st = self.0.prepare_cached(
            "SELECT id, time_ms, message_id FROM events WHERE recipient = $1 AND time_ms > $2 AND policy_class = 'soft'",
        )?;
        let rows = st.query_map(params![address, after_ms], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_suppression(
        &mut self,
        address: &str,
        domain: &str,
        reason: &str,
        detail: &str,
        at_ms: i64,
        by: &str,
    ) -> Result<bool> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO suppressions (address, domain, reason, detail, created_ms, updated_ms, created_by, event_count) VALUES ($1, $2, $3, $4, $5, $5, $6, 0) ON CONFLICT (address) DO NOTHING",
        )?;
        Ok(st.execute(params![address, domain, reason, detail, at_ms, by])? == 1)
    }

    fn link(&mut self, address: &str, event_id: i64, at_ms: i64) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO suppression_events (address, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )?;
        if st.execute(params![address, event_id])? == 1 {
            let mut up = self.0.prepare_cached(
                "UPDATE suppressions SET event_count = event_count + 1, updated_ms = $1 WHERE address = $2",
            )?;
            up.execute(params![at_ms, address])?;
        }
        Ok(())
    }

    fn audit(
        &mut self,
        address: &str,
        action: &str,
        actor: &str,
        reason: &str,
        note: &str,
        at_ms: i64,
    ) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO suppression_audit (address, action, actor, at_ms, reason, note) VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        st.execute(params![address, action, actor, at_ms, reason, note])?;
        Ok(())
    }

    fn sender_issue(&mut self, event_id: i64, e: &Event) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO sender_issues (event_id, time_ms, sending_ip, sender_domain, provider, reason, owner, blocklist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )?;
        st.execute(params![
            event_id,
            e.time_ms,
            e.sending_ip,
            schema::sender_domain(e),
            e.verdict
                .provider
                .clone()
                .unwrap_or_else(|| e.recipient_domain.clone()),
            e.verdict.reason.as_str(),
            e.verdict.owner.as_str(),
            e.verdict.blocklist.as_ref().map(|b| if b.zone.is_empty() {
                b.name.clone()
            } else {
                b.zone.clone()
            }),
        ])?;
        Ok(())
    }
}

fn row_to_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        dedupe_key: r.get(1)?,
        time_ms: r.get(2)?,
        recipient: r.get(3)?,
        recipient_domain: r.get(4)?,
        sender: r.get(5)?,
        sending_ip: r.get(6)?,
        campaign: r.get(7)?,
        message_id: r.get(8)?,
        outcome: r.get(9)?,
        replycode: r.get(10)?,
        status: r.get(11)?,
        text: r.get(12)?,
        format: r.get(13)?,
        source: r.get(14)?,
        reason: r.get(15)?,
        hardbounce: r.get(16)?,
        permanent: r.get(17)?,
        owner: r.get(18)?,
        remedy: r.get(19)?,
        provider: r.get(20)?,
        blocklist: r.get(21)?,
        rhost: r.get(22)?,
        smtpcommand: r.get(23)?,
        pattern: r.get(24)?,
        explain: r.get(25)?,
        policy_class: r.get(26)?,
        evidence: r.get(27)?,
        rules_id: r.get(28)?,
    })
}

fn row_to_suppression(r: &rusqlite::Row<'_>) -> rusqlite::Result<Suppression> {
    Ok(Suppression {
        address: r.get(0)?,
        domain: r.get(1)?,
        reason: r.get(2)?,
        detail: r.get(3)?,
        created_ms: r.get(4)?,
        updated_ms: r.get(5)?,
        created_by: r.get(6)?,
        event_count: r.get(7)?,
    })
}

macro_rules! suppression_select {
    () => {
        "SELECT address, domain, reason, detail, created_ms, updated_ms, created_by, event_count FROM suppressions"
    };
}
const SUPPRESSION_SELECT: &str = suppression_select!();
/// One suppression by address: the statement of every check (a constant, so
/// the statement cache is looked up without formatting its text first).
const SUPPRESSION_BY_ADDRESS: &str = concat!(suppression_select!(), " WHERE address = $1");

/// Answers single-address suppression checks from a SQLite file inside a
/// read snapshot that it keeps across checks for a bounded time.
///
/// A statement outside a transaction is a read transaction of its own, and
/// starting one takes and drops file locks (`fcntl`) on the database and
/// its WAL index: 4 µs of a 5 µs lookup, and several times that with two
/// threads locking the same file. Inside a held snapshot a lookup is one
/// B-tree walk. The price is staleness, bounded two ways:
///
/// * a snapshot is never used once older than the `max_age` a check passes;
/// * a check passes a `generation` (the caller's count of its own writes):
///   when it differs from the snapshot's, the snapshot is renewed first, so
///   a caller's own writes are seen by its next check at once.
///
/// Writers in other processes are seen within `max_age`. A held snapshot
/// keeps a checkpoint from restarting the WAL, so the owner releases idle
/// snapshots ([`SnapshotChecker::release_if_older`]).
pub struct SnapshotChecker {
    conn: Connection,
    /// When the open snapshot began, and the generation it was begun at.
    snapshot: Option<(std::time::Instant, u64)>,
}

impl SnapshotChecker {
    /// Opens the file for reading; the schema must already be there (a
    /// [`SqliteStore`] opened first creates and migrates it).
    pub fn open(path: &str) -> Result<Self> {
        // Opened read-write (a read-only connection cannot create the WAL
        // index when it is missing) but refusing writes.
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "query_only", true)?;
        conn.pragma_update(None, "cache_size", -65536)?;
        conn.set_prepared_statement_cache_capacity(4);
        Ok(Self {
            conn,
            snapshot: None,
        })
    }

    /// The suppression of `address`, if any, as of a snapshot at most
    /// `max_age` old and begun at `generation`.
    pub fn check(
        &mut self,
        address: &str,
        generation: u64,
        max_age: std::time::Duration,
    ) -> Result<Option<Suppression>> {
        let fresh = matches!(self.snapshot, Some((since, g)) if g == generation && since.elapsed() < max_age);
        if !fresh {
            self.release()?;
            // A deferred BEGIN: the snapshot is taken by the first read.
            self.conn.execute_batch("BEGIN")?;
            self.snapshot = Some((std::time::Instant::now(), generation));
        }
        let found = self
            .conn
            .prepare_cached(SUPPRESSION_BY_ADDRESS)
            .and_then(|mut st| st.query_row([address], row_to_suppression).optional());
        match found {
            Ok(hit) => Ok(hit),
            Err(e) => {
                // Leave no half-used snapshot behind an error.
                let _ = self.release();
                Err(e.into())
            }
        }
    }

    /// Ends the snapshot if it is older than `max_age` (or any, for zero).
    pub fn release_if_older(&mut self, max_age: std::time::Duration) -> Result<()> {
        match self.snapshot {
            Some((since, _)) if since.elapsed() >= max_age => self.release(),
            _ => Ok(()),
        }
    }

    fn release(&mut self) -> Result<()> {
        if self.snapshot.take().is_some() && !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn ingest_claiming(
        &mut self,
        events: &[Event],
        policy: &Policy,
        once: Option<&OnceKey>,
    ) -> Result<Option<BatchOutcome>> {
        self.batch(events, policy, once)
    }

    fn check(&mut self, addresses: &[String]) -> Result<Vec<Option<Suppression>>> {
        // One address (the server's per-send check) is one statement, which
        // is its own snapshot: no transaction around it.
        if let [a] = addresses {
            let mut st = self.conn.prepare_cached(SUPPRESSION_BY_ADDRESS)?;
            return Ok(vec![st.query_row([a], row_to_suppression).optional()?]);
        }
        // One read transaction for the whole batch: one lock, one snapshot.
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(addresses.len());
        {
            let mut st = tx.prepare_cached(SUPPRESSION_BY_ADDRESS)?;
            for a in addresses {
                out.push(st.query_row([a], row_to_suppression).optional()?);
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn suppressions(&mut self, limit: Option<usize>) -> Result<Vec<Suppression>> {
        let mut st = self.conn.prepare(&format!(
            "{SUPPRESSION_SELECT} ORDER BY address LIMIT {}",
            limit.map(|l| l as i64).unwrap_or(-1)
        ))?;
        let rows = st.query_map([], row_to_suppression)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn suppression_events(&mut self, address: &str) -> Result<Vec<StoredEvent>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {EVENT_SELECT} FROM {EVENT_FROM} WHERE id IN (SELECT event_id FROM suppression_events WHERE address = $1) ORDER BY time_ms, id"
        ))?;
        let rows = st.query_map([address], row_to_event)?;
        Ok(rows
            .map(|r| r.map(EventRow::into_stored))
            .collect::<rusqlite::Result<_>>()?)
    }

    fn add_suppressions(&mut self, items: &[ManualSuppression], actor: &str) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let added = {
            let mut t = Tx(&tx);
            engine::add_manual(&mut t, items, actor, now)?
        };
        tx.commit()?;
        Ok(added)
    }

    fn remove_suppression(&mut self, address: &str, actor: &str, note: &str) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let reason: Option<String> = tx
            .query_row(
                "DELETE FROM suppressions WHERE address = $1 RETURNING reason",
                [address],
                |r| r.get(0),
            )
            .optional()?;
        let Some(reason) = reason else {
            return Ok(false);
        };
        tx.execute(
            "DELETE FROM suppression_events WHERE address = $1",
            [address],
        )?;
        tx.execute(
            "INSERT INTO recipient_resets (address, reset_ms) VALUES ($1, $2) ON CONFLICT (address) DO UPDATE SET reset_ms = excluded.reset_ms",
            params![address, now],
        )?;
        Tx(&tx).audit(address, "remove", actor, &reason, note, now)?;
        tx.commit()?;
        Ok(true)
    }

    fn audit(&mut self, address: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT address, action, actor, at_ms, reason, note FROM suppression_audit {} ORDER BY at_ms DESC, id DESC LIMIT {}",
            if address.is_some() {
                "WHERE address = $1"
            } else {
                ""
            },
            limit as i64
        );
        let mut st = self.conn.prepare(&sql)?;
        let map = |r: &rusqlite::Row<'_>| {
            Ok(AuditEntry {
                address: r.get(0)?,
                action: r.get(1)?,
                actor: r.get(2)?,
                at_ms: r.get(3)?,
                reason: r.get(4)?,
                note: r.get(5)?,
            })
        };
        let rows = match address {
            Some(a) => st.query_map([a], map)?.collect::<rusqlite::Result<_>>()?,
            None => st.query_map([], map)?.collect::<rusqlite::Result<_>>()?,
        };
        Ok(rows)
    }

    fn events(&mut self, q: &EventQuery) -> Result<Vec<StoredEvent>> {
        let (w, params) = schema::event_filter(q);
        let sql = format!(
            "SELECT {EVENT_SELECT} FROM {EVENT_FROM} {w} ORDER BY time_ms DESC, id DESC LIMIT {}",
            q.limit as i64
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(
            rusqlite::params_from_iter(sqlite_values(params)),
            row_to_event,
        )?;
        Ok(rows
            .map(|r| r.map(EventRow::into_stored))
            .collect::<rusqlite::Result<_>>()?)
    }

    fn sender_issues(&mut self, since_ms: Option<i64>) -> Result<Vec<SenderIssue>> {
        let mut st = self.conn.prepare(
            "SELECT sending_ip, sender_domain, provider, reason, blocklist, COUNT(*), MIN(time_ms), MAX(time_ms) FROM sender_issues WHERE time_ms >= $1 GROUP BY sending_ip, sender_domain, provider, reason, blocklist ORDER BY COUNT(*) DESC, MAX(time_ms) DESC",
        )?;
        let rows = st.query_map([since_ms.unwrap_or(i64::MIN)], |r| {
            Ok(SenderIssue {
                sending_ip: r.get(0)?,
                sender_domain: r.get(1)?,
                provider: r.get(2)?,
                reason: r.get(3)?,
                blocklist: r.get(4)?,
                count: r.get(5)?,
                first_ms: r.get(6)?,
                last_ms: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn count_events(&mut self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn count_suppressions(&mut self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM suppressions", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn reclassify_batch(&mut self, job: &mut ReclassifyJob<'_, '_>) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(batch) = crate::reclassify::batch(&mut Tx(&tx), job)? else {
            return Ok(false);
        };
        if job.options.apply {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        job.finished(batch);
        Ok(true)
    }

    fn verdict_changes(
        &mut self,
        event_id: Option<i64>,
        limit: usize,
    ) -> Result<Vec<VerdictChange>> {
        let sql = format!(
            "{} {} ORDER BY at_ms DESC, id DESC LIMIT {}",
            crate::VERDICT_CHANGE_SELECT,
            if event_id.is_some() {
                "WHERE event_id = $1"
            } else {
                ""
            },
            limit.min(i64::MAX as usize) as i64
        );
        let mut st = self.conn.prepare(&sql)?;
        let map = |r: &rusqlite::Row<'_>| {
            Ok(VerdictChange {
                event_id: r.get(0)?,
                at_ms: r.get(1)?,
                actor: r.get(2)?,
                old_reason: r.get(3)?,
                new_reason: r.get(4)?,
                old_class: r.get(5)?,
                new_class: r.get(6)?,
                old_rules_id: r.get(7)?,
                new_rules_id: r.get(8)?,
                decided_by: r.get(9)?,
            })
        };
        let rows = match event_id {
            Some(id) => st.query_map([id], map)?.collect::<rusqlite::Result<_>>()?,
            None => st.query_map([], map)?.collect::<rusqlite::Result<_>>()?,
        };
        Ok(rows)
    }
}
