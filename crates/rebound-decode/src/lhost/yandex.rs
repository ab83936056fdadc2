//! Yandex: a Postfix notice (Russian and English text) with an RFC 3464
//! report; the text adds which command the reply answered.

use super::common::deliveries_from_report;
use super::provider_helpers::{bracketed_paragraphs, from_lower, gave_up_on_temporary};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::command_in;
use rebound_core::Reason;

pub struct Yandex;

impl Decoder for Yandex {
    fn name(&self) -> &'static str {
        "Yandex"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !from_lower(mail).contains("mailer-daemon@yandex")
            && !mail.headers.contains("x-yandex-front")
        {
            return None;
        }
        mail.report("delivery-status")?;
        let mut found = deliveries_from_report(mail);
        let paragraphs = bracketed_paragraphs(&mail.text);
        for d in &mut found {
            if let Some((_, text)) = paragraphs
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(&d.recipient))
            {
                d.command = command_in(text).to_string();
                if d.diagnostic.is_empty() {
                    d.diagnostic = text.clone();
                }
            }
            if gave_up_on_temporary(d) {
                d.reason = Some(Reason::Expired);
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_plus_command_from_text() {
        let raw = "From: mailer-daemon@yandex.ru\nSubject: fail\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain; charset=utf-8\n\n\
This is the mail system at host yandex.ru.\n\n\
<a@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1\n    <a@example.jp>... unknown (in reply to RCPT TO command)\n\n\
<b@example.jp>: connect to\n    example.jp[192.0.2.2]:25: Connection timed out\n\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; forward1.mail.yandex.net\n\n\
Final-Recipient: rfc822; a@example.jp\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <a@example.jp>... unknown\n\n\
Final-Recipient: rfc822; b@example.jp\nAction: failed\nStatus: 4.4.1\nDiagnostic-Code: X-Yandex; connect to example.jp\n--B--\n";
        let d = Yandex
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].command, "RCPT");
        assert_eq!(d[0].reason, None);
        assert_eq!(d[1].reason, Some(Reason::Expired));
    }
}
