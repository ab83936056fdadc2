//! Unknown MTA shape X4 (a qmail derivative): `failure notice` with `Your
//! mail message to the following address(es) could not be delivered.` and
//! qmail-style `<address>:` paragraphs.

use super::qmail::failed_paragraphs;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{head, text_before};

pub struct X4;

const INTRO: &str = "Your mail message to the following address(es) could not be delivered.";

impl Decoder for X4 {
    fn name(&self) -> &'static str {
        "X4"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.subject.eq_ignore_ascii_case("failure notice")
            || !head(&mail.text, 2048).contains(INTRO)
        {
            return None;
        }
        let text = text_before(
            &mail.text,
            &["--- Below this line is a copy of the message"],
        );
        failed_paragraphs(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paragraphs() {
        let raw = "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n\n\
Your mail message to the following address(es) could not be delivered. This\nis a permanent error.\n\n\
<a@example.com>:\nchild status 100...The user's mailfolder is full.\n\n\
--- Below this line is a copy of the message.\n\nTo: a@example.com\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = X4.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.com");
        assert!(found[0].diagnostic.contains("mailfolder is full"));
        assert!(
            X4.decode(&Mail::parse(b"Subject: failure notice\n\nhi\n").unwrap())
                .is_none()
        );
    }
}
