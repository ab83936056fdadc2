//! Mimecast ("[Postmaster] Email Delivery Failure", `X-Mimecast-Originator`):
//! a text naming the address (`-- user@example.org`) and the remote answer
//! after "Additional information follows", and sometimes a delivery-status
//! part written with `Name : value` fields and `rfc/822;` address types.

use super::common::{deliveries_from_status, delivery_from_reply};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{DeliveryStatus, find_address};
use crate::mail::Mail;
use crate::text::{SplitLines, contains_ignore_case};

pub struct Mimecast;

impl Decoder for Mimecast {
    fn name(&self) -> &'static str {
        "Mimecast"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let marked = mail.headers.contains("x-mimecast-originator")
            || contains_ignore_case(mail.headers.value("message-id"), "mimecast");
        if !marked {
            return None;
        }
        if let Some(report) = mail.report("delivery-status") {
            let found = deliveries_from_status(&DeliveryStatus::parse(&normalise(report)));
            if !found.is_empty() {
                return Some(found);
            }
        }
        let mut recipient = None;
        let mut reply = None;
        let mut after_information = false;
        for line in mail.text.split_lines().take(300) {
            let t = line.trim();
            if contains_ignore_case(t, "additional information follows") {
                after_information = true;
                continue;
            }
            let Some(item) = t.strip_prefix("-- ") else {
                continue;
            };
            if after_information {
                reply.get_or_insert_with(|| item.trim().to_string());
            } else if recipient.is_none() {
                recipient = find_address(item);
            }
        }
        let d = delivery_from_reply(recipient?, reply.as_deref().unwrap_or(""));
        Some(vec![d])
    }
}

/// `Final-Recipient : rfc/822;a@b` → `Final-Recipient: rfc822;a@b`.
fn normalise(report: &str) -> String {
    let mut out = String::with_capacity(report.len());
    for line in report.split_lines() {
        match line.split_once(" : ") {
            Some((name, value))
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(&value.replace("rfc/822;", "rfc822;"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_odd_report_shapes() {
        let text = "From: postmaster@example.org\nTo: a@example.jp\nSubject: [Postmaster] Email Delivery Failure\n\
X-Mimecast-Originator: <>\n\n\
An email that you attempted to send to the following address could not be delivered:\n-- bob@example.org\n\n\
The problem appears to be :\n-- Recipient email address is possibly incorrect\n\n\
Additional information follows :\n-- 5.4.1 Recipient address rejected: Access denied.\n";
        let d = &Mimecast
            .decode(&Mail::parse(text.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.org");
        assert_eq!(
            d.diagnostic,
            "5.4.1 Recipient address rejected: Access denied."
        );
        assert_eq!(d.status.unwrap().to_string(), "5.4.1");
        let report = "Reporting-MTA : dns;mx.mimecast.example\nAction : failed\nStatus : 5.0.0\n\
Diagnostic-Code : smtp;550 5.7.54 SMTP; Unable to relay\nFinal-Recipient : rfc/822;bob@example.net\n";
        let ds = DeliveryStatus::parse(&normalise(report));
        let found = deliveries_from_status(&ds);
        assert_eq!(found[0].recipient, "bob@example.net");
        assert_eq!(found[0].status.unwrap().to_string(), "5.7.54");
        let plain = "From: a@example.org\nTo: b@example.jp\nSubject: x\n\n-- c@example.org\n";
        assert!(
            Mimecast
                .decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
