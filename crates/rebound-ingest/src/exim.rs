//! Exim main log lines: `=>`/`->` delivered, `**` failed, `==` deferred,
//! with the sender and Message-ID joined from the message's `<=` line.

use crate::{Draft, Outcome, smtp_command_in, time};
use rebound_classify::reply;
use std::collections::HashMap;

const GENERATION: usize = 100_000;

pub(crate) struct Exim {
    current: HashMap<String, (Option<String>, Option<String>)>,
    previous: HashMap<String, (Option<String>, Option<String>)>,
}

/// Whether `s` is an Exim message id: `1abcDE-000Abc-12` (before 4.97) or
/// `1abcDE-000000Abc-1234`.
fn is_message_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 6
        && (6..=11).contains(&parts[1].len())
        && (2..=4).contains(&parts[2].len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `NNNN-NN-NN NN:NN:NN`, whatever the numbers.
fn is_date_shaped(s: &str) -> bool {
    s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// Splits `DATE TIME[.ms] [ZONE] [[PID]] ID FLAG REST`.
fn split(line: &str) -> Option<(i64, &str, &str, &str)> {
    let b = line.as_bytes();
    if b.len() < 20 || !b[..20].is_ascii() {
        return None;
    }
    // "2026-11-23 15:30:03" possibly followed by ".123"
    let mut end = 19;
    if b[19] == b'.' {
        end = 20 + b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    let mut rest = line.get(end..)?.trim_start();
    let mut stamp = line.get(..end)?.to_string();
    if let Some(z) = rest.split(' ').next()
        && (z.starts_with('+') || z.starts_with('-'))
        && z.len() == 5
    {
        stamp.push_str(z);
        rest = rest[z.len()..].trim_start();
    }
    let ms = time::parse_iso(&stamp)?;
    if rest.starts_with('[') {
        rest = rest.split_once("] ")?.1;
    }
    let (id, rest) = rest.split_once(' ')?;
    if !is_message_id(id) {
        return None;
    }
    let (flag, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((ms, id, flag, rest))
}

/// The value after ` KEY` up to the next space (or closing quote if quoted).
fn value<'a>(rest: &'a str, key: &str) -> Option<&'a str> {
    let at = rest.find(key)? + key.len();
    let v = &rest[at..];
    if let Some(q) = v.strip_prefix('"') {
        let mut end = 0;
        let bytes = q.as_bytes();
        while end < bytes.len() {
            if bytes[end] == b'\\' {
                end += 2;
                continue;
            }
            if bytes[end] == b'"' {
                break;
            }
            end += 1;
        }
        return Some(&q[..end.min(q.len())]);
    }
    Some(v.split(' ').next().unwrap_or(""))
}

impl Exim {
    pub fn new() -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    pub fn looks_like(line: &str) -> bool {
        split(line).is_some()
    }

    pub fn line(&mut self, line: &str) -> Result<Vec<Draft>, String> {
        let Some((time_ms, id, flag, rest)) = split(line) else {
            // A line dated like Exim's whose date is not a real time
            // (`2026-11-31`, `25:00:00`) is a broken line, not another kind.
            if let Some(stamp) = line.get(..19)
                && is_date_shaped(stamp)
                && time::parse_iso(stamp).is_none()
            {
                return Err(format!("invalid timestamp {stamp:?}"));
            }
            return Ok(Vec::new());
        };
        let outcome = match flag {
            "<=" => {
                let from = rest.split(' ').next().unwrap_or("");
                let from = (from != "<>").then(|| from.to_string());
                let msgid = value(rest, " id=").map(str::to_string);
                if self.current.len() >= GENERATION {
                    self.previous = std::mem::take(&mut self.current);
                }
                self.current.insert(id.to_string(), (from, msgid));
                return Ok(Vec::new());
            }
            "Completed" => {
                self.current.remove(id);
                self.previous.remove(id);
                return Ok(Vec::new());
            }
            "=>" | "->" => Outcome::Delivered,
            "**" => Outcome::Bounced,
            "==" => Outcome::Deferred,
            _ => return Ok(Vec::new()),
        };
        let mut rcpt = rest.split([' ', ':']).next().unwrap_or("");
        // A local delivery logs the local part, then the address as it was
        // sent in angle brackets (`=> alerts <alerts@corp.example> R=...`).
        let mut fields_start = rcpt.len();
        // (Not a pipe or a file: `=> /dev/null <x@corp.example>`.)
        if !rcpt.is_empty()
            && !rcpt.contains('@')
            && !rcpt.starts_with(['/', '|'])
            && let Some(after) = rest[rcpt.len()..].strip_prefix(" <")
            && let Some(end) = after.find('>')
            && after[..end].contains('@')
        {
            fields_start = rcpt.len() + 2 + end + 1;
            rcpt = &after[..end];
        }
        if rcpt.is_empty() || !rcpt.contains('@') {
            // `** /dev/null`, pipes and files: not a remote recipient.
            if rcpt.is_empty() {
                return Err(format!("{flag} line without a recipient"));
            }
            return Ok(Vec::new());
        }
        let fields_and_text = &rest[fields_start..];
        // The error text follows the fields after ": " (for ** and ==).
        let text = if outcome == Outcome::Delivered {
            value(fields_and_text, " C=").unwrap_or("").to_string()
        } else {
            let h_end = fields_and_text.find("]: ").map(|i| i + 3);
            let start = h_end.or_else(|| fields_and_text.find(": ").map(|i| i + 2));
            match start {
                Some(s) => fields_and_text[s..].to_string(),
                None => fields_and_text.trim().to_string(),
            }
        };
        let (host, ip) = match value(fields_and_text, " H=") {
            Some(h) => {
                let after = &fields_and_text[fields_and_text.find(" H=").unwrap_or(0)..];
                let ip = after
                    .find(" [")
                    .and_then(|i| after[i + 2..].split(']').next())
                    .map(str::to_string);
                (Some(h.to_string()), ip)
            }
            None => (None, None),
        };
        let _ = ip;
        let known = self.current.get(id).or_else(|| self.previous.get(id));
        let sender = value(fields_and_text, " F=<")
            .map(|s| s.trim_end_matches('>').to_string())
            .or_else(|| known.and_then(|k| k.0.clone()));
        let message_id = known
            .and_then(|k| k.1.clone())
            .or_else(|| Some(id.to_string()));
        let mut d = Draft {
            time_ms,
            recipient: rcpt.trim_matches(['<', '>']).to_string(),
            sender,
            sending_ip: value(fields_and_text, " I=[").map(|s| s.trim_end_matches(']').to_string()),
            message_id,
            outcome: Some(outcome),
            smtpcommand: smtp_command_in(&text),
            rhost: host,
            identity: format!("{id}\u{1f}{time_ms}\u{1f}{flag}\u{1f}{text}"),
            ..Draft::default()
        };
        let (code, status) = reply::codes(&text);
        d.replycode = code;
        d.status = status;
        d.text = text;
        Ok(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arrival_delivery_failure_and_deferral() {
        let mut x = Exim::new();
        assert!(x.line("2026-11-23 10:00:00 1tAbCd-000Xyz-AB <= news@example.org H=localhost [127.0.0.1] P=esmtp S=1234 id=m2@example.org").unwrap().is_empty());
        let ok = x.line("2026-11-23 10:00:01 1tAbCd-000Xyz-AB => alice@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK id=abc\"").unwrap();
        assert_eq!(ok[0].outcome, Some(Outcome::Delivered));
        assert_eq!(ok[0].text, "250 2.0.0 OK id=abc");
        assert_eq!(ok[0].rhost.as_deref(), Some("mx.example.com"));
        assert_eq!(ok[0].sender.as_deref(), Some("news@example.org"));
        assert_eq!(ok[0].message_id.as_deref(), Some("m2@example.org"));
        let bad = x.line("2026-11-23 10:00:02.345 1tAbCd-000Xyz-AB ** bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<bob@example.com>: 550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown").unwrap();
        assert_eq!(bad[0].outcome, Some(Outcome::Bounced));
        assert_eq!(bad[0].time_ms % 1000, 345);
        assert!(bad[0].text.starts_with(
            "SMTP error from remote mail server after RCPT TO:<bob@example.com>: 550 5.1.1"
        ));
        assert_eq!(bad[0].replycode.unwrap().get(), 550);
        assert_eq!(bad[0].status.unwrap().to_string(), "5.1.1");
        assert_eq!(bad[0].smtpcommand.as_deref(), Some("RCPT"));
        let def = x.line("2026-11-23 10:00:03 1tAbCd-000Xyz-AB == carol@example.com F=<bounce@example.org> R=dnslookup T=remote_smtp defer (-44) H=mx.example.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<carol@example.com>: 452 4.2.2 Mailbox full").unwrap();
        assert_eq!(def[0].outcome, Some(Outcome::Deferred));
        assert_eq!(def[0].sender.as_deref(), Some("bounce@example.org"));
        assert!(def[0].text.ends_with("452 4.2.2 Mailbox full"));
        let unroutable = x
            .line("2026-11-23 10:00:04 1tAbCd-000Xyz-AB ** nobody@nowhere.invalid: Unrouteable address")
            .unwrap();
        assert_eq!(unroutable[0].text, "Unrouteable address");
        assert!(
            x.line("2026-11-23 10:00:05 1tAbCd-000Xyz-AB Completed")
                .unwrap()
                .is_empty()
        );
        assert!(x.line("not exim at all").unwrap().is_empty());
        for bad in [
            "2026-11-31 10:00:06 1tAbCd-000Xyz-AB ** bob@example.com: 550 no",
            "2026-11-23 25:00:06 1tAbCd-000Xyz-AB ** bob@example.com: 550 no",
        ] {
            assert!(x.line(bad).unwrap_err().starts_with("invalid timestamp"));
        }
        assert!(
            x.line("2026-11-23 10:00:0\u{e9}5 1tAbCd-000Xyz-AB => a@b.c")
                .unwrap()
                .is_empty()
        );
    }

    /// A local delivery logs the local part and then the address as sent:
    /// that address is the recipient, and the fields after it still read.
    #[test]
    fn local_deliveries_name_the_address_as_sent() {
        let mut x = Exim::new();
        let ok = x
            .line("2026-11-23 10:00:01 1tAbCd-000Xyz-AB => alerts <alerts@corp.example> R=dovecot_user T=dovecot_delivery")
            .unwrap();
        assert_eq!(ok[0].recipient, "alerts@corp.example");
        assert_eq!(ok[0].outcome, Some(Outcome::Delivered));
        let bad = x
            .line("2026-11-23 10:00:02 1tAbCd-000Xyz-AB ** gary <gary@corp.example> R=dovecot_user T=dovecot_delivery: Child process of dovecot_delivery transport returned 67 (could mean user nonexistent)")
            .unwrap();
        assert_eq!(bad[0].recipient, "gary@corp.example");
        assert!(
            bad[0].text.starts_with("Child process of"),
            "{}",
            bad[0].text
        );
        // A pipe or a file is still no recipient.
        assert!(
            x.line(
                "2026-11-23 10:00:03 1tAbCd-000Xyz-AB => /dev/null <x@corp.example> R=blackhole"
            )
            .unwrap()
            .is_empty()
        );
    }
}
