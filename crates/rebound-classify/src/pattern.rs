//! Reply patterns: the reply text with its variable parts (addresses, IPs,
//! host names, ids, numbers, URL queries) replaced by placeholders, so that
//! replies of one kind from different messages group together.

use rebound_core::{EnhancedStatus, ReplyCode};

/// Longest pattern produced; longer texts are cut (on a token boundary).
const MAX_PATTERN_BYTES: usize = 512;

/// Builds the pattern of a reply: codes first, then the normalised text.
pub(crate) fn pattern(
    code: Option<ReplyCode>,
    status: Option<EnhancedStatus>,
    text: &str,
) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_PATTERN_BYTES) + 16);
    if let Some(c) = code {
        push_number(&mut out, c.get());
        out.push(' ');
    }
    if let Some(s) = status {
        push_status(&mut out, s);
        out.push(' ');
    }
    // Plain words (no digit, `@`, `=`, `.` or `:`) are copied as they are;
    // runs of them are copied in one go, only the other tokens are looked at.
    // Tokens are split on ASCII whitespace, as `split_ascii_whitespace`
    // does. Rather than walking every token, the scan jumps from one
    // variable byte to the next (eight bytes at a time) and only then looks
    // for the edges of the token holding it.
    let b = text.as_bytes();
    let mut truncated = false;
    // The end of the last variable token: everything before it is done.
    let mut pos = 0;
    while let Some(v) = next_variable(b, pos) {
        let mut start = v;
        while start > pos && BYTE_CLASS[b[start - 1] as usize] != SPACE {
            start -= 1;
        }
        let mut end = v + 1;
        while end < b.len() && BYTE_CLASS[b[end] as usize] != SPACE {
            end += 1;
        }
        // The plain tokens in between, with the whitespace between them.
        // Token edges are ASCII bytes, so the cuts are on character
        // boundaries.
        let run_start = skip_spaces(b, pos);
        if run_start < start {
            out.push_str(&text[run_start..start]);
        }
        if out.len() >= MAX_PATTERN_BYTES {
            truncated = true;
            break;
        }
        push_token(&mut out, &text[start..end]);
        out.push(' ');
        pos = end;
    }
    if !truncated {
        let run_start = skip_spaces(b, pos);
        if run_start < b.len() {
            out.push_str(text[run_start..].trim_end());
        }
    }
    if out.len() > MAX_PATTERN_BYTES {
        let mut end = MAX_PATTERN_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        truncated = true;
    }
    while out.ends_with(' ') {
        out.pop();
    }
    if truncated {
        out.push('…');
    }
    out
}

const SPACE: u8 = 1;
const VARIABLE: u8 = 2;

/// Per byte: `SPACE` for ASCII whitespace (token separators), `VARIABLE`
/// for the bytes that make a token worth a closer look (digits, `@`, `=`,
/// `.`, `:`), 0 otherwise.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_whitespace() {
            SPACE
        } else if b.is_ascii_digit() || matches!(b, b'@' | b'=' | b'.' | b':') {
            VARIABLE
        } else {
            0
        };
        c += 1;
    }
    t
};

/// The first ASCII-whitespace-free position at or after `from`.
fn skip_spaces(b: &[u8], mut from: usize) -> usize {
    while from < b.len() && BYTE_CLASS[b[from] as usize] == SPACE {
        from += 1;
    }
    from
}

/// The position of the first `VARIABLE` byte at or after `from`.
fn next_variable(b: &[u8], from: usize) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Per byte, exactly: bit 7 set when the byte is ASCII and at least
        // `c` (no carry crosses bytes: 0x7f + 0x7f < 0x100).
        let y = x & !HIGH;
        let ge = |c: u8| (y + LOW * u64::from(0x80 - c)) & HIGH;
        let in_range = |lo: u8, hi: u8| ge(lo) & !ge(hi + 1);
        let hits = !x
            & HIGH
            & (in_range(b'.', b'.')
                | in_range(b'0', b':')
                | in_range(b'=', b'=')
                | in_range(b'@', b'@'));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    (i..b.len()).find(|&k| BYTE_CLASS[b[k] as usize] == VARIABLE)
}

/// Appends `5.1.1` without going through `fmt` (this is the hot path).
pub(crate) fn push_status(out: &mut String, s: EnhancedStatus) {
    push_number(out, u16::from(s.class_digit()));
    out.push('.');
    push_number(out, s.subject());
    out.push('.');
    push_number(out, s.detail());
}

/// Appends a number without going through `fmt` (this is the hot path).
fn push_number(out: &mut String, n: u16) {
    out.push_str(itoa::Buffer::new().format(n));
}

fn is_edge_punct(c: u8) -> bool {
    matches!(
        c,
        b'<' | b'>'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'\''
            | b'"'
            | b','
            | b';'
            | b':'
            | b'.'
            | b'!'
            | b'?'
    )
}

/// `s` without the edge punctuation on both sides (all ASCII, so the cut
/// stays on character boundaries).
fn trim_edge_punct(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_edge_punct(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !is_edge_punct(c))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn push_token(out: &mut String, token: &str) {
    let core = trim_edge_punct(token);
    if core.is_empty() {
        out.push_str(token);
        return;
    }
    // Keep the punctuation around the core as it was. `core` is a
    // subslice of `token`, so its offset is a pointer difference.
    let start = core.as_ptr() as usize - token.as_ptr() as usize;
    out.push_str(&token[..start]);
    push_core(out, core);
    out.push_str(&token[start + core.len()..]);
}

fn push_core(out: &mut String, core: &str) {
    // Most words are plain letters: keep them without further checks.
    if core
        .bytes()
        .all(|c| c.is_ascii_alphabetic() || c == b'-' || c == b'\'')
    {
        out.push_str(core);
        return;
    }
    let lower_starts = |p: &str| {
        core.len() >= p.len() && core.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    };
    if lower_starts("http://") || lower_starts("https://") {
        // Short tokens: a plain scan beats a `memchr` call.
        let (path, query) = match core.bytes().position(|c| c == b'?') {
            Some(q) => (&core[..q], true),
            None => (core, false),
        };
        push_url_path(out, path);
        if query {
            out.push_str("?<query>");
        }
        return;
    }
    if core.bytes().any(|c| c == b'@') {
        out.push_str("<email>");
        return;
    }
    if let Some(eq) = core.bytes().position(|c| c == b'=')
        && let (key, value) = (&core[..eq], &core[eq + 1..])
        && !key.is_empty()
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        out.push_str(key);
        out.push('=');
        if !value.is_empty() {
            push_core(out, trim_edge_punct(value));
        }
        return;
    }
    out.push_str(classify_word(core).unwrap_or(core));
}

/// A URL up to its query, with the path segments that name the sender
/// (`https://www.spamhaus.org/query/ip/192.0.2.1`, a lookup page for an
/// address) as placeholders: the same refusal for another IP is the same
/// pattern. Other segments (document paths, codes) stay.
fn push_url_path(out: &mut String, url: &str) {
    let host_end = url.find("://").map_or(0, |s| s + 3);
    let path_start = url[host_end..]
        .find('/')
        .map_or(url.len(), |p| host_end + p);
    out.push_str(&url[..path_start]);
    for (i, segment) in url[path_start..].split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if segment.contains('@') {
            out.push_str("<email>");
        } else if classify_word(segment) == Some("<ip>") {
            out.push_str("<ip>");
        } else {
            out.push_str(segment);
        }
    }
}

/// The placeholder for a variable word, or `None` to keep the word.
fn classify_word(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    let (mut digits, mut letters, mut dots, mut colons) = (0, 0, 0, 0);
    for &c in b {
        match c {
            b'0'..=b'9' => digits += 1,
            b'a'..=b'z' | b'A'..=b'Z' => letters += 1,
            b'.' => dots += 1,
            b':' => colons += 1,
            _ => {}
        }
    }
    // Plain words, the bulk of any reply, stay as they are.
    if digits == 0 && dots == 0 && colons == 0 {
        return None;
    }

    if digits == b.len() {
        return Some("<num>");
    }
    // Enhanced status codes stay: they are the constant part.
    if letters == 0 && dots == 2 && EnhancedStatus::parse(w).is_some() {
        return None;
    }
    if dots == 3
        && letters == 0
        && b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b':' | b'#'))
    {
        return Some("<ip>");
    }
    if colons >= 2
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.'))
    {
        // IPv6, or a time such as 23:34:45.
        return Some(if letters == 0 && dots == 0 && colons == 2 {
            "<num>"
        } else {
            "<ip>"
        });
    }
    if letters == 0
        && digits > 0
        && b.iter()
            .all(|c| c.is_ascii_punctuation() || c.is_ascii_digit())
    {
        // Dates (2024-06-11), numbers with separators, times.
        return Some("<num>");
    }
    if dots >= 1 && looks_like_host(w) {
        return Some("<host>");
    }
    if looks_like_id(b, digits, letters) {
        return Some("<id>");
    }
    None
}

fn looks_like_host(w: &str) -> bool {
    let b = w.as_bytes();
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
    {
        return false;
    }
    // The last label (all of `w` when it has no dot).
    let tld = match b.iter().rposition(|&c| c == b'.') {
        Some(dot) => &b[dot + 1..],
        None => b,
    };
    // Every label non-empty: no leading, trailing or doubled dot.
    let labels_ok = !b.is_empty()
        && b[0] != b'.'
        && b[b.len() - 1] != b'.'
        && !b.windows(2).any(|p| p == b"..");
    (2..=6).contains(&tld.len()) && tld.iter().all(|c| c.is_ascii_alphabetic()) && labels_ok
}

/// Message ids, queue ids, hashes, tokens: long words mixing digits with
/// letters. Short mixed words (`TSS04`, `S3150`, `IB508`) and
/// `WORD123_456` codes (`OFR006_102`) are provider codes and stay.
fn looks_like_id(b: &[u8], digits: usize, letters: usize) -> bool {
    if digits < 2 || b.len() < 8 {
        return false;
    }
    let is_provider_code = b.contains(&b'_')
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
    if is_provider_code {
        return false;
    }
    letters > 0
        || b.iter()
            .any(|c| matches!(c, b'-' | b'.' | b'+' | b'/' | b'='))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward token walk the fast scan replaced.
    fn reference(text: &str) -> String {
        let mut out = String::new();
        let base = text.as_ptr() as usize;
        let mut run_start: Option<usize> = None;
        let mut truncated = false;
        for token in text.split_ascii_whitespace() {
            let start = token.as_ptr() as usize - base;
            let is_plain = !token
                .bytes()
                .any(|c| c.is_ascii_digit() || matches!(c, b'@' | b'=' | b'.' | b':'));
            if is_plain {
                run_start.get_or_insert(start);
                continue;
            }
            if let Some(rs) = run_start.take() {
                out.push_str(&text[rs..start]);
            }
            if out.len() >= MAX_PATTERN_BYTES {
                truncated = true;
                break;
            }
            push_token(&mut out, token);
            out.push(' ');
        }
        if let Some(rs) = run_start {
            out.push_str(text[rs..].trim_end());
        }
        if out.len() > MAX_PATTERN_BYTES {
            let mut end = MAX_PATTERN_BYTES;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            truncated = true;
        }
        while out.ends_with(' ') {
            out.pop();
        }
        if truncated {
            out.push('…');
        }
        out
    }

    #[test]
    fn fast_scan_matches_the_token_walk() {
        let mut texts: Vec<String> = [
            "",
            " ",
            "plain words only",
            "  leading and trailing  ",
            "a\tb\x0cc\nd 1 e",
            "x@y",
            "héllo wörld 192.0.2.1 ü@ü",
            "abcdefg/ 1234567 abcdefgh.abcdefgh abc=def ghi:jkl @@@",
            "ends with number 7",
            "7 starts with number",
            "?????????.??????? ~~~~~~~~@",
            "\u{7f}\u{80}\u{ff} 9",
            "https://x.example/ip/192.0.2.1/a@b?q=1 http:// https://h",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.push("word ".repeat(200) + "1.2.3.4 tail");
        texts.push("1.2.3.4 ".repeat(100));
        texts.push("é".repeat(300) + " 5");
        // Every printable ASCII byte and a few others at every offset.
        for c in (0x09u8..0x7f).chain([0xc3]) {
            for off in 0..10 {
                let mut t = "abcdefghij".to_string();
                if c.is_ascii() {
                    t.insert(off, c as char);
                } else {
                    t.insert(off, 'é');
                }
                texts.push(t.clone() + " " + &t);
            }
        }
        for t in &texts {
            assert_eq!(pattern(None, None, t), reference(t), "{t:?}");
        }
    }

    fn p(text: &str) -> String {
        pattern(None, None, text)
    }

    #[test]
    fn variable_parts_become_placeholders() {
        assert_eq!(
            p("<kijitora@example.jp>... User Unknown"),
            "<<email>>... User Unknown"
        );
        assert_eq!(
            p(
                "Messages from 192.0.2.25 temporarily deferred - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes?x=1"
            ),
            "Messages from <ip> temporarily deferred - <ip>; see https://postmaster.yahooinc.com/error-codes?<query>"
        );
        assert_eq!(
            p("[TYCP286MB3363.JPNP286.PROD.OUTLOOK.COM 2024-06-11T09:04:02.679Z 08DC8850F12E1502]"),
            "[<host> <id> <id>]"
        );
        assert_eq!(p("z2si1584129pfn.61 - gsmtp"), "<id> - gsmtp");
        assert_eq!(
            p("OFR006_102 [102] TSS04 S3150 id=20025-09"),
            "OFR006_102 [<num>] TSS04 S3150 id=<num>"
        );
        assert_eq!(p("from 2001:db8::1 at 23:34:45"), "from <ip> at <num>");
        // A lookup page for the sending IP is one pattern for every IP; a
        // document's path stays.
        assert_eq!(
            p(
                "see https://www.spamhaus.org/query/ip/192.0.2.1 and https://example.com/docs/DOC-1369#550"
            ),
            "see https://www.spamhaus.org/query/ip/<ip> and https://example.com/docs/DOC-1369#550"
        );
        assert_eq!(
            p("https://example.com/check/a@b.example/?ip=1"),
            "https://example.com/check/<email>/?<query>"
        );
    }

    #[test]
    fn same_kind_gives_same_pattern() {
        let a = "host mx.example.com said: <a@example.com>: blocked 192.0.2.1 id=abc123def456";
        let b = "host mx.other.org said: <zz@other.org>: blocked 203.0.113.9 id=987xyz654qqq";
        assert_eq!(p(a), p(b));
    }
}
