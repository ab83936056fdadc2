//! Apache James: `Error message below:` followed by the reply, and a
//! `Message details:` block whose `RCPT TO:` names the recipient.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, head, join_reply, reply_code_in, status_in};

pub struct ApacheJames;

impl Decoder for ApacheJames {
    fn name(&self) -> &'static str {
        "ApacheJames"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let top = head(&mail.text, 2048);
        if !top.contains("Error message below:") || !top.contains("Message details:") {
            return None;
        }
        let mut reply: Vec<&str> = Vec::new();
        let mut in_error = false;
        let mut recipients: Vec<String> = Vec::new();
        for line in mail.text.split_lines() {
            let t = line.trim();
            if t == "Error message below:" {
                in_error = true;
                continue;
            }
            if t == "Message details:" {
                in_error = false;
                continue;
            }
            if in_error && !t.is_empty() {
                reply.push(t);
            }
            if let Some(rest) = t.strip_prefix("RCPT TO:") {
                recipients.extend(rest.split([',', ' ']).filter_map(find_address));
            }
        }
        let joined = join_reply(reply);
        let out: Vec<Delivery> = recipients
            .into_iter()
            .map(|recipient| Delivery {
                recipient,
                action: "failed".into(),
                status: status_in(&joined),
                replycode: reply_code_in(&joined),
                diagnostic: joined.clone(),
                diagnostictype: "SMTP".into(),
                ..Delivery::default()
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_and_details() {
        let raw = "From: postmaster@james.example.org\nSubject: Re: hi\n\n\
Error: Invalid user address\n\nError message below:\n550 - Requested action not taken: no such user here\n\n\
Message details:\n  Subject: hi\n  MAIL FROM: s@example.org\n  RCPT TO: a@example.net\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = ApacheJames.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert!(
            ApacheJames
                .decode(&Mail::parse(b"Subject: x\n\nhello\n").unwrap())
                .is_none()
        );
    }
}
