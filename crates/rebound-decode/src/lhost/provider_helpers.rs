//! Helpers the decoders of mailbox providers and sending services (Google,
//! Microsoft, Yahoo, Amazon, SendGrid, Zoho, GMX and others) share: the
//! failed-recipient headers, recipient paragraphs and lines, a bounded
//! marker search, a status refined from the reply. Which of those decoders
//! exist, and in which order, is `lhost::registry`'s to say.

use crate::delivery::Delivery;
use crate::dsn::{clean_address, find_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, starts_with_ignore_case};

/// Upper bound on the lines any provider decoder looks at: notices are short,
/// and a huge text part must not make a decoder slow.
pub(crate) const MAX_LINES: usize = 2000;

/// The lower-cased `From:` header of the bounce.
pub(crate) fn from_lower(mail: &Mail) -> &str {
    &mail.from_lower
}

/// Header fields in which a reporting MTA lists the recipients that failed,
/// when its text does not: Exim's `X-Failed-Recipients` (also written by
/// Google and others) and the `X-Original-RecipientList` some gateways add.
pub(crate) const FAILED_RECIPIENT_HEADERS: &[&str] =
    &["x-failed-recipients", "x-original-recipientlist"];

/// Addresses listed in the failed-recipient header fields (comma or
/// semicolon separated), in order, each once.
pub(crate) fn failed_recipients(mail: &Mail) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let values = FAILED_RECIPIENT_HEADERS
        .iter()
        .flat_map(|name| mail.headers.get_all(name));
    for value in values {
        for part in value.split([',', ';']) {
            let a = clean_address(part);
            if looks_like_address(&a) && !out.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
                out.push(a);
            }
        }
    }
    out
}

/// Joins lines into one, trimming each and dropping empty ones.
pub(crate) fn join_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

/// The host named after `host` in texts like `host mx.example.org [192.0.2.1]`
/// or `host: mx.example.org`.
pub(crate) fn host_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let Some(pos) = lower.find(marker) else {
        return String::new();
    };
    let rest = text.get(pos + marker.len()..).unwrap_or("");
    let rest = rest.trim_start_matches([':', ' ', '\t']);
    let host: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        .collect();
    let host = host.trim_end_matches(['.', ':']);
    if host.contains('.') {
        host.to_string()
    } else {
        String::new()
    }
}

/// Whether any line of `text` starts with `prefix` (ASCII case-insensitive,
/// after leading blanks).
pub(crate) fn has_line_starting(text: &str, prefix: &str) -> bool {
    text.split_lines()
        .take(MAX_LINES)
        .any(|l| starts_with_ignore_case(l.trim_start(), prefix))
}

/// The first address in a line when the line is essentially only that
/// address (optionally bracketed, quoted or followed by a colon).
pub(crate) fn address_line(line: &str) -> Option<String> {
    let t = line.trim();
    if t.is_empty() || t.len() > 320 {
        return None;
    }
    let bare = t.trim_end_matches(':').trim();
    if bare.contains(char::is_whitespace) {
        return None;
    }
    let a = clean_address(bare);
    if looks_like_address(&a) {
        return Some(a);
    }
    None
}

/// The recipient in an original message's `To:` header, when there is
/// exactly one address in it.
pub(crate) fn original_to(mail: &Mail) -> Option<String> {
    let to = mail.original_headers().get("to")?;
    if to.matches('@').count() != 1 {
        return None;
    }
    find_address(to)
}

/// Whether the first 16 KiB of `text` contain `needle` (exact case): a
/// fixed marker of a notice is near its top, and a bounded substring search
/// keeps detectors fast on large messages.
pub(crate) fn mentions(text: &str, needle: &Needle) -> bool {
    mentions_within(text, needle, 16 * 1024)
}

/// Whether the first `limit` bytes of `text` contain `needle` (exact case).
pub(crate) fn mentions_within(text: &str, needle: &Needle, limit: usize) -> bool {
    needle.is_in(crate::text::head(text, limit))
}

/// Postfix-style recipient paragraphs of a notice: `<a@b>: text` up to the
/// next blank line, continuation lines joined. Returns (address, text).
pub(crate) fn bracketed_paragraphs(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    let mut open = false;
    for line in text.split_lines().take(MAX_LINES) {
        let t = line.trim();
        if t.is_empty() {
            open = false;
            continue;
        }
        if line.starts_with('<')
            && let Some(end) = t.find(">:")
        {
            let a = clean_address(t.get(..end + 1).unwrap_or(""));
            if looks_like_address(&a) {
                out.push((a, vec![t.get(end + 2..).unwrap_or("").trim()]));
                open = true;
                continue;
            }
        }
        if open && let Some((_, lines)) = out.last_mut() {
            lines.push(t);
        }
    }
    out.into_iter().map(|(a, l)| (a, join_lines(l))).collect()
}

/// A report's final failure with a temporary status: the MTA retried until
/// its queue lifetime ran out.
pub(crate) fn gave_up_on_temporary(d: &Delivery) -> bool {
    d.action == "failed"
        && d.status
            .is_some_and(|s| s.class() == rebound_core::StatusClass::Transient)
}

/// A specific status found in `text` of the same class replaces a generic
/// `x.0.0` one from the report; with no status at all, the text's is used.
pub(crate) fn refine_status(
    status: Option<rebound_core::EnhancedStatus>,
    text: &str,
) -> Option<rebound_core::EnhancedStatus> {
    let parsed = rebound_classify::reply::parse(text).status;
    match (status, parsed) {
        (Some(s), Some(p)) if s.is_generic() && !p.is_generic() && p.class() == s.class() => {
            Some(p)
        }
        (None, p) => p,
        (s, _) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_addresses() {
        assert_eq!(
            host_after("x host mx.example.jp [192.0.2.1]: 550", "host "),
            "mx.example.jp"
        );
        assert_eq!(
            host_after("host: smtp-in.example.fr (192.0.2.1)", "host"),
            "smtp-in.example.fr"
        );
        assert_eq!(address_line("  <a@b.example>:").unwrap(), "a@b.example");
        assert!(address_line("not an address").is_none());
        assert_eq!(join_lines(["  a ", "", " b"]), "a b");
    }
}
