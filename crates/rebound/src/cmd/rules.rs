//! `rebound rules`: the classifier's rules as something users manage —
//! which are loaded and their id (`list`), what is wrong with a rule file
//! (`check`), and which rules a reply matches and which one won
//! (`explain`).

use rebound_classify::{Classifier, ObservationRef};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// The rule files loaded (built-in and `--rules`), their rule counts and the rules id stored with every verdict.
    List {
        /// A user rule file (repeat for several; the first wins).
        #[arg(long, value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check a user rule file: TOML errors with line numbers, unknown reasons, duplicate ids, phrases that can never win. Exit 1 when anything is found.
    Check {
        file: PathBuf,
        /// One JSON object per finding.
        #[arg(long)]
        json: bool,
    },
    /// Every rule that matches a reply, in the order they are tried, and which one won.
    Explain {
        reply: String,
        /// A user rule file (repeat for several; the first wins).
        #[arg(long, value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.command {
        Command::List { rules, json } => list(&mut out, &rules, json),
        Command::Check { file, json } => check(&mut out, &file, json),
        Command::Explain { reply, rules, json } => explain(&mut out, &reply, &rules, json),
    }
}

fn list(out: &mut impl Write, files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let c = super::reclassify::load_rules(files)?;
    let builtin = rebound_classify::builtin_files();
    let builtin_rules: usize = builtin.iter().map(|(_, n)| n).sum();
    if json {
        let v = serde_json::json!({
            "rules_id": c.id(),
            "builtin_id": rebound_classify::builtin_rules_id(),
            "rules": c.rule_count(),
            "builtin": builtin.iter().map(|(name, n)| serde_json::json!({"file": name, "rules": n})).collect::<Vec<_>>(),
            "user": c.user_files(),
        });
        writeln!(out, "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "rules id: {}", c.id())?;
    writeln!(
        out,
        "built-in: {} files, {builtin_rules} rules (id {})",
        builtin.len(),
        rebound_classify::builtin_rules_id()
    )?;
    for (name, n) in &builtin {
        writeln!(out, "  {n:>5}  {name}")?;
    }
    if c.user_files().is_empty() {
        writeln!(out, "user files: none (--rules FILE)")?;
    } else {
        writeln!(out, "user files (first wins):")?;
        for f in c.user_files() {
            writeln!(
                out,
                "  {:>5}  {} ({} status entries)",
                f.rules, f.name, f.statuses
            )?;
        }
    }
    writeln!(out, "total: {} rules", c.rule_count())?;
    Ok(ExitCode::SUCCESS)
}

fn check(out: &mut impl Write, file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let text = super::read_text(file)?;
    let name = file.display().to_string();
    let findings = rebound_classify::lint(&name, &text);
    for f in &findings {
        if json {
            writeln!(out, "{}", serde_json::to_string(f)?)?;
        } else {
            writeln!(out, "{name}:{}: {}: {}", f.line, f.severity, f.message)?;
        }
    }
    if findings.is_empty() {
        if !json {
            writeln!(out, "{name}: ok")?;
        }
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

fn explain(
    out: &mut impl Write,
    reply: &str,
    files: &[PathBuf],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let c: Classifier = super::reclassify::load_rules(files)?;
    let (verdict, matches) = c.matching_rules(&ObservationRef {
        text: reply,
        ..ObservationRef::default()
    });
    if json {
        let v = serde_json::json!({
            "rules_id": c.id(),
            "matches": matches,
            "decided_by": rebound_ledger::reclassify::decided_by(&verdict.explain),
            "verdict": verdict,
        });
        writeln!(out, "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    if matches.is_empty() {
        writeln!(out, "no rule matches")?;
    }
    for (i, m) in matches.iter().enumerate() {
        writeln!(
            out,
            "{:>3}. {} {:<40} {:<15} {:<9}{}{}",
            i + 1,
            if m.won { "*" } else { " " },
            m.id,
            m.reason.as_str(),
            m.tier,
            m.provider
                .as_deref()
                .map(|p| format!(" provider {p}"))
                .unwrap_or_default(),
            m.phrase
                .as_deref()
                .map(|p| format!(" on {p:?}"))
                .unwrap_or_default(),
        )?;
    }
    writeln!(
        out,
        "verdict: {} (hard bounce: {}), decided by {}",
        verdict.reason,
        if verdict.hardbounce { "yes" } else { "no" },
        rebound_ledger::reclassify::decided_by(&verdict.explain)
    )?;
    writeln!(out, "  {}", verdict.explain)?;
    Ok(ExitCode::SUCCESS)
}
