//! Parsing reply texts as real systems hand them over.
//!
//! A reply rarely arrives as a bare `550 5.1.1 text`. Bounce generators wrap
//! it (`smtp; …`, `host mx[192.0.2.1] said: … (in reply to RCPT TO command)`,
//! `SMTP error from remote mail server after RCPT TO:<…>: …`), split it over
//! continuation lines (`550-5.1.1 …`), quote it, or drop the reply code. This
//! module is a hand-written scanner (it runs once per reply, on the hot path)
//! that recovers the reply code, the enhanced status, the SMTP command, the
//! remote host and the text proper. It never panics and never reads more than
//! [`MAX_SCAN_BYTES`] of its input.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rebound_core::{EnhancedStatus, ReplyCode};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Replies longer than this are cut (at a character boundary) before any
/// scanning, so that a pathological 1 MB line costs no more than a long one.
pub const MAX_SCAN_BYTES: usize = 64 * 1024;

/// What [`parse`] found in a reply text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedReply {
    pub replycode: Option<ReplyCode>,
    pub status: Option<EnhancedStatus>,
    /// `RCPT`, `MAIL`, `DATA`, `HELO`, `EHLO`, `CONN`, `STARTTLS`, `AUTH`,
    /// `BDAT` or `QUIT`, when the text says which command was answered.
    pub smtpcommand: Option<String>,
    pub rhost: Option<String>,
    /// The text without codes, prefixes and wrapping.
    pub text: String,
    /// The RFC 3464 diagnostic type prefix (`smtp`, `x-postfix`, `x-unix`…),
    /// lower-cased, when the text started with one.
    pub diagnostic_type: Option<String>,
}

/// Cuts `text` to at most [`MAX_SCAN_BYTES`], on a character boundary.
pub fn capped(text: &str) -> &str {
    if text.len() <= MAX_SCAN_BYTES {
        return text;
    }
    let mut end = MAX_SCAN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Parses one reply text. See the module documentation for the shapes
/// understood.
pub fn parse(text: &str) -> ParsedReply {
    let p = parse_inner(text, true);
    ParsedReply {
        replycode: p.replycode,
        status: p.status,
        smtpcommand: p.smtpcommand.map(str::to_string),
        rhost: p.rhost,
        text: p.text.into_owned(),
        diagnostic_type: p.diagnostic_type.map(Cow::into_owned),
    }
}

/// The reply code and enhanced status of a reply text, as [`parse`] reads
/// them (the same continuation-line joining, diagnostic-type prefix and
/// `find_codes`), without building the rest of a [`ParsedReply`]: for
/// readers that only need the codes (log lines, webhooks), so that a text
/// means the same codes wherever it comes from.
pub fn codes(text: &str) -> (Option<ReplyCode>, Option<EnhancedStatus>) {
    let joined = join_continuation_lines(capped(text));
    let mut s: &str = joined.trim();
    strip_diagnostic_type(&mut s);
    let (replycode, status, _) = find_codes(s.as_bytes());
    (replycode, status)
}

/// [`ParsedReply`], borrowing from the reply text where it can: the
/// classifier's hot path copies nothing it does not keep.
#[derive(Debug)]
pub(crate) struct ParsedRef<'a> {
    pub replycode: Option<ReplyCode>,
    pub status: Option<EnhancedStatus>,
    pub smtpcommand: Option<&'static str>,
    pub rhost: Option<String>,
    pub text: Cow<'a, str>,
    pub diagnostic_type: Option<Cow<'a, str>>,
}

impl ParsedRef<'_> {
    fn into_owned(self) -> ParsedRef<'static> {
        ParsedRef {
            replycode: self.replycode,
            status: self.status,
            smtpcommand: self.smtpcommand,
            rhost: self.rhost,
            text: Cow::Owned(self.text.into_owned()),
            diagnostic_type: self.diagnostic_type.map(|d| Cow::Owned(d.into_owned())),
        }
    }
}

/// [`parse`] without looking for the SMTP command: the classifier finds the
/// command markers in its own single automaton pass over the text.
pub(crate) fn parse_except_command(text: &str) -> ParsedRef<'_> {
    parse_inner(text, false)
}

fn parse_inner(text: &str, find_command: bool) -> ParsedRef<'_> {
    match join_continuation_lines(capped(text)) {
        Cow::Borrowed(one_line) => parse_line(one_line, find_command),
        Cow::Owned(joined) => parse_line(&joined, find_command).into_owned(),
    }
}

fn parse_line(line: &str, find_command: bool) -> ParsedRef<'_> {
    let mut s: &str = line.trim();

    let diagnostic_type = strip_diagnostic_type(&mut s);
    let bytes = s.as_bytes();
    let smtpcommand = if find_command { smtp_command(s) } else { None };
    let rhost = find_rhost(s);

    let (replycode, status, reply_end) = find_codes(bytes);
    let body = match reply_end {
        // The reply proper starts at the code: whatever precedes it is the
        // bounce generator's wrapping.
        Some(end) => &s[end..],
        None => strip_wrapping_prefix(s),
    };
    let text = clean_body(body, replycode);

    ParsedRef {
        replycode,
        status,
        smtpcommand,
        rhost,
        text,
        diagnostic_type,
    }
}

/// Joins a multi-line reply into one line. Continuation prefixes
/// (`550-5.1.1 `) on the lines after the first are dropped so that the text
/// reads as one sentence; the first line keeps its code for [`find_codes`].
fn join_continuation_lines(text: &str) -> Cow<'_, str> {
    if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Lines split at every `\n` and `\r` (memchr, not a char searcher),
    // trimmed; empty ones do not count.
    let mut nonempty = 0;
    let mut start = 0;
    loop {
        let end = memchr::memchr2(b'\n', b'\r', &b[start..]).map_or(b.len(), |o| start + o);
        let line = text[start..end].trim();
        if !line.is_empty() {
            let line = if nonempty == 0 {
                line
            } else {
                skip_code_prefix(line)
            };
            nonempty += 1;
            if !line.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
        }
        if end == b.len() {
            break;
        }
        start = end + 1;
    }
    Cow::Owned(out)
}

/// `550-5.1.1 text` / `550 5.1.1 text` / `550-text` → `text`; anything else
/// unchanged.
fn skip_code_prefix(line: &str) -> &str {
    let b = line.as_bytes();
    if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b'-' | b' ') {
        let rest = &line[4..];
        let rest_b = rest.as_bytes();
        if let Some((_, len)) = status_at(rest_b, 0) {
            return rest[len..].trim_start();
        }
        return rest.trim_start();
    }
    line
}

/// Strips an RFC 3464 `Diagnostic-Code` type such as `smtp;` or
/// `X-Postfix;` and returns it lower-cased.
fn strip_diagnostic_type<'a>(s: &mut &'a str) -> Option<Cow<'a, str>> {
    let b = s.as_bytes();
    let semi = b.iter().take(20).position(|&c| c == b';')?;
    let word = &b[..semi];
    let looks_like_type = !word.is_empty()
        && word[0].is_ascii_alphabetic()
        && word.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    if !looks_like_type {
        return None;
    }
    let word = &s[..semi];
    let kind = if word.bytes().any(|c| c.is_ascii_uppercase()) {
        Cow::Owned(word.to_ascii_lowercase())
    } else {
        Cow::Borrowed(word)
    };
    *s = s[semi + 1..].trim_start();
    Some(kind)
}

/// How MTAs say which SMTP command a reply answered: a lead-in, then the
/// command. Syntax knowledge of bounce generators, not classification
/// knowledge, so it lives here rather than in the rule files; it is the one
/// table behind [`smtp_command`], the classifier, the decoders and ingest.
const LEAD_INS: &[&str] = &[
    "in reply to ",
    "in reply to end of ",
    "in response to ",
    "after ",
    "after end of ",
    "did not like our ",
    ">>> ",
    "while sending ",
    "error following ",
];

/// The commands as they follow a lead-in. BDAT (RFC 3030, the chunked
/// DATA) keeps its own name: rules that mean the data stage list both.
const COMMAND_WORDS: &[(&str, &str)] = &[
    ("rcpt to", "RCPT"),
    ("rcpt", "RCPT"),
    ("mail from", "MAIL"),
    ("mail", "MAIL"),
    ("data", "DATA"),
    ("final data", "DATA"),
    ("bdat", "BDAT"),
    ("ehlo", "EHLO"),
    ("helo", "HELO"),
    ("starttls", "STARTTLS"),
    ("auth", "AUTH"),
    ("quit", "QUIT"),
    ("rset", "RSET"),
    ("initial connection", "CONN"),
    ("greeting", "CONN"),
    ("pipelined", "RCPT"),
];

/// Phrases that name the command without a lead-in.
const STANDALONE: &[(&str, &str)] = &[
    ("rcpt to:", "RCPT"),
    ("rcpt to command", "RCPT"),
    ("rcpt command", "RCPT"),
    ("rcpt_to", "RCPT"),
    ("smtp:rcpt", "RCPT"),
    ("does not like recipient", "RCPT"),
    ("mail from:", "MAIL"),
    ("mail from command", "MAIL"),
    ("mail command", "MAIL"),
    ("mail_from", "MAIL"),
    ("sender was rejected", "MAIL"),
    ("end of data", "DATA"),
    ("data command", "DATA"),
    // GMX: "... for TEXT command".
    ("text command", "DATA"),
    ("failed after i sent the message", "DATA"),
    ("ehlo command", "EHLO"),
    ("helo command", "HELO"),
    ("while performing the helo handshake", "HELO"),
    ("while performing the ehlo handshake", "EHLO"),
    ("my name was rejected", "HELO"),
    ("refused to talk to me", "CONN"),
];

/// Every phrase that names a command, with the command: lead-ins times
/// command words, then the standalone phrases.
pub(crate) fn command_markers_table() -> &'static [(String, &'static str)] {
    static TABLE: OnceLock<Vec<(String, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: Vec<(String, &'static str)> = Vec::new();
        for lead in LEAD_INS {
            for (word, cmd) in COMMAND_WORDS {
                t.push((format!("{lead}{word}"), cmd));
            }
        }
        t.extend(STANDALONE.iter().map(|(p, c)| (p.to_string(), *c)));
        t.sort();
        t.dedup_by(|a, b| a.0 == b.0);
        t
    })
}

fn command_markers() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        // A contiguous NFA: cheap to build (every process pays for it) and
        // fast enough for the short texts it reads.
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(command_markers_table().iter().map(|(p, _)| p))
            .expect("command markers compile")
    })
}

/// Whether a command phrase ending at `end` ends there as a word: `after
/// data` names DATA, `after database maintenance` does not.
pub(crate) fn ends_a_word(text: &str, end: usize) -> bool {
    !text
        .as_bytes()
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// The SMTP command a text says a reply answered (`RCPT`, `MAIL`, `DATA`,
/// `BDAT`, `EHLO`, `HELO`, `STARTTLS`, `AUTH`, `QUIT`, `RSET`, or `CONN` for
/// the connection and greeting): the leftmost phrase that names one (`in
/// reply to RCPT TO command`, `after end of data`, `>>> MAIL From:`,
/// `did not like our RCPT TO`, `[RCPT_TO]`…), the longest where several
/// start together. The one reader of it for the classifier, the decoders
/// and ingest.
pub fn smtp_command(text: &str) -> Option<&'static str> {
    let text = capped(text);
    command_markers()
        .find_iter(text)
        .find(|m| ends_a_word(text, m.end()))
        .map(|m| command_markers_table()[m.pattern().as_usize()].1)
}

/// The remote host as Postfix (`host mx.example.com[192.0.2.1]`), Exim
/// (`host mx.example.com [192.0.2.1]`), DragonFly and others
/// (`mx.example.com [192.0.2.1] did not like…`) name it.
fn find_rhost(s: &str) -> Option<String> {
    let b = s.as_bytes();
    // Only the wrapping is of interest: it comes before the reply proper.
    let limit = b.len().min(600);
    let mut from = 0;
    while let Some(off) = memchr::memchr(b'[', &b[from..limit]) {
        let bracket = from + off;
        from = bracket + 1;
        // The host token ends right before the bracket or one space before.
        let mut end = bracket;
        if end > 0 && b[end - 1] == b' ' {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && is_host_byte(b[start - 1]) {
            start -= 1;
        }
        let token = &s[start..end];
        // What sits inside the brackets must look like an address, or a
        // transport like `private/dovecot-lmtp`.
        let inside_end = match memchr::memchr(b']', &b[bracket..limit]) {
            Some(o) => bracket + o,
            None => continue,
        };
        let inside = &b[bracket + 1..inside_end];
        let inside_ok = !inside.is_empty()
            && inside
                .iter()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, b'.' | b':' | b'/' | b'-' | b'_'))
            || inside
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'-' | b'.'));
        // A host name has a letter: `550-5.7.1 [192.0.2.1]` is a reply's
        // code before the address it names, not a host.
        if !inside_ok
            || token.len() < 3
            || !token.contains('.')
            || !token.bytes().any(|c| c.is_ascii_alphabetic())
        {
            continue;
        }
        let before = s[..start].trim_end().as_bytes();
        // Accept `host X[..]`, `connect to X[..]`, `with X[..]`, or X at the
        // very start of the text (DragonFly, qmail-style wrappers).
        let ends_with_ci = |suffix: &[u8]| {
            before.len() >= suffix.len()
                && before[before.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        };
        if before.is_empty()
            || ends_with_ci(b"host")
            || ends_with_ci(b"connect to")
            || ends_with_ci(b"with")
            || before.ends_with(b":")
        {
            return Some(token.trim_end_matches('.').to_ascii_lowercase());
        }
    }
    None
}

fn is_host_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_')
}

/// If `b[i..]` starts an enhanced status code with clean boundaries, returns
/// it and its length.
fn status_at(b: &[u8], i: usize) -> Option<(EnhancedStatus, usize)> {
    let class = *b.get(i)?;
    if !matches!(class, b'2' | b'4' | b'5') || b.get(i + 1) != Some(&b'.') {
        return None;
    }
    if i > 0 {
        let p = b[i - 1];
        if p.is_ascii_alphanumeric() || matches!(p, b'.' | b'_' | b'/' | b'@' | b'%' | b'+') {
            return None;
        }
    }
    let (subject, sub_len) = digits_at(b, i + 2, 3)?;
    if b.get(i + 2 + sub_len) != Some(&b'.') {
        return None;
    }
    let detail_at = i + 3 + sub_len;
    let (detail, det_len) = digits_at(b, detail_at, 3)?;
    let end = detail_at + det_len;
    match b.get(end) {
        None => {}
        Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'@') => return None,
        // `4.16.55.1` and IP addresses are not status codes.
        Some(b'.') if b.get(end + 1).is_some_and(u8::is_ascii_digit) => return None,
        Some(_) => {}
    }
    let status = EnhancedStatus::new(class - b'0', subject, detail)?;
    Some((status, end - i))
}

/// Reads 1..=`max` digits at `b[i..]`; `None` when there are none or more.
fn digits_at(b: &[u8], i: usize, max: usize) -> Option<(u16, usize)> {
    let mut n: u16 = 0;
    let mut len = 0;
    while let Some(c) = b.get(i + len).filter(|c| c.is_ascii_digit()) {
        if len == max {
            return None;
        }
        n = n * 10 + u16::from(c - b'0');
        len += 1;
    }
    (len > 0).then_some((n, len))
}

/// If `b[i..]` starts a standalone reply code (2xx, 4xx or 5xx), returns it.
fn reply_code_at(b: &[u8], i: usize) -> Option<ReplyCode> {
    let d = b.get(i..i + 3)?;
    if !matches!(d[0], b'2' | b'4' | b'5') || !d[1].is_ascii_digit() || !d[2].is_ascii_digit() {
        return None;
    }
    if i > 0 {
        let p = b[i - 1];
        if p.is_ascii_alphanumeric()
            || matches!(
                p,
                b'.' | b'_' | b'-' | b'/' | b'=' | b'+' | b'%' | b'@' | b'&' | b'?' | b'$'
            )
        {
            return None;
        }
        // `2001:db8:250:…` is an IPv6 address; `TO:550` is a reply.
        if p == b':' && i >= 2 && b[i - 2].is_ascii_hexdigit() && !b[i - 2].is_ascii_uppercase() {
            return None;
        }
    }
    match b.get(i + 3) {
        None => {}
        Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'@' | b'/' | b'%') => {
            return None;
        }
        Some(b'.' | b':' | b',') if b.get(i + 4).is_some_and(u8::is_ascii_digit) => return None,
        Some(_) => {}
    }
    let n = u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
    ReplyCode::new(n)
}

/// Finds the reply code and the enhanced status. A code directly followed
/// by a status (`550 5.1.1`, `550-5.1.1`, `550: 5.1.1`) is the surest sign of
/// the reply proper and wins; otherwise the first standalone code and the
/// first status are taken. Returns the byte offset where the reply text
/// begins (after the code and status) when a code was found.
fn find_codes(b: &[u8]) -> (Option<ReplyCode>, Option<EnhancedStatus>, Option<usize>) {
    let mut first_code: Option<(ReplyCode, usize)> = None;
    let mut first_status: Option<(EnhancedStatus, usize, usize)> = None;
    let mut i = 0;
    while i < b.len() {
        // Jump to the next byte that can start a code.
        match memchr::memchr3(b'2', b'4', b'5', &b[i..]) {
            Some(off) => i += off,
            None => break,
        }
        if let Some(code) = reply_code_at(b, i) {
            let mut j = i + 3;
            while j < b.len() && matches!(b[j], b' ' | b'-' | b':') && j < i + 6 {
                j += 1;
            }
            if let Some((status, len)) = status_at(b, j) {
                return (Some(code), Some(status), Some(j + len));
            }
            if first_code.is_none() {
                first_code = Some((code, i + 3));
            }
            i += 3;
            continue;
        }
        if let Some((status, len)) = status_at(b, i) {
            if first_status.is_none() {
                first_status = Some((status, i, i + len));
            }
            i += len;
            continue;
        }
        i += 1;
    }
    let status = first_status.map(|s| s.0);
    match (first_code, first_status) {
        (Some((code, end)), _) => (Some(code), status, Some(end)),
        // A bare status at the start (`5.2.2 <x@y>... Mailbox Full`) also
        // opens the reply proper.
        (None, Some((st, 0, end))) => (None, Some(st), Some(end)),
        (None, _) => (None, status, None),
    }
}

/// Without a reply code to anchor on, drops the usual wrapping prefixes
/// (`host X[ip] said:`, `Remote host said:`, `The response was:`).
fn strip_wrapping_prefix(s: &str) -> &str {
    const MARKERS: &[&str] = &[" said:", "response was:", "returned '", "reason:"];
    let head = &s.as_bytes()[..s.len().min(400)];
    for m in MARKERS {
        let m = m.as_bytes();
        if head.len() < m.len() {
            continue;
        }
        // Candidates by the first byte, in both cases (all markers start
        // with a space or a letter).
        let first = m[0];
        let last_start = head.len() - m.len();
        let found = memchr::memchr2_iter(
            first.to_ascii_lowercase(),
            first.to_ascii_uppercase(),
            &head[..=last_start],
        )
        .find(|&i| head[i..i + m.len()].eq_ignore_ascii_case(m));
        if let Some(pos) = found {
            let cut = pos + m.len();
            if s.is_char_boundary(cut) {
                return s[cut..].trim_start();
            }
        }
    }
    s
}

/// Final tidying of the reply text: drops Postfix's `(in reply to …)`
/// trailer, the punctuation left by the code (`550: …`, `'…'`) and
/// repeated continuation prefixes, and squeezes whitespace.
fn clean_body(body: &str, code: Option<ReplyCode>) -> Cow<'_, str> {
    let mut s = body.trim();
    if let Some(pos) = rfind_ascii_ci(s, "(in reply to ") {
        s = s[..pos].trim_end();
    }
    s = s.trim_start_matches([':', ' ', '-', '#']);
    s = s.trim_end_matches(['\'', ']']).trim_end();

    squeeze(s, code, 0)
}

/// The reply code's three digits, for spotting its continuation prefixes.
fn code_digits(code: ReplyCode) -> [u8; 3] {
    let n = code.get();
    [
        b'0' + (n / 100) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}

/// `s` with its whitespace squeezed to single spaces (trailing space
/// dropped) and every continuation prefix of `code` (`550-5.7.1 `) that
/// starts a word at or after byte `keep_before` dropped; borrowed when
/// there is nothing to do.
fn squeeze(s: &str, code: Option<ReplyCode>, keep_before: usize) -> Cow<'_, str> {
    let code_digits = code.map(code_digits);
    let b = s.as_bytes();
    // Fast path, the common case: nothing to squeeze or drop. Vectorised
    // probes (no byte-at-a-time loop): non-ASCII, control whitespace, a
    // doubled space, a `550-` continuation prefix.
    let needs_work = !b.is_ascii()
        || memchr::memchr3(b'\t', b'\r', b'\n', b).is_some()
        || double_space().find(b).is_some()
        || code_digits.is_some_and(|cd| {
            memchr::memchr_iter(b'-', b).any(|i| i >= 3 + keep_before && b[i - 3..i] == cd)
        });
    if !needs_work {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    let mut i = 0;
    while i < b.len() {
        // A repeated `550-5.1.1 ` continuation prefix inside a joined line.
        if let Some(cd) = &code_digits
            && i >= keep_before
            && (i == 0 || b[i - 1] == b' ')
            && b[i..].starts_with(cd)
            && b.get(i + 3) == Some(&b'-')
        {
            let mut j = i + 4;
            if let Some((_, len)) = status_at(b, j) {
                j += len;
            }
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            i = j;
            continue;
        }
        // `i` is always on a character boundary: every skip above ends at
        // an ASCII byte.
        let Some(ch) = s[i..].chars().next() else {
            break;
        };
        if ch.is_whitespace() {
            if !last_space && !out.is_empty() {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(ch);
            last_space = false;
        }
        i += ch.len_utf8();
    }
    while out.ends_with(' ') {
        out.pop();
    }
    Cow::Owned(out)
}

/// The reply as the phrase scanner reads it: the whole text, wrapping
/// included, but as one line with single spaces and without the reply's
/// continuation prefixes after its first code. A phrase the server wrote
/// across lines (`…is not authorized to\r\n550-5.7.1 send email
/// directly…`, or the same joined by an MTA log) then reads as written.
/// Borrowed, so free, when the text is already one clean line.
pub(crate) fn matching_text(text: &str) -> Cow<'_, str> {
    let joined = join_continuation_lines(text);
    let (code, status, end) = find_codes(joined.as_bytes());
    // The first code stays: some phrases include it.
    let keep_before = end.unwrap_or(0);
    let squeezed = match &joined {
        Cow::Borrowed(line) => squeeze(line, code, keep_before),
        Cow::Owned(line) => Cow::Owned(squeeze(line, code, keep_before).into_owned()),
    };
    let one_line = match squeezed {
        Cow::Borrowed(_) => return joined,
        Cow::Owned(line) => line,
    };
    // A multi-line reply's last line starts `550 5.7.1 ` (a space, not a
    // hyphen); once the reply was seen to continue, drop that one too.
    let continued = code.is_some_and(|c| {
        let cd = code_digits(c);
        joined
            .as_bytes()
            .windows(4)
            .skip(keep_before)
            .any(|w| w[..3] == cd && w[3] == b'-')
    });
    match (code, status) {
        (Some(c), Some(st)) if continued => {
            let last = format!(" {} {st} ", c.get());
            // `keep_before` counts in `joined`; squeezed spaces before it
            // only move the search's start a little later.
            match one_line.get(keep_before..).and_then(|t| t.find(&last)) {
                Some(at) => {
                    let at = keep_before + at;
                    let mut out = String::with_capacity(one_line.len());
                    out.push_str(&one_line[..=at]);
                    out.push_str(one_line[at + last.len()..].trim_start());
                    Cow::Owned(out)
                }
                None => Cow::Owned(one_line),
            }
        }
        _ => Cow::Owned(one_line),
    }
}

/// A searcher for two spaces in a row, built once.
fn double_space() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"  "))
}

/// Last position of an ASCII `needle` in `hay`, ignoring ASCII case.
fn rfind_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    memchr::memrchr_iter(n[0], &h[..=h.len() - n.len()])
        .find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> (String, String) {
        let p = parse(text);
        (
            p.replycode.map(|c| c.to_string()).unwrap_or_default(),
            p.status.map(|s| s.to_string()).unwrap_or_default(),
        )
    }

    #[test]
    fn plain_reply() {
        let p = parse("550 5.1.1 <kijitora@example.jp>... User Unknown");
        assert_eq!(p.replycode.unwrap().get(), 550);
        assert_eq!(p.status.unwrap().to_string(), "5.1.1");
        assert_eq!(p.text, "<kijitora@example.jp>... User Unknown");
        assert_eq!(p.smtpcommand, None);
    }

    #[test]
    fn multi_line_continuations_are_joined() {
        let p = parse(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
             550-5.1.1 double-checking the recipient's email address for typos or\n\
             550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si - gsmtp",
        );
        assert_eq!(p.replycode.unwrap().get(), 550);
        assert_eq!(p.status.unwrap().to_string(), "5.1.1");
        assert!(p.text.starts_with("The email account that you tried to reach does not exist. Please try double-checking"), "{}", p.text);
        assert!(!p.text.contains("550"), "{}", p.text);
    }

    #[test]
    fn continuation_prefixes_inside_one_line_are_dropped() {
        let p = parse(
            "550-5.7.1 [192.0.2.1] Our system has detected 550-5.7.1 an unusual rate 550 5.7.1 of mail. - gsmtp",
        );
        assert_eq!(
            p.text,
            "[192.0.2.1] Our system has detected an unusual rate 550 5.7.1 of mail. - gsmtp"
        );
    }

    #[test]
    fn matching_text_reads_a_multi_line_reply_as_one_sentence() {
        // Joined by an MTA log: the continuation prefixes stay in the line.
        let logged = "550-5.7.1 [192.0.2.1] The IP you're using is not authorized to 550-5.7.1 send email directly to our servers. For more information, go to 550 5.7.1 https://support.example/?p=x - gsmtp";
        assert_eq!(
            matching_text(logged),
            "550-5.7.1 [192.0.2.1] The IP you're using is not authorized to send email directly to our servers. For more information, go to https://support.example/?p=x - gsmtp"
        );
        // As a DSN carries it, over lines, with the wrapping kept.
        let folded = "smtp; 550-5.7.1 The IP you're using is not\r\n 550-5.7.1 authorized to send  email directly";
        assert_eq!(
            matching_text(folded),
            "smtp; 550-5.7.1 The IP you're using is not authorized to send email directly"
        );
        // A clean line is borrowed as it is; a quoted code inside a
        // one-line reply is not a continuation and stays.
        let clean = "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown";
        assert!(matches!(matching_text(clean), Cow::Borrowed(_)));
        let quoted = "550 5.7.1 Remote server said 550 5.7.1 Access denied";
        assert_eq!(matching_text(quoted), quoted);
    }

    #[test]
    fn a_reply_code_before_an_address_is_not_a_host() {
        assert_eq!(
            parse("550-5.7.1 [192.0.2.1] The IP you're using").rhost,
            None
        );
        assert_eq!(
            parse("host mx.example.net[192.0.2.1] said: 550 5.1.1 unknown")
                .rhost
                .as_deref(),
            Some("mx.example.net")
        );
    }

    #[test]
    fn dsn_prefixes() {
        for t in [
            "smtp; 550 5.1.1 User unknown",
            "SMTP;550 5.1.1 User unknown",
            "X-Postfix; 550 5.1.1 User unknown",
        ] {
            assert_eq!(codes(t), ("550".into(), "5.1.1".into()), "{t}");
            assert_eq!(parse(t).text, "User unknown");
        }
        let p = parse("X-Unix; procmail: Couldn't create \"/var/spool/mail/neko\"");
        assert_eq!(p.diagnostic_type.as_deref(), Some("x-unix"));
        assert_eq!(p.replycode, None);
    }

    #[test]
    fn postfix_wrapping() {
        let p = parse(
            "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
        );
        assert_eq!(p.rhost.as_deref(), Some("mx.example.com"));
        assert_eq!(p.smtpcommand.as_deref(), Some("RCPT"));
        assert_eq!(
            p.text,
            "<a@example.com>: Recipient address rejected: User unknown"
        );
        let p = parse(
            "host gmail-smtp-in.l.google.com[64.233.189.27] said: Unauthenticated email is not accepted (in reply to end of DATA command)",
        );
        assert_eq!(p.smtpcommand.as_deref(), Some("DATA"));
        assert_eq!(p.rhost.as_deref(), Some("gmail-smtp-in.l.google.com"));
        assert_eq!(p.text, "Unauthenticated email is not accepted");
    }

    #[test]
    fn other_wrappers() {
        let p = parse(
            "SMTP error from remote mail server after RCPT TO:<k@example.jp>: host mx.example.jp [192.0.2.153]: 550 5.1.1 <k@example.jp>... User Unknown",
        );
        assert_eq!(p.smtpcommand.as_deref(), Some("RCPT"));
        assert_eq!(p.rhost.as_deref(), Some("mx.example.jp"));
        assert_eq!(
            codes(
                "mail-inbound.example.net [192.0.2.25] did not like our RCPT TO:550 5.7.26 <a@example.net>: rejected"
            ),
            ("550".into(), "5.7.26".into())
        );
        let p = parse(
            "host smtp-in.orange.fr[193.252.22.65] refused to talk to me: 550 mwinf5c04 ME Adresse IP source bloquee",
        );
        assert_eq!(p.smtpcommand.as_deref(), Some("CONN"));
        assert_eq!(p.replycode.unwrap().get(), 550);
    }

    #[test]
    fn partial_codes_and_long_details() {
        assert_eq!(
            codes("5.2.2 <a@example.jp>... Mailbox Full"),
            ("".into(), "5.2.2".into())
        );
        assert_eq!(
            codes("550 Unknown user a@example.jp"),
            ("550".into(), "".into())
        );
        assert_eq!(
            codes("550 5.7.26 Unauthenticated email"),
            ("550".into(), "5.7.26".into())
        );
        assert_eq!(
            codes("451 4.7.650 The mail server has been rate limited"),
            ("451".into(), "4.7.650".into())
        );
        assert_eq!(
            codes("550 4.2.2 mailbox full"),
            ("550".into(), "4.2.2".into())
        );
        assert_eq!(
            codes("Sorry, I couldn't find any host named x. (#5.1.2)"),
            ("".into(), "5.1.2".into())
        );
        assert_eq!(
            codes("ERROR_CODE :550, ERROR_CODE :5.2.1 <a@b>... User Unknown"),
            ("550".into(), "5.2.1".into())
        );
    }

    #[test]
    fn numbers_that_are_not_codes() {
        // Vade's OXSUS001_403, IPs, ports, dates, times, IPv6, version-like.
        assert_eq!(
            codes("mailbox does not exist OXSUS001_403"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("connect to 192.0.2.1:25: Connection timed out"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("on 2024-05-09T23:34:45.000Z at 10:30:45"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("from 2401:2500:102:3032::1 rejected"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("temporarily deferred - 4.16.55.1; see url"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("see http://x/?ip=192.0.2.1&c=550 id=550"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("(-1915321397:308:-2147467259)"),
            ("".into(), "".into())
        );
        assert_eq!(
            codes("421 4.7.0 [TSS04] Messages from 192.0.2.25 deferred - 4.16.55.1"),
            ("421".into(), "4.7.0".into())
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in [
            "",
            " ",
            "5",
            "55",
            "550",
            "5.",
            "5.1.",
            "550-",
            "550 5",
            "\u{0}\u{ff}ü550ü5.1.1",
            "[[[]]]",
            "host [",
            "host x.y[",
            ";;;",
            "é;",
        ] {
            let _ = parse(t);
        }
        let huge = "550 5.1.1 ".to_string() + &"é".repeat(MAX_SCAN_BYTES);
        let p = parse(&huge);
        assert_eq!(p.replycode.unwrap().get(), 550);
        assert!(p.text.len() <= MAX_SCAN_BYTES);
    }
}
