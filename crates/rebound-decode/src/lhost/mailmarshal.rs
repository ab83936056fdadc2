//! Trustwave MailMarshal SMTP: "Could not be delivered because of" and the
//! reply, "The following recipients were affected:" and the addresses, then
//! an "Additional Information" block with `Remote-MTA:` and friends.

use super::common::delivery_from_reply;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, section, starts_with_ignore_case};

pub struct MailMarshal;

impl Decoder for MailMarshal {
    fn name(&self) -> &'static str {
        "MailMarshalSMTP"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !starts_with_ignore_case(mail.subject.trim(), "Undeliverable Mail: ")
            || !mail.text.contains("Could not be delivered because of")
        {
            return None;
        }
        let reply = section(&mail.text, "Could not be delivered because of")
            .into_iter()
            .take_while(|l| !l.starts_with("The following recipients"))
            .collect::<Vec<_>>()
            .join(" ");
        let info = |name: &str| {
            mail.text
                .split_lines()
                .find_map(|l| {
                    let l = l.trim();
                    starts_with_ignore_case(l, name).then(|| &l[name.len()..])
                })
                .map(|v| v.trim().trim_matches(['<', '>']).to_string())
                .unwrap_or_default()
        };
        let rhost = info("Remote-MTA:");
        let lhost = info("Reporting-MTA:");
        let found: Vec<Delivery> = section(&mail.text, "The following recipients were affected")
            .into_iter()
            .filter_map(find_address)
            .map(|r| {
                let mut d = delivery_from_reply(r, &reply);
                d.rhost = rhost.clone();
                d.lhost = lhost.clone();
                d
            })
            .collect();
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reply_recipients_and_hosts() {
        let raw = "From: postmaster@example.com\nTo: a@example.com\nSubject: Undeliverable Mail: \"hi\"\n\n\
Your message:\n   From:    a@example.com\n\nCould not be delivered because of\n\n550 5.1.1 User unknown\n\n\
The following recipients were affected: \n    bob@example.net\n    eve@example.net\n\n\
Additional Information\n======================\nRemote-MTA:\t\t\t<203.0.113.2>\nReporting-MTA:      <rr1.example.com>\n";
        let found = MailMarshal
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].recipient, "eve@example.net");
        assert_eq!(found[0].diagnostic, "550 5.1.1 User unknown");
        assert_eq!(found[0].rhost, "203.0.113.2");
    }
}
