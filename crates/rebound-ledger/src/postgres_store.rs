//! PostgreSQL backend (the synchronous `postgres` crate): several Rebound
//! instances share one store. Batches are multi-row `INSERT … ON CONFLICT
//! DO NOTHING RETURNING` in one transaction; a batch that loses a deadlock
//! or serialization race is retried whole.

use crate::engine::{self, TxOps};
use crate::pg_connect::PgUrl;
use crate::reclassify::{AddressEvent, Change, JudgedRow, ReclassifyOps, RowQuery, Stamp};
use crate::schema::{self, EVENT_FROM, EVENT_NCOLS, EVENT_SELECT, EventRow, QueryParam};
use crate::{
    AuditEntry, BatchOutcome, Class, Error, EventQuery, ManualSuppression, OnceKey, Policy,
    ReclassifyJob, Result, SenderIssue, Store, StoredEvent, Suppression, VerdictChange, now_ms,
};
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use rebound_ingest::Event;
use std::collections::HashMap;

/// A batch's events in one statement: one array per column, unnested in
/// order (so ids increase along the batch and, of a key repeated inside
/// the batch, the first is the one stored). Against the multi-row
/// `VALUES` it replaced (27 parameters per row, 1,000 rows per statement)
/// the client encodes 27 arrays instead of 27,000 boxed values and the
/// server plans one small statement.
const INSERT_EVENTS: &str = "INSERT INTO events (dedupe_key, time_ms, recipient, recipient_domain, sender, sending_ip, campaign, message_id, outcome, replycode, status, text, format, source, reason, hardbounce, permanent, owner, remedy, provider, detail_key, rhost, smtpcommand, policy_class, ingested_ms, evidence, rules_id) \
SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, $25, c26, c27 \
FROM unnest($1::bytea[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bool[], $17::bool[], $18::text[], $19::text[], $20::text[], $21::bigint[], $22::text[], $23::text[], $24::text[], $26::text[], $27::text[]) \
WITH ORDINALITY AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c26, c27, i) ORDER BY i \
ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key";

/// The columns of [`INSERT_EVENTS`], borrowed from the batch.
struct EventColumns<'a> {
    dedupe_key: Vec<&'a [u8]>,
    time_ms: Vec<i64>,
    recipient: Vec<&'a str>,
    recipient_domain: Vec<&'a str>,
    sender: Vec<Option<&'a str>>,
    sending_ip: Vec<Option<&'a str>>,
    campaign: Vec<Option<&'a str>>,
    message_id: Vec<Option<&'a str>>,
    outcome: Vec<&'static str>,
    replycode: Vec<Option<i32>>,
    status: Vec<Option<String>>,
    text: Vec<&'a str>,
    format: Vec<&'a str>,
    source: Vec<&'a str>,
    reason: Vec<&'static str>,
    hardbounce: Vec<bool>,
    permanent: Vec<Option<bool>>,
    owner: Vec<&'static str>,
    remedy: Vec<&'static str>,
    provider: Vec<Option<&'a str>>,
    detail_key: Vec<i64>,
    rhost: Vec<&'a str>,
    smtpcommand: Vec<&'a str>,
    policy_class: Vec<&'static str>,
    ingested_ms: i64,
    evidence: Vec<Option<String>>,
    rules_id: Vec<Option<&'a str>>,
}

fn event_columns<'a>(
    events: &'a [Event],
    classes: &[Class],
    keys: &[i64],
    now: i64,
) -> EventColumns<'a> {
    fn col<'a, T>(events: &'a [Event], f: impl Fn(&'a Event) -> T) -> Vec<T> {
        events.iter().map(f).collect()
    }
    EventColumns {
        dedupe_key: col(events, |e| &e.dedupe_key[..]),
        time_ms: col(events, |e| e.time_ms),
        recipient: col(events, |e| e.recipient.as_str()),
        recipient_domain: col(events, |e| e.recipient_domain.as_str()),
        sender: col(events, |e| e.sender.as_deref()),
        sending_ip: col(events, |e| e.sending_ip.as_deref()),
        campaign: col(events, |e| e.campaign.as_deref()),
        message_id: col(events, |e| e.message_id.as_deref()),
        outcome: col(events, |e| e.outcome.as_str()),
        replycode: col(events, |e| e.verdict.replycode.map(|c| c.get() as i32)),
        status: col(events, |e| e.verdict.deliverystatus.map(|s| s.to_string())),
        text: col(events, |e| e.text.as_str()),
        format: col(events, |e| e.format.as_str()),
        source: col(events, |e| e.source.as_str()),
        reason: col(events, |e| e.verdict.reason.as_str()),
        hardbounce: col(events, |e| e.verdict.hardbounce),
        permanent: col(events, |e| e.verdict.permanent),
        owner: col(events, |e| e.verdict.owner.as_str()),
        remedy: col(events, |e| e.verdict.remedy.as_str()),
        provider: col(events, |e| e.verdict.provider.as_deref()),
        detail_key: keys.to_vec(),
        rhost: col(events, |e| e.verdict.rhost.as_str()),
        smtpcommand: col(events, |e| e.verdict.smtpcommand.as_str()),
        policy_class: classes.iter().map(|c| c.as_str()).collect(),
        ingested_ms: now,
        evidence: col(events, schema::evidence_json),
        rules_id: col(events, |e| e.evidence.rules_id.as_deref()),
    }
}

impl EventColumns<'_> {
    /// The parameters in [`INSERT_EVENTS`]' order.
    fn params(&self) -> [&(dyn ToSql + Sync); EVENT_NCOLS] {
        [
            &self.dedupe_key,
            &self.time_ms,
            &self.recipient,
            &self.recipient_domain,
            &self.sender,
            &self.sending_ip,
            &self.campaign,
            &self.message_id,
            &self.outcome,
            &self.replycode,
            &self.status,
            &self.text,
            &self.format,
            &self.source,
            &self.reason,
            &self.hardbounce,
            &self.permanent,
            &self.owner,
            &self.remedy,
            &self.provider,
            &self.detail_key,
            &self.rhost,
            &self.smtpcommand,
            &self.policy_class,
            &self.ingested_ms,
            &self.evidence,
            &self.rules_id,
        ]
    }
}

pub struct PgStore {
    client: Client,
    /// Verdict-detail keys known to be stored (bounded).
    details: std::collections::HashSet<i64>,
    /// The engine's statements, prepared once per connection.
    statements: HashMap<&'static str, Statement>,
}

/// A connection to the PostgreSQL store `url` names, with its `schema=`
/// selected (not created): for readers beside the ledger, such as insight,
/// so that one reader of the URL refuses a bad schema name everywhere.
pub fn connect_to_schema(url: &str) -> Result<Client> {
    let url = PgUrl::parse(url)?;
    let mut client = url.connect()?;
    if let Some(s) = url.schema {
        client.batch_execute(&format!("SET search_path TO {s}"))?;
    }
    Ok(client)
}

fn is_retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

impl PgStore {
    /// Drops a schema and everything in it (test clean-up).
    pub fn drop_schema(url: &str, schema: &str) -> Result<()> {
        let url = PgUrl::parse(url)?;
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Error::Other(format!("bad schema name {schema:?}")));
        }
        let mut client = url.connect()?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        Ok(())
    }

    /// Connects, selects the URL's `schema=` (creating it) and brings the
    /// schema up to date.
    pub fn connect(url: &str) -> Result<Self> {
        let url = PgUrl::parse(url)?;
        let mut client = url.connect()?;
        if let Some(s) = &url.schema {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(720715)", &[])?;
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))?;
            tx.commit()?;
            client.batch_execute(&format!("SET search_path TO {s}"))?;
        }
        client.batch_execute("SET synchronous_commit TO on")?;
        let mut s = Self {
            client,
            details: Default::default(),
            statements: HashMap::new(),
        };
        s.migrate()?;
        Ok(s)
    }

    fn migrate(&mut self) -> Result<()> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(720716)", &[])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)",
        )?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
                &[],
            )?
            .get(0);
        for (v, sql) in schema::MIGRATIONS {
            if *v > current {
                tx.batch_execute(&schema::ddl(sql, true))?;
                tx.execute(
                    "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
                    &[&(*v as i32), &now_ms()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A statement prepared once per connection.
    fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    /// One batch in one transaction, claiming `once` first when given
    /// (`None`: already claimed). A concurrent claim of the same key waits
    /// on the key's unique index until the first transaction ends.
    fn try_batch(
        &mut self,
        events: &[Event],
        policy: &Policy,
        once: Option<&OnceKey>,
    ) -> Result<Option<BatchOutcome>> {
        let insert = self.statement(INSERT_EVENTS)?;
        let mut out = BatchOutcome::default();
        let now = now_ms();
        let mut tx = self.client.transaction()?;
        if let Some(once) = once {
            tx.execute(schema::ONCE_EXPIRE, &[&now])?;
            if tx.execute(schema::ONCE_CLAIM, &[&once.key, &once.expires_ms])? == 0 {
                return Ok(None);
            }
        }
        let classes: Vec<_> = events.iter().map(|e| policy.class(e)).collect();
        let keys: Vec<i64> = events
            .iter()
            .map(|e| schema::detail_key(&e.verdict))
            .collect();
        let mut new_details = Vec::new();
        for (e, &dk) in events.iter().zip(&keys) {
            if !self.details.contains(&dk) && !new_details.contains(&dk) {
                let v = &e.verdict;
                tx.execute(
                    "INSERT INTO verdict_details (key, blocklist, pattern, explain) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&dk, &schema::blocklist_json(&v.blocklist), &v.pattern, &v.explain],
                )?;
                new_details.push(dk);
            }
        }
        let mut ids: HashMap<[u8; 16], i64> = HashMap::with_capacity(events.len());
        let columns = event_columns(events, &classes, &keys, now);
        for row in tx.query(&insert, &columns.params())? {
            let key: &[u8] = row.get(1);
            let mut k = [0u8; 16];
            if key.len() == 16 {
                k.copy_from_slice(key);
            }
            ids.insert(k, row.get(0));
        }
        let mut inserted = Vec::new();
        for (e, class) in events.iter().zip(classes) {
            // A key repeated inside one batch: only its first event is new.
            match ids.remove(&e.dedupe_key) {
                Some(id) => inserted.push((id, e, class)),
                None => out.duplicates += 1,
            }
        }
        out.inserted = inserted.len();
        engine::apply(
            &mut Tx {
                tx: &mut tx,
                statements: &mut self.statements,
            },
            policy,
            &mut inserted,
            &mut out,
        )?;
        tx.commit()?;
        if self.details.len() > 100_000 {
            self.details.clear();
        }
        self.details.extend(new_details);
        Ok(Some(out))
    }

    /// [`Self::try_batch`], retried on serialization failures and deadlocks.
    fn batch(
        &mut self,
        events: &[Event],
        policy: &Policy,
        once: Option<&OnceKey>,
    ) -> Result<Option<BatchOutcome>> {
        let mut attempt = 0;
        loop {
            match self.try_batch(events, policy, once) {
                Err(Error::Postgres(e)) if is_retryable(&e) && attempt < 8 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                }
                other => return other,
            }
        }
    }
}

struct Tx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

impl Tx<'_, '_> {
    fn st(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

impl TxOps for Tx<'_, '_> {
    fn roll_up(&mut self, rows: &crate::rollup::BatchRollup<'_>) -> Result<()> {
        // One statement per table over arrays: a round trip per row would
        // be the whole cost. The rows come in key order, so concurrent
        // batches lock the rows they share in one order.
        if !rows.hours.is_empty() {
            let st = self.st(crate::rollup::HOURS_UPSERT_ARRAYS)?;
            let h = &rows.hours;
            let hour: Vec<i64> = h.iter().map(|r| r.hour_ms).collect();
            let provider: Vec<&str> = h.iter().map(|r| r.provider).collect();
            let domain: Vec<&str> = h.iter().map(|r| r.domain).collect();
            let ip: Vec<&str> = h.iter().map(|r| r.sending_ip).collect();
            let campaign: Vec<&str> = h.iter().map(|r| r.campaign).collect();
            let outcome: Vec<&str> = h.iter().map(|r| r.outcome).collect();
            let reason: Vec<&str> = h.iter().map(|r| r.reason).collect();
            let owner: Vec<&str> = h.iter().map(|r| r.owner).collect();
            let hard: Vec<bool> = h.iter().map(|r| r.hardbounce).collect();
            let listed: Vec<bool> = h.iter().map(|r| r.blocklisted).collect();
            let n: Vec<i64> = h.iter().map(|r| r.n).collect();
            let first: Vec<i64> = h.iter().map(|r| r.first_ms).collect();
            self.tx.execute(
                &st,
                &[
                    &hour, &provider, &domain, &ip, &campaign, &outcome, &reason, &owner, &hard,
                    &listed, &n, &first,
                ],
            )?;
        }
        if !rows.minutes.is_empty() {
            let st = self.st(crate::rollup::MINUTES_UPSERT_ARRAYS)?;
            let minute: Vec<i64> = rows.minutes.iter().map(|r| r.0).collect();
            let provider: Vec<&str> = rows.minutes.iter().map(|r| r.1).collect();
            let n: Vec<i64> = rows.minutes.iter().map(|r| r.2).collect();
            self.tx.execute(&st, &[&minute, &provider, &n])?;
        }
        if !rows.failures.is_empty() {
            let st = self.st(crate::rollup::FAILURES_INSERT_ARRAYS)?;
            let f = &rows.failures;
            let id: Vec<i64> = f.iter().map(|r| r.id).collect();
            let time: Vec<i64> = f.iter().map(|r| r.time_ms).collect();
            let provider: Vec<&str> = f.iter().map(|r| r.provider).collect();
            let domain: Vec<&str> = f.iter().map(|r| r.domain).collect();
            let ip: Vec<Option<&str>> = f.iter().map(|r| r.sending_ip).collect();
            let campaign: Vec<Option<&str>> = f.iter().map(|r| r.campaign).collect();
            let outcome: Vec<&str> = f.iter().map(|r| r.outcome).collect();
            let reason: Vec<&str> = f.iter().map(|r| r.reason).collect();
            let owner: Vec<&str> = f.iter().map(|r| r.owner).collect();
            let status: Vec<Option<&str>> = f.iter().map(|r| r.status.as_deref()).collect();
            let hard: Vec<bool> = f.iter().map(|r| r.hardbounce).collect();
            let detail: Vec<i64> = f.iter().map(|r| r.detail_key).collect();
            let text: Vec<&str> = f.iter().map(|r| r.text).collect();
            self.tx.execute(
                &st,
                &[
                    &id, &time, &provider, &domain, &ip, &campaign, &outcome, &reason, &owner,
                    &status, &hard, &detail, &text,
                ],
            )?;
        }
        Ok(())
    }

    fn last_delivery_ms(&mut self, address: &str) -> Result<Option<i64>> {
        let st = self.st(
            "SELECT MAX(time_ms) FROM events WHERE recipient = $1 AND policy_class = 'delivered'",
        )?;
        Ok(self.tx.query_one(&st, &[&address])?.get(0))
    }

    fn reset_ms(&mut self, address: &str) -> Result<Option<i64>> {
        let st = self.st("SELECT reset_ms FROM recipient_resets WHERE address = $1")?;
        Ok(self.tx.query_opt(&st, &[&address])?.map(|r| r.get(0)))
    }

    fn soft_events(
        &mut self,
        address: &str,
        after_ms: i64,
    ) -> Result<Vec<(i64, i64, Option<String>)>> {
        let st = self.st(
            "SELECT id, time_ms, message_id FROM events WHERE recipient = $1 AND time_ms > $2 AND policy_class = 'soft'",
        )?;
        Ok(self
            .tx
            .query(&st, &[&address, &after_ms])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
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
        let st = self.st(
            "INSERT INTO suppressions (address, domain, reason, detail, created_ms, updated_ms, created_by, event_count) VALUES ($1, $2, $3, $4, $5, $5, $6, 0) ON CONFLICT (address) DO NOTHING",
        )?;
        Ok(self
            .tx
            .execute(&st, &[&address, &domain, &reason, &detail, &at_ms, &by])?
            == 1)
    }

    fn link(&mut self, address: &str, event_id: i64, at_ms: i64) -> Result<()> {
        let ins = self.st(
            "INSERT INTO suppression_events (address, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )?;
        if self.tx.execute(&ins, &[&address, &event_id])? == 1 {
            let up = self.st(
                "UPDATE suppressions SET event_count = event_count + 1, updated_ms = $2 WHERE address = $1",
            )?;
            self.tx.execute(&up, &[&address, &at_ms])?;
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
        let st = self.st(
            "INSERT INTO suppression_audit (address, action, actor, at_ms, reason, note) VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        self.tx
            .execute(&st, &[&address, &action, &actor, &at_ms, &reason, &note])?;
        Ok(())
    }

    fn sender_issue(&mut self, event_id: i64, e: &Event) -> Result<()> {
        let provider = issue_provider(e);
        let blocklist = issue_blocklist(e);
        let st = self.st(
            "INSERT INTO sender_issues (event_id, time_ms, sending_ip, sender_domain, provider, reason, owner, blocklist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )?;
        self.tx.execute(
            &st,
            &[
                &event_id,
                &e.time_ms,
                &e.sending_ip,
                &schema::sender_domain(e),
                &provider,
                &e.verdict.reason.as_str(),
                &e.verdict.owner.as_str(),
                &blocklist,
            ],
        )?;
        Ok(())
    }

    // Set-based versions: one statement over arrays per call, so a batch
    // costs a handful of round trips whatever its size.

    fn soft_histories(
        &mut self,
        addresses: &[&str],
    ) -> Result<HashMap<String, Vec<engine::SoftEvent>>> {
        // GREATEST ignores NULLs: the later of the last delivery and the
        // last lift, as `Option::max` in the single-row version.
        let st = self.st(
            "WITH w AS (SELECT a.address, GREATEST((SELECT MAX(time_ms) FROM events d WHERE d.recipient = a.address AND d.policy_class = 'delivered'), (SELECT reset_ms FROM recipient_resets r WHERE r.address = a.address)) AS after_ms FROM unnest($1::text[]) AS a(address)) \
             SELECT w.address, e.id, e.time_ms, e.message_id FROM w JOIN events e ON e.recipient = w.address AND e.time_ms > COALESCE(w.after_ms, -9223372036854775808) AND e.policy_class = 'soft'",
        )?;
        let mut out: HashMap<String, Vec<engine::SoftEvent>> = HashMap::new();
        for r in self.tx.query(&st, &[&addresses])? {
            out.entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2), r.get(3)));
        }
        Ok(out)
    }

    fn insert_suppressions(
        &mut self,
        rows: &[engine::NewSuppression<'_>],
        at_ms: i64,
        by: &str,
    ) -> Result<Vec<bool>> {
        let st = self.st(
            "INSERT INTO suppressions (address, domain, reason, detail, created_ms, updated_ms, created_by, event_count) \
             SELECT a, d, r, x, $5, $5, $6, 0 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(a, d, r, x) \
             ON CONFLICT (address) DO NOTHING RETURNING address",
        )?;
        let a: Vec<&str> = rows.iter().map(|r| r.address).collect();
        let d: Vec<&str> = rows.iter().map(|r| r.domain).collect();
        let r: Vec<&str> = rows.iter().map(|r| r.reason).collect();
        let x: Vec<&str> = rows.iter().map(|r| r.detail).collect();
        let added: std::collections::HashSet<String> = self
            .tx
            .query(&st, &[&a, &d, &r, &x, &at_ms, &by])?
            .iter()
            .map(|row| row.get(0))
            .collect();
        Ok(rows.iter().map(|r| added.contains(r.address)).collect())
    }

    fn link_all(&mut self, links: &[(&str, i64)], at_ms: i64) -> Result<()> {
        if links.is_empty() {
            return Ok(());
        }
        // The counters grow by the links that were new, as `link` does one
        // at a time.
        let st = self.st(
            "WITH ins AS (INSERT INTO suppression_events (address, event_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING address), \
             n AS (SELECT address, COUNT(*) AS c FROM ins GROUP BY address) \
             UPDATE suppressions s SET event_count = s.event_count + n.c, updated_ms = $3 FROM n WHERE s.address = n.address",
        )?;
        let a: Vec<&str> = links.iter().map(|l| l.0).collect();
        let ids: Vec<i64> = links.iter().map(|l| l.1).collect();
        self.tx.execute(&st, &[&a, &ids, &at_ms])?;
        Ok(())
    }

    fn audit_all(&mut self, rows: &[engine::AuditRow<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // WITH ORDINALITY and ORDER BY: the ids follow the rows' order.
        let st = self.st(
            "INSERT INTO suppression_audit (address, action, actor, at_ms, reason, note) \
             SELECT a, ac, who, t, r, n FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) WITH ORDINALITY AS u(a, ac, who, t, r, n, i) ORDER BY i",
        )?;
        let address: Vec<&str> = rows.iter().map(|r| r.address).collect();
        let action: Vec<&str> = rows.iter().map(|r| r.action).collect();
        let actor: Vec<&str> = rows.iter().map(|r| r.actor).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.at_ms).collect();
        let reason: Vec<&str> = rows.iter().map(|r| r.reason).collect();
        let note: Vec<&str> = rows.iter().map(|r| r.note).collect();
        self.tx
            .execute(&st, &[&address, &action, &actor, &at, &reason, &note])?;
        Ok(())
    }

    fn sender_issues(&mut self, rows: &[(i64, &Event)]) -> Result<()> {
        let st = self.st(
            "INSERT INTO sender_issues (event_id, time_ms, sending_ip, sender_domain, provider, reason, owner, blocklist) \
             SELECT a, b, c, d, e, f, g, h FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS u(a, b, c, d, e, f, g, h, i) ORDER BY i \
             ON CONFLICT DO NOTHING",
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.1.time_ms).collect();
        let ips: Vec<Option<&str>> = rows.iter().map(|r| r.1.sending_ip.as_deref()).collect();
        let domains: Vec<Option<String>> =
            rows.iter().map(|r| schema::sender_domain(r.1)).collect();
        let providers: Vec<&str> = rows.iter().map(|r| issue_provider(r.1)).collect();
        let reasons: Vec<&str> = rows.iter().map(|r| r.1.verdict.reason.as_str()).collect();
        let owners: Vec<&str> = rows.iter().map(|r| r.1.verdict.owner.as_str()).collect();
        let lists: Vec<Option<&str>> = rows.iter().map(|r| issue_blocklist(r.1)).collect();
        self.tx.execute(
            &st,
            &[
                &ids, &times, &ips, &domains, &providers, &reasons, &owners, &lists,
            ],
        )?;
        Ok(())
    }
}

/// The provider a sender issue is filed under: the verdict's, else the
/// recipient domain.
fn issue_provider(e: &Event) -> &str {
    e.verdict.provider.as_deref().unwrap_or(&e.recipient_domain)
}

/// The blocklist a sender issue names: its zone, else its name.
fn issue_blocklist(e: &Event) -> Option<&str> {
    e.verdict.blocklist.as_ref().map(|b| {
        if b.zone.is_empty() {
            b.name.as_str()
        } else {
            b.zone.as_str()
        }
    })
}

fn pg_values(params: Vec<QueryParam>) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .into_iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                QueryParam::Int(i) => Box::new(i),
                QueryParam::Text(s) => Box::new(s),
            }
        })
        .collect()
}

fn row_to_judging(r: &Row) -> schema::JudgingValues {
    schema::JudgingValues {
        id: r.get(0),
        time_ms: r.get(1),
        recipient: r.get(2),
        recipient_domain: r.get(3),
        sender: r.get(4),
        sending_ip: r.get(5),
        campaign: r.get(6),
        message_id: r.get(7),
        outcome: r.get(8),
        text: r.get(9),
        format: r.get(10),
        source: r.get(11),
        replycode: r.get(12),
        status: r.get(13),
        reason: r.get(14),
        hardbounce: r.get(15),
        permanent: r.get(16),
        owner: r.get(17),
        remedy: r.get(18),
        provider: r.get(19),
        detail_key: r.get(20),
        rhost: r.get(21),
        smtpcommand: r.get(22),
        policy_class: r.get(23),
        evidence: r.get(24),
        rules_id: r.get(25),
        blocklist: r.get(26),
        explain: r.get(27),
    }
}

impl ReclassifyOps for Tx<'_, '_> {
    fn judging_rows(&mut self, q: &RowQuery<'_>) -> Result<Vec<JudgedRow>> {
        let (w, params) = schema::judging_filter(q);
        let sql = format!("SELECT {} FROM events {w}", schema::JUDGING_SELECT);
        let owned = pg_values(params);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        Ok(self
            .tx
            .query(&sql, &refs)?
            .iter()
            .map(|r| row_to_judging(r).into_row())
            .collect())
    }

    fn address_events(&mut self, address: &str) -> Result<Vec<AddressEvent>> {
        let st = self.st(schema::ADDRESS_EVENTS)?;
        Ok(self
            .tx
            .query(&st, &[&address])?
            .iter()
            .map(|r| AddressEvent {
                id: r.get(0),
                time_ms: r.get(1),
                message_id: r.get(2),
                class: r.get(3),
                reason: r.get(4),
            })
            .collect())
    }

    fn suppression(&mut self, address: &str) -> Result<Option<Suppression>> {
        let st = self.st(
            "SELECT address, domain, reason, detail, created_ms, updated_ms, created_by, event_count FROM suppressions WHERE address = $1",
        )?;
        Ok(self
            .tx
            .query_opt(&st, &[&address])?
            .map(|r| row_to_suppression(&r)))
    }

    fn lift(&mut self, address: &str) -> Result<()> {
        self.tx
            .execute("DELETE FROM suppressions WHERE address = $1", &[&address])?;
        self.tx.execute(
            "DELETE FROM suppression_events WHERE address = $1",
            &[&address],
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
            let st = self.st(sql)?;
            self.tx.execute(&st, &[&id])?;
        }
        let det = self.st(schema::INSERT_DETAIL)?;
        self.tx.execute(
            &det,
            &[
                &dk,
                &schema::blocklist_json(&v.blocklist),
                &v.pattern,
                &v.explain,
            ],
        )?;
        let up = self.st(schema::UPDATE_VERDICT)?;
        self.tx.execute(
            &up,
            &[
                &v.replycode.map(|c| c.get() as i32),
                &v.deliverystatus.map(|s| s.to_string()),
                &v.reason.as_str(),
                &v.hardbounce,
                &v.permanent,
                &v.owner.as_str(),
                &v.remedy.as_str(),
                &v.provider,
                &dk,
                &v.rhost,
                &v.smtpcommand,
                &class.as_str(),
                &rules_id,
                &id,
            ],
        )?;
        for sql in crate::rollup::add_statements(true) {
            let st = self.st(sql)?;
            self.tx.execute(&st, &[&[id].as_slice()])?;
        }
        Ok(())
    }

    fn stamp(&mut self, b: &Stamp<'_>) -> Result<()> {
        // By id (an ingest may have added events to the range since the
        // batch was read: they were judged by other rules); one statement
        // for the batch, as a round trip per event would be the whole cost.
        let st = self.st("UPDATE events SET rules_id = $1 WHERE id = ANY($2)")?;
        self.tx.execute(&st, &[&b.rules_id, &b.ids])?;
        Ok(())
    }

    fn drop_sender_issue(&mut self, event_id: i64) -> Result<()> {
        let st = self.st(schema::DROP_SENDER_ISSUE)?;
        self.tx.execute(&st, &[&event_id])?;
        Ok(())
    }

    fn record_change(&mut self, c: &Change<'_>) -> Result<()> {
        let st = self.st(schema::INSERT_CHANGE)?;
        self.tx.execute(
            &st,
            &[
                &c.event_id,
                &c.at_ms,
                &c.actor,
                &c.old_reason,
                &c.new_reason,
                &c.old_class,
                &c.new_class,
                &c.old_rules_id,
                &c.new_rules_id,
                &c.decided_by,
            ],
        )?;
        Ok(())
    }
}

fn row_to_event(r: &Row) -> EventRow {
    EventRow {
        id: r.get(0),
        dedupe_key: r.get(1),
        time_ms: r.get(2),
        recipient: r.get(3),
        recipient_domain: r.get(4),
        sender: r.get(5),
        sending_ip: r.get(6),
        campaign: r.get(7),
        message_id: r.get(8),
        outcome: r.get(9),
        replycode: r.get(10),
        status: r.get(11),
        text: r.get(12),
        format: r.get(13),
        source: r.get(14),
        reason: r.get(15),
        hardbounce: r.get(16),
        permanent: r.get(17),
        owner: r.get(18),
        remedy: r.get(19),
        provider: r.get(20),
        blocklist: r.get(21),
        rhost: r.get(22),
        smtpcommand: r.get(23),
        pattern: r.get(24),
        explain: r.get(25),
        policy_class: r.get(26),
        evidence: r.get(27),
        rules_id: r.get(28),
    }
}

fn row_to_suppression(r: &Row) -> Suppression {
    Suppression {
        address: r.get(0),
        domain: r.get(1),
        reason: r.get(2),
        detail: r.get(3),
        created_ms: r.get(4),
        updated_ms: r.get(5),
        created_by: r.get(6),
        event_count: r.get(7),
    }
}

const SUPPRESSION_SELECT: &str = "SELECT address, domain, reason, detail, created_ms, updated_ms, created_by, event_count FROM suppressions";

/// [`SUPPRESSION_SELECT`] for a list of addresses, prepared once per
/// connection: preparing it on every check was a second round trip per
/// check (single checks from the server's batcher included).
const SUPPRESSION_CHECK: &str = "SELECT address, domain, reason, detail, created_ms, updated_ms, created_by, event_count FROM suppressions WHERE address = ANY($1)";

/// Addresses per `= ANY($1)` lookup.
const CHECK_CHUNK: usize = 1000;

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
        let st = self.statement(SUPPRESSION_CHECK)?;
        let mut out = Vec::with_capacity(addresses.len());
        for chunk in addresses.chunks(CHECK_CHUNK) {
            let list: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let found: HashMap<String, Suppression> = self
                .client
                .query(&st, &[&list])?
                .iter()
                .map(|r| {
                    let s = row_to_suppression(r);
                    (s.address.clone(), s)
                })
                .collect();
            out.extend(chunk.iter().map(|a| found.get(a).cloned()));
        }
        Ok(out)
    }

    fn suppressions(&mut self, limit: Option<usize>) -> Result<Vec<Suppression>> {
        let sql = match limit {
            Some(l) => format!("{SUPPRESSION_SELECT} ORDER BY address LIMIT {l}"),
            None => format!("{SUPPRESSION_SELECT} ORDER BY address"),
        };
        Ok(self
            .client
            .query(&sql, &[])?
            .iter()
            .map(row_to_suppression)
            .collect())
    }

    fn suppression_events(&mut self, address: &str) -> Result<Vec<StoredEvent>> {
        Ok(self
            .client
            .query(
                &format!(
                    "SELECT {EVENT_SELECT} FROM {EVENT_FROM} WHERE id IN (SELECT event_id FROM suppression_events WHERE address = $1) ORDER BY time_ms, id"
                ),
                &[&address],
            )?
            .iter()
            .map(|r| row_to_event(r).into_stored())
            .collect())
    }

    fn add_suppressions(&mut self, items: &[ManualSuppression], actor: &str) -> Result<usize> {
        let mut tx = self.client.transaction()?;
        let now = now_ms();
        let added = {
            let mut t = Tx {
                tx: &mut tx,
                statements: &mut self.statements,
            };
            engine::add_manual(&mut t, items, actor, now)?
        };
        tx.commit()?;
        Ok(added)
    }

    fn remove_suppression(&mut self, address: &str, actor: &str, note: &str) -> Result<bool> {
        let mut tx = self.client.transaction()?;
        let now = now_ms();
        let Some(row) = tx.query_opt(
            "DELETE FROM suppressions WHERE address = $1 RETURNING reason",
            &[&address],
        )?
        else {
            return Ok(false);
        };
        let reason: String = row.get(0);
        tx.execute(
            "DELETE FROM suppression_events WHERE address = $1",
            &[&address],
        )?;
        tx.execute(
            "INSERT INTO recipient_resets (address, reset_ms) VALUES ($1, $2) ON CONFLICT (address) DO UPDATE SET reset_ms = excluded.reset_ms",
            &[&address, &now],
        )?;
        Tx {
            tx: &mut tx,
            statements: &mut self.statements,
        }
        .audit(address, "remove", actor, &reason, note, now)?;
        tx.commit()?;
        Ok(true)
    }

    fn audit(&mut self, address: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>> {
        let base = "SELECT address, action, actor, at_ms, reason, note FROM suppression_audit";
        let rows = match address {
            Some(a) => self.client.query(
                &format!("{base} WHERE address = $1 ORDER BY at_ms DESC, id DESC LIMIT {limit}"),
                &[&a],
            )?,
            None => self.client.query(
                &format!("{base} ORDER BY at_ms DESC, id DESC LIMIT {limit}"),
                &[],
            )?,
        };
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                address: r.get(0),
                action: r.get(1),
                actor: r.get(2),
                at_ms: r.get(3),
                reason: r.get(4),
                note: r.get(5),
            })
            .collect())
    }

    fn events(&mut self, q: &EventQuery) -> Result<Vec<StoredEvent>> {
        let (w, params) = schema::event_filter(q);
        let sql = format!(
            "SELECT {EVENT_SELECT} FROM {EVENT_FROM} {w} ORDER BY time_ms DESC, id DESC LIMIT {}",
            q.limit
        );
        let owned: Vec<Box<dyn ToSql + Sync>> = params
            .into_iter()
            .map(|p| -> Box<dyn ToSql + Sync> {
                match p {
                    QueryParam::Int(i) => Box::new(i),
                    QueryParam::Text(s) => Box::new(s),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        Ok(self
            .client
            .query(&sql, &refs)?
            .iter()
            .map(|r| row_to_event(r).into_stored())
            .collect())
    }

    fn sender_issues(&mut self, since_ms: Option<i64>) -> Result<Vec<SenderIssue>> {
        Ok(self
            .client
            .query(
                "SELECT sending_ip, sender_domain, provider, reason, blocklist, COUNT(*), MIN(time_ms), MAX(time_ms) FROM sender_issues WHERE time_ms >= $1 GROUP BY sending_ip, sender_domain, provider, reason, blocklist ORDER BY COUNT(*) DESC, MAX(time_ms) DESC",
                &[&since_ms.unwrap_or(i64::MIN)],
            )?
            .iter()
            .map(|r| SenderIssue {
                sending_ip: r.get(0),
                sender_domain: r.get(1),
                provider: r.get(2),
                reason: r.get(3),
                blocklist: r.get(4),
                count: r.get(5),
                first_ms: r.get(6),
                last_ms: r.get(7),
            })
            .collect())
    }

    fn count_events(&mut self) -> Result<u64> {
        let n: i64 = self
            .client
            .query_one("SELECT COUNT(*) FROM events", &[])?
            .get(0);
        Ok(n as u64)
    }

    fn count_suppressions(&mut self) -> Result<u64> {
        let n: i64 = self
            .client
            .query_one("SELECT COUNT(*) FROM suppressions", &[])?
            .get(0);
        Ok(n as u64)
    }

    fn reclassify_batch(&mut self, job: &mut ReclassifyJob<'_, '_>) -> Result<bool> {
        let mut tx = self.client.transaction()?;
        // One reclassify writer at a time per store: two runs over the
        // same addresses would each replay the policy on half-updated
        // events. Ingest is not held up (it takes no such lock).
        tx.execute("SELECT pg_advisory_xact_lock(720717)", &[])?;
        let batch = crate::reclassify::batch(
            &mut Tx {
                tx: &mut tx,
                statements: &mut self.statements,
            },
            job,
        )?;
        let Some(batch) = batch else {
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
        let rows = match event_id {
            Some(id) => self.client.query(&sql, &[&id])?,
            None => self.client.query(&sql, &[])?,
        };
        Ok(rows
            .iter()
            .map(|r| VerdictChange {
                event_id: r.get(0),
                at_ms: r.get(1),
                actor: r.get(2),
                old_reason: r.get(3),
                new_reason: r.get(4),
                old_class: r.get(5),
                new_class: r.get(6),
                old_rules_id: r.get(7),
                new_rules_id: r.get(8),
                decided_by: r.get(9),
            })
            .collect())
    }
}
