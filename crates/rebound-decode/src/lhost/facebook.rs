//! Facebook's mail servers (`mailer-daemon@mx.facebook.com`, "Sorry, your
//! message could not be delivered"): an RFC 3464 report whose diagnostic
//! carries Facebook's own response code (`RCP-P1`, `POL-P2`, …).

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;

pub struct Facebook;

impl Decoder for Facebook {
    fn name(&self) -> &'static str {
        "Facebook"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.from_lower.contains("facebook.com")
            || !mail.subject_lower.contains("could not be delivered")
        {
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
        let raw = "From: Facebook <mailer-daemon@mx.facebook.com>\nTo: a@example.jp\n\
Subject: Sorry, your message could not be delivered\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n\
This message was created automatically by Facebook.\n\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; 10.0.0.1\n\nDiagnostic-Code: smtp; 550 5.1.1 RCP-P2 Refused due to recipient preferences\n\
Status: 5.1.1\nFinal-Recipient: rfc822; bob@facebook.com\nAction: failed\n--B--\n";
        let d = &Facebook
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@facebook.com");
        assert!(d.diagnostic.contains("RCP-P2"));
    }
}
