//! `Headers`: a header block's fields, names lower-cased, values unfolded,
//! in one buffer, with a one-bit-per-name filter that answers most
//! "is there a field named…" questions without looking at any field; and
//! the trims and unfolding its values go through.

use super::name_filter::NameFilter;
use crate::text::SplitLines;

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
    /// The names present: decoders ask every message for dozens of names
    /// it does not have, and this answers most of those without looking at
    /// any field.
    names: NameFilter,
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
        self.names.may_contain(name.as_bytes())
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
    pub(super) fn for_block() -> Headers {
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
        self.names.insert(&self.text.as_bytes()[start..middle]);
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
    pub(super) fn push_one_line(&mut self, name: &str, value: &str) {
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
pub(super) fn trim_start(s: &str) -> &str {
    let t = s.trim_ascii_start();
    match t.as_bytes().first() {
        Some(b) if !b.is_ascii() => t.trim_start(),
        _ => t,
    }
}

/// `str::trim_end`, bytewise when the last byte kept is ASCII.
pub(super) fn trim_end(s: &str) -> &str {
    let t = s.trim_ascii_end();
    match t.as_bytes().last() {
        Some(b) if !b.is_ascii() => t.trim_end(),
        _ => t,
    }
}

/// `str::trim`, bytewise at ASCII ends.
pub(super) fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// Appends a raw header value unfolded: its lines joined by one space,
/// continuation indents and surrounding whitespace dropped.
pub(super) fn unfold_into(out: &mut String, value: &str) {
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
pub(super) fn unfold_lines_into(out: &mut String, value: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_blocks_unfold_and_stop_at_blank_line() {
        let (h, off) = Headers::parse_block("A: 1\nB: two\n  lines\n\nbody");
        assert_eq!(h.value("a"), "1");
        assert_eq!(h.value("b"), "two lines");
        assert_eq!(&"A: 1\nB: two\n  lines\n\nbody"[off..], "body");
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
}
