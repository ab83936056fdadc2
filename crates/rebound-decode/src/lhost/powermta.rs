//! PowerMTA delivery reports: RFC 3464 with `X-PowerMTA-*` fields.

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;

pub struct PowerMta;

impl Decoder for PowerMta {
    fn name(&self) -> &'static str {
        "PowerMTA"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.report("delivery-status")?.contains("X-PowerMTA-") {
            return None;
        }
        let found = deliveries_from_report(mail);
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_report() {
        let raw = "From: postmaster@mta.example.net\nTo: a@example.jp\nSubject: Delivery report\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n\
  <bob@example.jp>  delivery failed; will not continue trying\n\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns;mta.example.net\nX-PowerMTA-VirtualMTA: mta.example.net\n\n\
Final-Recipient: rfc822;bob@example.jp\nAction: failed\nStatus: 5.2.1 (mailbox disabled, not accepting messages)\n\
Remote-MTA: dns;mx.example.jp (192.0.2.135)\nDiagnostic-Code: smtp;550 5.2.1 <bob@example.jp>... User Unknown\n--B--\n";
        let d = &PowerMta
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.jp");
        assert_eq!(d.status.unwrap().to_string(), "5.2.1");
        let other = raw.replace("X-PowerMTA-VirtualMTA", "X-Other");
        assert!(
            PowerMta
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
