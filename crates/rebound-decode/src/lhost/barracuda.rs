//! Barracuda Spam & Virus Firewall: "**Message you sent blocked by our bulk
//! email filter**" with an RFC 3464 report.

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::Needle;

pub struct Barracuda;

impl Decoder for Barracuda {
    fn name(&self) -> &'static str {
        "Barracuda"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        static SPAM_FIREWALL: Needle = Needle::new("blocked by our Spam");
        static LOWER: Needle = Needle::new("barracuda");
        static CAPITAL: Needle = Needle::new("Barracuda");
        let marked = mail
            .subject_lower
            .contains("blocked by our bulk email filter")
            || (mail.report("delivery-status").is_some()
                && SPAM_FIREWALL.is_in(&mail.text)
                && mail
                    .headers
                    .get_all("received")
                    .take(4)
                    .any(|r| LOWER.is_in(r) || CAPITAL.is_in(r)));
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
        let raw = "From: MAILER-DAEMON\nTo: a@example.jp\nSubject: **Message you sent blocked by our bulk email filter**\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n\
Your message to: bob@example.org\nwas blocked by our Spam Firewall.\n\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; bar.example.jp\n\nFinal-Recipient: rfc822; bob@example.org\nAction: failed\nStatus: 5.7.1\n\
Diagnostic-Code: smtp; 550 5.7.1 Message content rejected, UBE, id=1\n--B--\n";
        let d = &Barracuda
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.org");
        assert_eq!(d.status.unwrap().to_string(), "5.7.1");
        assert!(d.diagnostic.starts_with("550 5.7.1"));
    }
}
