//! `rebound bench DIR`: decoding throughput on one core, side by side with
//! Perl Sisimai when it is installed (`perl -MSisimai`).
//!
//! The two run in alternating rounds (ours, then Sisimai's, then ours …) in
//! one Perl process kept alive between rounds, and the ratio is taken per
//! round: on a shared machine the speed of both drifts by a factor of two
//! within minutes, and a ratio of two figures measured minutes apart
//! measures the drift as much as the decoders.

use anyhow::Context;
use rebound_classify::Classifier;
use rebound_decode::{DecodeOptions, RawMessage};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories of bounce emails (e.g. ../shared/corpus/sisimai/emails).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Passes over the input per round, for a stable figure.
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
    /// Passes for Perl Sisimai per round (it is slow; the rate is per email
    /// either way).
    #[arg(long, default_value_t = 1)]
    pub sisimai_repeat: usize,
    /// Rounds: each is `--repeat` passes of ours, then `--sisimai-repeat`
    /// passes of Sisimai's.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Do not run Perl Sisimai even when it is installed.
    #[arg(long)]
    pub no_sisimai: bool,
}

/// The Perl side: loads Sisimai once, then for every line `N` on stdin
/// decodes every file N times and prints "emails records seconds version".
/// Sisimai 5 calls it `rise`, Sisimai 4 `make`.
const SISIMAI_SCRIPT: &str = r#"
use strict; use warnings; use Sisimai; use Time::HiRes qw(time);
$| = 1;
my $method = Sisimai->can('rise') ? 'rise' : 'make';
while (my $repeat = <STDIN>) {
    chomp $repeat;
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
}
"#;

/// One timed run: messages decoded, records found, seconds.
#[derive(Clone, Copy)]
struct Run {
    emails: usize,
    records: usize,
    seconds: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.emails as f64 / self.seconds
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for item in rebound_decode::messages(&args.paths) {
        let msg = item.map_err(|e| anyhow::anyhow!(super::input_error(&e)))?;
        files.push(msg);
    }
    anyhow::ensure!(!files.is_empty(), "no message found under the given paths");
    let bytes: usize = files.iter().map(|m| m.bytes.len()).sum();
    let repeat = args.repeat.max(1);
    let rounds = args.rounds.max(1);
    println!(
        "input: {} messages, {:.1} MiB; {rounds} rounds of {repeat} passes, one core",
        files.len(),
        bytes as f64 / (1024.0 * 1024.0),
    );

    let options = DecodeOptions {
        delivered: true,
        vacation: false,
    };
    let classifier = Classifier::builtin();
    // Warm-up: compile the rules and fault in the code outside the timing.
    decode_all(&files, 1, &options, classifier);

    let mut sisimai = if args.no_sisimai {
        None
    } else {
        Sisimai::start(&files)?
    };
    if sisimai.is_none() && !args.no_sisimai {
        println!("sisimai: not installed (apt-get install libsisimai-perl), no comparison");
    }
    if let Some(s) = &mut sisimai {
        // Its warm-up: load the modules, fill its caches.
        s.run(1)?;
    }

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 1..=rounds {
        let run = decode_all(&files, repeat, &options, classifier);
        ours.push(run);
        let mut line = format!(
            "round {round}: rebound {} emails, {} records in {:.3} s = {:.0} emails/s",
            run.emails,
            run.records,
            run.seconds,
            run.rate()
        );
        if let Some(s) = &mut sisimai {
            let perl = s.run(args.sisimai_repeat.max(1))?;
            theirs.push(perl);
            line.push_str(&format!(
                "; sisimai {} emails, {} records in {:.3} s = {:.0} emails/s; ratio {:.1}x",
                perl.emails,
                perl.records,
                perl.seconds,
                perl.rate(),
                run.rate() / perl.rate()
            ));
        }
        println!("{line}");
    }

    let rates: Vec<f64> = ours.iter().map(Run::rate).collect();
    let (lo, mid, hi) = spread(&rates);
    println!(
        "rebound: median {mid:.0} emails/s (rounds {lo:.0}–{hi:.0}), {:.1} MiB/s",
        mid * bytes as f64 / files.len() as f64 / (1024.0 * 1024.0)
    );
    println!("rebound peak RSS: {} MiB", peak_rss_mib());
    if let Some(s) = &sisimai {
        let rates: Vec<f64> = theirs.iter().map(Run::rate).collect();
        let (lo, mid, hi) = spread(&rates);
        println!(
            "sisimai {} (Perl): median {mid:.0} emails/s (rounds {lo:.0}–{hi:.0})",
            s.version
        );
        let ratios: Vec<f64> = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| a.rate() / b.rate())
            .collect();
        let (lo, mid, hi) = spread(&ratios);
        println!("ratio: rebound is {mid:.1}x Perl Sisimai (median of rounds; {lo:.1}x–{hi:.1}x)");
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_all(
    files: &[RawMessage],
    repeat: usize,
    options: &DecodeOptions,
    classifier: &Classifier,
) -> Run {
    let start = Instant::now();
    let mut records = 0usize;
    for _ in 0..repeat {
        for m in files {
            if let Ok(r) =
                rebound_decode::decode_message_with(&m.bytes, &m.origin, options, classifier)
            {
                records += r.len();
            }
        }
    }
    Run {
        emails: files.len() * repeat,
        records,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Lowest, median and highest of some figures.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => (0.0, 0.0, 0.0),
        n => (v[0], (v[(n - 1) / 2] + v[n / 2]) / 2.0, v[n - 1]),
    }
}

/// A Perl process with Sisimai loaded, decoding the same files on request.
struct Sisimai {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    version: String,
    script: PathBuf,
}

impl Sisimai {
    /// `None` when Perl Sisimai is not installed, or the input is stdin.
    fn start(files: &[RawMessage]) -> anyhow::Result<Option<Sisimai>> {
        let available = Command::new("perl")
            .args(["-MSisimai", "-e", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            return Ok(None);
        }
        // Sisimai reads files itself: hand it each file once (an mbox
        // file's messages carry `path#N` origins).
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
            return Ok(None);
        }
        let script =
            std::env::temp_dir().join(format!("{}-rebound-bench-sisimai.pl", std::process::id()));
        std::fs::File::create(&script)?.write_all(SISIMAI_SCRIPT.as_bytes())?;
        let mut child = Command::new("perl")
            .arg(&script)
            .args(&paths)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting perl")?;
        let input = child.stdin.take().context("perl's stdin")?;
        let output = BufReader::new(child.stdout.take().context("perl's stdout")?);
        Ok(Some(Sisimai {
            child,
            input,
            output,
            version: String::new(),
            script,
        }))
    }

    /// Decodes every file `repeat` times and reports the run.
    fn run(&mut self, repeat: usize) -> anyhow::Result<Run> {
        writeln!(self.input, "{repeat}").context("writing to perl")?;
        self.input.flush()?;
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .context("reading from perl")?;
        let mut f = line.split_whitespace();
        let parse = || anyhow::anyhow!("unexpected output from the Sisimai run: {line:?}");
        let emails: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(parse)?;
        let records: usize = f.next().and_then(|v| v.parse().ok()).ok_or_else(parse)?;
        let seconds: f64 = f.next().and_then(|v| v.parse().ok()).ok_or_else(parse)?;
        self.version = f.next().unwrap_or("?").to_string();
        Ok(Run {
            emails,
            records,
            seconds,
        })
    }
}

impl Drop for Sisimai {
    fn drop(&mut self) {
        // It holds nothing worth finishing: stop it outright.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
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
