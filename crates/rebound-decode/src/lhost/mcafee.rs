//! McAfee Email Gateway / Email and Web Security appliances
//! (`X-NAI-Header: Modified by McAfee ...`): an RFC 3464-like report keyed
//! by `Original-Recipient`, with a bare `Remote-MTA`.

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::contains_ignore_case;

pub struct McAfee;

impl Decoder for McAfee {
    fn name(&self) -> &'static str {
        "McAfee"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !contains_ignore_case(mail.headers.value("x-nai-header"), "McAfee") {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        for d in &mut found {
            if d.action.is_empty() {
                d.action = "failed".to_string();
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_original_recipient_blocks() {
        let raw = "From: <MAILER-DAEMON@example.jp>\nTo: a@example.jp\nSubject: Delivery Status\n\
X-NAI-Header: Modified by McAfee Email Gateway (4500)\n\
Content-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n\
    --- The following addresses had delivery problems ---\n\n<bob@example.com>   (No such user)\n\n\
--B\nContent-Type: message/delivery-status\n\nOriginal-Recipient: <bob@example.com>\nAction: failed\n\
Diagnostic-Code: smtp; 550 bob@example.com... No such user\nRemote-MTA: 198.51.100.225\n--B--\n";
        let d = &McAfee
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.com");
        assert_eq!(d.rhost, "198.51.100.225");
        assert_eq!(d.diagnostic, "550 bob@example.com... No such user");
    }
}
