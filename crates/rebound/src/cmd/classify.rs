//! `rebound classify`: SMTP replies in, one verdict per reply out.

use anyhow::Context;
use rebound_classify::Classifier;
use rebound_core::Verdict;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// One compact JSON object per line.
    #[default]
    Json,
    /// A human-readable table.
    Table,
}

#[derive(clap::Args)]
pub struct Args {
    /// Reply texts; `-` reads one per line from stdin.
    pub replies: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// A TOML rule file whose rules take precedence over the built-in ones
    /// (format: crates/rebound-classify/rules/README.md).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// Lines longer than this are cut before classification (the classifier
/// scans at most 64 KiB anyway); this only bounds memory for huge lines.
const MAX_LINE_BYTES: usize = 1 << 20;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let owned;
    let classifier: &Classifier = match &args.rules {
        Some(path) => {
            owned = Classifier::from_user_file(path)
                .with_context(|| format!("cannot load rules from {}", path.display()))?;
            &owned
        }
        None => Classifier::builtin(),
    };
    if args.replies.is_empty() {
        anyhow::bail!("no reply given: pass reply texts as arguments, or `-` to read stdin");
    }

    let stdout = std::io::stdout();
    let out = Output::new(BufWriter::new(stdout.lock()), args.format);
    match classify_all(classifier, &args.replies, out) {
        // A closed pipe (`| head`) means the reader has had enough.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

fn classify_all<W: Write>(
    classifier: &Classifier,
    replies: &[String],
    mut out: Output<W>,
) -> anyhow::Result<()> {
    for reply in replies {
        if reply == "-" {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let mut line = Vec::new();
            loop {
                line.clear();
                // Read bytes, not strings: invalid UTF-8 must not stop us.
                let n = (&mut input)
                    .take(MAX_LINE_BYTES as u64)
                    .read_until(b'\n', &mut line)?;
                if n == 0 {
                    break;
                }
                if line.len() == MAX_LINE_BYTES && line.last() != Some(&b'\n') {
                    // Drop the rest of an over-long line.
                    skip_to_newline(&mut input)?;
                }
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if text.trim().is_empty() {
                    continue;
                }
                out.write(text, &classifier.classify_text(text))?;
            }
        } else {
            out.write(reply, &classifier.classify_text(reply))?;
        }
    }
    out.finish()
}

fn skip_to_newline(input: &mut impl BufRead) -> anyhow::Result<()> {
    loop {
        let buf = input.fill_buf().context("reading stdin")?;
        if buf.is_empty() {
            return Ok(());
        }
        match memchr_newline(buf) {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

struct Output<W: Write> {
    w: W,
    format: Format,
    header_done: bool,
}

impl<W: Write> Output<W> {
    fn new(w: W, format: Format) -> Self {
        Self {
            w,
            format,
            header_done: false,
        }
    }

    fn write(&mut self, reply: &str, v: &Verdict) -> anyhow::Result<()> {
        match self.format {
            Format::Json => {
                serde_json::to_writer(&mut self.w, v)?;
                writeln!(self.w)?;
            }
            Format::Table => {
                if !self.header_done {
                    writeln!(
                        self.w,
                        "{:<5} {:<8} {:<15} {:<4} {:<17} {:<19} {:<12} {:<24} reply",
                        "code",
                        "status",
                        "reason",
                        "hard",
                        "owner",
                        "remedy",
                        "provider",
                        "blocklist"
                    )?;
                    self.header_done = true;
                }
                let code = v.replycode.map(|c| c.to_string()).unwrap_or_default();
                let status = v.deliverystatus.map(|s| s.to_string()).unwrap_or_default();
                let blocklist = v
                    .blocklist
                    .as_ref()
                    .map(|b| {
                        if b.zone.is_empty() {
                            b.name.clone()
                        } else {
                            b.zone.clone()
                        }
                    })
                    .unwrap_or_default();
                let short: String = reply.chars().take(60).collect();
                writeln!(
                    self.w,
                    "{:<5} {:<8} {:<15} {:<4} {:<17} {:<19} {:<12} {:<24} {}",
                    code,
                    status,
                    v.reason.as_str(),
                    if v.hardbounce { "yes" } else { "no" },
                    v.owner.as_str(),
                    v.remedy.as_str(),
                    v.provider.as_deref().unwrap_or(""),
                    blocklist,
                    short.replace(['\t', '\n', '\r'], " ")
                )?;
                writeln!(self.w, "      {}", v.explain)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.w.flush()?;
        Ok(())
    }
}
