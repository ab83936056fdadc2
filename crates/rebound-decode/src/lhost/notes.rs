//! Lotus Notes SMTP MTA ("Undeliverable message"): `------- Failure Reasons
//! --------`, the cause and the failed addresses, then `------- Returned
//! Message --------`.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, squash, starts_with_ignore_case};
use rebound_core::Reason;

pub struct Notes;

impl Decoder for Notes {
    fn name(&self) -> &'static str {
        "Notes"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !starts_with_ignore_case(mail.subject.trim(), "Undeliverable message")
            || !mail.text.contains("------- Failure Reasons")
        {
            return None;
        }
        let mut cause: Vec<&str> = Vec::new();
        let mut recipients: Vec<String> = Vec::new();
        let mut inside = false;
        for line in mail.text.split_lines().take(500) {
            let t = line.trim();
            if t.starts_with("------- Failure Reasons") {
                inside = true;
                continue;
            }
            if !inside || t.is_empty() {
                continue;
            }
            if t.starts_with("-------") {
                break;
            }
            match find_address(t) {
                Some(a) if !t.contains(char::is_whitespace) => recipients.push(a),
                _ => cause.push(t),
            }
        }
        let diagnostic = squash(&cause.join(" "));
        let found: Vec<Delivery> = recipients
            .into_iter()
            .map(|recipient| Delivery {
                recipient,
                action: "failed".to_string(),
                diagnostic: diagnostic.clone(),
                // A definite failure whose cause is free text: on hold unless
                // the classifier recognises the text.
                reason: Some(Reason::OnHold),
                ..Delivery::default()
            })
            .collect();
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cause_and_addresses() {
        let raw = "From: postmaster@example.co.jp\nTo: a@example.jp\nSubject: Undeliverable message\n\n\
------- Failure Reasons  --------\n\nUser  not listed in public Name & Address Book\nbob@example.com\n\n\
------- Returned Message --------\nFrom: a@example.jp\n";
        let d = &Notes.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap()[0];
        assert_eq!(d.recipient, "bob@example.com");
        assert_eq!(
            d.diagnostic,
            "User not listed in public Name & Address Book"
        );
        assert_eq!(d.reason, Some(Reason::OnHold));
    }
}
