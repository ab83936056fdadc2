//! RFC 3464 delivery-status fields: the per-message block and one block per
//! recipient. Tolerant of what real MTAs write: missing blank lines between
//! blocks, fields in any case, continuation lines, `rfc822;` prefixes
//! with or without a space.

use crate::mail::Headers;
use crate::text::SplitLines;

/// A parsed `message/delivery-status` body.
#[derive(Debug, Clone, Default)]
pub struct DeliveryStatus {
    /// Per-message fields (`Reporting-MTA`, `Arrival-Date`, `X-Postfix-Sender`, …).
    pub message: Headers,
    /// One field block per recipient, in order.
    pub recipients: Vec<Headers>,
}

impl DeliveryStatus {
    /// Parses the report text. Recipient blocks start at a `Final-Recipient`
    /// or `Original-Recipient` field even without a blank line before it.
    pub fn parse(text: &str) -> DeliveryStatus {
        let mut out = DeliveryStatus::default();
        let mut block = Headers::default();
        // The field being read (name lower-cased, value so far), in buffers
        // reused from field to field: a report has a dozen fields, and
        // allocating three strings for each was most of this parser's time.
        let mut name = String::with_capacity(32);
        let mut value = String::with_capacity(256);
        let mut pending = false;
        // Whether the previous field of this block was Original-Recipient.
        let mut after_original = false;
        let mut seen_recipient_in_block = false;
        let flush_field = |block: &mut Headers, pending: &mut bool, name: &str, value: &str| {
            if std::mem::take(pending) {
                if block.is_empty() {
                    // Room for a block, taken when its first field arrives
                    // (a block is a few fields of a line each), so the end
                    // of the report allocates nothing.
                    block.reserve(512, 8);
                }
                block.push(name, value);
            }
        };
        let finish_block = |block: &mut Headers, out: &mut DeliveryStatus, seen: &mut bool| {
            if block.is_empty() {
                return;
            }
            let b = std::mem::take(block);
            if *seen {
                out.recipients.push(b);
            } else if out.recipients.is_empty() && out.message.is_empty() {
                out.message = b;
            } else {
                // A block without a recipient after the first: extra
                // per-message fields some MTAs write late.
                for (n, v) in b.iter() {
                    out.message.push(n, v);
                }
            }
            *seen = false;
        };
        for line in text.split_lines() {
            if line.trim().is_empty() {
                flush_field(&mut block, &mut pending, &name, &value);
                finish_block(&mut block, &mut out, &mut seen_recipient_in_block);
                after_original = false;
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if pending {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            let Some((field, rest)) = line.split_once(':') else {
                continue;
            };
            if field.is_empty() || field.len() > 64 || field.contains(' ') {
                continue;
            }
            flush_field(&mut block, &mut pending, &name, &value);
            name.clear();
            name.push_str(field);
            name.make_ascii_lowercase();
            let starts_recipient = name == "final-recipient" || name == "original-recipient";
            if starts_recipient
                && seen_recipient_in_block
                && block.contains(&name)
                && !after_original
            {
                // A new recipient without a separating blank line.
                finish_block(&mut block, &mut out, &mut seen_recipient_in_block);
            } else if starts_recipient && !seen_recipient_in_block && !block.is_empty() {
                // Per-message fields directly followed by a recipient.
                let has_message_fields = block
                    .iter()
                    .any(|(n, _)| n != "final-recipient" && n != "original-recipient");
                if has_message_fields && !block.contains("action") && !block.contains("status") {
                    finish_block(&mut block, &mut out, &mut seen_recipient_in_block);
                }
            }
            if starts_recipient {
                seen_recipient_in_block = true;
            }
            after_original = name == "original-recipient";
            value.clear();
            value.push_str(rest.trim());
            pending = true;
        }
        flush_field(&mut block, &mut pending, &name, &value);
        finish_block(&mut block, &mut out, &mut seen_recipient_in_block);
        out
    }
}

/// Splits a typed DSN field (`rfc822; user@example.org`, `smtp; 550 ...`,
/// `dns;mx.example.org`) into its type (upper-cased) and value.
pub fn typed_value(field: &str) -> (String, &str) {
    match split_type(field) {
        Some((kind, value)) => (kind.trim().to_ascii_uppercase(), value.trim()),
        None => (String::new(), field.trim()),
    }
}

/// The value of a typed DSN field without its type (the whole field, trimmed,
/// when it has none).
fn typed_value_str(field: &str) -> &str {
    match split_type(field) {
        Some((_, value)) => value.trim(),
        None => field.trim(),
    }
}

fn split_type(field: &str) -> Option<(&str, &str)> {
    field.split_once(';').filter(|(kind, _)| {
        !kind.is_empty()
            && kind.len() <= 16
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Cleans an address as DSNs and NDRs write it: strips `<>` (also a stray
/// one), quotes around the whole address, trailing punctuation, a
/// `rfc822;` prefix, and unwraps the forms Exchange and X.400 gateways
/// write (`SMTP:user@d`, `dda:SMTP=user@d`, `IMCEASMTP-user+40d@host`).
pub fn clean_address(raw: &str) -> String {
    let v = clean_address_str(raw);
    match imcea_address(v) {
        Some(decoded) => decoded,
        None => v.to_string(),
    }
}

/// [`clean_address`], borrowed from `raw` (without the IMCEA decoding,
/// which needs a copy).
pub fn clean_address_str(raw: &str) -> &str {
    let v = typed_value_str(raw);
    let mut v = v.trim();
    if let (Some(start), Some(end)) = (v.find('<'), v.rfind('>'))
        && start < end
    {
        v = &v[start + 1..end];
    } else if v.contains(char::is_whitespace) && !v.starts_with('"') {
        // An address followed (or preceded) by a comment or a name:
        // `john@example.com (John Smith)`.
        if let Some(word) = v.split_whitespace().find(|w| w.contains('@')) {
            v = word;
        }
    }
    let v = v
        .trim()
        .trim_matches(|c: char| matches!(c, '\'' | ',' | ';' | ':' | '.' | '(' | ')' | '<' | '>'))
        .trim();
    let v = strip_whole_quotes(v)
        .trim_matches(|c: char| matches!(c, ',' | ';' | '.' | '<' | '>'))
        .trim();
    strip_gateway_prefix(v)
}

/// `"a@b.example"` -> `a@b.example`, but `"john smith"@b.example` (a
/// quoted local part, RFC 5321) stays as it is.
fn strip_whole_quotes(v: &str) -> &str {
    let inner = v.trim_matches('"');
    if inner.len() == v.len() {
        return v;
    }
    // Quotes only at the ends (or an unbalanced one): they wrap the address.
    if v.starts_with('"') && v.ends_with('"') && v.len() >= 2 && !v[1..v.len() - 1].contains('"')
        || !inner.contains('"') && (v.starts_with('"') != v.ends_with('"'))
    {
        return inner.trim();
    }
    v
}

/// The SMTP address inside an Exchange or X.400 gateway's address type:
/// `SMTP:user@d` (Exchange's proxy address form) and `dda:SMTP=user@d` (a
/// domain-defined attribute naming an SMTP address), and a link's
/// `mailto:`.
fn strip_gateway_prefix(v: &str) -> &str {
    for prefix in ["smtp:", "dda:smtp=", "dda.value=", "mailto:"] {
        if v.len() > prefix.len()
            && v.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        {
            return v[prefix.len()..].trim();
        }
    }
    v
}

/// The SMTP address an Exchange IMCEA encapsulation carries
/// (`IMCEASMTP-john+2Esmith+40example+2Ecom@exchange.example`: `+XX` is
/// the hex code of a byte, so `+40` is `@` and `+2E` is `.`), if `v` is one.
fn imcea_address(v: &str) -> Option<String> {
    const PREFIX: &str = "imceasmtp-";
    if v.len() <= PREFIX.len()
        || !v.as_bytes()[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes())
    {
        return None;
    }
    let encoded = &v[PREFIX.len()..v.rfind('@')?];
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'+'
            && let Some(hex) = encoded.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8(out).ok()?;
    looks_like_address(&decoded).then_some(decoded)
}

/// Whether a string looks like an email address (local@domain with a dot-less
/// domain allowed, no spaces except inside a quoted local part).
pub fn looks_like_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let quoted_local = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    !local.is_empty()
        && !domain.is_empty()
        && (quoted_local || !local.contains(char::is_whitespace))
        && !domain.contains('@')
        && domain.bytes().all(|b| {
            // Bytes above ASCII: an internationalised domain (RFC 6531).
            b.is_ascii_alphanumeric()
                || b >= 0x80
                || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        })
}

/// Whether an address's domain is an internal routing name rather than a
/// mail domain: a host name without a dot (Sun/Oracle Messaging Server's
/// `ims-ms-daemon`, `sims-ms-daemon`, a bare local host name) and not an
/// address literal.
pub fn is_internal_route(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, domain)| !domain.contains('.') && !domain.starts_with('['))
}

/// The first email address in `s` (bare, `<...>`-bracketed or quoted).
pub fn find_address(s: &str) -> Option<String> {
    if let (Some(start), Some(end)) = (s.find('<'), s.find('>'))
        && start < end
    {
        let inner = clean_address_str(&s[start + 1..end]);
        if looks_like_address(inner) {
            return Some(clean_address(inner));
        }
    }
    // Only a word with an `@` can be one.
    if !s.contains('@') {
        return None;
    }
    s.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"'))
        .map(clean_address_str)
        .find(|w| looks_like_address(w))
        .map(clean_address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses() {
        assert_eq!(find_address("to <a@b.example>:").unwrap(), "a@b.example");
        assert_eq!(
            find_address("user a@b.example, said").unwrap(),
            "a@b.example"
        );
        assert!(find_address("no address here").is_none());
    }

    #[test]
    fn splits_message_and_recipient_blocks() {
        let ds = DeliveryStatus::parse(
            "Reporting-MTA: dns; mx.example.org\nArrival-Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n\
Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1\n  no such user\n\n\
Final-Recipient: rfc822;b@example.net\nAction: delayed\nStatus: 4.4.1\n",
        );
        assert_eq!(ds.message.value("reporting-mta"), "dns; mx.example.org");
        assert_eq!(ds.recipients.len(), 2);
        assert_eq!(
            ds.recipients[0].value("diagnostic-code"),
            "smtp; 550 5.1.1 no such user"
        );
        assert_eq!(
            clean_address(ds.recipients[1].value("final-recipient")),
            "b@example.net"
        );
    }

    #[test]
    fn recipients_without_blank_lines_are_still_separated() {
        let ds = DeliveryStatus::parse(
            "Reporting-MTA: dns; mx\nFinal-Recipient: rfc822; a@x.example\nStatus: 5.0.0\n\
Final-Recipient: rfc822; b@x.example\nStatus: 5.0.0\n",
        );
        assert_eq!(ds.recipients.len(), 2, "{ds:?}");
        assert_eq!(ds.message.value("reporting-mta"), "dns; mx");
    }

    #[test]
    fn addresses_are_cleaned() {
        assert_eq!(clean_address("rfc822; <A@Example.org>"), "A@Example.org");
        assert_eq!(clean_address("\"a@b.example\""), "a@b.example");
        assert!(looks_like_address("a@b"));
        assert!(looks_like_address("jürgen@bücher.example"));
        assert_eq!(clean_address("<mailto:a@b.example>"), "a@b.example");
        assert_eq!(clean_address("rfc822;SMTP:a@b.example"), "a@b.example");
        assert_eq!(
            clean_address("IMCEASMTP-a+2Eb+40c+2Eexample@x.example"),
            "a.b@c.example"
        );
        assert_eq!(
            clean_address("\"john smith\"@b.example"),
            "\"john smith\"@b.example"
        );
        assert_eq!(clean_address("a@b.example>"), "a@b.example");
        assert_eq!(
            clean_address("rfc822; john@b.example (John Smith)"),
            "john@b.example"
        );
        assert!(!looks_like_address("a b@c"));
    }
}
