//! On-premises Microsoft Exchange 2007 and later: an RFC 3464 report with
//! a localized human text ("Undeliverable:", "Non remis :", "Non
//! recapitabile:") and `Content-Language`; the same layout as Exchange
//! Online, without its tenant headers and hosts.

use super::office365::{decode_exchange, is_exchange_ndr, is_exchange_online};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;

pub struct Exchange2007;

impl Decoder for Exchange2007 {
    fn name(&self) -> &'static str {
        "Exchange2007"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.headers.contains("content-language") || !is_exchange_ndr(mail) {
            return None;
        }
        mail.report("delivery-status")?;
        if is_exchange_online(mail) {
            return None;
        }
        decode_exchange(mail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_core::Reason;

    #[test]
    fn reads_report_and_queue_expiry() {
        let raw = "From: <postmaster@example.edu>\nSubject: Undeliverable: hi\nContent-Language: en-US\n\
X-MS-Exchange-Message-Is-Ndr:\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nDelivery has failed to these recipients or groups:\n\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns;mail.example.edu\n\n\
Final-Recipient: rfc822;x@example.org\nAction: failed\nStatus: 4.4.7\n\
Diagnostic-Code: smtp;550 4.4.7 QUEUE.Expired; message expired\n--B--\n";
        let d = Exchange2007
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "x@example.org");
        assert_eq!(d[0].reason, Some(Reason::Expired));
        let online = raw.replace("Delivery has failed", "Office 365: Delivery has failed");
        assert!(
            Exchange2007
                .decode(&Mail::parse(online.as_bytes()).unwrap())
                .is_none()
        );
    }
}
