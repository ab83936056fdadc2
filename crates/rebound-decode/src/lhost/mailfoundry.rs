//! MailFoundry appliances: "Unable to deliver message to: <address>", then
//! "Delivery failed for the following reason:" and the remote host's reply
//! (`Server host[ip] failed with: 550 ...` or `host[ip] responded with
//! failure: 552 ...`).

use super::common::delivery_from_reply;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, section};

pub struct MailFoundry;

impl Decoder for MailFoundry {
    fn name(&self) -> &'static str {
        "MailFoundry"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        static TRACE: Needle = Needle::new("(MAILFOUNDRY)");
        // The subject first (cheap); the Received trace only for daemon mail.
        static SUBJECT: Needle = Needle::new("message delivery has failed");
        static DAEMON: Needle = Needle::new("mailer-daemon");
        let marked = SUBJECT.is_in(&mail.subject_lower)
            || (DAEMON.is_in(&mail.from_lower)
                && mail.headers.get_all("received").any(|r| TRACE.is_in(r)));
        if !marked {
            return None;
        }
        if !mail
            .text
            .contains("Delivery failed for the following reason:")
        {
            return None;
        }
        let recipient = mail.text.split_lines().take(200).find_map(|l| {
            l.trim()
                .strip_prefix("Unable to deliver message to:")
                .and_then(find_address)
        })?;
        let reason: Vec<&str> = section(&mail.text, "Delivery failed for the following reason:")
            .into_iter()
            .take_while(|l| !l.starts_with("This has been a"))
            .collect();
        let reason = reason.join(" ");
        let (rhost, reply) = split_reply(&reason);
        let mut d = delivery_from_reply(recipient, reply);
        d.rhost = rhost;
        Some(vec![d])
    }
}

/// Splits "Server host[ip] failed with: 550 ..." into the host and the reply.
fn split_reply(text: &str) -> (String, &str) {
    for marker in ["failed with:", "responded with failure:"] {
        if let Some(at) = text.find(marker) {
            let host = text
                .get(..at)
                .unwrap_or("")
                .trim()
                .trim_start_matches("Server ")
                .split('[')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            return (host, text.get(at + marker.len()..).unwrap_or("").trim());
        }
    }
    (String::new(), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_remote_reply() {
        let raw = "From: MAILER-DAEMON@example.org\nTo: a@example.jp\nSubject: Message delivery has failed\n\n\
Unable to deliver message to: <bob@example.org>\nDelivery failed for the following reason:\n\
mx.example.org[192.0.2.1] responded with failure: 552 sorry, mailbox is over quota (#5.2.2)\n\
This has been a permanent failure.  No further delivery attempts will be made.\n";
        let d = &MailFoundry
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.org");
        assert_eq!(d.rhost, "mx.example.org");
        assert_eq!(d.diagnostic, "552 sorry, mailbox is over quota (#5.2.2)");
        assert_eq!(d.status.unwrap().to_string(), "5.2.2");
        let other = raw.replace("Subject: Message delivery has failed", "Subject: hello");
        assert!(
            MailFoundry
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
