//! `rebound bench DIR`: decoding throughput on one core, side by side with
//! Perl Sisimai when it is installed (`perl -MSisimai`).

use anyhow::Context;
use rebound_classify::Classifier;
use rebound_decode::DecodeOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories of bounce emails (e.g. ../shared/corpus/sisimai/emails).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Passes over the input, for a stable figure.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Passes for Perl Sisimai (it is slow; the rate is per email either way).
    #[arg(long, default_value_t = 2)]
    pub sisimai_repeat: usize,
    /// Do not run Perl Sisimai even when it is installed.
    #[arg(long)]
    pub no_sisimai: bool,
}

/// The Perl side: decode every file `repeat` times with Sisimai and print
/// "emails records seconds". Sisimai 5 calls it `rise`, Sisimai 4 `make`.
const SISIMAI_SCRIPT: &str = r#"
use strict; use warnings; use Sisimai; use Time::HiRes qw(time);
my $repeat = shift @ARGV;
my $method = Sisimai->can('rise') ? 'rise' : 'make';
my ($emails, $records) = (0, 0);
my $t0 = time;
for (1 .. $repeat) {
    for my $f (@ARGV) {
        my $v = eval { Sisimai->$method($f, 'delivered' => 1) };
        $emails++;
        $records += scalar @$v if ref $v eq 'ARRAY';
    }
}
printf "%d %d %.6f %s\n", $emails, $records, time - $t0, $Sisimai::VERSION;
"#;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for item in rebound_decode::messages(&args.paths) {
        let msg = item?;
        files.push(msg);
    }
    anyhow::ensure!(!files.is_empty(), "no message found under the given paths");
    let bytes: usize = files.iter().map(|m| m.bytes.len()).sum();
    println!(
        "input: {} messages, {:.1} MiB; {} passes on one core",
        files.len(),
        bytes as f64 / (1024.0 * 1024.0),
        args.repeat
    );

    let options = DecodeOptions {
        delivered: true,
        vacation: false,
    };
    let classifier = Classifier::builtin();
    // Warm-up: compile the rules and fault in the code outside the timing.
    for m in &files {
        let _ = rebound_decode::decode_message_with(&m.bytes, &m.origin, &options, classifier);
    }
    let start = Instant::now();
    let mut records = 0usize;
    for _ in 0..args.repeat.max(1) {
        for m in &files {
            if let Ok(r) =
                rebound_decode::decode_message_with(&m.bytes, &m.origin, &options, classifier)
            {
                records += r.len();
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let emails = files.len() * args.repeat.max(1);
    let ours = emails as f64 / elapsed;
    println!(
        "rebound: {emails} emails, {records} records in {elapsed:.3} s = {ours:.0} emails/s ({:.1} MiB/s)",
        (bytes * args.repeat.max(1)) as f64 / (1024.0 * 1024.0) / elapsed
    );
    println!("rebound peak RSS: {} MiB", peak_rss_mib());

    if args.no_sisimai {
        return Ok(ExitCode::SUCCESS);
    }
    // Sisimai reads files itself: hand it each file once (an mbox file's
    // messages carry `path#N` origins).
    let mut paths: Vec<&Path> = files
        .iter()
        .map(|m| {
            Path::new(
                m.origin
                    .rsplit_once('#')
                    .map_or(m.origin.as_str(), |(p, _)| p),
            )
        })
        .collect();
    paths.dedup();
    if paths.iter().any(|p| !p.is_file()) {
        println!("sisimai: skipped (stdin input; give files)");
        return Ok(ExitCode::SUCCESS);
    }
    match run_sisimai(&paths, args.sisimai_repeat.max(1))? {
        Some((n, recs, secs, version)) => {
            let theirs = n as f64 / secs;
            println!(
                "sisimai {version} (Perl): {n} emails, {recs} records in {secs:.3} s = {theirs:.0} emails/s"
            );
            println!("ratio: rebound is {:.1}x Perl Sisimai", ours / theirs);
        }
        None => println!("sisimai: not installed (apt-get install libsisimai-perl), no comparison"),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_sisimai(
    paths: &[&Path],
    repeat: usize,
) -> anyhow::Result<Option<(usize, usize, f64, String)>> {
    let available = Command::new("perl")
        .args(["-MSisimai", "-e", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        return Ok(None);
    }
    let script = tempfile_path("rebound-bench-sisimai.pl");
    std::fs::File::create(&script)?.write_all(SISIMAI_SCRIPT.as_bytes())?;
    let output = Command::new("perl")
        .arg(&script)
        .arg(repeat.to_string())
        .args(paths)
        .stderr(Stdio::null())
        .output()
        .context("running perl")?;
    let _ = std::fs::remove_file(&script);
    let line = String::from_utf8_lossy(&output.stdout);
    let mut f = line.split_whitespace();
    let parse = || anyhow::anyhow!("unexpected output from the Sisimai run: {line:?}");
    let n: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(parse)?;
    let recs: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(parse)?;
    let secs: f64 = f.next().and_then(|v| v.parse().ok()).ok_or_else(parse)?;
    let version = f.next().unwrap_or("?").to_string();
    Ok(Some((n, recs, secs, version)))
}

fn tempfile_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}-{name}", std::process::id()))
}

/// Peak resident set size of this process, from /proc (Linux); 0 elsewhere.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
