//! Unknown MTA shape X1 (seen from Mail2000 relays): `Returned Mail: ...`
//! with `---The following addresses had delivery errors---` and one
//! `address [reason]` line per recipient.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, head};

pub struct X1;

const MARKER: &str = "---The following addresses had delivery errors---";

impl Decoder for X1 {
    fn name(&self) -> &'static str {
        "X1"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.subject.starts_with("Returned Mail: ") {
            return None;
        }
        let start = head(&mail.text, 4096).find(MARKER)?;
        let mut out = Vec::new();
        for line in mail.text.get(start + MARKER.len()..)?.split_lines() {
            let t = line.trim();
            if t.is_empty() {
                if out.is_empty() {
                    continue;
                }
                break;
            }
            let Some((who, why)) = t.split_once(" [") else {
                break;
            };
            let Some(recipient) = find_address(who) else {
                break;
            };
            out.push(Delivery {
                recipient,
                action: "failed".into(),
                diagnostic: why.trim_end_matches(']').trim().to_string(),
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
    fn reads_error_lines() {
        let raw = "From: MAILER-DAEMON@relay.example.org\nSubject: Returned Mail: User unknown\n\n\
The original message was received at today\n\n---The following addresses had delivery errors---\n\n\
a@example.net [User unknown]\n\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = X1.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].diagnostic, "User unknown");
        assert!(
            X1.decode(&Mail::parse(b"Subject: Returned Mail: x\n\nhi\n").unwrap())
                .is_none()
        );
    }
}
