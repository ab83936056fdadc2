//! Verizon Wireless: MMS gateway notices from `*.vzwpix.com` ("Message
//! could not be delivered to mobile.", recipient in the quoted original's
//! `To:`) and SMS gateway notices from `post_master@vtext.com` ("Error
//! message below:", recipient in "RCPT TO:" of the message details).

use super::provider_helpers::{MAX_LINES, from_lower};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{SplitLines, starts_with_ignore_case};

pub struct Verizon;

impl Decoder for Verizon {
    fn name(&self) -> &'static str {
        "Verizon"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = from_lower(mail);
        if from.contains("vzwpix.com") {
            return decode_mms(mail);
        }
        if from.contains("vtext.com") {
            return decode_sms(mail);
        }
        None
    }
}

fn field_after<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let t = line.trim();
    starts_with_ignore_case(t, name).then(|| t.get(name.len()..).unwrap_or("").trim())
}

fn decode_mms(mail: &Mail) -> Option<Vec<Delivery>> {
    if !mail
        .text
        .contains("Message could not be delivered to mobile")
    {
        return None;
    }
    let mut diagnostic = String::new();
    let mut recipient = None;
    let mut in_original = false;
    for line in mail.text.split_lines().take(MAX_LINES) {
        if let Some(v) = field_after(line, "Error:")
            && diagnostic.is_empty()
        {
            diagnostic = v.to_string();
        }
        if line.trim().starts_with("Original Message:") {
            in_original = true;
            continue;
        }
        if in_original && let Some(v) = field_after(line, "To:") {
            let a = clean_address(v);
            if looks_like_address(&a) {
                recipient = Some(a);
                break;
            }
        }
    }
    let recipient = recipient.or_else(|| {
        let to = mail.original_headers().get("to")?;
        let a = clean_address(to);
        looks_like_address(&a).then_some(a)
    })?;
    Some(vec![Delivery {
        recipient,
        action: "failed".to_string(),
        diagnostic,
        ..Delivery::default()
    }])
}

fn decode_sms(mail: &Mail) -> Option<Vec<Delivery>> {
    if !mail.text.contains("Error message below:") {
        return None;
    }
    let mut diagnostic = String::new();
    let mut summary = String::new();
    let mut recipient = None;
    let mut take_next = false;
    for line in mail.text.split_lines().take(MAX_LINES) {
        let t = line.trim();
        if take_next && !t.is_empty() {
            diagnostic = t.to_string();
            take_next = false;
            continue;
        }
        if t == "Error message below:" {
            take_next = true;
            continue;
        }
        if let Some(v) = field_after(line, "Error:")
            && summary.is_empty()
        {
            summary = v.to_string();
        }
        if let Some(v) = field_after(line, "RCPT TO:") {
            let a = clean_address(v);
            if looks_like_address(&a) {
                recipient = Some(a);
            }
        }
    }
    // The gateway's own summary ("Invalid user address") before the reply.
    if !summary.is_empty() {
        diagnostic = format!("{summary}: {diagnostic}");
    }
    Some(vec![Delivery {
        recipient: recipient?,
        action: "failed".to_string(),
        diagnostic,
        ..Delivery::default()
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mms_and_sms_notices() {
        let mms = "From: MMSC NDR Administrator <sysadmin@m01.vzwpix.com>\nSubject: Undeliverable Message\n\n\
Message could not be delivered to mobile.\nError: No valid recipients for this MM\n\n\
Original Message:\nFrom: s <s@example.jp>\nTo: 0000000000@vzwpix.com\nSubject: t\n";
        let d = Verizon
            .decode(&Mail::parse(mms.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "0000000000@vzwpix.com");
        assert_eq!(d[0].diagnostic, "No valid recipients for this MM");

        let sms = "From: post_master@vtext.com\nSubject: Re: x\n\n\
Error: Invalid user address\nError message below:\n550 - Requested action not taken: no such user here\n\n\
Message details:\n  MAIL FROM: s@example.org\n  RCPT TO: gone@vtext.com\n";
        let d = Verizon
            .decode(&Mail::parse(sms.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "gone@vtext.com");
        assert!(
            d[0].diagnostic
                .starts_with("Invalid user address: 550 - Requested")
        );
    }
}
