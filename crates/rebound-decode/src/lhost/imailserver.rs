//! Ipswitch IMail Server (`X-Mailer: <SMTP32 v...>`): `Undeliverable Mail`
//! with one `explanation: address` line per recipient, or `undeliverable
//! to address` followed by the remote server's reply under `Body of
//! message generated response:`.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::{find_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{SplitLines, join_reply, reply_code_in, status_in, text_before};
use rebound_core::Reason;

pub struct IMailServer;

impl Decoder for IMailServer {
    fn name(&self) -> &'static str {
        "IMailServer"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.headers.value("x-mailer").starts_with("<SMTP32 v") {
            return None;
        }
        if !mail.subject_lower.contains("undeliverable mail") {
            return None;
        }
        let text = text_before(&mail.text, &["Original message follows"]);
        let lines: Vec<&str> = text.split_lines().map(str::trim).collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let t = lines[i];
            i += 1;
            if let Some(rest) = t.strip_prefix("undeliverable to ") {
                let Some(recipient) = find_address(rest) else {
                    continue;
                };
                // The reply follows `Body of message generated response:`.
                let mut reply: Vec<&str> = Vec::new();
                let mut label = "";
                while i < lines.len() && !lines[i].starts_with("undeliverable to ") {
                    let l = lines[i];
                    i += 1;
                    if l.is_empty() {
                        if !reply.is_empty() {
                            break;
                        }
                        continue;
                    }
                    if l.ends_with("generated response:") {
                        label = l;
                        continue;
                    }
                    reply.push(l);
                }
                let joined = join_reply(reply.iter().copied());
                let diagnostic = format!("{label} {joined}").trim().to_string();
                out.push(Delivery {
                    recipient,
                    action: "failed".into(),
                    status: status_in(&joined),
                    replycode: reply_code_in(&joined),
                    diagnostictype: "SMTP".into(),
                    diagnostic,
                    ..Delivery::default()
                });
                continue;
            }
            let Some((what, who)) = t.rsplit_once(": ") else {
                continue;
            };
            let who = who.trim();
            // `Explanation: address`; header lines (`To: ...`) are one word.
            if !looks_like_address(who) || !what.contains(' ') || what.contains('<') {
                continue;
            }
            let expired = what.starts_with("Delivery failed") && what.contains("attempts");
            out.push(Delivery {
                recipient: who.to_string(),
                action: "failed".into(),
                diagnostic: t.to_string(),
                // IMail checked the address itself when it took the
                // message for local delivery: the recipient stage.
                command: if expired {
                    String::new()
                } else {
                    "RCPT".into()
                },
                reason: expired.then_some(Reason::Expired),
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
    fn reads_explanation_lines() {
        let raw = "From: \"Postmaster\" <postmaster@imail.example.org>\nSubject: Undeliverable Mail\n\
X-Mailer: <SMTP32 v8.22>\n\nUnknown user: a@example.net\n\nDelivery failed 20 attempts: b@example.com\n\n\
Original message follows.\n\nFrom: s@example.org\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = IMailServer.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].diagnostic, "Unknown user: a@example.net");
        assert_eq!(found[1].reason, Some(Reason::Expired));
        assert!(
            IMailServer
                .decode(&Mail::parse(b"Subject: Undeliverable Mail\n\nx\n").unwrap())
                .is_none()
        );
    }
}
