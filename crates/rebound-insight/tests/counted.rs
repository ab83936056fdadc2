//! The report counted in the store (deliveries grouped per minute by SQL,
//! failures read one by one) is the report counted row by row in memory:
//! the same rates, series, reasons, patterns, alerts and incidents, on
//! SQLite and (with `REBOUND_TEST_POSTGRES_URL`) on PostgreSQL. The data is
//! the seeded generator's, with its failure wording varied so that patterns
//! are many and not all alike.

use rebound_insight::report::Aggregator;
use rebound_insight::synth::{Rng, Synth, SynthConfig};
use rebound_insight::{Dimension, Report, ReportOptions, source};

/// 2026-11-02T00:00:00Z
const T0: i64 = 1_793_577_600_000;

fn fill(url: &str) {
    let mut store = rebound_ledger::open(url).unwrap();
    let mut rng = Rng::new(3);
    let mut events: Vec<_> = Synth::new(SynthConfig::with_incidents(9, T0, 36, 700.0, 4)).collect();
    // Varied wording: a queue id in some replies (one pattern each after
    // the classifier's masking, or not), an extra clause in others.
    for e in events.iter_mut() {
        if e.outcome == rebound_ingest::Outcome::Delivered {
            continue;
        }
        match rng.below(4) {
            0 => {
                let id = rng.below(1_000_000);
                e.text = format!("{} (queue {id:06x})", e.text);
                e.verdict.pattern = format!("{} (queue <id>)", e.verdict.pattern);
            }
            1 => {
                let clause =
                    ["please retry", "see our policy", "contact postmaster"][rng.below(3) as usize];
                e.text = format!("{}; {clause}", e.text);
                e.verdict.pattern = format!("{}; {clause}", e.verdict.pattern);
            }
            _ => {}
        }
    }
    for chunk in events.chunks(5000) {
        store
            .ingest_batch(chunk, &rebound_ledger::Policy::default())
            .unwrap();
    }
}

/// The report from every event, one at a time, in time order.
fn row_by_row(url: &str, opts: ReportOptions) -> Report {
    let mut agg = Aggregator::new(opts.clone());
    let mut reader = source::Reader::open(url).unwrap();
    reader
        .scan_with(opts.window, opts.by, opts.alerts.enabled, &mut |r| {
            agg.push(r)
        })
        .unwrap();
    agg.finish()
}

fn same_reports(url: &str) {
    fill(url);
    for by in [
        Dimension::Provider,
        Dimension::Ip,
        Dimension::Domain,
        Dimension::Pattern,
    ] {
        let opts = ReportOptions {
            by,
            ..ReportOptions::default()
        };
        let counted = rebound_insight::build(url, opts.clone()).unwrap();
        let reference = row_by_row(url, opts);
        assert!(counted.events > 20_000, "{}", counted.events);
        // The counted report has fewer rows than events, and the same
        // numbers.
        assert_eq!(counted.events, reference.events);
        assert_eq!(counted.totals, reference.totals);
        assert_eq!(counted.groups, reference.groups, "by {by}");
        assert_eq!(counted.series, reference.series, "by {by}");
        assert_eq!(counted.overall, reference.overall);
        assert_eq!(counted.reasons, reference.reasons);
        assert_eq!(counted.top_patterns, reference.top_patterns);
        assert_eq!(counted.alerts, reference.alerts);
        assert!(!counted.incidents.is_empty());
        assert_eq!(counted.incidents, reference.incidents);
        assert_eq!(
            (counted.first_event_ms, counted.last_event_ms),
            (reference.first_event_ms, reference.last_event_ms)
        );
    }
}

#[test]
fn counted_in_sqlite_as_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    same_reports(dir.path().join("counted.db").to_str().unwrap());
}

#[test]
fn counted_in_postgres_as_row_by_row() {
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
    let schema = format!("rebound_counted_test_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    struct DropSchema(String, String);
    impl Drop for DropSchema {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.0, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
            }
        }
    }
    let _guard = DropSchema(base.clone(), schema.clone());
    same_reports(&format!("{base}{sep}schema={schema}"));
}
