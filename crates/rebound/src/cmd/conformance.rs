//! `rebound conformance DIR`: score the decoder on a labelled corpus.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A directory holding `expected.jsonl` and the files it names
    /// (directly or under `emails/`).
    pub dir: PathBuf,
    /// Print only the totals and the per-format table, not every miss.
    #[arg(long)]
    pub summary: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let expected = args.dir.join("expected.jsonl");
    // The library's I/O errors do not say which file; the one a wrong
    // directory misses first is expected.jsonl, so name it (or the
    // directory itself when that is what is missing).
    let missing = if args.dir.is_dir() {
        &expected
    } else {
        &args.dir
    };
    std::fs::metadata(missing).with_context(|| format!("cannot read {}", missing.display()))?;
    let board =
        rebound_decode::conformance::run(&args.dir, rebound_classify::Classifier::builtin())
            .with_context(|| format!("cannot read the corpus at {}", args.dir.display()))?;
    let text = board.render();
    if args.summary {
        let cut = text.find("\nmisses (").unwrap_or(text.len());
        print!("{}", &text[..cut]);
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
