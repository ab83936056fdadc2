//! Sendmail's DSN notices (`Returned mail: see transcript for details`):
//! a text part listing the failed addresses under `----- The following
//! addresses had permanent fatal errors -----` and the SMTP transcript
//! (`... while talking to host:`, `>>> DATA`, `<<< 550 ...`), then an RFC
//! 3464 report. The report gives the recipients; the transcript gives the
//! command and, when the report's diagnostic is a bare exit code, the reply.

use super::common::{MAX_RECIPIENTS, delivery_from_block};
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{
    DeliveryStatus, clean_address, find_address, is_internal_route, looks_like_address, typed_value,
};
use crate::mail::Mail;
use crate::text::{
    Needle, SplitLines, command_in, find_ignore_case, head, join_reply, leading_reply_code,
    reply_code_in, squash, starts_with_ignore_case, status_in,
};
use rebound_core::Reason;

pub struct Sendmail;

const FATAL: &str = "----- The following addresses had ";
static FATAL_LINE: Needle = Needle::new(FATAL);
const TRANSCRIPT: &str = "----- Transcript of session follows -----";

/// One `while talking to` section of the transcript.
#[derive(Default)]
struct Session {
    host: String,
    /// (command sent, reply lines received) in order.
    exchanges: Vec<(String, Vec<String>)>,
    /// `NNN x.y.z <address>... text` lines sendmail wrote itself.
    own: Vec<String>,
    /// Everything the section says, lower-cased, to find addresses in.
    lower: String,
    /// Every line sendmail wrote itself (not `>>>`/`<<<`), for notices
    /// without a reply (`<address>... Deferred: ...`).
    notes: Vec<String>,
}

impl Session {
    /// The first failing reply and the command it answered.
    fn failure(&self) -> Option<(&str, String)> {
        self.exchanges.iter().find_map(|(cmd, replies)| {
            let joined = squash(&join_reply(replies.iter().map(String::as_str)));
            leading_reply_code(&joined)
                .filter(|c| c.get() >= 400)
                .map(|_| (cmd.as_str(), joined))
        })
    }

    /// The failing reply to the command that named `address` (`RCPT
    /// To:<address>`), when the session sent several recipients; else the
    /// session's first failing reply.
    fn failure_for(&self, address: &str) -> Option<(&str, String)> {
        let lower = address.to_ascii_lowercase();
        self.exchanges
            .iter()
            .filter(|(cmd, _)| cmd.to_ascii_lowercase().contains(&lower))
            .find_map(|(cmd, replies)| {
                let joined = squash(&join_reply(replies.iter().map(String::as_str)));
                leading_reply_code(&joined)
                    .filter(|c| c.get() >= 400)
                    .map(|_| (cmd.as_str(), joined))
            })
            .or_else(|| self.failure())
    }

    fn mentions(&self, address: &str) -> bool {
        self.lower.contains(&address.to_ascii_lowercase())
    }
}

impl Decoder for Sendmail {
    fn name(&self) -> &'static str {
        "Sendmail"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let subject = mail.subject.as_str();
        let gate = mail.from_lower.contains("mail delivery subsystem")
            || mail.subject_lower.contains("returned mail:")
            || subject.starts_with("Warning: could not send message")
            || subject.starts_with("Postmaster notify");
        if !gate {
            return None;
        }
        let top = head(&mail.text, 8192);
        static MARKERS: [Needle; 3] = [
            Needle::new(FATAL),
            Needle::new(TRANSCRIPT),
            Needle::new("Warning: message still undelivered"),
        ];
        if !MARKERS.iter().any(|m| m.is_in(top)) {
            return None;
        }
        let delayed = subject.starts_with("Warning: could not send message");
        // A forwarded notice is quoted with `>`.
        static QUOTED_FATAL: Needle = Needle::new(">    ----- The following addresses had ");
        let unquoted;
        let text: &str = if QUOTED_FATAL.is_in(top) {
            unquoted = mail
                .text
                .split_lines()
                .map(|l| {
                    l.strip_prefix('>')
                        .map(|r| r.strip_prefix(' ').unwrap_or(r))
                        .unwrap_or(l)
                })
                .collect::<Vec<_>>()
                .join("\n");
            &unquoted
        } else {
            &mail.text
        };
        let listed = listed_addresses(text);
        let sessions = read_transcript(text);

        let ds = match mail.report("delivery-status") {
            Some(r) => DeliveryStatus::parse(r),
            None if mail.report("delivery-status").is_none() => {
                match find_ignore_case(text, "Reporting-MTA:")
                    .or_else(|| find_ignore_case(text, "Final-Recipient:"))
                {
                    Some(p) => DeliveryStatus::parse(text.get(p..).unwrap_or("")),
                    None => DeliveryStatus::default(),
                }
            }
            None => DeliveryStatus::default(),
        };
        let lhost = typed_value(ds.message.value("reporting-mta")).1.to_string();
        let date = ds.message.value("arrival-date").to_string();

        let mut out = Vec::new();
        for (i, block) in ds.recipients.iter().enumerate().take(MAX_RECIPIENTS) {
            let final_rcpt = clean_address(block.value("final-recipient"));
            let original = clean_address(block.value("original-recipient"));
            // An internal route (`user@ims-ms-daemon`) gives way to the
            // address the sender wrote.
            let routed = final_rcpt.starts_with('@')
                || (is_internal_route(&final_rcpt)
                    && looks_like_address(&original)
                    && !is_internal_route(&original));
            let recipient = if looks_like_address(&final_rcpt) && !routed {
                final_rcpt
            } else if let Some((a, _)) = listed.get(i) {
                a.clone()
            } else if looks_like_address(&original) {
                original.clone()
            } else {
                continue;
            };
            let mut d = delivery_from_block(block, recipient, &lhost, &date);
            if looks_like_address(&original) && !original.eq_ignore_ascii_case(&d.recipient) {
                d.alias = original;
            }
            if d.diagnostic.is_empty() {
                // `Status: 4.0.0 (host: host name lookup failure)`.
                let status = block.value("status");
                if let (Some(open), Some(close)) = (status.find('('), status.rfind(')'))
                    && open < close
                {
                    d.diagnostic = status.get(open + 1..close).unwrap_or("").trim().to_string();
                }
            }
            enrich(&mut d, &listed, &sessions, delayed);
            out.push(d);
        }
        if out.is_empty() {
            for (a, reason) in listed.iter().take(MAX_RECIPIENTS) {
                let mut d = Delivery {
                    recipient: a.clone(),
                    diagnostic: reason.clone(),
                    diagnostictype: "SMTP".into(),
                    ..Delivery::default()
                };
                enrich(&mut d, &listed, &sessions, delayed);
                out.push(d);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

fn enrich(d: &mut Delivery, listed: &[(String, String)], sessions: &[Session], delayed: bool) {
    if d.action.is_empty() {
        d.action = if delayed { "delayed" } else { "failed" }.into();
    }
    // A recipient the report calls delivered (a notice with mixed
    // outcomes) keeps its own status: the transcript's failures, and the
    // reply codes on sendmail's own lines, are other recipients'.
    if d.reports_success() {
        return;
    }
    let session = sessions
        .iter()
        .find(|s| s.mentions(&d.recipient))
        .or_else(|| {
            if sessions.len() == 1 {
                sessions.first()
            } else {
                sessions.iter().find(|s| s.failure().is_some())
            }
        });
    let failure = session.and_then(|s| s.failure_for(&d.recipient));
    if d.diagnostic.is_empty() {
        if let Some((_, reason)) = listed
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&d.recipient))
        {
            d.diagnostic = reason.clone();
        } else if let Some((_, reply)) = &failure {
            d.diagnostic = reply.clone();
        }
    }
    if d.diagnostic.is_empty()
        && let Some(s) = session
    {
        // Sendmail's own lines, without those about another recipient
        // (`550 b@c... User unknown` is not this recipient's reply).
        let lower = d.recipient.to_ascii_lowercase();
        let chosen = s
            .notes
            .iter()
            .filter(|l| !l.contains('@') || l.to_ascii_lowercase().contains(&lower));
        let notes: Vec<&str> = chosen
            .map(|l| match l.split_once("... ") {
                Some((who, what)) if who.contains('@') => what,
                _ => l.as_str(),
            })
            .collect();
        d.diagnostic = squash(&notes.join(" "));
        if d.diagnostic.is_empty()
            && let Some((_, reply)) = &failure
        {
            // Its own lines were all about other recipients: the reply to
            // its RCPT is what is left.
            d.diagnostic = reply.clone();
        }
    }
    // A bare exit code of a local mailer (`X-Unix; 77`): sendmail's own
    // line about the recipient says what it means.
    if !d.diagnostic.is_empty() && d.diagnostic.bytes().all(|b| b.is_ascii_digit()) {
        let lower = d.recipient.to_ascii_lowercase();
        let own = sessions
            .iter()
            .flat_map(|s| s.own.iter())
            .find(|l| l.to_ascii_lowercase().contains(&lower))
            .or_else(|| sessions.iter().flat_map(|s| s.own.iter()).last());
        if let Some(line) = own {
            d.diagnostic = line.clone();
        }
    }
    // The report may cut a long reply short; the transcript has it whole.
    if let Some((_, reply)) = &failure
        && reply.len() > d.diagnostic.len()
        && !d.diagnostic.is_empty()
        && reply.starts_with(d.diagnostic.get(..d.diagnostic.len().min(24)).unwrap_or(""))
    {
        d.diagnostic = reply.clone();
    }
    if d.rhost.is_empty()
        && let Some(s) = session
    {
        d.rhost = s.host.clone();
    }
    if let Some((cmd, _)) = &failure {
        d.command = if cmd.is_empty() {
            // Refused before anything was sent: at the greeting.
            "CONN".to_string()
        } else {
            command_in(&format!(">>> {cmd}")).to_string()
        };
    }
    let text_status = status_in(&d.diagnostic);
    d.replycode = reply_code_in(&d.diagnostic);
    if d.replycode.is_none()
        && let Some((_, reply)) = &failure
    {
        d.replycode = leading_reply_code(reply);
    }
    // A bare exit code (`X-Unix; 255`): sendmail's own line says more.
    let own_line = session
        .and_then(|s| s.own.last())
        .or_else(|| sessions.iter().flat_map(|s| s.own.iter()).last());
    if d.replycode.is_none()
        && let Some(line) = own_line
    {
        d.replycode = leading_reply_code(line);
        if text_status.is_none()
            && let Some(s) = status_in(line)
            && d.status.is_none_or(|r| r.is_generic())
        {
            d.status = Some(s);
        }
    }
    // The status the server gave outranks the report's summary, unless it
    // is only a catch-all.
    if let Some(t) = text_status.filter(|t| !t.is_generic() || d.status.is_none()) {
        d.status = Some(t);
    }
    if d.diagnostictype.eq_ignore_ascii_case("X-UNIX") && d.reason.is_none() {
        d.reason = Some(Reason::MailerError);
    }
}

/// The addresses under `The following addresses had permanent fatal
/// errors`, each with its `(reason: ...)`.
fn listed_addresses(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in text.split_lines() {
        let t = line.trim();
        if FATAL_LINE.is_in(t) {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if t.starts_with("-----") {
            inside = FATAL_LINE.is_in(t);
            continue;
        }
        if let Some(reason) = t.strip_prefix("(reason:") {
            if let Some(last) = out.last_mut() {
                last.1 = reason.trim().trim_end_matches(')').trim().to_string();
            }
            continue;
        }
        if t.starts_with('(') || t.is_empty() {
            continue;
        }
        if let Some(a) = find_address(t)
            && !t.starts_with('"')
            && !t.starts_with('|')
        {
            out.push((a, String::new()));
        }
    }
    out
}

fn read_transcript(text: &str) -> Vec<Session> {
    static TRANSCRIPT_LINE: Needle = Needle::new(TRANSCRIPT);
    let Some(start) = TRANSCRIPT_LINE.find(text) else {
        return Vec::new();
    };
    let body = text.get(start + TRANSCRIPT.len()..).unwrap_or("");
    let mut sessions: Vec<Session> = Vec::new();
    for line in body.split_lines() {
        let t = line.trim();
        if t.starts_with("--") && t.len() > 10 && !t.contains(' ') {
            break; // MIME boundary
        }
        if starts_with_ignore_case(t, "Reporting-MTA:") || t.starts_with("-----") {
            break;
        }
        if let Some(rest) = t.strip_prefix("... while talking to ") {
            sessions.push(Session {
                host: rest.trim_end_matches(':').trim_end_matches('.').to_string(),
                ..Session::default()
            });
            continue;
        }
        if sessions.is_empty() {
            sessions.push(Session::default());
        }
        let s = sessions.last_mut().expect("pushed above");
        s.lower.push_str(&t.to_ascii_lowercase());
        s.lower.push('\n');
        if let Some(cmd) = t.strip_prefix(">>> ") {
            s.exchanges.push((cmd.to_string(), Vec::new()));
        } else if let Some(reply) = t.strip_prefix("<<< ") {
            match s.exchanges.last_mut() {
                Some((_, r)) => r.push(reply.to_string()),
                None => s.exchanges.push((String::new(), vec![reply.to_string()])),
            }
        } else if !t.is_empty() {
            if leading_reply_code(t).is_some() {
                s.own.push(t.to_string());
            }
            s.notes.push(t.to_string());
        }
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n\
Subject: Returned mail: see transcript for details\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\n\n   ----- The following addresses had permanent fatal errors -----\n<a@example.net>\n\
    (reason: 550 5.1.1 <a@example.net>... User Unknown)\n\n\
   ----- Transcript of session follows -----\n... while talking to mx.example.net.:\n\
>>> DATA\n<<< 550 5.1.1 <a@example.net>... User Unknown\n550 5.1.1 <a@example.net>... User Unknown\n\
<<< 503 5.0.0 Need RCPT (recipient)\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: RFC822; a@example.net\nAction: failed\n\
Status: 5.1.1\nRemote-MTA: DNS; mx.example.net\n\
Diagnostic-Code: SMTP; 550 5.1.1 <a@example.net>... User Unknown\n--B--\n";

    #[test]
    fn report_is_enriched_from_the_transcript() {
        let mail = Mail::parse(SAMPLE.as_bytes()).unwrap();
        let found = Sendmail.decode(&mail).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "a@example.net");
        assert_eq!(found[0].command, "DATA");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert_eq!(found[0].rhost, "mx.example.net");
    }

    /// One notice, three outcomes: the delivered recipient keeps its own
    /// 2.0.0, not the status on sendmail's line about another address.
    #[test]
    fn a_delivered_recipient_keeps_its_own_status() {
        let raw = "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n\
Subject: Returned mail: see transcript for details\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\n\n   ----- The following addresses had permanent fatal errors -----\n<gone@nohost.example>\n\
    (reason: 550 Host unknown)\n\n\
   ----- Transcript of session follows -----\n\
550 5.1.2 <gone@nohost.example>... Host unknown (Name server: nohost.example: host not found)\n\
<slow@example.net>... Deferred: 421 4.7.0 Try again later\n\
<copy@example.org>... Successfully delivered\n\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.org\n\n\
Final-Recipient: RFC822; gone@nohost.example\nAction: failed\nStatus: 5.1.2\n\
Diagnostic-Code: SMTP; 550 Host unknown\n\n\
Final-Recipient: RFC822; slow@example.net\nAction: delayed\nStatus: 4.7.0\n\
Diagnostic-Code: SMTP; 421 4.7.0 Try again later\n\n\
Final-Recipient: RFC822; copy@example.org\nAction: delivered\nStatus: 2.0.0\n--B--\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Sendmail.decode(&mail).unwrap();
        let copy = found
            .iter()
            .find(|d| d.recipient == "copy@example.org")
            .expect("the delivered recipient");
        assert_eq!(copy.action, "delivered");
        assert_eq!(copy.status.map(|s| s.to_string()).as_deref(), Some("2.0.0"));
        assert!(copy.replycode.is_none(), "{:?}", copy.replycode);
        let gone = found
            .iter()
            .find(|d| d.recipient == "gone@nohost.example")
            .unwrap();
        assert_eq!(gone.status.unwrap().to_string(), "5.1.2");
    }

    #[test]
    fn foreign_messages_are_rejected() {
        let mail =
            Mail::parse(b"From: x@example.org\nSubject: Returned mail: x\n\nhello\n").unwrap();
        assert!(Sendmail.decode(&mail).is_none());
    }
}
