//! The report over a large SQLite ledger (default 10 million events).
//!
//! ```sh
//! cargo bench -p rebound-insight --bench report
//! REBOUND_BENCH_EVENTS=1000000 REBOUND_BENCH_DB=/tmp/x.db cargo bench -p rebound-insight --bench report
//! REBOUND_BENCH_EVENTS=1000000 REBOUND_BENCH_DB='postgres://…?schema=bench' cargo bench -p rebound-insight --bench report
//! ```
//!
//! The events come from the seeded generator (30 days, diurnal volume, the
//! big providers, 24 injected incidents), judged by the real classifier,
//! with their failure wording varied (`vary`: queue ids, hosts and
//! clauses, so that the ledger holds thousands of distinct replies and
//! patterns, not the generator's four templates), and are loaded through
//! the ledger's own batch insert (50 000 events a transaction). The store
//! is cached: a second run reuses it when it holds the expected number of
//! events. Then the full report (rates by provider, hourly series, reasons,
//! patterns, alerts, incidents) is timed, its peak memory read from the
//! kernel (in a fresh process when this run loaded the store), and
//! detection is scored against the injected incidents.
//!
//! The report reads whole hours' deliveries from the ledger's per-hour
//! rollups, which the load keeps as it inserts (a store cached by an
//! older build gets them from migration 5 when first opened);
//! `REBOUND_BENCH_ROLLUPS=0` counts every delivery from the events
//! instead, as before the rollups (the same report).

use rebound_insight::synth::{Synth, SynthConfig, score};
use rebound_insight::{ReportOptions, render};
use rebound_ledger::Policy;
use std::time::Instant;

/// 2026-10-01T00:00:00Z
const T0: i64 = 1_790_812_800_000;
const HOURS: i64 = 30 * 24;

fn config(events: u64) -> SynthConfig {
    // The generator's mean volume gives `events` attempts over 30 days
    // (plus a few complaints).
    SynthConfig::with_incidents(7, T0, HOURS, events as f64 / HOURS as f64, 24)
}

/// Words a receiving server adds around its reply; each failure gets none,
/// a queue id and host (the pattern unchanged: the classifier masks them),
/// or a clause that makes a pattern of its own.
const CLAUSES: &[&str] = &[
    "please retry later",
    "see our postmaster page",
    "contact the administrator",
    "policy reasons",
    "reference code 17",
    "try again in 10 minutes",
    "local policy",
    "rule 42 matched",
    "see https://help.example.net/smtp",
    "account 3 of 7",
    "message refused by filter",
    "this incident was logged",
    "support ticket required",
    "retry after backoff",
    "connection rate",
    "per-hour quota",
    "temporary condition",
    "greylisted by site policy",
    "content rules",
    "header check failed",
];

fn vary(e: &mut rebound_ingest::Event, rng: &mut rebound_insight::synth::Rng) {
    if e.outcome == rebound_ingest::Outcome::Delivered {
        return;
    }
    match rng.below(8) {
        0..=2 => {
            let (id, host) = (rng.below(1 << 40), rng.below(400));
            e.text = format!("{} (queue {id:010x} at mx{host}.example.net)", e.text);
        }
        3 => {
            let clause = CLAUSES[rng.below(CLAUSES.len() as u64) as usize];
            e.text = format!("{}; {clause}", e.text);
            e.verdict.pattern = format!("{}; {clause}", e.verdict.pattern);
        }
        _ => {}
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

fn load(path: &str, events: u64) -> rebound_ledger::Result<u64> {
    if !is_postgres(path) {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(format!("{path}-wal"));
        let _ = std::fs::remove_file(format!("{path}-shm"));
    }
    // Through the ledger's own batch insert (its schema, its indexes, its
    // policy), in large transactions.
    let mut store = rebound_ledger::open(path)?;
    let policy = Policy::default();
    let start = Instant::now();
    let mut n = 0u64;
    let mut synth = Synth::new(config(events));
    let mut rng = rebound_insight::synth::Rng::new(11);
    let mut batch = Vec::with_capacity(50_000);
    loop {
        batch.clear();
        batch.extend(synth.by_ref().take(50_000));
        for e in batch.iter_mut() {
            vary(e, &mut rng);
        }
        if batch.is_empty() {
            break;
        }
        n += store.ingest_batch(&batch, &policy)?.inserted as u64;
        eprint!(
            "\r  loaded {n} events ({:.0}s)",
            start.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    Ok(n)
}

fn main() {
    let events: u64 = std::env::var("REBOUND_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let path = std::env::var("REBOUND_BENCH_DB").unwrap_or_else(|_| {
        std::env::temp_dir()
            .join(format!("rebound-insight-bench-v3-varied-{events}.db"))
            .display()
            .to_string()
    });
    // Cached when it holds what this run would generate (±2%: the volume
    // is random around the mean).
    let have = if is_postgres(&path) {
        rebound_ledger::connect_to_schema(&path)
            .ok()
            .and_then(|mut c| c.query_one("SELECT COUNT(*) FROM events", &[]).ok())
            .map_or(0, |r| r.get::<_, i64>(0)) as u64
    } else {
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0) as u64
    };
    let loaded_here = have.abs_diff(events) * 50 > events;
    if loaded_here {
        // A PostgreSQL schema is never emptied here: it may hold more
        // than a bench's events.
        assert!(
            !is_postgres(&path) || have == 0,
            "{path} holds {have} events, not ~{events}: name a new schema (?schema=…)"
        );
        eprintln!("generating ~{events} events into {path} (cached for the next run)…");
        let t = Instant::now();
        let n = load(&path, events).expect("bulk load");
        eprintln!("  {n} events in {:.0}s", t.elapsed().as_secs_f64());
    } else {
        eprintln!("reusing {path} ({have} events)");
    }
    if loaded_here && std::env::var("REBOUND_BENCH_CHILD").is_err() {
        // The load's memory would count in this process's peak: measure
        // the report in a fresh one, which finds the store cached.
        let status = std::process::Command::new(std::env::current_exe().expect("own path"))
            .env("REBOUND_BENCH_CHILD", "1")
            .env("REBOUND_BENCH_DB", &path)
            .env("REBOUND_BENCH_EVENTS", events.to_string())
            .status()
            .expect("rerun");
        std::process::exit(status.code().unwrap_or(1));
    }

    if std::env::var("REBOUND_BENCH_PROFILE").is_ok() {
        // Where the time goes: the scan alone, then the scan and detection.
        let cpu = || {
            let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let f: Vec<&str> = s
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            (f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)) / 100.0
        };
        let w = rebound_insight::Window::default();
        let (t, c) = (Instant::now(), cpu());
        let n = rebound_insight::source::scan(
            &path,
            w,
            rebound_insight::Dimension::Provider,
            &mut |_| {},
        )
        .unwrap();
        println!(
            "scan only: {n} rows, {:.2} s wall, {:.2} s cpu",
            t.elapsed().as_secs_f64(),
            cpu() - c
        );
        let (t, c) = (Instant::now(), cpu());
        let mut d = rebound_insight::Detector::new(Default::default());
        rebound_insight::source::scan(&path, w, rebound_insight::Dimension::Provider, &mut |r| {
            d.push(r)
        })
        .unwrap();
        d.finish();
        println!(
            "scan + detect: {:.2} s wall, {:.2} s cpu",
            t.elapsed().as_secs_f64(),
            cpu() - c
        );
    }
    let cpu = || {
        // utime + stime of the whole process (all threads), in seconds.
        let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let f: Vec<f64> = s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
    };
    let readers = std::env::var("REBOUND_BENCH_READERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(rebound_insight::report::READERS);
    // REBOUND_BENCH_ROLLUPS=0: every delivery counted from the events, as
    // before the rollups (the same report), for the comparison.
    let rollups = std::env::var("REBOUND_BENCH_ROLLUPS").map_or(true, |v| v != "0");
    let opts = ReportOptions {
        readers,
        ..ReportOptions::default()
    };
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (t, c) = (Instant::now(), cpu());
    let report = if rollups {
        rebound_insight::build(&path, opts)
    } else {
        rebound_insight::report::build_without_rollups(&path, opts)
    }
    .expect("report");
    let secs = t.elapsed().as_secs_f64();
    let cpu_secs = cpu() - c;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // Peak resident memory of this process (the report and the generator
    // replay below have not run yet).
    let peak_mib = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0);
    let text = render::text(&report);
    println!("{}", text.lines().take(16).collect::<Vec<_>>().join("\n"));
    // The generated volume of each injection (the same seed regenerates
    // the same stream).
    let mut synth = Synth::new(config(events));
    if std::env::var("REBOUND_BENCH_NO_SCORE").is_err() {
        for _ in synth.by_ref() {}
    }
    let s = score(
        &synth.injections(),
        &report.incidents,
        report.detect.min_events,
    );
    let mut ttd = s.minutes_to_detect.clone();
    ttd.sort_by(f64::total_cmp);
    println!(
        "\nreport over {} events ({}, {}): {:.2} s wall, {:.2} s CPU, peak RSS {:.0} MiB, {} reader thread(s), load average {} before, {} after ({:.1} M events/s); {} incidents for {} injected ({} below the floor), precision {:.3}, recall {:.3}, minutes to detect median {:.0} max {:.0}",
        report.events,
        if is_postgres(&path) {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        if rollups {
            "deliveries from the rollups"
        } else {
            "deliveries counted from the events"
        },
        secs,
        cpu_secs,
        peak_mib,
        readers,
        load_before.split_whitespace().next().unwrap_or("?"),
        load.split_whitespace().next().unwrap_or("?"),
        report.events as f64 / secs / 1e6,
        report.incidents.len(),
        s.injected,
        s.below_floor,
        s.precision,
        s.recall,
        ttd.get(ttd.len() / 2).copied().unwrap_or(f64::NAN),
        ttd.last().copied().unwrap_or(f64::NAN),
    );
    for u in &s.unmatched_detections {
        println!("  unmatched: {u}");
    }
    for m in &s.missed_injections {
        println!("  missed: {m}");
    }
}
