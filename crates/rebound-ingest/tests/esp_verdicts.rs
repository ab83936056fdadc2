//! The ESPs' own classifications as evidence: every fixture of `esp/` read
//! through the real classifier, checked against the decision its class
//! documents; records without a time; kinds of record that are unknown or
//! carry no delivery outcome.

mod esp;

use esp::{CASES, Expect, RECEIVED_MS};
use rebound_core::Reason;
use rebound_ingest::{Event, EventReader, Outcome, ReaderOptions};
use std::collections::BTreeMap;

fn read(text: &str) -> (Vec<Event>, Vec<String>, BTreeMap<String, u64>) {
    let mut r = EventReader::new(text.as_bytes(), "hook.json", ReaderOptions::default())
        .unwrap()
        .received_at(RECEIVED_MS);
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for item in r.by_ref() {
        match item {
            Ok(e) => ok.push(e),
            Err(e) => bad.push(e.to_string()),
        }
    }
    (ok, bad, r.skipped().clone())
}

const HARD_REASONS: &[Reason] = &[
    Reason::UserUnknown,
    Reason::HostUnknown,
    Reason::HasMoved,
    Reason::NotAccept,
];

/// What the verdict alone says about the expectation (the ledger's policy
/// is checked exactly in `rebound-ledger/tests/esp_policy.rs`).
fn agrees(e: &Event, want: Expect) -> bool {
    let v = &e.verdict;
    let soft = matches!(v.reason, Reason::MailboxFull | Reason::Suspend);
    let may_be_hard = e.outcome == Outcome::Bounced
        && v.permanent != Some(false)
        && (v.hardbounce || HARD_REASONS.contains(&v.reason));
    match want {
        Expect::Suppress => e.outcome == Outcome::Complained || (v.hardbounce && may_be_hard),
        Expect::Soft => soft && !v.hardbounce && e.outcome == Outcome::Bounced,
        Expect::Keep => !v.hardbounce && !may_be_hard && e.outcome != Outcome::Complained,
    }
}

#[test]
fn every_fixture_gets_the_documented_decision() {
    let mut wrong = Vec::new();
    let mut total = 0;
    for case in CASES {
        let (ev, bad, _) = read(case.body);
        if !bad.is_empty() || ev.len() != case.expect.len() {
            wrong.push(format!("{}: events {ev:?}, errors {bad:?}", case.name));
            total += case.expect.len();
            continue;
        }
        for (e, (rcpt, want, reason)) in ev.iter().zip(case.expect) {
            total += 1;
            let reason_ok = reason.is_none_or(|r| r == e.verdict.reason);
            if e.recipient != *rcpt || !reason_ok || !agrees(e, *want) {
                wrong.push(format!(
                    "{}: {rcpt} want {want:?} {reason:?}, got {} {} hard={} permanent={:?} ({})",
                    case.name,
                    e.outcome.as_str(),
                    e.verdict.reason,
                    e.verdict.hardbounce,
                    e.verdict.permanent,
                    e.verdict.explain
                ));
            }
        }
    }
    eprintln!(
        "{}/{total} fixture recipients as documented",
        total - wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn records_without_a_time_take_the_time_received() {
    let bodies = [
        r#"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.org"}],"complaintFeedbackType":"abuse"},"mail":{"messageId":"m1"}}"#,
        r#"{"email":"b@example.net","event":"delivered","sg_event_id":"e1","response":"250 OK"}"#,
        r#"{"event-data":{"id":"mg1","event":"failed","severity":"permanent","reason":"bounce","delivery-status":{"code":550,"message":"5.1.1 no such user"},"recipient":"c@example.com"}}"#,
        r#"{"RecordType":"Bounce","ID":9,"Type":"HardBounce","Email":"d@example.com","Details":"smtp;550 5.1.1 unknown user"}"#,
        r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"10","event_id":"s1","rcpt_to":"e@example.io"}}}"#,
        // A time that cannot be read counts as none.
        r#"{"email":"f@example.net","event":"bounce","sg_event_id":"e2","timestamp":"yesterday","reason":"550 5.1.1 user unknown","type":"bounce"}"#,
    ];
    for body in bodies {
        let (ev, bad, _) = read(body);
        assert!(bad.is_empty(), "{body}: {bad:?}");
        assert_eq!(ev.len(), 1, "{body}");
        assert_eq!(ev[0].time_ms, RECEIVED_MS, "{body}");
    }
    // The same record posted again later is the same event: the time of
    // receipt is not part of its identity (only of its key's time prefix,
    // which is why the key is compared without it).
    let body = r#"{"email":"g@example.net","event":"bounce","reason":"550 5.1.1 user unknown","type":"bounce"}"#;
    let (a, _, _) = read(body);
    let r = EventReader::new(body.as_bytes(), "hook.json", ReaderOptions::default())
        .unwrap()
        .received_at(RECEIVED_MS + 60_000);
    let b: Vec<Event> = r.map(Result::unwrap).collect();
    assert_eq!(b[0].time_ms, RECEIVED_MS + 60_000);
    assert_eq!(a[0].dedupe_key[6..], b[0].dedupe_key[6..]);
}

#[test]
fn unknown_kinds_are_rejected_by_name() {
    let cases = [
        (
            r#"{"email":"a@example.net","timestamp":1,"event":"bounce_v9","sg_event_id":"x"}"#,
            r#"unknown SendGrid event type "bounce_v9""#,
        ),
        (
            r#"{"notificationType":"Bounce2","mail":{}}"#,
            r#"unknown SES notification type "Bounce2""#,
        ),
        (
            r#"{"event-data":{"event":"exploded","recipient":"a@example.com","timestamp":1}}"#,
            r#"unknown Mailgun event type "exploded""#,
        ),
        (
            r#"{"RecordType":"Inbound","Email":"a@example.com"}"#,
            r#"unknown Postmark RecordType "Inbound""#,
        ),
        (
            r#"{"msys":{"message_event":{"type":"teleported","rcpt_to":"a@example.io"}}}"#,
            r#"unknown SparkPost message_event type "teleported""#,
        ),
        (
            r#"{"msys":{"weird_event":{"type":"x"}}}"#,
            r#"unknown SparkPost event group"#,
        ),
    ];
    for (body, message) in cases {
        let (ev, bad, skipped) = read(body);
        assert!(ev.is_empty(), "{body}");
        assert!(skipped.is_empty(), "{body}: {skipped:?}");
        assert_eq!(bad.len(), 1, "{body}");
        assert!(bad[0].contains(message), "{body}: {}", bad[0]);
    }
}

/// A bounce whose type Postmark's table does not name (by name or by
/// code) is still a bounce, and its `Details` say what happened, as for
/// SparkPost's unknown bounce classes; only a record type we do not know
/// is refused (above).
#[test]
fn unknown_bounce_types_are_read_by_their_text() {
    let body = r#"[
{"RecordType":"Bounce","ID":1,"Type":"InboxFull","Email":"a@example.com","BouncedAt":"2026-11-02T10:00:00Z","Details":"452 4.2.2 The email account that you tried to reach is over quota"},
{"RecordType":"Bounce","ID":2,"TypeCode":777,"Email":"b@example.com","BouncedAt":"2026-11-02T10:00:01Z","Details":"550 5.1.1 The email account that you tried to reach does not exist"},
{"RecordType":"Bounce","ID":3,"Type":"MegaBounce","Email":"c@example.com","BouncedAt":"2026-11-02T10:00:02Z","Details":"554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org"}
]"#;
    let (ev, bad, skipped) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    assert!(skipped.is_empty(), "{skipped:?}");
    let got: Vec<(&str, Reason, bool)> = ev
        .iter()
        .map(|e| (e.recipient.as_str(), e.verdict.reason, e.verdict.hardbounce))
        .collect();
    assert_eq!(
        got,
        [
            ("a@example.com", Reason::MailboxFull, false),
            ("b@example.com", Reason::UserUnknown, true),
            ("c@example.com", Reason::Blocked, false),
        ]
    );
    let said = ev[0].evidence.esp.as_deref().unwrap_or("");
    assert!(said.contains("Type=InboxFull"), "{said}");
}

/// Request bodies kept together in one file: a JSON array whose elements
/// are each one POST's body (SendGrid's arrays, a Mandrill form field's
/// events). Every event is read; a deeper nesting is not guessed at.
#[test]
fn an_array_of_request_bodies_reads_every_event() {
    let body = r#"[
[{"email":"a@example.net","timestamp":1795000000,"event":"bounce","type":"bounce","reason":"550 5.1.1 user unknown","sg_event_id":"a1"}],
[{"email":"b@example.net","timestamp":1795000001,"event":"delivered","response":"250 OK","sg_event_id":"b1"},
 {"email":"c@example.net","timestamp":1795000002,"event":"deferred","response":"451 4.2.2 mailbox full","sg_event_id":"c1"}],
[[{"email":"d@example.net","timestamp":1795000003,"event":"delivered","sg_event_id":"d1"}]]
]"#;
    let (ev, bad, _) = read(body);
    let got: Vec<(&str, Outcome)> = ev
        .iter()
        .map(|e| (e.recipient.as_str(), e.outcome))
        .collect();
    assert_eq!(
        got,
        [
            ("a@example.net", Outcome::Bounced),
            ("b@example.net", Outcome::Delivered),
            ("c@example.net", Outcome::Deferred),
        ]
    );
    assert_eq!(bad.len(), 1, "{bad:?}");
}

#[test]
fn kinds_without_a_delivery_outcome_are_counted_not_rejected() {
    let body = r#"[
{"email":"a@example.net","timestamp":1,"event":"open","sg_event_id":"o1"},
{"email":"a@example.net","timestamp":2,"event":"click","sg_event_id":"c1"},
{"email":"a@example.net","timestamp":3,"event":"processed","sg_event_id":"p1"},
{"email":"a@example.net","timestamp":4,"event":"group_resubscribe","sg_event_id":"g1"},
{"email":"a@example.net","timestamp":5,"event":"open","sg_event_id":"o2"},
{"eventType":"Send","mail":{"messageId":"m"},"send":{}},
{"event-data":{"event":"opened","recipient":"a@example.com","timestamp":1}},
{"RecordType":"Open","Recipient":"a@example.com"},
{"RecordType":"Bounce","Type":"ChallengeVerification","Email":"a@example.com"},
{"msys":{"track_event":{"type":"click"}}},
{"msys":{"message_event":{"type":"bounce","bounce_class":"90","rcpt_to":"a@example.io"}}}
]"#;
    let (ev, bad, skipped) = read(body);
    assert!(ev.is_empty(), "{ev:?}");
    assert!(bad.is_empty(), "{bad:?}");
    let want: BTreeMap<String, u64> = [
        ("sendgrid open", 2),
        ("sendgrid click", 1),
        ("sendgrid processed", 1),
        ("sendgrid group_resubscribe", 1),
        ("ses Send", 1),
        ("mailgun opened", 1),
        ("postmark Open", 1),
        ("postmark ChallengeVerification", 1),
        ("sparkpost track_event", 1),
        ("sparkpost bounce class 90", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(skipped, want);
}

/// A bounce `type` SendGrid may add later: the event kind is known, so it
/// is read, and the text alone decides (a kind that is unknown is
/// rejected: `unknown_kinds_are_rejected_by_name`).
#[test]
fn sendgrid_bounce_of_an_unknown_type_is_read_by_its_text() {
    let body = r#"{"email":"a@example.net","timestamp":1,"event":"bounce","sg_event_id":"x","type":"newkind","reason":"550 5.1.1 <a@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"}"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev[0].outcome, Outcome::Bounced);
    assert_eq!(ev[0].verdict.reason, Reason::UserUnknown);
    let body = r#"{"email":"b@example.net","timestamp":1,"event":"bounce","sg_event_id":"y","type":"newkind","reason":"no reason known"}"#;
    let (ev, _, _) = read(body);
    assert_ne!(ev[0].verdict.reason, Reason::UserUnknown);
}

/// Likewise a SparkPost `bounce_class` not in the documented table.
#[test]
fn sparkpost_bounce_of_an_unknown_class_is_read_by_its_text() {
    let body = r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"99","event_id":"u1","rcpt_to":"a@example.io","raw_reason":"552 5.2.2 Mailbox full","timestamp":"1772445800"}}}"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev[0].outcome, Outcome::Bounced);
    assert_eq!(ev[0].verdict.reason, Reason::MailboxFull);
}

/// SendGrid's suppression-list API entries (no `event`, `created` for the
/// time): on the bounce and block lists (with `status`) the text decides;
/// an invalid emails list entry (no `status`) is a dead address.
#[test]
fn sendgrid_bounce_list_entries_are_read() {
    let body = r#"[{"created":1443651125,"email":"one@example.net","reason":"550 5.1.1 The email account that you tried to reach does not exist.","status":"5.1.1"},
{"created":"2011-10-08 13:57:43","email":"two@example.net","reason":"550 5.2.2 <two@example.net>... Mailbox Full ","status":"5.2.2"},
{"created":1443651126,"email":"three@example","reason":"Does not meet format standards"}]"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 3);
    // No `status`: an entry of the invalid emails list, a dead address.
    assert_eq!(ev[2].verdict.reason, Reason::UserUnknown);
    assert!(ev[2].verdict.hardbounce);
    assert_eq!(ev[0].format, "sendgrid");
    assert_eq!(ev[0].time_ms, 1_443_651_125_000);
    assert_eq!(ev[0].verdict.reason, Reason::UserUnknown);
    assert!(ev[0].verdict.hardbounce);
    assert_eq!(ev[1].verdict.reason, Reason::MailboxFull);
    assert_eq!(
        ev[1].time_ms,
        rebound_ingest::time::parse_iso("2011-10-08T13:57:43Z").unwrap()
    );
}

/// The SES and SendGrid payloads of `../shared/corpus/sisimai-extra` (no
/// expectations there): every record reads, and no block or temporary
/// failure comes out as a hard bounce. Prints each verdict for review.
#[test]
fn shared_extra_payloads_read_sensibly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/sisimai-extra/esp-json");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: {} is absent", dir.display());
        return;
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let mut events = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let (ev, bad, skipped) = read(&text);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(bad.is_empty(), "{name}: {bad:?}");
        assert!(!ev.is_empty(), "{name}: no events ({skipped:?})");
        for e in &ev {
            events += 1;
            eprintln!(
                "{name}: {} {} {} hard={} permanent={:?}",
                e.recipient,
                e.outcome.as_str(),
                e.verdict.reason,
                e.verdict.hardbounce,
                e.verdict.permanent
            );
            if e.verdict.permanent == Some(false) {
                assert!(!e.verdict.hardbounce, "{name}: {e:?}");
            }
        }
    }
    eprintln!("{events} events");
}

/// Identities without an ESP event id still hash the stated time as
/// milliseconds, as before the time of receipt existed: stored keys must
/// not change.
#[test]
fn identities_without_an_event_id_are_unchanged() {
    use rebound_ingest::{dedupe_key, time_ordered_key};
    let body = r#"{"email":"Old@example.net","timestamp":1513299571,"event":"bounce","sg_message_id":"sgm-x","reason":"550 5.1.1 user unknown","type":"bounce"}"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    let t = 1_513_299_571_000;
    assert_eq!(
        ev[0].dedupe_key,
        time_ordered_key(
            t,
            dedupe_key(&format!(
                "sendgrid\u{1f}bounce\u{1f}{t}\u{1f}sgm-x\u{1f}old@example.net"
            ))
        )
    );
    let body = r#"{"event-data":{"event":"failed","severity":"permanent","timestamp":1521472262.908181,"recipient":"a@example.com","reject":{"reason":"x"}}}"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    let t = 1_521_472_262_908;
    assert_eq!(
        ev[0].dedupe_key,
        time_ordered_key(
            t,
            dedupe_key(&format!("mailgun\u{1f}failed\u{1f}{t}\u{1f}a@example.com"))
        )
    );
}

#[test]
fn mailgun_rejected_is_not_sent_and_says_why() {
    let body = r#"{"event-data":{"id":"rj1","event":"rejected","timestamp":1521472262,"recipient":"a@example.com","reject":{"reason":"Sandbox subdomains are for test purposes only.","description":""}}}"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev[0].outcome, Outcome::Dropped);
    assert_eq!(ev[0].text, "Sandbox subdomains are for test purposes only.");
    assert!(!ev[0].verdict.hardbounce);
}

/// SES accepted these messages and never sent them: a virus (`Reject`) or a
/// template that would not render. Each destination gets a dropped event
/// naming the content problem, and none of them is suppressed or counted
/// against the recipient.
#[test]
fn ses_messages_it_never_sent_are_dropped_for_their_content() {
    let body = r#"[
{"eventType":"Reject","mail":{"timestamp":"2026-11-30T10:00:00.000Z","messageId":"m1","source":"s@example.org","destination":["a@example.net","b@example.net"]},"reject":{"reason":"Bad content"}},
{"eventType":"Rendering Failure","mail":{"timestamp":"2026-11-30T10:01:00.000Z","messageId":"m2","source":"s@example.org","destination":["c@example.net"]},"failure":{"errorMessage":"Attribute 'name' is not present in the rendering data.","templateName":"welcome"}}
]"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    let got: Vec<(&str, Outcome, Reason, bool)> = ev
        .iter()
        .map(|e| {
            (
                e.recipient.as_str(),
                e.outcome,
                e.verdict.reason,
                e.verdict.hardbounce,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "a@example.net",
                Outcome::Dropped,
                Reason::VirusDetected,
                false
            ),
            (
                "b@example.net",
                Outcome::Dropped,
                Reason::VirusDetected,
                false
            ),
            (
                "c@example.net",
                Outcome::Dropped,
                Reason::ContentError,
                false
            ),
        ]
    );
    assert!(ev[2].text.contains("is not present"), "{}", ev[2].text);
}

/// SparkPost's `gen_event` "generation_failure": the template did not
/// render for this recipient, so nothing was sent. A dropped send for its
/// content, not a failure against the recipient; other generation events
/// still give none.
#[test]
fn sparkpost_generation_failures_are_dropped_for_their_content() {
    let body = r#"[
{"msys":{"gen_event":{"type":"generation_failure","event_id":"1","timestamp":"2026-11-30T10:00:00.000Z","message_id":"g1","transmission_id":"t1","rcpt_to":"d@example.net","friendly_from":"s@example.org","template_id":"welcome","error_code":"1902","raw_reason":"Message generation rejected","reason":"Message generation rejected"}}},
{"msys":{"gen_event":{"type":"generation_rejection","event_id":"2","timestamp":"2026-11-30T10:00:01.000Z","message_id":"g2","transmission_id":"t1","rcpt_to":"e@example.net","friendly_from":"s@example.org","error_code":"1903","raw_reason":"policy","reason":"policy"}}}
]"#;
    let (ev, bad, _) = read(body);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].recipient, "d@example.net");
    assert_eq!(ev[0].outcome, Outcome::Dropped);
    assert_eq!(ev[0].verdict.reason, Reason::ContentError);
    assert!(!ev[0].verdict.hardbounce);
}
