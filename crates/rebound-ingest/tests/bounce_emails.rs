//! Bounce emails as events: a forwarded address's bounce is about the
//! address the sender sent to (the alias), not the forwarding target,
//! unless the alias was a list expanded into several members; a refusal
//! that names the sending IP gives the event its IP.

use rebound_decode::{DecodeOptions, decode_message};
use rebound_ingest::from_decoded;

fn events(raw: &str) -> Vec<(String, Option<String>)> {
    let records = decode_message(raw.as_bytes(), "t", &DecodeOptions::default()).unwrap();
    from_decoded(&records, "eml", raw.as_bytes(), "test")
        .into_iter()
        .map(|e| {
            let e = e.expect("a usable recipient");
            (e.recipient, e.evidence.forwarded_to)
        })
        .collect()
}

fn postfix_dsn(text: &str, per_recipient: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n\
To: news@ours.example\nSubject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.net.\n\n{text}\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
{per_recipient}--B--\n"
    )
}

#[test]
fn a_forwarded_address_that_fails_is_the_senders_address_bounce() {
    let raw = postfix_dsn(
        "<old.name@other.example> (expanded from <ann@example.net>): host \
mx.other.example[192.0.2.9] said: 550 5.1.1 User unknown (in reply to RCPT TO command)",
        "Final-Recipient: rfc822; old.name@other.example\n\
Original-Recipient: rfc822;ann@example.net\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n",
    );
    assert_eq!(
        events(&raw),
        [(
            "ann@example.net".to_string(),
            Some("old.name@other.example".to_string())
        )]
    );
    // Soft for the address sent to: it may be a list whose other members
    // receive; it is suppressed if its sends keep failing.
    let records = decode_message(raw.as_bytes(), "t", &DecodeOptions::default()).unwrap();
    assert!(records[0].verdict.hardbounce, "the decoder's own verdict");
    let e = from_decoded(&records, "eml", raw.as_bytes(), "test")
        .remove(0)
        .unwrap();
    assert!(!e.verdict.hardbounce, "{}", e.verdict.explain);
    assert_eq!(e.verdict.remedy.as_str(), "retry_then_suppress");
}

#[test]
fn an_alias_in_a_mail_systems_routing_form_is_not_the_address_sent_to() {
    let raw = postfix_dsn(
        "Delivery failed.",
        "Original-Recipient: rfc822;IMCEAEX-_O=ORG_OU=EXCHANGE_CN=RECIPIENTS_CN=TOM@corp.example.com\n\
Final-Recipient: rfc822;tom@example.com\nAction: failed\nStatus: 5.1.1\n\n",
    );
    assert_eq!(events(&raw), [("tom@example.com".to_string(), None)]);
}

#[test]
fn the_same_address_written_two_ways_is_no_forward() {
    let raw = postfix_dsn(
        "Delivery failed.",
        "Original-Recipient: rfc822;neko..nyaan@example.org\n\
Final-Recipient: rfc822;\"neko..nyaan\"@example.org\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n",
    );
    let records = decode_message(raw.as_bytes(), "t", &DecodeOptions::default()).unwrap();
    let e = from_decoded(&records, "eml", raw.as_bytes(), "test")
        .remove(0)
        .unwrap();
    assert_eq!(e.evidence.forwarded_to, None);
    assert!(e.verdict.hardbounce, "{}", e.verdict.explain);
}

#[test]
fn a_list_expanded_into_members_keeps_the_members() {
    let raw = postfix_dsn(
        "<one@example.org> (expanded from <team@example.net>): host mx.example.org[192.0.2.9] \
said: 550 5.1.1 User unknown (in reply to RCPT TO command)\n\n\
<two@example.org> (expanded from <team@example.net>): host mx.example.org[192.0.2.9] \
said: 552 5.2.2 Mailbox full (in reply to RCPT TO command)",
        "Final-Recipient: rfc822; one@example.org\nOriginal-Recipient: rfc822;team@example.net\n\
Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n\
Final-Recipient: rfc822; two@example.org\nOriginal-Recipient: rfc822;team@example.net\n\
Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n\n",
    );
    assert_eq!(
        events(&raw),
        [
            ("one@example.org".to_string(), None),
            ("two@example.org".to_string(), None)
        ]
    );
}

#[test]
fn a_bounce_without_an_alias_is_its_recipients() {
    let raw = postfix_dsn(
        "<ann@example.net>: host mx.example.net[192.0.2.9] said: 550 5.1.1 User unknown \
(in reply to RCPT TO command)",
        "Final-Recipient: rfc822; ann@example.net\nOriginal-Recipient: rfc822;ann@example.net\n\
Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n",
    );
    assert_eq!(events(&raw), [("ann@example.net".to_string(), None)]);
}

#[test]
fn a_refusal_naming_the_client_gives_the_sending_ip_and_the_remote_host_does_not() {
    let raw = postfix_dsn(
        "<ann@example.net>: host mx.example.net[192.0.2.9] said: 554 5.7.1 Service \
unavailable; Client host [198.51.100.22] blocked using zen.spamhaus.org (in reply to RCPT TO command)",
        "Final-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.7.1\n\
Remote-MTA: dns; mx.example.net\n\
Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked \
using zen.spamhaus.org\n\n",
    );
    let records = decode_message(raw.as_bytes(), "t", &DecodeOptions::default()).unwrap();
    let events = from_decoded(&records, "eml", raw.as_bytes(), "test");
    let e = events[0].as_ref().unwrap();
    assert_eq!(e.sending_ip.as_deref(), Some("198.51.100.22"));
    // A refusal that names only the receiving server has no sending IP.
    let raw = postfix_dsn(
        "<ann@example.net>: host mx.example.net[192.0.2.9] said: 550 5.1.1 User unknown \
(in reply to RCPT TO command)",
        "Final-Recipient: rfc822; ann@example.net\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n",
    );
    let records = decode_message(raw.as_bytes(), "t", &DecodeOptions::default()).unwrap();
    let events = from_decoded(&records, "eml", raw.as_bytes(), "test");
    assert_eq!(events[0].as_ref().unwrap().sending_ip, None);
}
