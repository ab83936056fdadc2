//! KDDI's au one net mail (`no-reply@...dion.ne.jp`): "Your mail sent on:",
//! "Could not be delivered to: <address>", then the cause in English.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, contains_ignore_case, squash, starts_with_ignore_case};
use rebound_core::Reason;

pub struct Kddi;

impl Decoder for Kddi {
    fn name(&self) -> &'static str {
        "KDDI"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let kddi = mail.from_lower.contains(".dion.ne.jp")
            || contains_ignore_case(mail.headers.value("message-id"), "auone-net.jp");
        if !kddi || !mail.text.contains("Could not be delivered to:") {
            return None;
        }
        let mut found: Vec<Delivery> = Vec::new();
        let mut date = String::new();
        for line in mail.text.split_lines().take(300) {
            let t = line.trim();
            if let Some(d) = t.strip_prefix("Your mail sent on:") {
                date = d.trim().to_string();
            } else if let Some(rest) = t.strip_prefix("Could not be delivered to:") {
                if let Some(recipient) = find_address(rest) {
                    found.push(Delivery {
                        recipient,
                        action: "failed".to_string(),
                        date: date.clone(),
                        reason: Some(Reason::OnHold),
                        ..Delivery::default()
                    });
                }
            } else if t.is_empty() || !t.is_ascii() || starts_with_ignore_case(t, "received:") {
                if found.last().is_some_and(|d| !d.diagnostic.is_empty()) {
                    break;
                }
            } else if let Some(d) = found.last_mut() {
                if !d.diagnostic.is_empty() {
                    d.diagnostic.push(' ');
                }
                d.diagnostic.push_str(t);
            }
        }
        for d in &mut found {
            d.diagnostic = squash(&d.diagnostic);
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_recipient_and_cause() {
        let raw = "From: no-reply@x1.dion.ne.jp\nTo: a@example.jp\nSubject: Mail\n\n\
Your mail sent on: Thu, 29 Apr 2013 00:00:00 +0900\n     Could not be delivered to: <bob@x1.dion.ne.jp>\n     As their mailbox is full.\n";
        let found = Kddi.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(found[0].recipient, "bob@x1.dion.ne.jp");
        assert_eq!(found[0].diagnostic, "As their mailbox is full.");
        assert!(found[0].date.starts_with("Thu, 29 Apr 2013"));
        let other = raw.replace("x1.dion.ne.jp\nTo", "example.org\nTo");
        assert!(
            Kddi.decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
