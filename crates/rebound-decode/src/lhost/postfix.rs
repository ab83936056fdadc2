//! Postfix's bounce, delay and success notices: a text part (`This is the
//! mail system at host ...`) with one `<address>: reason` paragraph per
//! recipient, usually followed by an RFC 3464 report. The report gives the
//! status; the text adds what the report leaves out (the SMTP command, the
//! reply when the report has none, the address before alias expansion).
//! Also Postfix's notice to the postmaster about an SMTP session error,
//! which is a transcript of the session.

use super::common::{MAX_RECIPIENTS, delivery_from_block};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{DeliveryStatus, clean_address, find_address, looks_like_address, typed_value};
use crate::mail::Mail;
use crate::text::{
    Needle, SplitLines, better_status, command_in, contains_ignore_case, find_ignore_case, head,
    reply_code_in, rfind_ignore_case, squash, status_in,
};
use rebound_core::Reason;

pub struct Postfix;

static INTROS: [Needle; 3] = [
    Needle::new("This is the mail system at host"),
    Needle::new("This is the Postfix program at host"),
    Needle::new("This is the mail system at"),
];
static QUEUE_ID: Needle = Needle::new("X-Postfix-Queue-ID");

/// One `<address>: reason` paragraph of the text part.
struct TextEntry {
    recipient: String,
    alias: String,
    body: String,
}

impl Decoder for Postfix {
    fn name(&self) -> &'static str {
        "Postfix"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let subject = mail.subject.as_str();
        let gate = mail.from_lower.contains("mail delivery system")
            || subject.starts_with("Undelivered Mail Returned to Sender")
            || subject.starts_with("Delayed Mail")
            || subject.starts_with("Successful Mail Delivery Report")
            || subject.starts_with("Mail Delivery Status Report")
            || subject.starts_with("Postfix SMTP server: errors from")
            || mail
                .report("delivery-status")
                .is_some_and(|r| QUEUE_ID.is_in(head(r, 1024)));
        if !gate {
            return None;
        }
        if subject.starts_with("Postfix SMTP server: errors from") {
            return session_error(mail);
        }
        let top = head(&mail.text, 4096);
        let has_intro = INTROS.iter().any(|m| m.is_in(top));
        // The report part, or the same fields written inline when the MIME
        // structure was lost.
        let report = mail.report("delivery-status").or_else(|| {
            let p = find_ignore_case(&mail.text, "\nFinal-Recipient:")?;
            let start = rfind_ignore_case(mail.text.get(..p)?, "Reporting-MTA:").unwrap_or(p + 1);
            mail.text.get(start..)
        });
        let postfix_report = report.is_some_and(|r| contains_ignore_case(r, "X-Postfix-"));
        if !has_intro && !postfix_report {
            return None;
        }
        let entries = text_entries(&mail.text);
        let delayed = subject.starts_with("Delayed Mail");

        let mut out = Vec::new();
        if let Some(report) = report {
            let ds = DeliveryStatus::parse(report);
            let lhost = typed_value(ds.message.value("reporting-mta")).1.to_string();
            let date = ds.message.value("arrival-date").to_string();
            // The text's paragraph for an address (its recipient or the
            // address it was expanded from), the first one when several
            // name it. A notice has a handful: a scan beats building a map.
            let entry_for = |address: &str| {
                entries.iter().find(|e| {
                    [&e.recipient, &e.alias]
                        .iter()
                        .any(|a| !a.is_empty() && a.eq_ignore_ascii_case(address))
                })
            };
            for block in ds.recipients.iter().take(MAX_RECIPIENTS) {
                let Some(recipient) = block_recipient(block.value("final-recipient"))
                    .or_else(|| block_recipient(block.value("original-recipient")))
                else {
                    continue;
                };
                let original = clean_address(block.value("original-recipient"));
                let entry = entry_for(&recipient).or_else(|| entry_for(&original));
                let mut d = delivery_from_block(block, recipient, &lhost, &date);
                if !original.is_empty()
                    && looks_like_address(&original)
                    && !original.eq_ignore_ascii_case(&d.recipient)
                {
                    d.alias = original;
                }
                if let Some(e) = entry {
                    enrich(&mut d, e);
                }
                finish(&mut d, delayed);
                out.push(d);
            }
        }
        if out.is_empty() {
            for e in entries.iter().take(MAX_RECIPIENTS) {
                let mut d = Delivery {
                    recipient: e.recipient.clone(),
                    diagnostictype: "SMTP".into(),
                    ..Delivery::default()
                };
                enrich(&mut d, e);
                finish(&mut d, delayed);
                out.push(d);
            }
        }
        if out.is_empty() && mail.text.contains("Delivery report unavailable") {
            // The report lost its recipients: the returned message names them.
            if let Some(to) = mail.original_headers().get("to").and_then(find_address) {
                // Nothing is known about the attempt, not even its outcome.
                out.push(Delivery {
                    recipient: to,
                    ..Delivery::default()
                });
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// A recipient as the report writes it, keeping a quoted local part whole.
fn block_recipient(field: &str) -> Option<String> {
    let (_, v) = typed_value(field);
    let v = v
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    if v.starts_with('"') && v.contains("\"@") && !v.contains(char::is_whitespace) {
        return Some(v.to_string());
    }
    let c = clean_address(field);
    looks_like_address(&c).then_some(c)
}

fn enrich(d: &mut Delivery, e: &TextEntry) {
    if d.diagnostic.is_empty() {
        d.diagnostic = e.body.clone();
    }
    if d.alias.is_empty() && !e.alias.is_empty() && !e.alias.eq_ignore_ascii_case(&d.recipient) {
        d.alias = e.alias.clone();
    }
    if d.command.is_empty() {
        d.command = command_in(&e.body).to_string();
    }
    if d.rhost.is_empty() {
        d.rhost = rhost_of(&e.body);
    }
    if d.replycode.is_none() {
        d.replycode = reply_code_in(&e.body);
    }
}

fn finish(d: &mut Delivery, delayed: bool) {
    if d.action.is_empty() {
        d.action = if delayed { "delayed" } else { "failed" }.into();
    }
    if d.command.is_empty() {
        d.command = command_in(&d.diagnostic).to_string();
    }
    if d.replycode.is_none() {
        d.replycode = reply_code_in(&d.diagnostic);
    }
    let text_status = status_in(&d.diagnostic);
    d.status = match (d.status, text_status, d.replycode) {
        // The report's class contradicts the server's reply, which carries
        // its own status: the server's words win.
        (Some(r), Some(t), Some(code))
            if r.class_digit() as u16 != code.get() / 100
                && t.class_digit() as u16 == code.get() / 100 =>
        {
            Some(t)
        }
        (r, t, _) => better_status(r, t),
    };
    if d.diagnostictype.eq_ignore_ascii_case("X-UNIX") && d.reason.is_none() {
        // Postfix's local or pipe delivery agent failed.
        d.reason = Some(Reason::MailerError);
    }
    // Postfix returns a message with a temporary status only when it gave
    // up retrying: the queue lifetime expired. When no server replied (a
    // connection or lookup failure), that expiry is all there is to say.
    if d.action == "failed"
        && d.reason.is_none()
        && d.status.is_some_and(|s| s.class_digit() == 4)
        && d.replycode.is_none()
    {
        d.reason = Some(Reason::Expired);
    }
}

/// `host NAME[IP] said:` or `connect to NAME[IP]`.
fn rhost_of(body: &str) -> String {
    for key in ["host ", "connect to "] {
        if let Some(pos) = body.find(key) {
            let rest = body.get(pos + key.len()..).unwrap_or("");
            let word = rest.split_whitespace().next().unwrap_or("");
            let name = word.split('[').next().unwrap_or("");
            if name.contains('.') {
                return name.trim_end_matches([':', ',']).to_string();
            }
        }
    }
    String::new()
}

/// The `<address>: reason` paragraphs of the notice.
fn text_entries(text: &str) -> Vec<TextEntry> {
    let mut out: Vec<TextEntry> = Vec::new();
    let mut open = false;
    for line in text.split_lines() {
        if line.starts_with('<') {
            let Some(close) = line.find('>') else {
                open = false;
                continue;
            };
            let is_entry = line.get(close + 1..).is_some_and(|r| {
                r.starts_with(':') || r.trim_start().starts_with("(expanded from")
            });
            if !is_entry && open {
                if let Some(e) = out.last_mut() {
                    e.body.push(' ');
                    e.body.push_str(line.trim());
                }
                continue;
            }
            let addr = line.get(1..close).unwrap_or("").trim();
            let rest = line.get(close + 1..).unwrap_or("");
            let (alias, rest) = match rest.trim_start().strip_prefix("(expanded from ") {
                Some(r) => match r.split_once(')') {
                    Some((a, after)) => (clean_address(a), after),
                    None => (String::new(), rest),
                },
                None => (String::new(), rest),
            };
            let Some(body) = rest.trim_start().strip_prefix(':') else {
                open = false;
                continue;
            };
            let recipient = if addr.starts_with('"') && addr.contains("\"@") {
                addr.to_string()
            } else {
                clean_address(addr)
            };
            if !looks_like_address(&recipient) && !recipient.starts_with('"') {
                open = false;
                continue;
            }
            out.push(TextEntry {
                recipient,
                alias,
                body: body.trim().to_string(),
            });
            open = true;
            continue;
        }
        if open && !line.trim().is_empty() {
            if let Some(e) = out.last_mut() {
                e.body.push(' ');
                e.body.push_str(line.trim());
            }
            continue;
        }
        open = false;
    }
    for e in &mut out {
        e.body = squash(&e.body);
    }
    out
}

/// `Postfix SMTP server: errors from HOST`: a session transcript of `In:`
/// and `Out:` lines. The recipient is the `RCPT TO` of the session, the
/// diagnostic the last error reply.
fn session_error(mail: &Mail) -> Option<Vec<Delivery>> {
    if !mail.text.contains("Transcript of session follows") {
        return None;
    }
    let mut recipients: Vec<String> = Vec::new();
    let mut last_command = String::new();
    let mut failure: Option<(String, String)> = None;
    let mut previous_out = String::new();
    for line in mail.text.split_lines() {
        let t = line.trim();
        if let Some(cmd) = t.strip_prefix("In:") {
            let cmd = cmd.trim();
            if let Some(rest) = cmd.strip_prefix("RCPT TO:")
                && let Some(a) = find_address(rest.split_whitespace().next().unwrap_or(rest))
            {
                recipients.push(a);
            }
            last_command = cmd
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
        } else if let Some(reply) = t.strip_prefix("Out:") {
            let reply = reply.trim();
            if failure.is_none()
                && reply_code_in(reply.get(..4).unwrap_or(reply)).is_some()
                && !last_command.is_empty()
            {
                let text = if previous_out.starts_with("354") {
                    format!("{previous_out} {reply}")
                } else {
                    reply.to_string()
                };
                failure = Some((last_command.clone(), text));
            }
            previous_out = reply.to_string();
        }
    }
    let (command, diagnostic) = failure?;
    let lhost = mail
        .headers
        .value("from")
        .split('@')
        .nth(1)
        .and_then(|r| r.split([' ', '>', '(']).next())
        .unwrap_or("")
        .to_string();
    let out: Vec<Delivery> = recipients
        .into_iter()
        .map(|recipient| Delivery {
            recipient,
            action: "failed".into(),
            status: status_in(&diagnostic),
            replycode: reply_code_in(&diagnostic.replace("354 ", "")),
            command: command.clone(),
            diagnostic: diagnostic.clone(),
            diagnostictype: "SMTP".into(),
            lhost: lhost.clone(),
            ..Delivery::default()
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"

--B
Content-Type: text/plain

This is the mail system at host mx.example.org.

<a@example.net> (expanded from <list@example.org>): host mx.example.net[192.0.2.1]
    said: 550 5.1.1 <a@example.net>: Recipient address rejected: User unknown
    (in reply to RCPT TO command)

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: ABC

Final-Recipient: rfc822; a@example.net
Original-Recipient: rfc822;list@example.org
Action: failed
Status: 5.0.0
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <a@example.net>: Recipient address rejected:
    User unknown
--B--
";

    #[test]
    fn report_is_enriched_from_the_text() {
        let mail = Mail::parse(SAMPLE.as_bytes()).unwrap();
        let found = Postfix.decode(&mail).unwrap();
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(d.recipient, "a@example.net");
        assert_eq!(d.alias, "list@example.org");
        assert_eq!(d.command, "RCPT");
        assert_eq!(d.replycode.unwrap().get(), 550);
        assert_eq!(d.status.unwrap().to_string(), "5.1.1");
        assert_eq!(d.rhost, "mx.example.net");
    }

    #[test]
    fn text_only_notice() {
        let raw = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n\
Subject: Undelivered Mail Returned to Sender\n\n\
This is the Postfix program at host mx.example.org.\n\n\
<b@example.com>: Name service error for domain example.com: Host not
    found, try again
";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Postfix.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "b@example.com");
        assert_eq!(
            found[0].diagnostic,
            "Name service error for domain example.com: Host not found, try again"
        );
        assert!(
            Postfix
                .decode(&Mail::parse(b"Subject: hi\n\nhello\n").unwrap())
                .is_none()
        );
    }
}
