//! The suppression decision for the hand-written ESP fixtures of
//! `rebound-ingest/tests/esp/`: each payload read by the real reader and
//! classifier, then judged by the default policy.

#[path = "../../rebound-ingest/tests/esp/mod.rs"]
mod esp;

use esp::{CASES, Expect, RECEIVED_MS};
use rebound_ingest::{EventReader, ReaderOptions};
use rebound_ledger::policy::{Class, Policy};

#[test]
fn esp_fixtures_suppress_as_documented() {
    let policy = Policy::default();
    let mut wrong = Vec::new();
    let mut total = 0;
    for case in CASES {
        let reader = EventReader::new(case.body.as_bytes(), "hook.json", ReaderOptions::default())
            .unwrap()
            .received_at(RECEIVED_MS);
        let events: Vec<_> = reader.collect();
        total += case.expect.len();
        if events.len() != case.expect.len() {
            wrong.push(format!("{}: {events:?}", case.name));
            continue;
        }
        for (item, (rcpt, want, _)) in events.iter().zip(case.expect) {
            let Ok(e) = item else {
                wrong.push(format!("{}: {item:?}", case.name));
                continue;
            };
            let class = policy.class(e);
            let got = match class {
                Class::Hard | Class::Complaint => Expect::Suppress,
                Class::Soft => Expect::Soft,
                _ => Expect::Keep,
            };
            if e.recipient != *rcpt || got != *want {
                wrong.push(format!(
                    "{}: {rcpt} want {want:?}, got {} ({} {})",
                    case.name,
                    class.as_str(),
                    e.outcome.as_str(),
                    e.verdict.reason
                ));
            }
        }
    }
    eprintln!(
        "{}/{total} fixture recipients decided as documented",
        total - wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
