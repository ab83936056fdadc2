//! Oracle (Sun ONE, iPlanet, PMDF) Messaging Server's `Delivery
//! Notification`: `This report relates to a message you sent with the
//! following header fields:`, then per recipient `Recipient address:`,
//! `Original address:`, `Reason:`, `Diagnostic code:` and `Remote system:`
//! lines, then an RFC 3464 report (sometimes inline in the same text).

use crate::delivery::{Decoder, Delivery};
use crate::dsn::{
    DeliveryStatus, find_address, is_internal_route, looks_like_address, typed_value,
};
use crate::mail::Mail;
use crate::text::{
    SplitLines, better_status, find_ignore_case, head, reply_code_in, status_in, unfold_reply,
};

pub struct MessagingServer;

const INTRO: &str = "This report relates to a message you sent with the following header fields";

#[derive(Default)]
struct Entry {
    recipient: String,
    original: String,
    reason: String,
    diagnostic: String,
    remote: String,
}

impl Decoder for MessagingServer {
    fn name(&self) -> &'static str {
        "MessagingServer"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.subject.starts_with("Delivery Notification: ") {
            return None;
        }
        if !head(&mail.text, 4096).contains(INTRO) {
            return None;
        }
        let delayed = mail.subject.contains("delayed");
        let mut entries: Vec<Entry> = Vec::new();
        for line in mail.text.split_lines() {
            let t = line.trim();
            let Some((name, value)) = t.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name {
                "Recipient address" => entries.push(Entry {
                    recipient: value.to_string(),
                    ..Entry::default()
                }),
                "Original address" => {
                    if let Some(e) = entries.last_mut() {
                        e.original = value.to_string();
                    }
                }
                "Reason" => {
                    if let Some(e) = entries.last_mut() {
                        e.reason = value.to_string();
                    }
                }
                "Diagnostic code" => {
                    if let Some(e) = entries.last_mut() {
                        e.diagnostic = typed_value(value).1.to_string();
                    }
                }
                "Remote system" => {
                    if let Some(e) = entries.last_mut() {
                        e.remote = typed_value(value)
                            .1
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string();
                    }
                }
                _ => {}
            }
        }
        // The report: its own part, or the same text.
        let ds = match mail.report("delivery-status") {
            Some(r) => DeliveryStatus::parse(r),
            None => match find_ignore_case(&mail.text, "Reporting-MTA:")
                .or_else(|| find_ignore_case(&mail.text, "Original-envelope-id:"))
            {
                Some(p) => DeliveryStatus::parse(mail.text.get(p..).unwrap_or("")),
                None => DeliveryStatus::default(),
            },
        };
        let lhost = typed_value(ds.message.value("reporting-mta"))
            .1
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            // A source-routed address (`@relay:user@host`) or one at the
            // message store's internal channel (`user@ims-ms-daemon`) is
            // the internal form; the original address is the one the
            // sender wrote.
            let internal = e.recipient.starts_with('@')
                || !looks_like_address(&e.recipient)
                || find_address(&e.recipient).is_some_and(|a| is_internal_route(&a));
            let original = find_address(&e.original).filter(|a| !is_internal_route(a));
            let recipient = if internal && original.is_some() {
                original
            } else {
                find_address(&e.recipient).or(original)
            };
            let Some(recipient) = recipient else { continue };
            let block = ds.recipients.get(i);
            let report_status = block.and_then(|b| super::common::first_status(b.value("status")));
            let diagnostic = if e.diagnostic.is_empty() {
                e.reason.clone()
            } else {
                unfold_reply(&e.diagnostic)
            };
            let action = block
                .map(|b| b.value("action").trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| if delayed { "delayed" } else { "failed" }.to_string());
            out.push(Delivery {
                recipient,
                action,
                status: better_status(report_status, status_in(&diagnostic)),
                replycode: reply_code_in(&diagnostic),
                diagnostic,
                diagnostictype: "SMTP".into(),
                rhost: e.remote.clone(),
                lhost: lhost.clone(),
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
    fn reads_recipient_sections() {
        let raw = "From: postmaster@ms.example.org\n\
Subject: Delivery Notification: Delivery has failed\n\n\
This report relates to a message you sent with the following header fields:\n\n\
  Message-id: <1@example.org>\n\n\
Your message cannot be delivered to the following recipients:\n\n\
  Recipient address: @relay.example.net:user@internal\n\
  Original address: user@example.net\n\
  Reason: Remote SMTP server has rejected address\n\
  Diagnostic code: smtp;550 5.1.1 unknown user\n\
  Remote system: dns;mx.example.net (TCP|192.0.2.1|25)\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = MessagingServer.decode(&mail).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "user@example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert_eq!(found[0].rhost, "mx.example.net");
        assert!(
            MessagingServer
                .decode(&Mail::parse(b"Subject: hi\n\nx\n").unwrap())
                .is_none()
        );
    }
}
