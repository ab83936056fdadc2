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
    let board =
        rebound_decode::conformance::run(&args.dir, rebound_classify::Classifier::builtin())?;
    let text = board.render();
    if args.summary {
        let cut = text.find("\nmisses (").unwrap_or(text.len());
        print!("{}", &text[..cut]);
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
