//! A MIME part's header block read in one pass: field boundaries as
//! mail-parser's `parse_headers` finds them, only `Content-Type`,
//! `Content-Transfer-Encoding` and `Subject` decoded, every raw value
//! handed to `Headers` as it is read.

use super::charset::utf8_lossy;
use super::headers::Headers;
use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, HeaderName, HeaderValue};
use std::borrow::Cow;

/// What the walk needs of a part's header block: the last value of each
/// field it decodes (mail-parser's `header_value` takes the last one too)
/// and how many fields there were.
#[derive(Default)]
pub(super) struct PartHeaders<'x> {
    pub(super) content_type: Option<HeaderValue<'x>>,
    pub(super) encoding: Option<HeaderValue<'x>>,
    pub(super) subject: Option<HeaderValue<'x>>,
    pub(super) fields: usize,
}

impl<'x> PartHeaders<'x> {
    pub(super) fn content_type(&self) -> Option<&ContentType<'x>> {
        self.content_type.as_ref().and_then(|v| v.as_content_type())
    }

    pub(super) fn encoding(&self) -> &str {
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
pub(super) fn read_headers<'x>(
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
pub(super) enum FieldName {
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
pub(super) fn field_value_extent(data: &[u8], from: usize) -> (usize, bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
