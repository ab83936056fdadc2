//! Amazon SES: bounce emails sent by MAILER-DAEMON@*.amazonses.com (an RFC
//! 3464 report whose `Diagnostic-Code` wraps the remote reply), and SES
//! event notifications delivered by email through SNS (a JSON document with
//! `notificationType` Bounce, Complaint or Delivery).

use super::common::deliveries_from_report;
use super::provider_helpers::{from_lower, refine_status};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address, typed_value};
use crate::mail::Mail;
use rebound_core::{EnhancedStatus, Reason, ReplyCode};
use serde_json::Value;

pub struct AmazonSes;

impl Decoder for AmazonSes {
    fn name(&self) -> &'static str {
        "AmazonSES"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let from = from_lower(mail);
        let ses_bounce = from.contains("mailer-daemon@") && from.contains("amazonses.com");
        let sns = mail.headers.contains("x-amz-sns-message-id")
            || (mail.headers.contains("x-ses-outgoing")
                && mail.text.contains("\"notificationType\""));
        if sns {
            return decode_notification(&mail.text);
        }
        if !ses_bounce && !mail.headers.contains("x-ses-outgoing") {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        for d in &mut found {
            refine_ses(d);
        }
        (!found.is_empty()).then_some(found)
    }
}

/// Reads what SES wraps around the remote reply in `Diagnostic-Code`.
pub(crate) fn refine_ses(d: &mut Delivery) {
    // "5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access denied' (delivery attempts: 0)"
    if let Some(p) = d.diagnostic.find("-'")
        && p >= 4
        && let Some(code) = d.diagnostic.get(p - 3..p)
        && code.bytes().all(|b| b.is_ascii_digit())
        && d.diagnostic.get(p - 4..p - 3) == Some(" ")
    {
        let replycode = code.parse().ok().and_then(ReplyCode::new);
        let quoted = d.diagnostic.get(p + 2..).unwrap_or("");
        let quoted = quoted.rsplit_once('\'').map_or(quoted, |(q, _)| q);
        let leading: Option<EnhancedStatus> = d
            .diagnostic
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok());
        let inner = rebound_classify::reply::parse(quoted).status;
        d.status = inner.or(leading).or(d.status);
        d.replycode = replycode.or(d.replycode);
        // SES's own label of the status ("Unknown address error") is not
        // what the remote server said: keep the quoted reply.
        d.diagnostic = quoted.trim().to_string();
        return;
    }
    // "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>"
    if d.diagnostic.contains("Message expired")
        && let Some(open) = d.diagnostic.rfind('<')
        && d.diagnostic.trim_end().ends_with('>')
    {
        let inner = d
            .diagnostic
            .get(open + 1..)
            .unwrap_or("")
            .trim_end()
            .trim_end_matches('>');
        let parsed = rebound_classify::reply::parse(inner);
        if parsed.replycode.is_some() || parsed.status.is_some() {
            d.replycode = parsed.replycode;
            d.status = parsed.status.or(d.status);
        }
        d.reason = Some(Reason::Expired);
        return;
    }
    d.status = refine_status(d.status, &d.diagnostic);
}

/// Undoes the line splitting of long lines (`!` + newline + space) that
/// some MTAs apply to the notification body, and returns the JSON object.
fn json_object(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    let body = text.get(start..)?;
    let end = body.rfind('}')?;
    let raw = body.get(..=end)?;
    let joined = raw.replace("!\n ", "").replace('\n', "");
    let mut value: Value = serde_json::from_str(&joined).ok()?;
    // An SNS envelope carries the SES document as a string.
    if value.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(inner) = value.get("Message").and_then(Value::as_str)
    {
        value = serde_json::from_str(inner).ok()?;
    }
    Some(value)
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn decode_notification(text: &str) -> Option<Vec<Delivery>> {
    let doc = json_object(text)?;
    let kind = text_of(&doc, "notificationType").to_string();
    let kind = if kind.is_empty() {
        text_of(&doc, "eventType").to_string()
    } else {
        kind
    };
    let mut out = Vec::new();
    let address = |r: &Value| {
        let a = clean_address(
            r.get("emailAddress")
                .and_then(Value::as_str)
                .or_else(|| r.as_str())?,
        );
        looks_like_address(&a).then_some(a)
    };
    match kind.as_str() {
        "Bounce" => {
            let bounce = doc.get("bounce")?;
            let lhost = typed_value(text_of(bounce, "reportingMTA")).1.to_string();
            let date = text_of(bounce, "timestamp").to_string();
            for r in bounce.get("bouncedRecipients")?.as_array()? {
                let Some(recipient) = address(r) else {
                    continue;
                };
                let (dtype, diag) = typed_value(text_of(r, "diagnosticCode"));
                let action = text_of(r, "action");
                out.push(Delivery {
                    recipient,
                    action: if action.is_empty() { "failed" } else { action }.to_string(),
                    status: text_of(r, "status").parse().ok(),
                    diagnostic: diag.to_string(),
                    diagnostictype: dtype,
                    lhost: lhost.clone(),
                    date: date.clone(),
                    ..Delivery::default()
                });
            }
        }
        "Complaint" => {
            let complaint = doc.get("complaint")?;
            let feedback = text_of(complaint, "complaintFeedbackType");
            for r in complaint.get("complainedRecipients")?.as_array()? {
                let Some(recipient) = address(r) else {
                    continue;
                };
                out.push(Delivery {
                    recipient,
                    reason: Some(Reason::Feedback),
                    feedbacktype: if feedback.is_empty() {
                        "abuse"
                    } else {
                        feedback
                    }
                    .to_string(),
                    date: text_of(complaint, "timestamp").to_string(),
                    ..Delivery::default()
                });
            }
        }
        "Delivery" => {
            let delivery = doc.get("delivery")?;
            let response = text_of(delivery, "smtpResponse").to_string();
            let lhost = text_of(delivery, "reportingMTA").to_string();
            for r in delivery.get("recipients")?.as_array()? {
                let Some(recipient) = address(r) else {
                    continue;
                };
                out.push(Delivery {
                    recipient,
                    action: "delivered".to_string(),
                    diagnostic: response.clone(),
                    lhost: lhost.clone(),
                    date: text_of(delivery, "timestamp").to_string(),
                    reason: Some(Reason::Delivered),
                    ..Delivery::default()
                });
            }
        }
        _ => return None,
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_the_quoted_reply() {
        let mut d = Delivery {
            diagnostic: "5.1.0 - Unknown address error 550-'5.2.2 <a@b.example>... Mailbox Full' (delivery attempts: 0)".into(),
            status: "5.0.0".parse().ok(),
            ..Delivery::default()
        };
        refine_ses(&mut d);
        assert_eq!(d.status.unwrap().to_string(), "5.2.2");
        assert_eq!(d.replycode.unwrap().get(), 550);
        assert_eq!(d.diagnostic, "5.2.2 <a@b.example>... Mailbox Full");

        let mut e = Delivery {
            diagnostic: "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>".into(),
            ..Delivery::default()
        };
        refine_ses(&mut e);
        assert_eq!(e.status.unwrap().to_string(), "4.4.2");
        assert_eq!(e.replycode.unwrap().get(), 421);
        assert_eq!(e.reason, Some(Reason::Expired));
    }

    #[test]
    fn reads_sns_notifications() {
        let raw = "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n\
x-amz-sns-message-id: 1\nContent-Type: text/plain\n\n\
{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"x@example.com\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}],\"reportingMTA\":\"dsn; a1.amazonses.com\"},\"mail\":{\"he!\n aders\":[]}}\n\
--\nunsubscribe text\n";
        let d = AmazonSes
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].recipient, "x@example.com");
        assert_eq!(d[0].diagnostic, "550 5.1.1 user unknown");
        assert_eq!(d[0].lhost, "a1.amazonses.com");

        let complaint = "From: SES <no-reply@sns.amazonaws.com>\nx-amz-sns-message-id: 1\n\n\
{\"notificationType\":\"Complaint\",\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"y@example.com\"}],\"complaintFeedbackType\":\"abuse\"}}\n";
        let d = AmazonSes
            .decode(&Mail::parse(complaint.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d[0].reason, Some(Reason::Feedback));
        assert_eq!(d[0].feedbacktype, "abuse");
    }
}
