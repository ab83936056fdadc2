//! `rebound suppressions`: the suppression list — list, check, add, remove,
//! export, import, and the audit trail.
//!
//! Addresses are normalised before use: trimmed, angle brackets and display
//! names dropped, and lower-cased whole (local part included: no mailbox
//! provider of note treats it as case-sensitive, and ESPs match their lists
//! case-insensitively).

use anyhow::Context;
use rebound_ingest::{normalize_address, time::format_rfc3339};
use rebound_ledger::{ManualSuppression, Store, Suppression};
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long, global = true)]
    pub db: Option<String>,
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand)]
pub enum Sub {
    /// List active suppressions (JSON Lines).
    List {
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Check addresses (`-`: one per line on stdin): prints
    /// `ADDRESS<TAB>suppressed<TAB>REASON<TAB>DETAIL`, `ADDRESS<TAB>ok` or
    /// `ADDRESS<TAB>invalid`.
    Check {
        #[arg(required = true)]
        addresses: Vec<String>,
        /// JSON Lines instead of tab-separated text.
        #[arg(long)]
        json: bool,
    },
    /// Suppress addresses by hand.
    Add {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[arg(long, default_value = "manual")]
        reason: String,
        #[arg(long, default_value = "")]
        note: String,
        /// Who is adding (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Lift suppressions; who and when is recorded in the audit trail.
    Remove {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
        /// Who is removing (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Show one suppression with the events behind it and its audit trail.
    Show { address: String },
    /// Export the list (CSV by default).
    Export {
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
    /// Import a list: CSV with an `address` column (as exported), JSON Lines
    /// with `address`, or one address per line; `-` for stdin.
    Import {
        path: String,
        #[arg(long, default_value = "import")]
        reason: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// The audit trail, newest first.
    Audit {
        address: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

fn actor(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "cli".to_string())
}

fn normalized(addresses: &[String]) -> anyhow::Result<Vec<String>> {
    addresses
        .iter()
        .map(|a| normalize_address(a).ok_or_else(|| anyhow::anyhow!("not an address: {a:?}")))
        .collect()
}

fn suppression_json(s: &Suppression) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["created"] = format_rfc3339(s.created_ms).into();
    v["updated"] = format_rfc3339(s.updated_ms).into();
    v
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let mut store = super::open_store(&url)?;
    let store = &mut *store;
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    match args.command {
        Sub::List { limit } => {
            for s in store.suppressions(limit)? {
                writeln!(out, "{}", suppression_json(&s))?;
            }
        }
        Sub::Check { addresses, json } => {
            if addresses.len() == 1 && addresses[0] == "-" {
                let stdin = std::io::stdin();
                let mut chunk = Vec::with_capacity(10_000);
                for line in stdin.lock().lines() {
                    chunk.push(line?);
                    if chunk.len() == 10_000 {
                        check(store, &chunk, json, &mut out)?;
                        chunk.clear();
                    }
                }
                check(store, &chunk, json, &mut out)?;
            } else {
                check(store, &addresses, json, &mut out)?;
            }
        }
        Sub::Add {
            addresses,
            reason,
            note,
            by,
        } => {
            let items: Vec<ManualSuppression> = normalized(&addresses)?
                .into_iter()
                .map(|address| ManualSuppression {
                    address,
                    reason: reason.clone(),
                    detail: note.clone(),
                })
                .collect();
            let n = store.add_suppressions(&items, &actor(by))?;
            eprintln!("rebound: {n} added, {} already suppressed", items.len() - n);
        }
        Sub::Remove {
            addresses,
            note,
            by,
        } => {
            let who = actor(by);
            let mut missing = 0;
            for a in normalized(&addresses)? {
                if store.remove_suppression(&a, &who, &note)? {
                    eprintln!("rebound: {a}: removed by {who}");
                } else {
                    eprintln!("rebound: {a}: was not suppressed");
                    missing += 1;
                }
            }
            if missing > 0 {
                out.flush()?;
                return Ok(ExitCode::from(1));
            }
        }
        Sub::Show { address } => {
            let a = normalized(&[address])?.remove(0);
            let s = store.check(std::slice::from_ref(&a))?.remove(0);
            let events = store.suppression_events(&a)?;
            let audit = store.audit(Some(&a), 100)?;
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "address": a,
                    "suppression": s.as_ref().map(suppression_json),
                    "events": events,
                    "audit": audit,
                }))?
            )?;
        }
        Sub::Export { csv: _, json } => {
            let all = store.suppressions(None)?;
            if json {
                for s in &all {
                    writeln!(out, "{}", suppression_json(s))?;
                }
            } else {
                writeln!(
                    out,
                    "address,domain,reason,detail,created,updated,created_by,events"
                )?;
                for s in &all {
                    writeln!(
                        out,
                        "{},{},{},{},{},{},{},{}",
                        csv_field(&s.address),
                        csv_field(&s.domain),
                        csv_field(&s.reason),
                        csv_field(&s.detail),
                        format_rfc3339(s.created_ms),
                        format_rfc3339(s.updated_ms),
                        csv_field(&s.created_by),
                        s.event_count
                    )?;
                }
            }
        }
        Sub::Import { path, reason, by } => {
            let input: Box<dyn BufRead> = if path == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&path).with_context(|| format!("cannot read {path}"))?,
                ))
            };
            let who = actor(by);
            let (mut added, mut total, mut bad) = (0, 0, 0);
            let mut batch = Vec::new();
            let mut columns: Option<Vec<String>> = None;
            for (i, line) in input.lines().enumerate() {
                let line = line?;
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                let item = if t.starts_with('{') {
                    serde_json::from_str::<serde_json::Value>(t)
                        .ok()
                        .and_then(|v| {
                            let addr = v.get("address")?.as_str()?.to_string();
                            let r = v
                                .get("reason")
                                .and_then(|r| r.as_str())
                                .unwrap_or(&reason)
                                .to_string();
                            let d = v
                                .get("detail")
                                .and_then(|r| r.as_str())
                                .unwrap_or("")
                                .to_string();
                            Some((addr, r, d))
                        })
                } else if i == 0 && t.to_ascii_lowercase().starts_with("address") {
                    columns = Some(
                        t.split(',')
                            .map(|c| c.trim().to_ascii_lowercase())
                            .collect(),
                    );
                    continue;
                } else if let Some(cols) = &columns {
                    let f: Vec<&str> = t.split(',').map(|s| s.trim().trim_matches('"')).collect();
                    let get = |n: &str| {
                        cols.iter()
                            .position(|c| c == n)
                            .and_then(|i| f.get(i))
                            .copied()
                            .unwrap_or("")
                    };
                    let r = get("reason");
                    Some((
                        get("address").to_string(),
                        if r.is_empty() {
                            reason.clone()
                        } else {
                            r.to_string()
                        },
                        get("detail").to_string(),
                    ))
                } else {
                    Some((t.to_string(), reason.clone(), String::new()))
                };
                match item.and_then(|(a, r, d)| Some((normalize_address(&a)?, r, d))) {
                    Some((address, reason, detail)) => {
                        total += 1;
                        batch.push(ManualSuppression {
                            address,
                            reason,
                            detail,
                        });
                    }
                    None => {
                        bad += 1;
                        eprintln!("rebound: {path}:{}: not an address, skipped", i + 1);
                    }
                }
                if batch.len() >= 10_000 {
                    added += store.add_suppressions(&batch, &who)?;
                    batch.clear();
                }
            }
            added += store.add_suppressions(&batch, &who)?;
            eprintln!(
                "rebound: {total} read, {added} added, {} already suppressed, {bad} skipped",
                total - added
            );
        }
        Sub::Audit { address, limit } => {
            let a = address
                .map(|a| normalized(&[a]))
                .transpose()?
                .map(|mut v| v.remove(0));
            for e in store.audit(a.as_deref(), limit)? {
                let mut v = serde_json::to_value(&e)?;
                v["at"] = format_rfc3339(e.at_ms).into();
                writeln!(out, "{v}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn check(
    store: &mut dyn Store,
    raw: &[String],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let norm: Vec<Option<String>> = raw.iter().map(|a| normalize_address(a)).collect();
    let valid: Vec<String> = norm.iter().flatten().cloned().collect();
    let mut answers = store.check(&valid)?.into_iter();
    for (r, n) in raw.iter().zip(&norm) {
        let r = r.trim();
        match n {
            None => {
                if json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"address": r, "status": "invalid"})
                    )?;
                } else {
                    writeln!(out, "{r}\tinvalid")?;
                }
            }
            Some(a) => match answers.next().flatten() {
                Some(s) => {
                    if json {
                        writeln!(
                            out,
                            "{}",
                            serde_json::json!({"address": a, "status": "suppressed", "reason": s.reason, "detail": s.detail, "since": format_rfc3339(s.created_ms)})
                        )?;
                    } else {
                        writeln!(out, "{a}\tsuppressed\t{}\t{}", s.reason, s.detail)?;
                    }
                }
                None => {
                    if json {
                        writeln!(out, "{}", serde_json::json!({"address": a, "status": "ok"}))?;
                    } else {
                        writeln!(out, "{a}\tok")?;
                    }
                }
            },
        }
    }
    Ok(())
}
