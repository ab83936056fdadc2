//! RFC 3464 delivery status notifications: the standard every modern MTA
//! writes, and the fallback for any MTA without its own decoder.

use super::common::{deliveries_from_report, deliveries_from_status};
use super::{Decoder, Delivery};
use crate::dsn::DeliveryStatus;
use crate::mail::Mail;

pub struct Rfc3464;

impl Decoder for Rfc3464 {
    fn name(&self) -> &'static str {
        "RFC3464"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let mut found = deliveries_from_report(mail);
        if found.is_empty() && mail.report("delivery-status").is_none() {
            // Some MTAs put the DSN fields in the text part.
            if !mail.text.contains("Final-Recipient:") && !mail.text.contains("Original-Recipient:")
            {
                return None;
            }
            found = deliveries_from_status(&DeliveryStatus::parse(&mail.text));
        }
        (!found.is_empty()).then_some(found)
    }
}
