//! Ingest benchmark: N synthetic Postfix log lines (default 1,000,000)
//! through the real pipeline (stream, parse, classify, batch, store with the
//! policy) into SQLite and, when a server is named, PostgreSQL; then
//! suppression checks. One thread throughout.
//!
//! ```sh
//! cargo bench -p rebound-ledger --bench ingest -- [--events N] [--batch N] [--db URL|--no-sqlite] [--pg URL|--no-pg]
//! ```
//! `--pg` defaults to `$REBOUND_TEST_POSTGRES_URL`; each run uses a fresh
//! schema there, dropped afterwards.

use rebound_ingest::{EventReader, Format, ReaderOptions};
use rebound_ledger::{IngestOptions, IngestStats, Policy, Store, synth};
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

// As in the `rebound` binary, which `rebound ingest` runs: with glibc's
// allocator, malloc, free and their memmoves were two fifths of this bench's
// profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut events: u64 = 1_000_000;
    let mut batch: usize = IngestOptions::default().batch_size;
    let mut db: Option<String> = None;
    let mut sqlite = true;
    let mut pg: Option<String> = std::env::var("REBOUND_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => {
                events = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--events N")
            }
            "--db" => db = args.next(),
            "--batch" => batch = args.next().and_then(|v| v.parse().ok()).expect("--batch N"),
            "--pg" => pg = args.next(),
            "--no-pg" => pg = None,
            "--no-sqlite" => sqlite = false,
            // cargo bench passes --bench; ignore it and anything unknown.
            _ => {}
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bench.log");
    {
        let mut f = BufWriter::new(std::fs::File::create(&log).unwrap());
        synth::postfix_lines(0, events, &mut f).unwrap();
        f.flush().unwrap();
    }
    let size = std::fs::metadata(&log).unwrap().len();
    println!(
        "input: {events} Postfix lines, {:.1} MiB",
        size as f64 / 1048576.0
    );

    // Parse + classify only.
    let t = Instant::now();
    let c = cpu_secs();
    let reader = open_reader(&log);
    let mut n = 0u64;
    let mut r = reader;
    for e in r.by_ref() {
        e.unwrap();
        n += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c;
    let (hits, misses) = r.cache_stats();
    println!(
        "parse+classify: {n} events in {secs:.2} s wall = {:.0} events/s; {cpu:.2} s CPU = {:.0} events/CPU-s (verdict cache {hits} hits, {misses} misses)",
        n as f64 / secs,
        n as f64 / cpu
    );

    let sqlite_url =
        db.unwrap_or_else(|| dir.path().join("bench.db").to_str().unwrap().to_string());
    println!("batch size: {batch} events per transaction");
    if sqlite {
        run("sqlite", &sqlite_url, &log, events, batch);
    }
    if let Some(base) = pg {
        let schema = format!("rebound_bench_{}", std::process::id());
        let sep = if base.contains('?') { '&' } else { '?' };
        run(
            "postgres",
            &format!("{base}{sep}schema={schema}"),
            &log,
            events,
            batch,
        );
        let _ = rebound_ledger::PgStore::drop_schema(&base, &schema);
    } else {
        println!("postgres: skipped (set REBOUND_TEST_POSTGRES_URL or pass --pg URL)");
    }
}

/// CPU seconds used by this process so far (user + system), from
/// /proc/self/stat; wall time on a shared machine overstates the cost.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn open_reader(log: &std::path::Path) -> EventReader<BufReader<std::fs::File>> {
    EventReader::new(
        BufReader::with_capacity(1 << 16, std::fs::File::open(log).unwrap()),
        "bench.log",
        ReaderOptions {
            format: Format::Postfix,
            year: Some(2026),
            ..ReaderOptions::default()
        },
    )
    .unwrap()
}

fn run(name: &str, url: &str, log: &std::path::Path, events: u64, batch: usize) {
    let mut store = rebound_ledger::open(url).unwrap();
    let policy = Policy::default();
    let mut stats = IngestStats::default();
    let t = Instant::now();
    let c = cpu_secs();
    rebound_ledger::ingest(
        &mut *store,
        &policy,
        open_reader(log),
        IngestOptions {
            batch_size: batch,
            strict: true,
        },
        &mut stats,
        |_| {},
        |_, _| {},
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c;
    assert_eq!(stats.inserted, events);
    println!(
        "{name} ingest: {} events in {secs:.2} s wall = {:.0} events/s; {cpu:.2} s CPU in this process = {:.0} events/CPU-s ({} suppressed, {} sender issues)",
        stats.inserted,
        stats.inserted as f64 / secs,
        stats.inserted as f64 / cpu,
        stats.suppressed,
        stats.sender_issues
    );
    // Re-ingest: everything is a duplicate.
    let t = Instant::now();
    let mut again = IngestStats::default();
    rebound_ledger::ingest(
        &mut *store,
        &policy,
        open_reader(log),
        IngestOptions::default(),
        &mut again,
        |_| {},
        |_, _| {},
    )
    .unwrap();
    assert_eq!(again.inserted, 0);
    println!(
        "{name} re-ingest (all duplicates): {:.0} events/s",
        events as f64 / t.elapsed().as_secs_f64()
    );
    check(name, &mut *store, events);
}

fn check(name: &str, store: &mut dyn Store, events: u64) {
    let addrs: Vec<String> = (0..events).map(synth::recipient).collect();
    let t = Instant::now();
    let c = cpu_secs();
    let mut found = 0;
    for chunk in addrs.chunks(10_000) {
        found += store.check(chunk).unwrap().iter().flatten().count();
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c;
    let expected = (0..events)
        .filter(|&i| synth::kind(i) == synth::Kind::UserUnknown)
        .count();
    assert_eq!(found, expected);
    println!(
        "{name} suppression check: {} addresses in {secs:.2} s wall = {:.0} checks/s; {:.0} checks/CPU-s in this process ({found} suppressed)",
        addrs.len(),
        addrs.len() as f64 / secs,
        addrs.len() as f64 / cpu.max(0.01)
    );
}
