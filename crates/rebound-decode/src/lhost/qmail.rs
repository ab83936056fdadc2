//! qmail's `failure notice`: `Hi. This is the qmail-send program at ...`,
//! then one paragraph per recipient starting with `<address>:` and holding
//! qmail's explanation, the remote server's reply (`Remote host said: ...`)
//! and often qmail's own status as `(#5.1.1)`.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{
    Needle, SplitLines, command_in, head, join_reply, reply_code_in, status_in, text_before,
};

pub struct Qmail;

const CUT: &[&str] = &[
    "--- Below this line is a copy of the message",
    "--- Enclosed are the original headers",
    "--- Enclosed is a copy of the message",
];

static INTRO: [Needle; 2] = [
    Needle::new("This is the qmail-send program at"),
    Needle::new("I wasn't able to deliver your message to the following addresses"),
];

/// qmail's explanations and the command each one implies.
const PHRASES: &[(&str, &str)] = &[
    ("does not like recipient", "RCPT"),
    ("but sender was rejected", "MAIL"),
    ("but my name was rejected", "EHLO"),
    ("failed after I sent the message", "DATA"),
    ("failed on DATA command", "DATA"),
    ("most progress was RCPT TO response", "RCPT"),
    ("most progress was MAIL FROM response", "MAIL"),
];

impl Decoder for Qmail {
    fn name(&self) -> &'static str {
        "qmail"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let top = head(&mail.text, 1024);
        // The subject ("failure notice") alone is not enough: qmail's own
        // opening sentence must be there.
        if !INTRO.iter().any(|m| m.is_in(top)) {
            return None;
        }
        let text = text_before(&mail.text, CUT);
        let lhost = top
            .split_once("qmail-send program at ")
            .map(|(_, r)| {
                r.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches('.')
            })
            .unwrap_or("")
            .to_string();

        let out: Vec<Delivery> = paragraphs(text)
            .into_iter()
            .map(|(r, lines)| delivery(r, &lines, &lhost))
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

/// One failed delivery per `<address>:` paragraph, the paragraph's lines
/// being the reply: the shape of qmail-like notices from unknown MTAs.
pub(crate) fn failed_paragraphs(text: &str) -> Option<Vec<Delivery>> {
    let out: Vec<Delivery> = paragraphs(text)
        .into_iter()
        .map(|(recipient, lines)| {
            let diagnostic = join_reply(lines.iter().copied());
            Delivery {
                recipient,
                action: "failed".into(),
                status: own_status(&diagnostic).or_else(|| status_in(&diagnostic)),
                replycode: reply_code_in(&diagnostic),
                diagnostic,
                ..Delivery::default()
            }
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// The `<address>:` paragraphs of a qmail-style notice, each with its
/// non-blank lines.
pub(crate) fn paragraphs(text: &str) -> Vec<(String, Vec<&str>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in text.split_lines() {
        let t = line.trim();
        if t.starts_with('<') && t.ends_with(':') && t.contains('@') && !t.contains(' ') {
            if let Some(c) = current.take() {
                out.push(c);
            }
            current = find_address(t).map(|a| (a, Vec::new()));
            continue;
        }
        if let Some((_, lines)) = current.as_mut()
            && !t.is_empty()
        {
            lines.push(t);
        }
    }
    if let Some(c) = current.take() {
        out.push(c);
    }
    out
}

/// qmail's own status, written `(#5.1.1)` or `[#4.1.9]`.
pub(crate) fn own_status(text: &str) -> Option<rebound_core::EnhancedStatus> {
    let pos = text.find("(#").or_else(|| text.find("[#"))?;
    let rest = text.get(pos + 2..)?;
    let end = rest.find([')', ']'])?;
    rest.get(..end)?.parse().ok()
}

fn delivery(recipient: String, lines: &[&str], lhost: &str) -> Delivery {
    // The paragraph ends with qmail's retry notice, which is no diagnostic.
    let body: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("I'm not going to try again"))
        .collect();
    let mut pieces: Vec<&str> = Vec::with_capacity(body.len() + 1);
    for l in &body {
        match l.strip_prefix("Remote host said: ") {
            Some(rest) => {
                pieces.push("Remote host said:");
                pieces.push(rest);
            }
            None => pieces.push(l),
        }
    }
    let mut diagnostic = join_reply(pieces);
    // Remove a wrapped retry notice glued to the previous sentence.
    if let Some(pos) = diagnostic.find("I'm not going to try again") {
        diagnostic.truncate(pos);
        diagnostic = diagnostic.trim().to_string();
    }
    let command = PHRASES
        .iter()
        .find(|(p, _)| diagnostic.contains(p))
        .map(|(_, c)| c.to_string())
        .unwrap_or_else(|| command_in(&diagnostic).to_string());
    let own_status = own_status(&diagnostic);
    let reply_part = diagnostic
        .find(" said:")
        .and_then(|p| diagnostic.get(p + 6..))
        .unwrap_or(&diagnostic);
    let rhost = rhost_of(&diagnostic);
    Delivery {
        recipient,
        action: "failed".into(),
        status: own_status.or_else(|| status_in(reply_part)),
        replycode: reply_code_in(reply_part),
        command,
        diagnostictype: "SMTP".into(),
        rhost,
        lhost: lhost.to_string(),
        diagnostic,
        ..Delivery::default()
    }
}

/// The remote host qmail names: `Connected to HOST but`, `HOST does not
/// like recipient`, `HOST failed after`, `remote host HOST said`.
fn rhost_of(text: &str) -> String {
    let candidates = [
        text.split_once("Connected to ").map(|(_, r)| r),
        text.split_once("remote host ").map(|(_, r)| r),
    ];
    for rest in candidates.into_iter().flatten() {
        if let Some(w) = rest.split_whitespace().next() {
            return w.trim_end_matches([':', '.', ',']).to_string();
        }
    }
    for key in [
        " does not like recipient",
        " failed after I sent",
        " failed on DATA",
    ] {
        if let Some((before, _)) = text.split_once(key)
            && let Some(w) = before.split_whitespace().last()
        {
            return w.to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_paragraph() {
        let raw = "From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\n\
Hi. This is the qmail-send program at mx.example.org.\n\
I'm afraid I wasn't able to deliver your message to the following addresses.\n\
This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
<a@example.net>:\n192.0.2.1 does not like recipient.\n\
Remote host said: 550 5.1.1 <a@example.net>: no such user\nGiving up on 192.0.2.1.\n\n\
<b@example.com>:\nSorry, I couldn't find any host named example.com. (#5.1.2)\n\n\
--- Below this line is a copy of the message.\n\nFrom: s@example.org\n\nhi\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Qmail.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].rhost, "192.0.2.1");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert_eq!(found[1].status.unwrap().to_string(), "5.1.2");
        assert!(found[1].replycode.is_none());
        assert_eq!(found[0].lhost, "mx.example.org");
    }

    #[test]
    fn foreign_messages_are_rejected() {
        let mail = Mail::parse(b"From: a@example.org\nSubject: failure notice\n\nhello\n").unwrap();
        assert!(Qmail.decode(&mail).is_none());
    }
}
