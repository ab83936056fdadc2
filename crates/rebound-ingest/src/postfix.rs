//! Postfix maillog lines.
//!
//! Delivery lines (`postfix/smtp[123]: QID: to=<a@b>, relay=…, dsn=5.1.1,
//! status=bounced (…)`) give one event each; `status=expired` lines from
//! qmgr give one event per recipient last seen deferred in that queue. The
//! envelope sender (qmgr `from=<…>`) and Message-ID (cleanup
//! `message-id=<…>`) are joined by queue id from earlier lines; the join
//! table is bounded (two generations of [`GENERATION`] queue ids).

use crate::time::{LineStamp, SyslogClock};
use crate::{Draft, Outcome, smtp_command_in};
use rebound_classify::reply;
use std::collections::{BTreeMap, HashMap};

const GENERATION: usize = 100_000;

/// Per-queue state joined by queue id, bounded: two generations of
/// [`GENERATION`] ids; when the current one fills, the older is dropped
/// (a queue id unseen for that long has long been delivered or expired).
pub(crate) struct Generations<T> {
    current: HashMap<String, T>,
    previous: HashMap<String, T>,
}

impl<T: Default> Generations<T> {
    pub fn new() -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    /// The state of `qid`, created (or brought into the current
    /// generation) on first use.
    pub fn entry(&mut self, qid: &str) -> &mut T {
        if !self.current.contains_key(qid) {
            let v = self.previous.remove(qid).unwrap_or_default();
            if self.current.len() >= GENERATION {
                self.previous = std::mem::take(&mut self.current);
            }
            self.current.insert(qid.to_string(), v);
        }
        self.current.get_mut(qid).expect("just inserted")
    }

    pub fn get(&self, qid: &str) -> Option<&T> {
        self.current.get(qid).or_else(|| self.previous.get(qid))
    }

    pub fn get_current_mut(&mut self, qid: &str) -> Option<&mut T> {
        self.current.get_mut(qid)
    }

    pub fn remove(&mut self, qid: &str) {
        self.current.remove(qid);
        self.previous.remove(qid);
    }
}

/// A recipient whose last attempt in a queue was deferred: (rcpt, reply
/// text, dsn, relay host), kept until the queue delivers or gives up.
pub(crate) type Deferred = (String, String, Option<String>, Option<String>);

#[derive(Default)]
struct Queue {
    from: Option<String>,
    message_id: Option<String>,
    deferred: Vec<Deferred>,
}

pub(crate) struct Postfix {
    clock: SyslogClock,
    queues: Generations<Queue>,
    /// Lines read that gave no event and no error, by why.
    pub skipped: BTreeMap<&'static str, u64>,
}

impl Postfix {
    pub fn new(clock: SyslogClock) -> Self {
        Self {
            clock,
            queues: Generations::new(),
            skipped: BTreeMap::new(),
        }
    }

    /// Counts a line that gives nothing, and gives nothing.
    fn skip(&mut self, why: &'static str) -> Result<Vec<Draft>, String> {
        *self.skipped.entry(why).or_default() += 1;
        Ok(Vec::new())
    }

    fn queue(&mut self, qid: &str) -> &mut Queue {
        self.queues.entry(qid)
    }

    fn known(&self, qid: &str) -> Option<&Queue> {
        self.queues.get(qid)
    }

    /// Whether a line looks like a Postfix log line (for format detection).
    pub fn looks_like(line: &str) -> bool {
        // Any year and zone will do to tell the format.
        let clock = SyslogClock::new(crate::time::TimeZone::UTC, Some(2000), 0);
        split_prefix(line, &clock)
            .is_ok_and(|p| p.is_some_and(|(_, prog, _)| prog.contains("postfix")))
    }

    /// Parses one line. Lines of other programs and Postfix lines that carry
    /// no delivery outcome give nothing (counted in `skipped`); a line whose
    /// timestamp is not a real time, or a delivery line that cannot be read,
    /// is an error.
    pub fn line(&mut self, line: &str) -> Result<Vec<Draft>, String> {
        if line.trim().is_empty() {
            return self.skip("blank line");
        }
        let Some((time_ms, prog, msg)) = split_prefix(line, &self.clock)? else {
            return Err("not a syslog line (no timestamp, host and program)".into());
        };
        if !prog.contains("postfix") {
            return self.skip("another program");
        }
        let service = prog.rsplit('/').next().unwrap_or(prog);
        let Some((qid, body)) = msg.split_once(": ") else {
            return self.skip("no queue id");
        };
        if qid.is_empty() || !qid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return self.skip("no queue id");
        }
        if body.starts_with("to=<") {
            return self
                .delivery(time_ms, qid, body)
                .map(|d| d.into_iter().collect());
        }
        if let Some(rest) = body.strip_prefix("message-id=") {
            let id = rest.split([' ', ',']).next().unwrap_or("").trim();
            if !id.is_empty() {
                self.queue(qid).message_id = Some(id.trim_matches(['<', '>']).to_string());
            }
            return self.skip("no delivery status");
        }
        if body == "removed" {
            self.queues.remove(qid);
            return self.skip("no delivery status");
        }
        if let Some(from) = field(body, "from=<") {
            let from = from.to_string();
            if body.contains("status=expired") {
                return Ok(self.expired(time_ms, qid, &from, body));
            }
            if service == "qmgr" || service == "pickup" || !from.is_empty() {
                self.queue(qid).from = Some(from);
            }
        }
        self.skip("no delivery status")
    }

    fn delivery(&mut self, time_ms: i64, qid: &str, body: &str) -> Result<Option<Draft>, String> {
        let rcpt = field(body, "to=<").ok_or("to=<…> not closed")?;
        let st_at = body
            .find(" status=")
            .ok_or("delivery line without status=")?;
        let after = &body[st_at + 8..];
        let word_end = after.find([' ', ',']).unwrap_or(after.len());
        let status_word = &after[..word_end];
        let text = match (after.find('('), after.rfind(')')) {
            (Some(l), Some(r)) if l < r => &after[l + 1..r],
            _ => after[word_end..].trim_start_matches([',', ' ']),
        };
        let outcome = match status_word {
            "sent" => Outcome::Delivered,
            "bounced" => Outcome::Bounced,
            "deferred" => Outcome::Deferred,
            "expired" => Outcome::Expired,
            // Address verification probes and the like: not deliveries.
            "deliverable" | "undeliverable" | "SOFTBOUNCE" => {
                *self.skipped.entry("address verification").or_default() += 1;
                return Ok(None);
            }
            other => return Err(format!("unknown status={other}")),
        };
        if rcpt.is_empty() {
            return Err("empty to=<>".into());
        }
        let mut relay = None;
        let mut dsn = None;
        for kv in body[..st_at].split(", ") {
            if let Some(v) = kv.strip_prefix("relay=") {
                relay = Some(v);
            } else if let Some(v) = kv.strip_prefix("dsn=") {
                dsn = Some(v.trim_end_matches(','));
            }
        }
        let rhost = relay
            .map(|r| r.split(['[', ':']).next().unwrap_or(r))
            .filter(|h| !h.is_empty() && *h != "none" && *h != "local")
            .map(str::to_string);
        let mut d = Draft {
            time_ms,
            recipient: rcpt.to_string(),
            outcome: Some(outcome),
            // Postfix never logs our own address; the reply may.
            sending_ip: crate::client_ip::named_in(
                text,
                relay.and_then(crate::client_ip::relay_address),
            ),
            text: text.to_string(),
            rhost: rhost.clone(),
            smtpcommand: smtp_command_in(text),
            ..Draft::default()
        };
        if let Some(dsn) = dsn {
            d.set_status(dsn);
        }
        let (code, status) = reply::codes(text);
        d.replycode = code;
        if d.status.is_none() {
            d.status = status;
        }
        let queue = self.known(qid);
        d.sender = queue.and_then(|q| q.from.clone()).filter(|s| !s.is_empty());
        d.message_id = queue
            .and_then(|q| q.message_id.clone())
            .or_else(|| Some(qid.to_string()));
        d.identity = format!("{qid}\u{1f}{time_ms}\u{1f}{status_word}\u{1f}{text}");
        if outcome == Outcome::Deferred {
            let q = self.queue(qid);
            q.deferred.retain(|(r, ..)| r != rcpt);
            if q.deferred.len() < 1000 {
                q.deferred.push((
                    rcpt.to_string(),
                    text.to_string(),
                    dsn.map(str::to_string),
                    rhost,
                ));
            }
        } else if let Some(q) = self.queues.get_current_mut(qid) {
            q.deferred.retain(|(r, ..)| r != rcpt);
        }
        Ok(Some(d))
    }

    fn expired(&mut self, time_ms: i64, qid: &str, from: &str, body: &str) -> Vec<Draft> {
        let q = self.queue(qid);
        let deferred = std::mem::take(&mut q.deferred);
        let message_id = q.message_id.clone().unwrap_or_else(|| qid.to_string());
        let sender = (!from.is_empty()).then(|| from.to_string());
        expired_drafts(deferred, time_ms, qid, sender, message_id, body)
    }
}

/// One expired event per recipient last seen deferred in queue `qid`, when
/// the MTA gives up on the queue (its lifetime ran out): the last deferral's
/// reply is the evidence, else the give-up line itself.
pub(crate) fn expired_drafts(
    deferred: Vec<Deferred>,
    time_ms: i64,
    qid: &str,
    sender: Option<String>,
    message_id: String,
    give_up_line: &str,
) -> Vec<Draft> {
    deferred
        .into_iter()
        .map(|(rcpt, last, dsn, rhost)| {
            let text = if last.is_empty() {
                give_up_line.to_string()
            } else {
                last
            };
            let mut d = Draft {
                time_ms,
                recipient: rcpt,
                sender: sender.clone(),
                message_id: Some(message_id.clone()),
                outcome: Some(Outcome::Expired),
                smtpcommand: smtp_command_in(&text),
                rhost,
                identity: format!("{qid}\u{1f}{time_ms}\u{1f}expired"),
                ..Draft::default()
            };
            if let Some(dsn) = dsn {
                d.set_status(&dsn);
            }
            d.replycode = reply::codes(&text).0;
            d.text = text;
            d
        })
        .collect()
}

/// The value of `key<…>` (e.g. `to=<a@b>`), without the brackets.
fn field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let at = body.find(key)? + key.len();
    let end = body[at..].find('>')?;
    Some(&body[at..at + end])
}

/// Splits `TIME HOST PROGRAM[PID]: MESSAGE` into (time, program, message).
/// TIME is classic syslog (`Nov 23 15:30:03`, placed by `clock`) or RFC
/// 3339. `Ok(None)`: not a syslog line; `Err`: a timestamp that is not a
/// real time.
pub(crate) type Prefix<'a> = (i64, &'a str, &'a str);
pub(crate) fn split_prefix<'a>(
    line: &'a str,
    clock: &SyslogClock,
) -> Result<Option<Prefix<'a>>, String> {
    let (ms, rest) = match clock.line(line) {
        LineStamp::Time(ms, rest) => (ms, rest),
        LineStamp::Invalid(e) => return Err(e),
        LineStamp::Missing => return Ok(None),
    };
    let parts = || {
        let (_host, rest) = rest.strip_prefix(' ')?.split_once(' ')?;
        let (prog, msg) = rest.split_once(": ")?;
        Some((prog.split('[').next().unwrap_or(prog), msg))
    };
    // A timed line without `HOST PROGRAM: ` (syslogd's `-- MARK --`) is
    // nobody's: the caller skips it as another program's.
    let (prog, msg) = parts().unwrap_or(("", ""));
    Ok(Some((ms, prog, msg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{self, TimeZone};
    use rebound_core::Reason;

    fn postfix_2026() -> Postfix {
        Postfix::new(SyslogClock::new(TimeZone::UTC, Some(2026), 0))
    }

    #[test]
    fn joins_sender_and_message_id_and_reads_bounces() {
        let mut p = postfix_2026();
        let lines = [
            "Nov 23 10:00:00 mx1 postfix/cleanup[10]: 4ABC123: message-id=<m1@example.org>",
            "Nov 23 10:00:00 mx1 postfix/qmgr[11]: 4ABC123: from=<news@example.org>, size=1234, nrcpt=2 (queue active)",
        ];
        for l in lines {
            assert!(p.line(l).unwrap().is_empty());
        }
        let d = p.line("Nov 23 10:00:01 mx1 postfix/smtp[12]: 4ABC123: to=<Bob@Example.NET>, relay=mx.example.net[192.0.2.1]:25, delay=1.1, delays=0.1/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 <Bob@Example.NET>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))").unwrap();
        assert_eq!(d.len(), 1);
        let d = &d[0];
        assert_eq!(d.recipient, "Bob@Example.NET");
        assert_eq!(d.sender.as_deref(), Some("news@example.org"));
        assert_eq!(d.message_id.as_deref(), Some("m1@example.org"));
        assert_eq!(d.outcome, Some(Outcome::Bounced));
        assert_eq!(d.rhost.as_deref(), Some("mx.example.net"));
        assert_eq!(d.status.unwrap().to_string(), "5.1.1");
        assert_eq!(d.replycode.unwrap().get(), 550);
        assert_eq!(d.smtpcommand.as_deref(), Some("RCPT"));
        assert!(
            d.text
                .starts_with("host mx.example.net[192.0.2.1] said: 550")
        );
        assert!(d.text.ends_with("(in reply to RCPT TO command)"));
        assert_eq!(d.time_ms, time::parse_iso("2026-11-23T10:00:01Z").unwrap());
    }

    #[test]
    fn sent_deferred_then_expired() {
        let mut p = postfix_2026();
        let sent = p.line("2026-11-23T10:00:01.500+00:00 mx1 postfix/smtp[12]: 5DEF: to=<a@x.org>, relay=mx.x.org[1.2.3.4]:25, delay=0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99)").unwrap();
        assert_eq!(sent[0].outcome, Some(Outcome::Delivered));
        assert_eq!(sent[0].time_ms % 1000, 500);
        let def = p.line("Nov 23 10:00:02 mx1 postfix/smtp[12]: 5DEF: to=<c@y.org>, relay=none, delay=3, dsn=4.4.1, status=deferred (connect to mx.y.org[5.6.7.8]:25: Connection timed out)").unwrap();
        assert_eq!(def[0].outcome, Some(Outcome::Deferred));
        assert_eq!(def[0].rhost, None);
        let exp = p
            .line("Nov 28 10:00:02 mx1 postfix/qmgr[11]: 5DEF: from=<s@me.org>, status=expired, returned to sender")
            .unwrap();
        assert_eq!(exp.len(), 1);
        assert_eq!(exp[0].recipient, "c@y.org");
        assert_eq!(exp[0].outcome, Some(Outcome::Expired));
        assert_eq!(exp[0].sender.as_deref(), Some("s@me.org"));
        assert!(exp[0].text.contains("Connection timed out"));
        // The hint the classifier gets for it.
        let mut n = crate::Normaliser::new();
        let e = n
            .finish(exp[0].clone(), crate::Format::Postfix, "x:1".into())
            .unwrap();
        assert_eq!(e.verdict.reason, Reason::Expired);
    }

    #[test]
    fn other_lines_are_ignored_and_broken_ones_reported() {
        let mut p = postfix_2026();
        assert!(
            p.line("Nov 23 10:00:00 mx1 dovecot: imap-login: Login")
                .unwrap()
                .is_empty()
        );
        assert!(
            p.line("Nov 23 10:00:00 mx1 postfix/smtpd[1]: connect from x[1.1.1.1]")
                .unwrap()
                .is_empty()
        );
        assert!(p.line("Nov 23 10:00:00 mx1 -- MARK --").unwrap().is_empty());
        assert!(p.line("").unwrap().is_empty());
        // No timestamp: not a log line we can read, so an error (the reader
        // reports it with file:line) rather than nothing.
        assert!(p.line("garbage").is_err());
        // Timestamps that are not real times.
        for bad in [
            "Nov 32 25:99:99 mx1 postfix/smtp[1]: 4AB: to=<a@b.c>, relay=x, dsn=5.0.0, status=bounced (x)",
            "Feb 30 10:00:00 mx1 postfix/qmgr[1]: 4AB: removed",
            "2026-11-31T10:00:00+01:00 mx1 postfix/qmgr[1]: 4AB: removed",
        ] {
            let e = p.line(bad).unwrap_err();
            assert!(e.starts_with("invalid"), "{bad}: {e}");
        }
        assert_eq!(
            p.skipped
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            ["another program=2", "blank line=1", "no queue id=1"]
        );
        assert!(
            p.line("Nov 23 10:00:00 mx1 postfix/smtp[1]: 4AB: to=<a@b.c>, relay=x, dsn=5.0.0")
                .is_err()
        );
        assert!(
            p.line("Nov 23 10:00:00 mx1 postfix/smtp[1]: 4AB: to=<a@b.c, relay=x")
                .is_err()
        );
    }
}
