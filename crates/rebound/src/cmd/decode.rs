//! `rebound decode`: bounce emails in, JSON Lines records out.

use anyhow::Context;
use rayon::prelude::*;
use rebound_classify::Classifier;
use rebound_decode::{DecodeOptions, RawMessage, Record};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Messages decoded per parallel batch: large enough to keep every core busy,
/// small enough to bound memory.
const BATCH: usize = 512;

#[derive(clap::Args)]
pub struct Args {
    /// Files, directories, Maildirs or mboxes; `-` reads stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also report successful deliveries.
    #[arg(long)]
    pub delivered: bool,
    /// Also report auto-replies.
    #[arg(long)]
    pub vacation: bool,
    /// `json`: Sisimai's fields plus Rebound's verdict; `sisimai`: Sisimai's fields only.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// The shape of VERP bounce addresses, a regex with the named groups
    /// `local` and `domain` (default: `PREFIX+LOCAL=DOMAIN@host` or
    /// `PREFIX-LOCAL=DOMAIN@host`); used only when a notice names no
    /// recipient or a cut-off one.
    #[arg(long, value_name = "REGEX")]
    pub verp_pattern: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Sisimai,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let options = DecodeOptions {
        delivered: args.delivered,
        vacation: args.vacation,
    };
    let classifier = Classifier::builtin();
    let verp = match &args.verp_pattern {
        Some(p) => rebound_decode::VerpPattern::new(p).context("--verp-pattern")?,
        None => rebound_decode::VerpPattern::builtin().clone(),
    };
    let progress = std::io::stderr()
        .is_terminal()
        .then(indicatif::ProgressBar::new_spinner);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failures = 0usize;
    let mut inputs = rebound_decode::messages(&args.paths);
    loop {
        let mut batch: Vec<RawMessage> = Vec::with_capacity(BATCH);
        for item in inputs.by_ref() {
            match item {
                Ok(msg) => {
                    batch.push(msg);
                    if batch.len() == BATCH {
                        break;
                    }
                }
                Err(err) => {
                    failures += 1;
                    eprintln!("rebound: {}", super::input_error(&err));
                }
            }
        }
        if batch.is_empty() {
            break;
        }
        let decoded: Vec<_> = pool.install(|| {
            batch
                .par_iter()
                .map(|m| {
                    rebound_decode::decode_message_configured(
                        &m.bytes, &m.origin, &options, classifier, &verp,
                    )
                })
                .collect()
        });
        for (msg, result) in batch.iter().zip(decoded) {
            match result {
                Ok(records) => write_records(&mut out, &records, args.format)?,
                Err(err) => {
                    failures += 1;
                    eprintln!("rebound: {}: {err}", msg.origin);
                }
            }
        }
        if let Some(p) = &progress {
            p.inc(batch.len() as u64);
        }
    }
    out.flush()?;
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn write_records(out: &mut impl Write, records: &[Record], format: Format) -> anyhow::Result<()> {
    for r in records {
        match format {
            Format::Json => serde_json::to_writer(&mut *out, r)?,
            Format::Sisimai => serde_json::to_writer(&mut *out, &r.to_sisimai_json())?,
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}
