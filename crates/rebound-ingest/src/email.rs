//! Bounce emails: the decoder's records as events.

use crate::{Event, Outcome, dedupe_key, domain_of, normalize_address, time_ordered_key};
use rebound_core::Reason;
use rebound_decode::Record;

/// Turns one decoder record into an event (`format` is `eml`, `mbox` or
/// `maildir`). The verdict is the decoder's, which came from the shared
/// classifier. `None` when the record has no usable recipient.
pub fn from_decoded(r: &Record, format: &str) -> Option<Event> {
    let recipient = normalize_address(&r.recipient)?;
    let outcome = match r.verdict.reason {
        Reason::Feedback => Outcome::Complained,
        Reason::Vacation => Outcome::AutoReply,
        Reason::Delivered => Outcome::Delivered,
        Reason::Expired => Outcome::Expired,
        _ if r.action == "delayed" => Outcome::Deferred,
        _ if !r.feedbacktype.is_empty() => Outcome::Complained,
        _ => Outcome::Bounced,
    };
    let identity = format!(
        "email\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        r.token,
        recipient,
        r.verdict.reason.as_str(),
        r.messageid,
        r.diagnosticcode
    );
    // A bounce that states no date happened when it was received.
    let time_ms = if r.timestamp > 0 {
        r.timestamp.saturating_mul(1000)
    } else {
        crate::time::now_ms()
    };
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    Some(Event {
        time_ms,
        recipient_domain: domain_of(&recipient).to_string(),
        recipient,
        sender: normalize_address(&r.addresser),
        sending_ip: None,
        campaign: nonempty(&r.listid),
        message_id: nonempty(&r.messageid),
        outcome,
        text: r.diagnosticcode.clone(),
        format: format.to_string(),
        source: r.origin.clone(),
        dedupe_key: time_ordered_key(time_ms, dedupe_key(&identity)),
        verdict: r.verdict.clone(),
        evidence: crate::Evidence {
            recorded: true,
            replycode: r.observed.replycode,
            status: r.observed.status,
            smtpcommand: r.observed.smtpcommand.clone(),
            rhost: r.observed.rhost.clone(),
            lhost: r.observed.lhost.clone(),
            action: r.observed.action.clone(),
            hint: r.observed.reason_hint,
            temporary: false,
            esp: None,
            bounce_report: true,
            standin: r.observed.standin,
            // The decoder's classifier is the built-in one.
            rules_id: Some(rebound_classify::builtin_rules_id().to_string()),
        },
    })
}
