//! m-FILTER (Digital Arts) notices (`X-Mailer: m-FILTER`): a Japanese
//! preamble, the failed addresses, then `-------server message` with the
//! reply and `-------SMTP command` with the command it answered.

use super::common::delivery_from_reply;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, section};

pub struct MFilter;

impl Decoder for MFilter {
    fn name(&self) -> &'static str {
        "mFILTER"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let marked = mail
            .headers
            .value("x-mailer")
            .trim()
            .eq_ignore_ascii_case("m-FILTER")
            || (mail.subject.trim().eq_ignore_ascii_case("failure notice")
                && mail.text.contains("-------server message")
                && mail.text.contains("-------SMTP command"));
        if !marked {
            return None;
        }
        let head = mail.text.split("-------").next().unwrap_or("");
        let recipients: Vec<String> = head
            .split_lines()
            .map(str::trim)
            .filter(|l| !l.contains(' '))
            .filter_map(find_address)
            .collect();
        let reply = section(&mail.text, "-------server message")
            .into_iter()
            .take_while(|l| !l.starts_with("-------"))
            .collect::<Vec<_>>()
            .join(" ");
        let command = section(&mail.text, "-------SMTP command")
            .first()
            .map(|c| {
                c.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase()
            })
            .unwrap_or_default();
        let found: Vec<Delivery> = recipients
            .into_iter()
            .map(|r| {
                let mut d = delivery_from_reply(r, &reply);
                d.command = command.clone();
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
    fn reads_reply_and_command() {
        let raw = "From: postmaster@example.jp\nTo: a@example.jp\nSubject: failure notice\nX-Mailer: m-FILTER\n\n\
送信に失敗しました。\n\nbob@example.com\n\n-------server message\n550 5.1.1 <bob@example.com>: User unknown\n\n\
-------SMTP command\nDATA\n\n-------original message\nFrom: a@example.jp\n";
        let found = MFilter
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "bob@example.com");
        assert_eq!(
            found[0].diagnostic,
            "550 5.1.1 <bob@example.com>: User unknown"
        );
        assert_eq!(found[0].command, "DATA");
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        let same_shape = raw.replace("X-Mailer: m-FILTER\n", "");
        assert!(
            MFilter
                .decode(&Mail::parse(same_shape.as_bytes()).unwrap())
                .is_some()
        );
        let other = same_shape.replace("-------server message", "server message");
        assert!(
            MFilter
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
