//! Microsoft 365 / Exchange Online NDRs ("Undeliverable: ..."): a long
//! human text whose "Diagnostic information for administrators" section
//! names the generating server, each recipient, the remote host and
//! `Remote Server returned '<reply>'`, usually with an RFC 3464 report.

use super::common::deliveries_from_report;
use super::provider_helpers::{MAX_LINES, address_line, join_lines, mentions, refine_status};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, starts_with_ignore_case, text_before};
use rebound_core::Reason;

pub struct Office365;

const ADMIN: &str = "Diagnostic information for administrators:";
const END: &[&str] = &["Original message headers:"];

impl Decoder for Office365 {
    fn name(&self) -> &'static str {
        "Office365"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !is_exchange_ndr(mail) || !is_exchange_online(mail) {
            return None;
        }
        decode_exchange(mail)
    }
}

/// An Exchange NDR: Exchange's own NDR marker, or an "Undeliverable:"
/// subject, from the postmaster or mailer-daemon.
pub(crate) fn is_exchange_ndr(mail: &Mail) -> bool {
    let marked = mail.subject.starts_with("Undeliverable:")
        || mail.headers.contains("x-ms-exchange-message-is-ndr")
        || (mail.content_type.starts_with("multipart/report")
            && mail.headers.contains("content-language")
            && !mail.headers.value("thread-topic").is_empty());
    if !marked {
        return false;
    }
    let from = mail.from_lower.as_str();
    from.contains("postmaster@") || from.contains("mailer-daemon@")
}

/// Exchange Online (Microsoft 365) rather than an on-premises Exchange:
/// its hosts or tenant headers show.
pub(crate) fn is_exchange_online(mail: &Mail) -> bool {
    mail.headers
        .contains("x-ms-exchange-crosstenant-originalarrivaltime")
        || mail
            .headers
            .contains("x-ms-exchange-transport-crosstenantheadersstamped")
        || mail.headers.contains("x-ms-exchange-crosstenant-id")
        || mail.from_lower.contains("@outlook.com")
        || mail.from_lower.contains(".onmicrosoft.com")
        || EXCHANGE_ONLINE_MARKERS
            .iter()
            .any(|m| mentions(&mail.text, m))
}

/// Words only Exchange Online's notices carry.
static EXCHANGE_ONLINE_MARKERS: [Needle; 4] = [
    Needle::new("prod.outlook.com"),
    Needle::new("protection.outlook.com"),
    Needle::new("exchangelabs.com"),
    Needle::new("Office 365"),
];

/// Exchange's own reply in its delay notices ("400 4.4.7 Message delayed"),
/// which says nothing of the cause.
const EXCHANGE_DELAYED: &str = "Message delayed";

/// Report recipients (or the admin section's) with the admin section's
/// reply text, remote host and generating server.
pub(crate) fn decode_exchange(mail: &Mail) -> Option<Vec<Delivery>> {
    let text_found = read_admin(&mail.text);
    let mut found = deliveries_from_report(mail);
    if found.is_empty() {
        found = text_found.deliveries.clone();
    } else {
        for d in &mut found {
            let from_text = text_found
                .deliveries
                .iter()
                .find(|t| t.recipient.eq_ignore_ascii_case(&d.recipient));
            if let Some(t) = from_text {
                if d.diagnostic.is_empty() {
                    d.diagnostic = t.diagnostic.clone();
                }
                if d.rhost.is_empty() {
                    d.rhost = t.rhost.clone();
                }
            }
            if d.lhost.is_empty() {
                d.lhost = text_found.generating_server.clone();
            }
        }
    }
    for d in &mut found {
        d.status = refine_status(d.status, &d.diagnostic);
        // The remote server's replies the admin section lists for this
        // recipient besides Exchange's own (newest first).
        let remote_replies = || {
            text_found
                .deliveries
                .iter()
                .zip(&text_found.replies)
                .find(|(t, _)| t.recipient.eq_ignore_ascii_case(&d.recipient))
                .map(|(_, replies)| {
                    replies
                        .iter()
                        .filter(|r| !r.contains("QUEUE.Expired") && !r.contains(EXCHANGE_DELAYED))
                        .cloned()
                        .collect::<Vec<String>>()
                })
                .unwrap_or_default()
        };
        // Exchange's own queue-expiry code and wording.
        if d.diagnostic.contains("QUEUE.Expired") || d.diagnostic.contains("Message expired,") {
            d.reason = Some(Reason::Expired);
            // The earlier attempts' replies say why the queue expired.
            let earlier = remote_replies()
                .iter()
                .find_map(|r| rebound_classify::reply::parse(r).status);
            if let Some(status) = earlier {
                d.status = Some(status);
            }
        } else if d.diagnostic.contains(EXCHANGE_DELAYED) {
            // A delay notice reports Exchange's own "4.4.7 Message delayed";
            // the remote server's last reply below it says why.
            if let Some(reply) = remote_replies().into_iter().next() {
                if let Some(status) = rebound_classify::reply::parse(&reply).status {
                    d.status = Some(status);
                }
                d.diagnostic = reply;
            }
        }
    }
    (!found.is_empty()).then_some(found)
}

/// The administrators' section, when its English heading is there
/// (`read_admin` reads the whole text otherwise).
fn admin_section(text: &str) -> Option<&str> {
    let start = text.find(ADMIN)?;
    let rest = text.get(start + ADMIN.len()..)?;
    Some(text_before(rest, END))
}

#[derive(Default)]
struct AdminSection {
    generating_server: String,
    deliveries: Vec<Delivery>,
    /// Every quoted reply per delivery, newest first as Exchange lists them.
    replies: Vec<Vec<String>>,
}

/// ```text
/// Generating server: MX1.example.prod.outlook.com
/// a@example.com
/// mx.example.com
/// Remote Server returned '550 5.1.1 <a@example.com>... User Unknown'
/// ```
///
/// Exchange writes this section in the organisation's language
/// ("Diagnoseinformationen für Administratoren", "Le serveur distant a
/// retourné '...'", "リモート サーバーから '...' が返されました"), and its
/// report part may carry no `Diagnostic-Code`, so the remote reply is
/// found by its shape, not by the words around it: a recipient on a line of
/// its own, then the replies quoted after it (`'550 5.7.1 ...'`). Without
/// the English heading the whole text is read this way, and a recipient
/// line counts only when a quoted reply follows it (the human part may list
/// the recipient alone on a line too; the original headers end the text).
fn read_admin(text: &str) -> AdminSection {
    let (section, english) = match admin_section(text) {
        Some(section) => (section, true),
        None => (text, false),
    };
    let mut out = AdminSection::default();
    let mut lines: Vec<Vec<&str>> = Vec::new();
    for line in section.split_lines().take(MAX_LINES) {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if starts_with_ignore_case(t, "Generating server:")
            || starts_with_ignore_case(t, "Receiving server:")
        {
            if out.generating_server.is_empty() {
                out.generating_server = t.split_once(':').map_or("", |(_, v)| v.trim()).to_string();
            }
            continue;
        }
        if let Some(a) = address_line(t) {
            out.deliveries.push(Delivery {
                recipient: a,
                action: "failed".to_string(),
                ..Delivery::default()
            });
            lines.push(Vec::new());
            continue;
        }
        if let Some(l) = lines.last_mut() {
            l.push(t);
        }
    }
    let mut kept = Vec::with_capacity(out.deliveries.len());
    for (mut d, l) in std::mem::take(&mut out.deliveries).into_iter().zip(lines) {
        // A bare host name before the reply is the remote server.
        if let Some(first) = l.first()
            && !first.contains(' ')
            && first.contains('.')
        {
            d.rhost = first.to_ascii_lowercase();
        }
        let joined = join_lines(l.iter().copied());
        let replies = quoted_replies(&joined);
        d.diagnostic = match replies.first() {
            Some(reply) => reply.clone(),
            None if english => joined,
            None => continue,
        };
        out.replies.push(replies);
        kept.push(d);
    }
    out.deliveries = kept;
    out
}

/// Every SMTP reply quoted in `text` (`'550 5.1.1 ...'`), in order: a
/// quote followed by a reply code, up to the quote that closes it (one not
/// followed by a letter, so "doesn't" stays inside).
fn quoted_replies(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(open) = text
        .get(from..)
        .and_then(|r| r.find('\''))
        .map(|i| from + i)
    {
        from = open + 1;
        let code = bytes.get(open + 1..open + 5).unwrap_or_default();
        let is_reply = code.len() == 4
            && matches!(code[0], b'2'..=b'5')
            && code[1].is_ascii_digit()
            && code[2].is_ascii_digit()
            && matches!(code[3], b' ' | b'-');
        if !is_reply {
            continue;
        }
        let body = open + 1;
        let close = (body..bytes.len()).find(|&i| {
            bytes[i] == b'\'' && !bytes.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric())
        });
        let Some(close) = close else { break };
        out.push(text.get(body..close).unwrap_or("").trim().to_string());
        from = close + 1;
        if out.len() >= 20 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_admin_section_without_report() {
        let raw = "From: postmaster@example.onmicrosoft.com\nSubject: Undeliverable: hi\n\
Content-Type: text/plain\n\n\
Delivery has failed to these recipients or groups:\n\na@example.com<mailto:a@example.com>\n\n\
Diagnostic information for administrators:\n\nGenerating server: MX1.example.prod.outlook.com\n\n\
a@example.com\nmx.example.com\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'\n\n\
Original message headers:\n\nTo: a@example.com\n";
        let d = Office365
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].recipient, "a@example.com");
        assert_eq!(d[0].rhost, "mx.example.com");
        assert_eq!(
            d[0].diagnostic,
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
        );
        assert_eq!(d[0].status.unwrap().to_string(), "5.1.1");
        let other = raw.replace("Undeliverable:", "Hello:");
        assert!(
            Office365
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }

    /// A localized NDR whose report has no `Diagnostic-Code`: the remote
    /// reply is found in the text by its shape, whatever the language
    /// around it, and the human part's own recipient line gives no reply.
    #[test]
    fn localized_admin_section_gives_the_quoted_reply() {
        for (lead, tail) in [
            ("Remoteserver hat", "zur\u{fc}ckgegeben"),
            (
                "\u{30ea}\u{30e2}\u{30fc}\u{30c8} \u{30b5}\u{30fc}\u{30d0}\u{30fc}\u{304b}\u{3089}",
                "\u{304c}\u{8fd4}\u{3055}\u{308c}\u{307e}\u{3057}\u{305f}",
            ),
            ("O servidor remoto retornou", ""),
        ] {
            let raw = format!(
                "From: Microsoft Outlook <postmaster@example.de>\nSubject: Unzustellbar: hi\n\
Content-Language: de-DE\nX-MS-Exchange-Message-Is-Ndr:\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain; charset=utf-8\n\n\
Fehler bei der Zustellung an folgende Empf\u{e4}nger oder Gruppen:\n\nx@example.org\n\
Das E-Mail-System des Empf\u{e4}ngers hat Ihre Nachricht abgelehnt.\n\n\
Diagnoseinformationen f\u{fc}r Administratoren:\n\nGenerierender Server: mail.example.de\n\n\
x@example.org\nmx.example.org\n{lead} '550 5.7.1 Message rejected: we don't accept\n\
spam content' {tail}\n\n\
Urspr\u{fc}ngliche Nachrichtenkopfzeilen:\n\nTo: x@example.org\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns;mail.example.de\n\n\
Final-Recipient: rfc822;x@example.org\nAction: failed\nStatus: 5.7.1\n--B--\n"
            );
            let d = decode_exchange(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
            assert_eq!(d.len(), 1, "{lead}");
            assert_eq!(
                d[0].diagnostic, "550 5.7.1 Message rejected: we don't accept spam content",
                "{lead}"
            );
            assert_eq!(d[0].rhost, "mx.example.org", "{lead}");
        }
    }

    #[test]
    fn queue_expiry_takes_the_earlier_reply_status() {
        let raw = "From: postmaster@example.edu\nSubject: Undeliverable: hi\n\
Content-Language: en-AU\nX-MS-Exchange-Message-Is-Ndr:\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nDiagnostic information for administrators:\n\n\
Generating server: mail.example.edu\n\nx@example.org\n\
1/1/2016 8:05:56 PM - Remote Server at mx.example.org returned '550 4.4.7 QUEUE.Expired; message expired'\n\
1/1/2016 7:58:27 PM - Remote Server at mx.example.org returned '441 4.4.1 Error encountered while communicating with primary target'\n\n\
Original message headers:\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns;mail.example.edu\n\n\
Final-Recipient: rfc822;x@example.org\nAction: failed\nStatus: 4.4.7\n\
Diagnostic-Code: smtp;550 4.4.7 QUEUE.Expired; message expired\n--B--\n";
        let d = decode_exchange(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(d[0].reason, Some(Reason::Expired));
        assert_eq!(d[0].status.unwrap().to_string(), "4.4.1");
    }

    /// A delay notice reports Exchange's own "400 4.4.7 Message delayed";
    /// the remote server's reply listed below it is the cause.
    #[test]
    fn delay_notice_takes_the_remote_servers_reply() {
        let raw = "From: postmaster@example.edu\nSubject: Delivery delayed: hi\n\
Content-Language: en-US\nX-MS-Exchange-Message-Is-Ndr:\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nDelivery is delayed to these recipients or groups:\n\n\
Diagnostic information for administrators:\n\n\
Generating server: mail.example.edu\n\nx@example.org\n\
Remote Server at mx.example.org (192.0.2.8) returned '400 4.4.7 Message delayed'\n\
3/12/2024 1:20:11 PM - Remote Server at mx.example.org (192.0.2.8) returned '452 4.2.2 Mailbox full'\n\n\
Original message headers:\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns;mail.example.edu\n\n\
Final-Recipient: rfc822;x@example.org\nAction: delayed\nStatus: 4.4.7\n\
Diagnostic-Code: smtp;400 4.4.7 Message delayed\n--B--\n";
        let d = decode_exchange(&Mail::parse(raw.as_bytes()).unwrap()).unwrap();
        assert_eq!(d[0].diagnostic, "452 4.2.2 Mailbox full");
        assert_eq!(d[0].status.unwrap().to_string(), "4.2.2");
    }
}
