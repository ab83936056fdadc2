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
    cache: HashMap<u128, Verdict>,
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
        let evidence = if e.evidence.recorded {
            std::borrow::Cow::Borrowed(&e.evidence)
        } else {
            std::borrow::Cow::Owned(recovered(e))
        };
        let key = cache_key(e, &evidence);
        if let Some(v) = self.cache.get(&key) {
            return v.clone();
        }
        let v = judge(self.classifier, e, &evidence);
        if self.cache.len() >= self.cache_limit {
            self.cache.clear();
        }
        self.cache.insert(key, v.clone());
        v
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
        return rebound_decode::judge(classifier, &e.text, &e.recipient, &observed);
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
    apply_source_facts(&mut v, e.outcome, ev.hint, ev.temporary);
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
        bounce_report,
        standin: None,
        rules_id: e.evidence.rules_id.clone(),
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
    if !e.recipient.is_empty() && e.text.contains(&e.recipient) {
        put(e.text.replace(&e.recipient, "\u{1}").as_bytes());
    } else {
        put(e.text.as_bytes());
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
    put(&[ev.temporary as u8, ev.bounce_report as u8]);
    h.digest128()
}
