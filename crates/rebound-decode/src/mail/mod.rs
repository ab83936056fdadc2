//! A bounce email flattened into what decoders look at: the top headers,
//! the human-readable text, the machine-readable report parts, and the
//! returned original message.
//!
//! MIME structure, header values, base64 and charsets are mail-parser's
//! job (through its stream primitives); this module chooses which parts
//! matter for a bounce and how they are laid out, so that every format
//! decoder sees the same shape. Speed comes from not decoding what no
//! decoder reads (the returned message's body, attachments, HTML beside
//! plain text) and from a few vectorised stand-ins for mail-parser's
//! byte-by-byte routines, each tested against the routine it replaces.
//!
//! This module holds the layout (`Mail`, `Report`, `Original`) and the
//! byte-level preparation of a raw message; each job of reading one has a
//! module of its own, none importing this one except the walk:
//! - `walk`: the MIME part walk, and `Mail::parse`, which runs it;
//! - `part_headers`: a part's header block in one pass;
//! - `headers`: `Headers`, a header block's fields;
//! - `name_filter`: the bits that say which names a block may hold;
//! - `boundary`: the vectorised search for the next `--boundary`;
//! - `quoted_printable`: quoted-printable bodies in runs;
//! - `charset`: bytes to UTF-8, and the size cut;
//! - `html`: HTML parts to text.

use std::borrow::Cow;

mod boundary;
mod charset;
mod headers;
mod html;
mod name_filter;
mod part_headers;
mod quoted_printable;
mod walk;

pub use headers::Headers;
pub use html::html_to_text;

/// The message that bounced, as returned inside the bounce: only its
/// headers. Its body (often cut, often an HTML newsletter) is never decoded:
/// nothing in a bounce record comes from it.
#[derive(Debug, Clone, Default)]
pub struct Original {
    pub headers: Headers,
}

/// A bounce email laid out for decoders.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// The bounce's own top-level headers.
    pub headers: Headers,
    /// `Subject:` decoded from RFC 2047.
    pub subject: String,
    /// The bounce's `From:` lower-cased (ASCII): most format decoders
    /// look at it first.
    pub from_lower: String,
    /// `subject`, lower-cased (ASCII), for the same reason.
    pub subject_lower: String,
    /// The human-readable text: every text part outside the returned message,
    /// decoded to UTF-8, joined by blank lines (HTML turned into text when it
    /// is all there is). Formats that embed the original message inline keep
    /// it here; decoders cut it off at their marker.
    pub text: String,
    /// Machine-readable report parts, decoded: `message/delivery-status`,
    /// `message/global-delivery-status`, `message/feedback-report`.
    pub reports: Vec<Report>,
    /// The returned original message (`message/rfc822`, `message/global`,
    /// `text/rfc822-headers`, `message/rfc822-headers`).
    pub original: Option<Original>,
    /// The top-level Content-Type, lower-cased (e.g.
    /// `multipart/report; report-type=delivery-status`).
    pub content_type: String,
}

/// One machine-readable report part.
#[derive(Debug, Clone)]
pub struct Report {
    /// `delivery-status`, `global-delivery-status` or `feedback-report`.
    pub kind: String,
    pub text: String,
}

impl Mail {
    /// The text followed by every report part: for decoders that scan
    /// everything the bounce says.
    pub fn full_text(&self) -> String {
        let mut out = self.text.clone();
        for r in &self.reports {
            out.push_str("\n\n");
            out.push_str(&r.text);
        }
        out
    }

    /// The report of a kind (`delivery-status`, …), if present.
    pub fn report(&self, kind: &str) -> Option<&str> {
        self.reports
            .iter()
            .find(|r| r.kind == kind)
            .map(|r| r.text.as_str())
    }

    /// Headers of the returned message, or empty headers.
    pub fn original_headers(&self) -> &Headers {
        static EMPTY: std::sync::OnceLock<Headers> = std::sync::OnceLock::new();
        match &self.original {
            Some(o) => &o.headers,
            None => EMPTY.get_or_init(Headers::default),
        }
    }
}

/// Reads an original message given as text: a header block (the body
/// after it is not needed).
pub fn original_from_text(text: &str) -> Original {
    let text = text.trim_start_matches(['\n', '\r', ' ']);
    let (headers, _) = Headers::parse_block(text);
    Original { headers }
}

/// Turns CRLF and bare CR into LF, without copying when there is no CR.
pub fn normalise_line_endings(raw: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\r', raw).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(pos) = memchr::memchr(b'\r', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + pos]);
        out.push(b'\n');
        i += pos + 1;
        if raw.get(i) == Some(&b'\n') {
            i += 1;
        }
    }
    out.extend_from_slice(&raw[i..]);
    Cow::Owned(out)
}

/// Some MTAs (Exchange among them) break a `Content-Type` header before its
/// `boundary=` parameter without indenting the continuation line, which
/// hides the boundary from a MIME parser. Indents such lines; copies only
/// when one is found.
pub fn refold_boundary_parameters(raw: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    // The needles are `;\nboundary=` and `;\nBoundary=`. Searching for
    // their rare tail and checking the head is several times faster than
    // searching for them (a `\n` starts a candidate on every line); the
    // searcher is built once.
    static TAIL: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"oundary="));
    let found = |hay: &[u8]| {
        TAIL.find_iter(hay)
            .any(|i| i >= 3 && &hay[i - 3..i - 1] == b";\n" && matches!(hay[i - 1], b'b' | b'B'))
    };
    if !found(raw.as_ref()) {
        return raw;
    }
    let bytes = raw.as_ref();
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut copied = 0;
    for i in memchr::memchr_iter(b'\n', bytes) {
        if i > 0
            && bytes[i - 1] == b';'
            && bytes
                .get(i + 1..i + 10)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"boundary="))
        {
            out.extend_from_slice(&bytes[copied..=i]);
            out.push(b'\t');
            copied = i + 1;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_before_the_first_header_is_skipped() {
        for prefix in [
            "",
            "\u{feff}",
            "\n\n",
            " \n\t\n",
            "From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n",
        ] {
            let raw = format!("{prefix}From: MAILER-DAEMON@x.example\nSubject: s\n\nbody\n");
            let mail = Mail::parse(raw.as_bytes()).unwrap_or_else(|| panic!("{prefix:?}"));
            assert_eq!(mail.from_lower, "mailer-daemon@x.example", "{prefix:?}");
            assert_eq!(mail.subject, "s");
        }
        // Only blank lines: still no message.
        assert!(Mail::parse(b"\n\n\n").is_none());
    }

    #[test]
    fn line_endings_are_normalised() {
        assert_eq!(
            normalise_line_endings(b"a\r\nb\rc\n").as_ref(),
            b"a\nb\nc\n"
        );
        assert!(matches!(normalise_line_endings(b"a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn multipart_report_is_split_into_text_report_and_original() {
        let raw = b"From: MAILER-DAEMON@example.org\nTo: a@example.com\nSubject: fail\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nhuman text\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; x@example.net\nStatus: 5.1.1\n\
--B\nContent-Type: message/rfc822\n\nFrom: a@example.com\nSubject: hi\n\nbody\n--B--\n";
        let mail = Mail::parse(raw).unwrap();
        assert!(mail.text.contains("human text"));
        assert!(
            mail.report("delivery-status")
                .unwrap()
                .contains("Status: 5.1.1")
        );
        assert_eq!(mail.original_headers().value("subject"), "hi");
    }

    #[test]
    fn returned_message_gives_headers_and_its_parts_are_not_read() {
        // The original is a multipart with text of its own and is cut off
        // before its closing boundary, as bounces often return it.
        let raw = b"From: MAILER-DAEMON@example.org\nSubject: fail\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nhuman text\n\
--B\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n\
--B\nContent-Type: message/rfc822\n\nFrom: a@example.com\nTo: x@example.net\n\
Subject: hi\nContent-Type: multipart/alternative; boundary=\"I\"\n\n\
--I\nContent-Type: text/plain\n\nnewsletter words\n\
--I\nContent-Type: text/html\n\n<p>newsletter html</p>\n";
        let mail = Mail::parse(raw).unwrap();
        assert_eq!(mail.text, "human text");
        assert_eq!(mail.reports.len(), 1);
        assert_eq!(mail.original_headers().value("to"), "x@example.net");
        assert_eq!(mail.original_headers().value("subject"), "hi");
    }

    #[test]
    fn forwarded_bounce_is_read_inside_its_envelope() {
        let raw = b"From: user@example.com\nSubject: Fwd: bounce\n\
Content-Type: message/rfc822\n\n\
From: MAILER-DAEMON@example.org\nSubject: Undelivered\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\n\n\
--R\nContent-Type: text/plain\n\ninner human text\n\
--R\nContent-Type: message/delivery-status\n\nStatus: 5.2.2\n\
--R--\n";
        let mail = Mail::parse(raw).unwrap();
        assert_eq!(mail.original_headers().value("subject"), "Undelivered");
        assert!(mail.text.contains("inner human text"));
        assert!(mail.report("delivery-status").unwrap().contains("5.2.2"));
    }

    #[test]
    fn encoded_returned_message_is_decoded_for_its_headers() {
        // "From: a@example.com\nSubject: encoded\n\nbody\n" in base64.
        let raw = b"From: MAILER-DAEMON@example.org\n\
Content-Type: multipart/mixed; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nfailed\n\
--B\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n\
RnJvbTogYUBleGFtcGxlLmNvbQpTdWJqZWN0OiBlbmNvZGVkCgpib2R5Cg==\n--B--\n";
        let mail = Mail::parse(raw).unwrap();
        assert_eq!(mail.text, "failed");
        assert_eq!(mail.original_headers().value("subject"), "encoded");
    }

    #[test]
    fn html_is_read_only_without_plain_text() {
        let both = b"Content-Type: multipart/alternative; boundary=\"A\"\n\n\
--A\nContent-Type: text/plain\n\nplain words\n\
--A\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p>html =\nwords</p>\n--A--\n";
        assert_eq!(Mail::parse(both).unwrap().text, "plain words");
        let html_only = b"Content-Type: multipart/alternative; boundary=\"A\"\n\n\
--A\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
<p>caf=E9 html =\nwords</p>\n--A--\n";
        assert_eq!(
            Mail::parse(html_only).unwrap().text.trim(),
            "caf\u{e9} html words"
        );
    }

    #[test]
    fn unindented_boundary_parameters_are_refolded() {
        let raw = b"Content-Type: multipart/alternative;\nboundary=\"X\"\n\n--X\nContent-Type: text/plain\n\nhi\n--X--\n";
        let fixed = refold_boundary_parameters(Cow::Borrowed(raw));
        assert!(
            fixed
                .as_ref()
                .starts_with(b"Content-Type: multipart/alternative;\n\tboundary=")
        );
        let plain = b"Subject: a\n\nbody";
        assert!(matches!(
            refold_boundary_parameters(Cow::Borrowed(plain)),
            Cow::Borrowed(_)
        ));
    }
}
