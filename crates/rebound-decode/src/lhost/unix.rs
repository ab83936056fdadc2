//! Unix MTAs that write their own notices: Sendmail, Postfix, Exim, qmail,
//! Courier, OpenSMTPD and kin, and the unknown-MTA shapes.
//!
//! Besides the group's registry lists, this module holds the small text
//! helpers the group's decoders share: finding a reply code, an enhanced
//! status or the failed SMTP command in a diagnostic, and joining the lines
//! of a multi-line SMTP reply.

use super::Decoder;
use rebound_core::{EnhancedStatus, ReplyCode};

use super::{
    apachejames, courier, dragonfly, exim, fml, imailserver, messagingserver, opensmtpd, postfix,
    qmail, sendmail, v5sendmail, x1, x2, x3, x4, x5, x6,
};

/// Decoders of this group tried before the generic RFC 3464 fallback.
pub static FIRST: &[&dyn Decoder] = &[
    &postfix::Postfix,
    &sendmail::Sendmail,
    &exim::Exim,
    &qmail::Qmail,
    &dragonfly::DragonFly,
    &opensmtpd::OpenSmtpd,
    &v5sendmail::V5sendmail,
    &courier::Courier,
    &messagingserver::MessagingServer,
    &imailserver::IMailServer,
    &fml::Fml,
    &apachejames::ApacheJames,
];

/// Decoders of this group tried after the RFC 3464 fallback (shapes too
/// loose to be trusted over a standard report).
pub static LAST: &[&dyn Decoder] = &[&x1::X1, &x2::X2, &x3::X3, &x4::X4, &x5::X5, &x6::X6];

/// At most this many recipients are read from one message: the decoders
/// match each recipient against the notice's text, and a real bounce never
/// lists more.
pub(crate) const MAX_RECIPIENTS: usize = 1000;

/// The first SMTP reply code (4xx or 5xx) standing as a word of `text`:
/// preceded by the start, a blank, `:`, `(` or `[`, and followed by the end,
/// a blank or `-`. Numbers inside addresses, ports and long numbers never
/// match.
pub(crate) fn reply_code_in(text: &str) -> Option<ReplyCode> {
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
pub(crate) fn leading_reply_code(text: &str) -> Option<ReplyCode> {
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

/// The first enhanced status code (`5.1.1`, `4.7.26`) in `text`, not part
/// of a longer dotted number (an IP address or a version).
pub(crate) fn status_in(text: &str) -> Option<EnhancedStatus> {
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

pub(crate) use super::common::command_in;

/// Joins the lines of a (possibly multi-line) SMTP reply into one line:
/// `550-5.1.1 a` / `550 5.1.1 b` becomes `550 5.1.1 a b`. Lines without a
/// code prefix are appended as they are.
pub(crate) fn join_reply<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
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

/// At most the first `n` bytes of `text`, cut at a character boundary: for
/// marker checks that must stay cheap on large messages.
pub(crate) fn head(text: &str, n: usize) -> &str {
    if text.len() <= n {
        return text;
    }
    let mut end = n;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// A delivery from one RFC 3464 recipient block, its reply unfolded into
/// one line. The alias and anything the notice's text adds are the caller's.
pub(crate) fn delivery_from_block(
    block: &crate::mail::Headers,
    recipient: String,
    lhost: &str,
    date: &str,
) -> super::Delivery {
    use crate::dsn::typed_value;
    let (diagnostictype, diag) = typed_value(block.value("diagnostic-code"));
    super::Delivery {
        recipient,
        action: block.value("action").trim().to_ascii_lowercase(),
        status: super::common::first_status(block.value("status")),
        diagnostic: unfold_reply(diag),
        diagnostictype,
        rhost: typed_value(block.value("remote-mta")).1.to_string(),
        lhost: lhost.to_string(),
        date: block.get("last-attempt-date").unwrap_or(date).to_string(),
        ..super::Delivery::default()
    }
}

/// Removes the code prefixes a folded multi-line reply keeps inside its
/// text: `550-5.7.1 a 550-5.7.1 b 550 5.7.1 c` becomes `550 5.7.1 a b c`.
/// Text that does not start with a reply code is only squeezed.
pub(crate) fn unfold_reply(text: &str) -> String {
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
        return squeeze(text);
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

/// Collapses runs of whitespace into single spaces.
pub(crate) fn squeeze(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The status to keep when a report states one and the diagnostic text
/// holds another: the text's when the report's is a catch-all (`x.0.0`) of
/// the same class, the report's otherwise.
pub(crate) fn better_status(
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(squeeze("  a \t b\n\nc  "), "a b c");
    }
}
