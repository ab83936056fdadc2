//! McAfee SaaS Email Protection, formerly MX Logic (`X-MX-Bounce`,
//! `X-MXL-NoteHash`): an Exim-like notice, "The following address failed:"
//! then `<address>: reply` lines, continued on indented lines.

use super::common::delivery_from_reply;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::section;

pub struct MxLogic;

impl Decoder for MxLogic {
    fn name(&self) -> &'static str {
        "MXLogic"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let marked = mail.headers.contains("x-mx-bounce")
            || mail.headers.contains("x-mxl-notehash")
            || mail.from_lower.contains("mxlogic.net");
        if !marked {
            return None;
        }
        let mut found: Vec<Delivery> = Vec::new();
        let mut replies: Vec<String> = Vec::new();
        for line in section(&mail.text, "address failed:") {
            let t = line.trim();
            if let Some((addr, reply)) = t.split_once(">:").filter(|_| t.starts_with('<')) {
                if let Some(recipient) = find_address(&format!("{addr}>")) {
                    found.push(Delivery {
                        recipient,
                        ..Delivery::default()
                    });
                    replies.push(reply.trim().to_string());
                }
            } else if let Some(r) = replies.last_mut()
                && !t.starts_with("Included is")
                && !t.starts_with("-----")
            {
                r.push(' ');
                r.push_str(t);
            }
        }
        let found: Vec<Delivery> = found
            .into_iter()
            .zip(replies)
            .map(|(d, reply)| delivery_from_reply(d.recipient, &reply))
            .collect();
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_address_and_reply() {
        let raw = "From: Mail Delivery System <MAILER-DAEMON@relay.mxlogic.net>\nTo: a@example.jp\n\
Subject: Mail delivery failed\nX-MX-Bounce: mta/src/queue/bounce\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you have sent could not be delivered to one or more\nrecipients.  This is a permanent error.  The following address failed:\n\n\
  <bob@example.co.jp>: 550 5.1.1 <bob@example.co.jp>: Recipient address rejected: User unknown\n\n\
Included is a copy of the message header:\n";
        let d = &MxLogic
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.co.jp");
        assert_eq!(d.status.unwrap().to_string(), "5.1.1");
        assert!(d.diagnostic.ends_with("User unknown"));
    }
}
