//! amavisd-new content filter notices ("Content-filter at host"): an RFC
//! 3464 report written by amavis itself.

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;

pub struct Amavis;

impl Decoder for Amavis {
    fn name(&self) -> &'static str {
        "Amavis"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        // amavisd-new signs its notices "Content-filter at <host>".
        let marked = mail.from_lower.contains("content-filter at ");
        if !marked {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        // The report's Diagnostic-Code carries amavis's verdict label
        // ("Reject, id=... - SPAM"); the notice itself names what its checks
        // found (a bad header: `Duplicate header field: "From"`), in the
        // paragraph that ends with "Delivery of the email was stopped!".
        if let Some(finding) = stated_finding(&mail.text) {
            for d in &mut found {
                if !d.diagnostic.contains(finding.as_str()) {
                    d.diagnostic = format!("{} {finding}", d.diagnostic).trim().to_string();
                }
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

const STOPPED: &str = "Delivery of the email was stopped!";

/// The paragraph just before amavis's closing "Delivery of the email was
/// stopped!", joined into one line; `None` without that closing line.
fn stated_finding(text: &str) -> Option<String> {
    let before = &text[..text.find(STOPPED)?];
    let lines: Vec<&str> = before
        .lines()
        .rev()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .take(8)
        .collect();
    let finding = lines.into_iter().rev().collect::<Vec<_>>().join(" ");
    (!finding.is_empty()).then_some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_states_the_finding() {
        let text = "was considered unsolicited bulk e-mail (UBE).\n\nReturn-Path: <a@example.com>\n\
From: a@example.com\n\nDuplicate header field: \"From\"\n\n\nDelivery of the email was stopped!\n";
        assert_eq!(
            stated_finding(text).as_deref(),
            Some("Duplicate header field: \"From\"")
        );
        assert!(stated_finding("no closing line\n").is_none());
        assert!(stated_finding("Delivery of the email was stopped!").is_none());
    }

    #[test]
    fn reads_the_report() {
        let raw = "From: \"Content-filter at mx.example.com\" <postmaster@mx.example.com>\nTo: a@example.jp\n\
Subject: Undeliverable mail, MTA-BLOCKED\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n\
The message WAS NOT relayed to:\n\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822;bob@example.org\nAction: failed\nStatus: 5.1.1\n\
Remote-MTA: dns; 127.0.0.1\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: User unknown\n--B--\n";
        let d = &Amavis
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.org");
        assert_eq!(d.rhost, "127.0.0.1");
        let other = raw.replace("Content-filter at", "Postmaster of");
        assert!(
            Amavis
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
