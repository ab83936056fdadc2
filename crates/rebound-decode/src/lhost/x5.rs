//! Unknown MTA shape X5: a notice whose only text says `----- The
//! following addresses had permanent delivery errors -----` and lists bare
//! addresses, with any report attached.

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, head, reply_code_in};

pub struct X5;

const MARKER: &str = "----- The following addresses had permanent delivery errors -----";

impl Decoder for X5 {
    fn name(&self) -> &'static str {
        "X5"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !crate::text::starts_with_ignore_case(&mail.subject, "Returned mail") {
            return None;
        }
        let top = head(&mail.text, 4096);
        let start = top.find(MARKER)?;
        let mut out = deliveries_from_report(mail);
        if out.is_empty() {
            for line in mail.text.get(start + MARKER.len()..)?.split_lines() {
                let t = line.trim();
                if t.is_empty() {
                    if out.is_empty() {
                        continue;
                    }
                    break;
                }
                match find_address(t) {
                    Some(recipient) => out.push(Delivery {
                        recipient,
                        action: "failed".into(),
                        ..Delivery::default()
                    }),
                    None => break,
                }
            }
        }
        for d in &mut out {
            if d.replycode.is_none() {
                d.replycode = reply_code_in(&d.diagnostic);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_bare_addresses() {
        let raw = "From: MAILER-DAEMON@mx.example.org\nSubject: Returned mail\n\n\
   ----- The following addresses had permanent delivery errors -----\na@example.net\n\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        assert_eq!(X5.decode(&mail).unwrap()[0].recipient, "a@example.net");
        assert!(
            X5.decode(&Mail::parse(b"Subject: x\n\nhi\n").unwrap())
                .is_none()
        );
    }

    #[test]
    fn reads_the_report_of_a_forwarded_bounce() {
        let raw = "From: MAILER-DAEMON@gw.example.org
Subject: Returned mail
Content-Type: multipart/mixed; boundary=\"O\"

--O
Content-Type: text/plain

   ----- The following addresses had permanent delivery errors -----

--O
Content-Type: message/rfc822

From: MAILER-DAEMON@mx.example.org
Subject: Returned mail
Content-Type: multipart/report; report-type=delivery-status; boundary=\"I\"

--I
Content-Type: text/plain

failed
--I
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; a@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown
--I--
--O--
";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = X5.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
    }
}
