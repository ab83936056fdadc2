//! `rebound serve`: the HTTP API, ESP webhooks, Prometheus metrics and the
//! dashboard (all `rebound-server`'s); this module reads the configuration
//! and runs it until SIGTERM or ctrl-c.

use anyhow::Context;
use rebound_server::{AppState, Config, TOKENS_ENV};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A TOML configuration file (listen, db, policy, rules, limits, tokens,
    /// webhooks, incidents; see README "HTTP server"). Flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8025; port 0 picks a free
    /// one, printed on stderr).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The store: a SQLite file or `postgres://…` (default: the config
    /// file's, else $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Suppression policy (TOML).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// A classifier rule file whose rules take precedence (classify and
    /// decode endpoints, and bounce emails posted to /v1/events/email).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Open store connections.
    #[arg(long)]
    pub store_connections: Option<usize>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut db_in_file = false;
    let mut config = match &args.config {
        Some(p) => {
            let text = super::read_text(p)?;
            db_in_file = text
                .parse::<toml::Table>()
                .is_ok_and(|t| t.contains_key("db"));
            Config::from_toml(&text)
                .with_context(|| format!("cannot read the configuration {}", p.display()))?
        }
        None => Config::default(),
    };
    // --db, else the file's `db`, else $REBOUND_DATABASE_URL, else ./rebound.db.
    if let Some(db) = args.db {
        config.db = db;
    } else if !db_in_file {
        config.db = rebound_ledger::resolve_url(None);
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(p) = args.policy {
        config.policy = Some(p);
    }
    if let Some(r) = args.rules {
        config.rules = Some(r);
    }
    if let Some(n) = args.store_connections {
        config.store_connections = n;
    }
    // The server reads these itself; checked here first so that a missing
    // file is reported with its path, the operation and the OS's reason.
    for file in [&config.policy, &config.rules].into_iter().flatten() {
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    }
    let env_tokens = std::env::var(TOKENS_ENV).ok();
    serve_until_signal(config, env_tokens.as_deref(), args.threads, |_| {})?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the rule files again on every SIGHUP (the rules in use stay when
/// they do not load).
fn reload_on_sighup(state: std::sync::Arc<AppState>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let s = state.clone();
            match tokio::task::spawn_blocking(move || s.rules.reload()).await {
                Ok(Ok(id)) => {
                    state.metrics.set_rules_id(&id);
                    eprintln!("rebound: SIGHUP: rules reloaded: {id}");
                }
                Ok(Err(e)) => eprintln!(
                    "rebound: SIGHUP: {e:#}; the rules in use ({}) stay",
                    state.rules.get().id()
                ),
                Err(e) => eprintln!("rebound: SIGHUP: reload task: {e}"),
            }
        }
    });
    Ok(())
}

/// Runs the server on `config` until SIGTERM or ctrl-c (`rebound serve` and
/// `rebound demo --serve`). `announce` is called with the bound address
/// once it accepts connections.
pub fn serve_until_signal(
    config: Config,
    env_tokens: Option<&str>,
    threads: Option<usize>,
    announce: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listen = config.listen;
    let db = config.db.clone();
    let mailboxes = config.mailboxes.clone();
    let policy_path = config.policy.clone();
    let state = AppState::new(config, env_tokens)?;
    // Each mailbox's sink holds a store of its own, opened now so a store
    // that cannot be opened stops the start like any other setting.
    let mut watchers = Vec::new();
    if !mailboxes.is_empty() {
        let policy = super::ingest::load_policy(policy_path.as_deref())?;
        for mailbox in mailboxes {
            // The server's rules of the moment: a reload (SIGHUP, the
            // API) applies to mail fetched after it.
            let rules_of = state.clone();
            let sink = super::fetch::LedgerSink::open(
                &db,
                policy.clone(),
                Box::new(move || rules_of.rules.get()),
            )?;
            watchers.push((mailbox, sink));
        }
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "rebound: listening on http://{addr} (store {db}, rules {})",
            state.rules.get().id()
        );
        for (mailbox, sink) in watchers {
            eprintln!("rebound: watching {}", mailbox.url);
            // Runs until the runtime stops with the server: a message being
            // stored then stays in its mailbox and is read again next time.
            tokio::spawn(async move {
                let url = mailbox.url.clone();
                let result =
                    rebound_fetch::run(&mailbox, sink, super::fetch::print_server_notice).await;
                if let Err(e) = result {
                    eprintln!("rebound: mailbox {url} is not watched: {e}");
                }
            });
        }
        announce(addr);
        reload_on_sighup(state.clone())?;
        rebound_server::serve(state, listener, async {
            rebound_server::shutdown_signal().await;
            eprintln!("rebound: shutting down; finishing requests in flight");
        })
        .await
        .context("serving")?;
        eprintln!("rebound: stopped");
        anyhow::Ok(())
    })
}
