//! Detection against the seeded generator: injected incidents of every kind
//! must be found (recall) and nothing else reported (precision), in batch
//! (through the real classifier and a real SQLite store) and incrementally;
//! a clean stream opens none.

use rebound_insight::synth::{Synth, SynthConfig, score};
use rebound_insight::{DetectConfig, Detector, IncidentKind, OwnedRow, ReportOptions};
use rebound_ledger::Policy;

/// 2026-11-02T00:00:00Z
const T0: i64 = 1_793_577_600_000;

/// Stores the stream; returns the events stored and the injections with
/// their generated volume.
fn store_events(path: &str, cfg: SynthConfig) -> (u64, Vec<rebound_insight::synth::Injection>) {
    let mut store = rebound_ledger::open(path).unwrap();
    let policy = Policy::default();
    let mut batch = Vec::with_capacity(5000);
    let mut n = 0;
    let mut synth = Synth::new(cfg);
    for e in synth.by_ref() {
        batch.push(e);
        if batch.len() == 5000 {
            n += store.ingest_batch(&batch, &policy).unwrap().inserted as u64;
            batch.clear();
        }
    }
    n += store.ingest_batch(&batch, &policy).unwrap().inserted as u64;
    (n, synth.injections())
}

#[test]
fn injected_incidents_are_found_in_batch_and_incrementally() {
    let cfg = SynthConfig::with_incidents(42, T0, 72, 1200.0, 12);
    let planned = cfg.injections.clone();
    // Every kind is injected twice.
    for k in [
        IncidentKind::Reputation,
        IncidentKind::Blocklist,
        IncidentKind::Authentication,
        IncidentKind::RateLimiting,
        IncidentKind::Content,
        IncidentKind::ListQuality,
    ] {
        assert_eq!(planned.iter().filter(|i| i.kind == k).count(), 2, "{k:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eval.db");
    let path = path.to_str().unwrap();
    let (stored, injected) = store_events(path, cfg.clone());
    assert!(stored > 50_000, "{stored} events");

    let report = rebound_insight::build(path, ReportOptions::default()).unwrap();
    assert_eq!(report.events, stored);
    let s = score(&injected, &report.incidents, 20);
    assert_eq!(
        s.below_floor, 0,
        "this seed injects only incidents of meaningful volume"
    );
    println!("batch: {s:#?}");
    let mut ttd = s.minutes_to_detect.clone();
    ttd.sort_by(f64::total_cmp);
    println!(
        "precision {:.3} recall {:.3}; minutes to detect: median {:.0}, max {:.0}",
        s.precision,
        s.recall,
        ttd[ttd.len() / 2],
        ttd[ttd.len() - 1]
    );
    assert!(s.precision >= 0.95, "precision {}", s.precision);
    assert!(s.recall >= 0.95, "recall {}", s.recall);
    // Every injection is detected while it is still going on, and half of
    // them within 20 minutes (the slowest are small providers at night,
    // where 20 events take a while to accumulate).
    for i in &injected {
        let first = report
            .incidents
            .iter()
            .filter(|d| rebound_insight::synth::matches(d, i))
            .map(|d| d.opened_ms)
            .min()
            .unwrap();
        assert!(first < i.end_ms, "{i:?} detected at {first}");
    }
    assert!(ttd[ttd.len() / 2] <= 20.0, "{ttd:?}");
    // Blocklist incidents name the list and the listed IP.
    for i in report
        .incidents
        .iter()
        .filter(|i| i.kind == IncidentKind::Blocklist)
    {
        let b = i.blocklist.as_ref().expect("blocklist named");
        assert!(
            b.list.contains("spamhaus") || b.list.contains("barracuda"),
            "{b:?}"
        );
        let inj = injected
            .iter()
            .find(|j| rebound_insight::synth::matches(i, j))
            .unwrap();
        assert_eq!(
            i.ips[0].0,
            inj.ip.clone().unwrap(),
            "the listed IP comes first"
        );
        assert!(!i.samples.is_empty() && !i.action.is_empty());
    }
    // List-quality incidents name the import campaign.
    for i in report
        .incidents
        .iter()
        .filter(|i| i.kind == IncidentKind::ListQuality)
    {
        assert!(i.campaigns[0].0.starts_with("import-"), "{:?}", i.campaigns);
    }

    // The incremental detector, fed the same events one by one, agrees.
    let mut d = Detector::new(DetectConfig::default());
    let mut opened = 0;
    for e in Synth::new(cfg) {
        d.push(&OwnedRow::from_event(&e).as_row());
        opened += d
            .drain_changes()
            .iter()
            .filter(|c| c.change == "opened")
            .count();
    }
    d.finish();
    opened += d
        .drain_changes()
        .iter()
        .filter(|c| c.change == "opened")
        .count();
    let inc = d.incidents();
    assert_eq!(opened, inc.len());
    let key = |v: &[rebound_insight::Incident]| {
        v.iter()
            .map(|i| (i.kind, i.provider.clone(), i.opened_ms))
            .collect::<Vec<_>>()
    };
    // The report lists the same incidents, newest first.
    let mut newest_first = inc.clone();
    newest_first.reverse();
    assert_eq!(key(&newest_first), key(&report.incidents));
    assert!(
        report
            .incidents
            .windows(2)
            .all(|w| w[0].opened_ms >= w[1].opened_ms)
    );
    // Each says who owns the problem.
    assert!(report.incidents.iter().all(|i| !i.owner.is_empty()));
}

#[test]
fn a_clean_stream_opens_no_incident() {
    for seed in [1, 2] {
        let cfg = SynthConfig::clean(seed, T0, 48, 1500.0);
        let mut d = Detector::new(DetectConfig::default());
        let mut n = 0;
        for e in Synth::new(cfg) {
            n += 1;
            d.push(&OwnedRow::from_event(&e).as_row());
        }
        d.finish();
        assert!(n > 50_000);
        assert_eq!(d.incidents(), vec![], "seed {seed}");
    }
}

/// More seeds, for the figures in ARCHITECTURE.md (slow in debug builds:
/// `cargo test -p rebound-insight --test detection -- --ignored --nocapture`).
#[test]
#[ignore]
fn many_seeds() {
    let (mut inj, mut det, mut tp, mut found, mut below) = (0, 0, 0, 0, 0);
    let mut ttd = Vec::new();
    for seed in 100..110 {
        let cfg = SynthConfig::with_incidents(seed, T0, 72, 1200.0, 12);
        let mut d = Detector::new(DetectConfig::default());
        let mut synth = Synth::new(cfg);
        for e in synth.by_ref() {
            d.push(&OwnedRow::from_event(&e).as_row());
        }
        d.finish();
        let s = score(&synth.injections(), &d.incidents(), 20);
        println!(
            "seed {seed}: precision {:.3} recall {:.3} below floor {} {:?} {:?}",
            s.precision, s.recall, s.below_floor, s.unmatched_detections, s.missed_injections
        );
        below += s.below_floor;
        inj += s.injected;
        det += s.detected;
        tp += s.true_positives;
        found += s.found;
        ttd.extend(s.minutes_to_detect);
    }
    ttd.sort_by(f64::total_cmp);
    println!(
        "10 seeds: {inj} injected ({below} below 20 events an hour), {det} detected; precision {:.3} recall {:.3}; minutes to detect median {:.0} p90 {:.0} max {:.0}",
        tp as f64 / det as f64,
        found as f64 / (inj - below) as f64,
        ttd[ttd.len() / 2],
        ttd[ttd.len() * 9 / 10],
        ttd[ttd.len() - 1]
    );
    assert!(tp as f64 / det as f64 >= 0.95 && found as f64 / (inj - below) as f64 >= 0.95);
}
