//! The Courier mail server's `NOTICE: mail delivery status.`: a text part
//! (`This is a delivery status notification from HOST, running the Courier
//! mail server`) listing each `<address>:` with the remote host and the SMTP
//! dialogue (`>>> RCPT TO:<...>`, `<<< 550 ...`), and an RFC 3464 report.

use super::common::{MAX_RECIPIENTS, first_status};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{DeliveryStatus, clean_address, find_address, looks_like_address, typed_value};
use crate::mail::Mail;
use crate::text::{
    SplitLines, better_status, command_in, head, join_reply, reply_code_in, status_in,
};

pub struct Courier;

struct Entry {
    recipient: String,
    rhost: String,
    command: String,
    reply: Vec<String>,
}

impl Decoder for Courier {
    fn name(&self) -> &'static str {
        "Courier"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let top = head(&mail.text, 1024);
        if !top.contains("running the Courier mail server") {
            return None;
        }
        let delayed = top.contains("DELAYED MAIL") || mail.subject.contains("delay");
        let mut entries: Vec<Entry> = Vec::new();
        let mut inside = false;
        for line in mail.text.split_lines() {
            let t = line.trim();
            if t.starts_with("Your message to the following recipients") {
                inside = true;
                continue;
            }
            if !inside {
                continue;
            }
            if t.starts_with("-----") {
                if !entries.is_empty() {
                    break;
                }
                continue;
            }
            if t.starts_with('<') && t.ends_with(">:") && !line.starts_with(' ') {
                if let Some(a) = find_address(t) {
                    entries.push(Entry {
                        recipient: a,
                        rhost: String::new(),
                        command: String::new(),
                        reply: Vec::new(),
                    });
                }
                continue;
            }
            let Some(e) = entries.last_mut() else {
                continue;
            };
            if let Some(cmd) = t.strip_prefix(">>> ") {
                e.command = command_in(&format!(">>> {cmd}")).to_string();
                e.reply.clear();
            } else if let Some(reply) = t.strip_prefix("<<< ") {
                e.reply.push(reply.to_string());
            } else if t.ends_with("]:") && e.rhost.is_empty() {
                e.rhost = t.split_whitespace().next().unwrap_or("").to_string();
            }
        }
        let ds = mail
            .report("delivery-status")
            .map(DeliveryStatus::parse)
            .unwrap_or_default();
        let lhost = typed_value(ds.message.value("reporting-mta")).1.to_string();
        let mut out = Vec::new();
        let by_address: std::collections::HashMap<String, usize> = ds
            .recipients
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (
                    clean_address(b.value("final-recipient")).to_ascii_lowercase(),
                    i,
                )
            })
            .rev()
            .collect();
        for (i, e) in entries.iter().enumerate().take(MAX_RECIPIENTS) {
            let block = by_address
                .get(&e.recipient.to_ascii_lowercase())
                .and_then(|&j| ds.recipients.get(j))
                .or_else(|| ds.recipients.get(i));
            let reply = join_reply(e.reply.iter().map(String::as_str));
            let diagnostic = if reply.is_empty() {
                block
                    .map(|b| typed_value(b.value("diagnostic-code")).1.to_string())
                    .unwrap_or_default()
            } else {
                reply
            };
            let action = block
                .map(|b| b.value("action").trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| if delayed { "delayed" } else { "failed" }.to_string());
            out.push(Delivery {
                recipient: e.recipient.clone(),
                action,
                status: better_status(
                    block.and_then(|b| first_status(b.value("status"))),
                    status_in(&diagnostic),
                ),
                replycode: reply_code_in(&diagnostic),
                command: e.command.clone(),
                diagnostictype: "SMTP".into(),
                rhost: e.rhost.clone(),
                lhost: lhost.clone(),
                diagnostic,
                ..Delivery::default()
            });
        }
        if out.is_empty() {
            // Only the report is readable.
            for b in &ds.recipients {
                let r = clean_address(b.value("final-recipient"));
                if !looks_like_address(&r) {
                    continue;
                }
                let diagnostic = typed_value(b.value("diagnostic-code")).1.to_string();
                out.push(Delivery {
                    recipient: r,
                    action: b.value("action").trim().to_ascii_lowercase(),
                    status: first_status(b.value("status")),
                    replycode: reply_code_in(&diagnostic),
                    diagnostic,
                    lhost: lhost.clone(),
                    ..Delivery::default()
                });
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dialogue() {
        let raw = "From: postmaster@courier.example.org\nSubject: NOTICE: mail delivery status.\n\n\
This is a delivery status notification from courier.example.org,\n\
running the Courier mail server, version 1.0.\n\n\
Your message to the following recipients cannot be delivered:\n\n\
<a@example.net>:\n    mx.example.net [192.0.2.1]:\n>>> RCPT TO:<a@example.net>\n\
<<< 550 5.1.1 <a@example.net>... User Unknown\n\n-----------------------------\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Courier.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].rhost, "mx.example.net");
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert!(
            Courier
                .decode(&Mail::parse(b"Subject: x\n\nhello\n").unwrap())
                .is_none()
        );
    }
}
