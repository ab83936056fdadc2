//! OpenSMTPD's `Delivery status notification`: `This is the MAILER-DAEMON,
//! please DO NOT REPLY to this e-mail.`, then one `address: reason` line per
//! recipient. Newer versions append an RFC 3464 report with a catch-all
//! status; the text is the better source.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::{find_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{SplitLines, head, reply_code_in, status_in, text_before};
use rebound_core::Reason;

pub struct OpenSmtpd;

const INTRO: &str = "This is the MAILER-DAEMON, please DO NOT REPLY";

impl Decoder for OpenSmtpd {
    fn name(&self) -> &'static str {
        "OpenSMTPD"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.subject.starts_with("Delivery status notification") {
            return None;
        }
        let top = head(&mail.text, 2048);
        if !top.contains(INTRO) {
            return None;
        }
        let delayed = top.contains("A message is delayed")
            || mail.subject.ends_with("warning")
            || mail.subject.ends_with("delayed");
        let text = text_before(&mail.text, &["Below is a copy of the original message"]);
        let lhost = mail
            .headers
            .value("from")
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').trim().to_string())
            .unwrap_or_default();
        let mut out = Vec::new();
        for line in text.split_lines() {
            // Recipient lines start at the left margin; the prose is indented.
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((addr, reason)) = line.split_once(": ") else {
                continue;
            };
            let addr = addr.trim();
            if !looks_like_address(addr.trim_matches(['<', '>'])) {
                continue;
            }
            let Some(recipient) = find_address(addr) else {
                continue;
            };
            let diagnostic = reason.trim().to_string();
            let expired = diagnostic.eq_ignore_ascii_case("Envelope expired");
            out.push(Delivery {
                recipient,
                // An expired envelope is no longer retried, even when the
                // notice calls itself a delay warning.
                action: if delayed && !expired {
                    "delayed"
                } else {
                    "failed"
                }
                .into(),
                // The appended report only restates OpenSMTPD's internal
                // error class (`4.0.0`, `4.4.7`); the text has the reply.
                status: status_in(&diagnostic),
                replycode: reply_code_in(&diagnostic),
                diagnostictype: "SMTP".into(),
                lhost: lhost.clone(),
                reason: expired.then_some(Reason::Expired),
                diagnostic,
                ..Delivery::default()
            });
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_recipient_lines() {
        let raw = "From: Mailer Daemon <MAILER-DAEMON@smtpd.example.org>\n\
Subject: Delivery status notification: error\n\n\
    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n\
    An error has occurred while attempting to deliver a message for\n\
    the following list of recipients:\n\n\
a@example.net: 550 5.2.2 <a@example.net>... Mailbox Full\n\
b@example.com: Envelope expired\n\n\
    Below is a copy of the original message:\n\nFrom: s@example.org\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = OpenSmtpd.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.2.2");
        assert_eq!(found[1].reason, Some(Reason::Expired));
        assert_eq!(found[0].lhost, "smtpd.example.org");
    }

    #[test]
    fn foreign_messages_are_rejected() {
        let mail = Mail::parse(b"Subject: Delivery status notification: error\n\nhello\n").unwrap();
        assert!(OpenSmtpd.decode(&mail).is_none());
    }
}
