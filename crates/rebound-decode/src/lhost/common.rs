//! Helpers shared by format decoders: cutting the text at the returned
//! message, finding addresses, reading DSN reports into deliveries.

use super::Delivery;
use crate::dsn::{
    DeliveryStatus, clean_address, clean_address_str, is_internal_route, looks_like_address,
    typed_value,
};
use crate::mail::Mail;

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

/// Case-insensitive (ASCII) `starts_with`.
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
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

/// Reads every recipient block of the mail's delivery-status report into a
/// delivery. Returns an empty list when there is no report or no recipient.
pub fn deliveries_from_report(mail: &Mail) -> Vec<Delivery> {
    let Some(report) = mail.report("delivery-status") else {
        return Vec::new();
    };
    deliveries_from_status(&DeliveryStatus::parse(report))
}

/// Turns parsed DSN blocks into deliveries, one per recipient.
pub fn deliveries_from_status(ds: &DeliveryStatus) -> Vec<Delivery> {
    let lhost = typed_value(ds.message.value("reporting-mta")).1.to_string();
    let message_date = ds
        .message
        .get("arrival-date")
        .or_else(|| ds.message.get("last-attempt-date"))
        .unwrap_or("");
    let mut out = Vec::new();
    for block in &ds.recipients {
        let final_rcpt = clean_address(block.value("final-recipient"));
        let original_rcpt = clean_address(block.value("original-recipient"));
        let usable_original =
            looks_like_address(&original_rcpt) && !is_internal_route(&original_rcpt);
        // A source route (`@relay:user@host`, RFC 5321's obsolete form) or
        // an internal routing name (`user@ims-ms-daemon`) is how the MTA
        // reached the mailbox, not the address the sender used.
        let routed = final_rcpt.starts_with('@') || is_internal_route(&final_rcpt);
        let recipient = if looks_like_address(&final_rcpt) && !(routed && usable_original) {
            final_rcpt
        } else if looks_like_address(&original_rcpt) {
            original_rcpt.clone()
        } else {
            // Neither field names a mailbox: the address after aliasing
            // that Sendmail and others add is the last one left.
            let actual = clean_address(block.value("x-actual-recipient"));
            if !looks_like_address(&actual) {
                continue;
            }
            actual
        };
        let (diagnostictype, diagnostic) = typed_value(block.value("diagnostic-code"));
        let alias = if !original_rcpt.is_empty() && !original_rcpt.eq_ignore_ascii_case(&recipient)
        {
            original_rcpt
        } else {
            String::new()
        };
        let status_field = block.value("status");
        let mut status = first_status(status_field);
        // The status the remote server itself wrote is first-hand; the
        // Status field is the reporting MTA's summary of it, sometimes a
        // catch-all (`5.0.0` over `550 #5.1.0 Address rejected`), sometimes
        // a default that contradicts it (`5.1.1` over `552 5.2.2 Over
        // quota`). A specific status of the same class in the reply wins,
        // as in the Sendmail decoder.
        if let (Some(s), Some(inner)) = (status, status_in(diagnostic))
            && !inner.is_generic()
            && inner.class_digit() == s.class_digit()
        {
            status = Some(inner);
        }
        // The comment of the Status field is the reporting MTA's own
        // explanation (`4.0.0 (host name lookup failure)`, PowerMTA's
        // `5.2.1 (mailbox disabled, not accepting messages)`): without a
        // Diagnostic-Code it is the only one; with one it is kept after the
        // remote reply (which must stay first, where its reply code is
        // read), so the classifier weighs both, as Sisimai does.
        let comment = status_comment(status_field);
        let diagnostic = if diagnostic.is_empty() {
            comment.to_string()
        } else if comment.is_empty() || contains_ignore_case(diagnostic, comment) {
            diagnostic.to_string()
        } else {
            format!("{diagnostic} ({comment})")
        };
        out.push(Delivery {
            recipient,
            alias,
            action: normalise_action(block.value("action")),
            status,
            replycode: None,
            diagnostic,
            diagnostictype,
            command: String::new(),
            rhost: typed_value(block.value("remote-mta")).1.to_string(),
            lhost: lhost.clone(),
            date: block
                .get("last-attempt-date")
                .unwrap_or(message_date)
                .to_string(),
            reason: None,
            feedbacktype: String::new(),
            standin: None,
            addresser: String::new(),
        });
    }
    out
}

/// When a format decoder gave several recipients one and the same reply
/// (its notice has one explanation for all) but the message also carries
/// a delivery-status report with a reply per recipient, each recipient
/// takes its own from the report: a notice's shared words must not stand
/// for every recipient's refusal. The report's status fills a missing one.
pub fn separate_shared_replies(mail: &Mail, deliveries: &mut [Delivery]) {
    let [first, rest @ ..] = deliveries else {
        return;
    };
    if rest.is_empty() || rest.iter().any(|d| d.diagnostic != first.diagnostic) {
        return;
    }
    let report = deliveries_from_report(mail);
    if report.len() < 2 {
        return;
    }
    // A report that repeats one reply for all (often cut shorter than the
    // notice's) has nothing of its own to give.
    let distinct = report.iter().any(|r| r.diagnostic != report[0].diagnostic);
    for d in deliveries.iter_mut() {
        let Some(own) = report
            .iter()
            .find(|r| r.recipient.eq_ignore_ascii_case(&d.recipient))
        else {
            continue;
        };
        if distinct && !own.diagnostic.is_empty() && own.diagnostic != d.diagnostic {
            d.diagnostic = own.diagnostic.clone();
            d.replycode = None;
            d.status = own.status.or(status_in(&own.diagnostic));
        } else if d.status.is_none() {
            d.status = own.status;
        }
    }
}

/// The parenthesised comment after a `Status:` value, if any.
pub fn status_comment(value: &str) -> &str {
    match (value.find('('), value.rfind(')')) {
        (Some(start), Some(end)) if start < end => value.get(start + 1..end).unwrap_or("").trim(),
        _ => "",
    }
}

/// A DSN `Action:` value in lower case, with the variants some MTAs write
/// (`deliverable`, `failure`) mapped onto RFC 3464's words.
pub fn normalise_action(value: &str) -> String {
    let v = value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase();
    match v.as_str() {
        "deliverable" => "delivered".to_string(),
        "failure" | "fail" => "failed".to_string(),
        _ => v,
    }
}

/// The enhanced status at the start of a `Status:` value (which may carry a
/// comment: `5.1.1 (user unknown)`).
pub fn first_status(value: &str) -> Option<rebound_core::EnhancedStatus> {
    value
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
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

/// Collapses every run of whitespace into one space and trims the ends.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first enhanced status code (`5.1.1`, `#5.1.1`, `(4.2.2)`) written
/// inside `text`, bounded by characters that cannot belong to a number.
pub fn status_in(text: &str) -> Option<rebound_core::EnhancedStatus> {
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

/// The three-digit reply code at the start of a reply text (`550 ...`,
/// `550-5.1.1 ...`).
pub fn leading_reply_code(text: &str) -> Option<rebound_core::ReplyCode> {
    let t = text.trim_start();
    let code = t.get(..3)?;
    let next = t.as_bytes().get(3).copied();
    if !code.bytes().all(|b| b.is_ascii_digit())
        || next.is_some_and(|b| !matches!(b, b' ' | b'-' | b'\t'))
    {
        return None;
    }
    code.parse().ok()
}

/// The SMTP command a notice says the reply answered (`RCPT`, `DATA`…), or
/// "" when it names none: `rebound_classify::reply::smtp_command`, the one
/// reader the classifier and ingest use too.
pub fn command_in(text: &str) -> &'static str {
    rebound_classify::reply::smtp_command(text).unwrap_or("")
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

/// A delivery for a notice that states a recipient and a reply: the reply
/// code and enhanced status are read from the reply itself.
pub fn delivery_from_reply(recipient: String, reply: &str) -> Delivery {
    let diagnostic = squash(reply);
    Delivery {
        recipient,
        action: "failed".to_string(),
        status: status_in(&diagnostic),
        replycode: leading_reply_code(&diagnostic),
        diagnostic,
        ..Delivery::default()
    }
}

#[cfg(test)]
mod tests {
    use super::SplitLines;

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
                assert_eq!(super::find_ignore_case(h, n), naive(h, n), "{h:?} {n:?}");
            }
        }
    }

    use super::*;

    #[test]
    fn cuts_at_markers() {
        let t = "notice\nmore\n--- Below this line is a copy of the message.\nheaders";
        assert_eq!(text_before(t, &["--- below this line"]), "notice\nmore\n");
    }

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
    fn status_with_comment() {
        assert_eq!(first_status("5.1.1 (bad)").unwrap().to_string(), "5.1.1");
        assert!(first_status("").is_none());
    }
    #[test]
    fn finds_statuses_codes_and_commands() {
        assert_eq!(
            status_in("552 over quota (#5.2.2)").unwrap().to_string(),
            "5.2.2"
        );
        assert_eq!(status_in("550 5.1.1 <a@b>").unwrap().to_string(), "5.1.1");
        assert!(status_in("version 5.1.10.2 and 25.1.1").is_none());
        assert!(status_in("ip 192.5.1.1 x").is_none());
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
    fn status_details_from_the_report() {
        let ds = DeliveryStatus::parse(
            "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@x.example\nAction: failed\n\
Status: 5.0.0\nDiagnostic-Code: smtp; 550 #5.1.0 Address rejected.\n\n\
Final-Recipient: rfc822; b@x.example\nAction: delayed\nStatus: 4.0.0 (x.example: host name lookup failure)\n\n\
Final-Recipient: rfc822; c@x.example\nAction: failed\nStatus: 5.2.1 (mailbox disabled, not accepting messages)\n\
Diagnostic-Code: smtp;550 5.2.1 <c@x.example>... User Unknown\n\n\
Final-Recipient: rfc822; d@x.example\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 552 5.2.2 Over quota\n\n\
Final-Recipient: rfc822; e@x.example\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 452 4.2.2 Over quota\n",
        );
        let found = deliveries_from_status(&ds);
        assert_eq!(found[0].status.unwrap().to_string(), "5.1.0");
        assert_eq!(found[0].diagnostic, "550 #5.1.0 Address rejected.");
        assert_eq!(found[1].status.unwrap().to_string(), "4.0.0");
        assert_eq!(found[1].diagnostic, "x.example: host name lookup failure");
        // The reporting MTA's comment follows the remote reply, which stays
        // first so that its reply code is still read from the start.
        assert_eq!(
            found[2].diagnostic,
            "550 5.2.1 <c@x.example>... User Unknown (mailbox disabled, not accepting messages)"
        );
        // The server's own specific status beats the report's default...
        assert_eq!(found[3].status.unwrap().to_string(), "5.2.2");
        // ...but not across classes: the report's class is the MTA's verdict.
        assert_eq!(found[4].status.unwrap().to_string(), "5.1.1");
    }

    #[test]
    fn sections_and_replies() {
        let t = "head\n--- Reasons ---\n\n  first\n  second\n\nafter\n";
        assert_eq!(section(t, "reasons"), vec!["first", "second"]);
        assert!(section(t, "absent").is_empty());
        let d = delivery_from_reply("a@b.example".into(), "552 over  quota (#5.2.2)");
        assert_eq!(d.replycode.unwrap().get(), 552);
        assert_eq!(d.status.unwrap().to_string(), "5.2.2");
        assert_eq!(d.diagnostic, "552 over quota (#5.2.2)");
    }
}
