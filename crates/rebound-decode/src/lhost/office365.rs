//! Microsoft 365 / Exchange Online NDRs ("Undeliverable: ..."): a long
//! human text whose "Diagnostic information for administrators" section
//! names the generating server, each recipient, the remote host and
//! `Remote Server returned '<reply>'`, usually with an RFC 3464 report.

use super::common::{deliveries_from_report, starts_with_ignore_case, text_before};
use super::providers::{MAX_LINES, address_line, join_lines, mentions, refine_status};
use super::{Decoder, Delivery};
use crate::mail::Mail;
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
    let from = mail.headers.value("from").to_ascii_lowercase();
    if !from.contains("postmaster@") && !from.contains("mailer-daemon@") {
        return false;
    }
    mail.headers.contains("x-ms-exchange-message-is-ndr")
        || mail.subject.starts_with("Undeliverable:")
        || (mail.headers.contains("content-language")
            && mail.content_type.starts_with("multipart/report")
            && !mail.headers.value("thread-topic").is_empty())
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
        || mail
            .headers
            .value("from")
            .to_ascii_lowercase()
            .contains("@outlook.com")
        || mail
            .headers
            .value("from")
            .to_ascii_lowercase()
            .contains(".onmicrosoft.com")
        || [
            "prod.outlook.com",
            "protection.outlook.com",
            "exchangelabs.com",
            "Office 365",
        ]
        .iter()
        .any(|m| mentions(&mail.text, m))
}

/// Report recipients (or the admin section's) with the admin section's
/// reply text, remote host and generating server.
pub(crate) fn decode_exchange(mail: &Mail) -> Option<Vec<Delivery>> {
    let text_found = admin_section(&mail.text)
        .map(read_admin)
        .unwrap_or_default();
    let mut found = deliveries_from_report(mail);
    if found.is_empty() {
        found = text_found.deliveries;
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
        // Exchange's own queue-expiry code and wording.
        if d.diagnostic.contains("QUEUE.Expired") || d.diagnostic.contains("Message expired,") {
            d.reason = Some(Reason::Expired);
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
    for line in section.lines().take(MAX_LINES) {
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
        d.diagnostic = match quoted_reply(&joined) {
            Some(reply) => reply.to_string(),
            None => joined,
        };
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
}
