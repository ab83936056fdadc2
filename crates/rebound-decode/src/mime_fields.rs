//! Fast paths for the MIME header values the part walk decodes:
//! `Content-Type` (every part has one) and the plain unstructured values
//! (`Content-Transfer-Encoding`, `Subject`).
//!
//! mail-parser's parsers handle every form RFC 2045, 2047 and 2231 allow
//! (comments, encoded words, parameter continuations, escapes) with a
//! byte-at-a-time state machine; on a bounce they were a tenth of all
//! decoding time, for values that are nearly always plain. Each function
//! here accepts only the plain forms and returns exactly what mail-parser
//! returns for them (tests compare the two on the corpus's values and on
//! generated ones); anything else gets `None`, and the caller hands the
//! value to mail-parser.

use mail_parser::{Attribute, ContentType, HeaderValue};
use std::borrow::Cow;

/// Bytes of a type, subtype or parameter name on the fast path.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'+')
}

/// Bytes of an unquoted parameter value on the fast path.
fn is_value_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'(' | b')' | b';' | b'\'' | b'*')
}

/// Bytes inside a quoted parameter value on the fast path.
fn is_quoted_byte(b: u8) -> bool {
    (b.is_ascii_graphic() && !matches!(b, b'"' | b'\\')) || b == b' ' || b == b'\t'
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The lower-cased form of an ASCII name, borrowed when it already is.
fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// `data[a..b]` as text: cut from `whole` (`data` already checked as
/// UTF-8) when there is one, checked on its own otherwise.
fn piece<'x>(data: &'x [u8], whole: Option<&'x str>, a: usize, b: usize) -> Option<&'x str> {
    match whole {
        Some(whole) => whole.get(a..b),
        None => std::str::from_utf8(&data[a..b]).ok(),
    }
}

/// A run of bytes matching `keep`, from `at`: its end.
fn run(data: &[u8], at: usize, keep: impl Fn(u8) -> bool) -> usize {
    at + data[at..]
        .iter()
        .position(|&b| !keep(b))
        .unwrap_or(data.len() - at)
}

/// `MessageStream::parse_content_type` on a plain value starting at `from`
/// (just after the colon): `type[/subtype]` then `name=value` or
/// `name="value"` parameters separated by `;` or folded lines, ASCII, no
/// comment, escape, encoded word or RFC 2231 continuation. Returns the
/// value and the offset just after the field's last line break, or `None`
/// to leave the value to mail-parser. `whole` is `data` as text when it is
/// valid UTF-8 (checked once per message): pieces are then cut from it
/// rather than each checked again.
pub(crate) fn plain_content_type<'x>(
    data: &'x [u8],
    whole: Option<&'x str>,
    from: usize,
) -> Option<(HeaderValue<'x>, usize)> {
    let text = |a: usize, b: usize| piece(data, whole, a, b);
    let mut at = run(data, from, is_blank);
    let type_end = run(data, at, is_name_byte);
    if type_end == at {
        return None;
    }
    let c_type = lower(text(at, type_end)?);
    at = type_end;
    let mut c_subtype = None;
    if data.get(at) == Some(&b'/') {
        let end = run(data, at + 1, is_name_byte);
        if end == at + 1 {
            return None;
        }
        c_subtype = Some(lower(text(at + 1, end)?));
        at = end;
    }
    let mut attributes: Vec<Attribute<'_>> = Vec::new();
    // Whether a separator (`;` or a folded line) came since the last item.
    let mut separated = false;
    // Until a subtype or a `;`, mail-parser reads a folded line as more of
    // the type (and a later token replaces it): not a plain form.
    let mut in_type = c_subtype.is_none();
    loop {
        at = run(data, at, is_blank);
        match *data.get(at)? {
            b'\n' => {
                if data.get(at + 1).copied().is_some_and(is_blank) {
                    if in_type {
                        return None;
                    }
                    // A folded line parts items as `;` does.
                    at += 1;
                    separated = true;
                    continue;
                }
                let value = ContentType {
                    c_type,
                    c_subtype,
                    attributes: (!attributes.is_empty()).then_some(attributes),
                };
                return Some((HeaderValue::ContentType(value), at + 1));
            }
            b';' => {
                at += 1;
                separated = true;
                in_type = false;
            }
            _ if !separated => return None,
            _ => {
                let name_end = run(data, at, is_name_byte);
                if name_end == at || data.get(name_end) != Some(&b'=') {
                    return None;
                }
                let name = lower(text(at, name_end)?);
                let start = name_end + 1;
                let (value, end) = if data.get(start) == Some(&b'"') {
                    let close = run(data, start + 1, is_quoted_byte);
                    if close == start + 1 || data.get(close) != Some(&b'"') {
                        return None;
                    }
                    (text(start + 1, close)?, close + 1)
                } else {
                    let end = run(data, start, is_value_byte);
                    if end == start {
                        return None;
                    }
                    (text(start, end)?, end)
                };
                if value.contains("=?") {
                    return None;
                }
                attributes.push(Attribute {
                    name,
                    value: Cow::Borrowed(value),
                });
                at = end;
                separated = false;
            }
        }
    }
}

/// `MessageStream::parse_unstructured` on a one-line value starting at
/// `from` with no encoded word: the line without its surrounding blanks.
/// Returns the value and the offset just after the line break, or `None`
/// to leave the value to mail-parser. `whole` as for `plain_content_type`.
pub(crate) fn plain_unstructured<'x>(
    data: &'x [u8],
    whole: Option<&'x str>,
    from: usize,
) -> Option<(HeaderValue<'x>, usize)> {
    let end = from + memchr::memchr(b'\n', &data[from..])?;
    if data.get(end + 1).copied().is_some_and(is_blank) {
        return None;
    }
    let line = &data[from..end];
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let Some(first) = line.iter().position(|b| !blank(b)) else {
        return Some((HeaderValue::Empty, end + 1));
    };
    let last = line
        .iter()
        .rposition(|b| !blank(b))
        .expect("a byte is not blank");
    if memchr::memmem::find(&line[first..=last], b"=?").is_some() {
        return None;
    }
    let text = piece(data, whole, from + first, from + last + 1)?;
    Some((HeaderValue::Text(Cow::Borrowed(text)), end + 1))
}

#[cfg(test)]
#[path = "../tests/support/shared_corpus.rs"]
mod shared_corpus;

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::parsers::MessageStream;

    /// Where the fast path takes a value, mail-parser reads it the same
    /// way and stops at the same place.
    fn agrees(value: &str) -> bool {
        let bytes = value.as_bytes();
        let whole = std::str::from_utf8(bytes).ok();
        let Some((ours, end)) = plain_content_type(bytes, whole, 0) else {
            assert!(plain_content_type(bytes, None, 0).is_none(), "{value:?}");
            return false;
        };
        // Cut from the checked text or checked piece by piece: the same.
        assert_eq!(
            plain_content_type(bytes, None, 0),
            Some((ours.clone(), end)),
            "{value:?}"
        );
        let mut stream = MessageStream::new(bytes);
        let theirs = stream.parse_content_type();
        assert_eq!(ours, theirs, "{value:?}");
        assert_eq!(end, stream.offset(), "{value:?}");
        true
    }

    #[test]
    fn plain_values_read_as_mail_parser_reads_them() {
        let taken = [
            " text/plain\n",
            " Text/PLAIN; Charset=\"ISO-2022-JP\"\nX: y",
            " multipart/report; report-type=delivery-status;\n\tboundary=\"B.1/x\"\n",
            " multipart/mixed;\n boundary=----=_Part_1_2.3\n",
            " message/rfc822\n\n",
            " text/plain;charset=us-ascii ; format=flowed;\n",
            " multipart/alternative\n boundary=\"a b  c\"\n",
            " text ; charset=utf-8\n",
            " application/octet-stream; name=\"a.txt\"; x-y=1\n",
            " text/plain;\n",
        ];
        for v in taken {
            assert!(agrees(v), "not taken: {v:?}");
        }
        let left = [
            " text/plain; name*=utf-8''caf%C3%A9\n",
            " text/plain; charset=\"a\\\"b\"\n",
            " text/plain (comment)\n",
            " text/plain; name=\"=?utf-8?q?x?=\"\n",
            " text/plain; name=\"\"\n",
            " text/plain; charset=\n",
            " text/plain\r\n",
            " text / plain\n",
            " text/plain x=1\n",
            " text/plain; charset=utf-8",
            " caf\u{e9}/plain\n",
            "\n",
        ];
        for v in left {
            assert!(!agrees(v), "taken: {v:?}");
        }
    }

    #[test]
    fn one_line_values_read_as_mail_parser_reads_them() {
        for (value, taken) in [
            (" base64\n", true),
            ("  Undelivered Mail Returned to Sender \t\r\nX: y", true),
            (" a  b\n", true),
            ("\n", true),
            ("   \n", true),
            (" caf\u{e9}\n", true),
            (" =?utf-8?q?caf=C3=A9?=\n", false),
            (" one\n two\n", false),
            (" no end", false),
        ] {
            let bytes = value.as_bytes();
            let ours = plain_unstructured(bytes, None, 0);
            assert_eq!(ours.is_some(), taken, "{value:?}");
            assert_eq!(ours, plain_unstructured(bytes, Some(value), 0));
            if let Some((ours, end)) = ours {
                let mut stream = MessageStream::new(bytes);
                assert_eq!(ours, stream.parse_unstructured(), "{value:?}");
                assert_eq!(end, stream.offset(), "{value:?}");
            }
        }
    }

    /// Random values built from the pieces that matter: wherever the fast
    /// paths take one, mail-parser agrees with them.
    #[test]
    fn random_values_agree_with_mail_parser() {
        const ITERATIONS: usize = 50_000;
        const PIECES: &[&str] = &[
            "text",
            "/",
            "plain",
            "Multipart",
            "report",
            ";",
            " ",
            "\t",
            "\n",
            "\n ",
            "\n\t",
            "charset",
            "=",
            "\"",
            "utf-8",
            "boundary",
            "--=_A.b",
            "x",
            "*",
            "(",
            ")",
            "\\",
            "=?",
            "?=",
            "'",
            ":",
            "\r",
            "\u{e9}",
            "name",
            "0",
        ];
        let mut rng = crate::test_random::XorShift(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next();
        let (mut taken, mut unstructured) = (0, 0);
        for _ in 0..ITERATIONS {
            let n = 1 + (next() % 12) as usize;
            let mut value = String::from(" ");
            for _ in 0..n {
                value.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            value.push('\n');
            taken += usize::from(agrees(&value));
            let bytes = value.as_bytes();
            let whole = std::str::from_utf8(bytes).ok();
            let ours = plain_unstructured(bytes, whole, 0);
            assert_eq!(ours, plain_unstructured(bytes, None, 0), "{value:?}");
            if let Some((ours, end)) = ours {
                let mut stream = MessageStream::new(bytes);
                assert_eq!(ours, stream.parse_unstructured(), "{value:?}");
                assert_eq!(end, stream.offset(), "{value:?}");
                unstructured += 1;
            }
        }
        // The comparison must have been made, many times.
        assert!(
            taken > 1000 && unstructured > 1000,
            "{taken} {unstructured}"
        );
    }

    /// Every Content-Type of the corpus (top level and parts): the fast
    /// path agrees with mail-parser, and takes nearly all of them.
    #[test]
    fn corpus_content_types() {
        let Some(dir) = shared_corpus::sisimai_corpus(&["emails"]) else {
            return;
        };
        let entries = std::fs::read_dir(dir.join("emails")).unwrap();
        let (mut seen, mut taken) = (0, 0);
        for entry in entries {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            let raw = crate::mail::normalise_line_endings(&raw);
            let text = String::from_utf8_lossy(&raw);
            let mut rest = text.as_ref();
            while let Some(at) = rest.to_ascii_lowercase().find("\ncontent-type:") {
                let value = &rest[at + "\ncontent-type:".len()..];
                let end = value
                    .match_indices('\n')
                    .find(|(i, _)| !value[i + 1..].starts_with([' ', '\t']))
                    .map_or(value.len(), |(i, _)| i + 1);
                seen += 1;
                taken += usize::from(agrees(&value[..end]));
                rest = &value[end..];
            }
        }
        eprintln!("content types: {taken} of {seen} on the fast path");
        assert!(seen > 1000, "{seen} values");
        assert!(taken * 100 >= seen * 90, "only {taken} of {seen} taken");
    }
}
