//! Sendmail version 5 (and other pre-DSN Sendmails): a `Returned mail:`
//! notice with `----- Transcript of session follows -----`, where each
//! failed recipient is a `5xx <address>... reason` line, preceded by the
//! SMTP dialogue that caused it (`While talking to host:`, `>>> RCPT
//! To:<...>`, `<<< 550 ...`), and `----- Unsent message follows -----`.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::{Mail, original_from_text};
use crate::text::{SplitLines, command_in, leading_reply_code, reply_code_in, squash};
use rebound_core::Reason;

pub struct V5sendmail;

const TRANSCRIPT: &str = "----- Transcript of session follows -----";
const UNSENT: &str = "----- Unsent message follows -----";

/// What the SMTP dialogue with one host said last.
#[derive(Default)]
struct Session {
    host: String,
    command: &'static str,
    reply: Vec<String>,
}

impl Decoder for V5sendmail {
    fn name(&self) -> &'static str {
        "V5sendmail"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.subject.starts_with("Returned mail:") {
            return None;
        }
        let start = mail.text.find(TRANSCRIPT)?;
        let end = mail.text.find(UNSENT)?;
        let transcript = mail.text.get(start + TRANSCRIPT.len()..end)?;
        let original = original_from_text(mail.text.get(end + UNSENT.len()..).unwrap_or(""));
        let expired = mail.subject_lower.contains("cannot send message for");

        let mut out = Vec::new();
        let mut session = Session::default();
        // A failure not tied to one address (`421 host (smtp)... Deferred`).
        let mut host_failure: Option<String> = None;
        for line in transcript.split_lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("While talking to ") {
                session = Session {
                    host: rest.trim_end_matches(':').trim().to_string(),
                    ..Session::default()
                };
                continue;
            }
            if let Some(rest) = t.strip_prefix(">>> ") {
                session.command = command_in(&format!(">>> {rest}"));
                session.reply.clear();
                continue;
            }
            if let Some(rest) = t.strip_prefix("<<< ") {
                session.reply.push(rest.trim().to_string());
                continue;
            }
            let Some(code) = leading_reply_code(t) else {
                continue;
            };
            let Some((who, what)) = t.get(4..).and_then(|r| r.split_once("... ")) else {
                continue;
            };
            let what = what.trim();
            if !who.contains('@') {
                if host_failure.is_none() && code.get() >= 400 {
                    host_failure = Some(t.to_string());
                }
                continue;
            }
            let Some(recipient) = find_address(who) else {
                continue;
            };
            let reply = squash(&session.reply.join(" "));
            let (diagnostic, command) = if reply.is_empty() {
                (what.to_string(), "")
            } else {
                (format!("{what}: {reply}"), session.command)
            };
            let replycode = reply_code_in(&reply)
                .or_else(|| reply_code_in(what))
                .or(Some(code));
            session.reply.clear();
            out.push(Delivery {
                recipient,
                action: "failed".into(),
                replycode,
                command: command.to_string(),
                diagnostic,
                diagnostictype: "SMTP".into(),
                rhost: session.host.clone(),
                reason: expired.then_some(Reason::Expired),
                ..Delivery::default()
            });
        }
        if out.is_empty()
            && let Some(line) = host_failure
            && let Some(recipient) = original.headers.get("to").and_then(find_address)
        {
            let diagnostic = line
                .split_once("... ")
                .map(|(_, w)| w.trim().to_string())
                .unwrap_or_else(|| line.clone());
            out.push(Delivery {
                recipient,
                action: "failed".into(),
                replycode: leading_reply_code(&line),
                diagnostic,
                diagnostictype: "SMTP".into(),
                reason: expired.then_some(Reason::Expired),
                ..Delivery::default()
            });
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_transcript() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n\
Subject: Returned mail: User unknown\n\n\
   ----- Transcript of session follows -----\n\
While talking to mx.example.net:\n>>> RCPT To:<a@example.net>\n\
<<< 550 <a@example.net>... no such user\n550 <a@example.net>... User unknown\n\
550 example.com (smtp)... 550 Host unknown\n\
554 <b@example.com>... 550 Host unknown (Authoritative answer from name server)\n\n\
   ----- Unsent message follows -----\nFrom: s@example.org\nTo: a@example.net\n\nhi\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = V5sendmail.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].rhost, "mx.example.net");
        assert_eq!(
            found[0].diagnostic,
            "User unknown: 550 <a@example.net>... no such user"
        );
        assert_eq!(found[1].recipient, "b@example.com");
        assert_eq!(found[1].replycode.unwrap().get(), 550);
        assert_eq!(found[1].command, "");
    }

    #[test]
    fn expiry_without_recipient_lines_uses_the_returned_headers() {
        let raw = "From: MAILER-DAEMON@mx.example.org\n\
Subject: Returned mail: Cannot send message for 5 days\n\n\
   ----- Transcript of session follows -----\n\
421 example.net (smtp)... Deferred: Connection timed out\n\n\
   ----- Unsent message follows -----\nFrom: s@example.org\nTo: a@example.net\n\nhi\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = V5sendmail.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].reason, Some(Reason::Expired));
        assert_eq!(found[0].replycode.unwrap().get(), 421);
    }
}
