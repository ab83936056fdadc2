//! BIGLOBE's mail service (`postmaster@biglobe.ne.jp`): the addresses after
//! "The following addresses had delivery problems", the cause after
//! "Non-delivered information".

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{section, squash};
use rebound_core::Reason;

pub struct Biglobe;

impl Decoder for Biglobe {
    fn name(&self) -> &'static str {
        "Biglobe"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.from_lower.contains("@biglobe.ne.jp")
            || !mail
                .text
                .contains("The following addresses had delivery problems")
        {
            return None;
        }
        let cause = squash(
            &section(&mail.text, "Non-delivered information")
                .into_iter()
                .take_while(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .join(" "),
        );
        let found: Vec<Delivery> =
            section(&mail.text, "The following addresses had delivery problems")
                .into_iter()
                .take_while(|l| !l.starts_with("-----"))
                .filter_map(find_address)
                .map(|recipient| Delivery {
                    recipient,
                    action: "failed".to_string(),
                    diagnostic: cause.clone(),
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
    fn reads_addresses_and_cause() {
        let raw = "From: postmaster@biglobe.ne.jp\nTo: a@example.jp\nSubject: Returned mail: Service unavailable\n\n\
   ----- The following addresses had delivery problems -----\nbob@mx.biglobe.ne.jp\n\n\
   ----- Non-delivered information -----\nThe number of messages in recipient's mailbox exceeded the local limit.\n";
        let found = Biglobe
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "bob@mx.biglobe.ne.jp");
        assert!(found[0].diagnostic.starts_with("The number of messages"));
    }
}
