//! Unknown MTA shape X6: `There was an error sending your mail` with `We
//! had trouble delivering your message. Full details follow:` and one
//! sentence per error (`SMTP Server <host> rejected recipient <address>
//! (Error following RCPT command). It responded as follows: [550 ...]`,
//! `The following recipients returned permanent errors: address. Reason:
//! ...`).

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, command_in, head, reply_code_in, status_in};

pub struct X6;

const INTRO: &str = "We had trouble delivering your message. Full details follow:";

impl Decoder for X6 {
    fn name(&self) -> &'static str {
        "X6"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail
            .subject
            .starts_with("There was an error sending your mail")
            || !head(&mail.text, 2048).contains(INTRO)
        {
            return None;
        }
        let mut out = Vec::new();
        for line in mail.text.split_lines() {
            let t = line.trim();
            let recipient = if let Some(rest) =
                t.strip_prefix("The following recipients returned permanent errors: ")
            {
                rest.split(". Reason:").next().and_then(find_address)
            } else if t.starts_with("SMTP Server <") && t.contains(" rejected recipient ") {
                t.split(" rejected recipient ")
                    .nth(1)
                    .and_then(find_address)
            } else {
                None
            };
            let Some(recipient) = recipient else { continue };
            let rhost = t
                .split_once("SMTP Server <")
                .and_then(|(_, r)| r.split('>').next())
                .unwrap_or("")
                .to_string();
            // `(DATA)` or `(Error following RCPT command)`.
            let command = t
                .find('(')
                .and_then(|p| t.get(p + 1..))
                .and_then(|r| r.split(')').next())
                .map(|c| {
                    let c = c
                        .trim_start_matches("Error following ")
                        .trim_end_matches(" command");
                    command_in(&format!(">>> {c}"))
                })
                .unwrap_or("");
            let reply = t
                .rfind('[')
                .and_then(|p| t.get(p + 1..))
                .and_then(|r| r.split(']').next())
                .unwrap_or(t);
            out.push(Delivery {
                recipient,
                action: "failed".into(),
                status: status_in(reply).or_else(|| status_in(t)),
                replycode: reply_code_in(reply).or_else(|| reply_code_in(t)),
                command: command.to_string(),
                rhost,
                diagnostic: t.to_string(),
                diagnostictype: "SMTP".into(),
                ..Delivery::default()
            });
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_sentences() {
        let raw = "From: mailer-daemon\nSubject: There was an error sending your mail\n\n\
We had trouble delivering your message. Full details follow:\n\n1 error(s):\n\n\
SMTP Server <mx.example.net> rejected recipient <a@example.net> (Error following RCPT command). \
It responded as follows: [550 5.1.1 User unknown]\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = X6.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].rhost, "mx.example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert!(
            X6.decode(&Mail::parse(b"Subject: x\n\nhi\n").unwrap())
                .is_none()
        );
    }
}
