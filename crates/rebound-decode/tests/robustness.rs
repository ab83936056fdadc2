//! Bad input: every case must end in records, no records, or a clear error —
//! never a panic, a hang or unbounded memory — and one bad message must not
//! lose the others.

use rebound_decode::input::{InputError, MAX_MESSAGE_BYTES, MboxReader};
use rebound_decode::{DecodeOptions, decode_message};
use std::io::{BufReader, Read};

const BOUNCE: &str = "From: MAILER-DAEMON@mx.example.org\nTo: sender@example.com\n\
Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"XX\"\n\n\
--XX\nContent-Type: text/plain\n\nI could not deliver your message.\n\n\
--XX\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n\
Final-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown\n\n\
--XX\nContent-Type: message/rfc822\n\nFrom: sender@example.com\nTo: gone@example.net\nSubject: hello\n\nhi\n\n--XX--\n";

fn options() -> DecodeOptions {
    DecodeOptions::default()
}

fn recipients(raw: &[u8]) -> Vec<String> {
    decode_message(raw, "t", &options())
        .map(|rs| rs.into_iter().map(|r| r.recipient).collect())
        .unwrap_or_default()
}

#[test]
fn a_plain_dsn_gives_its_recipient() {
    assert_eq!(recipients(BOUNCE.as_bytes()), ["gone@example.net"]);
}

#[test]
fn truncated_mime_still_decodes_what_is_there() {
    // Cut in the middle of the original message part: the report survives.
    let cut = BOUNCE.find("Subject: hello").unwrap();
    assert_eq!(recipients(&BOUNCE.as_bytes()[..cut]), ["gone@example.net"]);
    // Cut anywhere: never a panic.
    for end in (0..BOUNCE.len()).step_by(7) {
        let _ = decode_message(&BOUNCE.as_bytes()[..end], "t", &options());
    }
}

#[test]
fn a_missing_closing_boundary_is_tolerated() {
    let raw = BOUNCE.replace("--XX--\n", "");
    assert_eq!(recipients(raw.as_bytes()), ["gone@example.net"]);
}

#[test]
fn a_fifty_megabyte_attachment_does_not_stop_decoding() {
    let big = "A".repeat(50 * 1024 * 1024);
    let raw = BOUNCE.replace(
        "--XX--\n",
        &format!("--XX\nContent-Type: application/octet-stream\n\n{big}\n--XX--\n"),
    );
    assert_eq!(recipients(raw.as_bytes()), ["gone@example.net"]);
}

#[test]
fn deep_nesting_of_messages_is_bounded() {
    let mut raw = BOUNCE.to_string();
    for i in 0..200 {
        raw = format!(
            "From: a@example.org\nSubject: wrap {i}\nMIME-Version: 1.0\n\
Content-Type: message/rfc822\n\n{raw}"
        );
    }
    // Whatever it finds, it must return.
    let _ = decode_message(raw.as_bytes(), "t", &options());
}

#[test]
fn invalid_charsets_nul_bytes_and_invalid_utf8_are_survived() {
    let raw = BOUNCE
        .replace(
            "Content-Type: text/plain",
            "Content-Type: text/plain; charset=x-no-such-charset",
        )
        .replace("I could not", "I \0could\u{0} not");
    assert_eq!(recipients(raw.as_bytes()), ["gone@example.net"]);
    let mut bytes = BOUNCE.as_bytes().to_vec();
    bytes.splice(60..60, [0xff, 0xfe, 0x00, 0xc3, 0x28]);
    let _ = decode_message(&bytes, "t", &options());
}

#[test]
fn garbage_is_an_error_or_nothing() {
    for junk in [&b""[..], b"\0\0\0", b"\xff\xfe\xfd", b"just some words"] {
        match decode_message(junk, "t", &options()) {
            Ok(records) => assert!(records.is_empty()),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// A reader that produces `count` copies of an mbox message without ever
/// holding more than one in memory.
struct GeneratedMbox {
    message: Vec<u8>,
    remaining: usize,
    pos: usize,
}

impl Read for GeneratedMbox {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.message.len() {
            if self.remaining == 0 {
                return Ok(0);
            }
            self.remaining -= 1;
            self.pos = 0;
        }
        let n = buf.len().min(self.message.len() - self.pos);
        buf[..n].copy_from_slice(&self.message[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_long_mbox_streams_message_by_message() {
    let message = format!("From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n{BOUNCE}\n");
    let count = 20_000; // about 20 MB, generated on the fly
    let message = message.into_bytes();
    let reader = BufReader::new(GeneratedMbox {
        pos: message.len(),
        message,
        remaining: count,
    });
    let mut seen = 0;
    for (i, item) in MboxReader::new(reader, "gen".into()).enumerate() {
        let m = item.expect("readable");
        assert_eq!(m.origin, format!("gen#{}", i + 1));
        if i % 5000 == 0 {
            assert_eq!(recipients(&m.bytes), ["gone@example.net"]);
        }
        seen += 1;
    }
    assert_eq!(seen, count);
}

#[test]
fn an_oversized_mbox_message_is_reported_and_the_next_one_still_read() {
    let mut data = b"From a Mon Jan  1 00:00:00 2024\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', MAX_MESSAGE_BYTES + 10));
    data.extend_from_slice(b"\n\nFrom b Mon Jan  1 00:00:00 2024\n");
    data.extend_from_slice(BOUNCE.as_bytes());
    let items: Vec<_> = MboxReader::new(&data[..], "big".into()).collect();
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[0], Err(InputError::TooLarge { origin, .. }) if origin == "big#1"));
    let second = items[1].as_ref().unwrap();
    assert_eq!(recipients(&second.bytes), ["gone@example.net"]);
}
