//! Active!hunter (`X-AHMAILID` header): Sendmail-like sections, the
//! addresses after "The following addresses had permanent fatal errors"
//! (`>>> user@dom <user@dom>`) and the reply in the session transcript.

use super::common::delivery_from_reply;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::section;

pub struct ActiveHunter;

impl Decoder for ActiveHunter {
    fn name(&self) -> &'static str {
        "Activehunter"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.headers.contains("x-ahmailid") {
            return None;
        }
        let reply = section(&mail.text, "Transcript of session follows")
            .into_iter()
            .take_while(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join(" ");
        let found: Vec<Delivery> = section(
            &mail.text,
            "The following addresses had permanent fatal errors",
        )
        .into_iter()
        .take_while(|l| !l.starts_with("-----"))
        .filter_map(|l| find_address(l.trim_start_matches('>')))
        .map(|r| delivery_from_reply(r, &reply))
        .collect();
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_transcript() {
        let raw = "From: MAILER-DAEMON@example.org\nTo: a@example.jp\nSubject: FAILURE NOTICE : hi\nX-AHMAILID: 1\n\n\
  ----- The following addresses had permanent fatal errors -----\n>>> bob@example.org <bob@example.org>\n\n\
  ----- Transcript of session follows -----\n550 sorry, no mailbox here by that name (#5.1.1 - chkusr)\n";
        let d = &ActiveHunter
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.org");
        assert_eq!(d.status.unwrap().to_string(), "5.1.1");
        assert_eq!(d.replycode.unwrap().get(), 550);
    }
}
