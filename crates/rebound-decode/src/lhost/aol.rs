//! AOL (now Yahoo's): a Postfix notice or an "Undeliverable:" message from
//! the AOL postmaster, both with an RFC 3464 report and AOL's `x-aol-*`
//! headers. Its reports may type the diagnostic with a long private name
//! (`X-Outbound-Mail-Relay; ...`).

use super::common::deliveries_from_report;
use super::provider_helpers::{bracketed_paragraphs, from_lower, refine_status};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::command_in;

pub struct Aol;

impl Decoder for Aol {
    fn name(&self) -> &'static str {
        "Aol"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !from_lower(mail).contains("@aol.com") || !mail.headers.contains("x-aol-sid") {
            return None;
        }
        mail.report("delivery-status")?;
        let mut found = deliveries_from_report(mail);
        let paragraphs = bracketed_paragraphs(&mail.text);
        for d in &mut found {
            if let Some((kind, rest)) = d.diagnostic.split_once(';')
                && kind.len() <= 40
                && kind.starts_with("X-")
                && !kind.contains(' ')
            {
                d.diagnostictype = kind.to_ascii_uppercase();
                d.diagnostic = rest.trim().to_string();
            }
            if let Some((_, text)) = paragraphs
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(&d.recipient))
            {
                d.command = command_in(text).to_string();
            }
            d.status = refine_status(d.status, &d.diagnostic);
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_private_diagnostic_type() {
        let raw = "From: MAILER-DAEMON@AOL.com (Mail Delivery System)\nx-aol-sid: 1\n\
Subject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\n<a@example.org>: Name service error for name=example.org type=MX\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; omr.mx.aol.com\n\n\
Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.4.4\n\
Diagnostic-Code: X-Outbound-Mail-Relay; Name service error for name=example.org type=MX\n--B--\n";
        let d = Aol.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            d[0].diagnostic,
            "Name service error for name=example.org type=MX"
        );
        assert_eq!(d[0].diagnostictype, "X-OUTBOUND-MAIL-RELAY");
    }
}
