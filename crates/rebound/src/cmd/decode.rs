//! `rebound decode`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files, directories, Maildirs or mboxes; `-` reads one message from stdin.
    pub paths: Vec<String>,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("decode is not wired yet")
}
