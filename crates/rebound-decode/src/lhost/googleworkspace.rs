//! Gmail and Google Workspace notices of the current shape: a text part
//! opening with a `** Address not found **`-style title, a sentence naming
//! the recipient, and `The response was:` with the remote reply, usually
//! with an RFC 3464 report whose `Diagnostic-Code` may be empty or cut.
//!
//! `GSuite` reads the ones with a report recipient, `GoogleWorkspace` the
//! ones whose report is empty (relay errors such as a misconfigured
//! 'Send mail as' account).

use super::common::deliveries_from_report;
use super::provider_helpers::{
    MAX_LINES, failed_recipients, from_lower, gave_up_on_temporary, join_lines, original_to,
    refine_status,
};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::looks_like_address;
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, starts_with_ignore_case};
use rebound_core::Reason;

pub struct GSuite;
pub struct GoogleWorkspace;

/// What the text part says.
struct Notice {
    /// Title and explanation lines (before `The response was:`).
    explanation: String,
    /// The reply quoted after `The response was:`.
    response: String,
    /// The address in "wasn't delivered to X" / "your message to X.".
    recipient: Option<String>,
}

fn is_google_notice(mail: &Mail) -> bool {
    static DAEMON: Needle = Needle::new("mailer-daemon@google");
    let from = from_lower(mail);
    DAEMON.is_in(from)
        && (from.contains("mailer-daemon@googlemail.com")
            || from.contains("mailer-daemon@google.com"))
        && mail
            .text
            .split_lines()
            .take(40)
            .any(|l| l.trim().starts_with("** ") && l.trim().ends_with(" **"))
}

fn read_notice(text: &str) -> Notice {
    let mut explanation: Vec<&str> = Vec::new();
    let mut response: Vec<&str> = Vec::new();
    let mut in_title = false;
    let mut in_response = false;
    let mut blanks = 0;
    for line in text.split_lines().take(MAX_LINES) {
        let t = line.trim();
        if !in_title {
            if t.starts_with("** ") && t.ends_with(" **") {
                in_title = true;
                explanation.push(t);
            }
            continue;
        }
        if in_response {
            if t.is_empty() {
                blanks += 1;
                if blanks >= 2 && !response.is_empty() {
                    break;
                }
                continue;
            }
            if is_header_line(t) || response.len() >= 20 {
                break;
            }
            blanks = 0;
            response.push(t);
            continue;
        }
        if starts_with_ignore_case(t, "The response") && t.ends_with(':') {
            in_response = true;
            continue;
        }
        if is_header_line(t) || explanation.len() >= 20 {
            break;
        }
        explanation.push(t);
    }
    let explanation = join_lines(explanation);
    let recipient = ["wasn't delivered to ", "your message to "]
        .iter()
        .find_map(|m| {
            let pos = explanation.find(m)?;
            let word = explanation
                .get(pos + m.len()..)?
                .split_whitespace()
                .next()?;
            let a = word.trim_end_matches(['.', ',', ';']).to_string();
            looks_like_address(&a).then_some(a)
        });
    Notice {
        explanation,
        response: join_lines(response),
        recipient,
    }
}

/// `Name: value` with a one-word field name: the start of the returned
/// message's headers, not notice text.
fn is_header_line(t: &str) -> bool {
    match t.split_once(':') {
        Some((name, _)) => {
            !name.is_empty()
                && name.len() < 40
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && name.contains('-')
                || matches!(name, "Subject" | "From" | "To" | "Date" | "Received")
        }
        None => false,
    }
}

/// The diagnostic for one recipient: Google's explanation followed by the
/// quoted reply when the text has one (the report's field is often cut),
/// else the report's, else the explanation alone.
fn diagnostic_for(notice: &Notice, report: &str) -> String {
    let reply = if notice.response.len() >= report.len() {
        notice.response.as_str()
    } else {
        report
    };
    match (notice.explanation.is_empty(), reply.is_empty()) {
        (_, true) => notice.explanation.clone(),
        (true, false) => reply.to_string(),
        (false, false) => format!("{} The response was: {}", notice.explanation, reply),
    }
}

impl Decoder for GSuite {
    fn name(&self) -> &'static str {
        "GSuite"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        mail.report("delivery-status")?;
        if !is_google_notice(mail) {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        if found.is_empty() {
            return None;
        }
        let notice = read_notice(&mail.text);
        for d in &mut found {
            d.diagnostic = diagnostic_for(&notice, &d.diagnostic);
            d.status = refine_status(d.status, &d.diagnostic);
            if gave_up_on_temporary(d) && notice.explanation.contains("** Message not delivered **")
            {
                d.reason = Some(Reason::Expired);
            }
            if d.rhost.contains(' ') {
                // `Remote-MTA: dns; mx.example.org. (192.0.2.1, the server ...)`
                let host = d.rhost.split_whitespace().next().unwrap_or("");
                d.rhost = host.trim_end_matches('.').to_string();
            }
        }
        Some(found)
    }
}

impl Decoder for GoogleWorkspace {
    fn name(&self) -> &'static str {
        "GoogleWorkspace"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !is_google_notice(mail) {
            return None;
        }
        if !deliveries_from_report(mail).is_empty() {
            return None;
        }
        let notice = read_notice(&mail.text);
        // The notice names the recipient, or else the returned message
        // does; `X-Failed-Recipients` is the last resort.
        let recipient = notice
            .recipient
            .clone()
            .or_else(|| original_to(mail))
            .or_else(|| failed_recipients(mail).into_iter().next())?;
        let mut diagnostic = notice.explanation.clone();
        if !notice.response.is_empty() {
            diagnostic.push_str(" The response was: ");
            diagnostic.push_str(&notice.response);
        }
        let status = rebound_classify::reply::parse(&notice.response).status;
        Some(vec![Delivery {
            recipient,
            action: "failed".to_string(),
            status,
            diagnostic,
            ..Delivery::default()
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(report: &str) -> String {
        format!(
            "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
Subject: Delivery Status Notification (Failure)\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain; charset=UTF-8\n\n\
** Address not found **\n\nYour message wasn't delivered to gone@example.net because the address couldn't be found.\n\n\
The response from the remote server was:\n550 #5.1.1 mailbox gone\n\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; googlemail.com\n\n{report}\n\
--B\nContent-Type: message/rfc822\n\nTo: gone@example.net\nSubject: x\n\nbody\n--B--\n"
        )
    }

    #[test]
    fn report_recipient_with_reply_from_the_text() {
        let raw = sample(
            "Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550\n",
        );
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let d = GSuite.decode(&mail).unwrap();
        assert_eq!(d[0].recipient, "gone@example.net");
        assert!(
            d[0].diagnostic
                .ends_with("The response was: 550 #5.1.1 mailbox gone")
        );
        assert_eq!(d[0].status.unwrap().to_string(), "5.1.1");
        assert!(GoogleWorkspace.decode(&mail).is_none());
    }

    #[test]
    fn empty_report_reads_the_notice() {
        let mail = Mail::parse(sample("").as_bytes()).unwrap();
        assert!(GSuite.decode(&mail).is_none());
        let d = GoogleWorkspace.decode(&mail).unwrap();
        assert_eq!(d[0].recipient, "gone@example.net");
        assert!(d[0].diagnostic.contains("couldn't be found"));
        assert!(d[0].diagnostic.contains("550 #5.1.1 mailbox gone"));
    }
}
