//! `rebound reclassify`: judge the ledger's stored events again with the
//! current rules (built-in plus `--rules` files) and show, or with
//! `--apply` make, the difference: verdicts, suppressions added and lifted.

use anyhow::Context;
use rebound_classify::Classifier;
use rebound_ingest::Judge;
use rebound_ingest::time::now_ms;
use rebound_ledger::{ReclassifyJob, ReclassifyOptions, ReclassifyReport};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Addresses listed per kind in the text output (`--json` lists all).
const ADDRESSES_SHOWN: usize = 20;
/// Rows of each count table in the text output.
const ROWS_SHOWN: usize = 15;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Only events at or after this time: RFC 3339, epoch seconds, or an
    /// age (`30m`, `24h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// A TOML rule file whose rules take precedence over the built-in ones;
    /// repeat for several (the first wins).
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Suppression policy (TOML), as given to `rebound ingest`.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write the changes (events, suppressions, audit trail). Without it
    /// nothing is changed.
    #[arg(long)]
    pub apply: bool,
    /// One JSON object with every address.
    #[arg(long)]
    pub json: bool,
    /// Events per transaction (whole addresses).
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The classifier of `--rules` files (the built-in rules alone without
/// any).
pub fn load_rules(files: &[PathBuf]) -> anyhow::Result<Classifier> {
    Classifier::from_user_files(files).with_context(|| {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        format!("cannot load rules from {}", names.join(", "))
    })
}

/// As [`load_rules`], shared: the process's built-in classifier when no
/// file is named (no second copy compiled).
pub fn shared_rules(files: &[PathBuf]) -> anyhow::Result<rebound_classify::SharedClassifier> {
    Ok(if files.is_empty() {
        rebound_classify::SharedClassifier::Builtin
    } else {
        rebound_classify::SharedClassifier::Loaded(std::sync::Arc::new(load_rules(files)?))
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let since_ms = match &args.since {
        Some(s) => Some(
            rebound_ingest::time::parse_since(s, now_ms())
                .ok_or_else(|| anyhow::anyhow!("cannot read --since {s:?}"))?,
        ),
        None => None,
    };
    let classifier = load_rules(&args.rules)?;
    let policy = super::ingest::load_policy(args.policy.as_deref())?;
    let mut store = super::open_store(&url)?;
    let mut judge = Judge::new(&classifier);
    let options = ReclassifyOptions {
        since_ms,
        apply: args.apply,
        batch_size: args.batch_size.max(1),
        actor: "reclassify".into(),
    };
    let mut job = ReclassifyJob::new(&mut judge, &policy, options);
    let started = std::time::Instant::now();
    let quiet = args.quiet;
    rebound_ledger::reclassify::run(&mut *store, &mut job, |r| {
        if !quiet {
            // Printed after the batch's commit: what it says is durable.
            eprintln!(
                "rebound: {} events judged, {} changed, {} suppressions {}added, {} lifted",
                r.events,
                r.changed,
                r.suppressions_added.len(),
                if r.applied { "" } else { "to be " },
                r.suppressions_lifted.len()
            );
        }
    })
    .context("reclassify failed (every committed batch stands; run it again to finish)")?;
    let report = job.report;
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "rebound: {} events in {secs:.2} s ({:.0} events/s)",
            report.events,
            report.events as f64 / secs.max(1e-9)
        );
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, r: &ReclassifyReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} with rules {}: {} events judged, {} verdicts changed",
        if r.applied { "Applied" } else { "Dry run" },
        r.rules_id,
        r.events,
        r.changed
    )?;
    write_counts(out, "changes (from → to)", &r.transitions)?;
    write_counts(out, "by new reason", &r.by_reason)?;
    write_counts(out, "by rule", &r.by_rule)?;
    let verb = if r.applied { "" } else { "to be " };
    write_addresses(
        out,
        &format!("suppressions {verb}added"),
        &r.suppressions_added,
    )?;
    write_addresses(
        out,
        &format!("suppressions {verb}lifted"),
        &r.suppressions_lifted,
    )?;
    if !r.applied && (r.changed > 0) {
        writeln!(
            out,
            "Nothing was changed; run again with --apply to write this."
        )?;
    }
    Ok(())
}

fn write_counts(
    out: &mut impl Write,
    title: &str,
    counts: &std::collections::BTreeMap<String, u64>,
) -> std::io::Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<_> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    writeln!(out, "{title}:")?;
    for (k, n) in rows.iter().take(ROWS_SHOWN) {
        writeln!(out, "  {n:>8}  {k}")?;
    }
    if rows.len() > ROWS_SHOWN {
        writeln!(out, "  … and {} more", rows.len() - ROWS_SHOWN)?;
    }
    Ok(())
}

fn write_addresses(out: &mut impl Write, title: &str, list: &[String]) -> std::io::Result<()> {
    writeln!(out, "{title}: {}", list.len())?;
    for a in list.iter().take(ADDRESSES_SHOWN) {
        writeln!(out, "  {a}")?;
    }
    if list.len() > ADDRESSES_SHOWN {
        writeln!(
            out,
            "  … and {} more (--json lists them all)",
            list.len() - ADDRESSES_SHOWN
        )?;
    }
    Ok(())
}
