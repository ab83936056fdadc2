//! Unknown MTA shape X2 (a qmail derivative used by large webmail
//! services): `Message from DOMAIN.` / `Unable to deliver message to the
//! following address(es).`, then qmail-style `<address>:` paragraphs.

use super::qmail::failed_paragraphs;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{head, text_before};

pub struct X2;

const INTRO: &str = "Unable to deliver message to the following address(es).";

impl Decoder for X2 {
    fn name(&self) -> &'static str {
        "X2"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let top = head(&mail.text, 2048);
        if !top.trim_start().starts_with("Message from ") || !top.contains(INTRO) {
            return None;
        }
        let text = text_before(&mail.text, &["--- Original message follows"]);
        failed_paragraphs(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paragraphs() {
        let raw = "From: MAILER-DAEMON@example.com\nSubject: Delivery failure\n\n\
Message from example.com.\nUnable to deliver message to the following address(es).\n\n\
<a@example.com>:\nThis user doesn't have a example.com account (a@example.com) [0]\n\n\
<b@example.com>:\nResources temporarily unavailable [#4.1.9].\n\n--- Original message follows.\n\nFrom: x@example.org\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = X2.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "a@example.com");
        assert_eq!(found[1].status.unwrap().to_string(), "4.1.9");
        assert!(
            X2.decode(&Mail::parse(b"Subject: x\n\nMessage from a.\n").unwrap())
                .is_none()
        );
    }
}
