//! Zoho Mail's notices: one `address reason, ERROR_CODE :550, ERROR_CODE
//! :5.1.1 text` line per recipient, or in delay warnings a bracketed
//! `[Status: Error, Address: <a@b>, ResponseCode 421, , text]` line.

use super::provider_helpers::{MAX_LINES, join_lines};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{SplitLines, text_before};
use rebound_core::Reason;

pub struct Zoho;

impl Decoder for Zoho {
    fn name(&self) -> &'static str {
        "Zoho"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let zoho = mail.headers.contains("x-zohomail")
            || mail
                .headers
                .value("x-mailer")
                .eq_ignore_ascii_case("Zoho Mail");
        if !zoho
            || !mail
                .headers
                .value("from")
                .to_ascii_lowercase()
                .contains("mailer-daemon@")
        {
            return None;
        }
        let body = text_before(
            &mail.text,
            &["Received:", "----- Transcript of session follows"],
        );
        let warning = body.contains("THIS IS A WARNING MESSAGE ONLY");
        let mut out: Vec<Delivery> = Vec::new();
        let mut last: Option<usize> = None;
        for line in body.split_lines().take(MAX_LINES) {
            let t = line.trim();
            if t.is_empty() {
                last = None;
                continue;
            }
            if let Some(inner) = t.strip_prefix("[Status:") {
                // [Status: Error, Address: <a@b>, ResponseCode 421, , Host not reachable.]
                let inner = inner.trim_end_matches(']');
                let Some(pos) = inner.find("Address:") else {
                    continue;
                };
                let rest = inner.get(pos + 8..).unwrap_or("");
                let addr = clean_address(rest.split(',').next().unwrap_or(""));
                if looks_like_address(&addr) {
                    out.push(Delivery {
                        recipient: addr,
                        action: if warning { "delayed" } else { "failed" }.to_string(),
                        diagnostic: t.to_string(),
                        ..Delivery::default()
                    });
                }
                last = None;
                continue;
            }
            if t.contains("ERROR_CODE") {
                let (first, rest) = t.split_once(' ').unwrap_or((t, ""));
                let addr = clean_address(first);
                if looks_like_address(&addr) {
                    out.push(Delivery {
                        recipient: addr,
                        action: if warning { "delayed" } else { "failed" }.to_string(),
                        diagnostic: rest.trim().to_string(),
                        ..Delivery::default()
                    });
                    last = Some(out.len() - 1);
                    continue;
                }
            }
            if let Some(i) = last
                && let Some(d) = out.get_mut(i)
            {
                d.diagnostic = join_lines([d.diagnostic.as_str(), t]);
            }
        }
        let permanent_notice = body.contains("This is a permanent error");
        for d in &mut out {
            // A final failure whose last reply was temporary: Zoho retried
            // until it gave up.
            if permanent_notice && !warning && temporary_code(&d.diagnostic) {
                d.reason = Some(Reason::Expired);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

fn temporary_code(diagnostic: &str) -> bool {
    ["ERROR_CODE :4", "ResponseCode 4"]
        .iter()
        .any(|m| diagnostic.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "From: mailer-daemon@mail.zoho.com\nTo: s@zoho.example.com\n\
Subject: Undelivered Mail Returned to Sender\nX-Mailer: Zoho Mail\n\n";

    #[test]
    fn reads_error_code_lines() {
        let raw = format!(
            "{HEAD}This message was created automatically by mail delivery software.\n\
A message that you sent could not be delivered to one or more of its recipients. This is a permanent error.\n\n\
a@example.net Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <a@example.net>... unknown\n\
b@example.net Error, ERROR_CODE :421, ERROR_CODE :, Host not reachable.\n\n\
Received:from mail.zoho.com by mx.zohomail.com\nSubject: x\n"
        );
        let d = Zoho.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].recipient, "a@example.net");
        assert!(
            d[0].diagnostic
                .starts_with("Invalid Address, ERROR_CODE :550")
        );
        assert_eq!(d[0].reason, None);
        assert_eq!(d[1].reason, Some(Reason::Expired));
    }

    #[test]
    fn reads_delay_warnings() {
        let raw = format!(
            "{HEAD}THIS IS A WARNING MESSAGE ONLY.\n\n\
[Status: Error, Address: <c@example.net>, ResponseCode 421, , Host not reachable.]\n"
        );
        let d = Zoho.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(d[0].recipient, "c@example.net");
        assert_eq!(d[0].action, "delayed");
    }
}
