//! GMX and 1&1 (both United Internet): an Exim-like notice whose recipient
//! blocks follow "This is a permanent error", each an address line and the
//! reason lines, up to "--- The header of the original message is
//! following. ---".

use super::provider_helpers::{MAX_LINES, address_line, from_lower, host_after, join_lines};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, command_in, text_before};
use rebound_core::Reason;

pub struct Gmx;
pub struct EinsUndEins;

/// Every United Internet daemon address starts so.
static DAEMON: Needle = Needle::new("mailer-daemon@");
const MARKER: &str = "This message was created automatically by mail delivery software";
const END: &[&str] = &[
    "--- The header of the original message is following",
    "--- Original message",
];

impl Decoder for Gmx {
    fn name(&self) -> &'static str {
        "GMX"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = from_lower(mail);
        if !DAEMON.is_in(from) || !from.contains("gmx") {
            return None;
        }
        decode_united_internet(mail)
    }
}

impl Decoder for EinsUndEins {
    fn name(&self) -> &'static str {
        "EinsUndEins"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = from_lower(mail);
        if !DAEMON.is_in(from)
            || !(from.contains("kundenserver") || from.contains("1and1") || from.contains("1und1"))
        {
            return None;
        }
        decode_united_internet(mail)
    }
}

fn decode_united_internet(mail: &Mail) -> Option<Vec<Delivery>> {
    if !mail.text.contains(MARKER) {
        return None;
    }
    let body = text_before(&mail.text, END);
    let mut out: Vec<Delivery> = Vec::new();
    let mut lines: Vec<Vec<&str>> = Vec::new();
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
        if let Some(a) = address_line(t) {
            out.push(Delivery {
                recipient: a,
                action: "failed".to_string(),
                ..Delivery::default()
            });
            lines.push(Vec::new());
            continue;
        }
        let lower = t.to_ascii_lowercase();
        if lower == "reason:" || lower.ends_with("following reason:") || lower.ends_with("failed:")
        {
            continue;
        }
        if let Some(l) = lines.last_mut() {
            l.push(t);
        }
    }
    for (d, l) in out.iter_mut().zip(lines) {
        d.diagnostic = join_lines(l);
        d.command = command_in(&d.diagnostic).to_string();
        d.rhost = host_after(&d.diagnostic, "host:");
        if d.diagnostic
            .to_ascii_lowercase()
            .contains("retry timeout exceeded")
        {
            d.reason = Some(Reason::Expired);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmx_blocks() {
        let raw = "From: MAILER-DAEMON@mail.gmx.com\nTo: s@example.com\n\
Subject: Mail delivery failed: returning message to sender\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of\n\
its recipients. This is a permanent error. The following address\nfailed:\n\n\
\"a@example.jp\":\nSMTP error from remote server after RCPT command:\nhost: mx.example.jp\n\
5.2.2 <a@example.jp>... Mailbox Full\n\n\
<b@example.jp>\n\nReason:\ndelivery retry timeout exceeded\n\n\
--- The header of the original message is following. ---\n\nSubject: x\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let d = Gmx.decode(&mail).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].recipient, "a@example.jp");
        assert_eq!(d[0].command, "RCPT");
        assert_eq!(d[0].rhost, "mx.example.jp");
        assert!(
            d[0].diagnostic
                .ends_with("5.2.2 <a@example.jp>... Mailbox Full")
        );
        assert_eq!(d[1].recipient, "b@example.jp");
        assert_eq!(d[1].reason, Some(Reason::Expired));
        assert!(EinsUndEins.decode(&mail).is_none());
    }

    #[test]
    fn one_and_one_blocks() {
        let raw = "From: \"Mail Delivery System\" <mailer-daemon@kundenserver.de>\n\
Subject: Mail delivery failed: returning message to sender\n\n\
This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of\n\
its recipients. This is a permanent error.\n\nThe following address failed:\n\n\
c@example.org\n\nFor the following reason:\n\nMail size limit exceeded.\n\n\
--- The header of the original message is following. ---\n";
        let d = EinsUndEins
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "c@example.org");
        assert_eq!(d[0].diagnostic, "Mail size limit exceeded.");
    }
}
