//! `rebound events`: query the ledger's events (JSON Lines, newest first),
//! or the sender-side issues recorded against sending IPs and domains.

use rebound_ingest::time::{format_rfc3339, now_ms};
use rebound_ledger::EventQuery;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Only events at or after this time: RFC 3339 (`2026-11-01`,
    /// `2026-11-01T10:00:00Z`), epoch seconds, or an age (`30m`, `24h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only this recipient.
    #[arg(long)]
    pub recipient: Option<String>,
    /// Only this receiving provider (or recipient domain).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this reason (`userunknown`, …), policy class (`hard`, `soft`,
    /// `sender`, `deferral`, …) or outcome (`bounced`, `delivered`, …).
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Show sender-side issues grouped by sending IP, sender domain,
    /// provider, reason and blocklist instead of events.
    #[arg(long)]
    pub sender_issues: bool,
}

pub use rebound_ingest::time::parse_since;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let since = match &args.since {
        Some(s) => Some(
            parse_since(s, now_ms()).ok_or_else(|| anyhow::anyhow!("cannot read --since {s:?}"))?,
        ),
        None => None,
    };
    let mut store = super::open_store(&url)?;
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    if args.sender_issues {
        for i in store.sender_issues(since)? {
            let mut v = serde_json::to_value(&i)?;
            v["first"] = format_rfc3339(i.first_ms).into();
            v["last"] = format_rfc3339(i.last_ms).into();
            writeln!(out, "{v}")?;
        }
    } else {
        let q = EventQuery {
            since_ms: since,
            recipient: args
                .recipient
                .as_deref()
                .map(|r| rebound_ingest::normalize_address(r).unwrap_or_else(|| r.to_string())),
            provider: args.provider,
            reason: args.reason,
            limit: args.limit,
        };
        for e in store.events(&q)? {
            let mut v = serde_json::to_value(&e)?;
            v["time"] = format_rfc3339(e.event.time_ms).into();
            writeln!(out, "{v}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
