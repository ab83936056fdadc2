//! Synthetic Postfix logs for benchmarks and tests: realistic lines, a known
//! mix of outcomes, every event unique.

use std::io::Write;

/// What line `i` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sent,
    /// `550 5.1.1` user unknown: a hard bounce.
    UserUnknown,
    /// `452 4.2.2` mailbox full, deferred.
    Deferred,
    /// `554 5.7.1` blocklisted sending IP: a sender issue.
    Blocked,
}

/// The mix: 1 in 20 hard bounces, 1 in 20 deferrals, 1 in 50 blocks, the
/// rest delivered.
pub fn kind(i: u64) -> Kind {
    if i % 20 == 7 {
        Kind::UserUnknown
    } else if i % 20 == 13 {
        Kind::Deferred
    } else if i % 50 == 29 {
        Kind::Blocked
    } else {
        Kind::Sent
    }
}

/// The recipient of line `i`.
pub fn recipient(i: u64) -> String {
    format!("user{i}@example{}.com", i % 97)
}

/// Writes `n` Postfix delivery lines (year-less syslog dates in November;
/// read them with year 2026) starting at index `start`.
pub fn postfix_lines(start: u64, n: u64, out: &mut impl Write) -> std::io::Result<()> {
    for i in start..start + n {
        let sec = i % 86_400;
        let (h, m, s) = (sec / 3600, sec / 60 % 60, sec % 60);
        let day = 1 + (i / 86_400) % 28;
        let rcpt = recipient(i);
        let dom = i % 97;
        let q = format!("{:X}", 0x1000_0000u64 + i);
        let tail = match kind(i) {
            Kind::Sent => format!(
                "relay=mx.example{dom}.com[192.0.2.{}]:25, delay=0.31, delays=0.01/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {q})",
                dom + 1
            ),
            Kind::UserUnknown => format!(
                "relay=mx.example{dom}.com[192.0.2.{}]:25, delay=0.2, delays=0.01/0/0.1/0.1, dsn=5.1.1, status=bounced (host mx.example{dom}.com[192.0.2.{}] said: 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))",
                dom + 1,
                dom + 1
            ),
            Kind::Deferred => format!(
                "relay=mx.example{dom}.com[192.0.2.{}]:25, delay=1.2, delays=0.01/0/0.1/1.1, dsn=4.2.2, status=deferred (host mx.example{dom}.com[192.0.2.{}] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))",
                dom + 1,
                dom + 1
            ),
            Kind::Blocked => format!(
                "relay=mx.example{dom}.com[192.0.2.{}]:25, delay=0.2, delays=0.01/0/0.1/0.1, dsn=5.7.1, status=bounced (host mx.example{dom}.com[192.0.2.{}] said: 554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org (in reply to RCPT TO command))",
                dom + 1,
                dom + 1
            ),
        };
        writeln!(
            out,
            "Nov {day:2} {h:02}:{m:02}:{s:02} mx1 postfix/smtp[{}]: {q}: to=<{rcpt}>, {tail}",
            1000 + i % 5000
        )?;
    }
    Ok(())
}
