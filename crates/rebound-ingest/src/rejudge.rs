//! Judging a stored event again, with other rules, exactly as ingesting it
//! would have: the same observation, the same source facts afterwards
//! (`apply_source_facts`), and for bounce emails the decoder's own
//! completion (`rebound_decode::judge`).

use crate::{Event, Evidence, Outcome, apply_source_facts};
use rebound_classify::Classifier;
use rebound_core::{Observation, Reason, Verdict};
use std::collections::HashMap;

/// A classifier and a bounded cache of its verdicts: stored events repeat
/// a few thousand distinct replies millions of times.
pub struct Judge<'c> {
    classifier: &'c Classifier,
    /// Verdicts by [`cache_key`], with a number the caller may attach
    /// (the ledger's detail key), computed once per entry.
    cache: HashMap<u128, (Verdict, Option<i64>)>,
    /// Entries kept before the cache is emptied.
    pub cache_limit: usize,
}

impl<'c> Judge<'c> {
    pub fn new(classifier: &'c Classifier) -> Self {
        Self {
            classifier,
            cache: HashMap::new(),
            cache_limit: 200_000,
        }
    }

    pub fn classifier(&self) -> &'c Classifier {
        self.classifier
    }

    /// The verdict `e` gets from these rules.
    pub fn verdict(&mut self, e: &Event) -> Verdict {
        self.verdict_with(e, |_| 0).0.clone()
    }

    /// The verdict `e` gets from these rules, borrowed from the cache (a
    /// caller that mostly compares need not copy it), with `extra` of it,
    /// computed once per distinct verdict.
    pub fn verdict_with(
        &mut self,
        e: &Event,
        extra: impl FnOnce(&Verdict) -> i64,
    ) -> (&Verdict, i64) {
        let key = if e.evidence.recorded {
            cache_key(e, &e.evidence)
        } else {
            cache_key(e, &recovered(e))
        };
        if self.cache.len() >= self.cache_limit && !self.cache.contains_key(&key) {
            self.cache.clear();
        }
        let classifier = self.classifier;
        let entry = self.cache.entry(key).or_insert_with(|| {
            let v = if e.evidence.recorded {
                judge(classifier, e, &e.evidence)
            } else {
                judge(classifier, e, &recovered(e))
            };
            (v, None)
        });
        let x = match entry.1 {
            Some(x) => x,
            None => {
                let x = extra(&entry.0);
                entry.1 = Some(x);
                x
            }
        };
        (&entry.0, x)
    }
}

fn judge(classifier: &Classifier, e: &Event, ev: &Evidence) -> Verdict {
    if ev.bounce_report {
        let observed = rebound_decode::Observed {
            replycode: ev.replycode,
            status: ev.status,
            smtpcommand: ev.smtpcommand.clone(),
            rhost: ev.rhost.clone(),
            lhost: ev.lhost.clone(),
            action: ev.action.clone(),
            reason_hint: ev.hint,
            standin: ev.standin,
        };
        let mut v = rebound_decode::judge(classifier, &e.text, &e.recipient, &observed);
        if ev.forwarded_to.is_some() {
            crate::email::forwarded_failure(&mut v);
        }
        return v;
    }
    let obs = Observation {
        text: e.text.clone(),
        replycode: ev.replycode,
        status: ev.status,
        smtpcommand: ev.smtpcommand.clone(),
        rhost: ev.rhost.clone(),
        lhost: ev.lhost.clone(),
        recipient: Some(e.recipient.clone()),
        action: ev.action.clone(),
        reason_hint: ev.hint,
        source: Some(e.format.clone()),
        bounce_report: false,
    };
    let mut v = classifier.classify(&obs);
    apply_source_facts(classifier, &mut v, e.outcome, ev.hint, ev.temporary);
    v
}

/// The evidence of an event stored before evidence was kept, from what its
/// verdict recorded: the command and host as the verdict named them, the
/// status only when the text does not quote it (else the text's own is
/// found again, and a status stated as a field would outrank the reply
/// code's class), and the hint the event's outcome implies, as
/// `Normaliser::finish` derives it.
pub fn recovered(e: &Event) -> Evidence {
    let v = &e.verdict;
    let bounce_report = matches!(e.format.as_str(), "eml" | "mbox" | "maildir");
    let status = v
        .deliverystatus
        .filter(|s| !e.text.contains(&s.to_string()));
    let hint = match e.outcome {
        Outcome::Delivered => Some(Reason::Delivered),
        Outcome::Complained => Some(Reason::Feedback),
        Outcome::Expired => Some(Reason::Expired),
        Outcome::AutoReply => Some(Reason::Vacation),
        Outcome::Dropped => Some(v.reason),
        _ => None,
    };
    let action = match e.outcome {
        Outcome::Delivered => "delivered",
        Outcome::Deferred => "delayed",
        _ => "failed",
    };
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Evidence {
        recorded: false,
        replycode: if e
            .text
            .contains(&v.replycode.map(|c| c.to_string()).unwrap_or_default())
        {
            None
        } else {
            v.replycode
        },
        status,
        smtpcommand: nonempty(&v.smtpcommand),
        rhost: nonempty(&v.rhost),
        lhost: None,
        action: Some(action.to_string()),
        hint,
        // A verdict the ESP made not permanent against a permanent reply.
        temporary: !bounce_report
            && v.permanent == Some(false)
            && v.explain
                .contains("the ESP reports the failure as temporary"),
        esp: None,
        bounce_report,
        standin: None,
        rules_id: e.evidence.rules_id.clone(),
        forwarded_to: e.evidence.forwarded_to.clone(),
    }
}

/// Everything [`judge`] reads, hashed; the recipient's address in the text
/// is replaced by a placeholder so that one wording sent to many addresses
/// is one entry, but its domain stays (it can name the provider).
fn cache_key(e: &Event, ev: &Evidence) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut put = |s: &[u8]| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s);
    };
    if ev.action.as_deref() == Some("delivered") {
        // As `Normaliser::classify` keys them: acceptance replies differ
        // only in ids and timestamps, and share one verdict.
        let mut masked = String::with_capacity(e.text.len());
        crate::mask_variable(&e.text, &mut masked);
        put(masked.as_bytes());
    } else if e.recipient.is_empty() {
        // The text around each occurrence of the address, without copying it.
        put(e.text.as_bytes());
    } else {
        for piece in e.text.split(e.recipient.as_str()) {
            put(piece.as_bytes());
        }
    }
    put(e.recipient_domain.as_bytes());
    put(e.outcome.as_str().as_bytes());
    put(e.format.as_bytes());
    put(&ev.replycode.map(|c| c.get()).unwrap_or(0).to_le_bytes());
    put(ev
        .status
        .map(|s| s.to_string())
        .unwrap_or_default()
        .as_bytes());
    for s in [&ev.smtpcommand, &ev.rhost, &ev.lhost, &ev.action] {
        put(&[s.is_some() as u8]);
        put(s.as_deref().unwrap_or("").as_bytes());
    }
    put(ev.hint.map(|r| r.as_str()).unwrap_or("").as_bytes());
    put(ev.standin.map(|r| r.as_str()).unwrap_or("").as_bytes());
    put(&[
        ev.temporary as u8,
        ev.bounce_report as u8,
        ev.forwarded_to.is_some() as u8,
    ]);
    h.digest128()
}
