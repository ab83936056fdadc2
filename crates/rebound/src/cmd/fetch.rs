//! `rebound fetch`: bounce mailboxes over IMAP and POP3 into the ledger.
//! The protocols and the loop are `rebound-fetch`'s; this module gives it
//! the sink, [`LedgerSink`], which stores each message through the same
//! code as `rebound ingest --format email` (`ingest::ingest_messages`).
//! `rebound serve` uses the same sink for its `[[mailboxes]]`.
//!
//! Progress goes to stderr (one line per message, after its events were
//! committed and it was moved); the summary of each pass to stdout as JSON.
//!
//! Exit codes (sysexits.h): 0 done; 75 (`EX_TEMPFAIL`) the store failed,
//! messages not yet stored stay in the mailbox; 77 (`EX_NOPERM`) the login
//! was refused; 69 (`EX_UNAVAILABLE`) no connection or a broken one; 76
//! (`EX_PROTOCOL`) the server broke the protocol; 78 (`EX_CONFIG`) the
//! settings cannot work (URL, password, CA, policy).

use super::ingest::{EX_CONFIG, EX_TEMPFAIL, IngestFailure, ingest_messages, load_policy};
use rebound_classify::SharedClassifier;
use rebound_fetch::{FetchError, MailboxConfig, Notice, Sink, Stored};
use rebound_ingest::Format;
use rebound_ledger::{IngestOptions, IngestStats, Policy, Store};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The mailbox: `imaps://user@host[:port]/FOLDER` (TLS), `imap://…`
    /// (STARTTLS), `pop3s://user@host[:port]` or `pop3://…` (STLS). An @ in
    /// the user name is written %40.
    pub url: String,
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Suppression policy (TOML).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// A TOML rule file whose rules take precedence over the built-in ones
    /// (repeatable).
    #[arg(long, value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// The environment variable holding the password.
    #[arg(long, value_name = "NAME", default_value = rebound_fetch::DEFAULT_PASSWORD_ENV)]
    pub password_env: String,
    /// A file whose first line is the password (instead of the variable).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// IMAP folder for stored bounces (created if missing).
    #[arg(long, default_value = "Processed")]
    pub folder: String,
    /// IMAP folder for messages that are no bounce (created if missing);
    /// POP3 leaves them on the server. They are never deleted.
    #[arg(long, default_value = "Other")]
    pub other_folder: String,
    /// Leave every message where it is.
    #[arg(long)]
    pub keep: bool,
    /// Stay connected and process new mail as it arrives (IMAP IDLE, POP3
    /// polling); reconnect with backoff when the connection drops.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between two looks at a POP3 mailbox when watching.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub poll_interval: u64,
    /// Seconds an IMAP IDLE lasts before it is renewed (at most 1680).
    #[arg(long, default_value_t = 28 * 60, value_name = "SECONDS")]
    pub idle_seconds: u64,
    /// A PEM file of a private CA to trust besides the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// No line per message on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

const EX_UNAVAILABLE: u8 = 69;
const EX_PROTOCOL: u8 = 76;
const EX_NOPERM: u8 = 77;

/// Stores each message as `rebound ingest --format email` does, in one
/// transaction per message (its events, suppressions and sender issues).
pub struct LedgerSink {
    url: String,
    store: Option<Box<dyn Store>>,
    policy: Policy,
    /// The rules of the moment (`rebound serve` reloads its rules; each
    /// message is judged by those in use when it arrives).
    rules: RulesOfTheMoment,
}

/// Where a sink gets the rules to judge a message by.
pub type RulesOfTheMoment = Box<dyn Fn() -> SharedClassifier + Send + Sync>;

impl LedgerSink {
    /// Opens the store now, so a wrong URL is said before any connection.
    pub fn open(url: &str, policy: Policy, rules: RulesOfTheMoment) -> anyhow::Result<Self> {
        let store = super::open_store(url)?;
        Ok(LedgerSink {
            url: url.to_string(),
            store: Some(store),
            policy,
            rules,
        })
    }
}

impl Sink for LedgerSink {
    fn store(&mut self, message: Vec<u8>, origin: &str) -> Result<Stored, String> {
        if self.store.is_none() {
            // Dropped after a failure: a connection that broke is not
            // reused.
            self.store = Some(super::open_store(&self.url).map_err(|e| format!("{e:#}"))?);
        }
        let store = self.store.as_mut().expect("opened above");
        let mut stats = IngestStats::default();
        let mut ignored = Default::default();
        let raw = rebound_decode::RawMessage {
            origin: origin.to_string(),
            bytes: message,
        };
        let result = ingest_messages(
            &mut **store,
            &self.policy,
            &(self.rules)(),
            origin,
            Box::new(std::iter::once(Ok(raw))),
            Format::Eml,
            IngestOptions {
                batch_size: 10_000,
                strict: false,
            },
            true,
            &mut stats,
            &mut ignored,
            &mut |_| {},
        );
        match result {
            Ok(()) => Ok(Stored {
                events: stats.read,
                inserted: stats.inserted,
                duplicates: stats.duplicates,
            }),
            Err(IngestFailure::Store(e)) => {
                self.store = None;
                Err(format!("{e:#}"))
            }
            Err(e) => Err(format!("{:#}", e.into_anyhow())),
        }
    }
}

/// One line per message, retries and passes, as `rebound fetch` and
/// `rebound serve` print them.
pub fn print_notice(notice: Notice<'_>, quiet: bool) {
    match notice {
        Notice::Message {
            origin,
            outcome,
            stored,
        } => {
            if !quiet {
                eprintln!(
                    "rebound: fetched {origin}: {} events ({} new) -> {}",
                    stored.events,
                    stored.inserted,
                    serde_json::to_value(outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                );
            }
        }
        Notice::Pass(pass) => {
            println!("{}", serde_json::to_string(pass).unwrap_or_default());
        }
        Notice::Retry { error, retry_in } => {
            eprintln!(
                "rebound: {error}; connecting again in {} s",
                retry_in.as_secs()
            );
        }
    }
}

/// `rebound serve`'s account of its mailboxes, on stderr: each message,
/// passes that found any, retries.
pub fn print_server_notice(notice: Notice<'_>) {
    match notice {
        Notice::Pass(pass) if pass.messages == 0 => {}
        Notice::Pass(pass) => {
            eprintln!(
                "rebound: {}",
                serde_json::to_string(pass).unwrap_or_default()
            );
        }
        other => print_notice(other, false),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = MailboxConfig {
        url: args.url.clone(),
        password_env: Some(args.password_env.clone()),
        password_file: args.password_file.clone(),
        folder: args.folder.clone(),
        other_folder: args.other_folder.clone(),
        keep: args.keep,
        ca: args.ca.clone(),
        poll_interval_seconds: args.poll_interval,
        idle_seconds: args.idle_seconds,
    };
    if let Err(e) = config.validate() {
        eprintln!("rebound: {e}");
        return Ok(ExitCode::from(EX_CONFIG));
    }
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
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let sink = match LedgerSink::open(&url, policy, Box::new(move || rules.clone())) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rebound: {e:#}");
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let quiet = args.quiet;
    let result = runtime.block_on(async {
        if args.watch {
            rebound_fetch::run(&config, sink, |n| print_notice(n, quiet)).await
        } else {
            rebound_fetch::run_once(&config, sink, |n| print_notice(n, quiet))
                .await
                .map(drop)
        }
    });
    Ok(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rebound: {e}");
            ExitCode::from(exit_code(&e))
        }
    })
}

fn exit_code(e: &FetchError) -> u8 {
    match e {
        FetchError::Config(_) => EX_CONFIG,
        FetchError::Auth(_) => EX_NOPERM,
        FetchError::Connection(_) => EX_UNAVAILABLE,
        FetchError::Protocol(_) => EX_PROTOCOL,
        FetchError::Store(_) => EX_TEMPFAIL,
    }
}
