//! `rebound completions SHELL` and `rebound man DIR`: what a package
//! installs beside the binary, generated from the same clap definitions as
//! the CLI itself (clap_complete, clap_mangen) so they cannot drift.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CompletionArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Directory for `rebound.1`, `rebound-demo.1`, … (created if missing).
    pub dir: PathBuf,
}

pub fn completions(args: CompletionArgs, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    clap_complete::generate(args.shell, &mut cli, "rebound", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    clap_mangen::generate_to(cli, &args.dir)
        .with_context(|| format!("cannot write man pages into {}", args.dir.display()))?;
    Ok(ExitCode::SUCCESS)
}
