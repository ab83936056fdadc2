//! The sending IP as a receiving server's reply names it. Postfix logs
//! which server it talked to (`relay=mx.example.com[203.0.113.5]:25`), never
//! which of our addresses it talked from; but many refusals name the
//! client's address, and rates and incidents by IP need it.
//!
//! Only phrases that attribute the address to the client (us) count: an
//! address in brackets after a host name (`mx.example.com[203.0.113.5]`,
//! Postfix's own `host … said:`) is the remote server and never matches.

use std::net::IpAddr;
use std::sync::LazyLock;

/// (what it is, pattern); the first group is the address. Tried in order.
const PATTERNS: &[(&str, &str)] = &[
    // Postfix-based receivers' DNSBL refusal, and others that copy it:
    // `554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked
    // using zen.spamhaus.org`.
    ("client host", r"(?i)\bclient host \[([0-9a-f:.]+)\]"),
    // Gmail puts the client's address and a counter in brackets:
    // `421-4.7.28 [198.51.100.22      15] Our system has detected…`.
    ("gmail", r"(?:^|[\s-])\[([0-9a-f:.]+)\s+\d+\]"),
    // `… sent from IP: 198.51.100.22`, `Your IP: [198.51.100.22]`.
    ("ip:", r"(?i)\bIP:\s*\[?([0-9a-f:.]+)"),
    // `Too many connections from [198.51.100.22]`, `Rejected from
    // [198.51.100.22]`: a space before the bracket, so not a host's address.
    ("from [ip]", r"(?i)\bfrom \[([0-9a-f:.]+)\]"),
    // Yahoo: `421 4.7.0 [TSS04] Messages from 198.51.100.22 temporarily
    // deferred due to user complaints`.
    ("messages from", r"(?i)\bmessages from ([0-9a-f:.]+)"),
    // Blocklist refusals that name the listed address in their own words,
    // after the forms above: `Your IP address 192.0.2.11 is on a
    // blocklist`, `IP 192.0.2.1 listed at …`.
    (
        "ip address",
        r"(?i)\b(?:ip(?:v4)?(?:\s+address)?|address)\s+\[?(\d{1,3}(?:\.\d{1,3}){3})\b",
    ),
    // `192.0.2.9 is listed on bl.spamcop.net`, `192.0.2.9 blocked`; not a
    // server's `host[192.0.2.9]` (the bracket before it), nor part of a
    // longer dotted number (Yahoo's `4.16.55.1` reference stands alone
    // and is followed by no listing word).
    (
        "ip is listed",
        r"(?i)(?:^|[^\w.\[])(\d{1,3}(?:\.\d{1,3}){3})\s+(?:is\s+|was\s+|has\s+been\s+)?(?:listed|black|block)",
    ),
    // A lookup link of a blocklist: `…/listed/?searchterm=192.0.2.10`,
    // `…/query/ip/192.0.2.1` (a query parameter or an `/ip/` path, never a
    // URL's host or a version string).
    (
        "lookup link",
        r"(?i)(?:[?&][\w.-]*=|/ip/)(\d{1,3}(?:\.\d{1,3}){3})\b",
    ),
];

/// The patterns, and all of them as one set: most replies name no
/// address of ours, and one pass of the set says so (or which patterns to
/// run for their captures) instead of eight searches.
static COMPILED: LazyLock<(regex::RegexSet, Vec<regex::Regex>)> = LazyLock::new(|| {
    let patterns = PATTERNS.iter().map(|(_, p)| *p);
    (
        regex::RegexSet::new(patterns.clone()).expect("the patterns are valid"),
        patterns
            .map(|p| regex::Regex::new(p).expect("the patterns are valid"))
            .collect(),
    )
});

/// For an input that states no sending address (webhooks, bounce emails):
/// the one a refusal names ("Client host [198.51.100.22] blocked"), so that
/// rates and incidents by IP see it. An acceptance names none of ours.
pub fn of_reply(outcome: crate::Outcome, text: &str) -> Option<String> {
    (outcome != crate::Outcome::Delivered)
        .then(|| named_in(text, None))
        .flatten()
}

/// The client (sending) address the reply `text` names, if any; never
/// `remote`, the address of the server that wrote the reply.
pub fn named_in(text: &str, remote: Option<&str>) -> Option<String> {
    let (set, patterns) = &*COMPILED;
    let hits = set.matches(text);
    if !hits.matched_any() {
        return None;
    }
    let remote: Option<IpAddr> = remote.and_then(|r| r.parse().ok());
    hits.iter().find_map(|i| {
        patterns[i].captures_iter(text).find_map(|c| {
            let ip: IpAddr = c[1].trim_end_matches(['.', ':']).parse().ok()?;
            (Some(ip) != remote).then(|| ip.to_string())
        })
    })
}

/// The address in `host[address]:port`, Postfix's `relay=` value.
pub(crate) fn relay_address(relay: &str) -> Option<&str> {
    let inside = relay.split_once('[')?.1;
    Some(inside.split_once(']')?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_client_not_the_server() {
        let cases = [
            (
                "host mx.example.net[192.0.2.1] said: 554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked using zen.spamhaus.org (in reply to RCPT TO command)",
                Some("198.51.100.22"),
            ),
            (
                "host gmail-smtp-in.l.google.com[192.0.2.26] said: 421-4.7.28 [198.51.100.22      15] Our system has detected an unusual rate of unsolicited mail (in reply to end of DATA command)",
                Some("198.51.100.22"),
            ),
            (
                "host mx.example.org[192.0.2.9] said: 550 5.7.1 Mail refused, sender IP: 198.51.100.23. (in reply to MAIL FROM command)",
                Some("198.51.100.23"),
            ),
            (
                "host outlook-com.olc.protection.outlook.com[192.0.2.27] said: 421 4.7.0 Too many connections from [203.0.113.20], try again later.",
                Some("203.0.113.20"),
            ),
            (
                "host mta7.am0.yahoodns.net[192.0.2.30] said: 421 4.7.0 [TSS04] Messages from 198.51.100.24 temporarily deferred due to unexpected volume or user complaints",
                Some("198.51.100.24"),
            ),
            (
                "host mx.example.org[192.0.2.9] said: 554 5.7.1 Client host [2001:db8::25] blocked",
                Some("2001:db8::25"),
            ),
            // Only the remote server's address: nothing.
            (
                "host mx.example.net[192.0.2.1] said: 550 5.1.1 <a@example.net>: Recipient address rejected: User unknown",
                None,
            ),
            (
                "connect to mx.example.net[203.0.113.5]:25: Connection timed out",
                None,
            ),
            // Microsoft's tails name no address.
            (
                "host x.mail.protection.outlook.com[192.0.2.40] said: 550 5.7.1 Unfortunately, messages from weren't sent. (S3140)",
                None,
            ),
            // Not an address.
            ("550 Client host [999.1.1.1] blocked", None),
            // Blocklist refusals in their own words.
            (
                "550 5.7.1 192.0.2.9 is listed on bl.spamcop.net",
                Some("192.0.2.9"),
            ),
            (
                "550 blocked, see https://check.spamhaus.org/listed/?searchterm=192.0.2.10",
                Some("192.0.2.10"),
            ),
            (
                "550 5.7.1 Your IP address 192.0.2.11 is on a blocklist",
                Some("192.0.2.11"),
            ),
            (
                "554 Service unavailable; IP 192.0.2.12 listed at b.barracudacentral.org",
                Some("192.0.2.12"),
            ),
            (
                "550 see https://mxtoolbox.com/query/ip/192.0.2.13 for details",
                Some("192.0.2.13"),
            ),
            // A URL's host is a server, and a reference number no address.
            ("550 rejected, see http://192.0.2.14/policy.html", None),
            (
                "554 5.7.9 Message not accepted for policy reasons - 4.16.55.1",
                None,
            ),
            (
                "host mx.example.net[192.0.2.1] said: 554 5.7.1 blocked by spamhaus",
                None,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(named_in(text, None).as_deref(), want, "{text}");
        }
        // Should a reply name the server's own address as the client's,
        // it is still not ours.
        assert_eq!(
            named_in(
                "421 Too many connections from [203.0.113.5]",
                Some("203.0.113.5")
            ),
            None
        );
        assert_eq!(
            relay_address("mx.example.com[203.0.113.5]:25"),
            Some("203.0.113.5")
        );
        assert_eq!(relay_address("none"), None);
    }
}
