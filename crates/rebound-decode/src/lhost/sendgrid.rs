//! SendGrid: "This is an automatically generated message from SendGrid."
//! with one `local:id:<address> : ip : host:[ip] : reply  in COMMAND` line
//! per recipient and a loose delivery-status part (`Action: expired`).

use super::common::deliveries_from_report;
use super::provider_helpers::{MAX_LINES, mentions_within};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{Needle, SplitLines};
use rebound_core::Reason;

pub struct SendGrid;

impl Decoder for SendGrid {
    fn name(&self) -> &'static str {
        "SendGrid"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        // The notice opens with this sentence.
        static OPENING: Needle = Needle::new("automatically generated message from SendGrid");
        if !mentions_within(&mail.text, &OPENING, 1024) {
            return None;
        }
        let lines = recipient_lines(&mail.text);
        let mut found = deliveries_from_report(mail);
        if found.is_empty() {
            found = lines
                .iter()
                .map(|(a, _)| Delivery {
                    recipient: a.clone(),
                    action: "failed".to_string(),
                    ..Delivery::default()
                })
                .collect();
        }
        for d in &mut found {
            if d.action == "expired" {
                d.action = "failed".to_string();
                d.reason = Some(Reason::Expired);
            }
            let Some((_, fields)) = lines
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(&d.recipient))
            else {
                continue;
            };
            // [ip, host:[ip], reply  in COMMAND] or [reply in connect]
            let last = fields.last().map(String::as_str).unwrap_or("");
            let (reply, command) = match last.rsplit_once(" in ") {
                Some((r, c)) => (r.trim(), c.trim()),
                None => (last.trim(), ""),
            };
            d.command = match command.to_ascii_uppercase().as_str() {
                "RCPT TO" | "RCPT" => "RCPT",
                "MAIL FROM" | "MAIL" => "MAIL",
                "DATA" | "END OF DATA" => "DATA",
                _ => "",
            }
            .to_string();
            if d.diagnostic.is_empty() {
                d.diagnostic = reply.to_string();
            }
            if fields.len() >= 3
                && let Some(host) = fields.get(fields.len() - 2)
            {
                d.rhost = host.split(":[").next().unwrap_or("").trim().to_string();
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

/// `local:id:<a@b> : field : field ...` → (address, fields after it).
fn recipient_lines(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for line in text.split_lines().take(MAX_LINES) {
        let mut parts = line.split(" : ");
        let Some(head) = parts.next() else { continue };
        let Some(lt) = head.find(":<") else { continue };
        let a = clean_address(head.get(lt + 1..).unwrap_or(""));
        if looks_like_address(&a) {
            out.push((a, parts.map(|p| p.trim().to_string()).collect()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_lines_and_report() {
        let raw = "From: MAILER-DAEMON@example.jp\nSubject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\n\
This is an automatically generated message from SendGrid.\n\n\
a:000:<a@example.jp> : 192.0.2.1 : mx.example.jp:[192.0.2.2] : 550 5.1.1 <a@example.jp>... unknown  in RCPT TO\n\
b:000:<b@example.org> : Connection timed out in connect\n\
--B\nContent-Type: message/delivery-status\n\n\
Arrival-Date: 2012-10-31 04-46-42\n\n\
Final-Recipient: rfc822; a@example.jp\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: 550 5.1.1 <a@example.jp>... unknown\n\n\
Final-Recipient: rfc822; b@example.org\nAction: expired\nStatus: \nDiagnostic-Code: Connection timed out\n--B--\n";
        let d = SendGrid
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].command, "RCPT");
        assert_eq!(d[0].rhost, "mx.example.jp");
        assert_eq!(d[1].reason, Some(Reason::Expired));
    }
}
