//! The policy engine, shared by both backends: given the events a batch
//! newly inserted, decide and write suppressions, links, audit rows and
//! sender issues — inside the batch's transaction.

use crate::policy::{Class, Policy};
use crate::{BatchOutcome, Result};
use rebound_ingest::Event;
use std::collections::HashSet;

/// The few statements the engine needs, each backend runs them in its
/// open transaction.
pub(crate) trait TxOps {
    /// Latest delivery to the address (event time).
    fn last_delivery_ms(&mut self, address: &str) -> Result<Option<i64>>;
    /// When the address's suppression was last removed.
    fn reset_ms(&mut self, address: &str) -> Result<Option<i64>>;
    /// Soft-class events for the address after `after_ms`: (id, time, message id).
    fn soft_events(
        &mut self,
        address: &str,
        after_ms: i64,
    ) -> Result<Vec<(i64, i64, Option<String>)>>;
    /// Inserts a suppression if absent; true when it was inserted.
    #[allow(clippy::too_many_arguments)]
    fn insert_suppression(
        &mut self,
        address: &str,
        domain: &str,
        reason: &str,
        detail: &str,
        at_ms: i64,
        by: &str,
    ) -> Result<bool>;
    /// Links an event to a suppression (idempotent) and bumps its counters.
    fn link(&mut self, address: &str, event_id: i64, at_ms: i64) -> Result<()>;
    fn audit(
        &mut self,
        address: &str,
        action: &str,
        actor: &str,
        reason: &str,
        note: &str,
        at_ms: i64,
    ) -> Result<()>;
    fn sender_issue(&mut self, event_id: i64, e: &Event) -> Result<()>;
    /// Adds the batch's newly inserted events (their ids) to the rollups
    /// (`rollup.rs`), in set-based statements over `events`.
    fn roll_up(&mut self, ids: &[i64]) -> Result<()>;
}

/// Adds manual suppressions (those not already present) with an audit row
/// each; returns how many were added.
pub(crate) fn add_manual<T: TxOps>(
    tx: &mut T,
    items: &[crate::ManualSuppression],
    actor: &str,
    now: i64,
) -> Result<usize> {
    let mut added = 0;
    for m in items {
        let domain = rebound_ingest::domain_of(&m.address);
        if tx.insert_suppression(&m.address, domain, &m.reason, &m.detail, now, actor)? {
            tx.audit(&m.address, "add", actor, &m.reason, &m.detail, now)?;
            added += 1;
        }
    }
    Ok(added)
}

/// Adds newly inserted events (id, event, class) to the rollups, then
/// applies the policy to them in time order. Every backend's batch calls
/// this after its inserts, whatever the insert path, so the rollups
/// count exactly the rows the batch inserted (`rollup.rs`).
pub(crate) fn apply<T: TxOps>(
    tx: &mut T,
    policy: &Policy,
    inserted: &mut [(i64, &Event, Class)],
    out: &mut BatchOutcome,
) -> Result<()> {
    if !inserted.is_empty() {
        let ids: Vec<i64> = inserted.iter().map(|(id, ..)| *id).collect();
        tx.roll_up(&ids)?;
    }
    inserted.sort_by_key(|(id, e, _)| (e.time_ms, *id));
    let now = crate::now_ms();
    let mut soft_checked: HashSet<&str> = HashSet::new();
    for &(id, e, class) in inserted.iter() {
        match class {
            Class::Hard if policy.suppress_hard_bounces => {
                suppress(tx, e, "hardbounce", &[id], now, out)?;
            }
            Class::Complaint if policy.suppress_complaints => {
                suppress(tx, e, "complaint", &[id], now, out)?;
            }
            Class::Soft => {
                // Several soft bounces for one address in a batch: the last
                // check sees them all.
                let _ = soft_checked.insert(e.recipient.as_str());
                let after = tx
                    .last_delivery_ms(&e.recipient)?
                    .max(tx.reset_ms(&e.recipient)?)
                    .unwrap_or(i64::MIN);
                let evs = tx.soft_events(&e.recipient, after)?;
                let mut messages = HashSet::new();
                let (mut first, mut last) = (i64::MAX, i64::MIN);
                for (eid, t, msg) in &evs {
                    let key = msg.clone().unwrap_or_else(|| format!("#{eid}"));
                    messages.insert(key);
                    first = first.min(*t);
                    last = last.max(*t);
                }
                if messages.len() as u64 >= policy.soft_bounce_threshold as u64
                    && last.saturating_sub(first) >= policy.soft_span_ms()
                {
                    let ids: Vec<i64> = evs.iter().map(|(eid, ..)| *eid).collect();
                    suppress(tx, e, "repeated_softbounce", &ids, now, out)?;
                }
            }
            Class::SenderIssue => {
                tx.sender_issue(id, e)?;
                out.sender_issues += 1;
            }
            _ => {}
        }
    }
    Ok(())
}

fn suppress<T: TxOps>(
    tx: &mut T,
    e: &Event,
    why: &str,
    event_ids: &[i64],
    now: i64,
    out: &mut BatchOutcome,
) -> Result<()> {
    let detail = e.verdict.reason.as_str();
    if tx.insert_suppression(
        &e.recipient,
        &e.recipient_domain,
        why,
        detail,
        now,
        "policy",
    )? {
        tx.audit(&e.recipient, "suppress", "policy", why, &e.source, now)?;
        out.suppressed.push(e.recipient.clone());
    }
    for &id in event_ids {
        tx.link(&e.recipient, id, now)?;
    }
    Ok(())
}
