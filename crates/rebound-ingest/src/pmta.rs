//! PowerMTA accounting CSV: record types `d` (delivered), `b` (bounce), `rb`
//! (remote bounce), `t` (transient: a deferral) and `f` (feedback loop). The
//! header row names the columns; without one, PowerMTA's default column
//! order is assumed.

use crate::{Draft, Outcome, smtp_command_in, time};
use rebound_classify::reply;
use rebound_core::Reason;
use std::collections::HashMap;

const DEFAULT_COLUMNS: &str = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId";

pub(crate) struct Pmta {
    columns: HashMap<String, usize>,
    has_header: bool,
}

/// A PowerMTA time: as its default `YYYY-MM-DD HH:MM:SS±ZZZZ`, or as Unix
/// seconds (or milliseconds), which accounting files written for other
/// tools carry instead.
fn pmta_time(field: &str) -> Option<i64> {
    if (9..=13).contains(&field.len()) && field.bytes().all(|b| b.is_ascii_digit()) {
        return time::parse_epoch(&serde_json::Value::String(field.to_string()));
    }
    time::parse_iso(field)
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
pub(crate) fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

impl Pmta {
    pub fn new() -> Self {
        let mut p = Self {
            columns: HashMap::new(),
            has_header: false,
        };
        p.set_header(DEFAULT_COLUMNS);
        p.has_header = false;
        p
    }

    fn set_header(&mut self, line: &str) {
        self.columns = line
            .trim_start_matches('#')
            .split(',')
            .enumerate()
            .map(|(i, c)| (c.trim().to_string(), i))
            .collect();
        self.has_header = true;
    }

    pub fn looks_like(line: &str) -> bool {
        let l = line.trim_start_matches('#');
        (l.starts_with("type,") && l.contains("rcpt"))
            || matches!(line.split(',').next(), Some("d" | "b" | "t" | "rb"))
                && line.split(',').count() >= 10
    }

    pub fn line(&mut self, line: &str) -> Result<Vec<Draft>, String> {
        if line.trim().is_empty() {
            return Ok(Vec::new());
        }
        if line.trim_start_matches('#').starts_with("type,") {
            self.set_header(line.trim());
            return Ok(Vec::new());
        }
        let f = csv_fields(line)?;
        let get = |name: &str| -> &str {
            self.columns
                .get(name)
                .and_then(|&i| f.get(i))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let kind = get("type");
        let outcome = match kind {
            "d" => Outcome::Delivered,
            "b" | "rb" => Outcome::Bounced,
            "t" => Outcome::Deferred,
            "f" => Outcome::Complained,
            // Receipts, remote status and other record types carry no outcome.
            "r" | "rs" | "tq" => return Ok(Vec::new()),
            other => return Err(format!("unknown record type {other:?}")),
        };
        if f.len() < 5 {
            return Err(format!("only {} fields", f.len()));
        }
        let rcpt = get("rcpt");
        if rcpt.is_empty() {
            return Err("no rcpt".into());
        }
        let logged = get("timeLogged");
        let time_ms = pmta_time(logged).ok_or_else(|| format!("bad timeLogged {logged:?}"))?;
        let diag = get("dsnDiag");
        let text = diag
            .strip_prefix("smtp;")
            .or_else(|| diag.strip_prefix("smtp; "))
            .unwrap_or(diag)
            .trim()
            .to_string();
        let mta = get("dsnMta");
        let rhost = mta.split([' ', '(']).next().filter(|s| !s.is_empty());
        let sending_ip = [get("dlvSourceIp"), get("srcIp")]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(str::to_string);
        let campaign = [
            "header_x-campaign",
            "header_X-Campaign",
            "header_List-ID",
            "jobId",
        ]
        .into_iter()
        .map(get)
        .find(|s| !s.is_empty())
        .map(str::to_string);
        let message_id = ["header_message-id", "header_Message-ID", "envId", "jobId"]
            .into_iter()
            .map(get)
            .find(|s| !s.is_empty())
            .map(|s| s.trim_matches(['<', '>']).to_string());
        let hint = match get("bounceCat") {
            "bad-mailbox" => Some(Reason::UserUnknown),
            "bad-domain" => Some(Reason::HostUnknown),
            "inactive-mailbox" => Some(Reason::Suspend),
            "quota-issues" => Some(Reason::MailboxFull),
            "message-expired" => Some(Reason::Expired),
            "virus-related" => Some(Reason::VirusDetected),
            "relaying-issues" => Some(Reason::NoRelaying),
            _ => None,
        };
        let mut d = Draft {
            time_ms,
            recipient: rcpt.to_string(),
            sender: Some(get("orig").to_string()).filter(|s| !s.is_empty()),
            sending_ip,
            campaign,
            message_id,
            outcome: Some(outcome),
            smtpcommand: smtp_command_in(&text),
            rhost: rhost.map(str::to_string),
            hint,
            identity: format!(
                "{kind}\u{1f}{logged}\u{1f}{}\u{1f}{}\u{1f}{text}",
                get("jobId"),
                get("timeQueued")
            ),
            ..Draft::default()
        };
        d.set_status(get("dsnStatus"));
        let (code, status) = reply::codes(&text);
        d.replycode = code;
        if d.status.is_none() {
            d.status = status;
        }
        d.text = text;
        Ok(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_the_columns() {
        let mut p = Pmta::new();
        assert!(p.line("type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcMta,srcIp,jobId,vmta").unwrap().is_empty());
        let b = p.line("b,2026-11-23 10:00:00-0500,news@example.org,dave@example.com,failed,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 <dave@example.com>, no such user\",mx.example.com (192.0.2.20),bad-mailbox,pmta1,198.51.100.7,job-42,vmta-a").unwrap();
        let b = &b[0];
        assert_eq!(b.outcome, Some(Outcome::Bounced));
        assert_eq!(b.time_ms, time::parse_iso("2026-11-23T15:00:00Z").unwrap());
        assert_eq!(b.text, "550 5.1.1 <dave@example.com>, no such user");
        assert_eq!(b.status.unwrap().to_string(), "5.1.1");
        assert_eq!(b.replycode.unwrap().get(), 550);
        assert_eq!(b.rhost.as_deref(), Some("mx.example.com"));
        assert_eq!(b.sending_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(b.campaign.as_deref(), Some("job-42"));
        assert_eq!(b.hint, Some(Reason::UserUnknown));
        let t = p.line("t,2026-11-23 10:00:00,news@example.org,erin@example.com,delayed,4.2.2,smtp;452 4.2.2 mailbox full,mx.example.com (192.0.2.20),quota-issues,pmta1,198.51.100.7,job-42,vmta-a").unwrap();
        assert_eq!(t[0].outcome, Some(Outcome::Deferred));
        assert!(p.line("z,2026-11-23 10:00:00,a,b").is_err());
        assert!(
            p.line("b,yesterday,news@example.org,x@y.z,failed,5.0.0,,,,,,,")
                .is_err()
        );
        assert!(p.line("b,2026-11-23 10:00:00,\"unterminated").is_err());
    }

    #[test]
    fn times_in_unix_seconds_are_read() {
        let mut p = Pmta::new();
        p.line("type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag")
            .unwrap();
        // 2026-11-23T15:00:00Z, as seconds and as milliseconds.
        for stamp in ["1795446000", "1795446000000"] {
            let d = p
                .line(&format!(
                    "d,{stamp},news@example.org,dave@example.com,relayed,2.0.0,smtp;250 ok"
                ))
                .unwrap();
            assert_eq!(
                d[0].time_ms,
                time::parse_iso("2026-11-23T15:00:00Z").unwrap()
            );
        }
        // Too short to be a time of this century.
        assert!(
            p.line("d,17951,news@example.org,dave@example.com,relayed,2.0.0,smtp;250 ok")
                .is_err()
        );
    }
}
