//! A text part's bytes as UTF-8: mail-parser's charset tables when the
//! charset is known (ASCII-compatible ones skipped when the bytes are
//! ASCII), lossy UTF-8 otherwise; and the size cut for huge parts.

use mail_parser::ContentType;
use mail_parser::decoders::charsets::DecoderFnc;
use mail_parser::decoders::charsets::map::charset_decoder;
use std::borrow::Cow;

/// Text parts larger than this are cut: the diagnostic is never that far in,
/// and a 50 MB attachment must not be copied around.
pub(super) const MAX_TEXT_PART: usize = 256 * 1024;

/// A text part's decoded bytes as UTF-8, the way mail-parser converts them:
/// its charset table when the `charset` is known, else lossy UTF-8.
pub(super) fn to_text(bytes: Cow<'_, [u8]>, charset: Option<Charset>) -> Cow<'_, str> {
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
pub(super) struct Charset {
    decoder: DecoderFnc,
    /// ASCII bytes decode to themselves (Latin and Windows code pages), so
    /// an all-ASCII body needs no decoding.
    ascii_compatible: bool,
}

/// Charsets whose ASCII range is ASCII (labels compared case-insensitively
/// with `-` and `_` left out); a test checks each against mail-parser's
/// table.
pub(super) const ASCII_COMPATIBLE: &[&str] = &[
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

pub(super) fn is_ascii_compatible(label: &str) -> bool {
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
pub(super) fn charset_of(ct: Option<&ContentType<'_>>) -> Option<Charset> {
    let label = ct.and_then(|ct| ct.attribute("charset"))?;
    charset_decoder(label.as_bytes()).map(|decoder| Charset {
        decoder,
        ascii_compatible: is_ascii_compatible(label),
    })
}

pub(super) fn cut(text: &str) -> &str {
    if text.len() <= MAX_TEXT_PART {
        return text;
    }
    let mut end = MAX_TEXT_PART;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

pub(super) fn decode_bytes<'a>(bytes: &'a [u8], ct: Option<&ContentType<'_>>) -> Cow<'a, str> {
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
pub(super) fn utf8_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
