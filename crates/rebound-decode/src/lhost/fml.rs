//! fml, the mailing-list manager (`X-MLServer: fml ...`): notices to a
//! poster that the list refused the message (not a member, a looping
//! Message-ID), naming the list address in the first paragraph.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::SplitLines;

pub struct Fml;

impl Decoder for Fml {
    fn name(&self) -> &'static str {
        "FML"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.headers.value("x-mlserver").starts_with("fml") {
            return None;
        }
        // The first paragraph holds the refusal and the list's address.
        let paragraph: Vec<&str> = mail
            .text
            .split_lines()
            .map(str::trim)
            .skip_while(|l| l.is_empty())
            .take_while(|l| !l.is_empty())
            .collect();
        let first = paragraph.join(" ");
        let recipient = paragraph.iter().find_map(|l| {
            let (start, end) = (l.find('<')?, l.find('>')?);
            (start < end).then(|| find_address(l)).flatten()
        })?;
        Some(vec![Delivery {
            recipient,
            action: "failed".into(),
            diagnostic: first,
            ..Delivery::default()
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_refusal() {
        let raw = "From: list-admin@example.org\nSubject: You are not member (list ML)\n\
X-MLServer: fml [fml 4.0.3 release]\n\n\
You are not a member of this mailing list <list@example.org>.\nPlease subscribe first.\n\nmore\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Fml.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "list@example.org");
        assert!(found[0].diagnostic.starts_with("You are not a member"));
        assert!(
            Fml.decode(&Mail::parse(b"Subject: x\n\nhello <a@b.example>\n").unwrap())
                .is_none()
        );
    }
}
