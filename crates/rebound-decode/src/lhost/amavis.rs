//! amavisd-new content filter notices ("Content-filter at host"): an RFC
//! 3464 report written by amavis itself.

use super::common::{contains_ignore_case, deliveries_from_report};
use super::{Decoder, Delivery};
use crate::mail::Mail;

pub struct Amavis;

impl Decoder for Amavis {
    fn name(&self) -> &'static str {
        "Amavis"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        // amavisd-new signs its notices "Content-filter at <host>".
        let marked = contains_ignore_case(mail.headers.value("from"), "content-filter at ");
        if !marked {
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
