//! au by KDDI's EZweb mobile mail (`Postmaster@ezweb.ne.jp`, subject "Mail
//! System Error - Returned Mail"): a Japanese preamble, one English summary
//! sentence, then the recipients, each optionally with the command sent
//! (`>>> RCPT TO:<...>`) and the reply (`<<< 550 ...`).

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{
    SplitLines, StatusBounds, command_in, contains_ignore_case, leading_reply_code, squash,
    starts_with_ignore_case, status_in_with,
};
use rebound_core::Reason;

pub struct EzWeb;

impl Decoder for EzWeb {
    fn name(&self) -> &'static str {
        "EZweb"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.from_lower.contains("ezweb.ne.jp")
            || !starts_with_ignore_case(mail.subject.trim(), "Mail System Error")
        {
            return None;
        }
        let notice = parse_notice(&mail.text);
        let reported = deliveries_from_report(mail);
        let mut found: Vec<Delivery> = Vec::new();
        for rcpt in &notice.recipients {
            let mut d = reported
                .iter()
                .find(|r| r.recipient.eq_ignore_ascii_case(&rcpt.address))
                .cloned()
                .unwrap_or_else(|| Delivery {
                    recipient: rcpt.address.clone(),
                    action: "failed".to_string(),
                    ..Delivery::default()
                });
            apply(&mut d, rcpt, &notice.summary);
            found.push(d);
        }
        if found.is_empty() {
            for mut d in reported {
                let rcpt = Recipient::default();
                apply(&mut d, &rcpt, &notice.summary);
                found.push(d);
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

fn apply(d: &mut Delivery, rcpt: &Recipient, summary: &str) {
    if !rcpt.reply.is_empty() {
        d.diagnostic = squash(&rcpt.reply);
        d.status = d
            .status
            .or_else(|| status_in_with(&d.diagnostic, StatusBounds::Word));
        d.replycode = leading_reply_code(&d.diagnostic);
        d.command = rcpt.command.unwrap_or("").to_string();
    } else {
        d.diagnostic = summary.to_string();
        d.replycode = d.replycode.or_else(|| leading_reply_code(&rcpt.inline));
        if starts_with_ignore_case(summary, "Your message was not delivered within") {
            // The carrier gave up retrying: a queue expiry.
            d.reason = Some(Reason::Expired);
            d.action = "delayed".to_string();
        } else if contains_ignore_case(summary, "rejected by a remote mail server")
            && rcpt.inline.is_empty()
        {
            // The rejection notice without any SMTP reply is what the
            // carrier sends when the recipient's domain filter refused.
            d.reason = Some(Reason::Filtered);
        } else {
            // A failure explained only by the carrier's summary sentence.
            d.reason = d.reason.or(Some(Reason::OnHold));
        }
    }
}

#[derive(Default)]
struct Recipient {
    address: String,
    /// A reply written on the address line (`<a@b>: 550 user unknown`).
    inline: String,
    command: Option<&'static str>,
    /// The reply after `<<<`.
    reply: String,
}

#[derive(Default)]
struct Notice {
    summary: String,
    recipients: Vec<Recipient>,
}

fn parse_notice(text: &str) -> Notice {
    let mut notice = Notice::default();
    let mut summary_done = false;
    for line in text.split_lines().take(300) {
        let t = line.trim();
        if t.starts_with("-----") || starts_with_ignore_case(t, "received:") {
            break;
        }
        if t.is_empty() {
            if !notice.summary.is_empty() {
                summary_done = true;
            }
            continue;
        }
        if let Some(reply) = t.strip_prefix("<<<") {
            if let Some(r) = notice.recipients.last_mut() {
                if !r.reply.is_empty() {
                    r.reply.push(' ');
                }
                r.reply.push_str(reply.trim());
            }
            continue;
        }
        if t.starts_with(">>>") {
            if let Some(r) = notice.recipients.last_mut() {
                r.command = Some(command_in(t)).filter(|c| !c.is_empty());
            }
            continue;
        }
        let addressed = t.starts_with('<') || starts_with_ignore_case(t, "recipient:");
        if addressed && let Some(address) = find_address(t) {
            let inline = t
                .split_once(">:")
                .map(|(_, rest)| rest.trim().to_string())
                .unwrap_or_default();
            notice.recipients.push(Recipient {
                address,
                inline,
                ..Recipient::default()
            });
            continue;
        }
        if !summary_done && t.is_ascii() {
            if !notice.summary.is_empty() {
                notice.summary.push(' ');
            }
            notice.summary.push_str(t);
            if t.ends_with('.') || t.ends_with(':') {
                summary_done = true;
            }
        }
    }
    notice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(body: &str) -> Mail {
        let raw = format!(
            "From: Postmaster@ezweb.ne.jp\nTo: a@example.jp\nSubject: Mail System Error - Returned Mail\n\n{body}"
        );
        Mail::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn reply_after_the_command() {
        let m = mail(
            "Each of the following recipients was rejected by a remote\nmail server.\n\n\
    Recipient: <bob@ezweb.ne.jp>\n    >>> RCPT TO:<bob@ezweb.ne.jp>\n    <<< 550 <bob@ezweb.ne.jp>: User unknown\n",
        );
        let d = &EzWeb.decode(&m).unwrap()[0];
        assert_eq!(d.recipient, "bob@ezweb.ne.jp");
        assert_eq!(d.diagnostic, "550 <bob@ezweb.ne.jp>: User unknown");
        assert_eq!(d.command, "RCPT");
        assert_eq!(d.replycode.unwrap().get(), 550);
        assert_eq!(d.reason, None);
    }

    #[test]
    fn summaries_without_reply() {
        let m = mail(
            "<bob@ezweb.ne.jp>\nEach of the following recipients was rejected by a remote mail server.\n",
        );
        let d = &EzWeb.decode(&m).unwrap()[0];
        assert_eq!(d.reason, Some(Reason::Filtered));
        let m = mail(
            "Your message was not delivered within 0 days and 1 hours.\nRemote host is not responding.\n\n<bob@ezweb.ne.jp>\n",
        );
        let d = &EzWeb.decode(&m).unwrap()[0];
        assert_eq!(d.reason, Some(Reason::Expired));
        assert_eq!(
            d.diagnostic,
            "Your message was not delivered within 0 days and 1 hours."
        );
        let other =
            Mail::parse(b"From: a@example.jp\nSubject: Mail System Error\n\n<b@c.example>\n")
                .unwrap();
        assert!(EzWeb.decode(&other).is_none());
    }
}
