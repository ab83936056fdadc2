//! Sendmail maillog lines (`sendmail[…]` or `sm-mta[…]`).
//!
//! A delivery attempt is one `QID: to=…, …, dsn=5.1.1, stat=…` line, for
//! one or more recipients (`to=<a@x>,<b@y>`): one event per recipient. The
//! `stat=` text is Sendmail's account of the remote reply (`User unknown`,
//! `Deferred: Connection refused by …`, `Sent (…)`); `dsn=` its status. A
//! `stat=` that only names an exit status ("User unknown" for any 550 at
//! RCPT) yields to a `dsn=` that says something else. The
//! envelope sender and Message-ID come from the queue's `from=` line, joined
//! by queue id (bounded, as for Postfix). When the queue lifetime runs out,
//! Sendmail writes `QID: QID2: DSN: Cannot send message for 5 days` (or
//! `return to sender: …`): one expired event per recipient last seen
//! deferred in that queue. Sendmail's submission queue (`sm-msp-queue`)
//! only hands mail to the local MTA and is skipped.

use crate::postfix::{Deferred, Generations, expired_drafts, split_prefix};
use crate::time::SyslogClock;
use crate::{Draft, Outcome, smtp_command_in};
use rebound_classify::reply;
use std::collections::BTreeMap;

/// What the `from=` line of a queue said.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    message_id: Option<String>,
    deferred: Vec<Deferred>,
}

pub(crate) struct Sendmail {
    clock: SyslogClock,
    queues: Generations<Envelope>,
    /// Lines read that gave no event and no error, by why.
    pub skipped: BTreeMap<&'static str, u64>,
}

/// The MTA's program names (the submission queue, `sm-msp-queue`, is not one).
fn is_mta(prog: &str) -> bool {
    matches!(prog, "sendmail" | "sm-mta")
}

impl Sendmail {
    pub fn new(clock: SyslogClock) -> Self {
        Self {
            clock,
            queues: Generations::new(),
            skipped: BTreeMap::new(),
        }
    }

    fn skip(&mut self, why: &'static str) -> Result<Vec<Draft>, String> {
        *self.skipped.entry(why).or_default() += 1;
        Ok(Vec::new())
    }

    /// Whether a line looks like a Sendmail MTA log line (format detection).
    pub fn looks_like(line: &str) -> bool {
        let clock = SyslogClock::new(crate::time::TimeZone::UTC, Some(2000), 0);
        split_prefix(line, &clock).is_ok_and(|p| {
            p.is_some_and(|(_, prog, msg)| {
                is_mta(prog) && (msg.contains(": to=") || msg.contains(": from="))
            })
        })
    }

    /// Parses one line: delivery lines give events, `from=` lines feed the
    /// join, everything else is counted in `skipped`; a line without a
    /// syslog prefix, with an impossible time, or a delivery line that
    /// cannot be read, is an error.
    pub fn line(&mut self, line: &str) -> Result<Vec<Draft>, String> {
        if line.trim().is_empty() {
            return self.skip("blank line");
        }
        let Some((time_ms, prog, msg)) = split_prefix(line, &self.clock)? else {
            return Err("not a syslog line (no timestamp, host and program)".into());
        };
        if !is_mta(prog) {
            return self.skip("another program");
        }
        let Some((qid, body)) = msg.split_once(": ") else {
            return self.skip("no queue id");
        };
        if qid.is_empty() || !qid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return self.skip("no queue id");
        }
        if let Some(rest) = body.strip_prefix("from=") {
            let from = rest.split(", ").next().unwrap_or("");
            let e = self.envelope(qid);
            e.from = Some(from.trim_matches(['<', '>']).to_string()).filter(|f| !f.is_empty());
            e.message_id = value(body, "msgid=")
                .map(|m| m.trim_matches(['<', '>']).to_string())
                .filter(|m| !m.is_empty());
            return self.skip("no delivery status");
        }
        if body.starts_with("to=") {
            return self.delivery(time_ms, qid, body);
        }
        if body.contains("Cannot send message for") {
            return Ok(self.expired(time_ms, qid, body));
        }
        self.skip("no delivery status")
    }

    fn envelope(&mut self, qid: &str) -> &mut Envelope {
        self.queues.entry(qid)
    }

    fn expired(&mut self, time_ms: i64, qid: &str, body: &str) -> Vec<Draft> {
        let e = self.envelope(qid);
        let deferred = std::mem::take(&mut e.deferred);
        let message_id = e.message_id.clone().unwrap_or_else(|| qid.to_string());
        let sender = e.from.clone();
        expired_drafts(deferred, time_ms, qid, sender, message_id, body)
    }

    fn delivery(&mut self, time_ms: i64, qid: &str, body: &str) -> Result<Vec<Draft>, String> {
        // `stat=` comes last and its text may hold ", ".
        let st_at = body.find(", stat=").ok_or("delivery line without stat=")?;
        let stat = body[st_at + 7..].trim();
        let fields = &body[3..st_at];
        // The recipient list ends where the first `key=` field starts.
        let list_end = fields
            .match_indices(", ")
            .map(|(i, _)| i)
            .find(|&i| is_key(&fields[i + 2..]))
            .unwrap_or(fields.len());
        let recipients: Vec<&str> = fields[..list_end]
            .split(',')
            .map(|r| r.trim().trim_matches(['<', '>']))
            .filter(|r| !r.is_empty())
            .collect();
        if recipients.is_empty() {
            return Err("empty to=".into());
        }
        let rest = &fields[list_end..];
        // Sendmail 8.16 and later log the remote server's own words,
        // `reply=550 5.7.1 ...`, as the last field before `stat=`. `stat=`
        // then names only Sendmail's exit status for it ("User unknown" for
        // any 550 refusal of a recipient, a blocklist's included), so the
        // reply is what is classified.
        let dsn = value(rest, "dsn=");
        let said = match reply_field(rest) {
            Some(reply) => reply,
            // Without it, a `stat=` that only names the exit status says
            // nothing the `dsn=` does not say better: "User unknown" beside
            // dsn=5.7.1 was a blocklist's 550, and would suppress a good
            // address. The status then decides alone.
            None if dsn.is_some_and(|d| exit_status_only(stat, d)) => "",
            None => stat,
        };
        let relay = value(rest, "relay=");
        let outcome = if stat.starts_with("Sent") {
            Outcome::Delivered
        } else if stat.starts_with("Deferred") {
            Outcome::Deferred
        } else if stat.starts_with("queued") {
            return self.skip("queued");
        } else {
            match dsn.and_then(|d| d.chars().next()) {
                Some('2') => Outcome::Delivered,
                Some('4') => Outcome::Deferred,
                _ => Outcome::Bounced,
            }
        };
        // `relay=mx.example.net. [192.0.2.1]`: the host, without its root dot.
        let rhost = relay
            .map(|r| {
                r.split([' ', '['])
                    .next()
                    .unwrap_or(r)
                    .trim_end_matches('.')
            })
            .filter(|h| !h.is_empty() && !h.eq_ignore_ascii_case("localhost"))
            .map(str::to_string);
        let relay_ip = relay.and_then(crate::client_ip::relay_address);
        // The queue's record: its deferred recipients updated, its sender
        // and Message-ID read (cloned once, not the whole record).
        let (from, message_id) = {
            let e = self.envelope(qid);
            for rcpt in &recipients {
                e.deferred.retain(|(r, ..)| r != rcpt);
                if outcome == Outcome::Deferred && e.deferred.len() < 1000 {
                    e.deferred.push((
                        rcpt.to_string(),
                        said.to_string(),
                        dsn.map(str::to_string),
                        rhost.clone(),
                    ));
                }
            }
            (e.from.clone(), e.message_id.clone())
        };
        let (code, status) = reply::codes(said);
        let drafts = recipients
            .into_iter()
            .map(|rcpt| {
                let mut d = Draft {
                    time_ms,
                    recipient: rcpt.to_string(),
                    sender: from.clone(),
                    message_id: message_id.clone().or_else(|| Some(qid.to_string())),
                    outcome: Some(outcome),
                    // Sendmail never logs our own address; the reply may.
                    sending_ip: crate::client_ip::named_in(said, relay_ip),
                    text: said.to_string(),
                    rhost: rhost.clone(),
                    smtpcommand: smtp_command_in(said),
                    replycode: code,
                    identity: format!("{qid}\u{1f}{time_ms}\u{1f}{rcpt}\u{1f}{stat}"),
                    ..Draft::default()
                };
                if let Some(dsn) = dsn {
                    d.set_status(dsn);
                }
                if d.status.is_none() {
                    d.status = status;
                }
                d
            })
            .collect();
        Ok(drafts)
    }
}

/// Sendmail's names of its exit statuses (sysexits.h), which `stat=` holds
/// for a refusal, with the enhanced status each one means by itself (none:
/// it names no cause).
const EXIT_STATUS_TEXTS: &[(&str, Option<(u16, u16)>)] = &[
    ("User unknown", Some((1, 1))),
    ("Host unknown", Some((1, 2))),
    ("Service unavailable", None),
    ("Data format error", None),
    ("Remote protocol error", None),
    ("Internal error", None),
    ("Operating system error", None),
    ("I/O error", None),
    ("Insufficient permission", None),
    ("Local configuration error", None),
];

/// Whether `stat` is only an exit status's name and `dsn` a status that
/// says more than it (a specific subject and detail, and not the one the
/// name itself stands for).
fn exit_status_only(stat: &str, dsn: &str) -> bool {
    let Some(&(_, meant)) = EXIT_STATUS_TEXTS
        .iter()
        .find(|(name, _)| stat.eq_ignore_ascii_case(name))
    else {
        return false;
    };
    let Ok(status) = dsn.parse::<rebound_core::EnhancedStatus>() else {
        return false;
    };
    let said = (status.subject(), status.detail());
    said != (0, 0) && Some(said) != meant
}

/// Whether `s` starts with a `key=` field (a lower-case word and `=`).
fn is_key(s: &str) -> bool {
    s.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    })
}

/// The text after the field name `key` (`dsn=`), where `key` starts a
/// field (at the start or after a space, not inside another name).
fn after_key<'a>(fields: &'a str, key: &str) -> Option<&'a str> {
    let at = fields
        .match_indices(key)
        .find(|(i, _)| *i == 0 || fields[..*i].ends_with(' '))?
        .0;
    Some(&fields[at + key.len()..])
}

/// The `reply=` field, which runs to the end of `fields` (it is the last
/// field before `stat=`, and its text may hold ", ").
fn reply_field(fields: &str) -> Option<&str> {
    after_key(fields, "reply=")
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// The value of the field `key` (`dsn=`, `relay=`) in `fields`, up to the
/// next `, `.
fn value<'a>(fields: &'a str, key: &str) -> Option<&'a str> {
    let v = after_key(fields, key)?;
    Some(v.split(", ").next().unwrap_or(v).trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{self, TimeZone};

    fn sendmail_2026() -> Sendmail {
        Sendmail::new(SyslogClock::new(TimeZone::UTC, Some(2026), 0))
    }

    #[test]
    fn joins_the_envelope_and_reads_each_recipient() {
        let mut s = sendmail_2026();
        let from = "Nov 23 10:00:00 mx1 sendmail[1234]: 4ANA0012345: from=<news@example.org>, size=1234, class=0, nrcpts=2, msgid=<m1@example.org>, proto=ESMTP, daemon=MTA, relay=localhost [127.0.0.1]";
        assert!(s.line(from).unwrap().is_empty());
        let d = s.line("Nov 23 10:00:01 mx1 sendmail[1235]: 4ANA0012345: to=<bob@example.net>,<carol@example.net>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=121234, relay=mx.example.net. [192.0.2.1], dsn=5.1.1, stat=User unknown").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].recipient, "bob@example.net");
        assert_eq!(d[1].recipient, "carol@example.net");
        for d in &d {
            assert_eq!(d.outcome, Some(Outcome::Bounced));
            assert_eq!(d.sender.as_deref(), Some("news@example.org"));
            assert_eq!(d.message_id.as_deref(), Some("m1@example.org"));
            assert_eq!(d.rhost.as_deref(), Some("mx.example.net"));
            assert_eq!(d.status.unwrap().to_string(), "5.1.1");
            assert_eq!(d.text, "User unknown");
            assert_eq!(d.time_ms, time::parse_iso("2026-11-23T10:00:01Z").unwrap());
        }
        assert_ne!(d[0].identity, d[1].identity);
    }

    /// Sendmail's `stat=User unknown` names its exit status for any 550 at
    /// RCPT; the `reply=` before it holds what the server said (here a
    /// blocklist), and that is what the event carries.
    #[test]
    fn the_remote_reply_field_is_the_text() {
        let mut s = sendmail_2026();
        let d = s.line("2026-12-04T14:05:11+01:00 relay sendmail[4411]: 6B4E5AAb004410: to=<f@example.net>, delay=00:00:01, mailer=esmtp, pri=1, relay=mx2.example.net. [192.0.2.44], dsn=5.7.1, reply=550 5.7.1 Service unavailable; Client host [198.51.100.60] blocked using zen.spamhaus.org, stat=User unknown").unwrap();
        assert_eq!(d[0].outcome, Some(Outcome::Bounced));
        assert_eq!(
            d[0].text,
            "550 5.7.1 Service unavailable; Client host [198.51.100.60] blocked using zen.spamhaus.org"
        );
        assert_eq!(
            d[0].replycode.map(|c| c.to_string()).as_deref(),
            Some("550")
        );
        assert_eq!(d[0].sending_ip.as_deref(), Some("198.51.100.60"));
        // Without `reply=`, `stat=` stays the text.
        let d = s.line("Nov 23 10:00:01 mx1 sendmail[1]: 4ANA1: to=<b@example.net>, delay=00:00:01, mailer=esmtp, pri=1, relay=mx.example.net. [192.0.2.1], dsn=5.1.1, stat=User unknown").unwrap();
        assert_eq!(d[0].text, "User unknown");
    }

    /// Without `reply=`, a bare exit-status name beside a `dsn=` that says
    /// something else leaves the status to decide: "User unknown" with
    /// 5.7.1 was a refusal of the sender, not a dead mailbox.
    #[test]
    fn an_exit_status_name_yields_to_the_dsn() {
        let mut s = sendmail_2026();
        let line = |dsn: &str, stat: &str| {
            format!(
                "Nov 23 10:00:01 mx1 sendmail[1]: 4ANA1: to=<b@example.net>, delay=00:00:01, mailer=esmtp, pri=1, relay=mx.example.net. [192.0.2.1], dsn={dsn}, stat={stat}"
            )
        };
        for (dsn, stat, text) in [
            ("5.7.1", "User unknown", ""),
            ("5.2.1", "User unknown", ""),
            ("5.4.6", "Service unavailable", ""),
            ("5.1.1", "User unknown", "User unknown"),
            ("5.1.2", "Host unknown", "Host unknown"),
            ("5.0.0", "Service unavailable", "Service unavailable"),
            ("5.7.1", "Mailbox full", "Mailbox full"),
        ] {
            let d = s.line(&line(dsn, stat)).unwrap();
            assert_eq!(d[0].text, text, "dsn={dsn}, stat={stat}");
            assert_eq!(d[0].status.unwrap().to_string(), dsn);
        }
    }

    #[test]
    fn sent_deferred_and_a_stat_with_commas() {
        let mut s = sendmail_2026();
        let sent = s.line("Nov 23 10:00:02 mx1 sm-mta[7]: 4ANB1: to=a@x.org, ctladdr=<news@example.org> (1000/1000), delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30000, relay=mx.x.org. [1.2.3.4], dsn=2.0.0, stat=Sent (Ok: queued as 99, id 7)").unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].recipient, "a@x.org");
        assert_eq!(sent[0].outcome, Some(Outcome::Delivered));
        assert_eq!(sent[0].text, "Sent (Ok: queued as 99, id 7)");
        let def = s.line("Nov 23 10:00:03 mx1 sm-mta[7]: 4ANB2: to=<c@y.org>, delay=00:00:05, xdelay=00:00:05, mailer=esmtp, pri=30000, relay=mx.y.org. [5.6.7.8], dsn=4.0.0, stat=Deferred: Connection refused by mx.y.org.").unwrap();
        assert_eq!(def[0].outcome, Some(Outcome::Deferred));
        assert_eq!(def[0].sender, None);
        assert_eq!(def[0].message_id.as_deref(), Some("4ANB2"));
        let full = s.line("Nov 23 10:00:04 mx1 sendmail[8]: 4ANB3: to=<d@z.org>, delay=00:00:01, mailer=esmtp, pri=1, relay=mx.z.org. [5.6.7.9], dsn=4.2.2, stat=Mailbox full").unwrap();
        assert_eq!(full[0].outcome, Some(Outcome::Deferred));
        // Five days on, the queue gives up on the still-deferred recipient.
        let exp = s
            .line(
                "Nov 28 10:00:03 mx1 sm-mta[9]: 4ANB2: 4ANB9: DSN: Cannot send message for 5 days",
            )
            .unwrap();
        assert_eq!(exp.len(), 1);
        assert_eq!(exp[0].recipient, "c@y.org");
        assert_eq!(exp[0].outcome, Some(Outcome::Expired));
        assert!(exp[0].text.contains("Connection refused"));
        // The sent queue has nobody deferred: nothing expires there.
        assert!(
            s.line(
                "Nov 28 10:00:04 mx1 sm-mta[9]: 4ANB1: 4ANB8: DSN: Cannot send message for 5 days"
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn other_lines_are_skipped_and_broken_ones_reported() {
        let mut s = sendmail_2026();
        for line in [
            "Nov 23 10:00:00 mx1 sm-msp-queue[9]: 4ANC1: to=root, ctladdr=root (0/0), delay=00:00:00, mailer=relay, pri=30000, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (4AND1 Message accepted for delivery)",
            "Nov 23 10:00:00 mx1 sendmail[9]: 4ANC2: <bob@example.net>... User unknown",
            "Nov 23 10:00:00 mx1 sendmail[9]: 4ANC2: 4ANC3: DSN: User unknown",
            "Nov 23 10:00:00 mx1 postfix/smtp[1]: 4AB: to=<a@b.c>, relay=x, dsn=5.0.0, status=bounced (x)",
            "",
        ] {
            assert!(s.line(line).unwrap().is_empty(), "{line}");
        }
        assert!(s.line("garbage").is_err());
        assert!(
            s.line("Nov 23 10:00:00 mx1 sendmail[9]: 4ANC4: to=<a@b.c>, delay=00:00:01, dsn=5.1.1")
                .is_err()
        );
        assert!(
            s.line("Nov 23 10:00:00 mx1 sendmail[9]: 4ANC4: to=, delay=0, stat=User unknown")
                .is_err()
        );
        assert!(Sendmail::looks_like(
            "Nov 23 10:00:00 mx1 sm-mta[9]: 4ANC4: to=<a@b.c>, delay=0, stat=User unknown"
        ));
        assert!(!Sendmail::looks_like(
            "Nov 23 10:00:00 mx1 postfix/smtp[1]: 4AB: to=<a@b.c>, status=bounced (x)"
        ));
    }
}
