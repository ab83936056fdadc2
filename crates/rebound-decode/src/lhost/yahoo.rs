//! Yahoo's "Failure Notice": a qmail-style list of `<recipient>:` blocks
//! after "Sorry, we were unable to deliver your message to the following
//! address.", the reply often tagged with the failed step (`[RCPT_TO]`).

use super::provider_helpers::{MAX_LINES, has_line_starting, join_lines};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{SplitLines, command_in, text_before};

pub struct Yahoo;

const START: &str = "Sorry, we were unable to deliver your message to the following address";

impl Decoder for Yahoo {
    fn name(&self) -> &'static str {
        "Yahoo"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let yahoo_header = mail.headers.contains("x-ymailisg") || mail.from_lower.contains("yahoo");
        if !yahoo_header || !mail.subject.starts_with("Failure Notice") {
            return None;
        }
        if !has_line_starting(&mail.text, START) {
            return None;
        }
        let body = text_before(
            &mail.text,
            &["--- Below this line is a copy of the message"],
        );
        let mut out: Vec<Delivery> = Vec::new();
        let mut lines: Vec<&str> = Vec::new();
        let mut current: Option<String> = None;
        let mut started = false;
        let flush =
            |current: &mut Option<String>, lines: &mut Vec<&str>, out: &mut Vec<Delivery>| {
                if let Some(recipient) = current.take() {
                    let diagnostic = join_lines(lines.drain(..));
                    let diagnostic = diagnostic
                        .strip_prefix("Remote host said:")
                        .map(str::trim)
                        .unwrap_or(&diagnostic)
                        .to_string();
                    out.push(Delivery {
                        recipient,
                        action: "failed".to_string(),
                        command: command_in(&diagnostic).to_string(),
                        diagnostic,
                        ..Delivery::default()
                    });
                }
                lines.clear();
            };
        for line in body.split_lines().take(MAX_LINES) {
            let t = line.trim();
            if !started {
                started = t.starts_with(START);
                continue;
            }
            if t.starts_with('<') && t.ends_with(">:") {
                let a = clean_address(t);
                if looks_like_address(&a) {
                    flush(&mut current, &mut lines, &mut out);
                    current = Some(a);
                    continue;
                }
            }
            if current.is_some() && !t.is_empty() {
                lines.push(t);
            }
        }
        flush(&mut current, &mut lines, &mut out);
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_and_command_tag() {
        let raw = "From: MAILER-DAEMON@yahoo.com\nTo: s@example.com\nSubject: Failure Notice\n\n\
Sorry, we were unable to deliver your message to the following address.\n\n\
<gone@example.org>:\nRemote host said:\n550 5.1.1 <gone@example.org>... unknown\n [RCPT_TO]\n\n\
--- Below this line is a copy of the message.\n\nTo: gone@example.org\nSubject: x\n\nbody\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let d = Yahoo.decode(&mail).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].recipient, "gone@example.org");
        assert_eq!(
            d[0].diagnostic,
            "550 5.1.1 <gone@example.org>... unknown [RCPT_TO]"
        );
        assert_eq!(d[0].command, "RCPT");
        let other = raw.replace("Failure Notice", "Hello");
        assert!(
            Yahoo
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
