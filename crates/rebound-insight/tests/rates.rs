//! Rates over a hand-built ledger whose expected figures follow from the
//! definitions (see `model::Counts`), on a real SQLite file and, when
//! `REBOUND_TEST_POSTGRES_URL` is set, on PostgreSQL (a fresh schema per
//! test, dropped afterwards).

use rebound_core::Observation;
use rebound_ingest::{Event, Outcome, dedupe_key};
use rebound_insight::{Bucket, Dimension, ReportOptions, Window};
use rebound_ledger::Policy;

/// 2026-11-02T10:00:00Z
const T0: i64 = 1_793_613_600_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

struct Gen(u64);

impl Gen {
    /// An event judged by the real classifier.
    fn ev(
        &mut self,
        t: i64,
        rcpt: &str,
        ip: &str,
        campaign: &str,
        outcome: Outcome,
        text: &str,
    ) -> Event {
        self.0 += 1;
        let obs = Observation {
            text: text.into(),
            recipient: Some(rcpt.into()),
            smtpcommand: Some("RCPT".into()),
            action: Some(
                match outcome {
                    Outcome::Delivered => "delivered",
                    Outcome::Deferred => "delayed",
                    _ => "failed",
                }
                .into(),
            ),
            reason_hint: match outcome {
                Outcome::Delivered => Some(rebound_core::Reason::Delivered),
                Outcome::Complained => Some(rebound_core::Reason::Feedback),
                _ => None,
            },
            ..Observation::default()
        };
        Event {
            time_ms: t,
            recipient: rcpt.into(),
            recipient_domain: rcpt.rsplit('@').next().unwrap().into(),
            sender: Some("news@sender.example".into()),
            sending_ip: Some(ip.into()),
            campaign: Some(campaign.into()),
            message_id: Some(format!("m{}@sender.example", self.0)),
            outcome,
            text: text.into(),
            format: "test".into(),
            source: format!("test:{}", self.0),
            dedupe_key: dedupe_key(&format!("rates-test-{}", self.0)),
            verdict: rebound_classify::Classifier::builtin().classify(&obs),
            evidence: Default::default(),
        }
    }
}

const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";

/// Google 100 attempts (90 delivered, 6 dead addresses, 4 deferrals), all
/// from A in hour 10; Microsoft 50 (45 delivered, 5 Spamhaus blocks) from
/// B in hour 11; Yahoo 20 (18 delivered, 2 DMARC failures) from A in hour
/// 11, plus 3 complaints; one dropped message; and 10 deliveries to Gmail
/// the day before (outside the window).
fn events() -> Vec<Event> {
    let mut g = Gen(0);
    let mut v = Vec::new();
    for i in 0..90 {
        v.push(g.ev(
            T0 + i * 20_000,
            &format!("g{i}@gmail.com"),
            A,
            "autumn",
            Outcome::Delivered,
            "250 2.0.0 OK",
        ));
    }
    for i in 0..6 {
        v.push(g.ev(T0 + 30 * MIN + i, &format!("dead{i}@gmail.com"), A, "autumn", Outcome::Bounced,
            "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp"));
    }
    for i in 0..4 {
        v.push(g.ev(
            T0 + 40 * MIN + i,
            &format!("slow{i}@gmail.com"),
            A,
            "autumn",
            Outcome::Deferred,
            "421 4.4.2 Connection timed out",
        ));
    }
    for i in 0..45 {
        v.push(g.ev(
            T0 + HOUR + i * 60_000,
            &format!("o{i}@outlook.com"),
            B,
            "winter",
            Outcome::Delivered,
            "250 2.0.0 OK",
        ));
    }
    for i in 0..5 {
        v.push(g.ev(T0 + HOUR + 10 * MIN + i, &format!("b{i}@outlook.com"), B, "winter", Outcome::Bounced,
            "550 5.7.1 Service unavailable, Client host [198.51.100.2] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/198.51.100.2 (AS3130). [BN8NAM12FT033.eop-nam12.prod.protection.outlook.com]"));
    }
    for i in 0..18 {
        v.push(g.ev(
            T0 + HOUR + i * 60_000,
            &format!("y{i}@yahoo.com"),
            A,
            "winter",
            Outcome::Delivered,
            "250 2.0.0 OK",
        ));
    }
    for i in 0..2 {
        v.push(g.ev(T0 + HOUR + 5 * MIN + i, &format!("d{i}@yahoo.com"), A, "winter", Outcome::Bounced,
            "554 5.7.9 Message not accepted for policy reasons. DMARC verification failed; see https://postmaster.yahooinc.com/error-codes"));
    }
    for i in 0..3 {
        v.push(g.ev(
            T0 + HOUR + 50 * MIN + i,
            &format!("y{i}@yahoo.com"),
            A,
            "winter",
            Outcome::Complained,
            "",
        ));
    }
    v.push(g.ev(
        T0 + HOUR,
        "gone@example.org",
        A,
        "winter",
        Outcome::Dropped,
        "suppressed",
    ));
    for i in 0..10 {
        v.push(g.ev(
            T0 - 24 * HOUR + i,
            &format!("old{i}@gmail.com"),
            A,
            "summer",
            Outcome::Delivered,
            "250 2.0.0 OK",
        ));
    }
    v
}

fn check(url: &str) {
    let mut store = rebound_ledger::open(url).unwrap();
    let out = store.ingest_batch(&events(), &Policy::default()).unwrap();
    assert_eq!(out.inserted, 184);
    drop(store);

    let window = Window {
        since_ms: Some(T0),
        until_ms: Some(T0 + 2 * HOUR),
    };
    let r = rebound_insight::build(
        url,
        ReportOptions {
            window,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.events, 174);
    let t = &r.totals.counts;
    assert_eq!(t.attempted, 170);
    assert_eq!(t.delivered, 153);
    assert_eq!((t.bounced, t.hard, t.soft, t.deferred), (13, 6, 7, 4));
    assert_eq!(
        (t.blocks, t.auth_failures, t.complaints, t.dropped),
        (5, 2, 3, 1)
    );
    let rt = &r.totals.rates;
    assert!((rt.bounce_rate - 13.0 / 170.0).abs() < 1e-12);
    assert!((rt.hard_bounce_rate - 6.0 / 170.0).abs() < 1e-12);
    assert!((rt.deferral_rate - 4.0 / 170.0).abs() < 1e-12);
    assert!((rt.block_rate - 5.0 / 170.0).abs() < 1e-12);
    assert!((rt.auth_failure_rate - 2.0 / 170.0).abs() < 1e-12);
    assert!((rt.complaint_rate - 3.0 / 153.0).abs() < 1e-12);

    // By provider, most attempted first.
    let keys: Vec<(&str, u64)> = r
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.counts.attempted))
        .collect();
    assert_eq!(
        keys[..3],
        [("google", 100), ("microsoft", 50), ("yahoo", 20)]
    );
    let yahoo = &r.groups[2];
    assert!((yahoo.rates.complaint_rate - 3.0 / 18.0).abs() < 1e-12);
    assert!((yahoo.rates.auth_failure_rate - 0.1).abs() < 1e-12);
    let ms = &r.groups[1];
    assert!((ms.rates.block_rate - 0.1).abs() < 1e-12);

    // Hourly series: Google only in hour 10, Microsoft only in hour 11.
    let google = r.series.iter().find(|s| s.key == "google").unwrap();
    assert_eq!(google.points.len(), 1);
    assert_eq!(
        (google.points[0].t, google.points[0].counts.attempted),
        (T0, 100)
    );
    let microsoft = r.series.iter().find(|s| s.key == "microsoft").unwrap();
    assert_eq!(microsoft.points[0].t, T0 + HOUR);

    // Reason mix of failed attempts, and the top pattern at Google.
    assert_eq!(r.reasons[0], ("userunknown".to_string(), 6));
    let gp = r
        .top_patterns
        .iter()
        .find(|p| p.provider == "google")
        .unwrap();
    assert_eq!(gp.failures, 10);
    assert_eq!(
        (gp.patterns[0].reason.as_str(), gp.patterns[0].count),
        ("userunknown", 6)
    );

    // A handful of failures opens no incident.
    assert!(r.incidents.is_empty(), "{:?}", r.incidents);

    // By sending IP, by minute.
    let by_ip = rebound_insight::build(
        url,
        ReportOptions {
            window,
            by: Dimension::Ip,
            bucket: Bucket::Minute,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let ip: Vec<(&str, u64, u64)> = by_ip
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.counts.attempted, g.counts.blocks))
        .collect();
    assert_eq!(ip, [(A, 120, 0), (B, 50, 5)]);
    assert!(by_ip.series[0].points.iter().all(|p| p.t % MIN == 0));

    // By recipient domain.
    let by_domain = rebound_insight::build(
        url,
        ReportOptions {
            window,
            by: Dimension::Domain,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let d: Vec<(&str, u64, u64)> = by_domain
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.counts.attempted, g.counts.delivered))
        .collect();
    assert_eq!(
        d,
        [
            ("gmail.com", 100, 90),
            ("outlook.com", 50, 45),
            ("yahoo.com", 20, 18),
            ("example.org", 0, 0)
        ]
    );

    // No window: yesterday's deliveries count too.
    let all = rebound_insight::build(
        url,
        ReportOptions {
            by: Dimension::Campaign,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(all.totals.counts.attempted, 180);
    assert!(
        all.groups
            .iter()
            .any(|g| g.key == "summer" && g.counts.delivered == 10)
    );
}

#[test]
fn rates_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check(dir.path().join("rates.db").to_str().unwrap());
}

#[test]
fn rates_on_postgres() {
    let base = match std::env::var("REBOUND_TEST_POSTGRES_URL") {
        Ok(b) if !b.is_empty() => b,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("REBOUND_TEST_POSTGRES_URL is not set: in CI the PostgreSQL tests must run");
            }
            eprintln!("SKIPPED: PostgreSQL not available (set REBOUND_TEST_POSTGRES_URL)");
            return;
        }
    };
    let schema = format!("rebound_insight_test_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    struct Drop_(String, String);
    impl Drop for Drop_ {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.0, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
            }
        }
    }
    let _guard = Drop_(base.clone(), schema.clone());
    check(&format!("{base}{sep}schema={schema}"));
}

#[test]
fn a_cancelled_report_stops_and_a_too_fine_one_is_refused() {
    use rebound_insight::{Bounds, build_within, source};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("l.db").to_str().unwrap().to_string();
    let mut store = rebound_ledger::open(&url).unwrap();
    let cfg =
        rebound_insight::synth::SynthConfig::with_incidents(3, 1_793_577_600_000, 24, 100.0, 1);
    let events: Vec<_> = rebound_insight::synth::Synth::new(cfg).collect();
    store
        .ingest_batch(&events, &rebound_ledger::Policy::default())
        .unwrap();
    let opts = ReportOptions {
        bucket: Bucket::Minute,
        ..ReportOptions::default()
    };
    let too_fine = build_within(
        &url,
        opts.clone(),
        &Bounds {
            max_buckets: 60,
            cancel: None,
        },
    );
    assert!(
        matches!(too_fine, Err(source::Error::TooBig(_))),
        "{too_fine:?}"
    );
    let cancelled = build_within(
        &url,
        opts.clone(),
        &Bounds {
            max_buckets: 0,
            cancel: Some(Arc::new(AtomicBool::new(true))),
        },
    );
    assert!(matches!(cancelled, Err(source::Error::Cancelled)));
    let whole = build_within(&url, opts, &Bounds::default()).unwrap();
    assert_eq!(whole.events, events.len() as u64);
}

#[test]
fn a_bad_schema_name_is_refused_not_ignored() {
    // Refused before any connection is tried (the port is closed anyway).
    let url = "postgres://rebound@127.0.0.1:1/rebound?schema=no-such;schema";
    let err = match rebound_insight::source::Reader::open(url) {
        Ok(_) => panic!("a bad schema name was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("bad schema name"), "{err}");
}
