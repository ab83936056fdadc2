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

use crate::text::{SplitLines, find_ignore_case};
use mail_parser::decoders::DecodeFnc;
use mail_parser::decoders::charsets::DecoderFnc;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, HeaderName, HeaderValue};
use std::borrow::Cow;

/// How deep nested `message/rfc822` parts are followed. Bounces of bounces
/// exist; deeper nesting is an attack or a loop, not a bounce.
const MAX_NESTING: usize = 4;

/// Text parts larger than this are cut: the diagnostic is never that far in,
/// and a 50 MB attachment must not be copied around.
const MAX_TEXT_PART: usize = 256 * 1024;

/// Header fields, names lower-cased, values unfolded, in message order.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// Every name and value, back to back: one buffer instead of two
    /// strings per field (allocating and freeing those was a tenth of all
    /// decoding time).
    text: String,
    /// Per field: where its name starts, where its value starts (the name's
    /// end) and where its value ends, in `text`.
    fields: Vec<[u32; 3]>,
    /// One bit per name present (see `name_bit`): decoders ask every
    /// message for dozens of names it does not have, and this answers most
    /// of those without looking at any field.
    names: [u64; 4],
}

/// A name's bit in `Headers::names`: a cheap hash of its length and a few
/// of its bytes.
fn name_bit(name: &[u8]) -> (usize, u64) {
    let n = name.len();
    let (first, middle, last) = match n {
        0 => (0, 0, 0),
        _ => (name[0], name[n / 2], name[n - 1]),
    };
    let h = n
        .wrapping_mul(31)
        .wrapping_add(usize::from(first))
        .wrapping_add(usize::from(middle).wrapping_mul(7))
        .wrapping_add(usize::from(last).wrapping_mul(13))
        & 255;
    (h >> 6, 1u64 << (h & 63))
}

impl Headers {
    fn name_of(&self, f: &[u32; 3]) -> &str {
        &self.text[f[0] as usize..f[1] as usize]
    }

    /// Whether a field has this name: lengths first, since decoders ask
    /// every message for a few dozen names and most fields differ in length.
    fn is_named(&self, f: &[u32; 3], name: &str) -> bool {
        (f[1] - f[0]) as usize == name.len()
            && self.text.as_bytes()[f[0] as usize..f[1] as usize] == *name.as_bytes()
    }

    fn value_of(&self, f: &[u32; 3]) -> &str {
        &self.text[f[1] as usize..f[2] as usize]
    }

    fn may_have(&self, name: &str) -> bool {
        let (word, bit) = name_bit(name.as_bytes());
        self.names[word] & bit != 0
    }

    /// The first value of a field (`name` in lower case).
    pub fn get(&self, name: &str) -> Option<&str> {
        if !self.may_have(name) {
            return None;
        }
        self.fields
            .iter()
            .find(|f| self.is_named(f, name))
            .map(|f| self.value_of(f))
    }

    /// Every value of a field, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let fields = if self.may_have(name) {
            &self.fields[..]
        } else {
            &[]
        };
        fields
            .iter()
            .filter(move |f| self.is_named(f, name))
            .map(|f| self.value_of(f))
    }

    /// The first value of a field, or "".
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Room for a header block of about this many bytes and fields.
    pub(crate) fn reserve(&mut self, bytes: usize, fields: usize) {
        self.text.reserve(bytes);
        self.fields.reserve(fields);
    }

    /// Empty headers with room for a block of about this many bytes and
    /// fields (growing the buffers field by field cost more than filling
    /// them).
    pub(crate) fn with_room(bytes: usize, fields: usize) -> Headers {
        let mut h = Headers::default();
        h.reserve(bytes, fields);
        h
    }

    /// Room for a returned message's header block.
    fn for_block() -> Headers {
        Headers::with_room(2048, 32)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|f| (self.name_of(f), self.value_of(f)))
    }

    /// Appends a field name, lower-cased; returns where it starts.
    fn push_name(&mut self, name: &str) -> usize {
        let start = self.text.len();
        self.text.push_str(name);
        self.text[start..].make_ascii_lowercase();
        start
    }

    /// Records the field whose name starts at `start` and ends at `middle`,
    /// its value running to the end of the buffer.
    fn end_field(&mut self, start: usize, middle: usize) {
        let pos = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let (word, bit) = name_bit(&self.text.as_bytes()[start..middle]);
        self.names[word] |= bit;
        self.fields
            .push([pos(start), pos(middle), pos(self.text.len())]);
    }

    pub(crate) fn push(&mut self, name: &str, value: &str) {
        if self.text.len() + name.len() + value.len() >= u32::MAX as usize {
            // Beyond what positions can say; no real header block is 4 GiB.
            return;
        }
        let start = self.push_name(trim(name));
        let middle = self.text.len();
        unfold_into(&mut self.text, value);
        self.end_field(start, middle);
    }

    /// `push` for a raw value whose only line break, if any, ends it (the
    /// header reader knows which values continue on further lines).
    fn push_one_line(&mut self, name: &str, value: &str) {
        if self.text.len() + name.len() + value.len() >= u32::MAX as usize {
            return;
        }
        let start = self.push_name(trim(name));
        let middle = self.text.len();
        let value = value.strip_suffix('\n').unwrap_or(value);
        let value = value.strip_suffix('\r').unwrap_or(value);
        self.text.push_str(trim(value));
        self.end_field(start, middle);
    }

    /// Parses a header block written as text (`Name: value` lines with
    /// continuation lines), stopping at the first blank line or at the first
    /// line that is not a header. Returns the headers and the byte offset
    /// where parsing stopped.
    pub fn parse_block(text: &str) -> (Headers, usize) {
        let mut headers = Headers::default();
        // The field being read: it is the last one in the buffer, so a
        // continuation line extends it in place.
        let mut current: Option<(usize, usize)> = None;
        let mut offset = 0;
        // Text is at most MAX_TEXT_PART long here, so positions fit in u32.
        for line in text.split_lines_inclusive() {
            let bare = line.trim_end_matches(['\n', '\r']);
            if bare.is_empty() {
                offset += line.len();
                break;
            }
            if bare.starts_with([' ', '\t']) {
                if current.is_some() {
                    headers.text.push(' ');
                    headers.text.push_str(trim(bare));
                    offset += line.len();
                    continue;
                }
                break;
            }
            match bare.split_once(':') {
                Some((name, value))
                    if !name.is_empty()
                        && name.len() < 80
                        && name.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    if let Some((start, middle)) = current.take() {
                        headers.end_field(start, middle);
                    }
                    let start = headers.push_name(name);
                    let middle = headers.text.len();
                    headers.text.push_str(trim(value));
                    current = Some((start, middle));
                }
                _ => break,
            }
            offset += line.len();
        }
        if let Some((start, middle)) = current {
            headers.end_field(start, middle);
        }
        (headers, offset)
    }
}

/// `str::trim_start`, bytewise when the first byte kept is ASCII (`trim`
/// decodes characters one by one; header text is nearly all ASCII).
fn trim_start(s: &str) -> &str {
    let t = s.trim_ascii_start();
    match t.as_bytes().first() {
        Some(b) if !b.is_ascii() => t.trim_start(),
        _ => t,
    }
}

/// `str::trim_end`, bytewise when the last byte kept is ASCII.
fn trim_end(s: &str) -> &str {
    let t = s.trim_ascii_end();
    match t.as_bytes().last() {
        Some(b) if !b.is_ascii() => t.trim_end(),
        _ => t,
    }
}

/// `str::trim`, bytewise at ASCII ends.
fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// Appends a raw header value unfolded: its lines joined by one space,
/// continuation indents and surrounding whitespace dropped.
fn unfold_into(out: &mut String, value: &str) {
    // A raw value ends with its line break; the line breaks at its end join
    // nothing.
    let kept = value
        .bytes()
        .rposition(|b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    let value = &value[..kept];
    // Most header values are one line: nothing to join.
    if memchr::memchr2(b'\n', b'\r', value.as_bytes()).is_none() {
        out.push_str(trim(value));
        return;
    }
    unfold_lines_into(out, value);
}

/// `unfold_into` for a value known to hold a line break before its end.
fn unfold_lines_into(out: &mut String, value: &str) {
    let base = out.len();
    let b = value.as_bytes();
    // Pieces between every `\n` and `\r`, found with memchr (a char
    // searcher here was most of the header-copying time).
    let mut start = 0;
    loop {
        let end = memchr::memchr2(b'\n', b'\r', &b[start..]).map_or(b.len(), |o| start + o);
        let piece = trim_start(&value[start..end]);
        if !piece.is_empty() {
            if out.len() > base {
                out.push(' ');
            }
            out.push_str(piece);
        }
        if end == b.len() {
            break;
        }
        start = end + 1;
    }
    // Every piece was trimmed at its start; only the last one's end is left.
    let kept = trim_end(&out[base..]).len();
    out.truncate(base + kept);
}

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

/// The message without what some stores write before its header: a byte
/// order mark, blank lines, and the `From sender date` line of an mbox (a
/// single message saved from one). Without this the first header would not be found.
fn skip_preamble(data: &[u8]) -> &[u8] {
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

/// How many base64/quoted-printable-encoded `message/rfc822` parts inside
/// each other are opened (mail-parser's own limit for them).
const ENCODED_NESTING: usize = 3;

/// What the walk needs of a part's header block: the last value of each
/// field it decodes (mail-parser's `header_value` takes the last one too)
/// and how many fields there were.
#[derive(Default)]
struct PartHeaders<'x> {
    content_type: Option<HeaderValue<'x>>,
    encoding: Option<HeaderValue<'x>>,
    subject: Option<HeaderValue<'x>>,
    fields: usize,
}

impl<'x> PartHeaders<'x> {
    fn content_type(&self) -> Option<&ContentType<'x>> {
        self.content_type.as_ref().and_then(|v| v.as_content_type())
    }

    fn encoding(&self) -> &str {
        self.encoding
            .as_ref()
            .and_then(|v| v.as_text())
            .unwrap_or("")
    }
}

/// Reads a header block, as `MessageStream::parse_headers` does with a
/// parser that decodes only `Content-Type`, `Content-Transfer-Encoding`
/// and (with `subject`) `Subject`, and skips every other value: the same
/// field boundaries, names and values. Every field's raw value goes into
/// `raw` (when given) as it is read, unfolded, fields that are not UTF-8
/// left out: one pass over the block, and no per-field structure besides
/// the three values the walk decodes (building mail-parser's `Header` list
/// and copying from it was a fifth of all decoding time). Returns `false`
/// when the input ends before the blank line.
fn read_headers<'x>(
    stream: &mut MessageStream<'x>,
    subject: bool,
    mut raw: Option<&mut Headers>,
    text: Option<&'x str>,
    cr_free: bool,
) -> (bool, PartHeaders<'x>) {
    let data = stream.bytes(0..stream.len());
    let mut part = PartHeaders::default();
    // The walk is by index over the bytes; the stream is moved only where a
    // mail-parser routine reads from it, and at the end.
    let mut pos = stream.offset();
    let finish = |stream: &mut MessageStream<'x>, pos: usize| {
        // (mail-parser's own position can run past the end: never skip
        // from there.)
        if pos >= stream.len() {
            stream.seek_end();
        } else if pos > stream.offset() {
            stream.skip_bytes(pos - stream.offset());
        }
    };
    loop {
        // Whitespace before a field is skipped; a line break ends the block.
        while data
            .get(pos)
            .is_some_and(|&b| b != b'\n' && b.is_ascii_whitespace())
        {
            pos += 1;
        }
        match data.get(pos) {
            None => {
                finish(stream, pos);
                return (false, part);
            }
            Some(b'\n') => {
                finish(stream, pos + 1);
                return (true, part);
            }
            Some(_) => {}
        }
        // A plain `Name:` (no whitespace, colon on the same line: nearly
        // every field); anything else goes to mail-parser's
        // `parse_header_name`, which knows every odd form.
        let field = FieldName::plain(&data[pos..]);
        let (kind, name, value_start) = match field {
            Some((kind, len)) => {
                // A name starts after a line break or a blank and ends at a
                // colon: at character boundaries.
                let name = match text.and_then(|t| t.get(pos..pos + len)) {
                    Some(name) => Cow::Borrowed(name),
                    None => utf8_lossy(&data[pos..pos + len]),
                };
                (kind, name, pos + len + 1)
            }
            None => {
                finish(stream, pos);
                let Some(name) = stream.parse_header_name() else {
                    if stream.is_eof() {
                        return (false, part);
                    }
                    pos = stream.offset();
                    continue;
                };
                let kind = match name {
                    HeaderName::ContentType => FieldName::ContentType,
                    HeaderName::ContentTransferEncoding => FieldName::Encoding,
                    HeaderName::Subject => FieldName::Subject,
                    _ => FieldName::Other,
                };
                (kind, Cow::Owned(name.as_str().to_owned()), stream.offset())
            }
        };
        let parsed = match kind {
            FieldName::ContentType => Some(&mut part.content_type),
            FieldName::Encoding => Some(&mut part.encoding),
            FieldName::Subject if subject => Some(&mut part.subject),
            _ => None,
        };
        // `continued`: the value may span lines (always assumed for the
        // values mail-parser read).
        let plain_type = match (kind, &parsed) {
            (_, None) => None,
            (FieldName::ContentType, _) => {
                crate::mime_fields::plain_content_type(data, text, value_start)
            }
            _ => crate::mime_fields::plain_unstructured(data, text, value_start),
        };
        let (end, continued) = match parsed {
            Some(slot) if plain_type.is_some() => {
                let (value, end) = plain_type.expect("checked");
                *slot = Some(value);
                (end, true)
            }
            Some(slot) => {
                finish(stream, value_start);
                *slot = Some(if kind == FieldName::ContentType {
                    stream.parse_content_type()
                } else {
                    stream.parse_unstructured()
                });
                (stream.offset(), true)
            }
            None => field_value_extent(data, value_start),
        };
        part.fields += 1;
        if let Some(out) = raw.as_deref_mut() {
            // Cut where a value starts (after a colon) and ends (after a
            // line break): always at character boundaries.
            let value = match text {
                Some(text) => text.get(value_start..end),
                None => std::str::from_utf8(&data[value_start..end]).ok(),
            };
            if let Some(value) = value {
                // Without carriage returns in the input (the top level is
                // normalised), a value that did not continue has no line
                // break to unfold.
                if cr_free && !continued {
                    out.push_one_line(&name, value);
                } else {
                    out.push(&name, value);
                }
            }
        }
        pos = end;
    }
}

/// The kinds of field name the walk tells apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldName {
    ContentType,
    Encoding,
    Subject,
    Other,
}

impl FieldName {
    /// A plain field name at the start of `line` (up to a colon on the
    /// same line, no whitespace in it): its kind and length.
    fn plain(line: &[u8]) -> Option<(FieldName, usize)> {
        let len = line
            .iter()
            .position(|&b| b == b':' || b == b'\n' || b.is_ascii_whitespace())?;
        if len == 0 || line[len] != b':' {
            return None;
        }
        let name = &line[..len];
        let kind = match len {
            12 if name.eq_ignore_ascii_case(b"content-type") => FieldName::ContentType,
            25 if name.eq_ignore_ascii_case(b"content-transfer-encoding") => FieldName::Encoding,
            7 if name.eq_ignore_ascii_case(b"subject") => FieldName::Subject,
            _ => FieldName::Other,
        };
        Some((kind, len))
    }
}

/// Where a field value starting at `from` ends: just after the first line
/// break that is not followed by a space or tab (`parse_and_ignore`'s
/// rule), or the end of the input.
/// Also says whether the value went on over further lines.
fn field_value_extent(data: &[u8], from: usize) -> (usize, bool) {
    let mut at = from;
    while let Some(n) = memchr::memchr(b'\n', &data[at..]) {
        let newline = at + n;
        if matches!(data.get(newline + 1), Some(b' ' | b'\t')) {
            at = newline + 2;
        } else {
            return (newline + 1, at > from);
        }
    }
    (data.len(), at > from)
}

/// How mail-parser files a part's body, from its Content-Type (and, without
/// one, from whether the enclosing multipart is a digest).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Multipart,
    Text,
    Html,
    Binary,
    Message,
}

fn kind_of(ct: Option<&ContentType<'_>>, in_digest: bool) -> Kind {
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
struct Walker<'m, 'x> {
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
enum HtmlPart<'x> {
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

/// Reads a part without transfer encoding: `MessageStream::mime_part`'s
/// contract (the body up to the line break before the next `--boundary`,
/// the stream left after it; `usize::MAX` and the stream unmoved when the
/// boundary never comes; everything when there is no boundary), with a
/// vectorised search instead of a byte-by-byte walk.
fn plain_part<'x>(stream: &mut MessageStream<'x>, boundary: &[u8]) -> (usize, Cow<'x, [u8]>) {
    let start = stream.offset();
    let rest = stream.bytes(start..stream.len());
    if boundary.is_empty() {
        stream.seek_end();
        return (stream.offset(), Cow::Borrowed(rest));
    }
    let Some(at) = find_boundary(rest, boundary) else {
        return (usize::MAX, Cow::Borrowed(rest));
    };
    // The line break before the boundary (CRLF or LF) belongs to it.
    let end = if at == 0 {
        0
    } else if rest[at - 1] == b'\n' {
        if at >= 2 && rest[at - 2] == b'\r' {
            at - 2
        } else {
            at - 1
        }
    } else {
        at
    };
    stream.skip_bytes(at + boundary.len() + 2);
    (start + end, Cow::Borrowed(&rest[..end]))
}

/// Where `--boundary` first occurs. Every message brings boundaries of its
/// own, so this search must be cheap to start (memchr's `Finder` searches
/// faster but took longer to build than a bounce takes to search):
/// candidates are the positions of the boundary's rarest byte, by a rough
/// ranking of bytes in mail text, each checked in full.
fn find_boundary(hay: &[u8], boundary: &[u8]) -> Option<usize> {
    let Some((at, &rare)) = boundary
        .iter()
        .enumerate()
        .min_by_key(|&(_, &b)| byte_commonness(b))
    else {
        return memchr::memmem::find(hay, b"--");
    };
    // The rare byte's offset in `--boundary`.
    let offset = at + 2;
    let len = boundary.len() + 2;
    let mut from = offset;
    while from < hay.len() {
        let hit = from + memchr::memchr(rare, &hay[from..])?;
        let start = hit - offset;
        if let Some(candidate) = hay.get(start..start + len)
            && candidate[..2] == *b"--"
            && candidate[2..] == *boundary
        {
            return Some(start);
        }
        from = hit + 1;
    }
    None
}

/// How often a byte turns up in mail text, roughly (higher: more often).
fn byte_commonness(b: u8) -> u8 {
    match b {
        b' ' | b'\n' | b'-' => 250,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' => 200,
        b'a'..=b'z' => 150,
        b'0'..=b'9' | b'.' => 100,
        b'A'..=b'Z' | b'@' | b'/' | b':' => 80,
        _ => 40,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Qp {
    Text,
    Eq,
    Hex1,
}

/// Decodes a quoted-printable part: `decode_quoted_printable_mime`'s exact
/// contract and output (its handling of soft breaks, trailing whitespace,
/// broken escapes, the boundary), but runs of ordinary bytes are copied
/// whole instead of byte by byte. HTML parts are mostly such runs; they
/// were a tenth of all decoding time. A test compares both on random input.
fn qp_part<'x>(stream: &mut MessageStream<'x>, boundary: &[u8]) -> (usize, Cow<'x, [u8]>) {
    use mail_parser::decoders::quoted_printable::HEX_MAP;
    // Bytes that are copied as they are in the text state.
    fn plain(b: u8) -> bool {
        !matches!(b, b'=' | b'\n' | b'\r' | b'-')
    }
    let start = stream.offset();
    let data = stream.bytes(start..stream.len());
    let mut buf: Vec<u8> = Vec::with_capacity(128);
    let mut state = Qp::Text;
    let mut hex1: i8 = 0;
    let mut last: u8 = 0;
    let mut before_last: u8 = 0;
    // Trailing blanks are dropped before a line break, but only those
    // copied as they were: not a decoded `=20`, nor any byte written before
    // `ws_floor`.
    let mut ws_floor = 0usize;
    let mut end_pos = start;
    let mut crlf: &[u8] = b"\n";
    let mut i = 0;
    while i < data.len() {
        let ch = data[i];
        if state == Qp::Text && plain(ch) {
            // The run ends at the first byte that is not plain. In HTML
            // (`=3D` in every attribute) runs are short: a byte loop finds
            // most ends; a long run goes on with vectorised searches.
            let rest = &data[i..];
            let short = rest.len().min(24);
            let mut n = rest[..short]
                .iter()
                .position(|&b| !plain(b))
                .unwrap_or(short);
            if n == short && short < rest.len() {
                let tail = &rest[short..];
                let mut m = memchr::memchr3(b'=', b'\n', b'\r', tail).unwrap_or(tail.len());
                if let Some(dash) = memchr::memchr(b'-', &tail[..m]) {
                    m = dash;
                }
                n = short + m;
            }
            let run_end = i + n;
            let run = &data[i..run_end];
            buf.extend_from_slice(run);
            before_last = if run.len() >= 2 {
                run[run.len() - 2]
            } else {
                last
            };
            last = run[run.len() - 1];
            i = run_end;
            continue;
        }
        i += 1;
        match ch {
            b'=' => {
                if state == Qp::Text {
                    state = Qp::Eq;
                } else {
                    return (usize::MAX, Cow::Borrowed(b""));
                }
            }
            b'\n' => {
                end_pos = start + i - if last == b'\r' { 2 } else { 1 };
                if state == Qp::Eq {
                    state = Qp::Text;
                } else {
                    let blanks = buf[ws_floor..]
                        .iter()
                        .rev()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count();
                    buf.truncate(buf.len() - blanks);
                    buf.extend_from_slice(crlf);
                }
                ws_floor = buf.len();
            }
            b'\r' => crlf = b"\r\n",
            b'-' if !boundary.is_empty() && last == b'-' && data[i..].starts_with(boundary) => {
                i += boundary.len();
                // What mail-parser cuts here can exceed what it holds after
                // a soft break; it then cuts nothing.
                if before_last == b'\n' {
                    if let Some(n) = buf.len().checked_sub(crlf.len() + 1) {
                        buf.truncate(n);
                    }
                } else {
                    if let Some(n) = buf.len().checked_sub(1) {
                        buf.truncate(n);
                    }
                    end_pos = start + i - boundary.len() - 2;
                }
                stream.skip_bytes(i);
                return (end_pos, Cow::Owned(buf));
            }
            _ => match state {
                Qp::Text => {
                    buf.push(ch);
                }
                Qp::Eq => {
                    hex1 = HEX_MAP[usize::from(ch)];
                    if hex1 != -1 {
                        state = Qp::Hex1;
                    } else if !ch.is_ascii_whitespace() {
                        state = Qp::Text;
                        buf.push(b'=');
                        buf.push(ch);
                        ws_floor = buf.len();
                    }
                }
                Qp::Hex1 => {
                    let hex2 = HEX_MAP[usize::from(ch)];
                    state = Qp::Text;
                    if hex2 != -1 {
                        buf.push(((hex1 as u8) << 4) | hex2 as u8);
                    } else {
                        buf.push(b'=');
                        buf.push(last);
                        buf.push(ch);
                    }
                    ws_floor = buf.len();
                }
            },
        }
        before_last = last;
        last = ch;
    }
    if boundary.is_empty() {
        stream.seek_end();
        (stream.offset(), Cow::Owned(buf))
    } else {
        (usize::MAX, Cow::Owned(buf))
    }
}

/// Moves the stream past a part nobody reads: to just after the next
/// `--boundary` (the first occurrence, as `seek_part_end` finds it, but
/// with a vectorised search instead of a byte-by-byte walk), or to the end.
/// Returns whether the enclosing multipart goes on.
fn skip_part(stream: &mut MessageStream<'_>, boundary: Option<&[u8]>) -> bool {
    let Some(boundary) = boundary else {
        stream.seek_end();
        return false;
    };
    let rest = stream.bytes(stream.offset()..stream.len());
    match find_boundary(rest, boundary) {
        Some(at) => {
            stream.skip_bytes(at + boundary.len() + 2);
            true
        }
        None => {
            stream.seek_end();
            false
        }
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// A text part's decoded bytes as UTF-8, the way mail-parser converts them:
/// its charset table when the `charset` is known, else lossy UTF-8.
fn to_text(bytes: Cow<'_, [u8]>, charset: Option<Charset>) -> Cow<'_, str> {
    let plain_ascii = charset.is_some_and(|c| c.ascii_compatible) && bytes.is_ascii();
    let decoder = charset.map(|c| c.decoder).filter(|_| !plain_ascii);
    if decoder.is_none() {
        // Valid UTF-8 (nearly every part) comes out of `from_utf8_lossy`
        // unchanged; `from_utf8` checks that several times faster.
        return match bytes {
            Cow::Owned(vec) => Cow::Owned(
                String::from_utf8(vec)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
            Cow::Borrowed(b) => utf8_lossy(b),
        };
    }
    match (bytes, decoder) {
        (Cow::Owned(vec), Some(decoder)) => Cow::Owned(decoder(&vec)),
        (Cow::Owned(vec), None) => Cow::Owned(
            String::from_utf8(vec)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        (Cow::Borrowed(bytes), Some(decoder)) => Cow::Owned(decoder(bytes)),
        (Cow::Borrowed(bytes), None) => String::from_utf8_lossy(bytes),
    }
}

/// A part's `charset` as mail-parser decodes it.
#[derive(Clone, Copy)]
struct Charset {
    decoder: DecoderFnc,
    /// ASCII bytes decode to themselves (Latin and Windows code pages), so
    /// an all-ASCII body needs no decoding.
    ascii_compatible: bool,
}

/// Charsets whose ASCII range is ASCII (labels compared case-insensitively
/// with `-` and `_` left out); a test checks each against mail-parser's
/// table.
const ASCII_COMPATIBLE: &[&str] = &[
    "us-ascii",
    "ascii",
    "latin1",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-3",
    "iso-8859-4",
    "iso-8859-5",
    "iso-8859-6",
    "iso-8859-7",
    "iso-8859-8",
    "iso-8859-9",
    "iso-8859-10",
    "iso-8859-13",
    "iso-8859-14",
    "iso-8859-15",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "cp1250",
    "cp1251",
    "cp1252",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
];

fn is_ascii_compatible(label: &str) -> bool {
    let mut key = [0u8; 16];
    let mut n = 0;
    for b in label.trim().bytes().filter(|b| !matches!(b, b'-' | b'_')) {
        if n == key.len() {
            return false;
        }
        key[n] = b.to_ascii_lowercase();
        n += 1;
    }
    ASCII_COMPATIBLE.iter().any(|l| {
        l.bytes()
            .filter(|&b| b != b'-')
            .eq(key[..n].iter().copied())
    })
}

/// mail-parser's decoder for a part's `charset`, if it knows it.
fn charset_of(ct: Option<&ContentType<'_>>) -> Option<Charset> {
    let label = ct.and_then(|ct| ct.attribute("charset"))?;
    charset_decoder(label.as_bytes()).map(|decoder| Charset {
        decoder,
        ascii_compatible: is_ascii_compatible(label),
    })
}

fn cut(text: &str) -> &str {
    if text.len() <= MAX_TEXT_PART {
        return text;
    }
    let mut end = MAX_TEXT_PART;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn decode_bytes<'a>(bytes: &'a [u8], ct: Option<&ContentType<'_>>) -> Cow<'a, str> {
    let bytes = &bytes[..bytes.len().min(MAX_TEXT_PART)];
    let charset = ct
        .and_then(|ct| ct.attribute("charset"))
        .and_then(|cs| encoding_rs::Encoding::for_label(cs.as_bytes()));
    match charset {
        Some(enc) => enc.decode_without_bom_handling(bytes).0,
        None => utf8_lossy(bytes),
    }
}

/// `String::from_utf8_lossy`, with valid UTF-8 (nearly all input) checked
/// by the much faster `from_utf8` first.
fn utf8_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
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

/// A crude but safe HTML-to-text: drops tags, scripts and styles, decodes the
/// common entities, keeps line structure at block tags.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let Some(gt) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = rest[1..gt].trim();
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(name.len())];
        // Lower-cased on the stack: pages have thousands of tags, and only
        // names of up to ten letters matter here.
        let mut lower = [0u8; 10];
        let name: &[u8] = match lower.get_mut(..name.len()) {
            Some(slot) => {
                slot.copy_from_slice(name.as_bytes());
                slot.make_ascii_lowercase();
                slot
            }
            None => b"",
        };
        match name {
            b"script" | b"style" if !closing => {
                let close = if name == b"script" {
                    "</script"
                } else {
                    "</style"
                };
                match find_ignore_case(rest, close) {
                    Some(end) => rest = &rest[end..],
                    None => rest = "",
                }
                continue;
            }
            b"br" | b"p" | b"div" | b"tr" | b"li" | b"h1" | b"h2" | b"h3" | b"table"
            | b"blockquote" => out.push('\n'),
            b"td" | b"th" => out.push(' '),
            _ => {}
        }
    }
    out.push_str(rest);
    decode_entities(out)
}

/// The common entities, in one pass. Each starts with `&` and holds no
/// other, and no replacement holds one, so this equals replacing them one
/// entity after another.
fn decode_entities(text: String) -> String {
    const ENTITIES: [(&str, &str); 6] = [
        ("&nbsp;", " "),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&amp;", "&"),
    ];
    if !text.contains('&') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match ENTITIES.iter().find(|(e, _)| tail.starts_with(e)) {
            Some((e, r)) => {
                out.push_str(r);
                rest = &tail[e.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
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
    fn header_blocks_unfold_and_stop_at_blank_line() {
        let (h, off) = Headers::parse_block("A: 1\nB: two\n  lines\n\nbody");
        assert_eq!(h.value("a"), "1");
        assert_eq!(h.value("b"), "two lines");
        assert_eq!(&"A: 1\nB: two\n  lines\n\nbody"[off..], "body");
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
    fn ascii_compatible_charsets_leave_ascii_alone() {
        let ascii: Vec<u8> = (0u8..0x80).collect();
        for label in ASCII_COMPATIBLE {
            let decoder = charset_decoder(label.as_bytes())
                .unwrap_or_else(|| panic!("mail-parser does not know {label}"));
            assert_eq!(decoder(&ascii).as_bytes(), &ascii[..], "{label}");
        }
        assert!(is_ascii_compatible("ISO-8859-1"));
        assert!(is_ascii_compatible("Windows-1252"));
        assert!(!is_ascii_compatible("ISO-2022-JP"));
        assert!(!is_ascii_compatible("utf-7"));
    }

    #[test]
    fn trims_agree_with_std() {
        for s in [
            "",
            " ",
            "\u{3000}",
            " \u{3000} x \u{a0}\t",
            "\t x y \n",
            "\u{a0}caf\u{e9}",
            "caf\u{e9} \u{2003}",
            "x",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
            assert_eq!(trim_start(s), s.trim_start(), "{s:?}");
            assert_eq!(trim_end(s), s.trim_end(), "{s:?}");
        }
    }

    #[test]
    fn folded_header_values_are_joined() {
        let mut h = Headers::default();
        h.push(" Subject ", "  one\n\ttwo\n   \n three \n");
        h.push("X-Empty", " \n ");
        assert_eq!(h.value("subject"), "one two three");
        assert_eq!(h.value("x-empty"), "");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("subject", "one two three"), ("x-empty", "")]
        );
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
    fn boundary_search_finds_the_first_occurrence() {
        let hay = b"x--a-b\n--=_B.9--=_B.9\n----=_B.9 -- --=_B.9";
        for boundary in [&b"=_B.9"[..], b"a-b", b"9", b"zz", b"--", b"-", b""] {
            let mut needle = b"--".to_vec();
            needle.extend_from_slice(boundary);
            for from in 0..hay.len() {
                assert_eq!(
                    find_boundary(&hay[from..], boundary),
                    memchr::memmem::find(&hay[from..], &needle),
                    "{:?} from {from}",
                    String::from_utf8_lossy(boundary)
                );
            }
        }
    }

    #[test]
    fn plain_parts_end_where_mail_parser_ends_them() {
        let cases: [&[u8]; 7] = [
            b"text\n--B\nrest",
            b"text\r\n--B\r\nrest",
            b"--B\nrest",
            b"\n--B\nrest",
            b"text--B\n",
            b"a\n---B--\n",
            b"no boundary here\n",
        ];
        for case in cases {
            for boundary in [&b"B"[..], b""] {
                let mut ours = MessageStream::new(case);
                let mut theirs = MessageStream::new(case);
                assert_eq!(
                    plain_part(&mut ours, boundary),
                    theirs.mime_part(boundary),
                    "{:?}",
                    String::from_utf8_lossy(case)
                );
                assert_eq!(ours.offset(), theirs.offset());
            }
            let mut ours = MessageStream::new(case);
            let mut theirs = MessageStream::new(case);
            let (_, found) = theirs.seek_part_end(Some(b"B"));
            assert_eq!(skip_part(&mut ours, Some(b"B")), found);
            assert_eq!(ours.offset(), theirs.offset());
        }
    }

    #[test]
    fn header_blocks_split_where_mail_parser_splits_them() {
        let cases: [&[u8]; 13] = [
            b"Received: from x\n\tby y;\n Mon, 1 Jan 2024\nX-B:  two  \nX-C:\n\n",
            b"From: a@b\nSubject: =?utf-8?q?caf=C3=A9?=\nContent-Type: text/plain;\n charset=utf-8\n\nbody",
            b"Received: from x\n\tby y;\n Mon, 1 Jan 2024\nX-A: 1\r\nX-B: 2\r\n\r\nbody",
            b"not a header line\nX-A: 1\n\nbody",
            b"  X-Indented: 1\nX-B:\n\n",
            b"X-A: folded\n \n\nbody",
            b"X-Cut: no end",
            b"X-Cut: ends\n",
            b":colon first\nX-A: 1\n\n",
            b"Sub ject: spaced name\nCONTENT-TRANSFER-ENCODING: Base64\n\n",
            b"X-A-Name-Longer-Than-Thirty-Four-Bytes-Here: 1\nMessage-ID: <a@b>\n\n",
            b"content-type: text/html\nX-\xff: bytes\n\n",
            b"X-C: caf\xe9\nSubject: kept\nX-D: after\n\n",
        ];
        for case in cases {
            header_block_agrees(case);
        }
    }

    /// Random header blocks from the pieces that matter (odd names, folds,
    /// blank continuation lines, CRLF, encoded words, truncation): read as
    /// mail-parser reads them.
    #[test]
    fn random_header_blocks_split_where_mail_parser_splits_them() {
        const PIECES: &[&str] = &[
            "From",
            "Subject",
            "Content-Type",
            "content-transfer-encoding",
            "X-A",
            "Sub ject",
            ": ",
            ":",
            " ",
            "\t",
            "\n",
            "\n ",
            "\n\t",
            "\r\n",
            "text/plain",
            "; charset=x",
            "=?utf-8?q?a?=",
            "base64",
            "a@b",
            "\u{e9}",
            "\n\n",
            "(c)",
            "\"q\"",
            ";\n boundary=B",
        ];
        let mut rng = crate::test_random::XorShift(0xd1b5_4a32_d192_ed03);
        let mut next = || rng.next();
        for _ in 0..20_000 {
            let n = (next() % 16) as usize;
            let mut block = String::new();
            for _ in 0..n {
                block.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            header_block_agrees(block.as_bytes());
        }
    }

    /// Our header reader against mail-parser's `parse_headers` with the
    /// same three fields decoded: completion, field count, raw fields (its
    /// names, its value bytes read back by offset and unfolded, fields that
    /// are not UTF-8 left out), the decoded values and the end offset.
    fn header_block_agrees(case: &[u8]) {
        use mail_parser::GetHeader;
        let reference = mail_parser::MessageParser::new()
            .header_content_type(HeaderName::ContentType)
            .header_text(HeaderName::ContentTransferEncoding)
            .header_text(HeaderName::Subject)
            .default_header_ignore();
        let shown = String::from_utf8_lossy(case);
        let mut ours = MessageStream::new(case);
        let mut theirs = MessageStream::new(case);
        let mut raw = Headers::default();
        let cr_free = !case.contains(&b'\r');
        let (done, part) = read_headers(
            &mut ours,
            true,
            Some(&mut raw),
            std::str::from_utf8(case).ok(),
            cr_free,
        );
        let mut b = Vec::new();
        assert_eq!(done, theirs.parse_headers(&reference, &mut b), "{shown:?}");
        assert_eq!(part.fields, b.len(), "{shown:?}");
        let mut expected = Headers::default();
        for h in &b {
            let value = &case[h.offset_start as usize..h.offset_end as usize];
            if let Ok(value) = std::str::from_utf8(value) {
                expected.push(h.name.as_str(), value);
            }
        }
        assert_eq!(
            raw.iter().collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>(),
            "{shown:?}"
        );
        assert_eq!(
            part.content_type.as_ref(),
            b.header_value(&HeaderName::ContentType),
            "{shown:?}"
        );
        assert_eq!(
            part.encoding.as_ref(),
            b.header_value(&HeaderName::ContentTransferEncoding),
            "{shown:?}"
        );
        assert_eq!(
            part.subject.as_ref(),
            b.header_value(&HeaderName::Subject),
            "{shown:?}"
        );
        assert_eq!(ours.offset(), theirs.offset(), "{shown:?}");
    }

    #[test]
    fn quoted_printable_decodes_as_mail_parser_does() {
        // Random input over the bytes the decoder treats specially, from a
        // fixed seed: soft breaks, escapes good and broken, whitespace
        // before line ends, CRLF, boundaries.
        const ALPHABET: &[u8] = b"==\n\n\r -\t\x0caF0z9BD=-";
        let mut rng = crate::test_random::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let mut case = Vec::new();
            for _ in 0..len {
                // Now and then a long plain run (past the byte loop's
                // reach), ending in blanks.
                if next() % 8 == 0 {
                    case.extend_from_slice(b"plain text without specials \t ");
                } else {
                    case.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
                }
            }
            for boundary in [&b"BD"[..], b""] {
                let mut ours = MessageStream::new(&case);
                let mut theirs = MessageStream::new(&case);
                let a = qp_part(&mut ours, boundary);
                let b = theirs.decode_quoted_printable_mime(boundary);
                assert_eq!(a.0, b.0, "{:?}", String::from_utf8_lossy(&case));
                if a.0 != usize::MAX {
                    assert_eq!(a.1, b.1, "{:?}", String::from_utf8_lossy(&case));
                }
                assert_eq!(ours.offset(), theirs.offset());
            }
        }
    }

    #[test]
    fn html_is_flattened() {
        let t = html_to_text("<p>a&amp;b</p><script>x</script><br>c");
        assert_eq!(t, "\na&b\n\nc");
        let t = html_to_text("<STYLE>p{}</Style>&amp;lt; &lt;&gt;&nbsp;&quot;&#39;&x");
        assert_eq!(t, "&lt; <> \"'&x");
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
