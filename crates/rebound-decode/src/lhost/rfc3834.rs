//! Auto-replies (RFC 3834): vacation notices, out-of-office replies and
//! other automatic answers. The "recipient" is the address that answered,
//! i.e. the reply's sender. Tried last: delivery notices also carry
//! `Auto-Submitted`, and any real report must win.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, squash, starts_with_ignore_case};
use rebound_core::Reason;

pub struct Rfc3834;

/// Subject prefixes that mark an automatic answer.
const SUBJECT_PREFIXES: &[&str] = &[
    "auto:",
    "auto reply",
    "auto-reply",
    "autoreply",
    "automatic reply",
    "autorespons",
    "auto response",
    "auto-response",
    "out of office",
    "out of the office",
    "abwesenheitsnotiz",
    "réponse automatique",
    "自動応答",
    "自動返信",
];

/// Subjects of delivery notices, which are never auto-replies.
const BOUNCE_SUBJECTS: &[&str] = &[
    "delivery status",
    "undeliver",
    "undelivered",
    "returned mail",
    "mail delivery",
    "delivery failure",
    "failure notice",
    "delivery has failed",
    "delivery notification",
    "non-delivery",
    "nondeliverable",
    "mail system error",
];

impl Decoder for Rfc3834 {
    fn name(&self) -> &'static str {
        "RFC3834"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let h = &mail.headers;
        let auto_replied = h
            .get("auto-submitted")
            .is_some_and(|v| starts_with_ignore_case(v.trim(), "auto-replied"));
        let autoreply_header = h.contains("x-autoreply")
            || h.contains("x-autorespond")
            || h.contains("x-autoresponder")
            || h.get("precedence")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("auto_reply"));
        let subject = mail.subject.trim();
        let auto_subject = SUBJECT_PREFIXES
            .iter()
            .any(|p| starts_with_ignore_case(subject, p) || subject.starts_with(p));
        if !(auto_replied || autoreply_header || auto_subject) {
            return None;
        }
        // Delivery notices carry `Auto-Submitted` too: cheapest checks first.
        if !mail.reports.is_empty() || mail.content_type.contains("multipart/report") {
            return None;
        }
        let from = h.value("from");
        let lower_from = from.to_ascii_lowercase();
        if lower_from.contains("mailer-daemon") || lower_from.contains("postmaster@") {
            return None;
        }
        let lower_subject = subject.to_ascii_lowercase();
        if BOUNCE_SUBJECTS.iter().any(|s| lower_subject.contains(s)) {
            return None;
        }
        let recipient = find_address(from)?;
        let diagnostic = reply_text(&mail.text);
        Some(vec![Delivery {
            recipient,
            diagnostic: if diagnostic.is_empty() {
                subject.to_string()
            } else {
                diagnostic
            },
            reason: Some(Reason::Vacation),
            ..Delivery::default()
        }])
    }
}

/// The reply's own words: the text before any quoted original, squashed,
/// at most a few hundred characters.
fn reply_text(text: &str) -> String {
    let mut kept = String::new();
    for line in text.split_lines().take(40) {
        let t = line.trim();
        if t.starts_with('>')
            || starts_with_ignore_case(t, "-----original message")
            || starts_with_ignore_case(t, "from:")
        {
            break;
        }
        kept.push_str(t);
        kept.push('\n');
        if kept.len() > 400 {
            break;
        }
    }
    let squashed = squash(&kept);
    match squashed.char_indices().nth(300) {
        Some((end, _)) => squashed.get(..end).unwrap_or("").to_string(),
        None => squashed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacation_reply_names_its_sender() {
        let raw = "From: Tora <tora@example.net>\nTo: me@example.org\nSubject: Out of Office: hi\n\
Auto-Submitted: auto-replied\n\nI am away until\nMonday.\n\n> your text\n";
        let found = Rfc3834
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found[0].recipient, "tora@example.net");
        assert_eq!(found[0].reason, Some(Reason::Vacation));
        assert_eq!(found[0].diagnostic, "I am away until Monday.");
    }

    #[test]
    fn bounces_and_plain_mail_are_not_auto_replies() {
        let bounce = "From: MAILER-DAEMON@example.net\nTo: me@example.org\n\
Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n\nfailed\n";
        assert!(
            Rfc3834
                .decode(&Mail::parse(bounce.as_bytes()).unwrap())
                .is_none()
        );
        let plain = "From: a@example.net\nTo: me@example.org\nSubject: lunch?\n\nsee you\n";
        assert!(
            Rfc3834
                .decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
