//! Amazon SES receiving (inbound) endpoints: an RFC 3464 report from
//! `inbound-smtp.<region>.amazonaws.com`, sent out through SES
//! (`X-SES-Outgoing`).

use super::common::deliveries_from_report;
use super::provider_helpers::refine_status;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::SplitLines;

pub struct ReceivingSes;

impl Decoder for ReceivingSes {
    fn name(&self) -> &'static str {
        "ReceivingSES"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.headers.contains("x-ses-outgoing") {
            return None;
        }
        let report = mail.report("delivery-status")?;
        let mta = report
            .split_lines()
            .take(20)
            .find(|l| l.to_ascii_lowercase().starts_with("reporting-mta:"))?;
        if !mta.contains("inbound-smtp.") || !mta.contains("amazonaws.com") {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        for d in &mut found {
            d.status = refine_status(d.status, &d.diagnostic);
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inbound_reports() {
        let raw = "From: postmaster@example.jp\nX-SES-Outgoing: 2015.10.01-192.0.2.7\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nThis message could not be delivered.\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; inbound-smtp.us-west-2.amazonaws.com\n\n\
Action: failed\nFinal-Recipient: rfc822; full@example.jp\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\nStatus: 5.2.2\n--B--\n";
        let d = ReceivingSes
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "full@example.jp");
        let other = raw.replace("inbound-smtp.", "mx.");
        assert!(
            ReceivingSes
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
