//! The policy engine decides a whole batch at once (set-based reads and
//! writes, one statement per kind of row on PostgreSQL): the same events
//! must leave the same suppressions, links, audit rows and sender issues
//! whether they arrive one per batch, a few per batch or all in one, on
//! both backends (a real SQLite file; the real PostgreSQL of
//! `REBOUND_TEST_POSTGRES_URL`, one fresh schema per store).

use rebound_core::{EnhancedStatus, Owner, Reason, Remedy, ReplyCode, Verdict};
use rebound_ingest::{Event, Outcome, dedupe_key};
use rebound_ledger::{ManualSuppression, Policy, Store};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
const T0: i64 = 1_790_000_000_000;

fn ev(rcpt: &str, time_ms: i64, outcome: Outcome, reason: Reason, message: &str) -> Event {
    let (code, status, owner, hard) = match reason {
        Reason::UserUnknown => (550, "5.1.1", Owner::Recipient, true),
        Reason::MailboxFull => (552, "5.2.2", Owner::Mailbox, false),
        Reason::Blocked => (554, "5.7.1", Owner::SenderReputation, false),
        Reason::Feedback => (0, "", Owner::Unknown, false),
        _ => (250, "2.0.0", Owner::None, false),
    };
    let status: Option<EnhancedStatus> = status.parse().ok();
    Event {
        time_ms,
        recipient: rcpt.to_string(),
        recipient_domain: rcpt.rsplit('@').next().unwrap().to_string(),
        sender: Some("news@sender.example".into()),
        sending_ip: Some("198.51.100.7".into()),
        campaign: None,
        message_id: Some(format!("{message}@sender.example")),
        outcome,
        text: format!("{code} {reason}"),
        format: "test".into(),
        source: format!("test:{rcpt}:{time_ms}"),
        dedupe_key: dedupe_key(&format!("{rcpt}|{time_ms}|{outcome:?}|{reason}")),
        verdict: Verdict {
            replycode: ReplyCode::new(code),
            deliverystatus: status,
            smtpcommand: "RCPT".into(),
            rhost: "mx.example.net".into(),
            reason,
            hardbounce: hard,
            permanent: status.map(|s| s.class_digit() == 5),
            owner,
            remedy: if hard {
                Remedy::Suppress
            } else {
                Remedy::Retry
            },
            provider: Some("example".into()),
            blocklist: None,
            pattern: format!("{code} <*> {reason}"),
            explain: format!("test rule for {reason}"),
        },
        evidence: Default::default(),
    }
}

/// Events in time order, as one sender's log would give them.
fn history() -> Vec<Event> {
    use Outcome::{Bounced, Complained, Delivered};
    use Reason::{Blocked, Feedback, MailboxFull, UserUnknown};
    let d = Reason::Delivered;
    let mut v = vec![
        // Hard bounce then a delivery: suppressed on the bounce.
        ev("hard@x.example", T0, Bounced, UserUnknown, "h1"),
        ev("hard@x.example", T0 + HOUR, Delivered, d, "h2"),
        // Three soft bounces of distinct messages over eight days.
        ev("soft@x.example", T0, Bounced, MailboxFull, "s1"),
        ev("soft@x.example", T0 + 3 * DAY, Bounced, MailboxFull, "s2"),
        ev("soft@x.example", T0 + 8 * DAY, Bounced, MailboxFull, "s3"),
        // A delivery between them resets the count: two left, not enough.
        ev("reset@x.example", T0, Bounced, MailboxFull, "r1"),
        ev("reset@x.example", T0 + DAY, Delivered, d, "r2"),
        ev("reset@x.example", T0 + 2 * DAY, Bounced, MailboxFull, "r3"),
        ev("reset@x.example", T0 + 10 * DAY, Bounced, MailboxFull, "r4"),
        // The same message bouncing twice counts once.
        ev("same@x.example", T0, Bounced, MailboxFull, "m1"),
        ev("same@x.example", T0 + 4 * DAY, Bounced, MailboxFull, "m1"),
        ev("same@x.example", T0 + 9 * DAY, Bounced, MailboxFull, "m2"),
        // Complaint then hard bounce: one suppression (complaint), both
        // events linked.
        ev("both@x.example", T0 + DAY, Complained, Feedback, "c1"),
        ev("both@x.example", T0 + 2 * DAY, Bounced, UserUnknown, "c2"),
        // Sender-side blocks: sender issues, never a suppression.
        ev("blocked@x.example", T0 + DAY, Bounced, Blocked, "b1"),
        ev("blocked@x.example", T0 + 2 * DAY, Bounced, Blocked, "b2"),
        // A fourth soft bounce after the suppression: linked, one audit row.
        ev("more@x.example", T0, Bounced, MailboxFull, "p1"),
        ev("more@x.example", T0 + 4 * DAY, Bounced, MailboxFull, "p2"),
        ev("more@x.example", T0 + 9 * DAY, Bounced, MailboxFull, "p3"),
        ev("more@x.example", T0 + 12 * DAY, Bounced, MailboxFull, "p4"),
        // Suppressed by hand before: the bounce is linked, nothing added.
        ev("manual@x.example", T0 + 5 * DAY, Bounced, UserUnknown, "n1"),
    ];
    // The first event again, later in the stream: a duplicate.
    v.push(v[0].clone());
    v.sort_by_key(|e| e.time_ms);
    v
}

/// Everything the policy wrote, without times and ids.
#[derive(Debug, PartialEq)]
struct Snapshot {
    inserted: usize,
    duplicates: usize,
    suppressed: Vec<String>,
    sender_issue_count: usize,
    /// (address, reason, detail, created_by, event_count, linked event times)
    suppressions: Vec<(String, String, String, String, i64, Vec<i64>)>,
    /// (address, action, actor, reason, note), oldest first.
    audit: Vec<(String, String, String, String, String)>,
    /// (provider, reason, count)
    sender_issues: Vec<(Option<String>, String, i64)>,
    events: u64,
}

fn run(store: &mut dyn Store, batch: usize) -> Snapshot {
    let policy = Policy::default();
    store
        .add_suppressions(
            &[ManualSuppression {
                address: "manual@x.example".into(),
                reason: "manual".into(),
                detail: "asked".into(),
            }],
            "admin",
        )
        .unwrap();
    let (mut inserted, mut duplicates, mut suppressed, mut issues) = (0, 0, Vec::new(), 0);
    for chunk in history().chunks(batch) {
        let out = store.ingest_batch(chunk, &policy).unwrap();
        inserted += out.inserted;
        duplicates += out.duplicates;
        suppressed.extend(out.suppressed);
        issues += out.sender_issues;
    }
    let suppressions = store
        .suppressions(None)
        .unwrap()
        .into_iter()
        .map(|s| {
            let linked = store
                .suppression_events(&s.address)
                .unwrap()
                .iter()
                .map(|e| e.event.time_ms - T0)
                .collect();
            (
                s.address,
                s.reason,
                s.detail,
                s.created_by,
                s.event_count,
                linked,
            )
        })
        .collect();
    let mut audit: Vec<_> = store
        .audit(None, 1000)
        .unwrap()
        .into_iter()
        .map(|a| (a.address, a.action, a.actor, a.reason, a.note))
        .collect();
    audit.reverse();
    let mut sender_issues: Vec<_> = store
        .sender_issues(None)
        .unwrap()
        .into_iter()
        .map(|i| (i.provider, i.reason, i.count))
        .collect();
    sender_issues.sort();
    Snapshot {
        inserted,
        duplicates,
        suppressed,
        sender_issue_count: issues,
        suppressions,
        audit,
        sender_issues,
        events: store.count_events().unwrap(),
    }
}

fn t(days: i64) -> i64 {
    days * DAY
}

/// What one event per batch leaves, spelled out: the engine's batching
/// is compared against this, so a bug common to every batch size fails too.
fn check_expected(one: &Snapshot) {
    let s = |x: &str| x.to_string();
    assert_eq!((one.inserted, one.duplicates, one.events), (21, 1, 21));
    assert_eq!(
        one.suppressed,
        vec![
            s("hard@x.example"),
            s("both@x.example"),
            s("soft@x.example"),
            s("more@x.example")
        ]
    );
    assert_eq!(one.sender_issue_count, 2);
    assert_eq!(
        one.suppressions,
        vec![
            (
                s("both@x.example"),
                s("complaint"),
                s("feedback"),
                s("policy"),
                2,
                vec![t(1), t(2)]
            ),
            (
                s("hard@x.example"),
                s("hardbounce"),
                s("userunknown"),
                s("policy"),
                1,
                vec![0]
            ),
            (
                s("manual@x.example"),
                s("manual"),
                s("asked"),
                s("admin"),
                1,
                vec![t(5)]
            ),
            (
                s("more@x.example"),
                s("repeated_softbounce"),
                s("mailboxfull"),
                s("policy"),
                4,
                vec![0, t(4), t(9), t(12)]
            ),
            (
                s("soft@x.example"),
                s("repeated_softbounce"),
                s("mailboxfull"),
                s("policy"),
                3,
                vec![0, t(3), t(8)]
            ),
        ]
    );
    let actions: Vec<(&str, &str)> = one
        .audit
        .iter()
        .map(|a| (a.0.as_str(), a.1.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("manual@x.example", "add"),
            ("hard@x.example", "suppress"),
            ("both@x.example", "suppress"),
            ("soft@x.example", "suppress"),
            ("more@x.example", "suppress"),
        ]
    );
    assert_eq!(
        one.sender_issues,
        vec![(Some(s("example")), s("blocked"), 2)]
    );
}

fn batching_does_not_change_the_outcome(open: &dyn Fn() -> Box<dyn Store>) {
    let one = run(&mut *open(), 1);
    check_expected(&one);
    for batch in [2, 3, 7, 1000] {
        assert_eq!(run(&mut *open(), batch), one, "batches of {batch}");
    }
}

#[test]
fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    batching_does_not_change_the_outcome(&|| {
        n.set(n.get() + 1);
        let path = dir.path().join(format!("ledger{}.db", n.get()));
        rebound_ledger::open(path.to_str().unwrap()).unwrap()
    });
}

#[test]
fn postgres() {
    // Set but empty is unset too (a shell's `VAR= cargo test`).
    let Some(base) = std::env::var("REBOUND_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("REBOUND_TEST_POSTGRES_URL is not set: in CI the PostgreSQL tests must run");
        }
        eprintln!("SKIPPED: PostgreSQL not available (set REBOUND_TEST_POSTGRES_URL)");
        return;
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let schemas = std::cell::RefCell::new(Vec::new());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        batching_does_not_change_the_outcome(&|| {
            let schema = format!(
                "rebound_batching_{}_{}",
                std::process::id(),
                schemas.borrow().len()
            );
            schemas.borrow_mut().push(schema.clone());
            rebound_ledger::open(&format!("{base}{sep}schema={schema}")).unwrap()
        })
    }));
    for schema in schemas.borrow().iter() {
        let _ = rebound_ledger::PgStore::drop_schema(&base, schema);
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
