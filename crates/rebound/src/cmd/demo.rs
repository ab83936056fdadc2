//! `rebound demo`: a week of sending written in the formats Rebound reads,
//! read back through the same calls as `rebound ingest`, then the report.
//!
//! The traffic is `rebound_insight::synth`'s seeded stream (providers and
//! their shares, diurnal volume, background noise, and injected incidents
//! with each provider's own reply texts), so there is one generator of
//! realistic traffic, not two. Each attempt of that stream is written out as
//! what a sender would actually hold:
//! - from the two ESP sending IPs, SendGrid Event Webhook bodies (JSON
//!   arrays, one POST body per line);
//! - from our own MTA's IP, Postfix log lines (cleanup, qmgr, smtp), one
//!   file per calendar year because syslog dates carry none;
//! - some of our MTA's bounces at smaller providers as RFC 3464 bounce
//!   emails (the remote accepted, then bounced), and a few out-of-office
//!   auto-replies, in one mbox.
//!
//! Nothing of the stream's own verdicts is kept: every event in the
//! database came through a parser, the decoder and the classifier.

use super::ingest::{self, ingest_path};
use anyhow::Context;
use rebound_ingest::time::{format_rfc3339, now_ms, parse_since};
use rebound_ingest::{Event, Format, Outcome};
use rebound_insight::synth::{IPS, Injection, PROVIDERS, Rng, Synth, SynthConfig};
use rebound_insight::{Bucket, DetectConfig, Dimension, IncidentKind, ReportOptions, Window};
use rebound_ledger::{IngestOptions, IngestStats, Policy};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Attempts per hour at `--scale 1` (a mid-sized newsletter sender).
const PER_HOUR: f64 = 600.0;

/// The ESP's two dedicated IPs and our own MTA's (documentation ranges).
const ESP_IPS: [&str; 2] = ["198.51.100.10", "198.51.100.11"];
const OWN_IP: &str = "203.0.113.20";

/// Campaigns, by the generator's per-day campaign index.
const CAMPAIGNS: [(&str, &str); 3] = [
    ("weekly-digest", "Your weekly digest"),
    ("black-friday", "Black Friday: 30% off everything"),
    ("product-update", "What's new this month"),
];

/// The generator's long-tail domains, as the European providers and
/// corporate domains a real list holds.
const TAIL_DOMAINS: [(&str, &str); 5] = [
    ("example-corp.com", "example-corp.com"),
    ("mail.example.org", "gmx.de"),
    ("acme.example", "orange.fr"),
    ("widgets.example.net", "gmx.de"),
    ("univ.example.edu", "northwind-traders.example"),
];

#[derive(clap::Args)]
pub struct Args {
    /// The SQLite file to write; an existing one is replaced only if its
    /// name starts with `rebound-demo`.
    #[arg(long, default_value = "rebound-demo.db")]
    pub db: PathBuf,
    /// The HTML report to write.
    #[arg(long, value_name = "FILE", default_value = "rebound-demo.html")]
    pub html: PathBuf,
    /// Where the generated inputs go (Postfix logs, SendGrid webhook
    /// bodies, an mbox of bounce emails).
    #[arg(long, value_name = "DIR", default_value = "rebound-demo")]
    pub inputs: PathBuf,
    /// Days of sending.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=31))]
    pub days: u32,
    /// Volume: 1.0 is about 600 messages an hour (100,000 a week).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Seed of the generator: the same seed, days, scale and end give the
    /// same database content.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// End of the simulated period (`2026-11-30`, RFC 3339); default: the
    /// start of today (UTC).
    #[arg(long)]
    pub end: Option<String>,
    /// Then serve the dashboard on 127.0.0.1 until ctrl-c, with a one-time
    /// token.
    #[arg(long)]
    pub serve: bool,
    /// Port for `--serve` (0: any free port).
    #[arg(long, default_value_t = 8025)]
    pub port: u16,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.scale > 0.0 && args.scale <= 20.0,
        "--scale must be above 0 and at most 20"
    );
    let now = now_ms();
    let end_ms = match &args.end {
        Some(s) => parse_since(s, now).ok_or_else(|| anyhow::anyhow!("cannot read --end {s:?}"))?,
        None => now - now.rem_euclid(DAY),
    };
    let hours = i64::from(args.days) * 24;
    let start_ms = end_ms - hours * HOUR;
    let db = args
        .db
        .to_str()
        .context("--db must be a UTF-8 path")?
        .to_string();
    replace_demo_database(&args.db)?;
    std::fs::create_dir_all(&args.inputs)
        .with_context(|| format!("cannot create {}", args.inputs.display()))?;

    eprintln!(
        "rebound demo: writing {} days of sending ({} to {}) into {}/",
        args.days,
        &format_rfc3339(start_ms)[..10],
        &format_rfc3339(end_ms - 1)[..10],
        args.inputs.display()
    );
    let synth = Synth::new(SynthConfig {
        seed: args.seed,
        start_ms,
        hours,
        per_hour: PER_HOUR * args.scale,
        injections: incidents(start_ms, hours),
    });
    let mut inputs = Inputs::new(&args.inputs, args.seed);
    for event in synth {
        inputs.write(&event)?;
    }
    let files = inputs.finish()?;
    let total: u64 = files.iter().map(|f| f.records).sum();

    let url = rebound_ledger::resolve_url(Some(&db));
    let mut store = super::open_store(&url)?;
    let policy = Policy::default();
    let opts = IngestOptions {
        batch_size: 2_000,
        strict: false,
    };
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>9} [{bar:40}] {pos}/{len} events ({elapsed})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message("ingesting");
    let mut all = IngestStats::default();
    for file in &files {
        let path = file.path.to_str().context("input paths are UTF-8")?;
        let ingest_args = ingest::Args {
            db: None,
            format: Format::Auto,
            policy: None,
            strict: false,
            batch_size: opts.batch_size,
            year: file.year,
            // The demo writes its logs' syslog dates in UTC.
            timezone: Some("UTC".into()),
            rules: Vec::new(),
            quiet: true,
            paths: Vec::new(),
        };
        let before = all.read;
        let mut stats = IngestStats::default();
        ingest_path(
            &mut *store,
            &policy,
            &rebound_classify::SharedClassifier::Builtin,
            path,
            &ingest_args,
            opts,
            &mut stats,
            &mut Default::default(),
            &mut |s| bar.set_position(before + s.read),
        )
        .map_err(ingest::IngestFailure::into_anyhow)?;
        bar.set_position(before + stats.read);
        all.read += stats.read;
        all.inserted += stats.inserted;
        all.errors += stats.errors;
        all.suppressed += stats.suppressed;
        all.sender_issues += stats.sender_issues;
    }
    bar.finish_and_clear();
    drop(store);
    eprintln!(
        "rebound demo: ingested {} events from {} records in {} files ({} unreadable), {} suppressions, {} sender-side refusals",
        all.inserted,
        total,
        files.len(),
        all.errors,
        all.suppressed,
        all.sender_issues
    );
    print_report(&url, &args.html)?;
    println!(
        "\nInputs are in {dir}/; try:\n  rebound report --db {db} --by ip\n  rebound events --db {db} --sender-issues\n  rebound suppressions --db {db} list\n  rebound ingest --db {db} {dir}/{first}   # again: nothing new (dedupe keys)",
        dir = args.inputs.display(),
        first = files[0]
            .path
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    );
    if args.serve {
        serve(&db, args.port)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `rebound report`'s text for the whole period, its incidents moved up
/// under the title (they are what a newcomer should see first; the report
/// prints them last, after the tables they explain), and its HTML page.
fn print_report(url: &str, html: &Path) -> anyhow::Result<()> {
    let options = ReportOptions {
        window: Window::default(),
        by: Dimension::Provider,
        bucket: Bucket::Hour,
        top: 20,
        top_patterns: 5,
        detect: DetectConfig::default(),
        alerts: Default::default(),
        readers: rebound_insight::report::READERS,
    };
    let report = rebound_insight::build(url, options)
        .with_context(|| format!("cannot read the store {url}"))?;
    std::fs::write(html, rebound_insight::html::page(&report))
        .with_context(|| format!("cannot write {}", html.display()))?;
    let text = rebound_insight::render::text_width(&report, super::report::terminal_width());
    // The title may wrap: it ends at the first blank line.
    let (title, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let (tables, incidents) = match body.find("\nIncidents:") {
        Some(at) => (&body[..at], body[at + 1..].trim_end()),
        None => (body, ""),
    };
    println!("{title}\n\n{incidents}\n{tables}");
    println!("\nHTML report written to {}", html.display());
    Ok(())
}

/// Removes a previous demo database (and its WAL files) so that a run
/// starts empty; any other existing file is refused, as it may be a real
/// ledger.
fn replace_demo_database(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        return Ok(());
    }
    let is_demo = db
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("rebound-demo"));
    anyhow::ensure!(
        is_demo,
        "{} exists and is not a demo database (rebound-demo*): pick another --db",
        db.display()
    );
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot remove {}", Path::new(&p).display()));
            }
        }
    }
    Ok(())
}

/// The incidents of the period, each on a day at a fixed fraction of it
/// (so a short `--days` run still has them, after some history) and in
/// working hours, when there is volume to see them: a Spamhaus listing of
/// one ESP IP at Microsoft, a Microsoft throttling burst, and an
/// authentication (DMARC/SPF/DKIM) failure at Google on the last day.
fn incidents(start_ms: i64, hours: i64) -> Vec<Injection> {
    let days = (hours / 24).max(1);
    let at = |fraction: f64, hour: i64| {
        let day = ((days as f64 * fraction) as i64).min(days - 1);
        start_ms + day * DAY + hour * HOUR
    };
    let injection =
        |kind, provider: &str, start, hours_long, intensity, ip: Option<&str>| Injection {
            kind,
            provider: provider.into(),
            start_ms: start,
            end_ms: start + hours_long * HOUR,
            intensity,
            ip: ip.map(str::to_string),
            campaign: None,
            peak_hour_events: 0,
        };
    vec![
        // IPS[1] is written as ESP_IPS[1].
        injection(
            IncidentKind::Blocklist,
            "microsoft",
            at(0.3, 9),
            4,
            0.9,
            Some(IPS[1]),
        ),
        injection(
            IncidentKind::RateLimiting,
            "microsoft",
            at(0.55, 13),
            2,
            0.5,
            None,
        ),
        injection(
            IncidentKind::Authentication,
            "google",
            at(0.99, 16),
            3,
            0.35,
            None,
        ),
    ]
}

/// One generated input file.
struct InputFile {
    path: PathBuf,
    /// Events it should give.
    records: u64,
    /// The year of its syslog dates (Postfix).
    year: Option<i64>,
}

/// The writers of the generated inputs.
struct Inputs {
    dir: PathBuf,
    rng: Rng,
    postfix: BTreeMap<i64, (BufWriter<File>, u64)>,
    sendgrid: Option<(BufWriter<File>, u64)>,
    sendgrid_body: Vec<serde_json::Value>,
    mbox: Option<(BufWriter<File>, u64)>,
    serial: u64,
}

/// SendGrid posts events in batches; this many per body.
const SENDGRID_BODY_EVENTS: usize = 50;

impl Inputs {
    fn new(dir: &Path, seed: u64) -> Self {
        Inputs {
            dir: dir.to_path_buf(),
            // Its own stream, so channel choices never shift the traffic.
            rng: Rng::new(seed ^ 0x5EED_DE30),
            postfix: BTreeMap::new(),
            sendgrid: None,
            sendgrid_body: Vec::new(),
            mbox: None,
            serial: 0,
        }
    }

    fn create(&self, name: &str) -> anyhow::Result<BufWriter<File>> {
        let path = self.dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 16, file))
    }

    fn write(&mut self, e: &Event) -> anyhow::Result<()> {
        self.serial += 1;
        let a = Attempt::from_synth(e);
        // Complaints come by the ESP's feedback loop whatever the IP.
        match a.ip {
            ip if ESP_IPS.contains(&ip) || a.outcome == Outcome::Complained => self.sendgrid(&a)?,
            _ => {
                let by_email = a.outcome == Outcome::Bounced
                    && a.provider == "other"
                    && self.rng.below(2) == 0;
                if by_email {
                    let dsn = dsn_email(&a, self.serial);
                    self.email(&dsn, a.time_ms)?;
                } else {
                    self.postfix(&a)?;
                }
            }
        }
        // About one delivered message in 300 meets an out-of-office reply.
        if a.outcome == Outcome::Delivered && self.rng.below(300) == 0 {
            let later = a.time_ms + 60_000 + self.rng.below(1_800_000) as i64;
            let reply = auto_reply(&a, later, self.serial);
            self.email(&reply, later)?;
        }
        Ok(())
    }

    fn postfix(&mut self, a: &Attempt) -> anyhow::Result<()> {
        let year = rebound_ingest::time::year_of(a.time_ms);
        if !self.postfix.contains_key(&year) {
            let w = self.create(&format!("postfix-{year}.log"))?;
            self.postfix.insert(year, (w, 0));
        }
        let (w, n) = self.postfix.get_mut(&year).expect("just inserted");
        *n += 1;
        let ts = syslog_time(a.time_ms);
        let qid = format!("{:X}", 0x3A00_0000_u64 + self.serial);
        let pid = 2000 + self.serial % 3000;
        let (mx, mx_ip) = mx_of(a.domain);
        writeln!(
            w,
            "{ts} mx1 postfix/cleanup[{pid}]: {qid}: message-id=<{}>",
            a.message_id
        )?;
        writeln!(
            w,
            "{ts} mx1 postfix/qmgr[1187]: {qid}: from=<{SENDER}>, size={}, nrcpt=1 (queue active)",
            14_000 + self.serial % 9_000
        )?;
        let (dsn, status, detail) = match a.outcome {
            Outcome::Delivered => (
                "2.0.0".to_string(),
                "sent",
                format!("250 2.0.0 OK: queued as {qid}"),
            ),
            other => (
                enhanced_status(&a.text, other),
                if other == Outcome::Deferred {
                    "deferred"
                } else {
                    "bounced"
                },
                format!(
                    "host {mx}[{mx_ip}] said: {} (in reply to {} command)",
                    a.text,
                    if a.text.contains("content") {
                        "end of DATA"
                    } else {
                        "RCPT TO"
                    }
                ),
            ),
        };
        writeln!(
            w,
            "{ts} mx1 postfix/smtp[{}]: {qid}: to=<{}>, relay={mx}[{mx_ip}]:25, delay=0.9, delays=0.02/0.01/0.31/0.56, dsn={dsn}, status={status} ({detail})",
            pid + 7,
            a.recipient
        )?;
        Ok(())
    }

    fn sendgrid(&mut self, a: &Attempt) -> anyhow::Result<()> {
        use serde_json::json;
        let id = format!("{:016x}{:08x}", self.rng.next_u64(), self.serial);
        let mut v = json!({
            "email": a.recipient,
            "timestamp": a.time_ms / 1000,
            "smtp-id": format!("<{}>", a.message_id),
            "sg_event_id": id,
            "sg_message_id": format!("{:x}.filterdrecv-7bf5c4d8-x2k.1.0", self.serial),
            "category": [a.campaign],
            "ip": a.ip,
        });
        let event = match a.outcome {
            Outcome::Delivered => {
                v["response"] = a.text.clone().into();
                v["tls"] = 1.into();
                "delivered"
            }
            Outcome::Deferred => {
                v["response"] = a.text.clone().into();
                v["attempt"] = "1".into();
                "deferred"
            }
            Outcome::Complained => "spamreport",
            _ => {
                let status = enhanced_status(&a.text, Outcome::Bounced);
                // SendGrid types refusals aimed at the sender as `blocked`.
                let kind = if status.starts_with("5.7") {
                    "blocked"
                } else {
                    "bounce"
                };
                v["reason"] = a.text.clone().into();
                v["status"] = status.into();
                v["type"] = kind.into();
                "bounce"
            }
        };
        v["event"] = event.into();
        self.sendgrid_body.push(v);
        if self.sendgrid_body.len() == SENDGRID_BODY_EVENTS {
            self.flush_sendgrid()?;
        }
        Ok(())
    }

    fn flush_sendgrid(&mut self) -> anyhow::Result<()> {
        if self.sendgrid_body.is_empty() {
            return Ok(());
        }
        if self.sendgrid.is_none() {
            self.sendgrid = Some((self.create("sendgrid-events.jsonl")?, 0));
        }
        let (w, n) = self.sendgrid.as_mut().expect("just set");
        *n += self.sendgrid_body.len() as u64;
        serde_json::to_writer(&mut *w, &self.sendgrid_body)?;
        w.write_all(b"\n")?;
        self.sendgrid_body.clear();
        Ok(())
    }

    /// Appends one message to the mbox (`From ` line, `>From` quoting).
    fn email(&mut self, message: &str, time_ms: i64) -> anyhow::Result<()> {
        if self.mbox.is_none() {
            self.mbox = Some((self.create("bounces.mbox")?, 0));
        }
        let (w, n) = self.mbox.as_mut().expect("just set");
        *n += 1;
        writeln!(w, "From MAILER-DAEMON {}", asctime(time_ms))?;
        for line in message.lines() {
            if line.starts_with("From ") {
                w.write_all(b">")?;
            }
            writeln!(w, "{line}")?;
        }
        writeln!(w)?;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Vec<InputFile>> {
        self.flush_sendgrid()?;
        let mut out = Vec::new();
        let dir = self.dir.clone();
        for (year, (mut w, records)) in std::mem::take(&mut self.postfix) {
            w.flush()?;
            out.push(InputFile {
                path: dir.join(format!("postfix-{year}.log")),
                records,
                year: Some(year),
            });
        }
        for (name, writer) in [
            ("sendgrid-events.jsonl", self.sendgrid.take()),
            ("bounces.mbox", self.mbox.take()),
        ] {
            if let Some((mut w, records)) = writer {
                w.flush()?;
                out.push(InputFile {
                    path: dir.join(name),
                    records,
                    year: None,
                });
            }
        }
        Ok(out)
    }
}

const SENDER: &str = "news@sender.example";

/// One attempt of the generated stream, with the demo's names.
struct Attempt<'a> {
    time_ms: i64,
    recipient: String,
    domain: &'a str,
    provider: &'static str,
    ip: &'static str,
    campaign: &'static str,
    subject: &'static str,
    message_id: String,
    outcome: Outcome,
    text: String,
}

impl<'a> Attempt<'a> {
    fn from_synth(e: &'a Event) -> Self {
        let provider = PROVIDERS
            .iter()
            .find(|p| p.domains.contains(&e.recipient_domain.as_str()))
            .map_or("other", |p| p.key);
        let domain = TAIL_DOMAINS
            .iter()
            .find(|(from, _)| *from == e.recipient_domain)
            .map_or(e.recipient_domain.as_str(), |(_, to)| to);
        let local = e.recipient.split('@').next().unwrap_or("user");
        let recipient = format!("{local}@{domain}");
        let synth_ip = e.sending_ip.as_deref().unwrap_or(IPS[0]);
        // The generator's four IPs become two ESP IPs and our MTA's one.
        let ip = match IPS.iter().position(|i| *i == synth_ip) {
            Some(0) => ESP_IPS[0],
            Some(1) => ESP_IPS[1],
            _ => OWN_IP,
        };
        let index = e
            .campaign
            .as_deref()
            .and_then(|c| c.rsplit('-').next())
            .and_then(|k| k.parse::<usize>().ok())
            .unwrap_or(0)
            % CAMPAIGNS.len();
        let (campaign, subject) = CAMPAIGNS[index];
        let day = &format_rfc3339(e.time_ms)[..10];
        let serial = e.source.rsplit(':').next().unwrap_or("0");
        let text = e
            .text
            .replace(&e.recipient, &recipient)
            .replace(synth_ip, ip);
        Attempt {
            time_ms: e.time_ms,
            recipient,
            domain,
            provider,
            ip,
            campaign,
            subject,
            message_id: format!("{campaign}-{day}.{serial}@sender.example"),
            outcome: e.outcome,
            text: if e.outcome == Outcome::Delivered {
                format!("250 2.0.0 OK {} - accepted", e.time_ms / 1000)
            } else {
                text
            },
        }
    }
}

/// The receiving MX of a domain, with a documentation-range address.
fn mx_of(domain: &str) -> (String, Ipv4Addr) {
    let host = match domain {
        "gmail.com" | "googlemail.com" => "gmail-smtp-in.l.google.com".to_string(),
        "outlook.com" | "hotmail.com" | "live.com" => {
            "outlook-com.olc.protection.outlook.com".to_string()
        }
        "yahoo.com" | "ymail.com" => "mta7.am0.yahoodns.net".to_string(),
        "icloud.com" | "me.com" => "mx01.mail.icloud.com".to_string(),
        "gmx.de" => "mx00.emig.gmx.net".to_string(),
        "orange.fr" => "smtp-in.orange.fr".to_string(),
        other => format!("mx.{other}"),
    };
    let last = domain
        .bytes()
        .fold(7u8, |h, b| h.wrapping_mul(31).wrapping_add(b))
        % 200
        + 20;
    (host, Ipv4Addr::new(192, 0, 2, last))
}

/// The enhanced status a reply states (`550-5.7.26 …` → `5.7.26`), else
/// the class's generic one.
fn enhanced_status(text: &str, outcome: Outcome) -> String {
    text.split(|c: char| c.is_whitespace() || c == '-' || c == '[' || c == '(')
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && (parts[0] == "2" || parts[0] == "4" || parts[0] == "5")
                && parts[1..]
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| {
            if outcome == Outcome::Deferred {
                "4.0.0".into()
            } else {
                "5.0.0".into()
            }
        })
}

/// A bounce email in RFC 3464 form, as the remote MTA sends it after
/// accepting the message.
fn dsn_email(a: &Attempt, serial: u64) -> String {
    let (mx, mx_ip) = mx_of(a.domain);
    let date = rfc2822(a.time_ms);
    let status = enhanced_status(&a.text, Outcome::Bounced);
    let boundary = format!("dsn.{serial:x}/{mx}");
    format!(
        "Return-Path: <>\n\
From: Mail Delivery System <MAILER-DAEMON@{mx}>\n\
To: {SENDER}\n\
Date: {date}\n\
Subject: Undelivered Mail Returned to Sender\n\
Message-ID: <dsn.{serial:x}@{mx}>\n\
Auto-Submitted: auto-replied\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status;\n\
\tboundary=\"{boundary}\"\n\
\n\
This is a MIME-encapsulated message.\n\
\n\
--{boundary}\n\
Content-Description: Notification\n\
Content-Type: text/plain; charset=us-ascii\n\
\n\
This is the mail system at host {mx}.\n\
\n\
I'm sorry to have to inform you that your message could not\n\
be delivered to one or more recipients.\n\
\n\
<{rcpt}>: {text}\n\
\n\
--{boundary}\n\
Content-Description: Delivery report\n\
Content-Type: message/delivery-status\n\
\n\
Reporting-MTA: dns; {mx}\n\
Arrival-Date: {date}\n\
\n\
Final-Recipient: rfc822; {rcpt}\n\
Original-Recipient: rfc822;{rcpt}\n\
Action: failed\n\
Status: {status}\n\
Remote-MTA: dns; {mx} [{mx_ip}]\n\
Diagnostic-Code: smtp; {text}\n\
\n\
--{boundary}\n\
Content-Description: Undelivered Message Headers\n\
Content-Type: text/rfc822-headers\n\
\n\
From: Sender News <{SENDER}>\n\
To: {rcpt}\n\
Subject: {subject}\n\
Date: {date}\n\
Message-ID: <{message_id}>\n\
\n\
--{boundary}--\n",
        rcpt = a.recipient,
        text = a.text,
        subject = a.subject,
        message_id = a.message_id,
    )
}

/// An out-of-office reply from the recipient.
fn auto_reply(a: &Attempt, time_ms: i64, serial: u64) -> String {
    format!(
        "From: <{rcpt}>\n\
To: {SENDER}\n\
Date: {date}\n\
Subject: Automatic reply: {subject}\n\
Auto-Submitted: auto-replied\n\
X-Auto-Response-Suppress: All\n\
In-Reply-To: <{message_id}>\n\
Message-ID: <ooo.{serial:x}@{domain}>\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=us-ascii\n\
\n\
Thank you for your message. I am out of the office this week with\n\
limited access to email, and will reply when I am back.\n",
        rcpt = a.recipient,
        date = rfc2822(time_ms),
        subject = a.subject,
        message_id = a.message_id,
        domain = a.domain,
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// (year, month name, day, weekday name, `HH:MM:SS`) in UTC.
fn civil(ms: i64) -> (&'static str, String, u32, &'static str, String) {
    let iso = format_rfc3339(ms); // 2026-11-24T10:15:03.000Z
    let month: usize = iso[5..7].parse().unwrap_or(1);
    let day: u32 = iso[8..10].parse().unwrap_or(1);
    let weekday = WEEKDAYS[ms.div_euclid(DAY).rem_euclid(7) as usize];
    (
        MONTHS[month.clamp(1, 12) - 1],
        iso[..4].to_string(),
        day,
        weekday,
        iso[11..19].to_string(),
    )
}

/// `Nov 24 10:15:03` (syslog, no year).
fn syslog_time(ms: i64) -> String {
    let (month, _, day, _, time) = civil(ms);
    format!("{month} {day:2} {time}")
}

/// `Tue, 24 Nov 2026 10:15:03 +0000`.
fn rfc2822(ms: i64) -> String {
    let (month, year, day, weekday, time) = civil(ms);
    format!("{weekday}, {day} {month} {year} {time} +0000")
}

/// `Tue Nov 24 10:15:03 2026` (an mbox `From ` line).
fn asctime(ms: i64) -> String {
    let (month, year, day, weekday, time) = civil(ms);
    format!("{weekday} {month} {day:2} {time} {year}")
}

/// Serves the dashboard on loopback with a token made for this run.
fn serve(db: &str, port: u16) -> anyhow::Result<()> {
    let mut secret = [0u8; 24];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no random token: {e}"))?;
    let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut config = rebound_server::Config {
        db: db.to_string(),
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        ..Default::default()
    };
    config.tokens.clear();
    super::serve::serve_until_signal(
        config,
        Some(&format!("demo:admin:{token}")),
        Some(2),
        |addr| {
            println!(
                "\nDashboard: http://{addr}/  (token for this run, admin scope: {token})\nctrl-c stops it."
            );
            let _ = std::io::stdout().flush();
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_three_mail_forms() {
        // 2026-11-24T10:15:03Z, a Tuesday.
        let ms = 1_795_515_303_000;
        assert_eq!(syslog_time(ms), "Nov 24 10:15:03");
        assert_eq!(rfc2822(ms), "Tue, 24 Nov 2026 10:15:03 +0000");
        assert_eq!(asctime(ms), "Tue Nov 24 10:15:03 2026");
        // 1970-01-01 was a Thursday; single-digit days are space-padded.
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
    }

    #[test]
    fn status_from_the_reply_text() {
        let s = |t| enhanced_status(t, Outcome::Bounced);
        assert_eq!(s("550-5.7.26 This mail has been blocked"), "5.7.26");
        assert_eq!(s("421 4.7.0 [TSS04] Messages from 198.51.100.10"), "4.7.0");
        assert_eq!(s("554 delivery error: dd This user doesn't have"), "5.0.0");
        assert_eq!(
            enhanced_status("421 Try again later", Outcome::Deferred),
            "4.0.0"
        );
        // An IP address is not a status.
        assert_eq!(s("554 Client host [192.0.2.1] refused"), "5.0.0");
    }
}
