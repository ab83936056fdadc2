//! Bigfoot (bigfoot.com forwarding): a Sendmail-style notice with an RFC
//! 3464 report; the session transcript names the refused command.

use super::common::deliveries_from_report;
use super::provider_helpers::{MAX_LINES, from_lower};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::SplitLines;

pub struct Bigfoot;

impl Decoder for Bigfoot {
    fn name(&self) -> &'static str {
        "Bigfoot"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !from_lower(mail).contains("@bigfoot.com") {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        // ">>> RCPT TO:<a@b>" then "<<< 553 ..." in the transcript.
        let mut command = String::new();
        for line in mail.text.split_lines().take(MAX_LINES) {
            if let Some(sent) = line.trim().strip_prefix(">>> ") {
                command = sent
                    .split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
            }
        }
        for d in &mut found {
            if d.command.is_empty()
                && matches!(command.as_str(), "RCPT" | "MAIL" | "DATA" | "EHLO" | "HELO")
            {
                d.command = command.clone();
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_from_transcript() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@bigfoot.com>\nSubject: Returned mail\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\n   ----- Transcript of session follows -----\n\
>>> RCPT TO:<a@example.org>\n<<< 553 Invalid recipient a@example.org\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; litemail00.bigfoot.com\n\n\
Final-Recipient: RFC822; <a@example.org>\nAction: failed\nStatus: 5.7.1\n\
Diagnostic-Code: SMTP; 553 Invalid recipient a@example.org\n--B--\n";
        let d = Bigfoot
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "a@example.org");
        assert_eq!(d[0].command, "RCPT");
    }
}
