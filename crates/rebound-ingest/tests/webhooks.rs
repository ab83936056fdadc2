//! ESP webhook payloads as the providers document them, read end to end.

use rebound_core::Reason;
use rebound_ingest::{Event, EventReader, Format, Outcome, ReaderOptions, time};

fn read(text: &str, format: Format) -> (Vec<Event>, Vec<String>) {
    let r = EventReader::new(
        text.as_bytes(),
        "hook.json",
        ReaderOptions {
            format,
            year: Some(2026),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for item in r {
        match item {
            Ok(e) => ok.push(e),
            Err(e) => bad.push(e.to_string()),
        }
    }
    (ok, bad)
}

const SES_BOUNCE: &str = r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"jane@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"},{"emailAddress":"Richard@Example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000","remoteMtaIp":"127.0.2.0","reportingMTA":"dsn; a8-70.smtp-out.amazonses.com"},"mail":{"timestamp":"2016-01-27T14:59:38.237Z","source":"john@example.com","sourceArn":"arn:aws:ses:us-east-1:888888888888:identity/example.com","sourceIp":"127.0.3.0","sendingAccountId":"123456789012","messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000","destination":["jane@example.com","mary@example.com","richard@example.com"],"headersTruncated":false,"headers":[{"name":"From","value":"\"John Doe\" <john@example.com>"},{"name":"X-Campaign","value":"spring-sale"}],"tags":{"ses:outgoing-ip":["54.240.9.183"]}}}"#;

#[test]
fn ses_bounce_raw_and_in_sns_envelope() {
    let (ev, bad) = read(SES_BOUNCE, Format::Auto);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].recipient, "jane@example.com");
    assert_eq!(ev[1].recipient, "richard@example.com");
    assert_eq!(ev[0].format, "ses");
    assert_eq!(ev[0].outcome, Outcome::Bounced);
    assert_eq!(
        ev[0].time_ms,
        time::parse_iso("2016-01-27T14:59:38.237Z").unwrap()
    );
    assert_eq!(ev[0].sender.as_deref(), Some("john@example.com"));
    assert_eq!(ev[0].sending_ip.as_deref(), Some("54.240.9.183"));
    assert_eq!(ev[0].campaign.as_deref(), Some("spring-sale"));
    assert_eq!(ev[0].text, "550 5.1.1 user unknown");
    assert_eq!(ev[0].verdict.deliverystatus.unwrap().to_string(), "5.1.1");
    assert_eq!(ev[0].verdict.replycode.unwrap().get(), 550);
    assert_ne!(ev[0].dedupe_key, ev[1].dedupe_key);
    // What the verdict was judged from is kept: SES's own classification
    // as stated, the status it gave as a field, the action, the rules.
    let evidence = &ev[0].evidence;
    assert!(evidence.recorded);
    assert_eq!(
        evidence.esp.as_deref(),
        Some("bounceType=Permanent; bounceSubType=General")
    );
    assert_eq!(
        evidence.status.map(|s| s.to_string()).as_deref(),
        Some("5.1.1")
    );
    assert_eq!(evidence.action.as_deref(), Some("failed"));
    assert_eq!(
        evidence.rules_id.as_deref(),
        Some(rebound_classify::builtin_rules_id())
    );
    // Judged again by the same rules, the verdict is the same.
    let mut judge = rebound_ingest::Judge::new(rebound_classify::Classifier::builtin());
    assert_eq!(judge.verdict(&ev[0]), ev[0].verdict);

    let sns = serde_json::json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Message": SES_BOUNCE,
        "Timestamp": "2016-01-27T14:59:39.000Z",
    })
    .to_string();
    let (ev2, bad) = read(&sns, Format::Auto);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev2.len(), 2);
    // Same notification, same identity: re-delivery by SNS dedupes.
    assert_eq!(ev2[0].dedupe_key, ev[0].dedupe_key);
}

#[test]
fn ses_complaint_and_delivery() {
    let complaint = r#"{"notificationType":"Complaint","complaint":{"userAgent":"AnyCompany Feedback Loop (V0.01)","complainedRecipients":[{"emailAddress":"richard@example.com"}],"complaintFeedbackType":"abuse","arrivalDate":"2016-01-27T14:59:38.237Z","timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"},"mail":{"timestamp":"2016-01-27T14:59:38.237Z","messageId":"000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000","source":"john@example.com","destination":["richard@example.com"]}}"#;
    let delivery = r#"{"eventType":"Delivery","mail":{"timestamp":"2016-01-27T14:59:38.237Z","messageId":"0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000","source":"john@example.com","destination":["jane@example.com"]},"delivery":{"timestamp":"2016-01-27T14:59:38.237Z","recipients":["jane@example.com"],"processingTimeMillis":546,"reportingMTA":"a8-70.smtp-out.amazonses.com","smtpResponse":"250 ok:  Message 64111812 accepted","remoteMtaIp":"127.0.2.0"}}"#;
    let (ev, bad) = read(&format!("{complaint}\n{delivery}\n"), Format::Ses);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].outcome, Outcome::Complained);
    assert_eq!(ev[0].verdict.reason, Reason::Feedback);
    assert_eq!(ev[0].source, "hook.json:1");
    assert_eq!(ev[1].outcome, Outcome::Delivered);
    assert_eq!(ev[1].verdict.reason, Reason::Delivered);
    assert_eq!(ev[1].verdict.replycode.unwrap().get(), 250);
    assert_eq!(ev[1].source, "hook.json:2");
}

#[test]
fn sendgrid_event_array() {
    let body = r#"[
  {"email":"example@test.com","timestamp":1513299569,"smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>","event":"processed","category":"cat facts","sg_event_id":"rbtnWrG1DVDGGGFHFyun0A==","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"},
  {"email":"example@test.com","timestamp":1513299570,"smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>","event":"delivered","category":"cat facts","sg_event_id":"rWVYmVk90MjZJ9iohOBa3w==","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000","response":"250 OK","ip":"192.0.2.44"},
  {"email":"bad@test.com","timestamp":1513299571,"smtp-id":"<14c5d75ce93.dfd.64b470@ismtpd-555>","event":"bounce","category":["newsletter","weekly"],"sg_event_id":"6g4ZI7SA-xmRDv57GoPIPw==","sg_message_id":"14c5d75ce93.dfd.64b470.filter0001.16648.5515E0B88.000000000000000000000","reason":"500 unknown recipient","status":"5.0.0","type":"bounce","ip":"192.0.2.44"},
  {"email":"slow@test.com","timestamp":1513299572,"event":"deferred","sg_event_id":"t7LEShmowp86DTdUW8M-GQ==","sg_message_id":"x","response":"400 try again later","attempt":"5"},
  {"email":"angry@test.com","timestamp":1513299573,"event":"spamreport","sg_event_id":"37nvH5QBz858KGVYCM4uOA==","sg_message_id":"y"},
  {"email":"gone@test.com","timestamp":1513299574,"event":"dropped","sg_event_id":"zmzJhfJgAfUSOW80yEbPyw==","sg_message_id":"z","reason":"Bounced Address","status":"5.0.0"},
  {"email":"x@test.com","timestamp":1513299575,"event":"open","sg_event_id":"open1"},
  {"timestamp":1513299576,"event":"bounce","sg_event_id":"broken"}
]"#;
    let (ev, bad) = read(body, Format::Auto);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].starts_with("hook.json#8:"), "{}", bad[0]);
    let outcomes: Vec<_> = ev
        .iter()
        .map(|e| (e.recipient.as_str(), e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("example@test.com", Outcome::Delivered),
            ("bad@test.com", Outcome::Bounced),
            ("slow@test.com", Outcome::Deferred),
            ("angry@test.com", Outcome::Complained),
            ("gone@test.com", Outcome::Dropped),
        ]
    );
    assert_eq!(ev[0].sending_ip.as_deref(), Some("192.0.2.44"));
    assert_eq!(ev[0].campaign.as_deref(), Some("cat facts"));
    assert_eq!(ev[1].campaign.as_deref(), Some("newsletter"));
    assert_eq!(
        ev[1].message_id.as_deref(),
        Some("14c5d75ce93.dfd.64b470@ismtpd-555")
    );
    assert_eq!(ev[1].verdict.replycode.unwrap().get(), 500);
    assert_eq!(ev[1].time_ms, 1_513_299_571_000);
    assert_eq!(ev[3].verdict.reason, Reason::Feedback);
    assert_eq!(ev[4].verdict.reason, Reason::Suppressed);
}

#[test]
fn sendgrid_drops_for_an_account_limit_or_an_unknown_reason_are_no_suppression() {
    let body = r#"[
  {"email":"a@test.com","timestamp":1513299574,"event":"dropped","sg_event_id":"d1","sg_message_id":"z1","reason":"Recipient List over Package Quota"},
  {"email":"b@test.com","timestamp":1513299575,"event":"dropped","sg_event_id":"d2","sg_message_id":"z2","reason":"A Reason Not Yet Documented"},
  {"email":"c@test.com","timestamp":1513299576,"event":"dropped","sg_event_id":"d3","sg_message_id":"z3"}
]"#;
    let (ev, bad) = read(body, Format::Sendgrid);
    assert!(bad.is_empty(), "{bad:?}");
    let verdicts: Vec<_> = ev
        .iter()
        .map(|e| (e.outcome, e.verdict.reason, e.verdict.remedy.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            // The plan's recipient quota: the sender's limit.
            (Outcome::Dropped, Reason::Speeding, "slow_down"),
            // Words nobody listed: no suppression list named.
            (Outcome::Dropped, Reason::OnHold, "investigate"),
            // No reason at all: SendGrid drops for its suppression lists.
            (Outcome::Dropped, Reason::Suppressed, "suppress"),
        ]
    );
}

#[test]
fn mailgun_failed_permanent_temporary_and_delivered() {
    let failed = r#"{"signature":{"timestamp":"1529006854","token":"a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0","signature":"d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55"},"event-data":{"id":"CPgfbmQMTCKtHW6uIWtuVe","timestamp":1521472262.908181,"log-level":"error","event":"failed","severity":"permanent","reason":"bounce","envelope":{"sender":"bob@sandbox.mailgun.org","transport":"smtp","targets":"alice@example.com","sending-ip":"209.61.154.250"},"delivery-status":{"attempt-no":1,"message":"No such mailbox","code":550,"description":"Not delivering to previously bounced address","session-seconds":0,"enhanced-code":"5.1.1","mx-host":"mx.example.com"},"message":{"headers":{"to":"Alice <alice@example.com>","message-id":"20130503182626.18666.16540@sandbox.mailgun.org","from":"Bob <bob@sandbox.mailgun.org>","subject":"Test permanent_fail webhook"},"attachments":[],"size":111},"recipient":"alice@example.com","recipient-domain":"example.com","tags":["my_tag_1","my_tag_2"],"user-variables":{"my_var_1":"Mailgun Variable #1"}}}"#;
    let temp = failed
        .replace("\"permanent\"", "\"temporary\"")
        .replace("CPgfbmQMTCKtHW6uIWtuVe", "Fs7-5t81S2ufyVeF1GRqHA")
        .replace("\"code\":550", "\"code\":452")
        .replace("5.1.1", "4.2.2");
    let delivered = r#"{"event-data":{"id":"W3X4JOhFT-OZidZGKKr9iA","timestamp":1521472262.9,"event":"delivered","envelope":{"sender":"bob@sandbox.mailgun.org","sending-ip":"209.61.154.250"},"delivery-status":{"message":"OK","code":250,"description":""},"message":{"headers":{"message-id":"m3@sandbox.mailgun.org"}},"recipient":"carol@example.com","campaigns":[{"id":"c1","name":"launch"}]}}"#;
    let (ev, bad) = read(&format!("{failed}\n{temp}\n{delivered}\n"), Format::Mailgun);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].outcome, Outcome::Bounced);
    assert_eq!(ev[0].sending_ip.as_deref(), Some("209.61.154.250"));
    assert_eq!(ev[0].campaign.as_deref(), Some("my_tag_1"));
    assert_eq!(
        ev[0].message_id.as_deref(),
        Some("20130503182626.18666.16540@sandbox.mailgun.org")
    );
    assert_eq!(ev[0].verdict.replycode.unwrap().get(), 550);
    assert_eq!(ev[0].verdict.deliverystatus.unwrap().to_string(), "5.1.1");
    assert_eq!(ev[0].time_ms, 1_521_472_262_908);
    assert_eq!(ev[1].outcome, Outcome::Deferred);
    assert_eq!(ev[1].verdict.deliverystatus.unwrap().to_string(), "4.2.2");
    assert_eq!(ev[2].outcome, Outcome::Delivered);
    assert_eq!(ev[2].campaign.as_deref(), Some("launch"));
}

#[test]
fn postmark_bounce_spam_and_delivery() {
    let bounce = r#"{"RecordType":"Bounce","MessageStream":"outbound","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,"Name":"Hard bounce","Tag":"Test","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483","Metadata":{"a_key":"a_value"},"ServerID":23,"Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).","Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist.","Email":"john@example.com","From":"sender@example.com","BouncedAt":"2019-11-05T16:33:54.9070259Z","DumpAvailable":true,"Inactive":true,"CanActivate":true,"Subject":"Test subject"}"#;
    let spam = r#"{"RecordType":"SpamComplaint","MessageStream":"outbound","ID":42,"Type":"SpamComplaint","TypeCode":512,"Name":"Spam complaint","Tag":"Test","MessageID":"00000000-0000-0000-0000-000000000000","ServerID":1234,"Description":"","Details":"Test spam complaint details","Email":"john@example.com","From":"sender@example.com","BouncedAt":"2019-11-05T16:33:54.9070259Z","Subject":"Test subject"}"#;
    let delivery = r#"{"RecordType":"Delivery","ServerID":23,"MessageStream":"outbound","MessageID":"00000000-0000-0000-0000-000000000000","Recipient":"john@example.com","Tag":"welcome-email","DeliveredAt":"2019-11-05T16:33:54.9070259Z","Details":"Test delivery webhook details","Metadata":{"a_key":"a_value"}}"#;
    let (ev, bad) = read(&format!("{bounce}\n{spam}\n{delivery}\n"), Format::Auto);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].outcome, Outcome::Bounced);
    assert_eq!(ev[0].verdict.replycode.unwrap().get(), 550);
    assert_eq!(ev[0].campaign.as_deref(), Some("Test"));
    assert_eq!(ev[0].time_ms, 1_572_971_634_907);
    assert_eq!(ev[1].outcome, Outcome::Complained);
    assert_eq!(ev[1].verdict.reason, Reason::Feedback);
    assert_eq!(ev[2].outcome, Outcome::Delivered);
    assert_eq!(ev[2].campaign.as_deref(), Some("welcome-email"));
}

#[test]
fn sparkpost_events_and_a_broken_line() {
    let body = r#"[{"msys":{"message_event":{"type":"bounce","bounce_class":"10","campaign_id":"Example Campaign Name","customer_id":"1","delv_method":"esmtp","error_code":"550","event_id":"92356927693813856","friendly_from":"sender@example.com","ip_address":"127.0.0.1","message_id":"000443ee14578172be22","msg_from":"sender@example.com","rcpt_to":"recipient@example.com","raw_rcpt_to":"recipient@example.com","raw_reason":"550 5.1.1 <recipient@example.com>: Recipient address rejected: User unknown","reason":"550 5.1.1 ...@... Recipient address rejected: User unknown","sending_ip":"198.51.100.3","subject":"Summer deals","timestamp":"1454442600","transmission_id":"65832150921904138"}}},{"msys":{"message_event":{"type":"delay","event_id":"92356927693813857","rcpt_to":"later@example.com","raw_reason":"452 4.2.2 Mailbox full","error_code":"452","bounce_class":"22","sending_ip":"198.51.100.3","message_id":"m2","timestamp":"1454442601"}}},{"msys":{"track_event":{"type":"open","rcpt_to":"x@example.com"}}}]
{"msys": {"message_event": {"type": "spam_complaint"
"#;
    let (ev, bad) = read(body, Format::Auto);
    assert_eq!(ev.len(), 2);
    assert_eq!(bad.len(), 1);
    assert!(
        bad[0].starts_with("hook.json:2: invalid JSON"),
        "{}",
        bad[0]
    );
    assert_eq!(ev[0].format, "sparkpost");
    assert_eq!(ev[0].outcome, Outcome::Bounced);
    assert_eq!(ev[0].campaign.as_deref(), Some("Example Campaign Name"));
    assert_eq!(ev[0].sending_ip.as_deref(), Some("198.51.100.3"));
    assert_eq!(ev[0].verdict.replycode.unwrap().get(), 550);
    assert_eq!(ev[0].time_ms, 1_454_442_600_000);
    assert_eq!(ev[0].source, "hook.json:1#1");
    assert_eq!(ev[1].outcome, Outcome::Deferred);
}

#[test]
fn pretty_printed_document_is_read_whole() {
    let body = "[\n  {\"RecordType\": \"Bounce\", \"Type\": \"SoftBounce\", \"ID\": 7,\n   \"Email\": \"Full@Example.com\", \"BouncedAt\": \"2019-11-05T16:33:54Z\",\n   \"Details\": \"552 5.2.2 Mailbox full\"}\n]\n";
    let (ev, bad) = read(body, Format::Auto);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].recipient, "full@example.com");
    assert_eq!(ev[0].verdict.deliverystatus.unwrap().to_string(), "5.2.2");
}

/// A webhook that states no sending IP takes the one its refusal names as
/// the client's ("Client host [ip]"), never the receiving server's; one
/// that states its IP keeps it.
#[test]
fn sending_ip_from_the_refusal_when_the_payload_has_none() {
    let blocked = r#"[{"email":"kim@example.org","timestamp":1764583200,"event":"bounce","type":"blocked","reason":"554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked using zen.spamhaus.org","status":"5.7.1","sg_event_id":"ip-1"},
{"email":"lou@example.org","timestamp":1764583200,"event":"bounce","type":"blocked","ip":"203.0.113.9","reason":"554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked using zen.spamhaus.org","status":"5.7.1","sg_event_id":"ip-2"},
{"email":"max@example.org","timestamp":1764583200,"event":"bounce","type":"bounce","reason":"550 5.1.1 <max@example.org>: Recipient address rejected: User unknown","status":"5.1.1","sg_event_id":"ip-3"}]"#;
    let (ev, bad) = read(blocked, Format::Auto);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ev[0].sending_ip.as_deref(), Some("198.51.100.22"));
    assert_eq!(ev[1].sending_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(ev[2].sending_ip, None);
}

/// Mandrill posts its events as a form (`mandrill_events=<url-encoded
/// JSON>`); a body saved as it was posted, one a line, is read as Mandrill
/// without `--format`, and a broken body fails alone.
#[test]
fn mandrill_form_bodies_saved_as_posted() {
    let events = r#"[{"event":"hard_bounce","ts":1780000000,"_id":"m1","msg":{"ts":1779999000,"email":"gone@example.org","sender":"news@sender.example","state":"bounced","bounce_description":"bad_mailbox","diag":"smtp;550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"}},{"event":"soft_bounce","ts":1780000100,"_id":"m2","msg":{"ts":1779999100,"email":"full@example.org","sender":"news@sender.example","state":"soft-bounced","bounce_description":"mailbox_full","diag":"smtp;452 4.2.2 Mailbox full"}}]"#;
    let form: String = std::iter::once("mandrill_events=".to_string())
        .chain(events.bytes().map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        }))
        .collect();
    let text = format!("{form}\nmandrill_events=%5Bnot-json\n");
    let (ok, bad) = read(&text, Format::Auto);
    assert_eq!(ok.len(), 2, "{bad:?}");
    assert_eq!(ok[0].recipient, "gone@example.org");
    assert_eq!(ok[0].verdict.reason, Reason::UserUnknown);
    assert!(ok[0].verdict.hardbounce);
    assert_eq!(ok[1].recipient, "full@example.org");
    assert_eq!(ok[1].verdict.reason, Reason::MailboxFull);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("hook.json:2"), "{bad:?}");
}
