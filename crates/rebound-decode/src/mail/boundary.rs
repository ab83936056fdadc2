//! Finding the next `--boundary`: a part's body read up to it, or a part
//! nobody reads skipped past it, with a vectorised search instead of
//! mail-parser's byte-by-byte walk (same answers; tested against it).

use mail_parser::parsers::MessageStream;
use std::borrow::Cow;

/// Reads a part without transfer encoding: `MessageStream::mime_part`'s
/// contract (the body up to the line break before the next `--boundary`,
/// the stream left after it; `usize::MAX` and the stream unmoved when the
/// boundary never comes; everything when there is no boundary), with a
/// vectorised search instead of a byte-by-byte walk.
pub(super) fn plain_part<'x>(
    stream: &mut MessageStream<'x>,
    boundary: &[u8],
) -> (usize, Cow<'x, [u8]>) {
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
pub(super) fn find_boundary(hay: &[u8], boundary: &[u8]) -> Option<usize> {
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
pub(super) fn byte_commonness(b: u8) -> u8 {
    match b {
        b' ' | b'\n' | b'-' => 250,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' => 200,
        b'a'..=b'z' => 150,
        b'0'..=b'9' | b'.' => 100,
        b'A'..=b'Z' | b'@' | b'/' | b':' => 80,
        _ => 40,
    }
}

/// Moves the stream past a part nobody reads: to just after the next
/// `--boundary` (the first occurrence, as `seek_part_end` finds it, but
/// with a vectorised search instead of a byte-by-byte walk), or to the end.
/// Returns whether the enclosing multipart goes on.
pub(super) fn skip_part(stream: &mut MessageStream<'_>, boundary: Option<&[u8]>) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
