//! Bad input never panics: sample records of every format, mutated byte by
//! byte (truncations, multibyte characters, junk), go through detection and
//! the reader; each gives events or errors, nothing else.

use rebound_ingest::{EventReader, Format, ReaderOptions, detect};

const SAMPLES: &[&str] = &[
    "Nov 20 10:00:01 mx1 postfix/smtp[12]: 4ABC123: to=<Bob@Example.NET>, relay=mx.example.net[192.0.2.1]:25, delay=1.1, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.1] said: 550 5.1.1 <Bob@Example.NET>: User unknown (in reply to RCPT TO command))\nNov 20 10:00:02 mx1 postfix/qmgr[11]: 4ABC123: from=<s@me.org>, status=expired, returned to sender\n",
    "2026-11-23T10:00:01.500+00:00 mx1 postfix/smtp[12]: 5DEF: to=<a@x.org>, relay=mx.x.org[1.2.3.4]:25, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n",
    "2026-11-23 10:00:00.123 +0100 [77] 1tAbCd-000Xyz-AB <= news@example.org H=localhost [127.0.0.1] P=esmtp S=1234 id=m2@example.org\n2026-11-23 10:00:02 1tAbCd-000Xyz-AB ** bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<bob@example.com>: 550 5.1.1 User unknown\n2026-11-23 10:00:03 1tAbCd-000Xyz-AB == c@example.com R=x T=y defer (-44) H=mx [1.1.1.1]: 452 4.2.2 full\n",
    "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcMta,srcIp,jobId\nb,2026-11-23 10:00:00-0500,news@example.org,dave@example.com,failed,5.1.1 (bad destination mailbox address),\"smtp;550 5.1.1 <dave@example.com>, no such user\",mx.example.com (192.0.2.20),bad-mailbox,pmta1,198.51.100.7,job-42\n",
    "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"jane@example.com\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}],\"timestamp\":\"2016-01-27T14:59:38.237Z\"},\"mail\":{\"messageId\":\"m\",\"source\":\"a@b.c\"}}\n",
    "[{\"email\":\"x@test.com\",\"timestamp\":1513299569,\"event\":\"bounce\",\"sg_event_id\":\"e\",\"reason\":\"550 no\",\"status\":\"5.0.0\"}]\n",
    "{\"event-data\":{\"id\":\"i\",\"timestamp\":1521472262.9,\"event\":\"failed\",\"severity\":\"permanent\",\"recipient\":\"a@b.c\",\"delivery-status\":{\"code\":550,\"message\":\"no\",\"enhanced-code\":\"5.1.1\"}}}\n",
    "{\"RecordType\":\"Bounce\",\"Type\":\"HardBounce\",\"ID\":1,\"Email\":\"x@y.org\",\"BouncedAt\":\"2019-11-05T16:33:54.9070259Z\",\"Details\":\"550 5.1.1\"}\n",
    "[{\"msys\":{\"message_event\":{\"type\":\"bounce\",\"bounce_class\":\"10\",\"rcpt_to\":\"r@e.com\",\"raw_reason\":\"550 5.1.1 unknown\",\"timestamp\":\"1454442600\",\"event_id\":\"9\"}}}]\n",
    // The ESP tables' paths: list entries, type codes, classes, delays.
    "[{\"created\":\"2011-10-08 12:32:14\",\"email\":\"k@e.jp\",\"reason\":\"550 no\",\"status\":\"550\"},{\"created\":1,\"email\":\"n@n\",\"reason\":\"unknown\"}]\n",
    "{\"RecordType\":\"Bounce\",\"TypeCode\":100006,\"Email\":\"x@y.org\"}\n{\"email\":\"b@y.org\",\"event\":\"bounce\",\"type\":\"blocked\",\"bounce_classification\":\"Reputation\",\"reason\":\"554 5.7.1 blocked\"}\n",
    "{\"event\":\"bounce\",\"time\":1772445900,\"MessageID\":1,\"email\":\"m@e.fr\",\"mj_campaign_id\":0,\"hard_bounce\":true,\"error_related_to\":\"recipient\",\"error\":\"user unknown\",\"comment\":\"550 5.1.1 no\"}\n{\"event\":\"blocked\",\"email\":\"b@e.fr\",\"mj_contact_id\":2,\"error\":\"preblocked\"}\n",
    "[{\"event\":\"hard_bounce\",\"email\":\"b@e.de\",\"id\":1,\"ts_event\":1772449200,\"ts_epoch\":1772449200123,\"message-id\":\"<m@r>\",\"reason\":\"550 5.1.1 no\"},{\"event\":\"soft_bounce\",\"email\":\"s@e.de\",\"ts_event\":\"x\"}]\n",
    "{\"mandrill_events\":\"[{\\\"event\\\":\\\"hard_bounce\\\",\\\"ts\\\":1,\\\"msg\\\":{\\\"email\\\":\\\"a@b.au\\\",\\\"bounce_description\\\":\\\"bad_mailbox\\\",\\\"diag\\\":\\\"smtp;550 5.1.1\\\"}}]\"}\n[{\"event\":\"soft_bounce\",\"ts\":2,\"msg\":{\"email\":\"c@d.au\",\"smtp_events\":[{\"diag\":\"452 4.2.2 full\",\"source_ip\":\"1.2.3.4\"}]}}]\n",
    "{\"type\":\"email.bounced\",\"created_at\":\"2026-03-02T12:00:00.000Z\",\"data\":{\"email_id\":\"e\",\"to\":[\"a@b.nl\",\"c@d.nl\"],\"bounce\":{\"message\":\"550 5.1.1 no\",\"subType\":\"General\",\"type\":\"Permanent\"}}}\n{\"type\":\"domain.created\",\"data\":{\"id\":\"x\"}}\n",
    "Nov 23 10:00:00 mx1 sendmail[1]: 4ANA1: from=<n@e.org>, size=1, msgid=<m@e.org>, relay=localhost [127.0.0.1]\nNov 23 10:00:01 mx1 sm-mta[2]: 4ANA1: to=<b@e.net>,c@e.net, delay=00:00:01, mailer=esmtp, relay=mx.e.net. [192.0.2.1], dsn=5.1.1, stat=User unknown\n",
    "{\"eventType\":\"DeliveryDelay\",\"mail\":{},\"deliveryDelay\":{\"delayType\":\"IPFailure\",\"delayedRecipients\":[{\"emailAddress\":\"w@e.org\"}]}}\n{\"msys\":{\"message_event\":{\"type\":\"delay\",\"bounce_class\":\"22\",\"rcpt_to\":\"r@e.com\"}}}\n",
];

/// A small deterministic PRNG (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn run(bytes: &[u8]) {
    let _ = detect(bytes);
    for &format in Format::RECORDS {
        if let Ok(r) = EventReader::new(
            bytes,
            "fuzz",
            ReaderOptions {
                format,
                year: Some(2026),
                ..ReaderOptions::default()
            },
        ) {
            for e in r.take(10_000).flatten() {
                assert!(e.recipient.contains('@'));
            }
        }
    }
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let junk: &[&[u8]] = &[
        b"\xC3\xA9",
        b"\xE2\x82\xAC",
        b"\xFF",
        b"\0",
        b"\n",
        b"\"",
        b"<",
        b">",
        b"(",
        b")",
        b",",
        b":",
        b" ",
        b"{",
        b"]",
        b"9",
        b".",
        b"@",
    ];
    for sample in SAMPLES {
        run(sample.as_bytes());
        for _ in 0..300 {
            let mut b = sample.as_bytes().to_vec();
            for _ in 0..(1 + rng.next() % 4) {
                let at = (rng.next() as usize) % (b.len() + 1);
                match rng.next() % 3 {
                    0 => b.truncate(at),
                    1 => {
                        let j = junk[(rng.next() as usize) % junk.len()];
                        b.splice(at..at, j.iter().copied());
                    }
                    _ => {
                        if at < b.len() {
                            b.remove(at);
                        }
                    }
                }
            }
            run(&b);
        }
    }
}
