//! Outlook.com / Hotmail (the pre-Exchange-Online service): an RFC 3464
//! report from postmaster@*.hotmail.com with Hotmail's `X-Message-Delivery`
//! / `X-Message-Info` headers.

use super::common::deliveries_from_report;
use super::provider_helpers::{gave_up_on_temporary, join_lines, refine_status};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::SplitLines;
use rebound_core::Reason;

pub struct Outlook;

impl Decoder for Outlook {
    fn name(&self) -> &'static str {
        "Outlook"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = mail.from_lower.as_str();
        let hotmail_headers =
            mail.headers.contains("x-message-delivery") && mail.headers.contains("x-message-info");
        // Outlook.com adds the X-Message-* headers to mail it receives too:
        // the notice must come from a postmaster.
        if !from.contains("postmaster@") || !(hotmail_headers || from.contains("hotmail")) {
            return None;
        }
        if mail.headers.contains("x-ms-exchange-message-is-ndr") {
            // Exchange Online's NDRs carry the same headers.
            return None;
        }
        mail.report("delivery-status")?;
        let mut found = deliveries_from_report(mail);
        for d in &mut found {
            if d.diagnostic.is_empty() {
                d.diagnostic = join_lines(mail.text.split_lines().take(20));
            }
            d.status = refine_status(d.status, &d.diagnostic);
            if gave_up_on_temporary(d) {
                d.reason = Some(Reason::Expired);
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hotmail_reports() {
        let raw = "From: postmaster@mail.hotmail.com\nX-Message-Delivery: x\nX-Message-Info: y\n\
Subject: Delivery Status Notification (Failure)\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nUnable to deliver message to the following recipients.\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns;bay0-omc1-s18.bay0.hotmail.com\n\n\
Final-Recipient: rfc822;x@example.com\nAction: failed\nStatus: 4.4.7\n--B--\n";
        let d = Outlook
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "x@example.com");
        assert_eq!(d[0].reason, Some(Reason::Expired));
        assert!(d[0].diagnostic.starts_with("Unable to deliver"));
    }
}
