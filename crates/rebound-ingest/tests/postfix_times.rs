//! Postfix logs with real times: syslog dates placed in a zone and a year,
//! RFC 3339 dates read as written, impossible dates rejected with file:line,
//! lines that give no event counted by why, and the sending IP taken from
//! what the reply says of the client. The lines follow Postfix's documented
//! log format (`postconf(5)` `maillog_file`, `smtp(8)` delivery lines).

use rebound_ingest::time::{TimeZone, parse_iso, zone_named};
use rebound_ingest::{Event, EventReader, Format, ParseError, ReaderOptions};

fn read<'a>(log: &'a str, zone: TimeZone, year: Option<i64>, now: &str) -> EventReader<&'a [u8]> {
    EventReader::new(
        log.as_bytes(),
        "maillog",
        ReaderOptions {
            format: Format::Postfix,
            year,
            timezone: zone,
            now_ms: Some(parse_iso(now).unwrap()),
            ..ReaderOptions::default()
        },
    )
    .unwrap()
}

fn split(r: &mut EventReader<&[u8]>) -> (Vec<Event>, Vec<ParseError>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for item in r {
        match item {
            Ok(e) => ok.push(e),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

fn at(s: &str) -> i64 {
    parse_iso(s).unwrap()
}

const NEW_YEAR: &str = "\
Dec 31 23:59:58 mx1 postfix/qmgr[11]: 4NY1: from=<news@sender.example>, size=900, nrcpt=2 (queue active)
Dec 31 23:59:59 mx1 postfix/smtp[12]: 4NY1: to=<a@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1)
Jan  1 00:00:01 mx1 postfix/smtp[12]: 4NY1: to=<b@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=3, delays=0/0/2.5/0.5, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 <b@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Jan  1 00:00:02 mx1 postfix/qmgr[11]: 4NY1: removed
";

#[test]
fn a_log_across_new_year_read_in_january_in_a_zone() {
    let paris = zone_named("Europe/Paris").unwrap();
    let mut r = read(NEW_YEAR, paris, None, "2027-01-02T08:00:00Z");
    let (events, errors) = split(&mut r);
    assert!(errors.is_empty(), "{errors:?}");
    let times: Vec<i64> = events.iter().map(|e| e.time_ms).collect();
    // Paris is UTC+1 in winter: both sides of midnight, in the right year.
    assert_eq!(
        times,
        [at("2026-12-31T22:59:59Z"), at("2026-12-31T23:00:01Z")]
    );
    // The same log in New York is five hours later, still 2026 then 2027.
    let ny = zone_named("America/New_York").unwrap();
    let (events, _) = split(&mut read(NEW_YEAR, ny, None, "2027-01-02T08:00:00Z"));
    assert_eq!(events[0].time_ms, at("2027-01-01T04:59:59Z"));
    assert_eq!(events[1].time_ms, at("2027-01-01T05:00:01Z"));
    // `--year` still wins: every line in the year given.
    let (events, _) = split(&mut read(
        NEW_YEAR,
        TimeZone::UTC,
        Some(2025),
        "2027-01-02T08:00:00Z",
    ));
    assert_eq!(events[0].time_ms, at("2025-12-31T23:59:59Z"));
    assert_eq!(events[1].time_ms, at("2025-01-01T00:00:01Z"));
}

#[test]
fn rfc3339_lines_are_read_as_written() {
    let log = "\
2026-12-02T10:00:00.000001+01:00 mx1 postfix/qmgr[11]: 4R1: from=<news@sender.example>, size=900, nrcpt=1 (queue active)
2026-12-02T10:00:01.123456+01:00 mx1 postfix/smtp[12]: 4R1: to=<a@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command))
2026-12-02T09:00:02Z mx1 postfix/smtp[12]: 4R1: to=<b@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
";
    // The reader's zone does not matter: the lines state their offset.
    let tokyo = zone_named("Asia/Tokyo").unwrap();
    let (events, errors) = split(&mut read(log, tokyo, None, "2026-12-02T20:00:00Z"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(events[0].time_ms, at("2026-12-02T09:00:01.123Z"));
    assert_eq!(events[0].sender.as_deref(), Some("news@sender.example"));
    assert_eq!(events[1].time_ms, at("2026-12-02T09:00:02Z"));
}

#[test]
fn impossible_dates_are_rejected_with_file_and_line() {
    let log = "\
Nov 30 10:00:00 mx1 postfix/smtp[12]: 4B1: to=<a@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 User unknown)
Nov 32 25:99:99 mx1 postfix/smtp[12]: 4B1: to=<b@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 User unknown)
Feb 29 10:00:00 mx1 postfix/smtp[12]: 4B1: to=<c@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 User unknown)
2026-11-31T10:00:00+00:00 mx1 postfix/smtp[12]: 4B1: to=<d@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 User unknown)
this is not a log line
Nov 30 10:00:05 mx1 dovecot: imap-login: Login: user=<x>
Nov 30 10:00:06 mx1 postfix/smtpd[9]: connect from client.example[198.51.100.9]
Nov 30 10:00:07 mx1 postfix/cleanup[10]: 4B2: message-id=<m@sender.example>

";
    let mut r = read(log, TimeZone::UTC, Some(2026), "2026-12-01T00:00:00Z");
    let (events, errors) = split(&mut r);
    assert_eq!(events.len(), 1);
    let located: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.location.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(located.len(), 4, "{located:?}");
    assert_eq!(located[0].0, "maillog:2");
    assert!(located[0].1.contains("Nov 32 25:99:99"), "{}", located[0].1);
    // 2026 has no 29 February.
    assert_eq!(located[1].0, "maillog:3");
    assert!(located[1].1.contains("Feb 29 2026"), "{}", located[1].1);
    assert_eq!(located[2].0, "maillog:4");
    assert_eq!(located[3].0, "maillog:5");
    let reasons: Vec<String> = r
        .skipped_by_reason()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(
        reasons,
        [
            "another program=1",
            "blank line=1",
            "no delivery status=1",
            "no queue id=1",
            "rejected: invalid timestamp=3",
            "rejected: not a log line=1",
        ]
    );
}

#[test]
fn sending_ip_from_what_the_reply_says_of_the_client() {
    let log = "\
Nov 25 08:00:01 mx1 postfix/smtp[2300]: 4IP1: to=<x@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.1, status=bounced (host mx.example.net[192.0.2.1] said: 554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked using zen.spamhaus.org (in reply to RCPT TO command))
Nov 25 08:00:02 mx1 postfix/smtp[2301]: 4IP1: to=<y@gmail.com>, relay=gmail-smtp-in.l.google.com[192.0.2.26]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com[192.0.2.26] said: 421-4.7.28 [198.51.100.23      15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. (in reply to end of DATA command))
Nov 25 08:00:03 mx1 postfix/smtp[2302]: 4IP1: to=<z@example.org>, relay=mx.example.org[203.0.113.5]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.example.org[203.0.113.5] said: 550 5.1.1 <z@example.org>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Nov 25 08:00:04 mx1 postfix/smtp[2303]: 4IP1: to=<w@example.com>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.com[203.0.113.5]:25: Connection timed out)
Nov 30 08:00:04 mx1 postfix/qmgr[1187]: 4IP1: from=<news@sender.example>, status=expired, returned to sender
";
    let (events, errors) = split(&mut read(
        log,
        TimeZone::UTC,
        Some(2026),
        "2026-12-01T00:00:00Z",
    ));
    assert!(errors.is_empty(), "{errors:?}");
    let ips: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.recipient.as_str(), e.sending_ip.as_deref()))
        .collect();
    assert_eq!(
        ips,
        [
            ("x@example.net", Some("198.51.100.22")),
            ("y@gmail.com", Some("198.51.100.23")),
            // The relay's address (the remote server) is never ours.
            ("z@example.org", None),
            ("w@example.com", None),
            // Expired keeps what the last deferral's reply said.
            ("y@gmail.com", Some("198.51.100.23")),
            ("w@example.com", None),
        ]
    );
}
