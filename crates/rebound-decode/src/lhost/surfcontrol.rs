//! SurfControl E-mail Filter (`X-SEF-*` headers): an RFC 3464 report plus a
//! transcript naming the host that refused (`user@dom: [192.0.2.5], 550 ...`).

use super::common::deliveries_from_report;
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{SplitLines, contains_ignore_case};

pub struct SurfControl;

impl Decoder for SurfControl {
    fn name(&self) -> &'static str {
        "SurfControl"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let marked = contains_ignore_case(mail.headers.value("x-mailer"), "SurfControl")
            || mail.headers.iter().any(|(n, _)| n.starts_with("x-sef-"));
        if !marked {
            return None;
        }
        let mut found = deliveries_from_report(mail);
        for d in &mut found {
            if !d.rhost.is_empty() {
                continue;
            }
            let prefix = format!("{}: [", d.recipient);
            if let Some(host) = mail.text.split_lines().take(300).find_map(|l| {
                let rest = l.trim().strip_prefix(prefix.as_str())?;
                Some(rest.split(']').next()?.to_string())
            }) {
                d.rhost = host;
            }
        }
        (!found.is_empty()).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_plus_remote_host() {
        let raw = "From: <>\nTo: a@example.jp\nSubject: x\nX-SEF-Processed: 1\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\n\
Failed to send to identified host,\nbob@example.org: [192.0.2.244], 554 Service currently unavailable\n\n\
--B\nContent-Type: message/delivery-status\n\nAction: failed\nFinal-Recipient: rfc822;bob@example.org\n\
Diagnostic-Code: smtp; 554 Service currently unavailable\nStatus: 5.0.0\n--B--\n";
        let d = &SurfControl
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap()[0];
        assert_eq!(d.recipient, "bob@example.org");
        assert_eq!(d.rhost, "192.0.2.244");
        assert_eq!(d.diagnostic, "554 Service currently unavailable");
        let other = raw.replace("X-SEF-Processed: 1\n", "");
        assert!(
            SurfControl
                .decode(&Mail::parse(other.as_bytes()).unwrap())
                .is_none()
        );
    }
}
