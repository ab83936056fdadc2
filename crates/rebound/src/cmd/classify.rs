//! `rebound classify`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Reply texts; `-` reads one per line from stdin.
    pub replies: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let classifier = rebound_classify::Classifier::builtin();
    for r in &args.replies {
        println!("{}", serde_json::to_string(&classifier.classify_text(r))?);
    }
    Ok(ExitCode::SUCCESS)
}
