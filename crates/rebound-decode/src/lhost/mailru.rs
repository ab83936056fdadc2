//! Mail.ru: an Exim notice, first in Russian and then in English, listing
//! each failed address indented by two spaces with its reason below it.

use super::provider_helpers::{MAX_LINES, address_line, from_lower, host_after, join_lines};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{SplitLines, command_in, text_before};
use rebound_core::Reason;

pub struct MailRu;

const MARKER: &str = "This message was created automatically by mail delivery software";

impl Decoder for MailRu {
    fn name(&self) -> &'static str {
        "MailRu"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = from_lower(mail);
        if !from.contains("mailer-daemon@") || !from.contains("mail.ru") {
            return None;
        }
        let start = mail.text.find(MARKER)?;
        let body = text_before(
            mail.text.get(start..)?,
            &[
                "------ This is a copy of the message",
                "------ This is a copy of your message",
            ],
        );
        let mut out: Vec<(Delivery, Vec<&str>)> = Vec::new();
        let mut started = false;
        for line in body.split_lines().take(MAX_LINES) {
            let t = line.trim();
            if !started {
                started = t.contains("This is a permanent error");
                continue;
            }
            if t.is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if indent <= 2
                && let Some(a) = address_line(t)
            {
                out.push((
                    Delivery {
                        recipient: a,
                        action: "failed".to_string(),
                        ..Delivery::default()
                    },
                    Vec::new(),
                ));
                continue;
            }
            if indent > 2
                && let Some((_, lines)) = out.last_mut()
            {
                lines.push(t);
            }
        }
        let found: Vec<Delivery> = out
            .into_iter()
            .map(|(mut d, lines)| {
                d.diagnostic = join_lines(lines);
                d.command = command_in(&d.diagnostic).to_string();
                d.rhost = host_after(&d.diagnostic, "host ");
                if d.diagnostic.eq_ignore_ascii_case("retry timeout exceeded") {
                    d.reason = Some(Reason::Expired);
                }
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
    fn reads_the_english_part() {
        let raw = "From: mailer-daemon@corp.mail.ru\nTo: s@mail.example.ru\nSubject: Mail failure.\n\
Content-Type: text/plain; charset=utf-8\n\n\
\u{41a} \u{441}\u{43e}\u{436}\u{430}\u{43b}\u{435}\u{43d}\u{438}\u{44e}:\n\n  a@example.jp\n    text in russian part\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of its\n\
recipients. This is a permanent error. The following address(es) failed:\n\n\
  a@example.jp\n    SMTP error from remote mail server after RCPT TO:<a@example.jp>:\n\
\x20   host mx.example.jp [192.0.2.1]: 550 5.1.1 <a@example.jp>... User Unknown\n\n\
------ This is a copy of the message, including all the headers. ------\n\nSubject: x\n";
        let d = MailRu
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].recipient, "a@example.jp");
        assert_eq!(d[0].command, "RCPT");
        assert_eq!(d[0].rhost, "mx.example.jp");
        assert!(
            d[0].diagnostic
                .ends_with("550 5.1.1 <a@example.jp>... User Unknown")
        );
    }
}
