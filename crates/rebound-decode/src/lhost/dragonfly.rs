//! The DragonFly Mail Agent (dma): `This is the DragonFly Mail Agent ...`,
//! `There was an error delivering your mail to <address>.`, then the
//! remote reply (`host [ip] did not like our RCPT TO:` and the reply lines)
//! or dma's own error, then `Message headers follow.`

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{
    SplitLines, command_in, head, join_reply, reply_code_in, status_in, text_before,
};
use rebound_core::Reason;

pub struct DragonFly;

const INTRO: &str = "This is the DragonFly Mail Agent";
const RECIPIENT: &str = "There was an error delivering your mail to ";

impl Decoder for DragonFly {
    fn name(&self) -> &'static str {
        "DragonFly"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let top = head(&mail.text, 512);
        if !top.contains(INTRO) {
            return None;
        }
        let text = text_before(
            &mail.text,
            &["Message headers follow", "Original message follows"],
        );
        let lhost = top
            .split_once(" at ")
            .map(|(_, r)| {
                r.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('.')
            })
            .unwrap_or("")
            .to_string();
        let mut out = Vec::new();
        let mut current: Option<(String, Vec<&str>)> = None;
        for line in text.split_lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix(RECIPIENT) {
                if let Some((r, lines)) = current.take() {
                    out.push(delivery(r, &lines, &lhost));
                }
                current = find_address(rest).map(|a| (a, Vec::new()));
                continue;
            }
            if let Some((_, lines)) = current.as_mut()
                && !t.is_empty()
            {
                lines.push(t);
            }
        }
        if let Some((r, lines)) = current.take() {
            out.push(delivery(r, &lines, &lhost));
        }
        if out.is_empty() {
            // No recipient line: the returned headers name the recipient.
            let to = mail
                .original_headers()
                .get("to")
                .or_else(|| mail.headers.get("x-original-to"));
            if let Some(addr) = to.and_then(find_address) {
                let lines: Vec<&str> = text
                    .split_lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .skip(1)
                    .collect();
                out.push(delivery(addr, &lines, &lhost));
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

fn delivery(recipient: String, lines: &[&str], lhost: &str) -> Delivery {
    // `host [ip] did not like our RCPT TO:` introduces the reply.
    let (intro, reply): (Vec<&str>, Vec<&str>) =
        match lines.iter().position(|l| l.contains("did not like our")) {
            Some(p) => (lines[..=p].to_vec(), lines[p + 1..].to_vec()),
            None => (Vec::new(), lines.to_vec()),
        };
    let intro_text = intro.join(" ");
    let reply_text = join_reply(reply.iter().copied());
    let diagnostic = if intro_text.is_empty() {
        reply_text.clone()
    } else {
        format!("{intro_text} {reply_text}").trim().to_string()
    };
    let rhost = intro_text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let reason = (reply_text.starts_with("Could not deliver for the last")
        && reply_text.contains("Giving up"))
    .then_some(Reason::Expired);
    Delivery {
        recipient,
        // Giving up is final: the message failed, because it expired.
        action: "failed".into(),
        status: status_in(&reply_text),
        replycode: reply_code_in(&reply_text),
        command: command_in(&intro_text).to_string(),
        diagnostictype: "SMTP".into(),
        rhost,
        lhost: lhost.to_string(),
        diagnostic,
        reason,
        ..Delivery::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reply() {
        let raw = "From: MAILER-DAEMON <>\nSubject: Mail delivery failed\n\n\
This is the DragonFly Mail Agent v0.13 at dma.example.org.\n\n\
There was an error delivering your mail to <a@example.net>.\n\n\
mx.example.net [192.0.2.5] did not like our RCPT TO:\n\
550 5.1.1 <a@example.net>: Recipient address rejected: User unknown\n\n\
Message headers follow.\n\nTo: <a@example.net>\nFrom: <s@example.org>\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = DragonFly.decode(&mail).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].rhost, "mx.example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert_eq!(found[0].lhost, "dma.example.org");
    }

    #[test]
    fn giving_up_is_expiry() {
        let raw = "From: MAILER-DAEMON <>\nSubject: Mail delivery failed\n\n\
This is the DragonFly Mail Agent v0.13 at dma.example.org.\n\n\
There was an error delivering your mail to <a@example.net>.\n\n\
Could not deliver for the last 432000 seconds. Giving up.\n\nMessage headers follow.\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = DragonFly.decode(&mail).unwrap();
        assert_eq!(found[0].reason, Some(Reason::Expired));
        assert!(
            DragonFly
                .decode(&Mail::parse(b"Subject: x\n\nhello\n").unwrap())
                .is_none()
        );
    }
}
