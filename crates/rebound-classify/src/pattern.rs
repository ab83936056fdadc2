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
    // does, in one table-driven pass over the bytes.
    let b = text.as_bytes();
    let mut run_start: Option<usize> = None;
    let mut truncated = false;
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && BYTE_CLASS[b[i] as usize] == SPACE {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let start = i;
        let mut seen = 0u8;
        while i < b.len() {
            let class = BYTE_CLASS[b[i] as usize];
            if class == SPACE {
                break;
            }
            seen |= class;
            i += 1;
        }
        if seen & VARIABLE == 0 {
            run_start.get_or_insert(start);
            continue;
        }
        // Token boundaries are ASCII bytes, so these cuts are on character
        // boundaries.
        let token = &text[start..i];
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
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(d as char);
    }
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
        match core.find('?') {
            Some(q) => {
                out.push_str(&core[..q]);
                out.push_str("?<query>");
            }
            None => out.push_str(core),
        }
        return;
    }
    if memchr::memchr(b'@', core.as_bytes()).is_some() {
        out.push_str("<email>");
        return;
    }
    if let Some(eq) = memchr::memchr(b'=', core.as_bytes())
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
    if letters == 0 && dots == 2 && w.parse::<EnhancedStatus>().is_ok() {
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
    let Some(tld) = w.rsplit('.').next() else {
        return false;
    };
    (2..=6).contains(&tld.len())
        && tld.bytes().all(|c| c.is_ascii_alphabetic())
        && w.split('.').all(|label| !label.is_empty())
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
    }

    #[test]
    fn same_kind_gives_same_pattern() {
        let a = "host mx.example.com said: <a@example.com>: blocked 192.0.2.1 id=abc123def456";
        let b = "host mx.other.org said: <zz@other.org>: blocked 203.0.113.9 id=987xyz654qqq";
        assert_eq!(p(a), p(b));
    }
}
