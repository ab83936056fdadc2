//! Text helpers the decoders share, made for being called on every bounce:
//! lines by memchr ([`SplitLines`]), fixed markers with their searcher
//! built once ([`Needle`]), case-insensitive search by first byte, and the
//! readers of an SMTP reply's parts (reply code, enhanced status, command)
//! and of multi-line replies.
//!
//! The bottom layer of the decoder: it imports nothing from `mail`, `dsn`
//! or `lhost`, so the message layout, the field parsers and every format
//! decoder can use it without importing each other.

use rebound_core::{EnhancedStatus, ReplyCode};

/// Case-insensitive (ASCII) `starts_with`.
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Case-insensitive (ASCII) `contains`.
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    find_ignore_case(haystack, needle).is_some()
}

/// Where `needle` first occurs in `haystack`, ASCII case ignored. Decoders
/// ask this of every bounce's headers, so candidates are found by their
/// first byte (in either case) with a vectorised search rather than by
/// comparing at every position.
pub fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = n.split_first() else {
        return Some(0);
    };
    let last_start = h.len().checked_sub(n.len())?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut from = 0;
    while from <= last_start {
        let at = from + memchr::memchr2(lower, upper, &h[from..=last_start])?;
        if h[at + 1..at + n.len()].eq_ignore_ascii_case(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Where `needle` last occurs in `haystack`, ASCII case ignored.
pub fn rfind_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    let last_start = h.len().checked_sub(n.len())?;
    (0..=last_start)
        .rev()
        .find(|&at| h[at..at + n.len()].eq_ignore_ascii_case(n))
}

/// The text before the first of `markers` (matched case-insensitively at
/// the start of a line, after leading blanks). Formats that append the
/// original message inline use this to keep only their own notice.
pub fn text_before<'a>(text: &'a str, markers: &[&str]) -> &'a str {
    let mut offset = 0;
    for line in text.split_lines_inclusive() {
        let trimmed = line.trim_start();
        if markers.iter().any(|m| starts_with_ignore_case(trimmed, m)) {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// `str::lines` (lines end at `\n` or `\r\n`; no empty line after a
/// final line break) with a vectorised search per line: decoders walk the
/// lines of every notice several times, and `str::lines` costs twice as
/// much per line.
pub trait SplitLines {
    fn split_lines(&self) -> Lines<'_>;

    /// `str::split_inclusive('\n')`: the lines with their line breaks.
    fn split_lines_inclusive(&self) -> LinesInclusive<'_>;
}

impl SplitLines for str {
    fn split_lines(&self) -> Lines<'_> {
        Lines(self.split_lines_inclusive())
    }

    fn split_lines_inclusive(&self) -> LinesInclusive<'_> {
        LinesInclusive { text: self, pos: 0 }
    }
}

/// The iterator of [`SplitLines::split_lines_inclusive`].
#[derive(Clone)]
pub struct LinesInclusive<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for LinesInclusive<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
        let len = memchr::memchr(b'\n', rest.as_bytes()).map_or(rest.len(), |n| n + 1);
        self.pos += len;
        Some(&rest[..len])
    }
}

/// The iterator of [`SplitLines::split_lines`]: the inclusive lines
/// without their `\n` or `\r\n` (a final line without a line break keeps
/// a trailing `\r`, as in `str::lines`).
#[derive(Clone)]
pub struct Lines<'a>(LinesInclusive<'a>);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let line = self.0.next()?;
        Some(match line.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => line,
        })
    }
}

/// A fixed text that decoders look for in every bounce: its searcher is
/// built on first use and kept, since building one (`str::contains` does
/// on every call) costs more than searching a notice's text.
pub struct Needle {
    text: &'static str,
    finder: std::sync::OnceLock<memchr::memmem::Finder<'static>>,
}

impl Needle {
    pub const fn new(text: &'static str) -> Needle {
        Needle {
            text,
            finder: std::sync::OnceLock::new(),
        }
    }

    pub fn text(&self) -> &'static str {
        self.text
    }

    /// Where the text first occurs in `haystack`.
    pub fn find(&self, haystack: &str) -> Option<usize> {
        self.finder
            .get_or_init(|| memchr::memmem::Finder::new(self.text))
            .find(haystack.as_bytes())
    }

    pub fn is_in(&self, haystack: &str) -> bool {
        self.find(haystack).is_some()
    }
}

/// The first paragraph of `text` (lines up to a blank line) that `accept`
/// takes, its lines joined by single spaces. Paragraphs are trimmed first;
/// at most 64 paragraphs are looked at.
pub fn first_paragraph(text: &str, accept: impl Fn(&str) -> bool) -> String {
    let mut paragraph = String::new();
    let mut seen = 0;
    for line in text.split_lines().chain(std::iter::once("")) {
        let line = line.trim();
        if line.is_empty() {
            if !paragraph.is_empty() {
                if accept(&paragraph) {
                    return paragraph;
                }
                paragraph.clear();
                seen += 1;
                if seen >= 64 {
                    break;
                }
            }
            continue;
        }
        if !paragraph.is_empty() {
            paragraph.push(' ');
        }
        paragraph.push_str(line);
    }
    String::new()
}

/// The lines after the first line containing `marker` (ASCII
/// case-insensitive), trimmed, from the first non-blank one up to the next
/// blank line; at most 50 lines. Empty when the marker is absent.
pub fn section<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut lines = text.split_lines().take(2000);
    if !lines.any(|l| contains_ignore_case(l, marker)) {
        return Vec::new();
    }
    lines
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .take(50)
        .collect()
}

/// Collapses every run of whitespace into one space and trims the ends.
pub fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The first SMTP reply code (4xx or 5xx) standing as a word of `text`:
/// preceded by the start, a blank, `:`, `(` or `[`, and followed by the end,
/// a blank or `-`. Numbers inside addresses, ports and long numbers never
/// match.
pub fn reply_code_in(text: &str) -> Option<ReplyCode> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        let c = b[i];
        if (c == b'4' || c == b'5')
            && (i == 0 || matches!(b[i - 1], b' ' | b'\t' | b':' | b'(' | b'[' | b'"' | b'\n'))
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && (i + 3 == b.len() || matches!(b[i + 3], b' ' | b'-' | b'\t' | b'\n' | b')'))
        {
            let code =
                (c - b'0') as u16 * 100 + (b[i + 1] - b'0') as u16 * 10 + (b[i + 2] - b'0') as u16;
            if let Some(rc) = ReplyCode::new(code) {
                return Some(rc);
            }
        }
        i += 1;
    }
    None
}

/// A reply code at the very start of `text` (after blanks), 2xx to 5xx.
pub fn leading_reply_code(text: &str) -> Option<ReplyCode> {
    let t = text.trim_start();
    let head = t.get(..3)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match t.as_bytes().get(3) {
        None | Some(b' ' | b'-' | b'\t') => head.parse().ok(),
        _ => None,
    }
}

/// The SMTP command a notice says the reply answered (`RCPT`, `DATA`…), or
/// "" when it names none: `rebound_classify::reply::smtp_command`, the one
/// reader the classifier and ingest use too.
pub fn command_in(text: &str) -> &'static str {
    rebound_classify::reply::smtp_command(text).unwrap_or("")
}

/// Joins the lines of a (possibly multi-line) SMTP reply into one line:
/// `550-5.1.1 a` / `550 5.1.1 b` becomes `550 5.1.1 a b`. Lines without a
/// code prefix are appended as they are.
pub fn join_reply<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    let mut first_code: Option<&str> = None;
    for line in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut piece = line;
        if let Some(code) = line.get(..3)
            && code.bytes().all(|b| b.is_ascii_digit())
            && matches!(line.as_bytes().get(3), Some(b'-' | b' ') | None)
        {
            match first_code {
                None => {
                    first_code = Some(code);
                    // Keep the code, normalise the separator.
                    let rest = line.get(4..).unwrap_or("").trim();
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(code);
                    if !rest.is_empty() {
                        out.push(' ');
                        out.push_str(rest);
                    }
                    continue;
                }
                Some(c) if c == code => {
                    piece = line.get(4..).unwrap_or("").trim();
                    // Drop a repeated enhanced status as well.
                    if let Some((first, rest)) = piece.split_once(' ')
                        && status_in(first).is_some()
                        && first.len() <= 9
                        && out.contains(first)
                    {
                        piece = rest.trim();
                    } else if status_in(piece).is_some_and(|s| s.to_string() == piece) {
                        piece = "";
                    }
                }
                Some(_) => {}
            }
        }
        if piece.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(piece);
    }
    out
}

/// Removes the code prefixes a folded multi-line reply keeps inside its
/// text: `550-5.7.1 a 550-5.7.1 b 550 5.7.1 c` becomes `550 5.7.1 a b c`.
/// Text that does not start with a reply code is only squeezed.
pub fn unfold_reply(text: &str) -> String {
    // Written word by word into one buffer: every report's diagnostic
    // passes through here, and collecting the words first cost three
    // allocations per recipient.
    let mut out = String::with_capacity(text.len());
    let mut words = text.split_whitespace().peekable();
    let Some(first) = words.next() else {
        return out;
    };
    let Some(code) = first
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .filter(|_| matches!(first.as_bytes().get(3), None | Some(b'-')))
    else {
        return squash(text);
    };
    let glued = first.get(4..).unwrap_or("");
    let status = if !glued.is_empty() {
        glued
    } else {
        words
            .peek()
            .copied()
            .filter(|t| status_in(t).is_some_and(|s| s.to_string() == *t))
            .unwrap_or("")
    };
    out.push_str(code);
    let mut push = |word: &str| {
        out.push(' ');
        out.push_str(word);
    };
    if !glued.is_empty() {
        push(glued);
    }
    while let Some(t) = words.next() {
        if t == code {
            if !status.is_empty() && words.peek() == Some(&status) {
                words.next();
            }
            continue;
        }
        if let Some(rest) = t.strip_prefix(code).and_then(|r| r.strip_prefix('-')) {
            if !rest.is_empty() && rest != status {
                push(rest);
            }
            continue;
        }
        push(t);
    }
    out
}

/// The status to keep when a report states one and the diagnostic text
/// holds another: the text's when the report's is a catch-all (`x.0.0`) of
/// the same class, the report's otherwise.
pub fn better_status(
    report: Option<EnhancedStatus>,
    text: Option<EnhancedStatus>,
) -> Option<EnhancedStatus> {
    match (report, text) {
        (Some(r), Some(t)) if r.is_generic() && !t.is_generic() && r.class() == t.class() => {
            Some(t)
        }
        (Some(r), _) => Some(r),
        (None, t) => t,
    }
}

/// At most the first `n` bytes of `text`, cut at a character boundary: for
/// marker checks that must stay cheap on large messages.
pub fn head(text: &str, n: usize) -> &str {
    if text.len() <= n {
        return text;
    }
    let mut end = n;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// What may surround an enhanced status code for [`status_in_with`] to
/// read it. The decoders grew two readings; each call site keeps its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusBounds {
    /// The code may follow a letter (`#5.1.1`, `X5.1.1`) and ends at a dot
    /// not followed by a digit (`4.4.7.` and `5.1.1..2` give their first
    /// three numbers). What the Unix MTA decoders and free text read.
    Glued,
    /// The code stands as its own word: it follows no letter, and a dotted
    /// run that goes on after further dots (`5.1.1..2`) is no code. What
    /// the RFC 3464 report helpers read from diagnostics.
    Word,
}

/// The first enhanced status code (`5.1.1`, `4.7.26`, `(#5.2.2)`) in `text`
/// as the Unix MTA decoders read it: [`StatusBounds::Glued`].
pub fn status_in(text: &str) -> Option<EnhancedStatus> {
    status_in_with(text, StatusBounds::Glued)
}

/// The first enhanced status code in `text`, never part of a longer dotted
/// number (an IP address, a version): not after a digit or a dot, at most
/// three digits per number, and not followed by a digit or by a dot and a
/// digit. `bounds` says what else may surround it.
pub fn status_in_with(text: &str, bounds: StatusBounds) -> Option<EnhancedStatus> {
    let b = text.as_bytes();
    let not_before = |c: u8| match bounds {
        StatusBounds::Glued => c.is_ascii_digit() || c == b'.',
        StatusBounds::Word => c.is_ascii_alphanumeric() || c == b'.',
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if matches!(c, b'2' | b'4' | b'5')
            && (i == 0 || !not_before(b[i - 1]))
            && b.get(i + 1) == Some(&b'.')
        {
            let mut j = i + 2;
            let s1 = j;
            while j < b.len() && b[j].is_ascii_digit() && j - s1 < 4 {
                j += 1;
            }
            let len1 = j - s1;
            if (1..=3).contains(&len1) && b.get(j) == Some(&b'.') {
                let s2 = j + 1;
                let mut k = s2;
                while k < b.len() && b[k].is_ascii_digit() && k - s2 < 4 {
                    k += 1;
                }
                let len2 = k - s2;
                let after_ok = match b.get(k) {
                    None => true,
                    Some(d) if d.is_ascii_digit() => false,
                    Some(b'.') => {
                        let dots = match bounds {
                            StatusBounds::Glued => 1,
                            StatusBounds::Word => b[k..].iter().take_while(|&&d| d == b'.').count(),
                        };
                        !b.get(k + dots).is_some_and(|d| d.is_ascii_digit())
                    }
                    Some(_) => true,
                };
                if (1..=3).contains(&len2)
                    && after_ok
                    && let Some(s) = text.get(i..k).and_then(|s| s.parse().ok())
                {
                    return Some(s);
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_is_str_lines() {
        for text in [
            "",
            "a",
            "a\n",
            "a\n\n",
            "\n",
            "a\r\nb",
            "a\r",
            "a\rb\n",
            "\r\n\r\n",
            "x\n\ny\r\n\r\nz",
            "caf\u{e9}\n\u{3000}\r\n",
        ] {
            assert_eq!(
                text.split_lines().collect::<Vec<_>>(),
                text.lines().collect::<Vec<_>>(),
                "{text:?}"
            );
            assert_eq!(
                text.split_lines_inclusive().collect::<Vec<_>>(),
                text.split_inclusive('\n').collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn case_insensitive_search_agrees_with_comparing_every_window() {
        let naive = |h: &str, n: &str| {
            (0..=h.len().saturating_sub(n.len())).find(|&i| {
                h.len() >= n.len()
                    && h.as_bytes()[i..i + n.len()].eq_ignore_ascii_case(n.as_bytes())
            })
        };
        let hays = [
            "",
            "a",
            "Mail Delivery Subsystem <MAILER-DAEMON@x>",
            "aaAab",
            "x.dion.ne.jp",
            "\u{e9}t\u{e9} ok",
        ];
        let needles = [
            "",
            "a",
            "AAB",
            "mailer-daemon",
            "subsystem <",
            ".DION.NE.JP",
            "t\u{e9} O",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ];
        for h in hays {
            for n in needles {
                assert_eq!(find_ignore_case(h, n), naive(h, n), "{h:?} {n:?}");
            }
        }
    }

    #[test]
    fn cuts_at_markers() {
        let t = "notice\nmore\n--- Below this line is a copy of the message.\nheaders";
        assert_eq!(text_before(t, &["--- below this line"]), "notice\nmore\n");
    }

    #[test]
    fn sections() {
        let t = "head\n--- Reasons ---\n\n  first\n  second\n\nafter\n";
        assert_eq!(section(t, "reasons"), vec!["first", "second"]);
        assert!(section(t, "absent").is_empty());
    }

    #[test]
    fn word_statuses_codes_commands_and_paragraphs() {
        assert_eq!(
            status_in_with("552 over quota (#5.2.2)", StatusBounds::Word)
                .unwrap()
                .to_string(),
            "5.2.2"
        );
        assert_eq!(
            status_in_with("550 5.1.1 <a@b>", StatusBounds::Word)
                .unwrap()
                .to_string(),
            "5.1.1"
        );
        assert!(status_in_with("version 5.1.10.2 and 25.1.1", StatusBounds::Word).is_none());
        assert!(status_in_with("ip 192.5.1.1 x", StatusBounds::Word).is_none());
        assert_eq!(leading_reply_code(" 550-5.1.1 no").unwrap().get(), 550);
        assert!(leading_reply_code("5501 no").is_none());
        assert_eq!(
            command_in("said: 550 x (in reply to end of DATA command)"),
            "DATA"
        );
        assert_eq!(command_in(">>> RCPT TO:<a@b>\n<<< 550"), "RCPT");
        assert_eq!(command_in("nothing"), "");
        assert_eq!(
            first_paragraph("\n\nHello,\n\nA b\n c\n\nd", |p| p != "Hello,"),
            "A b c"
        );
        assert_eq!(squash(" a \n b  c "), "a b c");
    }

    #[test]
    fn commands_are_found_in_prose() {
        assert_eq!(
            command_in("SMTP error from remote mail server after RCPT TO:<a@b>"),
            "RCPT"
        );
        assert_eq!(
            command_in("host said: 550 x (in reply to end of DATA command)"),
            "DATA"
        );
        assert_eq!(
            command_in("501 Sender address rejected [MAIL_FROM]"),
            "MAIL"
        );
        assert_eq!(command_in("nothing here"), "");
    }

    #[test]
    fn reply_codes_are_found_as_words_only() {
        assert_eq!(
            reply_code_in("host x [192.0.2.1]: 550 5.1.1 no")
                .unwrap()
                .get(),
            550
        );
        assert_eq!(reply_code_in("said: 452-4.2.2 full").unwrap().get(), 452);
        assert!(reply_code_in("571 No PTR Record 203.0.113.22").is_none());
        assert!(reply_code_in("SIZE=1543: retry 4320 seconds").is_none());
        assert_eq!(leading_reply_code("250 ok").unwrap().get(), 250);
    }

    #[test]
    fn statuses_are_not_read_from_addresses() {
        assert_eq!(status_in("550 5.7.26 DMARC").unwrap().to_string(), "5.7.26");
        assert_eq!(
            status_in("Giving up (#5.1.1)").unwrap().to_string(),
            "5.1.1"
        );
        assert!(status_in("from 192.0.2.222 and 4.16.55.1").is_none());
        assert_eq!(status_in("status 4.4.7.").unwrap().to_string(), "4.4.7");
    }

    #[test]
    fn commands_and_multiline_replies() {
        assert_eq!(
            command_in("said: 550 x (in reply to RCPT TO command)"),
            "RCPT"
        );
        assert_eq!(
            command_in("SMTP error from remote mail server after end of data:"),
            "DATA"
        );
        assert_eq!(command_in("after MAIL FROM:<a@b> SIZE=1"), "MAIL");
        assert_eq!(command_in("no command here"), "");
        assert_eq!(
            join_reply([
                "550-5.7.26 first part",
                "550-5.7.26 second",
                "550 5.7.26 end"
            ]),
            "550 5.7.26 first part second end"
        );
        assert_eq!(
            unfold_reply("550-5.7.1 [a 13] Messages with multiple 550 5.7.1 addresses in From:"),
            "550 5.7.1 [a 13] Messages with multiple addresses in From:"
        );
        assert_eq!(
            unfold_reply("550 5.1.1 <a@b>... User Unknown"),
            "550 5.1.1 <a@b>... User Unknown"
        );
        assert_eq!(
            unfold_reply("550 5.1.1 first line\n   550 5.1.1 second\t line"),
            "550 5.1.1 first line second line"
        );
        assert_eq!(unfold_reply("550-glued 550-rest"), "550 glued rest");
        assert_eq!(unfold_reply("  no   code\n here "), "no code here");
        assert_eq!(unfold_reply(" \n "), "");
        assert_eq!(squash("  a \t b\n\nc  "), "a b c");
    }

    // The two status readers the decoders had before they became
    // `status_in_with`'s two bounds, kept as the oracle it is tested against.
    /// The first enhanced status code (`5.1.1`, `#5.1.1`, `(4.2.2)`) written
    /// inside `text`, bounded by characters that cannot belong to a number.
    fn old_word_status_in(text: &str) -> Option<rebound_core::EnhancedStatus> {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let starts = matches!(b, b'2' | b'4' | b'5')
                && bytes.get(i + 1) == Some(&b'.')
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'));
            if starts {
                let end = bytes[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_digit() || *c == b'.'))
                    .map_or(bytes.len(), |n| i + n);
                let candidate = text.get(i..end).unwrap_or("").trim_end_matches('.');
                if let Ok(status) = candidate.parse() {
                    return Some(status);
                }
                i = end.max(i + 1);
                continue;
            }
            i += 1;
        }
        None
    }

    /// The first enhanced status code (`5.1.1`, `4.7.26`) in `text`, not part
    /// of a longer dotted number (an IP address or a version).
    fn old_glued_status_in(text: &str) -> Option<EnhancedStatus> {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if matches!(c, b'2' | b'4' | b'5')
                && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'))
                && b.get(i + 1) == Some(&b'.')
            {
                let mut j = i + 2;
                let s1 = j;
                while j < b.len() && b[j].is_ascii_digit() && j - s1 < 4 {
                    j += 1;
                }
                let len1 = j - s1;
                if (1..=3).contains(&len1) && b.get(j) == Some(&b'.') {
                    let s2 = j + 1;
                    let mut k = s2;
                    while k < b.len() && b[k].is_ascii_digit() && k - s2 < 4 {
                        k += 1;
                    }
                    let len2 = k - s2;
                    let after_ok = match b.get(k) {
                        None => true,
                        Some(d) if d.is_ascii_digit() => false,
                        Some(b'.') => !b.get(k + 1).is_some_and(|d| d.is_ascii_digit()),
                        Some(_) => true,
                    };
                    if (1..=3).contains(&len2)
                        && after_ok
                        && let Some(s) = text.get(i..k).and_then(|s| s.parse().ok())
                    {
                        return Some(s);
                    }
                }
            }
            i += 1;
        }
        None
    }

    #[test]
    fn each_status_bound_reads_as_the_reader_it_replaced() {
        let mut rng = crate::test_random::XorShift(0x5eed_57a7);
        let alphabet = b"012455..  a#(-\n9";
        for _ in 0..200_000 {
            let len = (rng.next() % 14) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize] as char)
                .collect();
            assert_eq!(
                status_in_with(&text, StatusBounds::Word),
                old_word_status_in(&text),
                "{text:?}"
            );
            assert_eq!(
                status_in_with(&text, StatusBounds::Glued),
                old_glued_status_in(&text),
                "{text:?}"
            );
        }
    }
}
