//! Microsoft Exchange 5.5–2003 NDRs: "Your message ... did not reach the
//! following recipient(s):" (or "The following recipient(s) could not be
//! reached:"), then `address on date` lines each followed by indented
//! detail lines ending with an `MSEXCH:...` line and Exchange's code.

use super::provider_helpers::{MAX_LINES, join_lines};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address};
use crate::mail::Mail;
use crate::text::SplitLines;

pub struct Exchange2003;

const STARTS: &[&str] = &[
    "did not reach the following recipient(s):",
    "The following recipient(s) could not be reached:",
];

impl Decoder for Exchange2003 {
    fn name(&self) -> &'static str {
        "Exchange2003"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let mailer = mail.headers.value("x-mailer");
        let exchange = mail.headers.contains("x-ms-embedded-report")
            || mail.headers.contains("x-ms-tnef-correlator")
            || mailer.contains("Internet Mail Service")
            || mailer.contains("Microsoft Exchange")
            || mail
                .headers
                .value("from")
                .starts_with("System Administrator");
        if !exchange {
            return None;
        }
        if !STARTS.iter().any(|s| mail.text.contains(s)) {
            return None;
        }
        let mut out: Vec<(Delivery, Vec<&str>)> = Vec::new();
        let mut started = false;
        let mut skip_continuation = false;
        for line in mail.text.split_lines().take(MAX_LINES) {
            let t = line.trim();
            if !started {
                started = STARTS.iter().any(|s| t.ends_with(s));
                continue;
            }
            if t.is_empty() {
                continue;
            }
            if t.starts_with("--") {
                break;
            }
            if let Some((first, rest)) = t.split_once(' ')
                && rest.starts_with("on ")
            {
                let a = clean_address(first);
                if looks_like_address(&a) {
                    out.push((
                        Delivery {
                            recipient: a,
                            action: "failed".to_string(),
                            ..Delivery::default()
                        },
                        Vec::new(),
                    ));
                    continue;
                }
            }
            // "The MTS-ID of the original message is: c=jp;a= ;p=x" and its
            // ";l=..." continuation say nothing about the failure.
            if t.starts_with("The MTS-ID of the original message") {
                skip_continuation = true;
                continue;
            }
            if skip_continuation && t.contains(";l=") {
                continue;
            }
            skip_continuation = false;
            if let Some((_, lines)) = out.last_mut() {
                lines.push(t);
            }
        }
        let found: Vec<Delivery> = out
            .into_iter()
            .map(|(mut d, lines)| {
                d.diagnostic = join_lines(lines);
                d
            })
            .collect();
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_recipient_lines() {
        let raw = "From: System Administrator <postmaster@example.jp>\nSubject: Undeliverable: hi\n\
X-MS-Embedded-Report:\nContent-Type: text/plain\n\n\
Your message\n\n  To:      s@example.com\n  Subject: hi\n\n\
did not reach the following recipient(s):\n\n\
a@example.jp on Thu, 29 Apr 2010 00:00:00 -0000\n    The recipient name is not recognized\n\
\tThe MTS-ID of the original message is: c=jp;a= ;p=x\n;l=EXCHANGE0000\n\
    MSEXCH:IMS:X:Y:Z 0 (000C05A6) Unknown Recipient\n\
b@example.jp on Thu, 29 Apr 2010 00:00:00 -0000\n    The recipient name is not recognized\n";
        let d = Exchange2003
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].recipient, "a@example.jp");
        assert_eq!(
            d[0].diagnostic,
            "The recipient name is not recognized MSEXCH:IMS:X:Y:Z 0 (000C05A6) Unknown Recipient"
        );
        assert_eq!(d[1].recipient, "b@example.jp");
    }
}
