//! Exim's bounce and delay notices: a plain-text list of failed addresses,
//! each on a line indented by two blanks, followed by its reasons indented
//! by four (`SMTP error from remote mail server after RCPT TO:...`,
//! `host mx.example.net [192.0.2.1]: 550 ...`). Newer versions append an
//! RFC 3464 report, which gives the status when the text has none.

use super::common::first_status;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{DeliveryStatus, find_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{
    SplitLines, better_status, command_in, head, join_reply, reply_code_in, status_in, text_before,
};
use rebound_core::Reason;

pub struct Exim;

/// Where the returned message starts.
const CUT: &[&str] = &[
    "------ This is a copy of",
    "------ The body of the message",
    "------ The headers of the message",
];

/// Lines introducing the list of addresses.
const ANCHORS: &[&str] = &[
    "address(es) failed:",
    "not yet been delivered is:",
    "not yet been delivered are:",
    "incorrectly constructed:",
    "have not yet been delivered",
];

/// Exim's own words for giving up after the retry period.
const EXPIRY: &[&str] = &[
    "retry timeout exceeded",
    "all hosts have been failing for a long time and were last tried after this message arrived",
    "retry time not reached for any host after a long failure period",
];

impl Decoder for Exim {
    fn name(&self) -> &'static str {
        "Exim"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let subject = mail.subject.as_str();
        let warning = subject.starts_with("Warning: message");
        let header_gate = mail.headers.contains("x-failed-recipients")
            || mail.subject_lower.contains("mail delivery failed")
            || warning
            || subject.starts_with("Mail failure");
        if !header_gate {
            return None;
        }
        let top = head(&mail.text, 8192);
        if !top.contains("This message was created automatically by")
            && !ANCHORS.iter().any(|a| top.contains(a))
        {
            return None;
        }
        let text = text_before(&mail.text, CUT);
        let lines: Vec<&str> = text.split_lines().collect();
        let start = lines
            .iter()
            .position(|l| ANCHORS.iter().any(|a| l.contains(a)))?;

        let failed: Vec<String> = mail
            .headers
            .get_all("x-failed-recipients")
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().to_string())
            .filter(|a| looks_like_address(a))
            .collect();

        let blocks = read_blocks(&lines[start + 1..]);
        let lhost = mail
            .headers
            .value("from")
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').trim().to_string())
            .unwrap_or_default();

        let mut out = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            let Some(d) = block_to_delivery(block, i, &failed, warning, &lhost) else {
                continue;
            };
            out.push(d);
        }
        // Statuses of the appended report, matched by position (its
        // recipients may be pipes or files, so read the blocks as they are).
        let blocks = mail
            .report("delivery-status")
            .map(DeliveryStatus::parse)
            .unwrap_or_default();
        for (i, d) in out.iter_mut().enumerate() {
            let r = blocks
                .recipients
                .get(i)
                .and_then(|b| first_status(b.value("status")));
            d.status = better_status(r, d.status);
        }
        if out.is_empty() {
            // A notice whose list is unreadable: the header names the
            // recipients.
            for a in &failed {
                out.push(Delivery {
                    recipient: a.clone(),
                    action: "failed".into(),
                    diagnostic: String::new(),
                    lhost: lhost.clone(),
                    ..Delivery::default()
                });
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// One address of the list: its line and the indented lines under it.
struct Block<'a> {
    head: &'a str,
    details: Vec<&'a str>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

fn read_blocks<'a>(lines: &[&'a str]) -> Vec<Block<'a>> {
    let mut blocks: Vec<Block<'a>> = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        let n = indent(line);
        let trimmed = line.trim();
        if n == 0 {
            if blocks.is_empty() {
                // Still in the introduction (a wrapped sentence).
                continue;
            }
            break;
        }
        if n < 4 && !trimmed.starts_with("host ") {
            blocks.push(Block {
                head: trimmed,
                details: Vec::new(),
            });
        } else if let Some(b) = blocks.last_mut() {
            b.details.push(trimmed);
        }
    }
    blocks
}

/// What one block of the list says, read line by line: who, through which
/// host, and the lines that explain the failure.
struct BlockReading<'a> {
    /// A pipe or file delivery (`pipe to |cmd`, `save to /path`): no
    /// address on its line.
    local_agent: bool,
    recipient: Option<String>,
    /// The address the sender wrote, before redirection.
    alias: String,
    rhost: String,
    /// The reason on the address line, then every detail line that is
    /// neither a host nor an address, in order.
    reasons: Vec<&'a str>,
}

/// The delivery one block of the list describes: its lines read, its
/// recipient (by position from `X-Failed-Recipients` when the block names
/// none), and its diagnostic, reason and codes.
fn block_to_delivery(
    block: &Block<'_>,
    index: usize,
    failed: &[String],
    warning: bool,
    lhost: &str,
) -> Option<Delivery> {
    let reading = read_block(block);
    let recipient = match reading.recipient {
        Some(r) => r,
        None => failed
            .get(index)
            .or_else(|| (failed.len() == 1).then(|| &failed[0]))?
            .clone(),
    };
    let mut alias = reading.alias;
    if alias.eq_ignore_ascii_case(&recipient) {
        alias.clear();
    }

    // The SMTP phrase and the server's reply.
    let command_line = reading
        .reasons
        .iter()
        .find(|l| l.starts_with("SMTP error from remote"))
        .copied()
        .unwrap_or("");
    let reply_text = join_reply(
        reading
            .reasons
            .iter()
            .filter(|l| !l.starts_with("SMTP error from remote"))
            .copied(),
    );
    let diagnostic = diagnostic_of(block.head, reading.local_agent, command_line, &reply_text);
    let reason = reason_of(block.head, reading.local_agent, &reply_text);
    let status = status_in(&reply_text);
    let command = command_in(command_line).to_string();
    // A refusal after MAIL FROM is about the sender, not this recipient:
    // Sisimai's Exim reading leaves its cause open ("onhold") when it
    // writes the stand-in status, so the record says x.0.901 whatever
    // reason the text then gives.
    let standin = (command == "MAIL" && status.is_none()).then_some(Reason::OnHold);
    Some(Delivery {
        recipient,
        alias,
        action: if warning { "delayed" } else { "failed" }.to_string(),
        status,
        replycode: reply_code_in(&reply_text),
        command,
        diagnostic,
        diagnostictype: if command_line.is_empty() {
            String::new()
        } else {
            "SMTP".into()
        },
        rhost: reading.rhost,
        lhost: lhost.to_string(),
        reason,
        standin,
        ..Delivery::default()
    })
}

/// Reads a block's address line (`addr: reason`, `addr <addr2>: reason`, or
/// a pipe or file) and its detail lines (`generated by`, `ultimately
/// generated from`, `host name [ip]: reply`, `Delay reason:`, reasons).
fn read_block<'a>(block: &Block<'a>) -> BlockReading<'a> {
    let head = block.head;
    let local_agent = head.starts_with("pipe to ")
        || head.starts_with("save to ")
        || head.starts_with('|')
        || head.starts_with('/');
    // `addr: reason` or `addr <addr2>: reason` on the address line itself.
    let (head_addr_part, head_rest) = match head.find(": ") {
        Some(pos) if !local_agent => (
            head.get(..pos).unwrap_or(head),
            head.get(pos + 2..).unwrap_or(""),
        ),
        _ => (head.trim_end_matches(':'), ""),
    };
    let mut reading = BlockReading {
        local_agent,
        recipient: if local_agent {
            None
        } else {
            find_address(head_addr_part)
        },
        alias: String::new(),
        rhost: String::new(),
        reasons: Vec::new(),
    };
    if !head_rest.is_empty() {
        reading.reasons.push(head_rest);
    }
    for line in &block.details {
        if let Some(rest) = line.strip_prefix("generated by ") {
            if reading.recipient.is_none() {
                reading.recipient = find_address(rest);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("(ultimately generated from") {
            if reading.alias.is_empty() {
                reading.alias = find_address(rest).unwrap_or_default();
            }
            continue;
        }
        let line = line.strip_prefix("Delay reason: ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("host ") {
            reading.rhost = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches(':')
                .to_string();
            // `host name [ip]: reply` keeps the reply.
            if let Some(pos) = rest.find("]: ") {
                let reply = rest.get(pos + 3..).unwrap_or("").trim();
                if !reply.is_empty() {
                    reading.reasons.push(reply);
                }
            }
            continue;
        }
        reading.reasons.push(line);
    }
    reading
}

/// The diagnostic: a pipe or file's own line followed by what it said, or
/// the SMTP phrase followed by the server's reply.
fn diagnostic_of(head: &str, local_agent: bool, command_line: &str, reply_text: &str) -> String {
    if local_agent {
        let mut d = head.to_string();
        if !reply_text.is_empty() {
            d.push(' ');
            d.push_str(reply_text);
        }
        d
    } else if command_line.is_empty() {
        reply_text.to_string()
    } else {
        format!("{command_line} {reply_text}").trim().to_string()
    }
}

/// The reason Exim's own words state: a pipe that failed (or a local
/// delivery with nothing to say) is a mailer error; giving up after the
/// retry period is an expiry. `None`: the classifier reads the reply.
fn reason_of(head: &str, local_agent: bool, reply_text: &str) -> Option<Reason> {
    if local_agent && (reply_text.is_empty() || head.starts_with("pipe to ")) {
        Some(Reason::MailerError)
    } else if EXPIRY
        .iter()
        .any(|e| reply_text.trim_end_matches('.').eq_ignore_ascii_case(e))
    {
        Some(Reason::Expired)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "From: Mail Delivery System <Mailer-Daemon@relay.example.org>
To: sender@example.org
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: one@example.net, two@example.com

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  one@example.net
    SMTP error from remote mail server after RCPT TO:<one@example.net>:
    host mx.example.net [192.0.2.9]: 550-5.1.1 no such
    550 5.1.1 mailbox here
  two@example.com
    (ultimately generated from list@example.com)
    retry timeout exceeded

------ This is a copy of the message, including all the headers. ------

From: sender@example.org
To: one@example.net
Subject: hi

body
";

    #[test]
    fn reads_each_failed_address() {
        let mail = Mail::parse(SAMPLE.as_bytes()).unwrap();
        let found = Exim.decode(&mail).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].recipient, "one@example.net");
        assert_eq!(found[0].command, "RCPT");
        assert_eq!(found[0].rhost, "mx.example.net");
        assert_eq!(found[0].replycode.unwrap().get(), 550);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.1");
        assert!(
            found[0]
                .diagnostic
                .ends_with("550 5.1.1 no such mailbox here")
        );
        assert_eq!(found[1].recipient, "two@example.com");
        assert_eq!(found[1].alias, "list@example.com");
        assert_eq!(found[1].reason, Some(Reason::Expired));
    }

    #[test]
    fn pipe_failures_take_the_generating_address() {
        let raw = "From: Mail Delivery System <Mailer-Daemon@h.example.org>
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

The following address(es) failed:

  pipe to |/usr/bin/handler
    generated by user@example.org
";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Exim.decode(&mail).unwrap();
        assert_eq!(found[0].recipient, "user@example.org");
        assert_eq!(found[0].reason, Some(Reason::MailerError));
    }

    #[test]
    fn refusals_after_mail_from_keep_the_onhold_stand_in() {
        let raw = "From: Mail Delivery System <Mailer-Daemon@relay.example.org>
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  one@example.net
    host mx.example.net [192.0.2.9]
    SMTP error from remote mail server after MAIL FROM:<sender@example.org> SIZE=100:
    550 Unroutable sender address
";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let found = Exim.decode(&mail).unwrap();
        assert_eq!(found[0].command, "MAIL");
        assert_eq!(found[0].standin, Some(Reason::OnHold));
        let records =
            crate::decode_message(raw.as_bytes(), "t", &crate::DecodeOptions::default()).unwrap();
        // The reason still comes from the text; only the stand-in status
        // follows the convention.
        assert_ne!(records[0].verdict.reason, Reason::OnHold);
        assert_eq!(
            records[0].verdict.deliverystatus.unwrap().to_string(),
            "5.0.901"
        );
        // With a status of its own, nothing is stood in.
        let with_status = raw.replace("550 Unroutable", "550 5.1.8 Unroutable");
        let found = Exim
            .decode(&Mail::parse(with_status.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found[0].standin, None);
    }

    #[test]
    fn foreign_messages_are_rejected() {
        let mail = Mail::parse(b"From: a@example.org\nSubject: hello\n\nhi\n").unwrap();
        assert!(Exim.decode(&mail).is_none());
    }
}
