//! Reclassify benchmark: N synthetic Postfix events (default 300,000)
//! ingested into a SQLite ledger (and PostgreSQL when a server is named)
//! with the built-in rules, then judged again with a user rule that
//! changes every "user unknown" (1 in 20) into a block of the sender: a
//! dry run, then `apply` (events updated and stamped, suppressions lifted,
//! audit rows written). Prints events per second; asserts nothing about
//! time.
//!
//! ```sh
//! cargo bench -p rebound-ledger --bench reclassify -- [--events N] [--batch N] [--pg URL|--no-pg]
//! ```

use rebound_classify::Classifier;
use rebound_ingest::{EventReader, Format, Judge, ReaderOptions};
use rebound_ledger::{IngestOptions, IngestStats, Policy, ReclassifyJob, ReclassifyOptions, synth};
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

// As in the `rebound` binary: the run allocates per row, and glibc's
// allocator was a fifth of it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FLIP: &str = r#"
[[rule]]
id = "virtual-table-is-a-block"
reason = "blocked"
phrases = ["user unknown in virtual mailbox table"]
"#;

fn main() {
    let mut events: u64 = 300_000;
    let mut batch: usize = ReclassifyOptions::default().batch_size;
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
            "--batch" => batch = args.next().and_then(|v| v.parse().ok()).expect("--batch N"),
            "--pg" => pg = args.next(),
            "--no-pg" => pg = None,
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
    let classifier = Classifier::with_rules(&[("flip.toml", FLIP)]).unwrap();
    let sqlite = dir.path().join("bench.db").to_str().unwrap().to_string();
    run("sqlite", &sqlite, &log, &classifier, batch);
    if let Some(base) = pg {
        let schema = format!("rebound_reclassify_bench_{}", std::process::id());
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}schema={schema}");
        run("postgres", &url, &log, &classifier, batch);
        let _ = rebound_ledger::PgStore::drop_schema(&base, &schema);
    } else {
        println!("postgres: skipped (set REBOUND_TEST_POSTGRES_URL or pass --pg URL)");
    }
}

fn run(name: &str, url: &str, log: &std::path::Path, classifier: &Classifier, batch: usize) {
    let mut store = rebound_ledger::open(url).unwrap();
    let policy = Policy::default();
    let reader = EventReader::new(
        BufReader::with_capacity(1 << 16, std::fs::File::open(log).unwrap()),
        "bench.log",
        ReaderOptions {
            format: Format::Postfix,
            year: Some(2026),
            ..ReaderOptions::default()
        },
    )
    .unwrap();
    let mut stats = IngestStats::default();
    rebound_ledger::ingest(
        &mut *store,
        &policy,
        reader,
        IngestOptions::default(),
        &mut stats,
        |_| {},
        |_, _| {},
    )
    .unwrap();
    println!("{name}: {} events ingested", stats.inserted);
    for apply in [false, true] {
        let mut judge = Judge::new(classifier);
        let mut job = ReclassifyJob::new(
            &mut judge,
            &policy,
            ReclassifyOptions {
                apply,
                batch_size: batch,
                ..Default::default()
            },
        );
        let t = Instant::now();
        let c = cpu_secs();
        rebound_ledger::reclassify::run(&mut *store, &mut job, |_| {}).unwrap();
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs() - c;
        let r = &job.report;
        println!(
            "{name} reclassify {}: {} events in {secs:.2} s wall = {:.0} events/s; {cpu:.2} s CPU = {:.0} events/CPU-s ({} changed, {} lifted, batch {batch})",
            if apply { "--apply" } else { "dry run" },
            r.events,
            r.events as f64 / secs,
            r.events as f64 / cpu,
            r.changed,
            r.suppressions_lifted.len()
        );
    }
}

/// CPU seconds used by this process so far (user + system), from
/// /proc/self/stat: on a shared machine the wall time says more about the
/// neighbours than about the code. (A PostgreSQL run's server time is not
/// in it.)
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
