//! RFC 3464 delivery status notifications: the standard every modern MTA
//! writes, and the fallback for any MTA without its own decoder.

use super::common::{deliveries_from_report, deliveries_from_status};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{DeliveryStatus, find_address};
use crate::mail::Mail;
use crate::text::{SplitLines, leading_reply_code, squash, starts_with_ignore_case, text_before};
use rebound_core::Reason;

pub struct Rfc3464;

impl Decoder for Rfc3464 {
    fn name(&self) -> &'static str {
        "RFC3464"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let mut found = deliveries_from_report(mail);
        if found.is_empty() && mail.report("delivery-status").is_none() {
            // Some MTAs put the DSN fields in the text part (or declare a
            // multipart report and never write the boundaries).
            let start = dsn_fields_start(&mail.text)?;
            let fields = mail.text.get(start..).unwrap_or("");
            found = deliveries_from_status(&DeliveryStatus::parse(fields));
        }
        if found.is_empty() {
            return None;
        }
        if found.iter().any(|d| d.diagnostic.is_empty()) {
            let transcript = transcript(&mail.text);
            if !transcript.is_empty() {
                for d in found.iter_mut().filter(|d| d.diagnostic.is_empty()) {
                    d.diagnostic = squash(&transcript.join(" "));
                    if d.replycode.is_none() {
                        d.replycode = transcript.iter().find_map(|l| leading_reply_code(l));
                    }
                }
            }
        }
        if let Some(reason) = local_rejection(&mail.text) {
            // A delivery agent's own refusal (Dovecot/Pigeonhole: "Your
            // message to <x> was automatically rejected:" and the cause on
            // the next line) says more than the relayed SMTP reply.
            for d in &mut found {
                if d.replycode.is_none() {
                    d.replycode = leading_reply_code(&d.diagnostic);
                }
                d.diagnostic = reason.clone();
            }
        }
        if queue_expired(&mail.text) {
            for d in found
                .iter_mut()
                .filter(|d| d.status.is_some_and(|s| s.class_digit() == 4))
            {
                d.reason = Some(Reason::Expired);
            }
        }
        Some(found)
    }
}

/// The line after "... was automatically rejected:", if the notice has one.
fn local_rejection(text: &str) -> Option<String> {
    let mut lines = text.split_lines().take(200);
    lines.find(|l| l.trim_end().ends_with("was automatically rejected:"))?;
    let cause = lines.map(str::trim).find(|l| !l.is_empty())?;
    Some(squash(cause))
}

/// Whether a Sendmail-style notice says the message sat in the queue until
/// it timed out.
fn queue_expired(text: &str) -> bool {
    text.split_lines().take(300).any(|l| {
        let l = l.trim_start();
        (l.starts_with("Message could not be delivered for ") && l.contains(" day"))
            || l.starts_with("Message will be deleted from queue")
    })
}

/// Offset of the first line that starts a DSN field block in free text
/// (`Reporting-MTA:`, `Final-Recipient:`, …), if there is a recipient field.
fn dsn_fields_start(text: &str) -> Option<usize> {
    const STARTS: &[&str] = &[
        "reporting-mta:",
        "final-recipient:",
        "original-recipient:",
        "received-from-mta:",
        "arrival-date:",
    ];
    let mut offset = 0;
    let mut start = None;
    for line in text.split_lines_inclusive() {
        if start.is_none() && STARTS.iter().any(|s| starts_with_ignore_case(line, s)) {
            start = Some(offset);
        }
        if start.is_some()
            && (starts_with_ignore_case(line, "final-recipient:")
                || starts_with_ignore_case(line, "original-recipient:"))
        {
            return start;
        }
        offset += line.len();
    }
    None
}

/// The lines of a Sendmail-style "Transcript of session follows" section,
/// up to the next blank line or section.
fn transcript(text: &str) -> Vec<&str> {
    let mut lines = text.split_lines();
    if !lines
        .by_ref()
        .take(500)
        .any(|l| l.contains("Transcript of session follows"))
    {
        return Vec::new();
    }
    lines
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("-----"))
        .filter(|l| !l.starts_with("... while talking") && !l.starts_with(">>>"))
        .take(20)
        .collect()
}

/// The last resort for notices without any standard report: a message
/// from a mailer daemon, with a bounce subject, whose text names one
/// recipient near a failure. Tried after every other decoder.
pub struct Rfc3464Loose;

const BOUNCE_SENDERS: &[&str] = &["mailer-daemon", "postmaster", "mail delivery"];
const BOUNCE_SUBJECT_WORDS: &[&str] = &[
    "fail",
    "returned",
    "undeliver",
    "undelivered",
    "not delivered",
    "delivery status",
    "non-delivery",
];
const ORIGINAL_MARKERS: &[&str] = &[
    "|------------------------- message text follows",
    "------ this is a copy of the message",
    "--- below this line is a copy",
    "----- original message",
    "-----original message",
    "original message follows",
    "received: ",
    "return-path: ",
    "content-type: ",
];

impl Decoder for Rfc3464Loose {
    fn name(&self) -> &'static str {
        "RFC3464"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = mail.from_lower.as_str();
        if !BOUNCE_SENDERS.iter().any(|s| from.contains(s)) {
            return None;
        }
        let subject = mail.subject.to_ascii_lowercase();
        if !BOUNCE_SUBJECT_WORDS.iter().any(|w| subject.contains(w)) {
            return None;
        }
        let notice = text_before(&mail.text, ORIGINAL_MARKERS);
        let ours: Vec<String> = ["from", "to", "reply-to"]
            .iter()
            .filter_map(|h| mail.headers.get(h))
            .filter_map(find_address)
            .collect();
        let recipient = notice
            .split_lines()
            .take(200)
            .filter_map(find_address)
            .find(|a| !ours.iter().any(|o| o.eq_ignore_ascii_case(a)))?;
        let kept: Vec<&str> = notice
            .split_lines()
            .take(200)
            .map(str::trim)
            .filter(|l| !l.is_empty() && !is_rule_line(l))
            .collect();
        let diagnostic = squash(&kept.join(" "));
        Some(vec![Delivery {
            recipient,
            action: "failed".to_string(),
            diagnostic,
            // The notice says delivery failed; only its words say why.
            reason: Some(Reason::OnHold),
            ..Delivery::default()
        }])
    }
}

/// A separator line: mostly dashes, bars, equal signs or stars.
fn is_rule_line(line: &str) -> bool {
    let marks = line
        .chars()
        .filter(|c| matches!(c, '-' | '|' | '=' | '*' | '_'))
        .count();
    marks >= 10 && marks * 2 >= line.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_fields_in_a_text_body_and_the_transcript() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.edu>\n\
To: <a@example.com>\nSubject: Returned mail: Service unavailable\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"never/used\"\n\n\
   ----- Transcript of session follows -----\nmail.local: unknown user: bob\n\
554 <bob@example.net>... Service unavailable\n\n\
Reporting-MTA: dns; mx.example.edu\n\nFinal-Recipient: RFC822; <bob@example.net>\n\
Action: failed\nStatus: 5.5.0\n\nReturn-Path: <a@example.com>\nSubject: hi\n";
        let found = Rfc3464
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "bob@example.net");
        assert_eq!(found[0].status.unwrap().to_string(), "5.5.0");
        assert_eq!(
            found[0].diagnostic,
            "mail.local: unknown user: bob 554 <bob@example.net>... Service unavailable"
        );
        assert_eq!(found[0].replycode.unwrap().get(), 554);
    }

    #[test]
    fn delivery_agent_rejection_and_queue_expiry() {
        let report = |text: &str, status: &str, diag: &str| {
            format!(
                "From: MAILER-DAEMON@mx.example\nTo: a@example.com\nSubject: failed\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\n{text}\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; bob@example.net\nAction: failed\n\
Status: {status}\nDiagnostic-Code: smtp; {diag}\n--B--\n"
            )
        };
        let raw = report(
            "Your message to <bob> was automatically rejected:\nNot enough disk space\n",
            "5.1.1",
            "550 5.1.1 no such user",
        );
        let d = &Rfc3464
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.diagnostic, "Not enough disk space");
        assert_eq!(d.replycode.unwrap().get(), 550);
        let raw = report(
            "Message could not be delivered for 5 days\nMessage will be deleted from queue\n",
            "4.0.0",
            "426 connection timed out",
        );
        let d = &Rfc3464
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.reason, Some(Reason::Expired));
    }

    #[test]
    fn loose_notice_from_a_mailer_daemon() {
        let raw = "From: MAILER-DAEMON@example.com\nTo: me@example.org\nSubject: Returned mail: hi\n\n\
User's mailbox is full: <bob@example.jp>\nUnable to deliver mail.\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        assert!(Rfc3464.decode(&mail).is_none());
        let found = Rfc3464Loose.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "bob@example.jp");
        assert_eq!(
            found[0].diagnostic,
            "User's mailbox is full: <bob@example.jp> Unable to deliver mail."
        );
        let plain = "From: friend@example.com\nTo: me@example.org\nSubject: failed plans\n\nsee bob@x.example\n";
        assert!(
            Rfc3464Loose
                .decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
