//! One test suite, run against both backends: a real SQLite file in a temp
//! dir, and a real PostgreSQL server (`REBOUND_TEST_POSTGRES_URL`; each test
//! gets a fresh schema, dropped afterwards).

use rebound_core::{Blocklist, EnhancedStatus, Listed, Owner, Reason, Remedy, ReplyCode, Verdict};
use rebound_ingest::{Event, Outcome, dedupe_key};
use rebound_ledger::{EventQuery, ManualSuppression, OnceKey, Policy, Store};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const DAY: i64 = 86_400_000;
const T0: i64 = 1_790_000_000_000;

/// An event with an explicit verdict, as the classifier would give it.
fn ev(rcpt: &str, time_ms: i64, outcome: Outcome, reason: Reason, status: &str) -> Event {
    let status: Option<EnhancedStatus> = status.parse().ok();
    let code = status.map(|s| match s.class_digit() {
        2 => 250,
        4 => 450,
        _ => 550,
    });
    let hard = matches!(reason, Reason::UserUnknown | Reason::HostUnknown)
        && status.is_some_and(|s| s.class_digit() == 5);
    let owner = match reason {
        Reason::UserUnknown | Reason::HostUnknown => Owner::Recipient,
        Reason::MailboxFull | Reason::Suspend => Owner::Mailbox,
        Reason::Blocked | Reason::BadReputation => Owner::SenderReputation,
        Reason::AuthFailure => Owner::SenderAuth,
        Reason::Delivered => Owner::None,
        _ => Owner::Unknown,
    };
    let identity = format!("{rcpt}|{time_ms}|{outcome:?}|{reason}");
    Event {
        time_ms,
        recipient: rcpt.to_string(),
        recipient_domain: rcpt.rsplit('@').next().unwrap().to_string(),
        sender: Some("news@sender.example".into()),
        sending_ip: Some("198.51.100.7".into()),
        campaign: Some("spring".into()),
        message_id: Some(format!("m{time_ms}@sender.example")),
        outcome,
        text: format!(
            "{} {} {}",
            code.unwrap_or(0),
            status.map(|s| s.to_string()).unwrap_or_default(),
            reason
        ),
        format: "test".into(),
        source: format!("test:{time_ms}"),
        dedupe_key: dedupe_key(&identity),
        verdict: Verdict {
            replycode: code.and_then(ReplyCode::new),
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
            pattern: format!("{} <*> {reason}", code.unwrap_or(0)),
            explain: format!("test rule for {reason}"),
        },
        evidence: Default::default(),
    }
}

fn suppressed(s: &mut dyn Store, addr: &str) -> Option<String> {
    s.check(&[addr.to_string()])
        .unwrap()
        .pop()
        .unwrap()
        .map(|x| x.reason)
}

// ------------------------------------------------------------------ the suite

fn dedupe_makes_reingest_a_no_op(s: &mut dyn Store) {
    let p = Policy::default();
    let batch: Vec<Event> = (0..50)
        .map(|i| {
            ev(
                &format!("u{i}@example.net"),
                T0 + i,
                Outcome::Delivered,
                Reason::Delivered,
                "2.0.0",
            )
        })
        .collect();
    let a = s.ingest_batch(&batch, &p).unwrap();
    assert_eq!((a.inserted, a.duplicates), (50, 0));
    let b = s.ingest_batch(&batch, &p).unwrap();
    assert_eq!((b.inserted, b.duplicates), (0, 50));
    // A key repeated inside one batch counts once.
    let twice = vec![
        batch[0].clone(),
        batch[0].clone(),
        ev(
            "new@example.net",
            T0,
            Outcome::Delivered,
            Reason::Delivered,
            "2.0.0",
        ),
    ];
    let c = s.ingest_batch(&twice, &p).unwrap();
    assert_eq!((c.inserted, c.duplicates), (1, 2));
    assert_eq!(s.count_events().unwrap(), 51);
}

fn hard_bounce_suppresses_at_once_with_its_event(s: &mut dyn Store) {
    let p = Policy::default();
    let e = ev(
        "dead@example.net",
        T0,
        Outcome::Bounced,
        Reason::UserUnknown,
        "5.1.1",
    );
    let out = s.ingest_batch(std::slice::from_ref(&e), &p).unwrap();
    assert_eq!(out.suppressed, vec!["dead@example.net".to_string()]);
    let sup = s
        .check(&["dead@example.net".into()])
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    assert_eq!(sup.reason, "hardbounce");
    assert_eq!(sup.detail, "userunknown");
    assert_eq!(sup.domain, "example.net");
    assert_eq!(sup.created_by, "policy");
    assert_eq!(sup.event_count, 1);
    let behind = s.suppression_events("dead@example.net").unwrap();
    assert_eq!(behind.len(), 1);
    assert_eq!(behind[0].event.dedupe_key, e.dedupe_key);
    assert_eq!(behind[0].event.verdict, e.verdict);
    assert_eq!(behind[0].policy_class, "hard");
    let audit = s.audit(Some("dead@example.net"), 10).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].actor.as_str()),
        ("suppress", "policy")
    );
    // Nothing else in the domain is touched.
    assert_eq!(suppressed(s, "alive@example.net"), None);
}

fn complaint_suppresses(s: &mut dyn Store) {
    let p = Policy::default();
    s.ingest_batch(
        &[ev(
            "angry@example.org",
            T0,
            Outcome::Complained,
            Reason::Feedback,
            "",
        )],
        &p,
    )
    .unwrap();
    assert_eq!(
        suppressed(s, "angry@example.org").as_deref(),
        Some("complaint")
    );
}

fn mailbox_full_needs_three_bounces_over_seven_days(s: &mut dyn Store) {
    let p = Policy::default();
    let full = |a: &str, t: i64| ev(a, t, Outcome::Bounced, Reason::MailboxFull, "5.2.2");
    // Three over eight days: suppressed on the third.
    let a = "full@example.net";
    s.ingest_batch(&[full(a, T0), full(a, T0 + 4 * DAY)], &p)
        .unwrap();
    assert_eq!(suppressed(s, a), None, "two bounces are not enough");
    s.ingest_batch(&[full(a, T0 + 8 * DAY)], &p).unwrap();
    assert_eq!(suppressed(s, a).as_deref(), Some("repeated_softbounce"));
    assert_eq!(s.suppression_events(a).unwrap().len(), 3);
    // Three within two days: not yet.
    let b = "busy@example.net";
    s.ingest_batch(&[full(b, T0), full(b, T0 + DAY), full(b, T0 + 2 * DAY)], &p)
        .unwrap();
    assert_eq!(suppressed(s, b), None, "three bounces in two days");
    // A delivery in between resets the count.
    let c = "recovers@example.net";
    s.ingest_batch(
        &[
            full(c, T0),
            full(c, T0 + 2 * DAY),
            ev(
                c,
                T0 + 3 * DAY,
                Outcome::Delivered,
                Reason::Delivered,
                "2.0.0",
            ),
            full(c, T0 + 5 * DAY),
            full(c, T0 + 9 * DAY),
        ],
        &p,
    )
    .unwrap();
    assert_eq!(suppressed(s, c), None, "a delivery resets the count");
    // The same message bouncing three times is one message.
    let d = "samemsg@example.net";
    let mut same: Vec<Event> = (0..3).map(|i| full(d, T0 + i * 4 * DAY)).collect();
    for e in &mut same {
        e.message_id = Some("one@sender.example".into());
    }
    s.ingest_batch(&same, &p).unwrap();
    assert_eq!(suppressed(s, d), None, "one message, three bounces");
    // Suspended counts the same way; a tighter policy from TOML applies.
    let strict =
        Policy::from_toml("soft_bounce_threshold = 2\nsoft_bounce_min_days = 1.0\n").unwrap();
    let e = "suspended@example.net";
    s.ingest_batch(
        &[
            ev(e, T0, Outcome::Bounced, Reason::Suspend, "5.2.1"),
            ev(e, T0 + 2 * DAY, Outcome::Bounced, Reason::Suspend, "5.2.1"),
        ],
        &strict,
    )
    .unwrap();
    assert_eq!(suppressed(s, e).as_deref(), Some("repeated_softbounce"));
}

fn deferrals_never_suppress(s: &mut dyn Store) {
    let p = Policy::default();
    let a = "later@example.net";
    let batch: Vec<Event> = (0..10)
        .flat_map(|i| {
            [
                ev(
                    a,
                    T0 + i * DAY,
                    Outcome::Deferred,
                    Reason::MailboxFull,
                    "4.2.2",
                ),
                ev(
                    a,
                    T0 + i * DAY + 1,
                    Outcome::Deferred,
                    Reason::UserUnknown,
                    "4.1.1",
                ),
            ]
        })
        .collect();
    s.ingest_batch(&batch, &p).unwrap();
    assert_eq!(suppressed(s, a), None);
    // A final failure with a 4xx status is not a dead address either.
    s.ingest_batch(
        &[ev(
            a,
            T0 + 20 * DAY,
            Outcome::Bounced,
            Reason::UserUnknown,
            "4.1.1",
        )],
        &p,
    )
    .unwrap();
    assert_eq!(suppressed(s, a), None);
    let classes: Vec<String> = s
        .events(&EventQuery {
            recipient: Some(a.into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| e.policy_class)
        .collect();
    assert_eq!(classes.len(), 21);
    assert!(classes.iter().all(|c| c == "deferral"), "{classes:?}");
}

fn sender_side_blocks_go_to_sender_issues(s: &mut dyn Store) {
    let p = Policy::default();
    let mut blocked = ev(
        "someone@bigmail.example",
        T0,
        Outcome::Bounced,
        Reason::Blocked,
        "5.7.1",
    );
    blocked.verdict.blocklist = Some(Blocklist {
        name: "spamhaus".into(),
        zone: "zen.spamhaus.org".into(),
        listed: Listed::Ip,
    });
    // Even a verdict marked hard must not suppress when the sender owns it.
    let mut auth = ev(
        "other@bigmail.example",
        T0 + 1,
        Outcome::Bounced,
        Reason::AuthFailure,
        "5.7.26",
    );
    auth.verdict.hardbounce = true;
    let out = s.ingest_batch(&[blocked, auth], &p).unwrap();
    assert_eq!(out.sender_issues, 2);
    assert!(out.suppressed.is_empty());
    assert_eq!(suppressed(s, "someone@bigmail.example"), None);
    assert_eq!(suppressed(s, "other@bigmail.example"), None);
    let issues = s.sender_issues(None).unwrap();
    assert_eq!(issues.len(), 2);
    let bl = issues.iter().find(|i| i.reason == "blocked").unwrap();
    assert_eq!(bl.sending_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(bl.sender_domain.as_deref(), Some("sender.example"));
    assert_eq!(bl.provider.as_deref(), Some("example"));
    assert_eq!(bl.blocklist.as_deref(), Some("zen.spamhaus.org"));
    assert_eq!(bl.count, 1);
    assert!(s.sender_issues(Some(T0 + 2)).unwrap().is_empty());
    // The verdict reads back whole, blocklist included.
    let back = s
        .events(&EventQuery {
            recipient: Some("someone@bigmail.example".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        back[0].event.verdict.blocklist.as_ref().unwrap().zone,
        "zen.spamhaus.org"
    );
    assert_eq!(back[0].event.verdict.pattern, "550 <*> blocked");
    assert_eq!(back[0].policy_class, "sender");
}

fn vacation_is_ignored(s: &mut dyn Store) {
    let p = Policy::default();
    let mut v = ev(
        "away@example.net",
        T0,
        Outcome::AutoReply,
        Reason::Vacation,
        "",
    );
    v.verdict.hardbounce = true; // whatever the verdict says
    s.ingest_batch(&[v], &p).unwrap();
    assert_eq!(suppressed(s, "away@example.net"), None);
    let e = s
        .events(&EventQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(e[0].policy_class, "ignored");
}

fn remove_is_audited_and_a_later_hard_bounce_suppresses_again(s: &mut dyn Store) {
    let p = Policy::default();
    let a = "back@example.net";
    s.ingest_batch(
        &[ev(a, T0, Outcome::Bounced, Reason::UserUnknown, "5.1.1")],
        &p,
    )
    .unwrap();
    assert!(
        s.remove_suppression(a, "alice", "customer says it works now")
            .unwrap()
    );
    assert!(!s.remove_suppression(a, "alice", "again").unwrap());
    assert_eq!(suppressed(s, a), None);
    let audit = s.audit(Some(a), 10).unwrap();
    assert_eq!(audit[0].action, "remove");
    assert_eq!(audit[0].actor, "alice");
    assert_eq!(audit[0].note, "customer says it works now");
    assert_eq!(audit[0].reason, "hardbounce");
    assert!(audit[0].at_ms > T0);
    assert_eq!(audit[1].action, "suppress");
    // Re-ingesting the old bounce is a duplicate: stays removed.
    s.ingest_batch(
        &[ev(a, T0, Outcome::Bounced, Reason::UserUnknown, "5.1.1")],
        &p,
    )
    .unwrap();
    assert_eq!(suppressed(s, a), None);
    // A new hard bounce suppresses again.
    s.ingest_batch(
        &[ev(
            a,
            T0 + DAY,
            Outcome::Bounced,
            Reason::UserUnknown,
            "5.1.1",
        )],
        &p,
    )
    .unwrap();
    assert_eq!(suppressed(s, a).as_deref(), Some("hardbounce"));
    assert_eq!(s.suppression_events(a).unwrap().len(), 1);
}

fn manual_add_and_events_query(s: &mut dyn Store) {
    let p = Policy::default();
    let n = s
        .add_suppressions(
            &[
                ManualSuppression {
                    address: "vip@example.com".into(),
                    reason: "manual".into(),
                    detail: "asked by phone".into(),
                },
                ManualSuppression {
                    address: "vip@example.com".into(),
                    reason: "manual".into(),
                    detail: "dup".into(),
                },
                ManualSuppression {
                    address: "old@example.com".into(),
                    reason: "import".into(),
                    detail: String::new(),
                },
            ],
            "bob",
        )
        .unwrap();
    assert_eq!(n, 2);
    let all = s.suppressions(None).unwrap();
    assert_eq!(
        all.iter().map(|x| x.address.as_str()).collect::<Vec<_>>(),
        ["old@example.com", "vip@example.com"]
    );
    assert_eq!(all[1].created_by, "bob");
    assert_eq!(s.audit(None, 10).unwrap().len(), 2);

    let batch = vec![
        ev(
            "a@one.example",
            T0,
            Outcome::Delivered,
            Reason::Delivered,
            "2.0.0",
        ),
        ev(
            "b@two.example",
            T0 + DAY,
            Outcome::Bounced,
            Reason::UserUnknown,
            "5.1.1",
        ),
        ev(
            "a@one.example",
            T0 + 2 * DAY,
            Outcome::Bounced,
            Reason::MailboxFull,
            "5.2.2",
        ),
    ];
    s.ingest_batch(&batch, &p).unwrap();
    let q = |s: &mut dyn Store, q: EventQuery| {
        s.events(&EventQuery {
            limit: q.limit.clamp(1, 100),
            ..q
        })
        .unwrap()
    };
    let all = q(
        s,
        EventQuery {
            limit: 100,
            ..Default::default()
        },
    );
    assert_eq!(all.len(), 3);
    assert!(all[0].event.time_ms > all[1].event.time_ms, "newest first");
    assert_eq!(all[0].event, batch[2]);
    assert_eq!(
        q(
            s,
            EventQuery {
                recipient: Some("a@one.example".into()),
                limit: 100,
                ..Default::default()
            }
        )
        .len(),
        2
    );
    assert_eq!(
        q(
            s,
            EventQuery {
                since_ms: Some(T0 + DAY),
                limit: 100,
                ..Default::default()
            }
        )
        .len(),
        2
    );
    assert_eq!(
        q(
            s,
            EventQuery {
                reason: Some("userunknown".into()),
                limit: 100,
                ..Default::default()
            }
        )
        .len(),
        1
    );
    assert_eq!(
        q(
            s,
            EventQuery {
                reason: Some("delivered".into()),
                limit: 100,
                ..Default::default()
            }
        )
        .len(),
        1
    );
    assert_eq!(
        q(
            s,
            EventQuery {
                provider: Some("two.example".into()),
                limit: 100,
                ..Default::default()
            }
        )
        .len(),
        1
    );
    assert_eq!(
        q(
            s,
            EventQuery {
                provider: Some("example".into()),
                limit: 100,
                ..Default::default()
            }
        )
        .len(),
        3
    );
    assert_eq!(
        q(
            s,
            EventQuery {
                limit: 1,
                ..Default::default()
            }
        )
        .len(),
        1
    );
}

fn a_one_time_key_is_claimed_once(s: &mut dyn Store) {
    let p = Policy::default();
    let far = now_ms() + 3_600_000;
    let once = OnceKey {
        key: "mailgun:abc".into(),
        expires_ms: far,
    };
    let bounce = |r: &str, t: i64| ev(r, t, Outcome::Bounced, Reason::UserUnknown, "5.1.1");
    let first = s.ingest_batch_once(&[bounce("a@example.net", T0)], &p, &once);
    assert_eq!(first.unwrap().map(|o| o.inserted), Some(1));
    // A replay with other events stores nothing, suppresses nothing.
    let replay = s.ingest_batch_once(&[bounce("b@example.net", T0 + 1)], &p, &once);
    assert!(replay.unwrap().is_none());
    assert_eq!(s.count_events().unwrap(), 1);
    assert!(suppressed(s, "b@example.net").is_none());
    // An expired claim is forgotten when the next claim is made.
    let stale = OnceKey {
        key: "mailgun:old".into(),
        expires_ms: 1,
    };
    assert!(
        s.ingest_batch_once(&[bounce("c@example.net", T0 + 2)], &p, &stale)
            .unwrap()
            .is_some()
    );
    assert!(
        s.ingest_batch_once(&[bounce("d@example.net", T0 + 3)], &p, &stale)
            .unwrap()
            .is_some()
    );
    assert_eq!(s.count_events().unwrap(), 3);
}

fn one_key_claimed_once_by_concurrent_writers(open: &(dyn Fn() -> Box<dyn Store> + Sync)) {
    let once = OnceKey {
        key: "mailgun:raced".into(),
        expires_ms: now_ms() + 3_600_000,
    };
    // The stores are opened first, one after the other: what races here
    // is the claim, not eight processes creating one new file at once.
    let stores: Vec<Box<dyn Store>> = (0..8).map(|_| open()).collect();
    let claimed: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .into_iter()
            .zip(0i64..)
            .map(|(mut s, i)| {
                let once = once.clone();
                scope.spawn(move || {
                    let e = ev(
                        &format!("w{i}@example.net"),
                        T0 + i,
                        Outcome::Bounced,
                        Reason::UserUnknown,
                        "5.1.1",
                    );
                    s.ingest_batch_once(&[e], &Policy::default(), &once)
                        .unwrap()
                        .is_some() as usize
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(claimed, 1);
    assert_eq!(open().count_events().unwrap(), 1);
}

fn concurrent_writers_both_land(open: &dyn Fn() -> Box<dyn Store>) {
    let p = Policy::default();
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let mut store = open();
            let p = p.clone();
            std::thread::spawn(move || {
                for b in 0..10 {
                    let batch: Vec<Event> = (0..200)
                        .map(|i| {
                            let r = format!("w{w}b{b}i{i}@example.net");
                            let t = T0 + (b * 1000 + i) as i64;
                            if i % 10 == 0 {
                                ev(&r, t, Outcome::Bounced, Reason::UserUnknown, "5.1.1")
                            } else {
                                ev(&r, t, Outcome::Delivered, Reason::Delivered, "2.0.0")
                            }
                        })
                        .collect();
                    store.ingest_batch(&batch, &p).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut s = open();
    assert_eq!(s.count_events().unwrap(), 4000);
    assert_eq!(s.suppressions(None).unwrap().len(), 400);
}

// ----------------------------------------------------------------- backends

mod backends {

    use std::sync::atomic::{AtomicUsize, Ordering};

    static N: AtomicUsize = AtomicUsize::new(0);

    /// A fresh SQLite file.
    pub struct Sqlite {
        _dir: tempfile::TempDir,
        pub url: String,
    }

    pub fn sqlite() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("ledger.db").to_str().unwrap().to_string();
        Sqlite { _dir: dir, url }
    }

    /// A fresh schema on the test server; dropped on drop.
    pub struct Pg {
        pub url: String,
        base: String,
        schema: String,
    }

    impl Drop for Pg {
        fn drop(&mut self) {
            if let Ok(mut c) = ::postgres::Client::connect(&self.base, ::postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    pub fn postgres() -> Option<Pg> {
        match std::env::var("REBOUND_TEST_POSTGRES_URL") {
            Ok(base) if !base.is_empty() => {
                let schema = format!(
                    "rebound_test_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                );
                let sep = if base.contains('?') { '&' } else { '?' };
                Some(Pg {
                    url: format!("{base}{sep}schema={schema}"),
                    base,
                    schema,
                })
            }
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                    panic!(
                        "REBOUND_TEST_POSTGRES_URL is not set: in CI the PostgreSQL tests must run"
                    );
                }
                eprintln!("SKIPPED: PostgreSQL not available (set REBOUND_TEST_POSTGRES_URL)");
                None
            }
        }
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[test] fn $name() {
                let db = backends::sqlite();
                let mut s = rebound_ledger::open(&db.url).unwrap();
                assert_eq!(s.backend(), "sqlite");
                super::$name(&mut *s);
            })*
            #[test] fn concurrent_writers() {
                let db = backends::sqlite();
                concurrent_writers_both_land(&|| rebound_ledger::open(&db.url).unwrap());
            }
            #[test] fn concurrent_claims() {
                let db = backends::sqlite();
                one_key_claimed_once_by_concurrent_writers(&|| rebound_ledger::open(&db.url).unwrap());
            }
            #[test] fn schema_is_versioned_and_reopening_is_harmless() {
                let db = backends::sqlite();
                let s = rebound_ledger::SqliteStore::open(&db.url).unwrap();
                assert_eq!(s.schema_version().unwrap(), 7);
                drop(s);
                let mut s = rebound_ledger::SqliteStore::open(&db.url).unwrap();
                assert_eq!(s.schema_version().unwrap(), 7);
                assert_eq!(rebound_ledger::Store::count_events(&mut s).unwrap(), 0);
            }
        }
        mod postgres {
            use super::*;
            $(#[test] fn $name() {
                let Some(db) = backends::postgres() else { return };
                let mut s = rebound_ledger::open(&db.url).unwrap();
                assert_eq!(s.backend(), "postgres");
                super::$name(&mut *s);
            })*
            #[test] fn concurrent_writers() {
                let Some(db) = backends::postgres() else { return };
                concurrent_writers_both_land(&|| rebound_ledger::open(&db.url).unwrap());
            }
            #[test] fn concurrent_claims() {
                let Some(db) = backends::postgres() else { return };
                one_key_claimed_once_by_concurrent_writers(&|| rebound_ledger::open(&db.url).unwrap());
            }
        }
    };
}

suite!(
    dedupe_makes_reingest_a_no_op,
    hard_bounce_suppresses_at_once_with_its_event,
    complaint_suppresses,
    mailbox_full_needs_three_bounces_over_seven_days,
    deferrals_never_suppress,
    sender_side_blocks_go_to_sender_issues,
    vacation_is_ignored,
    remove_is_audited_and_a_later_hard_bounce_suppresses_again,
    manual_add_and_events_query,
    a_one_time_key_is_claimed_once,
);

/// A store written by a release before migration 3: its events keep what
/// they had, get no evidence and an unknown rules id, and are judged again
/// from their verdict's fields (the same verdict under the same rules).
#[test]
fn migration_3_keeps_old_events_and_judges_them_from_their_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let path = path.to_str().unwrap();
    let text = "host mx.example.net[192.0.2.1] said: 550 5.1.1 <old@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command)";
    let v = rebound_classify::Classifier::builtin().classify(&rebound_core::Observation {
        text: text.into(),
        recipient: Some("old@example.net".into()),
        action: Some("failed".into()),
        ..Default::default()
    });
    {
        let old = rebound_ledger::SqliteStore::open_migrated_to(path, 2).unwrap();
        assert_eq!(old.schema_version().unwrap(), 2);
        // The row as migration 2's columns hold it.
        old.connection()
            .execute(
                "INSERT INTO events (dedupe_key, time_ms, recipient, recipient_domain, outcome, replycode, status, text, format, source, reason, hardbounce, permanent, owner, remedy, detail_key, rhost, smtpcommand, policy_class, ingested_ms) VALUES (x'00', 1000, 'old@example.net', 'example.net', 'bounced', 550, '5.1.1', ?1, 'postfix', 'old.log:1', ?2, ?3, 1, ?4, ?5, 0, ?6, ?7, 'hard', 1000)",
                rusqlite::params![
                    text,
                    v.reason.as_str(),
                    v.hardbounce,
                    v.owner.as_str(),
                    v.remedy.as_str(),
                    v.rhost,
                    v.smtpcommand
                ],
            )
            .unwrap();
    }
    let mut s = rebound_ledger::SqliteStore::open(path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 7);
    // Migration 5 rolled up the event already stored.
    assert_rollups_match(path, "after migration 5");
    let e = s
        .events(&EventQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .remove(0);
    assert!(!e.event.evidence.recorded);
    assert_eq!(e.event.evidence.rules_id, None);
    assert_eq!(e.event.verdict.reason, rebound_core::Reason::UserUnknown);

    // Judged again by the built-in rules: nothing changes but the stamp.
    let mut judge = rebound_ingest::Judge::new(rebound_classify::Classifier::builtin());
    let policy = Policy::default();
    let mut job = rebound_ledger::ReclassifyJob::new(
        &mut judge,
        &policy,
        rebound_ledger::ReclassifyOptions {
            apply: true,
            ..Default::default()
        },
    );
    rebound_ledger::reclassify::run(&mut s, &mut job, |_| {}).unwrap();
    assert_eq!((job.report.events, job.report.changed), (1, 0));
    let e = s
        .events(&EventQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .remove(0);
    assert_eq!(
        e.event.evidence.rules_id.as_deref(),
        Some(rebound_classify::builtin_rules_id())
    );
    assert_eq!(e.policy_class, "hard");
}

/// Migration 7 rebuilds SQLite's tables keyed by text without a rowid: what
/// they held before is there after, and they behave as before (a claimed
/// key stays claimed, a lifted address stays lifted, links stay linked).
#[test]
fn migration_7_keeps_suppressions_links_resets_and_claims() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    let path = path.to_str().unwrap();
    let p = Policy::default();
    let once = OnceKey {
        key: "mailgun:kept".into(),
        expires_ms: now_ms() + 3_600_000,
    };
    let bounce = |r: &str, t: i64| ev(r, t, Outcome::Bounced, Reason::UserUnknown, "5.1.1");
    let tables = |s: &rebound_ledger::SqliteStore| -> Vec<String> {
        let c = s.connection();
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    {
        let mut old = rebound_ledger::SqliteStore::open_migrated_to(path, 6).unwrap();
        assert_eq!(old.schema_version().unwrap(), 6);
        assert!(!tables(&old).contains(&"suppressions".to_string()));
        old.ingest_batch_once(&[bounce("dead@example.net", T0)], &p, &once)
            .unwrap()
            .unwrap();
        old.ingest_batch(&[bounce("lifted@example.net", T0 + 1)], &p)
            .unwrap();
        assert!(
            old.remove_suppression("lifted@example.net", "ops", "test")
                .unwrap()
        );
        old.add_suppressions(
            &[ManualSuppression {
                address: "manual@example.org".into(),
                reason: "manual".into(),
                detail: "asked".into(),
            }],
            "ops",
        )
        .unwrap();
    }
    let mut s = rebound_ledger::SqliteStore::open(path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 7);
    for t in [
        "once_tokens",
        "recipient_resets",
        "suppression_events",
        "suppressions",
    ] {
        assert!(tables(&s).contains(&t.to_string()), "{t} still has a rowid");
    }
    assert_eq!(
        suppressed(&mut s, "dead@example.net").as_deref(),
        Some("hardbounce")
    );
    assert_eq!(
        suppressed(&mut s, "manual@example.org").as_deref(),
        Some("manual")
    );
    assert_eq!(suppressed(&mut s, "lifted@example.net"), None);
    assert_eq!(s.count_suppressions().unwrap(), 2);
    let linked = s.suppression_events("dead@example.net").unwrap();
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].event.recipient, "dead@example.net");
    // The claim made before the migration still refuses a replay.
    let replay = s.ingest_batch_once(&[bounce("other@example.net", T0 + 2)], &p, &once);
    assert!(replay.unwrap().is_none());
    // The lift's reset survives: the bounce from before it does not count again.
    let resets: i64 = s
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM recipient_resets WHERE address = 'lifted@example.net'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(resets, 1);
}

// ------------------------------------------------------------------ rollups

/// What the rollups hold, as text rows (`n > 0` only: a row taken down to
/// zero by reclassify is no count), and the report's copy of the failures.
const ROLLED: &[&str] = &[
    "SELECT CAST(hour_ms AS TEXT) || '|' || provider || '|' || domain || '|' || sending_ip || '|' || campaign || '|' || outcome || '|' || reason || '|' || owner || '|' || CASE WHEN hardbounce THEN 'hard' ELSE 'soft' END || '|' || CASE WHEN blocklisted THEN 'listed' ELSE '-' END || '|' || CAST(n AS TEXT) || '|' || CAST(first_ms AS TEXT) FROM rollup_hours WHERE n > 0",
    "SELECT CAST(minute_ms AS TEXT) || '|' || provider || '|' || CAST(n AS TEXT) FROM rollup_minutes WHERE n > 0",
    "SELECT CAST(id AS TEXT) || '|' || CAST(time_ms AS TEXT) || '|' || provider || '|' || domain || '|' || COALESCE(sending_ip, '~') || '|' || COALESCE(campaign, '~') || '|' || outcome || '|' || reason || '|' || owner || '|' || COALESCE(status, '~') || '|' || CASE WHEN hardbounce THEN 'hard' ELSE 'soft' END || '|' || CAST(detail_key AS TEXT) || '|' || text FROM report_failures",
];

/// The same counts from the events themselves, written out independently
/// of the ledger's statements (times here are after 1970, so `/` floors).
const GROUPED: &[&str] = &[
    "SELECT CAST((e.time_ms / 3600000) * 3600000 AS TEXT) || '|' || COALESCE(NULLIF(e.provider, ''), e.recipient_domain) || '|' || e.recipient_domain || '|' || COALESCE(e.sending_ip, '') || '|' || COALESCE(e.campaign, '') || '|' || e.outcome || '|' || e.reason || '|' || e.owner || '|' || CASE WHEN e.hardbounce THEN 'hard' ELSE 'soft' END || '|' || CASE WHEN d.blocklist IS NULL THEN '-' ELSE 'listed' END || '|' || CAST(COUNT(*) AS TEXT) || '|' || CAST(MIN(e.time_ms) AS TEXT) FROM events e LEFT JOIN verdict_details d ON d.key = e.detail_key GROUP BY (e.time_ms / 3600000), COALESCE(NULLIF(e.provider, ''), e.recipient_domain), e.recipient_domain, COALESCE(e.sending_ip, ''), COALESCE(e.campaign, ''), e.outcome, e.reason, e.owner, e.hardbounce, d.blocklist IS NULL",
    "SELECT CAST((time_ms / 60000) * 60000 AS TEXT) || '|' || COALESCE(NULLIF(provider, ''), recipient_domain) || '|' || CAST(COUNT(*) AS TEXT) FROM events WHERE outcome = 'delivered' GROUP BY (time_ms / 60000), COALESCE(NULLIF(provider, ''), recipient_domain)",
    "SELECT CAST(id AS TEXT) || '|' || CAST(time_ms AS TEXT) || '|' || COALESCE(NULLIF(provider, ''), recipient_domain) || '|' || recipient_domain || '|' || COALESCE(sending_ip, '~') || '|' || COALESCE(campaign, '~') || '|' || outcome || '|' || reason || '|' || owner || '|' || COALESCE(status, '~') || '|' || CASE WHEN hardbounce THEN 'hard' ELSE 'soft' END || '|' || CAST(detail_key AS TEXT) || '|' || text FROM events WHERE outcome <> 'delivered'",
];

fn text_rows(url: &str, sql: &str) -> Vec<String> {
    let mut v: Vec<String> = if url.starts_with("postgres") {
        let mut c = rebound_ledger::connect_to_schema(url).unwrap();
        c.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    } else {
        let c = rusqlite::Connection::open(url).unwrap();
        let mut st = c.prepare(sql).unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    v.sort();
    v
}

fn assert_rollups_match(url: &str, when: &str) {
    for (i, (rolled, grouped)) in ROLLED.iter().zip(GROUPED).enumerate() {
        let (a, b) = (text_rows(url, rolled), text_rows(url, grouped));
        assert!(i > 0 || !b.is_empty(), "{when}: no events?");
        assert_eq!(a, b, "{when}: the rollups drifted from the events");
    }
}

/// Events of several providers, domains, IPs and campaigns (some without
/// them, some with an empty or no provider so the domain stands in), outcomes and
/// verdicts, a few naming a blocklist, spread over ten hours out of time
/// order.
fn varied_events(n: usize, salt: &str) -> Vec<Event> {
    let domains = ["gmail.com", "yahoo.com", "example.org", "mail.example.net"];
    (0..n)
        .map(|i| {
            let t = T0 + ((i * 7919) % 600) as i64 * 60_000 + i as i64;
            let rcpt = format!("u{}{salt}@{}", i % 37, domains[i % 4]);
            let mut e = match i % 7 {
                0 => ev(&rcpt, t, Outcome::Bounced, Reason::UserUnknown, "5.1.1"),
                1 => ev(&rcpt, t, Outcome::Deferred, Reason::Blocked, "4.7.1"),
                2 => ev(&rcpt, t, Outcome::Complained, Reason::Feedback, ""),
                3 => ev(&rcpt, t, Outcome::Bounced, Reason::MailboxFull, "5.2.2"),
                _ => ev(&rcpt, t, Outcome::Delivered, Reason::Delivered, "2.0.0"),
            };
            if i % 5 == 0 {
                e.sending_ip = None;
            } else if i % 5 == 1 {
                e.sending_ip = Some("203.0.113.9".into());
            }
            if i % 3 == 0 {
                e.campaign = None;
            }
            if i % 4 == 1 {
                e.verdict.provider = None;
            } else if i % 11 == 6 {
                // Empty, not missing: the domain stands in all the same.
                e.verdict.provider = Some(String::new());
            }
            if i % 13 == 2 {
                e.sending_ip = Some(String::new());
            }
            if i % 7 == 1 && i % 2 == 0 {
                e.verdict.blocklist = Some(Blocklist {
                    name: "spamhaus".into(),
                    zone: "zen.spamhaus.org".into(),
                    listed: Listed::Ip,
                });
            }
            e
        })
        .collect()
}

/// The rollups equal a `GROUP BY` over the events after batches with
/// duplicates (across batches and inside one), late events, and a
/// reclassify that rewrites verdicts (events stored without evidence are
/// judged again from their verdicts, and the built-in rules see these
/// test verdicts differently).
fn rollups_match_the_events(url: &str) {
    let mut s = rebound_ledger::open(url).unwrap();
    let p = Policy::default();
    let events = varied_events(700, "");
    for chunk in events.chunks(150) {
        s.ingest_batch(chunk, &p).unwrap();
    }
    assert_rollups_match(url, "after the first batches");
    // Again, whole: nothing new.
    assert_eq!(s.ingest_batch(&events[..300], &p).unwrap().inserted, 0);
    // New events (earlier hours too) mixed with old ones, one repeated
    // inside the batch.
    let mut mixed = varied_events(120, "x");
    mixed.extend_from_slice(&events[290..340]);
    mixed.push(mixed[3].clone());
    let out = s.ingest_batch(&mixed, &p).unwrap();
    assert_eq!((out.inserted, out.duplicates), (120, 51));
    assert_eq!(s.count_events().unwrap(), 820);
    assert_rollups_match(url, "after duplicates");

    let mut judge = rebound_ingest::Judge::new(rebound_classify::Classifier::builtin());
    let mut job = rebound_ledger::ReclassifyJob::new(
        &mut judge,
        &p,
        rebound_ledger::ReclassifyOptions {
            apply: true,
            batch_size: 100,
            ..Default::default()
        },
    );
    rebound_ledger::reclassify::run(&mut *s, &mut job, |_| {}).unwrap();
    assert!(job.report.changed > 0, "{:?}", job.report);
    assert_rollups_match(url, "after reclassify");
}

#[test]
fn sqlite_rollups_match_the_events() {
    let db = backends::sqlite();
    rollups_match_the_events(&db.url);
}

#[test]
fn postgres_rollups_match_the_events() {
    let Some(db) = backends::postgres() else {
        return;
    };
    rollups_match_the_events(&db.url);
}

/// A held snapshot answers as of its start; a new generation or an expired
/// age renews it; released, it no longer holds the WAL back.
#[test]
fn snapshot_checks_renew_on_generation_and_age() {
    use rebound_ledger::{SnapshotChecker, SqliteStore};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db").display().to_string();
    let mut writer = SqliteStore::open(&path).unwrap();
    let mut checker = SnapshotChecker::open(&path).unwrap();
    let hour = Duration::from_secs(3600);
    let who = "held@example.com";
    assert!(checker.check(who, 0, hour).unwrap().is_none());
    writer
        .add_suppressions(
            &[ManualSuppression {
                address: who.into(),
                reason: "manual".into(),
                detail: String::new(),
            }],
            "test",
        )
        .unwrap();
    // Same generation, young snapshot: still the state before the write.
    assert!(checker.check(who, 0, hour).unwrap().is_none());
    // The writer's count moved: renewed, the write is seen.
    let hit = checker.check(who, 1, hour).unwrap().expect("suppressed");
    assert_eq!(hit.reason, "manual");
    assert!(writer.remove_suppression(who, "test", "undo").unwrap());
    assert!(checker.check(who, 1, hour).unwrap().is_some());
    // A snapshot older than the age allowed is renewed too.
    assert!(checker.check(who, 1, Duration::ZERO).unwrap().is_none());
    // Released, a truncating checkpoint is not blocked by it.
    checker.release_if_older(Duration::ZERO).unwrap();
    let busy: i64 = writer
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint was blocked");
    assert_eq!(std::fs::metadata(format!("{path}-wal")).unwrap().len(), 0);
}
