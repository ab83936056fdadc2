//! Unknown MTA shape X3: `Delivery status notification` framed by lines of
//! `=`, `Delivery to the following recipients failed permanently:` (or
//! `was aborted after N hour(s)`), `* address` lines and `Technical
//! details:` with the SMTP exchange (`SMTP:RCPT host IP: 553 ...`).

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, better_status, command_in, head, reply_code_in, status_in};
use rebound_core::Reason;

pub struct X3;

const INTRO: &str = "This is an automatically generated Delivery Status Notification.";

impl Decoder for X3 {
    fn name(&self) -> &'static str {
        "X3"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.subject.starts_with("Delivery status notification") {
            return None;
        }
        if !head(&mail.text, 2048).contains(INTRO) {
            return None;
        }
        let mut recipients: Vec<String> = Vec::new();
        let mut details: Vec<&str> = Vec::new();
        let mut aborted = false;
        let mut in_details = false;
        for line in mail.text.split_lines() {
            let t = line.trim();
            if t.contains("to the following recipients was aborted after") {
                aborted = true;
                continue;
            }
            if t.starts_with("Technical details:") {
                in_details = true;
                continue;
            }
            if t.starts_with("=====") {
                in_details = false;
                continue;
            }
            if let Some(rest) = t.strip_prefix("* ") {
                recipients.extend(find_address(rest));
            } else if in_details && !t.is_empty() {
                details.push(t);
            }
        }
        let text = details.join(" ");
        let report = deliveries_from_report(mail);
        let mut out = Vec::new();
        for (i, recipient) in recipients.into_iter().enumerate() {
            let r = report.get(i);
            let diagnostic = if text.is_empty() {
                r.map(|d| d.diagnostic.clone()).unwrap_or_default()
            } else {
                text.clone()
            };
            // `SMTP:RCPT host ...`: the command the reply answered.
            let command = diagnostic
                .strip_prefix("SMTP:")
                .map(|c| command_in(&format!(">>> {c}")))
                .unwrap_or("")
                .to_string();
            let expired = aborted && reply_code_in(&diagnostic).is_none();
            out.push(Delivery {
                recipient,
                action: "failed".into(),
                status: better_status(r.and_then(|d| d.status), status_in(&diagnostic)),
                replycode: reply_code_in(&diagnostic),
                command,
                reason: expired.then_some(Reason::Expired),
                rhost: r.map(|d| d.rhost.clone()).unwrap_or_default(),
                lhost: r.map(|d| d.lhost.clone()).unwrap_or_default(),
                diagnostic,
                ..Delivery::default()
            });
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_recipients_and_details() {
        let raw = "From: Mail Delivery System <mds@mx.example.org>\nSubject: Delivery status notification\n\n\
=====\n      This is an automatically generated Delivery Status Notification.\n\n\
Delivery to the following recipients failed permanently:\n\n   * a@example.com\n\n=====\n\
                             Technical details:\n\n\
SMTP:RCPT host 192.0.2.8: 553 5.3.0 <a@example.com>... No such user here\n=====\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = X3.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.com");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].replycode.unwrap().get(), 553);
        assert_eq!(found[0].status.unwrap().to_string(), "5.3.0");
        assert!(
            X3.decode(&Mail::parse(b"Subject: Delivery status notification\n\nhi\n").unwrap())
                .is_none()
        );
    }
}
