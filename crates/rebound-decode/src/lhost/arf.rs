//! Feedback-loop complaints: RFC 5965 Abuse Reporting Format reports, plus
//! two non-standard shapes that carry the same meaning (Microsoft's JMRP
//! forwards, with the complained-about address in the returned message's
//! `X-HmXmrOriginalRecipient`, and Apple Mail's one-click unsubscribe mails).

use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, find_address, looks_like_address};
use crate::mail::{Headers, Mail};
use crate::text::{Needle, SplitLines, first_paragraph, squash, starts_with_ignore_case};
use rebound_core::Reason;

/// The recipient Sisimai reports when a complaint names nobody: kept
/// identical so that records stay comparable.
pub const UNDISCLOSED_RECIPIENT: &str = "undisclosed-recipient-in-headers@libsisimai.org.invalid";

pub struct Arf;

impl Decoder for Arf {
    fn name(&self) -> &'static str {
        "ARF"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if let Some(report) = mail.report("feedback-report") {
            return Some(from_report(mail, report));
        }
        let declared = mail.content_type.contains("feedback-report");
        static COMPLAINT_WORDS: [Needle; 3] = [
            Needle::new("abuse"),
            Needle::new("complaint"),
            Needle::new("feedback"),
        ];
        let complaint_subject = COMPLAINT_WORDS.iter().any(|w| w.is_in(&mail.subject_lower));
        if declared || complaint_subject {
            // A report whose fields are not in a feedback-report part (the
            // part could not be read as one, or the report is plain text):
            // look for them in the text.
            if let Some(at) = find_field_start(&mail.text, "feedback-type:") {
                let report = mail.text.get(at..).unwrap_or("");
                let (fields, _) = Headers::parse_block(report);
                if declared || fields.contains("user-agent") || fields.contains("version") {
                    return Some(from_report(mail, report));
                }
            }
        }
        if mail
            .headers
            .get("x-apple-unsubscribe")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            return apple_unsubscribe(mail);
        }
        if mail.original_headers().contains("x-hmxmroriginalrecipient") {
            return jmrp(mail);
        }
        None
    }
}

/// Byte offset of the line starting with `field` (lower case), if any.
fn find_field_start(text: &str, field: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_lines_inclusive() {
        if starts_with_ignore_case(line, field) {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

fn from_report(mail: &Mail, report: &str) -> Vec<Delivery> {
    let (fields, _) = Headers::parse_block(report.trim_start());
    let feedbacktype = fields.value("feedback-type").trim().to_ascii_lowercase();
    let mut recipients: Vec<String> = Vec::new();
    for address in fields
        .get_all("original-rcpt-to")
        .chain(fields.get_all("removal-recipient"))
        .map(clean_address)
    {
        // One complaint per person: `Removal-Recipient` often repeats the
        // `Original-Rcpt-To` address.
        if looks_like_address(&address)
            && !recipients.iter().any(|r| r.eq_ignore_ascii_case(&address))
        {
            recipients.push(address);
        }
    }
    // RFC 5965 3.2: the envelope sender of the reported message; the
    // enclosed message's From is only its author, the report's To the
    // feedback loop's mailbox.
    let addresser = fields
        .get("original-mail-from")
        .map(clean_address)
        .filter(|a| looks_like_address(a))
        .unwrap_or_default();
    if recipients.is_empty() {
        recipients.push(recipient_from_original(mail.original_headers()));
    }
    let rhost = fields
        .get("source-ip")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let date = fields
        .get("arrival-date")
        .or_else(|| fields.get("received-date"))
        .unwrap_or("")
        .to_string();
    let lhost = fields
        .get("reporting-mta")
        .map(|v| crate::dsn::typed_value(v).1.to_string())
        .unwrap_or_default();
    let diagnostic = complaint_summary(&mail.text);
    recipients
        .into_iter()
        .map(|recipient| Delivery {
            recipient,
            diagnostic: diagnostic.clone(),
            rhost: rhost.clone(),
            lhost: lhost.clone(),
            date: date.clone(),
            reason: Some(Reason::Feedback),
            feedbacktype: feedbacktype.clone(),
            addresser: addresser.clone(),
            ..Delivery::default()
        })
        .collect()
}

/// The complained-about address from the returned message's headers.
fn recipient_from_original(original: &Headers) -> String {
    [
        "x-hmxmroriginalrecipient",
        "to",
        "delivered-to",
        "x-original-to",
    ]
    .iter()
    .filter_map(|h| original.get(h))
    .find_map(find_address)
    .unwrap_or_else(|| UNDISCLOSED_RECIPIENT.to_string())
}

/// The first paragraph of the human-readable part, skipping a greeting line.
fn complaint_summary(text: &str) -> String {
    squash(&first_paragraph(text, |p| {
        let greeting = p.len() < 40 && p.ends_with(',') && !p.contains(char::is_whitespace);
        let fields = starts_with_ignore_case(p, "feedback-type:");
        !greeting && !fields
    }))
}

/// Microsoft's Junk Mail Reporting Program: a plain forward of the reported
/// message, from a Microsoft address.
fn jmrp(mail: &Mail) -> Option<Vec<Delivery>> {
    let from = mail.from_lower.as_str();
    let microsoft =
        from.contains("@hotmail.") || from.contains("@outlook.") || from.contains("microsoft");
    if !microsoft
        && !starts_with_ignore_case(mail.subject.trim_start(), "complaint about message from")
    {
        return None;
    }
    let recipient = recipient_from_original(mail.original_headers());
    let rhost = mail
        .subject
        .trim()
        .rsplit(' ')
        .next()
        .filter(|w| w.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or("")
        .to_string();
    Some(vec![Delivery {
        recipient,
        diagnostic: mail.subject.trim().to_string(),
        rhost,
        reason: Some(Reason::Feedback),
        feedbacktype: "abuse".to_string(),
        ..Delivery::default()
    }])
}

/// Apple Mail's "unsubscribe" message: the sender of the notice is the
/// address that opted out.
fn apple_unsubscribe(mail: &Mail) -> Option<Vec<Delivery>> {
    let recipient = find_address(mail.headers.value("from"))?;
    Some(vec![Delivery {
        recipient,
        diagnostic: complaint_summary(&mail.text),
        reason: Some(Reason::Feedback),
        feedbacktype: "opt-out".to_string(),
        ..Delivery::default()
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "From: fbl@isp.example\nTo: abuse@sender.example\nSubject: FW: hello\n\
MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"b1\"\n\n\
--b1\nContent-Type: text/plain\n\nThis is an abuse report for a message received from\n192.0.2.7 yesterday.\n\nMore text.\n\n\
--b1\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: test/1.0\nVersion: 1\n\
Source-IP: 192.0.2.7\nOriginal-Rcpt-To: one@isp.example\nOriginal-Rcpt-To: two@isp.example\n\n\
--b1\nContent-Type: message/rfc822\n\nFrom: news@sender.example\nTo: one@isp.example\nSubject: hello\n\nbody\n--b1--\n";

    #[test]
    fn reads_every_original_rcpt_to() {
        let mail = Mail::parse(REPORT.as_bytes()).unwrap();
        let found = Arf.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "one@isp.example");
        assert_eq!(found[1].recipient, "two@isp.example");
        assert_eq!(found[0].feedbacktype, "abuse");
        assert_eq!(found[0].reason, Some(Reason::Feedback));
        assert_eq!(found[0].rhost, "192.0.2.7");
        assert!(found[0].diagnostic.starts_with("This is an abuse report"));
    }

    #[test]
    fn falls_back_to_the_original_to_or_a_placeholder() {
        let raw = REPORT.replace(
            "Original-Rcpt-To: one@isp.example\nOriginal-Rcpt-To: two@isp.example\n",
            "",
        );
        let found = Arf.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "one@isp.example");
        let raw = raw.replace("To: one@isp.example\n", "To: \"undisclosed\"\n");
        let found = Arf.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(found[0].recipient, UNDISCLOSED_RECIPIENT);
    }

    #[test]
    fn plain_text_report() {
        let raw = "From: fbl@isp.example\nTo: abuse@sender.example\nSubject: Abuse report\n\n\
A complaint about a message.\n\nFeedback-Type: abuse\nUser-Agent: fbl/1.0\nVersion: 1\n\
Original-Rcpt-To: one@isp.example\n\nFrom: news@sender.example\n";
        let found = Arf.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(found[0].recipient, "one@isp.example");
        assert_eq!(found[0].diagnostic, "A complaint about a message.");
        let chat = raw.replace("User-Agent: fbl/1.0\nVersion: 1\n", "");
        assert!(Arf.decode(&Mail::parse(chat.as_bytes()).unwrap()).is_none());
    }

    #[test]
    fn apple_unsubscribe_and_foreign_mail() {
        let raw = "From: someone@mac.example\nTo: list@sender.example\nSubject: unsubscribe\n\
X-Apple-Unsubscribe: true\nAuto-Submitted: auto-replied\n\nMail sent this to unsubscribe.\n";
        let found = Arf.decode(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(found[0].recipient, "someone@mac.example");
        assert_eq!(found[0].feedbacktype, "opt-out");
        let plain = "From: a@b.example\nTo: c@d.example\nSubject: hi\n\nhello\n";
        assert!(
            Arf.decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
