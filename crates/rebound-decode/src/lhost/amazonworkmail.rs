//! Amazon WorkMail: an RFC 3464 report sent through SES, marked
//! `X-Mailer: Amazon WorkMail`; SES's wrapping of the remote reply applies.

use super::amazonses::refine_ses;
use super::common::{deliveries_from_report, deliveries_from_status};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::DeliveryStatus;
use crate::mail::Mail;
use crate::text::find_ignore_case;

pub struct AmazonWorkMail;

impl Decoder for AmazonWorkMail {
    fn name(&self) -> &'static str {
        "AmazonWorkMail"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if mail.headers.value("x-mailer") != "Amazon WorkMail" {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        if found.is_empty() && mail.report("delivery-status").is_none() {
            // Some notices carry the report fields in the text part, after
            // "Technical report:".
            let start = find_ignore_case(&mail.text, "Reporting-MTA:")
                .or_else(|| find_ignore_case(&mail.text, "Final-Recipient:"))?;
            let fields = mail.text.get(start..).unwrap_or("");
            found = deliveries_from_status(&DeliveryStatus::parse(fields));
        }
        for d in &mut found {
            refine_ses(d);
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_report() {
        let raw = "From: MAILER-DAEMON@us-west-2.amazonses.com\nX-Mailer: Amazon WorkMail\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nfailed\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dsn; a1.amazonses.com\n\nAction: failed\nFinal-Recipient: rfc822; z@example.jp\n\
Diagnostic-Code: smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>\nStatus: 4.4.7\n--B--\n";
        let d = AmazonWorkMail
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "z@example.jp");
        assert_eq!(d[0].status.unwrap().to_string(), "4.4.2");
        let other = raw.replace("Amazon WorkMail", "Other");
        assert!(
            AmazonWorkMail
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
