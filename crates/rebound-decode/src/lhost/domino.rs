//! HCL (Lotus) Domino ("DELIVERY FAILURE: ..."): "was not delivered to:"
//! and the address, "because:" and the cause; newer versions add an RFC
//! 3464 report, whose recipient and status are preferred.

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{section, squash, starts_with_ignore_case};
use rebound_core::Reason;

pub struct Domino;

impl Decoder for Domino {
    fn name(&self) -> &'static str {
        "Domino"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let subject = mail.subject.trim_start();
        if !(starts_with_ignore_case(subject, "DELIVERY FAILURE:")
            || starts_with_ignore_case(subject, "DELIVERY_FAILURE:"))
        {
            return None;
        }
        let cause = squash(&section(&mail.text, "because:").join(" "));
        let mut found = deliveries_from_report(mail);
        if found.is_empty() {
            found = section(&mail.text, "was not delivered to:")
                .into_iter()
                .filter_map(find_address)
                .map(|recipient| Delivery {
                    recipient,
                    action: "failed".to_string(),
                    ..Delivery::default()
                })
                .collect();
        }
        for d in &mut found {
            // A definite failure explained in words: on hold unless the
            // classifier recognises them.
            d.reason = d.reason.or(Some(Reason::OnHold));
        }
        if !cause.is_empty() {
            // The report's Diagnostic-Code is often cut or in raw ISO-2022-JP.
            for d in &mut found {
                d.diagnostic = cause.clone();
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_address_and_cause() {
        let raw = "From: Postmaster@example.jp\nTo: a@example.jp\n\
Subject: DELIVERY FAILURE: User bob (bob@example.jp) not listed in Domino Directory\n\n\
Your message\n\n  Subject: hi\n\nwas not delivered to:\n\n  bob@example.jp\n\nbecause:\n\n\
  User bob (bob@example.jp) not listed in Domino Directory\n";
        let d = &Domino
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.jp");
        assert_eq!(
            d.diagnostic,
            "User bob (bob@example.jp) not listed in Domino Directory"
        );
    }
}
