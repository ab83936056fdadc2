//! `rebound report`: delivery rates by provider, domain, IP, campaign,
//! reason, owner or pattern over a window, time series, top patterns and
//! incidents — as terminal tables, JSON (`--json`) or a self-contained HTML
//! page (`--html FILE`). The work is `rebound-insight`'s.

use super::events::parse_since;
use anyhow::Context;
use rebound_ingest::time::now_ms;
use rebound_insight::{AlertConfig, Bucket, DetectConfig, Dimension, ReportOptions, Window};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Start of the window: RFC 3339 (`2026-11-01`, `2026-11-01T10:00:00Z`),
    /// epoch seconds, or an age (`30m`, `24h`, `7d`). Default: all events.
    #[arg(long)]
    pub since: Option<String>,
    /// End of the window (exclusive), same forms as `--since`.
    #[arg(long)]
    pub until: Option<String>,
    /// Group by provider, domain, ip, campaign, reason, owner or pattern.
    #[arg(long, default_value = "provider")]
    pub by: Dimension,
    /// Time-series bucket: minute, hour or day.
    #[arg(long, default_value = "hour")]
    pub bucket: Bucket,
    /// Groups listed (0: all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML page with charts to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// A TOML file whose `[incidents]` section sets detection thresholds
    /// (window_minutes, min_events, min_share, spike_factor,
    /// baseline_floor, baseline_half_life_hours, list_quality_bounce_rate,
    /// close_factor, lateness_minutes, samples) and whose `[alerts]`
    /// section sets the rate alerts (bounce_rate, hard_bounce_rate,
    /// complaint_rate, deferral_rate, min_attempts, z, max_keys,
    /// max_alerts, enabled).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Incident threshold: events of one signature in the window.
    #[arg(long)]
    pub min_events: Option<u64>,
    /// Incident threshold: share of the provider's attempts (0.05 = 5%).
    #[arg(long)]
    pub min_share: Option<f64>,
    /// Incident threshold: multiple of the trailing baseline.
    #[arg(long)]
    pub spike_factor: Option<f64>,
    /// Incident window, minutes.
    #[arg(long)]
    pub window_minutes: Option<u32>,
}

#[derive(serde::Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    incidents: DetectConfig,
    #[serde(default)]
    alerts: AlertConfig,
}

/// The `[alerts]` section of `--config` (defaults without a file).
pub fn alert_config(config: Option<&std::path::Path>) -> anyhow::Result<AlertConfig> {
    Ok(match config {
        Some(p) => read_config(p)?.alerts,
        None => AlertConfig::default(),
    })
}

fn read_config(p: &std::path::Path) -> anyhow::Result<ConfigFile> {
    let text = super::read_text(p)?;
    toml::from_str::<ConfigFile>(&text)
        .with_context(|| format!("cannot read the configuration {}", p.display()))
}

/// Detection thresholds from `--config` and the flags (flags win).
pub fn detect_config(
    config: Option<&std::path::Path>,
    min_events: Option<u64>,
    min_share: Option<f64>,
    spike_factor: Option<f64>,
    window_minutes: Option<u32>,
) -> anyhow::Result<DetectConfig> {
    let mut cfg = match config {
        Some(p) => read_config(p)?.incidents,
        None => DetectConfig::default(),
    };
    if let Some(v) = min_events {
        cfg.min_events = v;
    }
    if let Some(v) = min_share {
        cfg.min_share = v;
    }
    if let Some(v) = spike_factor {
        cfg.spike_factor = v;
    }
    if let Some(v) = window_minutes {
        cfg.window_minutes = v.max(1);
    }
    Ok(cfg)
}

/// The width the text report fits: `COLUMNS` when set (shells export it,
/// and it lets a pipe choose), else the terminal's, else
/// [`rebound_insight::render::DEFAULT_WIDTH`].
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, cols)| cols as usize)
        })
        .unwrap_or(rebound_insight::render::DEFAULT_WIDTH)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let now = now_ms();
    let time = |s: &Option<String>, flag: &str| -> anyhow::Result<Option<i64>> {
        s.as_deref()
            .map(|s| {
                parse_since(s, now).ok_or_else(|| anyhow::anyhow!("cannot read --{flag} {s:?}"))
            })
            .transpose()
    };
    let opts = ReportOptions {
        window: Window {
            since_ms: time(&args.since, "since")?,
            until_ms: time(&args.until, "until")?,
        },
        by: args.by,
        bucket: args.bucket,
        top: args.top,
        top_patterns: 5,
        detect: detect_config(
            args.config.as_deref(),
            args.min_events,
            args.min_share,
            args.spike_factor,
            args.window_minutes,
        )?,
        alerts: alert_config(args.config.as_deref())?,
        readers: rebound_insight::report::READERS,
    };
    let report = rebound_insight::build(&url, opts)
        .with_context(|| format!("cannot read the store {url}"))?;
    if let Some(path) = &args.html {
        std::fs::write(path, rebound_insight::html::page(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let width = terminal_width();
        out.write_all(rebound_insight::render::text_width(&report, width).as_bytes())?;
        if let Some(path) = &args.html {
            writeln!(out, "\nHTML report written to {}", path.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
