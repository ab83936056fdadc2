//! The MIME part walk: a bounce's parts in input order, with
//! mail-parser's stream primitives, deciding which part is the human text,
//! a report, or the returned message, and decoding only those.

use super::boundary::{plain_part, skip_part};
use super::charset::{Charset, MAX_TEXT_PART, charset_of, cut, decode_bytes, to_text};
use super::headers::Headers;
use super::html::html_to_text;
use super::part_headers::{PartHeaders, read_headers};
use super::quoted_printable::qp_part;
use super::{
    Mail, Original, Report, normalise_line_endings, original_from_text, refold_boundary_parameters,
};
use mail_parser::ContentType;
use mail_parser::decoders::DecodeFnc;
use mail_parser::parsers::MessageStream;
use std::borrow::Cow;

/// How deep nested `message/rfc822` parts are followed. Bounces of bounces
/// exist; deeper nesting is an attack or a loop, not a bounce.
const MAX_NESTING: usize = 4;

/// How many base64/quoted-printable-encoded `message/rfc822` parts inside
/// each other are opened (mail-parser's own limit for them).
const ENCODED_NESTING: usize = 3;

/// How mail-parser files a part's body, from its Content-Type (and, without
/// one, from whether the enclosing multipart is a digest).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Multipart,
    Text,
    Html,
    Binary,
    Message,
}

pub(super) fn kind_of(ct: Option<&ContentType<'_>>, in_digest: bool) -> Kind {
    let Some(ct) = ct else {
        return if in_digest { Kind::Message } else { Kind::Text };
    };
    match ct.ctype() {
        "multipart" => Kind::Multipart,
        "text" if ct.subtype() == Some("html") => Kind::Html,
        "text" => Kind::Text,
        "message" if matches!(ct.subtype(), Some("rfc822" | "global")) => Kind::Message,
        _ => Kind::Binary,
    }
}

/// Walks the MIME structure with mail-parser's stream primitives, in input
/// order, and decodes only the parts a bounce is read from: the human text,
/// the report parts and the returned message's headers. The structure is
/// followed exactly as `MessageParser::parse` follows it (same boundaries,
/// same recovery from broken parts), but the body of the returned message
/// and attachments are only skipped over, never decoded — that was most of
/// the decoding time.
pub(super) struct Walker<'m, 'x> {
    mail: &'m mut Mail,
    /// HTML parts in order, decoded only when the text turns out empty
    /// (most bounces with an HTML part have a plain-text one too).
    html: Vec<HtmlPart<'x>>,
    /// The bytes being walked, when they are valid UTF-8.
    text: Option<&'x str>,
    /// Whether they hold no carriage return.
    cr_free: bool,
}

/// An HTML part: where its body starts and how to decode it, or its text.
pub(super) enum HtmlPart<'x> {
    Pending {
        body: &'x [u8],
        boundary: Option<Box<[u8]>>,
        decode: DecodeFnc<'x>,
        charset: Option<Charset>,
    },
    Decoded(String),
}

impl HtmlPart<'_> {
    /// The part's text; `None` when its transfer encoding is broken (then
    /// mail-parser files it as a text part that nobody reads).
    fn decode(self) -> Option<String> {
        match self {
            HtmlPart::Pending {
                body,
                boundary,
                decode,
                charset,
            } => {
                let mut stream = MessageStream::new(body);
                let (end, bytes) = decode(&mut stream, boundary.as_deref().unwrap_or(b""));
                (end != usize::MAX).then(|| to_text(bytes, charset).into_owned())
            }
            HtmlPart::Decoded(text) => Some(text),
        }
    }
}

impl<'x> Walker<'_, 'x> {
    /// One part whose headers were just read; the stream is at its body.
    /// `boundary` closes the enclosing multipart. Returns whether the stream
    /// stopped right after that boundary (the enclosing multipart goes on);
    /// `false` ends the walk, as mail-parser stops there too.
    #[allow(clippy::too_many_arguments)]
    fn part(
        &mut self,
        stream: &mut MessageStream<'x>,
        data: &'x [u8],
        boundary: Option<&[u8]>,
        in_digest: bool,
        headers: PartHeaders<'x>,
        encoded_nesting: usize,
        depth: usize,
        collect: bool,
    ) -> bool {
        let body_start = stream.offset();
        let ct = headers.content_type();
        let mut kind = kind_of(ct, in_digest);
        let (mut ctype, mut subtype) = match ct {
            Some(ct) => (lower(ct.ctype()), lower(ct.subtype().unwrap_or(""))),
            None => (Cow::Borrowed(""), Cow::Borrowed("")),
        };
        if kind == Kind::Multipart {
            if let Some(inner) = ct.and_then(|ct| ct.attribute("boundary")) {
                if stream.seek_next_part(inner.as_bytes()) {
                    let digest = ct.and_then(|ct| ct.subtype()) == Some("digest");
                    return self.multipart(
                        stream,
                        data,
                        inner.as_bytes(),
                        digest,
                        boundary,
                        encoded_nesting,
                        depth,
                        collect,
                    );
                }
                kind = Kind::Text;
            } else {
                kind = Kind::Binary;
            }
            // A multipart whose boundary never appears: its body is text.
            (ctype, subtype) = (Cow::Borrowed("text"), Cow::Borrowed("plain"));
        }
        let encoding = headers.encoding();
        let decode: DecodeFnc<'x> = if encoding.eq_ignore_ascii_case("base64") {
            MessageStream::decode_base64_mime
        } else if encoding.eq_ignore_ascii_case("quoted-printable") {
            qp_part
        } else {
            if kind == Kind::Message {
                return self.inline_message(
                    stream,
                    data,
                    boundary,
                    (&ctype, &subtype),
                    body_start,
                    encoded_nesting,
                    depth,
                    collect,
                );
            }
            plain_part
        };

        let wanted = collect
            && match kind {
                Kind::Html => {
                    // Kept for later; decoded only if it is needed.
                    self.html.push(HtmlPart::Pending {
                        body: &data[body_start..],
                        boundary: boundary.map(Box::from),
                        decode,
                        charset: charset_of(ct),
                    });
                    false
                }
                // Undecodable, it is read as text of its type.
                Kind::Message => self.wants_nested(depth) || self.uses(&ctype, &subtype),
                _ => self.uses(&ctype, &subtype),
            };
        if !wanted {
            return skip_part(stream, boundary);
        }

        let (end, bytes) = decode(stream, boundary.unwrap_or(b""));
        if end == usize::MAX {
            // Undecodable: mail-parser keeps the raw body as text.
            let (end, found) = stream.seek_part_end(boundary);
            let raw = data.get(body_start..end).unwrap_or_default();
            let text = to_text(Cow::Borrowed(raw), charset_of(ct));
            self.text_part(&ctype, &subtype, &text);
            return boundary.is_some() && found;
        }
        match kind {
            Kind::Text | Kind::Html => {
                let text = to_text(bytes, charset_of(ct));
                self.text_part(&ctype, &subtype, &text);
            }
            Kind::Message => {
                self.encoded_message(&bytes, (&ctype, &subtype), ct, encoded_nesting, depth);
            }
            Kind::Binary | Kind::Multipart => {
                if ctype == "message" || (ctype == "text" && bytes.len() < MAX_TEXT_PART) {
                    let text = decode_bytes(&bytes, ct);
                    self.text_part(&ctype, &subtype, &text);
                }
            }
        }
        boundary.is_some()
    }

    /// The parts of a multipart, from its first boundary on; then on to the
    /// enclosing multipart's next boundary.
    #[allow(clippy::too_many_arguments)]
    fn multipart(
        &mut self,
        stream: &mut MessageStream<'x>,
        data: &'x [u8],
        inner: &[u8],
        digest: bool,
        outer: Option<&[u8]>,
        encoded_nesting: usize,
        depth: usize,
        collect: bool,
    ) -> bool {
        stream.skip_crlf();
        loop {
            let (complete, headers) = read_headers(stream, false, None, self.text, self.cr_free);
            if !complete {
                return false;
            }
            let more = self.part(
                stream,
                data,
                Some(inner),
                digest,
                headers,
                encoded_nesting,
                depth,
                collect,
            );
            if !more {
                return false;
            }
            if stream.is_multipart_end() {
                break;
            }
        }
        match outer {
            Some(b) => stream.seek_next_part_offset(b).is_some(),
            None => false,
        }
    }

    /// A `message/rfc822` part that is not transfer-encoded: the returned
    /// message, read in the same stream.
    #[allow(clippy::too_many_arguments)]
    fn inline_message(
        &mut self,
        stream: &mut MessageStream<'x>,
        data: &'x [u8],
        boundary: Option<&[u8]>,
        (ctype, subtype): (&str, &str),
        body_start: usize,
        encoded_nesting: usize,
        depth: usize,
        collect: bool,
    ) -> bool {
        let mut raw = self.mail.original.is_none().then(Headers::for_block);
        let (complete, headers) =
            read_headers(stream, false, raw.as_mut(), self.text, self.cr_free);
        if !complete {
            // A header fragment running to the end of the input: kept as
            // text, as mail-parser does.
            if collect {
                let raw = data.get(body_start..stream.offset()).unwrap_or_default();
                self.text_part(ctype, subtype, &String::from_utf8_lossy(raw));
            }
            return false;
        }
        let walk = collect && self.nested(raw, &headers, depth);
        self.part(
            stream,
            data,
            boundary,
            false,
            headers,
            encoded_nesting,
            depth + 1,
            walk,
        )
    }

    /// A transfer-encoded `message/rfc822` part, decoded: a message of its
    /// own.
    fn encoded_message(
        &mut self,
        bytes: &[u8],
        (ctype, subtype): (&str, &str),
        ct: Option<&ContentType<'_>>,
        encoded_nesting: usize,
        depth: usize,
    ) {
        if encoded_nesting == 0 {
            // Too deep: its bytes, as text when it says it is a message.
            if ctype == "message" {
                let text = decode_bytes(bytes, ct);
                self.text_part(ctype, subtype, &text);
            }
            return;
        }
        let mut stream = MessageStream::new(bytes);
        let mut raw = self.mail.original.is_none().then(Headers::for_block);
        let text = std::str::from_utf8(bytes).ok();
        let cr_free = memchr::memchr(b'\r', bytes).is_none();
        let (has_body, headers) = read_headers(&mut stream, false, raw.as_mut(), text, cr_free);
        if !has_body && headers.fields == 0 {
            // No message at all: its bytes, as text when it says it is a
            // message.
            if ctype == "message" {
                let text = decode_bytes(bytes, ct);
                self.text_part(ctype, subtype, &text);
            }
            return;
        }
        let walk = self.nested(raw, &headers, depth);
        if !has_body {
            if walk {
                self.headers_only(&headers);
            }
            return;
        }
        // The decoded bytes live only here: their HTML parts are decoded
        // now rather than later.
        let mut inner = Walker {
            mail: &mut *self.mail,
            html: Vec::new(),
            text,
            cr_free,
        };
        inner.part(
            &mut stream,
            bytes,
            None,
            false,
            headers,
            encoded_nesting - 1,
            depth + 1,
            walk,
        );
        for part in inner.html {
            if let Some(text) = part.decode() {
                self.html.push(HtmlPart::Decoded(text));
            }
        }
    }

    /// A message that ends after its headers: its (empty) body as a text
    /// part of its type.
    fn headers_only(&mut self, headers: &PartHeaders<'_>) {
        let ct = headers.content_type();
        let (ctype, subtype) = match ct {
            Some(ct) if ct.ctype().eq_ignore_ascii_case("multipart") => {
                (Cow::Borrowed("text"), Cow::Borrowed("plain"))
            }
            Some(ct) => (lower(ct.ctype()), lower(ct.subtype().unwrap_or(""))),
            None => (Cow::Borrowed(""), Cow::Borrowed("")),
        };
        self.text_part(&ctype, &subtype, "");
    }

    /// A returned message was found (its header block read into `headers`,
    /// and its fields into `raw` when there was no original yet): keeps the
    /// first one as the original, and says whether its parts are to be read
    /// as well.
    fn nested(&mut self, raw: Option<Headers>, headers: &PartHeaders<'_>, depth: usize) -> bool {
        if self.mail.original.is_none() {
            self.mail.original = Some(Original {
                headers: raw.unwrap_or_default(),
            });
            // A bounce forwarded as an attachment (the outer message is no
            // report itself): its report is the one to read.
            let inner_is_report = headers.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("multipart")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            });
            inner_is_report
                && depth < MAX_NESTING
                && self.mail.reports.is_empty()
                && !self.mail.content_type.starts_with("multipart/report")
        } else {
            // A bounce wrapped in a message: read the inner one too.
            depth < MAX_NESTING && self.mail.text.trim().is_empty()
        }
    }

    /// Whether a nested message met now would be read at all.
    fn wants_nested(&self, depth: usize) -> bool {
        self.mail.original.is_none() || (depth < MAX_NESTING && self.mail.text.trim().is_empty())
    }

    /// Whether `text_part` keeps a part of this type (so it is worth
    /// decoding).
    fn uses(&self, ctype: &str, subtype: &str) -> bool {
        match (ctype, subtype) {
            ("message", "delivery-status" | "global-delivery-status" | "feedback-report")
            | ("text", "delivery-status") => true,
            ("message", _) => self.mail.original.is_none(),
            ("text", "rfc822-headers" | "global-headers" | "rfc822") => {
                self.mail.original.is_none()
            }
            ("text", "plain" | "") | ("", _) => true,
            _ => false,
        }
    }

    fn text_part(&mut self, ctype: &str, subtype: &str, text: &str) {
        let text = cut(text);
        match (ctype, subtype) {
            ("message", "delivery-status" | "global-delivery-status" | "feedback-report")
            | ("text", "delivery-status") => {
                self.mail.reports.push(Report {
                    kind: subtype.trim_start_matches("global-").to_string(),
                    text: text.to_string(),
                });
            }
            ("message" | "text", "rfc822-headers" | "global-headers" | "rfc822")
                if self.mail.original.is_none() =>
            {
                self.mail.original = Some(original_from_text(text));
            }
            ("message", _) if self.mail.original.is_none() => {
                self.mail.original = Some(original_from_text(text));
            }
            ("text", "plain" | "") | ("", _) => {
                if !self.mail.text.is_empty() {
                    self.mail.text.push_str("\n\n");
                }
                self.mail.text.push_str(text);
            }
            _ => {}
        }
    }
}

pub(super) fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The message without what some stores write before its header: a byte
/// order mark, blank lines, and the `From sender date` line of an mbox (a
/// single message saved from one). Without this the first header would not be found.
pub(super) fn skip_preamble(data: &[u8]) -> &[u8] {
    // A byte order mark some Windows tools write at the start of a saved
    // message.
    let mut rest = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    // Bounded: a file of blank lines is no message either way.
    for _ in 0..64 {
        let line_end = memchr::memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
        let line = &rest[..line_end];
        let blank = line.iter().all(u8::is_ascii_whitespace);
        let postmark = line.starts_with(b"From ") && !blank;
        if !(blank || postmark) || line_end == rest.len() {
            break;
        }
        rest = &rest[line_end..];
        if postmark {
            break;
        }
    }
    rest
}

/// Parsing a message is walking its parts, so it lives with the walk.
impl Mail {
    /// Parses raw bytes (any line endings). Returns `None` only when the
    /// input has no header at all.
    pub fn parse(raw: &[u8]) -> Option<Mail> {
        let normalised = normalise_line_endings(raw);
        let normalised = refold_boundary_parameters(normalised);
        let data = skip_preamble(normalised.as_ref());
        let mut stream = MessageStream::new(data);
        let mut mail = Mail::default();
        // A bounce's own header block has a few dozen fields.
        mail.headers.reserve(data.len().min(4096), 32);
        // Nearly every bounce is valid UTF-8 (most are ASCII): checked once
        // here, header names and values are then cut from it instead of
        // being checked one by one.
        let text = std::str::from_utf8(data).ok();
        // Normalised: no carriage return is left.
        let (has_body, top) = read_headers(&mut stream, true, Some(&mut mail.headers), text, true);
        if mail.headers.is_empty() {
            return None;
        }
        mail.subject = top
            .subject
            .as_ref()
            .and_then(|v| v.as_text())
            .unwrap_or("")
            .to_string();
        mail.content_type = mail.headers.value("content-type").to_ascii_lowercase();
        mail.from_lower = mail.headers.value("from").to_ascii_lowercase();
        mail.subject_lower = mail.subject.to_ascii_lowercase();
        let mut walker = Walker {
            mail: &mut mail,
            html: Vec::new(),
            text,
            cr_free: true,
        };
        if has_body {
            walker.part(
                &mut stream,
                data,
                None,
                false,
                top,
                ENCODED_NESTING,
                0,
                true,
            );
        } else {
            // Headers up to the end of the input: an empty body.
            walker.headers_only(&top);
        }
        let html_parts = walker.html;
        if mail.text.trim().is_empty() && !html_parts.is_empty() {
            let mut html = String::new();
            for part in html_parts {
                if html.len() >= MAX_TEXT_PART {
                    break;
                }
                if let Some(text) = part.decode() {
                    html.push_str(cut(&text));
                    html.push('\n');
                }
            }
            if !html.is_empty() {
                mail.text = html_to_text(&html);
            }
        }
        if mail.text.trim().is_empty()
            && mail.reports.is_empty()
            && mail.original.is_none()
            && mail.content_type.starts_with("multipart/")
        {
            // Declared multipart but no boundary ever appears (old Sendmail
            // writes such DSNs): the body is plain text.
            if let Some(end) = memchr::memmem::find(data, b"\n\n") {
                let body = &data[end + 2..data.len().min(end + 2 + MAX_TEXT_PART)];
                mail.text = String::from_utf8_lossy(body).into_owned();
            }
        }
        Some(mail)
    }
}
