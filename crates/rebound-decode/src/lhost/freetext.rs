//! The generic fallback for free-text notices no format decoder claims:
//! older or rarer MTAs and providers (AOL-style, Netscape/iPlanet,
//! Exchange 5.5, GroupWise, Lotus, SMTP32/IMail, qmail variants, list
//! servers) that write "could not be delivered to", "<addr>: host ...
//! said:", "The following recipient(s) could not be reached" and the like.
//!
//! It reads the notice the way a person would: the part before the
//! returned message, from the first paragraph that states a failure; every
//! address there is a failed recipient, except the bounce's own sender and
//! recipient, system and list-management mailboxes, and addresses on lines
//! that name a sender or a contact. Each recipient's reply is the text
//! that follows it (up to a blank line or the next recipient), or, when
//! addresses are only listed, the next paragraph that explains why.
//!
//! The wording it recognises is data: [`FAILURE_PHRASES`],
//! [`DELAY_PHRASES`], [`RETURNED_MESSAGE_MARKERS`], [`SYSTEM_LOCAL_PARTS`],
//! [`NOT_RECIPIENT_CONTEXT`].

use super::common::MAX_RECIPIENTS;
use super::provider_helpers::failed_recipients;
use crate::delivery::{Decoder, Delivery};
use crate::dsn::{clean_address, looks_like_address};
use crate::mail::Mail;
use crate::text::{SplitLines, reply_code_in, squash, starts_with_ignore_case, status_in};
use aho_corasick::AhoCorasick;
use rebound_core::{EnhancedStatus, Reason};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

pub struct FreeText;

/// Wording that says delivery to someone failed (matched case-insensitively
/// anywhere in a line). The notice's failure region starts at the paragraph
/// holding the first of them.
pub const FAILURE_PHRASES: &[&str] = &[
    // Statements about the delivery.
    "could not be delivered",
    "couldn't be delivered",
    "cannot be delivered",
    "can't be delivered",
    "could not deliver",
    "couldn't deliver",
    "unable to deliver",
    "not able to deliver",
    "wasn't able to deliver",
    "failed to deliver",
    "delivery failed",
    "delivery has failed",
    "delivery to the following",
    "was not delivered",
    "were not delivered",
    "has not been delivered",
    "not be delivered",
    "undeliverable",
    "did not reach",
    "did not receive this message",
    "could not be reached",
    "permanent fatal error",
    "permanent delivery error",
    "permanent error",
    "permanent failure",
    "fatal error",
    "delivery error",
    "following addresses had",
    "following address",
    "following recipient",
    "following destination",
    "returned to sender",
    "message was rejected",
    // Sieve's reject (RFC 5429) as Dovecot Pigeonhole words it: "Your
    // message to <a@b.example> was automatically rejected: ...".
    "was automatically rejected",
    "message rejected",
    "was rejected",
    "has rejected",
    "refused",
    // qmail and Postfix style: `<addr>: host x said: 550 ...`.
    " said: ",
    "remote host said",
    // Statements about the mailbox.
    "unknown user",
    "user unknown",
    "unknown recipient",
    "recipient unknown",
    "no such user",
    "no such mailbox",
    "no such recipient",
    "user not found",
    "mailbox not found",
    "address not found",
    "recipient not found",
    "invalid recipient",
    "invalid address",
    "no mailbox",
    "mailbox unavailable",
    "mailbox is full",
    "mailbox full",
    "over quota",
    "quota exceeded",
    "does not exist",
    "not listed in",
    "host unknown",
    "domain not found",
    "no route",
    "relaying denied",
    "relay denied",
    // The same statements in other languages (German, French, Italian,
    // Spanish, Portuguese, Dutch, Japanese, then Chinese, Korean, Russian,
    // Polish, Czech, Turkish, Swedish, Danish and Norwegian).
    "konnte nicht zugestellt werden",
    "nicht zugestellt werden",
    "unzustellbar",
    "n'a pas pu être remis",
    "n'a pas pu être distribué",
    "impossible de remettre",
    "échec de la remise",
    "non è stato possibile recapitare",
    "non è stato recapitato",
    "no se ha podido entregar",
    "no se pudo entregar",
    "não foi possível entregar",
    "não pôde ser entregue",
    "kon niet worden afgeleverd",
    "kon niet worden bezorgd",
    "配信できませんでした",
    "送信できませんでした",
    "届きませんでした",
    "宛先不明",
    "未能成功投递",
    "未能投递",
    "无法投递",
    "投递失败",
    "無法投遞",
    "投遞失敗",
    "退信原因",
    "전달되지 않았습니다",
    "전송하지 못했습니다",
    "배달되지 않았습니다",
    "не может быть доставлено",
    "не удалось доставить",
    "не было доставлено",
    "nie może zostać dostarczona",
    "nie została dostarczona",
    "nie mogła zostać dostarczona",
    "nelze doručit",
    "nebyla doručena",
    "nemohla být doručena",
    "teslim edilemedi",
    "kunde inte levereras",
    "kunne ikke leveres",
    // Wording of MTAs that list recipients under a general statement.
    "list of recipients",
    "error has occurred",
    "error occurred",
    "error delivering",
    "error while delivering",
    "attempting to deliver",
    "failure reason",
    "not found",
    "name service error",
    "does not like recipient",
    "did not like",
    "message is delayed",
    // Delays are failures to deliver so far.
    "has not yet been delivered",
    "still being retried",
    "will continue to try",
    "delivery has been delayed",
    "delivery is delayed",
];

/// Wording that says the system is still trying: such a notice reports a
/// delay, not a failure.
pub const DELAY_PHRASES: &[&str] = &[
    "has not yet been delivered",
    "not yet been delivered",
    "still being retried",
    "will continue to try",
    "will keep trying",
    "will be retried",
    "will retry",
    "delivery has been delayed",
    "delivery is delayed",
    "has been delayed",
    "delivery delayed",
    "no action is required on your part",
    "this is a warning message only",
    "do not need to resend",
    "do not need to re-send",
    "message is delayed",
    "temporary failure report",
];

/// Subjects of delay warnings (lower case): Sendmail's `Warning: could not
/// send message for past 4 hours`, `Delivery Status Notification (Delay)`.
pub const DELAY_SUBJECTS: &[&str] = &[
    "warning",
    "delayed",
    "(delay)",
    "delivery delay",
    "still being retried",
    "not yet delivered",
    "not yet been delivered",
];

/// Lines (matched at their start, after blanks, case-insensitively) where
/// the returned message begins: nothing after them is the notice's own.
pub const RETURNED_MESSAGE_MARKERS: &[&str] = &[
    "----- original message",
    "-----original message",
    "--- original message",
    "original message follows",
    "original message headers",
    "original message header",
    "----- original header",
    "--- the header of the original message",
    "the original message headers",
    "------ this is a copy of the message",
    "--- below this line is a copy",
    "|------------------------- message text follows",
    "----- the following is a copy",
    "------ unsent message below",
    "----- unsent message",
    "----- returned message",
    "---- start of returned message",
    "----- message text follows",
    "----- message header follows",
    "--- message header follows",
    "message headers follow",
    "here is a copy of",
    "copy of original message",
    "--- enclosed are the headers",
    "below is a copy of the original message",
    "------- returned message",
    "bounced e-mail:",
    "bounced email:",
    "bounced message:",
    "------ the original message",
    // A header block of the returned message written inline.
    "received: ",
    "return-path: ",
    "message-id: ",
    "dkim-signature: ",
    "mime-version: ",
    "content-type: ",
    "delivered-to: ",
];

/// Local parts that name a system or list-management mailbox, never a
/// failed recipient (matched whole; `*` stands for any prefix or suffix).
pub const SYSTEM_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mail-daemon",
    "maildaemon",
    "majordomo",
    "listserv",
    "listproc",
    "mailman",
    "ezmlm",
    "sympa",
    "bounce",
    "bounces",
    "bounce-*",
    "bounces-*",
    "bounces+*",
    "bounce+*",
    "owner-*",
    "*-owner",
    "*-request",
    "*-admin",
    "*-bounces",
    "*-bounce",
    "*-bounces+*",
];

/// Role mailboxes (RFC 2142) that a notice names as whom to contact at
/// the reporting site; at another site they may well be the recipient
/// that failed (mail to `postmaster@` a domain bounces too).
pub const SITE_ROLE_LOCAL_PARTS: &[&str] = &[
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
    "root",
    "daemon",
    "nobody",
    "noreply",
    "no-reply",
    "support",
    "helpdesk",
];

/// Words that, on a line, make its addresses someone else's than a failed
/// recipient: the sender, a contact, an envelope command.
pub const NOT_RECIPIENT_CONTEXT: &[&str] = &[
    "mail from",
    "envelope-from",
    "envelope from",
    "sender:",
    "from:",
    "reply-to:",
    "return-path:",
    "contact",
    "assistance",
    "helpdesk",
    "help desk",
    "send mail to",
    "send an email to",
    "write to",
    "questions",
    "message-id",
    "message id",
    "in-reply-to",
    "references:",
];

/// Senders and subjects that make a message a bounce worth reading here.
const BOUNCE_SENDERS: &[&str] = &[
    "mailer-daemon",
    "mail-daemon",
    "maildaemon",
    "postmaster",
    "mail delivery",
    "mail administrator",
    "mail system",
    "mailadmin",
    "system administrator",
    "delivery subsystem",
    "delivery notification",
    "mdaemon",
    "gateway",
    "majordomo",
    "listserv",
    "mailman",
    "bounce",
    // The system mailbox every Exchange and Exchange Online NDR comes from
    // ("Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@…>";
    // the name is the same in every organisation).
    "microsoftexchange329e71ec88ae4615bbc36ab6ce41109e",
];
/// Subject wording that only a bounce uses.
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver",
    "not delivered",
    "returned mail",
    "return mail",
    "returned to sender",
    "failure notice",
    "delivery fail",
    "delivery status",
    "delivery report",
    "delivery notification",
    "delivery problem",
    "non-delivery",
    "nondelivery",
    "non delivery",
    "could not be delivered",
    "can't be delivered",
    "cannot be delivered",
    "unable to deliver",
    "mail delivery",
    "message delivery",
    // German, French, Italian, Spanish, Portuguese, Dutch, Japanese,
    // Chinese, Korean, Russian, Polish, Czech, Turkish.
    "unzustellbar",
    "nicht zugestellt",
    "non remis",
    "non distribu",
    "échec de la remise",
    "non recapitabile",
    "mancato recapito",
    "no entregado",
    "no se puede entregar",
    "não entregue",
    "onbestelbaar",
    "niet afgeleverd",
    "配信不能",
    "配送エラー",
    "エラーメール",
    "退信",
    "投递失败",
    "投遞失敗",
    "无法投递",
    "반송",
    "не доставлено",
    "недоставленное",
    "niedostarczon",
    "nedoručen",
    "teslim edilemedi",
];
/// Subject wording a person's mail may use too: it makes a bounce only
/// with a sign that the message was generated by a system.
const WEAK_BOUNCE_SUBJECTS: &[&str] = &[
    "returned", "failure", "failed", "error", "delayed", "delay", "warning", "rejected", "bounce",
];

static FAILURE: LazyLock<AhoCorasick> = LazyLock::new(|| case_insensitive(FAILURE_PHRASES));
static DELAY: LazyLock<AhoCorasick> = LazyLock::new(|| case_insensitive(DELAY_PHRASES));
static NOT_RECIPIENT: LazyLock<AhoCorasick> =
    LazyLock::new(|| case_insensitive(NOT_RECIPIENT_CONTEXT));

fn case_insensitive(phrases: &[&str]) -> AhoCorasick {
    // A contiguous NFA: built in a fraction of a DFA's time, which every
    // process pays, and fast enough for a notice's few lines.
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
        .build(phrases)
        .expect("the phrase tables are valid patterns")
}

/// At most this many lines of a notice are read.
const MAX_NOTICE_LINES: usize = 1000;
/// At most this many lines after a listed recipient are searched for the
/// paragraph that explains it.
const EXPLANATION_WINDOW: usize = 120;
/// At most this many bytes of a line are read (a notice's lines are short;
/// HTML turned into text may leave one long line).
const MAX_LINE: usize = 4096;
/// At most this many later mentions of a recipient add to its reply.
const MAX_MENTIONS: usize = 2;
/// At most this many lines make one recipient's reply.
const MAX_REPLY_LINES: usize = 8;

impl Decoder for FreeText {
    fn name(&self) -> &'static str {
        "FreeText"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let listed = failed_recipients(mail);
        if !looks_like_a_bounce(mail) && listed.is_empty() {
            return None;
        }
        // A person who forwards a notice writes their own note above it
        // ("It should be ap@x, not accounts@x"): its addresses are no
        // failed recipients. Read the notice below its header block.
        let text = match forwarded_notice_start(&mail.text) {
            Some(at) if !from_a_mail_system(mail) => &mail.text[at..],
            _ => &mail.text[..],
        };
        let notice = notice_text(text);
        let lines: Vec<&str> = notice
            .split_lines()
            .take(MAX_NOTICE_LINES)
            .map(clip_line)
            .collect();
        // The region starts at the paragraph holding the first failure
        // wording (read across its line breaks: `could not` / `be
        // delivered`): qmail-style notices put the address first
        // (`<a@b.example>:` and the reason below it). A notice whose
        // sender and subject both say it is a bounce is read whole even
        // without wording of ours (its words may be in a language or a
        // phrasing we do not list).
        let region_start = match first_failure_paragraph(&lines) {
            Some(start) => start,
            None if strongly_a_bounce(mail) => 0,
            None => return None,
        };
        let ours = own_addresses(mail);
        let mut region = &lines[region_start..];
        // The reporting site: the bounce's sender's domain.
        let site = crate::dsn::find_address(mail.headers.value("from"))
            .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_string()))
            .unwrap_or_default();
        let mut scan = scan_recipients(region, &ours, &listed, &site);
        if scan.found.is_empty() && region_start > 0 {
            // The failure wording came after the addresses' paragraph
            // (`a@b.example` / blank / `This address does not exist.`).
            region = &lines[..];
            scan = scan_recipients(region, &ours, &listed, &site);
        }
        let Scan {
            mut found,
            mut known,
            again,
            named,
        } = scan;
        let notice = Region {
            lines: region,
            named,
        };
        // Listed recipients the text never names still failed.
        for address in &listed {
            if known.insert(address.to_ascii_lowercase()) {
                found.push((address.clone(), usize::MAX));
            }
        }
        if found.is_empty() {
            // Some notices name the recipient only in their subject
            // (`Undeliverable mail: a@b.example`, `Delivery failure to
            // a@b.example`).
            let in_subject: Vec<String> = addresses_in(&mail.subject)
                .into_iter()
                .filter(|a| {
                    !ours.iter().any(|o| o.eq_ignore_ascii_case(a))
                        && !is_system_mailbox(a)
                        && !is_site_role(a, &site)
                })
                .collect();
            if let [only] = in_subject.as_slice() {
                found.push((only.clone(), usize::MAX));
            }
        }
        if found.is_empty() {
            return None;
        }
        // A delay notice as a whole: its subject says so, or its text
        // speaks of retrying and of no permanent failure.
        let delay_notice = DELAY_SUBJECTS
            .iter()
            .any(|w| mail.subject_lower.contains(w))
            || (!region.iter().any(|l| permanent_wording(l))
                && region.iter().any(|l| DELAY.is_match(l)));
        let out = found
            .iter()
            .map(|(address, at)| {
                let own = if *at == usize::MAX {
                    String::new()
                } else {
                    notice.reply_after(*at, address)
                };
                let mut reply = if own.is_empty() {
                    notice.explaining_paragraph(*at, address)
                } else {
                    own
                };
                if *at != usize::MAX
                    && status_in(&reply).is_none()
                    && reply_code_in(&reply).is_none()
                {
                    // Its own words say that it failed, a paragraph below
                    // may say how (`Remote Server returned '550 5.1.10 ...'`).
                    let more = notice.explaining_paragraph(*at, address);
                    if (status_in(&more).is_some() || reply_code_in(&more).is_some())
                        && !reply.contains(&more)
                    {
                        reply.push(' ');
                        reply.push_str(&more);
                    }
                }
                for &later in again
                    .get(&address.to_ascii_lowercase())
                    .into_iter()
                    .flatten()
                {
                    let more = notice.reply_after(later, address);
                    if !more.is_empty() && !reply.contains(&more) {
                        reply.push(' ');
                        reply.push_str(&more);
                    }
                }
                let delayed = delay_notice || DELAY.is_match(&reply);
                let status = status_in(&reply).or_else(|| delayed.then(transient_status).flatten());
                Delivery {
                    recipient: address.clone(),
                    action: if delayed { "delayed" } else { "failed" }.to_string(),
                    status,
                    replycode: reply_code_in(&reply),
                    diagnostic: reply,
                    // The notice says delivery failed; only its words say
                    // why. A delay gets its hint from the action.
                    reason: (!delayed).then_some(Reason::OnHold),
                    ..Delivery::default()
                }
            })
            .collect();
        Some(out)
    }
}

/// The first line of the first paragraph whose text (its lines joined)
/// holds failure wording.
fn first_failure_paragraph(lines: &[&str]) -> Option<usize> {
    let mut start = 0;
    let mut joined = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            if FAILURE.is_match(&joined) {
                return Some(start);
            }
            joined.clear();
            start = i + 1;
            continue;
        }
        if joined.len() < 16 * MAX_LINE {
            joined.push(' ');
            joined.push_str(t);
        }
    }
    FAILURE.is_match(&joined).then_some(start)
}

/// Both the sender and the subject say the message is a bounce.
fn strongly_a_bounce(mail: &Mail) -> bool {
    from_a_mail_system(mail)
        && BOUNCE_SUBJECTS
            .iter()
            .any(|s| mail.subject_lower.contains(s))
}

/// The status of a delay warning that states none: RFC 3463's 4.0.0
/// (persistent transient failure). Without it the record would get a
/// permanent stand-in status, as if the system had given up.
fn transient_status() -> Option<EnhancedStatus> {
    EnhancedStatus::new(4, 0, 0)
}

/// The recipients a region names: each with the line of its first
/// mention, and where it is named again.
struct Scan {
    found: Vec<(String, usize)>,
    /// `found`'s addresses, lower-cased, for the lookups of every line
    /// against the others.
    known: HashSet<String>,
    again: HashMap<String, Vec<usize>>,
    /// Per line of the region, the recipients it names (lower-cased):
    /// read once here, so that finding each recipient's reply does not
    /// parse every line again.
    named: Vec<Vec<String>>,
}

fn scan_recipients(region: &[&str], ours: &[String], listed: &[String], site: &str) -> Scan {
    let mut found: Vec<(String, usize)> = Vec::new();
    // Lower-cased, for the lookups of every line against the others.
    let mut known: HashSet<String> = HashSet::new();
    // Where a recipient is named again (Exchange's "Diagnostic
    // information for administrators", a transcript's RCPT): more of
    // its reply may stand there.
    let mut again: HashMap<String, Vec<usize>> = HashMap::new();
    let mut named: Vec<Vec<String>> = vec![Vec::new(); region.len()];
    for (i, line) in region.iter().enumerate() {
        let addresses = addresses_in(line);
        if names_no_recipient(line, &addresses) {
            continue;
        }
        for address in addresses {
            if found.len() >= MAX_RECIPIENTS {
                break;
            }
            let lower = address.to_ascii_lowercase();
            if known.contains(&lower) {
                named[i].push(lower.clone());
                let seen = again.entry(lower).or_default();
                if seen.len() < MAX_MENTIONS && seen.last() != Some(&i) {
                    seen.push(i);
                }
                continue;
            }
            if ours.iter().any(|o| o.eq_ignore_ascii_case(&address))
                || is_system_mailbox(&address)
                || is_site_role(&address, site)
                || named_as_sender(line, &address)
            {
                continue;
            }
            if !listed.is_empty() && !listed.iter().any(|l| l.eq_ignore_ascii_case(&address)) {
                // The MTA listed its failed recipients in a header: an
                // address it did not list is not one of them.
                continue;
            }
            known.insert(lower.clone());
            named[i].push(lower);
            found.push((address, i));
        }
    }
    Scan {
        found,
        known,
        again,
        named,
    }
}

/// Whether a line's words (not its addresses: `contact@shop.example`,
/// `helpdesk@corp.example` are recipients like any other) say that its
/// addresses are a sender, a contact or a header's
/// ([`NOT_RECIPIENT_CONTEXT`]).
fn names_no_recipient(line: &str, addresses: &[String]) -> bool {
    if !NOT_RECIPIENT.is_match(line) {
        return false;
    }
    if addresses.is_empty() {
        return true;
    }
    let mut words = line.to_string();
    for address in addresses.iter().filter(|a| !a.is_empty()) {
        while let Some(at) = crate::text::find_ignore_case(&words, address) {
            words.replace_range(at..at + address.len(), " ");
        }
    }
    NOT_RECIPIENT.is_match(&words)
}

/// A failure wording that is not a delay's.
fn permanent_wording(line: &str) -> bool {
    FAILURE.find_iter(line).any(|m| {
        !DELAY_PHRASES
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&line[m.start()..m.end()]))
    })
}

fn looks_like_a_bounce(mail: &Mail) -> bool {
    // Bulk mail (a newsletter whose subject says "Returned mail?") carries
    // `List-Unsubscribe` (RFC 2369, 8058); no MTA puts it on a notice.
    if mail.headers.contains("list-unsubscribe") && !from_a_mail_system(mail) {
        return false;
    }
    from_a_mail_system(mail)
        || BOUNCE_SUBJECTS
            .iter()
            .any(|s| mail.subject_lower.contains(s))
        || crate::lhost::provider_helpers::FAILED_RECIPIENT_HEADERS
            .iter()
            .any(|h| mail.headers.contains(h))
        || (WEAK_BOUNCE_SUBJECTS
            .iter()
            .any(|s| mail.subject_lower.contains(s))
            && generated_by_a_system(mail))
}

/// Whether the message says it was generated by a system: RFC 3834's
/// `Auto-Submitted` (other than `no`), or a null return path (RFC 5321
/// 4.5.5: notifications are sent with an empty reverse path).
fn generated_by_a_system(mail: &Mail) -> bool {
    mail.headers
        .get("auto-submitted")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"))
        || mail
            .headers
            .get_all("return-path")
            .any(|v| v.trim() == "<>" || v.trim().is_empty())
}

/// The notice's own text: up to the returned message.
fn notice_text(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_failure = false;
    // Where a run of header fields at the start of their lines began.
    let mut header_run: Option<(usize, usize)> = None;
    for line in text.split_lines_inclusive() {
        let trimmed = line.trim_start();
        let at_start = trimmed.len() == line.len();
        let is_marker = RETURNED_MESSAGE_MARKERS.iter().any(|m| {
            // Header names only count at the start of the line: an
            // indented `Received:` is part of a notice's explanation.
            starts_with_ignore_case(trimmed, m) && (!m.ends_with(": ") || at_start)
        });
        if is_marker {
            return &text[..offset];
        }
        // The returned message's header block written inline without a
        // marker (`From: ...` / `To: ...` / `Subject: ...` after the
        // notice): two header fields in a row, after the failure wording.
        if seen_failure && at_start && is_header_field(line) {
            let (start, count) = header_run.unwrap_or((offset, 0));
            if count + 1 >= 2 {
                return &text[..start];
            }
            header_run = Some((start, count + 1));
        } else {
            header_run = None;
        }
        seen_failure = seen_failure || FAILURE.is_match(line);
        offset += line.len();
    }
    text
}

/// Whether a line is a header field of a message (`Name: value` with one
/// of the fields every message has).
fn is_header_field(line: &str) -> bool {
    const FIELDS: &[&str] = &[
        "from:",
        "to:",
        "cc:",
        "subject:",
        "date:",
        "message-id:",
        "reply-to:",
        "sender:",
        "mime-version:",
        "x-mailer:",
        "user-agent:",
    ];
    FIELDS.iter().any(|f| starts_with_ignore_case(line, f))
}

/// The addresses the bounce itself is from or to, and the returned
/// message's sender: never a failed recipient.
fn own_addresses(mail: &Mail) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["from", "to", "reply-to", "sender", "return-path"] {
        for value in mail.headers.get_all(name) {
            out.extend(addresses_in(value));
        }
    }
    let original = mail.original_headers();
    for name in ["from", "sender", "return-path", "reply-to"] {
        for value in original.get_all(name) {
            out.extend(addresses_in(value));
        }
    }
    out.extend(forwarded_notice_addressees(&mail.text));
    // A list server writes from `news-owner@` or to `news-request@`: the
    // list's own address `news@` is then no member that failed.
    let lists: Vec<String> = out.iter().filter_map(|a| list_address(a)).collect();
    out.extend(lists);
    out
}

/// The addressees of a notice forwarded inline: someone forwarded the
/// bounce they got ("---------- Forwarded message ---------" or
/// "-----Original Message-----", then the notice's own `From:`, `Date:`,
/// `Subject:`, `To:` lines). A notice goes to the original sender, so the
/// `To:` and `Cc:` of a header block whose `From:` is a mail system are the
/// sender's addresses, never failed recipients. (The returned message's
/// header block is from the sender: its `To:` stays a candidate.)
fn forwarded_notice_addressees(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let lines = text.split_lines().take(MAX_NOTICE_LINES);
    for line in lines.chain(std::iter::once("")) {
        // Quoted forwards: `> From: ...`.
        let line = line.trim_start_matches(['>', ' ']).trim_end();
        if is_header_field(line) {
            block.push(line);
            continue;
        }
        let from_a_mail_system = block.iter().any(|l| is_mail_system_from(l));
        if from_a_mail_system {
            for l in &block {
                if starts_with_ignore_case(l, "to:") || starts_with_ignore_case(l, "cc:") {
                    out.extend(addresses_in(l));
                }
            }
        }
        block.clear();
    }
    out
}

/// Where a notice forwarded inline starts: after the first header block
/// (the `From:`, `Date:`, `Subject:`, `To:` lines a mail client writes
/// under "---------- Forwarded message ---------") whose `From:` is a mail
/// system, as a byte offset into `text`. (The block itself is the
/// forward's, and its subject's "Undeliverable" would read as the notice's
/// wording.)
fn forwarded_notice_start(text: &str) -> Option<usize> {
    let mut offset = 0;
    let mut in_block = false;
    let mut from_a_mail_system = false;
    for line in text.split_lines_inclusive().take(MAX_NOTICE_LINES) {
        let field = line.trim_start_matches(['>', ' ']).trim_end();
        if is_header_field(field) {
            in_block = true;
            if starts_with_ignore_case(field, "from:") {
                from_a_mail_system = is_mail_system_from(field);
            }
        } else if in_block && from_a_mail_system {
            return Some(offset);
        } else {
            in_block = false;
            from_a_mail_system = false;
        }
        offset += line.len();
    }
    None
}

/// A `From:` line (of a header block written into a text) naming a mail
/// system.
fn is_mail_system_from(field: &str) -> bool {
    starts_with_ignore_case(field, "from:") && {
        let lower = field.to_ascii_lowercase();
        BOUNCE_SENDERS.iter().any(|s| lower.contains(s))
    }
}

/// The message's own sender is a mail system (a daemon, a postmaster, a
/// gateway), not a person.
fn from_a_mail_system(mail: &Mail) -> bool {
    BOUNCE_SENDERS.iter().any(|s| mail.from_lower.contains(s))
}

/// The list address behind a list-management address (`news-owner@d`,
/// `owner-news@d`, `news-request@d`, `news-bounces@d`, `news-admin@d`).
fn list_address(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    let lower = local.to_ascii_lowercase();
    let stem = ["-owner", "-request", "-bounces", "-admin"]
        .iter()
        .find_map(|s| {
            lower
                .strip_suffix(s)
                .map(|_| &local[..local.len() - s.len()])
        })
        .or_else(|| lower.strip_prefix("owner-").map(|_| &local[6..]))?;
    (!stem.is_empty()).then(|| format!("{stem}@{domain}"))
}

/// Words that, standing right before an address, make it the sender's
/// (`Your message from <a@b> to <c@d>`): only that address is skipped.
pub const SENDER_WORDS: &[&str] = &["from", "by", "sender", "originator", "author"];

/// Whether the word before `address` on its line is one of [`SENDER_WORDS`].
fn named_as_sender(line: &str, address: &str) -> bool {
    let Some(at) = crate::text::find_ignore_case(line, address) else {
        return false;
    };
    let before = line[..at].trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '<' | '"' | '\'' | '(' | '[' | ':' | '=')
    });
    let word = before
        .rsplit(|c: char| c.is_whitespace() || matches!(c, '<' | '"' | '(' | '['))
        .next()
        .unwrap_or("");
    SENDER_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// Whether an address is a role mailbox of the reporting site: its local
/// part one of [`SITE_ROLE_LOCAL_PARTS`], its domain the site's or one
/// above or below it (`postmaster@example.com` in a notice from
/// `MAILER-DAEMON@mx.example.com`).
fn is_site_role(address: &str, site: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    if !SITE_ROLE_LOCAL_PARTS
        .iter()
        .any(|r| local.eq_ignore_ascii_case(r))
    {
        return false;
    }
    let (domain, site) = (domain.to_ascii_lowercase(), site.to_ascii_lowercase());
    let within = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_suffix(outer)
                .is_some_and(|head| head.ends_with('.'))
    };
    site.is_empty() || within(&domain, &site) || within(&site, &domain)
}

/// Whether an address is a system or list-management mailbox, or a VERP
/// return path (`anything-user=example.com@host`): the sender's, never a
/// failed recipient.
fn is_system_mailbox(address: &str) -> bool {
    if crate::verp::VerpPattern::builtin()
        .recipient(address)
        .is_some()
    {
        return true;
    }
    let local = address
        .rsplit_once('@')
        .map_or(address, |(l, _)| l)
        .to_ascii_lowercase();
    SYSTEM_LOCAL_PARTS
        .iter()
        .any(|p| match (p.strip_prefix('*'), p.strip_suffix('*')) {
            (Some(suffix), None) => local.ends_with(suffix),
            (None, Some(prefix)) => local.starts_with(prefix),
            (Some(_), Some(_)) => {
                let inner = &p[1..p.len() - 1];
                local.contains(inner)
            }
            (None, None) => local == *p,
        })
}

/// Every address in a line of free text whose domain has a dot (or is an
/// address literal): dot-less "addresses" in free text are host names of
/// the form `user@host` in log lines, not mailboxes.
pub(crate) fn addresses_in(line: &str) -> Vec<String> {
    if !line.contains('@') {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for word in line.split(|c: char| {
        c.is_whitespace()
            || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '[' | ']')
            || is_wide_punctuation(c)
    }) {
        if !word.contains('@') {
            continue;
        }
        let address = clean_address(word.trim_end_matches(':'));
        let dotted = address
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.contains('.') && !d.ends_with('.'));
        if looks_like_address(&address)
            && dotted
            && !out.iter().any(|o| o.eq_ignore_ascii_case(&address))
        {
            out.push(address);
        }
    }
    out
}

/// CJK and full-width punctuation (`收件人：a@b.example`, `「a@b.example」`):
/// a label's colon or a bracket around an address, never part of one
/// (UTF-8 local parts, RFC 6531, are letters).
fn is_wide_punctuation(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303F}'
        | '\u{FF01}'..='\u{FF0F}'
        | '\u{FF1A}'..='\u{FF20}'
        | '\u{FF3B}'..='\u{FF40}'
        | '\u{FF5B}'..='\u{FF65}')
}

/// A letter of a script written without spaces between words: kana, CJK
/// ideographs, Hangul syllables.
fn is_cjk_letter(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}')
}

/// The notice's lines from where failures are reported, with the
/// recipients each line names.
struct Region<'a> {
    lines: &'a [&'a str],
    named: Vec<Vec<String>>,
}

impl Region<'_> {
    /// Whether line `i` names a recipient other than `address`.
    fn names_other(&self, i: usize, address: &str) -> bool {
        self.named
            .get(i)
            .is_some_and(|n| n.iter().any(|a| !a.eq_ignore_ascii_case(address)))
    }

    /// The reply that belongs to the recipient found on line `at`: its
    /// line (the reason may stand before the address, `User's mailbox is
    /// full: <a@b>`, or after it, `<a@b>: host x said: 550 ...`), then the
    /// following lines up to a blank line, a line naming another
    /// recipient, or a section rule. Empty when all that says nothing but
    /// the address; then the rest of its paragraph (`reject reason:
    /// Mailbox full` / `target address: a@b`).
    fn reply_after(&self, at: usize, address: &str) -> String {
        let region = self.lines;
        let mut parts: Vec<&str> = vec![region[at].trim()];
        let mut last = at;
        for (i, next) in region.iter().enumerate().skip(at + 1).take(MAX_REPLY_LINES) {
            let t = next.trim();
            if t.is_empty() || is_rule(t) || self.names_other(i, address) {
                break;
            }
            parts.push(t);
            last = i;
        }
        if says_more_than(&parts, address) {
            let reply = squash(&parts.join(" "));
            if reply_code_in(&reply).is_none() && status_in(&reply).is_none() {
                // "Your message to a@b has not been delivered." and the
                // cause in the next paragraph: both say what happened.
                let cause = self.next_paragraph(last + 1, address);
                if !cause.is_empty() {
                    return squash(&format!("{reply} {cause}"));
                }
            }
            return reply;
        }
        // The lines of its paragraph before it.
        let start = region[..at]
            .iter()
            .rposition(|l| l.trim().is_empty() || is_rule(l.trim()))
            .map_or(0, |n| n + 1)
            .max(at.saturating_sub(MAX_REPLY_LINES));
        let before: Vec<&str> = (start..at)
            .filter(|&i| !self.names_other(i, address))
            .map(|i| region[i].trim())
            .collect();
        if says_more_than(&before, address) {
            return squash(&before.join(" "));
        }
        String::new()
    }

    /// The paragraph that starts after the blank lines at `from`, when it
    /// is prose about this recipient alone: no other recipient, no rule,
    /// no header block (the returned message's `From:`), no address line.
    fn next_paragraph(&self, from: usize, address: &str) -> String {
        let region = self.lines;
        let Some(start) =
            (from..region.len().min(from + 3)).find(|&i| !region[i].trim().is_empty())
        else {
            return String::new();
        };
        if start == from {
            return String::new();
        }
        let mut lines = Vec::new();
        for (i, line) in region.iter().enumerate().skip(start).take(MAX_REPLY_LINES) {
            let t = line.trim();
            if t.is_empty() {
                break;
            }
            if is_rule(t) || is_header_field(t) || self.names_other(i, address) {
                return String::new();
            }
            lines.push(t);
        }
        if lines.iter().any(|l| l.contains('@')) {
            return String::new();
        }
        squash(&lines.join(" "))
    }

    /// For a recipient listed without a reason beside it: the first
    /// paragraph after it that explains (failure wording or a reply code,
    /// not a bare label like `because:`, no other recipient named), else
    /// the paragraph of the notice's first failure wording.
    fn explaining_paragraph(&self, at: usize, address: &str) -> String {
        let region = self.lines;
        let explains = |p: &[&str], other: bool| {
            let text = p.join(" ");
            !other
                && says_more_than(p, address)
                && (FAILURE.is_match(&text)
                    || reply_code_in(&text).is_some()
                    || status_in(&text).is_some())
        };
        let mut current: Vec<&str> = Vec::new();
        let mut other = false;
        let start = if at == usize::MAX { 0 } else { at + 1 };
        // Bounded: a notice listing thousands of bare addresses must not
        // make this quadratic.
        let end = region.len().min(start.saturating_add(EXPLANATION_WINDOW));
        for i in start..=end {
            let t = region.get(i).map_or("", |l| l.trim());
            if t.is_empty() || is_rule(t) || i == end {
                if !current.is_empty() && explains(&current, other) {
                    return squash(&current[..current.len().min(MAX_REPLY_LINES)].join(" "));
                }
                current.clear();
                other = false;
                if i == end {
                    break;
                }
                continue;
            }
            other = other || self.names_other(i, address);
            current.push(t);
        }
        // The paragraph of the first failure wording.
        let Some(first) = region.iter().position(|l| FAILURE.is_match(l)) else {
            return String::new();
        };
        let end = region[first..]
            .iter()
            .position(|l| l.trim().is_empty())
            .map_or(region.len(), |n| first + n);
        let lines: Vec<&str> = region[first..end]
            .iter()
            .take(MAX_REPLY_LINES)
            .copied()
            .collect();
        squash(&lines.join(" "))
    }
}

/// Whether lines say anything besides the address itself and a label
/// before it (`Recipient address: a@b`, `target mail address: a@b`).
fn says_more_than(lines: &[&str], address: &str) -> bool {
    lines.iter().any(|l| {
        let without = l.replace(address, "");
        let without = without
            .trim_matches(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ','));
        // Chinese, Japanese and Korean run words together: two of their
        // characters count as a word.
        let words = without
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count()
            + without.chars().filter(|&c| is_cjk_letter(c)).count() / 2;
        let label =
            (without.ends_with(':') && words <= 4) || (without.ends_with('：') && words <= 6);
        words >= 2 && !label
    })
}

/// A line cut to [`MAX_LINE`] bytes (at a character boundary): every line
/// is searched for addresses several times, so one huge line must not
/// make that slow.
fn clip_line(line: &str) -> &str {
    if line.len() <= MAX_LINE {
        return line;
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// A separator line: mostly dashes, bars, equal signs or stars.
fn is_rule(line: &str) -> bool {
    let marks = line
        .chars()
        .filter(|c| matches!(c, '-' | '|' | '=' | '*' | '_'))
        .count();
    marks >= 10 && marks * 2 >= line.chars().count()
}

/// A delivery for a recipient known from elsewhere (the VERP address the
/// bounce came back to) when the notice itself names none: the notice's
/// failure wording is its reply. `None` when the message is not a bounce.
pub(crate) fn delivery_for(mail: &Mail, recipient: String) -> Option<Delivery> {
    if !looks_like_a_bounce(mail) && mail.reports.is_empty() {
        return None;
    }
    let notice = notice_text(&mail.text);
    let lines: Vec<&str> = notice.split_lines().take(MAX_NOTICE_LINES).collect();
    let notice = Region {
        named: vec![Vec::new(); lines.len()],
        lines: &lines,
    };
    let reply = notice.explaining_paragraph(usize::MAX, &recipient);
    let delayed = DELAY_SUBJECTS
        .iter()
        .any(|w| mail.subject_lower.contains(w))
        || (DELAY.is_match(&reply) && !permanent_wording(&reply));
    Some(Delivery {
        status: status_in(&reply).or_else(|| delayed.then(transient_status).flatten()),
        replycode: reply_code_in(&reply),
        action: if delayed { "delayed" } else { "failed" }.to_string(),
        reason: (!delayed).then_some(Reason::OnHold),
        recipient,
        diagnostic: reply,
        ..Delivery::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str) -> Vec<Delivery> {
        FreeText
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap_or_default()
    }

    /// Shapes whose own decoders exist (qmail, Domino, Messaging Server)
    /// written by an unknown MTA: the fallback alone must still split them
    /// into recipients with their own replies.
    #[test]
    fn per_recipient_paragraphs_without_a_format_decoder() {
        let found = decode(
            "From: Mail Gateway <gateway@relay.example>
To: s@ours.example
Subject: Returned mail

Delivery to the following recipients failed.

  Recipient address: ann@example.net
  Reason: 550 5.1.1 unknown alias

  Recipient address: bob@example.org
  Reason: 552 5.2.2 over quota

<cy@example.com>:
Remote host said: 554 5.7.1 refused by policy

Original message follows.

To: ann@example.net, zed@example.net
",
        );
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.recipient.as_str(), d.diagnostic.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "ann@example.net",
                    "Recipient address: ann@example.net Reason: 550 5.1.1 unknown alias"
                ),
                (
                    "bob@example.org",
                    "Recipient address: bob@example.org Reason: 552 5.2.2 over quota"
                ),
                (
                    "cy@example.com",
                    "<cy@example.com>: Remote host said: 554 5.7.1 refused by policy"
                ),
            ]
        );
        assert_eq!(found[1].status.unwrap().to_string(), "5.2.2");
        assert_eq!(found[2].replycode.unwrap().get(), 554);
    }

    #[test]
    fn listed_addresses_take_the_next_explaining_paragraph() {
        let found = decode(
            "From: MAILER-DAEMON@mx.example
To: s@ours.example
Subject: Undeliverable

was not delivered to:

  frank@notes.example.com

because:

  User frank (frank@notes.example.com) not listed in the directory
",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].diagnostic,
            "User frank (frank@notes.example.com) not listed in the directory"
        );
    }

    #[test]
    fn senders_contacts_and_system_mailboxes_are_not_recipients() {
        let found = decode(
            "From: postmaster@mx.example
To: s@ours.example
Subject: Delivery failure

Your message from s@ours.example could not be delivered.
MAIL FROM:<other@ours.example>
Your message sent by <third@ours.example> to <hugo@example.net> was rejected.
RCPT TO:<gil@example.net> 550 user unknown
For assistance write to helpdesk@mx.example.
  Message-ID: <20240101.abc@mail.ours.example>
Returned to news-gil=example.net@mailer.ours.example.
Notify abuse@mx.example or owner-list@lists.example or list-request@lists.example.
",
        );
        let got: Vec<&str> = found.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(got, ["hugo@example.net", "gil@example.net"]);
    }

    /// The context words are read outside the addresses: a recipient
    /// whose address holds one (`contact@`, `old.contact@`, `helpdesk@`,
    /// `questions@`) is still a recipient.
    #[test]
    fn recipients_whose_address_holds_a_context_word_are_recipients() {
        let found = decode(
            "From: MAILER-DAEMON@mx.example
To: s@ours.example
Subject: Undelivered Mail Returned to Sender

Your message to old.contact@example.net could not be delivered.
<contact@shop.example>: 550 5.1.1 user unknown
<helpdesk@corp.example>: 550 5.1.1 mailbox unavailable
For assistance contact help@mx.example.
",
        );
        let got: Vec<&str> = found.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(
            got,
            [
                "old.contact@example.net",
                "contact@shop.example",
                "helpdesk@corp.example"
            ]
        );
    }

    /// Sieve's reject (RFC 5429) comes back as a disposition notification
    /// with the reason in its text; a read receipt of the same shape that
    /// says no failure is not a bounce.
    #[test]
    fn a_sieve_reject_is_a_failure_and_a_read_receipt_is_not() {
        let found = decode(
            "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example>
To: news@ours.example
Subject: Rejected: Spring sale
Auto-Submitted: auto-replied (rejected)

Your message to <r.h@example.org> was automatically rejected:
This mailbox has been disabled. For all enquiries please write to info@example.org.
",
        );
        let got: Vec<&str> = found.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(got, ["r.h@example.org"]);
        assert!(
            decode(
                "From: r.h@example.org\nTo: news@ours.example\nSubject: Read: Spring sale\n\
Auto-Submitted: auto-replied\n\nYour message to r.h@example.org was displayed.\n"
            )
            .is_empty()
        );
    }

    /// A Chinese notice labels the recipient with a full-width colon
    /// (`收件人：`); a UTF-8 local part is still an address.
    #[test]
    fn wide_punctuation_is_not_part_of_an_address() {
        assert_eq!(
            addresses_in("收件人：wang.wei@example.com"),
            ["wang.wei@example.com"]
        );
        assert_eq!(addresses_in("「a@example.jp」、"), ["a@example.jp"]);
        assert_eq!(addresses_in("<测试@example.net>"), ["测试@example.net"]);
    }

    /// A person forwards a notice with a note of their own above it: the
    /// note's addresses are not failed recipients, the notice's are.
    #[test]
    fn a_persons_note_above_a_forwarded_notice_names_no_recipient() {
        let found = decode(
            "From: Tom <tom@customer.example>
To: sales@ours.example
Subject: Fwd: Undeliverable: Order confirmation

Hi, please use ap@customer.example, not accounts@customer.example, which
was closed.

-------- Forwarded Message --------
Subject: Undeliverable: Order confirmation
From: Microsoft Outlook <postmaster@customer.example>
To: Tom <tom@customer.example>

Delivery has failed to these recipients or groups:

accounts@customer.example
The email address you entered couldn't be found.
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found'
",
        );
        let got: Vec<&str> = found.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(got, ["accounts@customer.example"]);
        assert!(found[0].diagnostic.contains("5.1.10"), "{:?}", found[0]);
    }

    /// Outlook's own forward ("-----Original Message-----", `Sent:`) of an
    /// Exchange NDR, whose sender is Exchange's system mailbox rather than
    /// a postmaster: the notice inside is still read.
    #[test]
    fn an_outlook_forward_of_an_exchange_ndr_is_read() {
        let found = decode(
            "From: Ann <ann@office.example>
To: IT <it@office.example>
Subject: FW: Undeliverable: Invoice

Can someone check this? Dan's address keeps failing.

-----Original Message-----
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@office.example>
Sent: Monday, February 9, 2026 11:47 AM
To: Ann <ann@office.example>
Subject: Undeliverable: Invoice

Delivery has failed to these recipients or groups:

dan@supplier.example (dan@supplier.example)
The email address you entered couldn't be found.

Diagnostic information for administrators:

dan@supplier.example
Remote Server returned '550 5.1.1 <dan@supplier.example>: Recipient address rejected: User unknown'
",
        );
        let got: Vec<&str> = found.iter().map(|d| d.recipient.as_str()).collect();
        assert_eq!(got, ["dan@supplier.example"]);
        assert!(found[0].diagnostic.contains("5.1.1"), "{:?}", found[0]);
    }

    /// Bulk mail whose subject borrows a bounce's words ("Returned mail?
    /// What bounce messages mean") and quotes one is no bounce: it carries
    /// `List-Unsubscribe`, which no MTA puts on a notice.
    #[test]
    fn a_newsletter_quoting_a_bounce_is_no_bounce() {
        let raw = "From: Deliverability Weekly <newsletter@weekly.example>
To: news@ours.example
Subject: Returned mail? Undeliverable? What bounce messages mean
List-Unsubscribe: <https://weekly.example/unsubscribe?s=1>

Every sender eventually opens a message like this one:

    <someone@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1
        <someone@example.net>: Recipient address rejected: User unknown
";
        assert!(decode(raw).is_empty());
        // Without the header, the same text from a mail system is a bounce.
        let bounce = raw
            .replace(
                "Deliverability Weekly <newsletter@weekly.example>",
                "MAILER-DAEMON@mx.example",
            )
            .replace(
                "List-Unsubscribe: <https://weekly.example/unsubscribe?s=1>\n",
                "",
            );
        assert_eq!(decode(&bounce).len(), 1);
    }

    #[test]
    fn the_cause_in_the_paragraph_after_a_bare_not_delivered() {
        let found = decode(
            "From: Webmail <noreply@mail.example>\nTo: s@ours.example\nSubject: Message not delivered\n\n\
Your message to ivo@mail.example has not been delivered.\n\n\
The account was closed after two years without use.\n\n\
--- Original message ---\nFrom: s@ours.example\nTo: ivo@mail.example\n",
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].diagnostic.contains("account was closed"),
            "{:?}",
            found[0].diagnostic
        );
    }

    #[test]
    fn a_cause_written_without_spaces_is_the_recipients_reply() {
        let found = decode(
            "From: postmaster@keitai.example\nTo: s@ours.example\nSubject: =?UTF-8?B?44Ko44Op44O8?=\n\n\
以下のメールは配信できませんでした。\n\n\
宛先：mika@keitai.example\nエラー内容：受信可能サイズを超えています。\n",
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].diagnostic.contains("受信可能サイズ"),
            "{:?}",
            found[0].diagnostic
        );
    }

    /// Notices in languages other than the ones the gate began with: the
    /// failure wording opens the region, and a person's subject in the
    /// same language says it is a notice.
    #[test]
    fn notices_in_chinese_russian_and_polish() {
        let found = decode(
            "From: postmaster@mail.example.cn\nTo: s@ours.example\nSubject: =?UTF-8?B?6YCA5L+h?=\n\n\
您好，您的邮件未能成功投递到以下地址：\n\n\
收件人：chen@example.cn\n退信原因：收件人邮箱已满\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "chen@example.cn");
        let found = decode(
            "From: Robot <robot@mail.example.ru>\nTo: s@ours.example\nSubject: Письмо не доставлено\nAuto-Submitted: auto-generated\n\n\
Ваше письмо не может быть доставлено:\n\n    oleg@example.ru\n\nПочтовый ящик переполнен.\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "oleg@example.ru");
        let found = decode(
            "From: System <system@poczta.example.pl>\nTo: s@ours.example\nSubject: Wiadomość niedostarczona\n\n\
Wiadomość nie została dostarczona do adresata anna@example.pl.\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "anna@example.pl");
    }

    #[test]
    fn failure_wording_after_the_address_paragraph() {
        let found = decode(
            "From: MAILER-DAEMON@mx.example\nTo: s@ours.example\nSubject: Returned mail\n\n\
Hello, this is the mail server at mx.example.\n\n    ida@example.net\n\n\
This address does not exist here.\n",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recipient, "ida@example.net");
        assert_eq!(found[0].diagnostic, "This address does not exist here.");
    }

    #[test]
    fn gate_and_limits() {
        // Not from a mailer, no bounce subject, no failed-recipients header.
        assert!(
            decode(
                "From: a@b.example
To: c@d.example
Subject: hi

could not be delivered to e@f.example
"
            )
            .is_empty()
        );
        // A mailer's message without failure wording or a bounce subject
        // names nobody...
        assert!(
            decode(
                "From: MAILER-DAEMON@x.example
To: c@d.example
Subject: queue report

see e@f.example
"
            )
            .is_empty()
        );
        // ...but one whose sender and subject both say bounce is read
        // whole (its wording may be one we do not list).
        assert_eq!(
            decode(
                "From: MAILER-DAEMON@x.example
To: c@d.example
Subject: Returned mail

Zustellung an e@f.example gescheitert.
"
            )
            .len(),
            1
        );
        assert!(
            decode(
                "From: MAILER-DAEMON@x.example
To: c@d.example
Subject: Returned mail

see the queue.
"
            )
            .is_empty()
        );
        // Many addresses: bounded, and fast.
        let mut raw = String::from(
            "From: MAILER-DAEMON@x.example
Subject: Undeliverable

could not be delivered to:
",
        );
        for i in 0..5000 {
            raw.push_str(&format!("u{i}@example.com\n"));
        }
        assert!(decode(&raw).len() <= MAX_RECIPIENTS);
    }
}
