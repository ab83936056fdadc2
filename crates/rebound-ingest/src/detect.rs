//! Format detection from the first bytes of an input.

use crate::{Format, exim::Exim, pmta::Pmta, postfix::Postfix, sendmail::Sendmail, webhook};

/// Guesses the format of an input from its first bytes (64 KiB is plenty).
/// JSON gives the provider named by the first record's keys (the reader
/// still decides record by record under [`Format::Auto`]); `None` when
/// nothing matches.
pub fn detect(head: &[u8]) -> Option<Format> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // A complete first line or document tells exactly; a truncated head
        // is judged by the keys it shows.
        let first = trimmed.lines().next().unwrap_or("");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(first)
            && let Some(rec) = webhook::records(v).first()
            && let Some(f) = webhook::provider_of(rec)
        {
            return Some(f);
        }
        let has = |k: &str| trimmed.contains(k);
        return Some(if has("\"msys\"") {
            Format::Sparkpost
        } else if has("\"email_id\"") && has("\"type\"") {
            Format::Resend
        } else if has("\"mandrill_events\"") || (has("\"msg\"") && has("\"ts\"")) {
            Format::Mandrill
        } else if has("\"mj_message_id\"") || has("\"Message_GUID\"") || has("\"error_related_to\"")
        {
            Format::Mailjet
        } else if has("\"ts_epoch\"") || has("\"ts_event\"") {
            Format::Brevo
        } else if has("\"event-data\"") {
            Format::Mailgun
        } else if has("\"RecordType\"") || has("\"BouncedAt\"") {
            Format::Postmark
        } else if has("\"notificationType\"") || has("\"TopicArn\"") || has("\"eventType\"") {
            Format::Ses
        } else if has("\"sg_event_id\"") || has("\"sg_message_id\"") || has("\"email\"") {
            Format::Sendgrid
        } else if has("\"delivery-status\"") || has("\"recipient\"") {
            Format::Mailgun
        } else {
            return None;
        });
    }
    // Mandrill's webhook body as it is posted: a form whose
    // `mandrill_events` field holds the JSON.
    if trimmed.starts_with(webhook::MANDRILL_FORM_FIELD) {
        return Some(Format::Mandrill);
    }
    if trimmed.starts_with("From ") {
        return Some(Format::Mbox);
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(200)
        .collect();
    // Drop a possibly cut last line.
    let complete = if head.ends_with(b"\n") || lines.len() <= 1 {
        &lines[..]
    } else {
        &lines[..lines.len() - 1]
    };
    if complete.iter().take(5).any(|l| Pmta::looks_like(l)) {
        return Some(Format::Pmta);
    }
    if complete.iter().any(|l| Exim::looks_like(l)) {
        return Some(Format::Exim);
    }
    if complete.iter().any(|l| Postfix::looks_like(l)) {
        return Some(Format::Postfix);
    }
    if complete.iter().any(|l| Sendmail::looks_like(l)) {
        return Some(Format::Sendmail);
    }
    // An email starts with header fields: `Name: value`.
    let first = lines.first()?;
    if let Some((name, _)) = first.split_once(':')
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Some(Format::Eml);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let cases: &[(&str, Format)] = &[
            (
                "Nov 23 10:00:00 mx1 postfix/qmgr[1]: 4AB: from=<a@b>, size=1, nrcpt=1 (queue active)\n",
                Format::Postfix,
            ),
            (
                "2026-11-23 10:00:00 1tAbCd-000Xyz-AB <= a@b H=x [1.2.3.4]\n",
                Format::Exim,
            ),
            (
                "type,timeLogged,orig,rcpt,dsnStatus\nd,2026-11-23 10:00:00,a@b,c@d,2.0.0\n",
                Format::Pmta,
            ),
            (
                "{\"notificationType\":\"Bounce\",\"mail\":{}}\n",
                Format::Ses,
            ),
            (
                "{\"Type\":\"Notification\",\"TopicArn\":\"arn:aws:sns\",\"Message\":\"{}\"}",
                Format::Ses,
            ),
            (
                "[{\"email\":\"a@b\",\"event\":\"bounce\",\"sg_event_id\":\"x\"}]",
                Format::Sendgrid,
            ),
            (
                "{\"signature\":{},\"event-data\":{\"event\":\"failed\"}}",
                Format::Mailgun,
            ),
            (
                "{\"RecordType\":\"Bounce\",\"Type\":\"HardBounce\"}",
                Format::Postmark,
            ),
            (
                "[\n  {\"msys\": {\"message_event\": {\"type\": \"bounce\"",
                Format::Sparkpost,
            ),
            (
                "Nov 23 10:00:01 mx1 sm-mta[7]: 4ANB1: to=<a@x.org>, delay=00:00:00, mailer=esmtp, relay=mx.x.org. [1.2.3.4], dsn=2.0.0, stat=Sent (Ok)\n",
                Format::Sendmail,
            ),
            (
                "From MAILER-DAEMON Mon Nov 23 10:00:00 2026\nReturn-Path: <>\n",
                Format::Mbox,
            ),
            ("Return-Path: <>\nReceived: from x\n", Format::Eml),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text.as_bytes()), Some(*want), "{text}");
        }
        assert_eq!(detect(b"hello world\n"), None);
        assert_eq!(detect(b""), None);
    }
}
