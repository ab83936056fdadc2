//! Trend Micro InterScan Messaging Security Suite notices: either the SMTP
//! dialogue (`Sent <<< RCPT TO:<...>` / `Received >>> 550 ...`) or a line
//! "Unable to deliver message to <address> ...".

use super::common::delivery_from_reply;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, command_in, squash};
use rebound_core::Reason;

pub struct InterScanMss;

impl Decoder for InterScanMss {
    fn name(&self) -> &'static str {
        "InterScanMSS"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let marked =
            mail.content_type.contains("interscan") || mail.from_lower.contains("interscan");
        if !marked {
            return None;
        }
        let mut found: Vec<Delivery> = Vec::new();
        let mut pending: Option<(String, &'static str)> = None;
        for line in mail.text.split_lines().take(500) {
            let t = line.trim();
            if let Some(sent) = t.strip_prefix("Sent <<<") {
                let command =
                    Some(command_in(&format!(">>> {}", sent.trim()))).filter(|c| !c.is_empty());
                let address = find_address(sent);
                if let (Some(a), Some(c)) = (address, command) {
                    pending = Some((a, c));
                }
            } else if let Some(reply) = t.strip_prefix("Received >>>") {
                if let Some((address, command)) = pending.take() {
                    let mut d = delivery_from_reply(address, reply);
                    d.command = command.to_string();
                    found.push(d);
                }
            } else if let Some(at) = t.find("Unable to deliver message to") {
                let rest = t.get(at..).unwrap_or("");
                if let Some(address) = find_address(rest) {
                    let mut d = delivery_from_reply(address, "");
                    d.diagnostic = squash(t);
                    d.reason = Some(Reason::OnHold);
                    found.push(d);
                }
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "From: \"InterScan MSS\" <postmaster@example.jp>\nTo: a@example.jp\nSubject: x\n\n";

    #[test]
    fn dialogue_and_summary_shapes() {
        let raw = format!(
            "{HEAD}...\nSent <<< RCPT TO:<bob@example.jp>\nReceived >>> 550 5.1.1 <bob@example.jp>... user unknown\n"
        );
        let d = &InterScanMss
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.jp");
        assert_eq!(d.command, "RCPT");
        assert_eq!(d.replycode.unwrap().get(), 550);
        let raw = format!(
            "{HEAD}Reason:  Unable to deliver message to <bob@example.jp> (and other recipients).\n"
        );
        let d = &InterScanMss
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.jp");
        assert!(d.diagnostic.starts_with("Reason: Unable to deliver"));
        let plain = "From: a@example.jp\nTo: b@example.jp\nSubject: x\n\nUnable to deliver message to <c@example.jp>\n";
        assert!(
            InterScanMss
                .decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
