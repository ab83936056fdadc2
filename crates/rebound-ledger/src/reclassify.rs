//! Judging stored events again with other rules (`rebound reclassify`),
//! shared by both backends.
//!
//! Events are taken in batches of whole addresses (ordered by recipient):
//! a batch re-judges its events, updates the changed ones, stamps every one
//! with the new rules id, then replays the suppression policy over each
//! address whose policy class changed, all in one transaction. A batch is
//! therefore complete for its addresses, and a run that was killed resumes
//! where it stopped: `--apply` only takes events not yet judged by these
//! rules. A dry run is the same batches rolled back.

use crate::policy::{Class, Policy};
use crate::{Result, Suppression};
use rebound_ingest::{Event, Judge};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One event as read for judging (no pattern: the stored policy class and
/// detail key stand for the old verdict).
pub struct JudgedRow {
    pub id: i64,
    pub event: Event,
    pub policy_class: String,
    pub detail_key: i64,
}

/// One event of an address, for replaying the policy.
pub struct AddressEvent {
    pub id: i64,
    pub time_ms: i64,
    pub message_id: Option<String>,
    pub class: String,
    pub reason: String,
}

/// The statements a reclassify batch needs, run in the backend's open
/// transaction (next to the policy engine's own).
pub(crate) trait ReclassifyOps: crate::engine::TxOps {
    /// Up to `limit` events with a recipient after `after` (or of exactly
    /// `only`), ordered by recipient, time and id; at or after `since_ms`;
    /// not yet stamped with `skip_rules` when given.
    fn judging_rows(&mut self, query: &RowQuery<'_>) -> Result<Vec<JudgedRow>>;
    /// Every event of an address.
    fn address_events(&mut self, address: &str) -> Result<Vec<AddressEvent>>;
    fn suppression(&mut self, address: &str) -> Result<Option<Suppression>>;
    /// Deletes a suppression and its links.
    fn lift(&mut self, address: &str) -> Result<()>;
    /// Writes an event's new verdict, class and rules id.
    fn update_event(&mut self, id: i64, e: &Event, class: Class, rules_id: &str) -> Result<()>;
    /// Stamps the batch's events with the rules id that judged them: the
    /// ids, which are also every pending event of the addresses `first`
    /// to `last` at or after `since_ms` (a backend whose transaction keeps
    /// other writers out may stamp by that range in one statement).
    fn stamp(&mut self, batch: &Stamp<'_>) -> Result<()>;
    fn drop_sender_issue(&mut self, event_id: i64) -> Result<()>;
    fn record_change(&mut self, change: &Change<'_>) -> Result<()>;
}

pub(crate) struct Stamp<'a> {
    pub ids: &'a [i64],
    pub first: &'a str,
    pub last: &'a str,
    pub since_ms: Option<i64>,
    pub rules_id: &'a str,
}

pub(crate) struct RowQuery<'a> {
    pub after: &'a str,
    pub only: Option<&'a str>,
    pub since_ms: Option<i64>,
    pub skip_rules: Option<&'a str>,
    pub limit: usize,
}

/// One changed verdict, for `verdict_changes`.
pub(crate) struct Change<'a> {
    pub event_id: i64,
    pub at_ms: i64,
    pub actor: &'a str,
    pub old_reason: &'a str,
    pub new_reason: &'a str,
    pub old_class: &'a str,
    pub new_class: &'a str,
    pub old_rules_id: Option<&'a str>,
    pub new_rules_id: &'a str,
    pub decided_by: &'a str,
}

/// How to reclassify.
#[derive(Debug, Clone)]
pub struct ReclassifyOptions {
    /// Only events at or after this time (the policy replay still reads
    /// every event of an affected address).
    pub since_ms: Option<i64>,
    /// Write the changes; otherwise every batch is rolled back.
    pub apply: bool,
    /// Events per transaction (whole addresses: an address with more
    /// events makes a bigger batch).
    pub batch_size: usize,
    /// Who the audit trail names.
    pub actor: String,
}

impl Default for ReclassifyOptions {
    fn default() -> Self {
        Self {
            since_ms: None,
            apply: false,
            batch_size: 10_000,
            actor: "reclassify".into(),
        }
    }
}

/// What a run found (dry run) or did (`apply`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReclassifyReport {
    /// Events judged again.
    pub events: u64,
    /// Events whose reason, hard bounce, permanence, owner, remedy or
    /// policy class changed.
    pub changed: u64,
    /// Addresses the policy now suppresses.
    pub suppressions_added: Vec<String>,
    /// Policy-made suppressions the policy no longer makes.
    pub suppressions_lifted: Vec<String>,
    /// `old → new` reason: count.
    pub transitions: BTreeMap<String, u64>,
    /// The new reason of changed events: count.
    pub by_reason: BTreeMap<String, u64>,
    /// What decided the new verdicts of changed events (`rule ID`,
    /// `status 5.1.1`, `fallback onhold`…): count.
    pub by_rule: BTreeMap<String, u64>,
    /// The rules that judged.
    pub rules_id: String,
    pub applied: bool,
    /// Committed (or, dry, rolled back) batches.
    pub batches: u64,
}

impl ReclassifyReport {
    fn merge(&mut self, b: ReclassifyReport) {
        self.events += b.events;
        self.changed += b.changed;
        self.suppressions_added.extend(b.suppressions_added);
        self.suppressions_lifted.extend(b.suppressions_lifted);
        for (k, v) in b.transitions {
            *self.transitions.entry(k).or_default() += v;
        }
        for (k, v) in b.by_reason {
            *self.by_reason.entry(k).or_default() += v;
        }
        for (k, v) in b.by_rule {
            *self.by_rule.entry(k).or_default() += v;
        }
        self.batches += 1;
    }
}

/// A run in progress: the judge, the policy, where it is, what it found.
pub struct ReclassifyJob<'a, 'c> {
    pub judge: &'a mut Judge<'c>,
    pub policy: &'a Policy,
    pub options: ReclassifyOptions,
    /// The last address of the last finished batch.
    cursor: String,
    pub report: ReclassifyReport,
}

impl<'a, 'c> ReclassifyJob<'a, 'c> {
    pub fn new(judge: &'a mut Judge<'c>, policy: &'a Policy, options: ReclassifyOptions) -> Self {
        let report = ReclassifyReport {
            rules_id: judge.classifier().id().to_string(),
            applied: options.apply,
            ..Default::default()
        };
        Self {
            judge,
            policy,
            options,
            cursor: String::new(),
            report,
        }
    }

    /// Records a batch whose transaction ended as planned (committed, or
    /// rolled back in a dry run).
    pub(crate) fn finished(&mut self, batch: Batch) {
        self.cursor = batch.last_address;
        self.report.merge(batch.report);
    }
}

/// One batch's outcome, merged into the job after its transaction ends.
pub(crate) struct Batch {
    last_address: String,
    report: ReclassifyReport,
}

/// Runs every batch to the end; `on_batch` sees the totals after each
/// (durable when applying).
pub fn run(
    store: &mut dyn crate::Store,
    job: &mut ReclassifyJob<'_, '_>,
    mut on_batch: impl FnMut(&ReclassifyReport),
) -> Result<()> {
    while store.reclassify_batch(job)? {
        on_batch(&job.report);
    }
    Ok(())
}

/// One batch, inside the backend's transaction: `None` when no event is
/// left.
pub(crate) fn batch<T: ReclassifyOps>(
    tx: &mut T,
    job: &mut ReclassifyJob<'_, '_>,
) -> Result<Option<Batch>> {
    let rules_id = job.report.rules_id.clone();
    let Some(rows) = whole_addresses(tx, job, &rules_id)? else {
        return Ok(None);
    };
    let last_address = rows
        .last()
        .map(|r| r.event.recipient.clone())
        .unwrap_or_default();
    let mut report = ReclassifyReport::default();
    let now = crate::now_ms();
    let affected = judge_rows(tx, job, &rules_id, rows, now, &mut report)?;
    for (address, old_rules) in affected {
        replay_address(tx, job, &address, &old_rules, &rules_id, now, &mut report)?;
    }
    Ok(Some(Batch {
        last_address,
        report,
    }))
}

/// The next `batch_size` events, cut at an address boundary so that a batch
/// holds every pending event of each of its addresses: one row more than
/// the batch is read, and the address it belongs to is left for the next
/// batch (or, when it is the only one, read whole).
fn whole_addresses<T: ReclassifyOps>(
    tx: &mut T,
    job: &ReclassifyJob<'_, '_>,
    rules_id: &str,
) -> Result<Option<Vec<JudgedRow>>> {
    let limit = job.options.batch_size.max(1);
    let skip_rules = job.options.apply.then_some(rules_id);
    let mut rows = tx.judging_rows(&RowQuery {
        after: &job.cursor,
        only: None,
        since_ms: job.options.since_ms,
        skip_rules,
        limit: limit + 1,
    })?;
    if rows.is_empty() {
        return Ok(None);
    }
    if rows.len() > limit {
        let next = rows[limit].event.recipient.clone();
        if rows[0].event.recipient == next {
            rows = tx.judging_rows(&RowQuery {
                after: "",
                only: Some(&next),
                since_ms: job.options.since_ms,
                skip_rules,
                limit: usize::MAX,
            })?;
        } else {
            rows.retain(|r| r.event.recipient != next);
        }
    }
    Ok(Some(rows))
}

/// Judges each row again, writes the changed ones and stamps all; returns
/// the addresses whose policy class changed, with the old rules ids seen.
fn judge_rows<T: ReclassifyOps>(
    tx: &mut T,
    job: &mut ReclassifyJob<'_, '_>,
    rules_id: &str,
    rows: Vec<JudgedRow>,
    now: i64,
    report: &mut ReclassifyReport,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut affected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ids = Vec::with_capacity(rows.len());
    let first = rows
        .first()
        .map(|r| r.event.recipient.clone())
        .unwrap_or_default();
    let last = rows
        .last()
        .map(|r| r.event.recipient.clone())
        .unwrap_or_default();
    for mut row in rows {
        report.events += 1;
        ids.push(row.id);
        let (new, new_key) = job
            .judge
            .verdict_with(&row.event, crate::schema::detail_key);
        let old = &row.event.verdict;
        let class = job.policy.class_of_event(&row.event, new);
        let meaningful = old.reason != new.reason
            || old.hardbounce != new.hardbounce
            || old.permanent != new.permanent
            || old.owner != new.owner
            || old.remedy != new.remedy
            || row.policy_class != class.as_str();
        let stored_differs = meaningful
            || row.detail_key != new_key
            || old.provider != new.provider
            || old.deliverystatus != new.deliverystatus
            || old.replycode != new.replycode
            || old.smtpcommand != new.smtpcommand
            || old.rhost != new.rhost;
        if !stored_differs {
            continue;
        }
        // Changed (rare): the event takes its new verdict.
        let old = std::mem::replace(&mut row.event.verdict, new.clone());
        let e = &row.event;
        tx.update_event(row.id, e, class, rules_id)?;
        if !meaningful {
            continue;
        }
        let decided_by = decided_by(&e.verdict.explain);
        report.changed += 1;
        *report
            .transitions
            .entry(format!("{} → {}", old.reason, e.verdict.reason))
            .or_default() += 1;
        *report
            .by_reason
            .entry(e.verdict.reason.to_string())
            .or_default() += 1;
        *report.by_rule.entry(decided_by.to_string()).or_default() += 1;
        let old_rules = e.evidence.rules_id.as_deref();
        tx.record_change(&Change {
            event_id: row.id,
            at_ms: now,
            actor: &job.options.actor,
            old_reason: old.reason.as_str(),
            new_reason: e.verdict.reason.as_str(),
            old_class: &row.policy_class,
            new_class: class.as_str(),
            old_rules_id: old_rules,
            new_rules_id: rules_id,
            decided_by,
        })?;
        let was_sender = row.policy_class == Class::SenderIssue.as_str();
        if was_sender {
            tx.drop_sender_issue(row.id)?;
        }
        if class == Class::SenderIssue {
            tx.sender_issue(row.id, e)?;
        }
        if row.policy_class != class.as_str() {
            affected
                .entry(e.recipient.clone())
                .or_default()
                .insert(old_rules.unwrap_or("unknown").to_string());
        }
    }
    // A dry run is rolled back: stamping would be work thrown away (the
    // policy replay does not read the stamp).
    if job.options.apply {
        tx.stamp(&Stamp {
            ids: &ids,
            first: &first,
            last: &last,
            since_ms: job.options.since_ms,
            rules_id,
        })?;
    }
    Ok(affected)
}

/// What decided a verdict, from its explanation's head: `rule ID`,
/// `status 5.1.1`, `hint expired`, `class 2`, `blocklist`, `fallback …`.
pub fn decided_by(explain: &str) -> &str {
    explain.split(':').next().unwrap_or(explain).trim()
}

/// Replays the policy over an address's events and adds or lifts its
/// policy-made suppression to match; manual ones are left alone.
fn replay_address<T: ReclassifyOps>(
    tx: &mut T,
    job: &ReclassifyJob<'_, '_>,
    address: &str,
    old_rules: &BTreeSet<String>,
    rules_id: &str,
    now: i64,
    report: &mut ReclassifyReport,
) -> Result<()> {
    let current = tx.suppression(address)?;
    if current.as_ref().is_some_and(|s| s.created_by != "policy") {
        return Ok(());
    }
    let reset = tx.reset_ms(address)?;
    let mut events = tx.address_events(address)?;
    events.sort_by_key(|e| (e.time_ms, e.id));
    let desired = replay(job.policy, &events, reset);
    let old = old_rules.iter().cloned().collect::<Vec<_>>().join(",");
    let note = format!("rules {old} → {rules_id}");
    let actor = &job.options.actor;
    match (current, desired) {
        (None, Some(d)) => {
            let domain = rebound_ingest::domain_of(address);
            if tx.insert_suppression(address, domain, d.why, &d.detail, now, "policy")? {
                tx.audit(address, "suppress", actor, d.why, &note, now)?;
                report.suppressions_added.push(address.to_string());
            }
            for id in d.event_ids {
                tx.link(address, id, now)?;
            }
        }
        (Some(s), None) => {
            tx.lift(address)?;
            tx.audit(address, "remove", actor, &s.reason, &note, now)?;
            report.suppressions_lifted.push(address.to_string());
        }
        _ => {}
    }
    Ok(())
}

/// What the policy makes of an address.
struct Decision {
    why: &'static str,
    detail: String,
    event_ids: Vec<i64>,
}

/// The policy replayed over an address's events in time order, as ingest
/// would have applied it had the events carried these verdicts: the first
/// hard bounce or complaint suppresses; soft bounces suppress once
/// `soft_bounce_threshold` distinct messages span `soft_bounce_min_days`
/// with no delivery in between. Events up to a manual lift (`reset`) do not
/// count: the user's decision stands.
fn replay(policy: &Policy, events: &[AddressEvent], reset: Option<i64>) -> Option<Decision> {
    let mut soft: Vec<&AddressEvent> = Vec::new();
    for e in events
        .iter()
        .filter(|e| reset.is_none_or(|r| e.time_ms > r))
    {
        let decision = |why| Decision {
            why,
            detail: e.reason.clone(),
            event_ids: vec![e.id],
        };
        match e.class.as_str() {
            "hard" if policy.suppress_hard_bounces => return Some(decision("hardbounce")),
            "complaint" if policy.suppress_complaints => return Some(decision("complaint")),
            "delivered" => soft.clear(),
            "soft" => {
                soft.push(e);
                let messages: BTreeSet<String> = soft
                    .iter()
                    .map(|s| s.message_id.clone().unwrap_or_else(|| format!("#{}", s.id)))
                    .collect();
                let first = soft.first().map_or(e.time_ms, |s| s.time_ms);
                if messages.len() as u64 >= u64::from(policy.soft_bounce_threshold)
                    && e.time_ms.saturating_sub(first) >= policy.soft_span_ms()
                {
                    return Some(Decision {
                        why: "repeated_softbounce",
                        detail: e.reason.clone(),
                        event_ids: soft.iter().map(|s| s.id).collect(),
                    });
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, day: i64, class: &str, msg: &str) -> AddressEvent {
        AddressEvent {
            id,
            time_ms: day * 86_400_000,
            message_id: Some(msg.into()),
            class: class.into(),
            reason: "mailboxfull".into(),
        }
    }

    #[test]
    fn soft_bounces_suppress_only_past_threshold_and_span_without_delivery() {
        let p = Policy::default(); // 3 messages over 7 days
        let three = [
            ev(1, 0, "soft", "a"),
            ev(2, 4, "soft", "b"),
            ev(3, 8, "soft", "c"),
        ];
        let d = replay(&p, &three, None).expect("3 messages over 8 days");
        assert_eq!((d.why, d.event_ids), ("repeated_softbounce", vec![1, 2, 3]));
        // Over 6 days: not yet.
        let short = [
            ev(1, 0, "soft", "a"),
            ev(2, 3, "soft", "b"),
            ev(3, 6, "soft", "c"),
        ];
        assert!(replay(&p, &short, None).is_none());
        // A delivery in between starts the count again.
        let broken = [
            ev(1, 0, "soft", "a"),
            ev(2, 4, "delivered", "x"),
            ev(3, 5, "soft", "b"),
            ev(4, 9, "soft", "c"),
        ];
        assert!(replay(&p, &broken, None).is_none());
        // One message bounced three times is one message.
        let same = [
            ev(1, 0, "soft", "a"),
            ev(2, 4, "soft", "a"),
            ev(3, 8, "soft", "a"),
        ];
        assert!(replay(&p, &same, None).is_none());
    }

    #[test]
    fn a_manual_lift_hides_what_came_before() {
        let p = Policy::default();
        let evs = [ev(1, 0, "hard", "a"), ev(2, 5, "other", "b")];
        assert_eq!(replay(&p, &evs, None).map(|d| d.why), Some("hardbounce"));
        assert!(replay(&p, &evs, Some(86_400_000)).is_none());
    }

    #[test]
    fn decided_by_is_the_explanations_head() {
        assert_eq!(
            decided_by("rule acme-dead: \"x\" means y"),
            "rule acme-dead"
        );
        assert_eq!(decided_by("status 5.1.1: the mailbox"), "status 5.1.1");
    }
}
