//! Gmail's own plain-text notices ("Delivery to the following recipient
//! failed permanently"), sent by mailer-daemon@googlemail.com before Gmail
//! switched to RFC 3464 reports.

use super::provider_helpers::{MAX_LINES, address_line, failed_recipients, from_lower, join_lines};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, starts_with_ignore_case, text_before};
use rebound_core::Reason;

pub struct Gmail;

const START: &str = "Delivery to the following recipient";
const END_MARKERS: &[&str] = &[
    "----- Original message -----",
    "----- Message header follows -----",
    "----- Original Message -----",
];

impl Decoder for Gmail {
    fn name(&self) -> &'static str {
        "Gmail"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        static DAEMON: Needle = Needle::new("mailer-daemon@google");
        let from = from_lower(mail);
        // The shared prefix first: almost every bounce fails there.
        if !DAEMON.is_in(from)
            || (!from.contains("mailer-daemon@googlemail.com")
                && !from.contains("mailer-daemon@google.com"))
        {
            return None;
        }
        if !mail.text.contains(START) {
            return None;
        }
        let body = text_before(&mail.text, END_MARKERS);
        let mut recipients: Vec<String> = Vec::new();
        let mut diag_lines: Vec<&str> = Vec::new();
        let mut started = false;
        let mut delayed = false;
        for line in body.split_lines().take(MAX_LINES) {
            let t = line.trim();
            if !started {
                if starts_with_ignore_case(t, START) {
                    started = true;
                    delayed = t.contains("delayed");
                    diag_lines.push(t);
                }
                continue;
            }
            if line.starts_with([' ', '\t'])
                && let Some(a) = address_line(t)
            {
                if !recipients.iter().any(|r| r.eq_ignore_ascii_case(&a)) {
                    recipients.push(a);
                }
                continue;
            }
            diag_lines.push(t);
        }
        if recipients.is_empty() {
            recipients = failed_recipients(mail);
        }
        if recipients.is_empty() {
            return None;
        }
        let diagnostic = join_lines(diag_lines);
        let command = state_command(&diagnostic).to_string();
        let rhost = rejecting_host(&diagnostic);
        // Gmail gave up after failing to connect for its whole retry period.
        let gave_up = !delayed && diagnostic.contains("did not accept our requests to connect");
        let out = recipients
            .into_iter()
            .map(|recipient| Delivery {
                recipient,
                action: if delayed { "delayed" } else { "failed" }.to_string(),
                diagnostic: diagnostic.clone(),
                command: command.clone(),
                rhost: rhost.clone(),
                reason: gave_up.then_some(Reason::Expired),
                ..Delivery::default()
            })
            .collect();
        Some(out)
    }
}

/// Gmail's outbound client names the SMTP stage that failed as `(state N)`.
fn state_command(text: &str) -> &'static str {
    let Some(pos) = text.rfind("(state ") else {
        return "";
    };
    let digits: String = text
        .get(pos + 7..)
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    match digits.as_str() {
        "6" => "MAIL",
        "14" => "RCPT",
        "18" => "DATA",
        _ => "",
    }
}

/// `... rejected by the server for the recipient domain example.jp by
/// mx.example.jp. [192.0.2.1].`
fn rejecting_host(text: &str) -> String {
    let Some(pos) = text.find("for the recipient domain ") else {
        return String::new();
    };
    let rest = text.get(pos..).unwrap_or("");
    let Some(by) = rest.find(" by ") else {
        return String::new();
    };
    let host: String = rest
        .get(by + 4..)
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .collect();
    host.trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
To: sender@example.com\nSubject: Delivery Status Notification (Failure)\n\
Content-Type: text/plain; charset=UTF-8\n\n\
Delivery to the following recipient failed permanently:\n\n     nobody@example.net\n\n\
Technical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the server for the recipient domain example.net by mx.example.net. [192.0.2.7].\n\n\
The error that the other server returned was:\n550 5.1.1 <nobody@example.net>... no such user (state 14).\n\n\
----- Original message -----\n\nTo: nobody@example.net\nSubject: hi\n\nbody\n";

    #[test]
    fn reads_recipient_reply_and_state() {
        let mail = Mail::parse(SAMPLE.as_bytes()).unwrap();
        let d = Gmail.decode(&mail).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].recipient, "nobody@example.net");
        assert!(
            d[0].diagnostic
                .contains("550 5.1.1 <nobody@example.net>... no such user")
        );
        assert!(!d[0].diagnostic.contains("Original message"));
        assert_eq!(d[0].command, "RCPT");
        assert_eq!(d[0].rhost, "mx.example.net");
        assert_eq!(d[0].action, "failed");
    }

    #[test]
    fn delay_notice_and_foreign_mail() {
        let delayed = SAMPLE.replace("failed permanently", "has been delayed");
        let mail = Mail::parse(delayed.as_bytes()).unwrap();
        assert_eq!(Gmail.decode(&mail).unwrap()[0].action, "delayed");
        let foreign = SAMPLE.replace("googlemail.com", "example.org");
        assert!(
            Gmail
                .decode(&Mail::parse(foreign.as_bytes()).unwrap())
                .is_none()
        );
    }
}
