//! Bounce emails: the decoder's records as events.

use crate::{Event, Outcome, dedupe_key, domain_of, normalize_address, time_ordered_key};
use rebound_core::Reason;
use rebound_decode::Record;

/// Turns the decoder's records of one message into events (`format` is
/// `eml`, `mbox` or `maildir`), one per record, in order. The verdict is
/// the decoder's, which came from the shared classifier. `None` for a
/// record with no usable recipient. `message` is the raw message the
/// records were decoded from: a bounce that states no date is keyed by its
/// bytes (see below). `rules_id` names the rules the decoder judged with
/// ([`rebound_classify::Classifier::id`]).
///
/// Each event is about the address the sender sent to, which is not always
/// the record's recipient: see [`addressed`].
pub fn from_decoded(
    records: &[Record],
    format: &str,
    message: &[u8],
    rules_id: &str,
) -> Vec<Option<Event>> {
    records
        .iter()
        .zip(addressed(records))
        .map(|(r, address)| event_of(r, address, format, message, rules_id))
        .collect()
}

/// The address each record's event is about: the one the sender sent to.
/// A bounce from a forwarding address or an alias (Postfix's `<old@b>
/// (expanded from <ann@a>)`, a DSN's `Original-Recipient`, Exim's
/// "ultimately generated from") names the address mail was forwarded to as
/// the recipient and the address as sent as the alias. The sender's list
/// holds the alias: suppressing only the forwarding target would keep
/// mailing an address that bounces every time, so the event is the
/// alias's, soft (see [`forwarded_failure`]). An alias that several records
/// of the bounce share is a list or group expanded into members: one
/// member's failure says nothing of the others, so those events stay the
/// members'.
pub fn addressed(records: &[Record]) -> Vec<&str> {
    let shared = |alias: &str| {
        records
            .iter()
            .filter(|o| o.alias.eq_ignore_ascii_case(alias))
            .count()
            > 1
    };
    records
        .iter()
        .map(|r| {
            let alias = r.alias.trim();
            if alias.is_empty()
                || shared(alias)
                || routing_form(alias)
                || normalize_address(alias).is_none()
            {
                r.recipient.as_str()
            } else {
                alias
            }
        })
        .collect()
}

/// A failure of the address mail was forwarded to, as the verdict of the
/// address sent to: the target is dead, but the address sent to may be a
/// list whose other members receive (a bounce that shows one failed member
/// cannot tell), so it is not a hard bounce; it is suppressed when its
/// sends keep failing. The ledger's policy reads `forwarded_to` the same
/// way.
pub fn forwarded_failure(verdict: &mut rebound_core::Verdict) {
    if verdict.hardbounce {
        verdict.hardbounce = false;
        verdict.remedy = rebound_core::Remedy::RetryThenSuppress;
        verdict.explain.push_str(
            "; the address that failed is the one mail was forwarded to, so the address sent to is suppressed only if it keeps failing",
        );
    }
}

/// An address in a mail system's own routing form, not one a sender
/// writes: Exchange's encapsulated `IMCEAEX-_O=ORG_OU=…@host`, X.400
/// `/O=…/CN=…`, `key=value` parts.
fn routing_form(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    local
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("imcea"))
        || local.contains(['=', '/'])
}

fn event_of(
    r: &Record,
    address: &str,
    format: &str,
    message: &[u8],
    rules_id: &str,
) -> Option<Event> {
    let recipient = normalize_address(address)?;
    // The same address written two ways (quoted, in capitals) is no
    // forward.
    let unquoted = |a: &str| a.replace('"', "");
    let forwarded_to =
        normalize_address(&r.recipient).filter(|f| unquoted(f) != unquoted(&recipient));
    let mut verdict = r.verdict.clone();
    if forwarded_to.is_some() {
        forwarded_failure(&mut verdict);
    }
    let outcome = match r.verdict.reason {
        Reason::Feedback => Outcome::Complained,
        Reason::Vacation => Outcome::AutoReply,
        Reason::Delivered => Outcome::Delivered,
        Reason::Expired => Outcome::Expired,
        _ if r.action == "delayed" => Outcome::Deferred,
        _ if !r.feedbacktype.is_empty() => Outcome::Complained,
        _ => Outcome::Bounced,
    };
    let mut identity = format!(
        "email\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        r.token,
        recipient,
        r.verdict.reason.as_str(),
        r.messageid,
        r.diagnosticcode
    );
    // A bounce that states no date happened when it was received. Its key
    // cannot hold that time, which differs each time the same message is
    // read (a mailbox fetched again after a crash, a pipe retried after a
    // store failure): it holds the message's bytes instead, so the same
    // message gives the same key and two such bounces never share one.
    // Only the bytes every mailbox server hands out unchanged count.
    let (time_ms, key_time_ms) = if r.timestamp > 0 {
        let t = r.timestamp.saturating_mul(1000);
        (t, t)
    } else {
        let digest = xxhash_rust::xxh3::xxh3_128(&mailbox_stable_bytes(message));
        identity.push_str(&format!("\u{1f}{digest:032x}"));
        (crate::time::now_ms(), 0)
    };
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    Some(Event {
        time_ms,
        recipient_domain: domain_of(&recipient).to_string(),
        recipient,
        sender: normalize_address(&r.addresser),
        sending_ip: crate::client_ip::of_reply(outcome, &r.diagnosticcode),
        campaign: nonempty(&r.listid),
        message_id: nonempty(&r.messageid),
        outcome,
        text: r.diagnosticcode.clone(),
        format: format.to_string(),
        source: r.origin.clone(),
        dedupe_key: time_ordered_key(key_time_ms, dedupe_key(&identity)),
        verdict,
        evidence: crate::Evidence {
            recorded: true,
            replycode: r.observed.replycode,
            status: r.observed.status,
            smtpcommand: r.observed.smtpcommand.clone(),
            rhost: r.observed.rhost.clone(),
            lhost: r.observed.lhost.clone(),
            action: r.observed.action.clone(),
            hint: r.observed.reason_hint,
            temporary: false,
            esp: None,
            bounce_report: true,
            standin: r.observed.standin,
            rules_id: Some(rules_id.to_string()),
            forwarded_to,
        },
    })
}

/// What of a message survives every mailbox server unchanged: its
/// printable ASCII and its line feeds, without those at its end. IMAP and
/// POP3 hand out CRLF what was stored LF, add a last line end, and replace
/// or drop bytes IMAP cannot carry (a NUL becomes 0x80 or nothing). Two
/// different bounces that differ only in other bytes would also need the
/// same recipient, reason and reply text to share a key.
fn mailbox_stable_bytes(message: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = message
        .iter()
        .copied()
        .filter(|&b| b == b'\n' || (0x20..0x7f).contains(&b))
        .collect();
    while matches!(out.last(), Some(b'\n' | b' ')) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Postfix bounce with no Date anywhere: its event time is the time
    /// it is read.
    const DATELESS: &str = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n\
To: news@example.org\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain\r\n\
\r\n\
I'm sorry to have to inform you that your message could not be delivered.\r\n\
\r\n\
--b1\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.example.org\r\n\
\r\n\
Final-Recipient: rfc822; gone@example.net\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: User unknown\r\n\
\r\n\
--b1--\r\n";

    fn key_of(message: &str) -> [u8; 16] {
        let opts = rebound_decode::DecodeOptions::default();
        let records = rebound_decode::decode_message(message.as_bytes(), "t", &opts).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].timestamp, 0,
            "the test message must state no date"
        );
        from_decoded(
            &records,
            "eml",
            message.as_bytes(),
            rebound_classify::builtin_rules_id(),
        )[0]
        .as_ref()
        .unwrap()
        .dedupe_key
    }

    #[test]
    fn a_dateless_bounce_read_twice_has_one_key_and_two_such_bounces_two() {
        let first = key_of(DATELESS);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(first, key_of(DATELESS), "read again later: same key");
        let from_a_mailbox = format!(
            "{}\r\n",
            DATELESS.replace('\n', "\r\n").replace("\r\r", "\r")
        );
        let as_a_file = DATELESS.replace("\r\n", "\n");
        assert_eq!(first, key_of(&from_a_mailbox), "CRLF and a last line end");
        assert_eq!(first, key_of(&as_a_file), "LF");
        let with_a_nul = format!("{DATELESS}\0\r\n");
        assert_eq!(first, key_of(&with_a_nul), "a NUL IMAP cannot carry");
        let other = DATELESS.replace("I'm sorry", "Sorry");
        assert_ne!(first, key_of(&other), "another message: another key");
    }
}
