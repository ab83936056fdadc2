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
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len().min(MAX_PATTERN_BYTES) + 16);
    if let Some(c) = code {
        let _ = write!(out, "{c} ");
    }
    if let Some(s) = status {
        let _ = write!(out, "{s} ");
    }
    for token in text.split_ascii_whitespace() {
        if out.len() >= MAX_PATTERN_BYTES {
            out.push('…');
            break;
        }
        push_token(&mut out, token);
        out.push(' ');
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

const EDGE_PUNCT: &[char] = &[
    '<', '>', '(', ')', '[', ']', '{', '}', '\'', '"', ',', ';', ':', '.', '!', '?',
];

fn push_token(out: &mut String, token: &str) {
    let core = token.trim_matches(EDGE_PUNCT);
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
    if core.contains('@') {
        out.push_str("<email>");
        return;
    }
    if let Some((key, value)) = core.split_once('=')
        && !key.is_empty()
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        out.push_str(key);
        out.push('=');
        if !value.is_empty() {
            push_core(out, value.trim_matches(EDGE_PUNCT));
        }
        return;
    }
    out.push_str(classify_word(core).unwrap_or(core));
}

/// The placeholder for a variable word, or `None` to keep the word.
fn classify_word(w: &str) -> Option<&'static str> {
    let b = w.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    let dots = b.iter().filter(|c| **c == b'.').count();
    let colons = b.iter().filter(|c| **c == b':').count();

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
