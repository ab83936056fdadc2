//! A decoded bounce record, one per recipient, with Sisimai's field names
//! plus Rebound's verdict, and its assembly from a format decoder's
//! [`Delivery`].

use crate::delivery::Delivery;
use crate::dsn::find_address;
use crate::mail::Mail;
use rebound_classify::{Classifier, ObservationRef};
use rebound_core::{EnhancedStatus, Reason, StatusClass, Verdict};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// One recipient of one bounce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Where the message came from: the file path (`path#N` inside an mbox).
    pub origin: String,
    pub recipient: String,
    /// The sender of the original message.
    pub addresser: String,
    pub senderdomain: String,
    /// The recipient's domain.
    pub destination: String,
    /// The recipient as originally addressed, when the MTA rewrote it.
    pub alias: String,
    /// DSN action: failed, delayed, delivered, …
    pub action: String,
    pub diagnosticcode: String,
    pub diagnostictype: String,
    pub lhost: String,
    /// Unix time of the failure (or of the bounce when the report has no date).
    pub timestamp: i64,
    /// The date's zone as `+hhmm`.
    pub timezoneoffset: String,
    pub messageid: String,
    pub subject: String,
    pub listid: String,
    pub feedbacktype: String,
    /// The format decoder that read the message.
    pub decodedby: String,
    /// Sisimai-compatible identity of (addresser, recipient, timestamp).
    pub token: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// What the verdict was judged from besides the diagnostic text (not
    /// part of the record's JSON: the ledger keeps it to judge again).
    #[serde(skip)]
    pub observed: Observed,
}

/// The classifier's input for a record, as the bounce stated it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub replycode: Option<rebound_core::ReplyCode>,
    pub status: Option<EnhancedStatus>,
    pub smtpcommand: Option<String>,
    pub rhost: Option<String>,
    pub lhost: Option<String>,
    pub action: Option<String>,
    pub reason_hint: Option<Reason>,
    /// The reason the format's decoder fixed for the stand-in status
    /// ([`Delivery::standin`]).
    pub standin: Option<Reason>,
}

/// The verdict of a bounce's diagnostic `text` for `recipient`, as a record
/// gets it: the classifier's, completed with Sisimai's stand-in status when
/// the bounce stated none, without a reply code the status contradicts.
/// The one judgement of a record, at decoding and when a stored event is
/// judged again.
pub fn judge(classifier: &Classifier, text: &str, recipient: &str, o: &Observed) -> Verdict {
    let mut verdict = classifier.classify_ref(&ObservationRef {
        text,
        replycode: o.replycode,
        status: o.status,
        smtpcommand: o.smtpcommand.as_deref(),
        rhost: o.rhost.as_deref(),
        lhost: o.lhost.as_deref(),
        recipient: Some(recipient),
        action: o.action.as_deref(),
        reason_hint: o.reason_hint,
        bounce_report: true,
    });
    if verdict.deliverystatus.is_none() {
        verdict.deliverystatus =
            pseudo_status(o.standin.unwrap_or(verdict.reason), verdict.replycode, text);
        // The stand-in status can make a verdict hard (`notaccept` with
        // 5.0.932): let the classifier re-derive what depends on it.
        if verdict.deliverystatus.is_some() {
            classifier.settle(&mut verdict);
        }
    }
    // The record's reply code is the final answer's: one the status
    // contradicts (`550 4.4.7`, a relayed `554` under a DSN's `4.0.0`) or
    // that SMTP does not define (`426`, `542`) is left out, as Sisimai does.
    if verdict.replycode.is_some_and(|code| {
        !SMTP_REPLY_CODES.contains(&code.get())
            || verdict
                .deliverystatus
                .is_some_and(|s| u16::from(s.class_digit()) != code.get() / 100)
    }) {
        verdict.replycode = None;
    }
    verdict
}

/// Fields of [`Verdict`] that Sisimai does not have; `--format sisimai`
/// leaves them out.
pub const REBOUND_ONLY_FIELDS: &[&str] = &[
    "permanent",
    "owner",
    "remedy",
    "provider",
    "blocklist",
    "pattern",
    "explain",
];

impl Record {
    /// The record as Sisimai would print it: without Rebound's extra verdict
    /// fields.
    pub fn to_sisimai_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("records always serialise");
        if let Some(map) = v.as_object_mut() {
            for f in REBOUND_ONLY_FIELDS {
                map.remove(*f);
            }
        }
        v
    }
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

pub(crate) fn assemble(
    mail: &Mail,
    delivery: Delivery,
    decodedby: &str,
    origin: &str,
    classifier: &Classifier,
) -> Record {
    let original = mail.original_headers();
    let stated = (!delivery.addresser.is_empty()).then_some(delivery.addresser.as_str());
    let addresser = [
        stated,
        original.get("from"),
        original.get("return-path"),
        original.get("sender"),
        mail.headers.get("to"),
    ]
    .into_iter()
    .flatten()
    .find_map(find_address)
    .unwrap_or_default();

    let (timestamp, timezoneoffset) = parse_date(&delivery.date)
        .or_else(|| parse_date(mail.headers.value("date")))
        .unwrap_or((0, "+0000".to_string()));

    let observed = Observed {
        replycode: delivery.replycode,
        status: delivery.status,
        smtpcommand: nonempty(&delivery.command).map(str::to_string),
        rhost: nonempty(&delivery.rhost).map(str::to_string),
        lhost: nonempty(&delivery.lhost).map(str::to_string),
        action: nonempty(&delivery.action).map(str::to_string),
        reason_hint: delivery.reason.or_else(|| action_hint(&delivery)),
        standin: delivery.standin,
    };
    let verdict = judge(
        classifier,
        &delivery.diagnostic,
        &delivery.recipient,
        &observed,
    );

    let recipient = delivery.recipient;
    let token = token(&addresser, &recipient, timestamp);
    Record {
        origin: origin.to_string(),
        destination: domain_of(&recipient),
        senderdomain: domain_of(&addresser),
        recipient,
        addresser,
        alias: delivery.alias,
        action: delivery.action,
        diagnosticcode: delivery.diagnostic,
        diagnostictype: delivery.diagnostictype,
        lhost: delivery.lhost,
        timestamp,
        timezoneoffset,
        messageid: original
            .value("message-id")
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string(),
        subject: original.value("subject").to_string(),
        listid: original.value("list-id").to_string(),
        feedbacktype: delivery.feedbacktype,
        decodedby: decodedby.to_string(),
        token,
        verdict,
        observed,
    }
}

/// What the DSN action alone says: `delivered`/`relayed`/`expanded` with no
/// failure status is a delivery. `delayed` gives no reason: the MTA is still
/// retrying, nothing has expired yet, and the cause is whatever the text says
/// (the classifier reads the action itself).
fn action_hint(d: &Delivery) -> Option<Reason> {
    let failing_status = d
        .status
        .is_some_and(|s| matches!(s.class(), StatusClass::Transient | StatusClass::Permanent));
    (d.reports_success() && !failing_status).then_some(Reason::Delivered)
}

/// The detail numbers Sisimai writes in `x.0.9xx` when a bounce states no
/// enhanced status, so that records stay comparable with Sisimai's. Reasons
/// without a number here get no status.
const PSEUDO_STATUS_DETAIL: &[(Reason, u16)] = &[
    (Reason::Undefined, 900),
    (Reason::OnHold, 901),
    (Reason::SyntaxError, 902),
    (Reason::NoRelaying, 909),
    (Reason::Filtered, 910),
    (Reason::UserUnknown, 911),
    (Reason::HostUnknown, 912),
    (Reason::Rejected, 918),
    (Reason::Suspend, 921),
    (Reason::MailboxFull, 922),
    (Reason::SystemError, 930),
    (Reason::NotAccept, 932),
    (Reason::MesgTooBig, 934),
    (Reason::MailerError, 939),
    (Reason::NetworkError, 944),
    (Reason::Expired, 947),
    (Reason::Blocked, 971),
    (Reason::RequirePtr, 973),
    (Reason::FailedStartTls, 976),
    (Reason::SpamDetected, 980),
];

/// The reply codes SMTP defines (RFC 5321, 3207, 4954, 7504, 3030, 6531 …).
const SMTP_REPLY_CODES: &[u16] = &[
    211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 453, 454, 455, 458,
    459, 500, 501, 502, 503, 504, 521, 523, 524, 525, 530, 534, 535, 538, 550, 551, 552, 553, 554,
    555, 556,
];

/// Words by which an MTA says a failure was temporary when it gives no code.
/// Exim's "all hosts have been failing for a long time" is its retry
/// cut-off: the hosts' failures were temporary ones, as Sisimai reads it.
const TEMPORARY_WORDS: &[&str] = &[
    "temporar",
    "persistent",
    "retry timeout exceeded",
    "have been failing for a long time",
];

/// A stand-in enhanced status for a record whose bounce stated none, as
/// Sisimai writes it: the class from the reply code, or 4 when the text says
/// the failure was temporary, else 5 (a delivery that was given up on after
/// retries is final); the detail from the reason (the verdict's, unless the
/// format's decoder fixed another: [`Delivery::standin`]).
fn pseudo_status(
    reason: Reason,
    replycode: Option<rebound_core::ReplyCode>,
    diagnostic: &str,
) -> Option<EnhancedStatus> {
    let detail = PSEUDO_STATUS_DETAIL.iter().find(|(r, _)| *r == reason)?.1;
    let class = match replycode.map(|c| c.class()) {
        Some(StatusClass::Transient) => 4,
        Some(StatusClass::Permanent) => 5,
        Some(_) => return None,
        None => {
            let lower = diagnostic.to_ascii_lowercase();
            if TEMPORARY_WORDS.iter().any(|w| lower.contains(w)) {
                4
            } else {
                5
            }
        }
    };
    EnhancedStatus::new(class, 0, detail)
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Sisimai's record token: SHA-1 over STX addresser RS recipient RS time ETX.
pub fn token(addresser: &str, recipient: &str, timestamp: i64) -> String {
    // Fed piece by piece: no formatted copy of the whole.
    let mut h = Sha1::new();
    let lower = |h: &mut Sha1, text: &str| {
        for chunk in text.as_bytes().chunks(64) {
            let mut buf = [0u8; 64];
            let buf = &mut buf[..chunk.len()];
            buf.copy_from_slice(chunk);
            buf.make_ascii_lowercase();
            h.update(&*buf);
        }
    };
    h.update(b"\x02");
    lower(&mut h, addresser);
    h.update(b"\x1e");
    lower(&mut h, recipient);
    h.update(b"\x1e");
    h.update(itoa::Buffer::new().format(timestamp).as_bytes());
    h.update(b"\x03");
    // Hex by hand: a `format!` per byte was most of this function's time.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = h.finalize();
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses an RFC 5322 date into Unix time and a `+hhmm` offset.
pub fn parse_date(value: &str) -> Option<(i64, String)> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    // DSN dates sometimes carry a `dns;`-style prefix or a trailing comment.
    let value = value
        .split_once(';')
        .map_or(value, |(a, b)| if a.len() < 10 { b.trim() } else { value });
    let dt = mail_parser::DateTime::parse_rfc822(value)?;
    if !dt.is_valid() {
        return None;
    }
    let sign = if dt.tz_before_gmt { '-' } else { '+' };
    let mut zone = String::with_capacity(5);
    zone.push(sign);
    for n in [dt.tz_hour, dt.tz_minute] {
        // `{:02}`: at least two digits.
        if n < 10 {
            zone.push('0');
        }
        zone.push_str(itoa::Buffer::new().format(n));
    }
    Some((dt.to_timestamp(), zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_sisimai_formula() {
        // Sisimai's documented token for this triple (from its own test data).
        assert_eq!(
            token(
                "shironeko@mx.example.jp",
                "r@p351355.pool.example.ne.jp",
                1367246741
            ),
            "d82d8f0a231abc350228f3e3832194d9c11dc07c"
        );
    }

    #[test]
    fn token_fed_in_pieces_is_the_digest_of_the_whole() {
        // Sisimai's definition, written out in one formatted piece.
        let reference = |addresser: &str, recipient: &str, timestamp: i64| -> String {
            let mut h = Sha1::new();
            h.update(
                format!(
                    "\x02{}\x1e{}\x1e{}\x03",
                    addresser.to_ascii_lowercase(),
                    recipient.to_ascii_lowercase(),
                    timestamp
                )
                .as_bytes(),
            );
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        };
        for n in [0, 7, 10, 1367246741, -1, -305, i64::MAX, i64::MIN] {
            assert_eq!(token("a@b", "C@D", n), reference("a@b", "C@D", n), "{n}");
        }
        // Long addresses are fed in pieces: the same digest as one piece.
        let long = "A".repeat(200) + "@Example.ORG";
        assert_eq!(token(&long, "B@C", 5), reference(&long, "B@C", 5));
    }

    #[test]
    fn dates_parse_with_zone() {
        let (t, z) = parse_date("Thu, 29 Apr 2013 23:45:41 +0900 (JST)").unwrap();
        assert_eq!(t, 1367246741);
        assert_eq!(z, "+0900");
        assert!(parse_date("not a date").is_none());
    }
}
