//! `rebound ingest`: read MTA logs, ESP webhooks and bounce emails into the
//! ledger, applying the suppression policy.
//!
//! Progress goes to stderr: one `committed batch` line per transaction, so
//! whatever a line reports is durable. A summary per input goes to stdout as
//! JSON.
//!
//! Exit codes follow sysexits.h, which Postfix's pipe(8) reads, so the
//! command can be a delivery transport for the bounce address: 0 when every
//! input was read (records that could not be used, and messages that are
//! not bounces, are counted in the summary, not failed: pipe(8) would
//! bounce the message back on a data error, and a bounce of a bounce helps
//! nobody); 75 (`EX_TEMPFAIL`) when the store could not be opened or
//! written, so the MTA keeps the message and retries and nothing is lost;
//! 78 (`EX_CONFIG`, also a retry for pipe(8)) when `--policy` cannot be read;
//! 1 when `--strict` stopped at a bad record; 2 for other failures (an
//! unreadable path, a format that cannot be told).

use anyhow::Context;
use rebound_classify::SharedClassifier;
use rebound_ingest::{EventReader, Format, ParseError, ReaderOptions, detect, from_decoded};
use rebound_ledger::pipeline::IngestError;
use rebound_ledger::{IngestOptions, IngestStats, Policy, Store};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Input format: auto, eml (or email: one message), mbox, maildir, postfix, exim, sendmail, pmta, ses,
    /// sendgrid, mailgun, postmark, sparkpost, mailjet, brevo, mandrill, resend.
    #[arg(long, default_value = "auto")]
    pub format: Format,
    /// Suppression policy (TOML); defaults from deliverability practice.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Stop at the first unreadable record (exit 1) instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Events per transaction.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
    /// Year for syslog dates that have none (default: this year, or last
    /// year for dates that would lie more than a day in the future).
    #[arg(long)]
    pub year: Option<i64>,
    /// Time zone of syslog dates, which state none: an IANA name such as
    /// `Europe/Paris`, or `UTC` (default: the machine's zone). RFC 3339
    /// dates are read with the offset they state.
    #[arg(long)]
    pub timezone: Option<String>,
    /// A TOML rule file whose rules take precedence over the built-in ones
    /// (repeatable; as `rebound classify`, `reclassify` and `serve` take).
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// No per-batch progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Files, directories (bounce emails, Maildirs) or `-` for stdin.
    #[arg(required = true)]
    pub paths: Vec<String>,
}

/// Reads `--policy FILE` or the defaults.
pub fn load_policy(path: Option<&Path>) -> anyhow::Result<Policy> {
    match path {
        None => Ok(Policy::default()),
        Some(p) => {
            let text = super::read_text(p)?;
            Policy::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("cannot read the policy {}: {e}", p.display()))
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let policy = match load_policy(args.policy.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rebound: {e:#}");
            return Ok(ExitCode::from(EX_CONFIG));
        }
    };
    let rules = match super::reclassify::shared_rules(&args.rules) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rebound: {e:#}");
            return Ok(ExitCode::from(EX_CONFIG));
        }
    };
    let mut store = match super::open_store(&url) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rebound: {e:#}");
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let opts = IngestOptions {
        batch_size: args.batch_size,
        strict: args.strict,
    };
    let mut failed = false;
    let mut store_failed = false;
    for path in &args.paths {
        let mut stats = IngestStats::default();
        let started = std::time::Instant::now();
        let mut passed = Passed::default();
        let result = ingest_path(
            &mut *store,
            &policy,
            &rules,
            path,
            &args,
            opts,
            &mut stats,
            &mut passed,
            &mut |_| {},
        );
        let format = match &result {
            Ok(f) => f.as_str().to_string(),
            Err(_) => String::new(),
        };
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({
                "path": path,
                "format": format,
                "events": stats.read,
                "inserted": stats.inserted,
                "duplicates": stats.duplicates,
                "skipped": stats.errors,
                "ignored": passed.ignored,
                "skipped_by_reason": passed.by_reason,
                "suppressed": stats.suppressed,
                "sender_issues": stats.sender_issues,
                "batches": stats.batches,
                "seconds": (secs * 1000.0).round() / 1000.0,
                "ok": result.is_ok(),
            })
        );
        match result {
            Ok(_) => {}
            Err(IngestFailure::Strict(e)) => {
                eprintln!("rebound: {e} (stopped: --strict)");
                return Ok(ExitCode::from(1));
            }
            Err(IngestFailure::Store(e)) => {
                eprintln!("rebound: {e:#}");
                store_failed = true;
            }
            Err(IngestFailure::Other(e)) => {
                eprintln!("rebound: {e:#}");
                failed = true;
            }
        }
    }
    // A store failure wins: whatever else happened, the input must be
    // offered again once the store is back.
    Ok(if store_failed {
        ExitCode::from(EX_TEMPFAIL)
    } else if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Records of an input that gave no event.
#[derive(Default)]
pub struct Passed {
    /// Records that carry no delivery outcome (opens, clicks…), by
    /// provider and kind.
    pub ignored: std::collections::BTreeMap<String, u64>,
    /// Log lines that gave no event, by why, and rejected records by kind
    /// (`rejected: …`, each also reported on stderr with file:line).
    pub by_reason: std::collections::BTreeMap<String, u64>,
}

/// sysexits.h: a temporary failure, try again later (Postfix's pipe(8)
/// defers the message).
pub const EX_TEMPFAIL: u8 = 75;
/// sysexits.h: a configuration error; pipe(8) defers on it too, so a
/// broken policy file keeps bounces queued instead of bouncing them.
pub const EX_CONFIG: u8 = 78;

pub enum IngestFailure {
    Strict(ParseError),
    /// The store could not take the events (nothing of the failed batch
    /// was stored).
    Store(anyhow::Error),
    Other(anyhow::Error),
}

impl IngestFailure {
    /// As one error, for callers that stop at the first failure.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            IngestFailure::Strict(e) => anyhow::anyhow!("{e}"),
            IngestFailure::Store(e) | IngestFailure::Other(e) => e,
        }
    }

    /// A pipeline error, a store failure naming the input it was storing.
    fn of(e: IngestError, path: &str) -> Self {
        match e {
            IngestError::Strict(p) => IngestFailure::Strict(p),
            IngestError::Store(s) => IngestFailure::Store(
                anyhow::Error::from(s).context(format!("cannot store the events of {path}")),
            ),
        }
    }
}

fn report_error(e: &ParseError) {
    eprintln!("rebound: {e} (skipped)");
}

fn progress(
    quiet: bool,
    on_batch: &mut dyn FnMut(&IngestStats),
) -> impl FnMut(&IngestStats, &rebound_ledger::BatchOutcome) {
    move |s, b| {
        on_batch(s);
        if !quiet {
            eprintln!(
                "rebound: committed batch {}: committed={} new={} duplicates={} (+{} new in this batch)",
                s.batches, s.committed, s.inserted, s.duplicates, b.inserted
            );
        }
    }
}

/// Ingests one path; returns the format read. `on_batch` sees the running
/// totals after each committed batch (`rebound demo` moves its progress bar
/// with it).
#[allow(clippy::too_many_arguments)]
pub fn ingest_path(
    store: &mut dyn Store,
    policy: &Policy,
    rules: &SharedClassifier,
    path: &str,
    args: &Args,
    opts: IngestOptions,
    stats: &mut IngestStats,
    passed: &mut Passed,
    on_batch: &mut dyn FnMut(&IngestStats),
) -> Result<Format, IngestFailure> {
    let other = |e: anyhow::Error| IngestFailure::Other(e);
    let timezone = match &args.timezone {
        None => rebound_ingest::time::TimeZone::system(),
        Some(name) => rebound_ingest::time::zone_named(name)
            .map_err(|e| other(anyhow::anyhow!("--timezone: {e}")))?,
    };
    let is_dir = path != "-" && Path::new(path).is_dir();
    let input: Box<dyn BufRead> = if path == "-" {
        Box::new(BufReader::with_capacity(1 << 16, std::io::stdin()))
    } else if is_dir {
        Box::new(std::io::empty())
    } else {
        let f = std::fs::File::open(path)
            .with_context(|| format!("cannot read {path}"))
            .map_err(other)?;
        Box::new(BufReader::with_capacity(1 << 16, f))
    };
    let (mut input, compressed) = decompressed(input)
        .with_context(|| format!("cannot read {path}"))
        .map_err(other)?;
    let format = if is_dir {
        if args.format == Format::Auto || args.format.is_email() {
            Format::Maildir
        } else {
            return Err(other(anyhow::anyhow!(
                "{path} is a directory: only bounce emails are read from directories"
            )));
        }
    } else if args.format == Format::Auto {
        let head = input
            .fill_buf()
            .with_context(|| format!("cannot read {path}"))
            .map_err(other)?;
        match detect(head) {
            Some(f) if f.is_email() => f,
            _ => Format::Auto,
        }
    } else {
        args.format
    };
    if format.is_email() {
        if compressed.is_some() {
            // The decoder reads bounce emails from their paths.
            return Err(other(anyhow::anyhow!(
                "{path}: compressed bounce emails are not read; decompress them first"
            )));
        }
        ingest_emails(
            store,
            policy,
            rules,
            path,
            input,
            format,
            opts,
            args.quiet,
            stats,
            &mut passed.ignored,
            on_batch,
        )?;
        return Ok(format);
    }
    let mut reader = EventReader::new(
        input,
        path,
        ReaderOptions {
            format,
            year: args.year,
            timezone,
            classifier: rules.clone(),
            ..ReaderOptions::default()
        },
    )
    .map_err(|e| other(anyhow::anyhow!("{e}")))?;
    let detected = reader.format();
    let result = rebound_ledger::ingest(
        store,
        policy,
        reader.by_ref(),
        opts,
        stats,
        report_error,
        progress(args.quiet, on_batch),
    );
    passed.ignored.clone_from(reader.skipped());
    passed.by_reason = reader.skipped_by_reason();
    result.map_err(|e| IngestFailure::of(e, path))?;
    Ok(detected)
}

/// Compression formats told by their magic bytes, not the file name: a
/// rotated log keeps its content whatever it is called.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// The input decompressed if it is gzip (`.gz`, members concatenated as
/// logrotate and `cat` make them) or zstd (`.zst`), and which it was.
/// Corrupt compressed data surfaces as a read error at the line it breaks.
fn decompressed(
    mut input: Box<dyn BufRead>,
) -> std::io::Result<(Box<dyn BufRead>, Option<&'static str>)> {
    let head = input.fill_buf()?;
    if head.starts_with(GZIP_MAGIC) {
        let gz = flate2::bufread::MultiGzDecoder::new(input);
        Ok((
            Box::new(BufReader::with_capacity(1 << 16, gz)),
            Some("gzip"),
        ))
    } else if head.starts_with(ZSTD_MAGIC) {
        let zst = zstd::stream::read::Decoder::with_buffer(input)?;
        Ok((
            Box::new(BufReader::with_capacity(1 << 16, zst)),
            Some("zstd"),
        ))
    } else {
        Ok((input, None))
    }
}

/// Bounce emails through the decoder: files, Maildirs, directories, mboxes
/// and stdin, streamed message by message.
#[allow(clippy::too_many_arguments)]
fn ingest_emails(
    store: &mut dyn Store,
    policy: &Policy,
    rules: &SharedClassifier,
    path: &str,
    input: Box<dyn BufRead>,
    format: Format,
    opts: IngestOptions,
    quiet: bool,
    stats: &mut IngestStats,
    ignored: &mut std::collections::BTreeMap<String, u64>,
    on_batch: &mut dyn FnMut(&IngestStats),
) -> Result<(), IngestFailure> {
    // stdin: one message (or an mbox) read from the already-open input.
    let messages: Box<dyn Iterator<Item = Result<rebound_decode::RawMessage, String>>> =
        if path == "-" {
            let mut bytes = Vec::new();
            let limit = rebound_decode::input::MAX_MESSAGE_BYTES as u64;
            let read = input.take(limit + 1).read_to_end(&mut bytes);
            let item = match read {
                Err(e) => Err(format!("-: {e}")),
                Ok(_) if bytes.len() as u64 > limit => {
                    Err(format!("-: message larger than {limit} bytes, skipped"))
                }
                Ok(_) => Ok(rebound_decode::RawMessage {
                    origin: "-".into(),
                    bytes,
                }),
            };
            Box::new(std::iter::once(item))
        } else {
            drop(input);
            Box::new(
                rebound_decode::messages(&[PathBuf::from(path)])
                    .map(|m| m.map_err(|e| super::input_error(&e))),
            )
        };
    ingest_messages(
        store, policy, rules, path, messages, format, opts, quiet, stats, ignored, on_batch,
    )
}

/// Raw bounce emails through the decoder into the store, as `rebound
/// ingest --format email` reads them; `rebound fetch` hands each message of
/// a mailbox to it. `path` names the input in errors.
#[allow(clippy::too_many_arguments)]
pub fn ingest_messages(
    store: &mut dyn Store,
    policy: &Policy,
    rules: &SharedClassifier,
    path: &str,
    mut messages: Box<dyn Iterator<Item = Result<rebound_decode::RawMessage, String>> + '_>,
    format: Format,
    opts: IngestOptions,
    quiet: bool,
    stats: &mut IngestStats,
    ignored: &mut std::collections::BTreeMap<String, u64>,
    on_batch: &mut dyn FnMut(&IngestStats),
) -> Result<(), IngestFailure> {
    let decode_opts = rebound_decode::DecodeOptions {
        delivered: true,
        vacation: true,
    };
    let fmt = format.as_str();
    // Messages the decoder found no bounce in (a reply, a newsletter sent
    // to the bounce address): read fine, nothing to store, counted.
    let not_bounces = std::cell::Cell::new(0u64);
    let not_bounces_seen = &not_bounces;
    let events = std::iter::from_fn({
        let mut queue: std::collections::VecDeque<Result<rebound_ingest::Event, ParseError>> =
            Default::default();
        move || loop {
            if let Some(item) = queue.pop_front() {
                return Some(item);
            }
            match messages.next()? {
                Err(e) => queue.push_back(Err(ParseError {
                    location: path.to_string(),
                    message: e,
                })),
                Ok(m) => match rebound_decode::decode_message_with(
                    &m.bytes,
                    &m.origin,
                    &decode_opts,
                    rules,
                ) {
                    Err(e) => queue.push_back(Err(ParseError {
                        location: m.origin.clone(),
                        message: e.to_string(),
                    })),
                    Ok(records) => {
                        if records.is_empty() {
                            not_bounces_seen.set(not_bounces_seen.get() + 1);
                        }
                        let events = from_decoded(&records, fmt, &m.bytes, rules.id());
                        for (r, event) in records.iter().zip(events) {
                            match event {
                                Some(e) => queue.push_back(Ok(e)),
                                None => queue.push_back(Err(ParseError {
                                    location: m.origin.clone(),
                                    message: format!("no usable recipient in {:?}", r.recipient),
                                })),
                            }
                        }
                    }
                },
            }
        }
    });
    let result = rebound_ledger::ingest(
        store,
        policy,
        events,
        opts,
        stats,
        report_error,
        progress(quiet, on_batch),
    );
    if not_bounces.get() > 0 {
        *ignored.entry("not a bounce".to_string()).or_default() += not_bounces.get();
    }
    result.map_err(|e| IngestFailure::of(e, path))?;
    Ok(())
}
