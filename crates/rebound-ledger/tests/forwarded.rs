//! A hard bounce of the address mail was forwarded to is the address sent
//! to's soft bounce (see `rebound_ingest::forwarded_failure`): the policy
//! suppresses it only when its sends keep failing.

use rebound_ingest::{EventReader, ReaderOptions};
use rebound_ledger::policy::{Class, Policy};

#[test]
fn a_forwarded_hard_bounce_is_soft_for_the_address_sent_to() {
    let line = "Dec  1 10:00:00 mta1 postfix/smtp[101]: 4A1B2C3D4E: to=<ann@example.net>, \
relay=mx.example.net[192.0.2.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced \
(host mx.example.net[192.0.2.9] said: 550 5.1.1 User unknown (in reply to RCPT TO command))\n";
    let mut events = EventReader::new(line.as_bytes(), "mail.log", ReaderOptions::default())
        .unwrap()
        .collect::<Vec<_>>();
    let mut e = events.remove(0).unwrap();
    let policy = Policy::default();
    assert_eq!(policy.class(&e), Class::Hard);
    e.evidence.forwarded_to = Some("old.name@other.example".into());
    assert_eq!(policy.class(&e), Class::Soft);
    // Other classes stay what they are.
    e.verdict.reason = rebound_core::Reason::Blocked;
    e.verdict.hardbounce = false;
    e.verdict.owner = rebound_core::Owner::SenderReputation;
    assert_eq!(policy.class(&e), Class::SenderIssue);
}
