//! Helpers shared by format decoders: cutting the text at the returned
//! message, finding addresses, reading DSN reports into deliveries.

use super::Delivery;
use crate::dsn::{DeliveryStatus, clean_address, looks_like_address, typed_value};
use crate::mail::Mail;

/// The text before the first of `markers` (matched case-insensitively at
/// the start of a line, after leading blanks). Formats that append the
/// original message inline use this to keep only their own notice.
pub fn text_before<'a>(text: &'a str, markers: &[&str]) -> &'a str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if markers
            .iter()
            .any(|m| starts_with_ignore_case(trimmed, m))
        {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// Case-insensitive (ASCII) `starts_with`.
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Case-insensitive (ASCII) `contains`.
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let n = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

/// The first email address in `s` (bare, `<...>`-bracketed or quoted).
pub fn find_address(s: &str) -> Option<String> {
    if let (Some(start), Some(end)) = (s.find('<'), s.find('>'))
        && start < end
    {
        let inner = clean_address(&s[start + 1..end]);
        if looks_like_address(&inner) {
            return Some(inner);
        }
    }
    s.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"'))
        .map(clean_address)
        .find(|w| looks_like_address(w))
}

/// Reads every recipient block of the mail's delivery-status report into a
/// delivery. Returns an empty list when there is no report or no recipient.
pub fn deliveries_from_report(mail: &Mail) -> Vec<Delivery> {
    let Some(report) = mail.report("delivery-status") else {
        return Vec::new();
    };
    deliveries_from_status(&DeliveryStatus::parse(report))
}

/// Turns parsed DSN blocks into deliveries, one per recipient.
pub fn deliveries_from_status(ds: &DeliveryStatus) -> Vec<Delivery> {
    let lhost = typed_value(ds.message.value("reporting-mta")).1.to_string();
    let message_date = ds
        .message
        .get("arrival-date")
        .or_else(|| ds.message.get("last-attempt-date"))
        .unwrap_or("");
    let mut out = Vec::new();
    for block in &ds.recipients {
        let final_rcpt = clean_address(block.value("final-recipient"));
        let original_rcpt = clean_address(block.value("original-recipient"));
        let recipient = if looks_like_address(&final_rcpt) {
            final_rcpt
        } else if looks_like_address(&original_rcpt) {
            original_rcpt.clone()
        } else {
            continue;
        };
        let (diagnostictype, diagnostic) = typed_value(block.value("diagnostic-code"));
        let alias = if !original_rcpt.is_empty() && !original_rcpt.eq_ignore_ascii_case(&recipient)
        {
            original_rcpt
        } else {
            String::new()
        };
        out.push(Delivery {
            recipient,
            alias,
            action: block.value("action").trim().to_ascii_lowercase(),
            status: first_status(block.value("status")),
            replycode: None,
            diagnostic: diagnostic.to_string(),
            diagnostictype,
            command: String::new(),
            rhost: typed_value(block.value("remote-mta")).1.to_string(),
            lhost: lhost.clone(),
            date: block
                .get("last-attempt-date")
                .unwrap_or(message_date)
                .to_string(),
            reason: None,
            feedbacktype: String::new(),
        });
    }
    out
}

/// The enhanced status at the start of a `Status:` value (which may carry a
/// comment: `5.1.1 (user unknown)`).
pub fn first_status(value: &str) -> Option<rebound_core::EnhancedStatus> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_markers() {
        let t = "notice\nmore\n--- Below this line is a copy of the message.\nheaders";
        assert_eq!(
            text_before(t, &["--- below this line"]),
            "notice\nmore\n"
        );
    }

    #[test]
    fn finds_addresses() {
        assert_eq!(find_address("to <a@b.example>:").unwrap(), "a@b.example");
        assert_eq!(find_address("user a@b.example, said").unwrap(), "a@b.example");
        assert!(find_address("no address here").is_none());
    }

    #[test]
    fn status_with_comment() {
        assert_eq!(first_status("5.1.1 (bad)").unwrap().to_string(), "5.1.1");
        assert!(first_status("").is_none());
    }
}
