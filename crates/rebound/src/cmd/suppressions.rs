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
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = match args.command {
        Sub::List { limit } => list(store, limit, &mut out)?,
        Sub::Check { addresses, json } => check_command(store, &addresses, json, &mut out)?,
        Sub::Add {
            addresses,
            reason,
            note,
            by,
        } => add(store, &addresses, &reason, &note, by)?,
        Sub::Remove {
            addresses,
            note,
            by,
        } => remove(store, &addresses, &note, by)?,
        Sub::Show { address } => show(store, address, &mut out)?,
        Sub::Export { csv: _, json } => export(store, json, &mut out)?,
        Sub::Import { path, reason, by } => import(store, &path, &reason, by)?,
        Sub::Audit { address, limit } => audit(store, address, limit, &mut out)?,
    };
    out.flush()?;
    Ok(code)
}

fn list(
    store: &mut dyn Store,
    limit: Option<usize>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    for s in store.suppressions(limit)? {
        writeln!(out, "{}", suppression_json(&s))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Addresses from the command line, or one per line on stdin (`-`), in
/// chunks of 10,000 so that a long list never sits in memory whole.
fn check_command(
    store: &mut dyn Store,
    addresses: &[String],
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    if addresses.len() == 1 && addresses[0] == "-" {
        let mut chunk = Vec::with_capacity(10_000);
        for line in std::io::stdin().lock().lines() {
            chunk.push(line?);
            if chunk.len() == 10_000 {
                check(store, &chunk, json, out)?;
                chunk.clear();
            }
        }
        check(store, &chunk, json, out)?;
    } else {
        check(store, addresses, json, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn add(
    store: &mut dyn Store,
    addresses: &[String],
    reason: &str,
    note: &str,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let items: Vec<ManualSuppression> = normalized(addresses)?
        .into_iter()
        .map(|address| ManualSuppression {
            address,
            reason: reason.to_string(),
            detail: note.to_string(),
        })
        .collect();
    let n = store.add_suppressions(&items, &actor(by))?;
    eprintln!("rebound: {n} added, {} already suppressed", items.len() - n);
    Ok(ExitCode::SUCCESS)
}

/// Exits 1 when an address was not suppressed, so scripts notice a typo.
fn remove(
    store: &mut dyn Store,
    addresses: &[String],
    note: &str,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let who = actor(by);
    let mut missing = 0;
    for a in normalized(addresses)? {
        if store.remove_suppression(&a, &who, note)? {
            eprintln!("rebound: {a}: removed by {who}");
        } else {
            eprintln!("rebound: {a}: was not suppressed");
            missing += 1;
        }
    }
    Ok(if missing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn show(store: &mut dyn Store, address: String, out: &mut impl Write) -> anyhow::Result<ExitCode> {
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
    Ok(ExitCode::SUCCESS)
}

/// The columns of an exported list, in order; `import` reads them back.
const EXPORT_COLUMNS: [&str; 8] = [
    "address",
    "domain",
    "reason",
    "detail",
    "created",
    "updated",
    "created_by",
    "events",
];

fn export(store: &mut dyn Store, json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let all = store.suppressions(None)?;
    if json {
        for s in &all {
            writeln!(out, "{}", suppression_json(s))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut w = csv::Writer::from_writer(out);
    w.write_record(EXPORT_COLUMNS)?;
    for s in &all {
        w.write_record([
            s.address.as_str(),
            &s.domain,
            &s.reason,
            &s.detail,
            &format_rfc3339(s.created_ms),
            &format_rfc3339(s.updated_ms),
            &s.created_by,
            &s.event_count.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// One entry of an imported list, before its address is checked.
struct ImportItem {
    /// 1-based line of the input, for messages.
    line: u64,
    address: String,
    reason: Option<String>,
    detail: String,
}

/// Reads a list in any of the shapes `export` writes or people keep: CSV
/// with an `address` column (as exported, quoted fields included), JSON
/// Lines with `address`, or one address per line. The first non-empty line
/// says which. Adds in batches of 10,000; unreadable entries are skipped
/// and named.
fn import(
    store: &mut dyn Store,
    path: &str,
    default_reason: &str,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut input: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {path}"))?,
        ))
    };
    let who = actor(by);
    let (mut added, mut total, mut bad) = (0, 0, 0);
    let mut batch = Vec::new();
    let mut accept = |item: anyhow::Result<ImportItem>| -> anyhow::Result<()> {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                bad += 1;
                eprintln!("rebound: {path}: {e:#}, skipped");
                return Ok(());
            }
        };
        match normalize_address(&item.address) {
            Some(address) => {
                total += 1;
                batch.push(ManualSuppression {
                    address,
                    reason: item
                        .reason
                        .filter(|r| !r.is_empty())
                        .unwrap_or_else(|| default_reason.to_string()),
                    detail: item.detail,
                });
            }
            None => {
                bad += 1;
                eprintln!("rebound: {path}:{}: not an address, skipped", item.line);
            }
        }
        if batch.len() >= 10_000 {
            added += store.add_suppressions(&batch, &who)?;
            batch.clear();
        }
        Ok(())
    };
    match first_line_shape(&mut input)? {
        Shape::Empty => {}
        Shape::Csv => {
            let mut rows = csv::ReaderBuilder::new()
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(input);
            let headers: Vec<String> = rows
                .headers()?
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            let column = |name: &str| headers.iter().position(|h| h == name);
            let (address, reason, detail) = (column("address"), column("reason"), column("detail"));
            for row in rows.records() {
                accept(row.map_err(anyhow::Error::from).map(|r| {
                    let field =
                        |i: Option<usize>| i.and_then(|i| r.get(i)).unwrap_or("").to_string();
                    ImportItem {
                        line: r.position().map_or(0, csv::Position::line),
                        address: field(address),
                        reason: Some(field(reason)),
                        detail: field(detail),
                    }
                }))?;
            }
        }
        Shape::JsonLines | Shape::Plain => {
            for (i, line) in input.lines().enumerate() {
                let line = line?;
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                let line_no = i as u64 + 1;
                accept(if t.starts_with('{') {
                    json_item(t, line_no)
                } else {
                    Ok(ImportItem {
                        line: line_no,
                        address: t.to_string(),
                        reason: None,
                        detail: String::new(),
                    })
                })?;
            }
        }
    }
    added += store.add_suppressions(&batch, &who)?;
    eprintln!(
        "rebound: {total} read, {added} added, {} already suppressed, {bad} skipped",
        total - added
    );
    Ok(ExitCode::SUCCESS)
}

enum Shape {
    Empty,
    Csv,
    JsonLines,
    Plain,
}

/// What the first non-empty line says the list is, without consuming it.
fn first_line_shape(input: &mut dyn BufRead) -> anyhow::Result<Shape> {
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(Shape::Empty);
        }
        let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if blank == buf.len() {
            input.consume(blank);
            continue;
        }
        input.consume(blank);
        let rest = input.fill_buf()?;
        let head: Vec<u8> = rest
            .iter()
            .take_while(|&&b| b != b'\n')
            .take(64)
            .map(u8::to_ascii_lowercase)
            .collect();
        return Ok(if head.starts_with(b"{") {
            Shape::JsonLines
        } else if head.starts_with(b"address")
            && head[7..]
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .is_none_or(|&b| b == b',' || b == b'\r')
        {
            Shape::Csv
        } else {
            Shape::Plain
        });
    }
}

fn json_item(text: &str, line: u64) -> anyhow::Result<ImportItem> {
    let v: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("line {line}: not JSON"))?;
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Ok(ImportItem {
        line,
        address: field("address").ok_or_else(|| anyhow::anyhow!("line {line}: no \"address\""))?,
        reason: field("reason"),
        detail: field("detail").unwrap_or_default(),
    })
}

fn audit(
    store: &mut dyn Store,
    address: Option<String>,
    limit: usize,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let a = address
        .map(|a| normalized(&[a]))
        .transpose()?
        .map(|mut v| v.remove(0));
    for e in store.audit(a.as_deref(), limit)? {
        let mut v = serde_json::to_value(&e)?;
        v["at"] = format_rfc3339(e.at_ms).into();
        writeln!(out, "{v}")?;
    }
    Ok(ExitCode::SUCCESS)
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
