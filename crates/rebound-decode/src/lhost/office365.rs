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
    let text_found = admin_section(&mail.text)
        .map(read_admin)
        .unwrap_or_default();
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
fn read_admin(section: &str) -> AdminSection {
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
    for (d, l) in out.deliveries.iter_mut().zip(lines) {
        // A bare host name before the reply is the remote server.
        if let Some(first) = l.first()
            && !first.contains(' ')
            && first.contains('.')
        {
            d.rhost = first.to_ascii_lowercase();
        }
        let joined = join_lines(l.iter().copied());
        out.replies.push(quoted_replies(&joined));
        d.diagnostic = match quoted_reply(&joined) {
            Some(reply) => reply.to_string(),
            None => joined,
        };
    }
    out
}

/// Every reply inside `returned '...'`, in order.
fn quoted_replies(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("returned '") {
        let after = rest.get(start + "returned '".len()..).unwrap_or("");
        let Some(end) = after.find('\'') else { break };
        out.push(after.get(..end).unwrap_or("").to_string());
        rest = after.get(end + 1..).unwrap_or("");
        if out.len() >= 20 {
            break;
        }
    }
    out
}

/// The reply inside `returned '...'`.
fn quoted_reply(text: &str) -> Option<&str> {
    let start = text.find("returned '")? + "returned '".len();
    let rest = text.get(start..)?;
    let end = rest.find('\'')?;
    rest.get(..end)
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
