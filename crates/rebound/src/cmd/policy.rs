//! `rebound policy`: the suppression list enforced by Postfix at `RCPT TO`.
//!
//! Two listeners, one lookup: the SMTP access policy delegation protocol
//! (`check_policy_service inet:HOST:PORT` in `smtpd_recipient_restrictions`)
//! and a socketmap table (`check_recipient_access
//! socketmap:inet:HOST:PORT:suppressed`). Each looks the recipient up with
//! `Store::check` on its normalised address. The wire formats are in
//! `policy_protocol.rs`; this module owns sockets, limits and the store.
//!
//! One thread per connection: Postfix keeps one connection per smtpd
//! process (at most `default_process_limit`, 100), a suppression lookup is
//! one indexed read, and a blocking thread keeps the store calls simple.
//! Connections beyond `--max-connections` are closed at once (Postfix
//! counts that as a failed policy lookup and answers 451, a retry).

use super::policy_protocol::{
    Action, NetstringParser, PolicyParser, ProtocolError, netstring, policy_answer,
    socketmap_request, suppressed_action, suppressed_text,
};
use rebound_ingest::{normalize_address, time::format_rfc3339};
use rebound_ledger::{Store, Suppression};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a SQLite file or `postgres://…` (default:
    /// $REBOUND_DATABASE_URL, else ./rebound.db).
    #[arg(long)]
    pub db: Option<String>,
    /// Address for the policy delegation protocol (`check_policy_service
    /// inet:ADDR`), e.g. 127.0.0.1:10040. Port 0 picks a free port (printed).
    #[arg(long, required_unless_present = "socketmap")]
    pub listen: Option<SocketAddr>,
    /// Address for the socketmap table (`socketmap:inet:ADDR:NAME`, any
    /// NAME), e.g. 127.0.0.1:10041.
    #[arg(long)]
    pub socketmap: Option<SocketAddr>,
    /// What Postfix is told to do with a suppressed recipient: reject it
    /// (5.1.1), or hold or discard the whole message.
    #[arg(long, value_enum, default_value = "reject")]
    pub action: Action,
    /// When the store cannot answer: `closed` defers (policy
    /// `DEFER_IF_PERMIT`, socketmap `TEMP`: the sender retries later, no
    /// suppressed address slips through); `open` lets the mail pass
    /// (`DUNNO`, `NOTFOUND`).
    #[arg(long, value_enum, default_value = "closed")]
    pub on_error: OnError,
    /// Connections served at once (both listeners); more are closed.
    #[arg(long, default_value_t = 200)]
    pub max_connections: usize,
    /// Seconds a connection may stay silent before it is closed. Postfix
    /// closes its own idle policy connections after 300 s
    /// (`smtpd_policy_service_max_idle`), so the default leaves that to it.
    #[arg(long, default_value_t = 330)]
    pub idle_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Defer the recipient (4xx) while the store is unavailable.
    Closed,
    /// Accept the recipient while the store is unavailable.
    Open,
}

/// What one lookup found.
enum Lookup {
    Suppressed(Suppression),
    NotSuppressed,
    StoreError,
}

struct Shared {
    url: String,
    action: Action,
    on_error: OnError,
    idle: Duration,
    /// Open stores, taken for one lookup and put back; a store whose call
    /// failed is dropped and a fresh one opened next time (a restarted
    /// PostgreSQL, a replaced SQLite file).
    stores: Mutex<Vec<Box<dyn Store>>>,
    connections: AtomicUsize,
    max_connections: usize,
    refused: AtomicUsize,
}

impl Shared {
    fn lookup(&self, address: &str) -> Lookup {
        let pooled = self.stores.lock().map(|mut s| s.pop()).unwrap_or(None);
        let mut store = match pooled {
            Some(s) => s,
            None => match rebound_ledger::open(&self.url) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("rebound policy: cannot open the store: {e}");
                    return Lookup::StoreError;
                }
            },
        };
        let found = store.check(&[address.to_string()]);
        match found {
            Ok(mut v) => {
                if let Ok(mut pool) = self.stores.lock() {
                    pool.push(store);
                }
                match v.pop().flatten() {
                    Some(s) => Lookup::Suppressed(s),
                    None => Lookup::NotSuppressed,
                }
            }
            Err(e) => {
                eprintln!("rebound policy: suppression lookup failed: {e}");
                Lookup::StoreError
            }
        }
    }

    fn text(&self, s: &Suppression) -> String {
        let since = format_rfc3339(s.created_ms);
        suppressed_text(&s.address, &s.reason, since.get(..10).unwrap_or(&since))
    }

    /// The policy protocol's `action=` value for one request.
    fn policy_action(&self, request: &super::policy_protocol::Request) -> String {
        // Only a recipient can be suppressed; requests without one (another
        // protocol state, or DATA with several recipients) pass.
        let Some(address) = request.get("recipient").and_then(|r| normalize_address(r)) else {
            return "DUNNO".into();
        };
        match self.lookup(&address) {
            Lookup::Suppressed(s) => suppressed_action(self.action, &self.text(&s)),
            Lookup::NotSuppressed => "DUNNO".into(),
            Lookup::StoreError => match self.on_error {
                OnError::Closed => {
                    "DEFER_IF_PERMIT 4.3.0 Rebound: suppression list unavailable, try later".into()
                }
                OnError::Open => "DUNNO".into(),
            },
        }
    }

    /// The socketmap answer for one `name key` request.
    fn socketmap_answer(&self, payload: &[u8]) -> String {
        let Some((_name, key)) = socketmap_request(payload) else {
            return "PERM request is not \"name key\"".into();
        };
        // check_recipient_access also asks for the domain, parent domains
        // and `local@`; only whole addresses are ever suppressed.
        let Some(address) = normalize_address(&key) else {
            return "NOTFOUND ".into();
        };
        match self.lookup(&address) {
            Lookup::Suppressed(s) => {
                format!("OK {}", suppressed_action(self.action, &self.text(&s)))
            }
            Lookup::NotSuppressed => "NOTFOUND ".into(),
            Lookup::StoreError => match self.on_error {
                OnError::Closed => "TEMP suppression list unavailable".into(),
                OnError::Open => "NOTFOUND ".into(),
            },
        }
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Policy,
    Socketmap,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let url = rebound_ledger::resolve_url(args.db.as_deref());
    let shared = Arc::new(Shared {
        url: url.clone(),
        action: args.action,
        on_error: args.on_error,
        idle: Duration::from_secs(args.idle_seconds.max(1)),
        stores: Mutex::new(Vec::new()),
        connections: AtomicUsize::new(0),
        max_connections: args.max_connections.max(1),
        refused: AtomicUsize::new(0),
    });
    // Open the store now so a wrong URL shows at start; if it is down, the
    // service still starts and answers by --on-error until it is back.
    match rebound_ledger::open(&url) {
        Ok(s) => shared.stores.lock().expect("fresh mutex").push(s),
        Err(e) => eprintln!("rebound policy: cannot open the store {url} (yet): {e}"),
    }
    let mut threads = Vec::new();
    for (addr, protocol, name) in [
        (args.listen, Protocol::Policy, "policy delegation"),
        (args.socketmap, Protocol::Socketmap, "socketmap"),
    ] {
        let Some(addr) = addr else { continue };
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        eprintln!("rebound policy: {name} on {}", listener.local_addr()?);
        let shared = shared.clone();
        threads.push(std::thread::spawn(move || {
            accept_loop(listener, protocol, shared)
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(ExitCode::from(2))
}

fn accept_loop(listener: TcpListener, protocol: Protocol, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and the like: wait instead of spinning on it.
                eprintln!("rebound policy: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if shared.connections.fetch_add(1, Ordering::AcqRel) >= shared.max_connections {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            let n = shared.refused.fetch_add(1, Ordering::Relaxed);
            // Logged once, then every 1000th, so a flood does not flood the log.
            if n.is_multiple_of(1000) {
                eprintln!(
                    "rebound policy: {} connections already open: closed a new one ({} so far)",
                    shared.max_connections,
                    n + 1
                );
            }
            continue;
        }
        // Gives the slot back however the connection ends (a panic in a
        // store call included), or if its thread cannot start.
        let slot = Slot(shared.clone());
        let spawned = std::thread::Builder::new()
            // Threads are many and their work shallow; 1 MiB is reserved,
            // not used, and leaves room for the PostgreSQL client.
            .stack_size(1024 * 1024)
            .spawn(move || {
                let mut stream = stream;
                let peer = stream.peer_addr().ok();
                if let Err(e) = serve(&mut stream, protocol, &slot.0) {
                    match peer {
                        Some(p) => eprintln!("rebound policy: {p}: {e}"),
                        None => eprintln!("rebound policy: {e}"),
                    }
                }
                // The slot is free before the peer sees the connection
                // close, so whoever reconnects then finds it free.
                drop(slot);
                drop(stream);
            });
        if let Err(e) = spawned {
            eprintln!("rebound policy: cannot start a connection thread: {e}");
        }
    }
}

/// One connection's place under `--max-connections`.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

enum ConnError {
    Io(std::io::Error),
    Protocol(ProtocolError),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "{e}"),
            ConnError::Protocol(e) => write!(f, "closed the connection: {e}"),
        }
    }
}

/// Serves one connection until the peer closes it, stays idle too long, or
/// breaks the protocol.
fn serve(stream: &mut TcpStream, protocol: Protocol, shared: &Shared) -> Result<(), ConnError> {
    stream
        .set_read_timeout(Some(shared.idle))
        .map_err(ConnError::Io)?;
    // A peer that stops reading its answers must not hold the thread.
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .map_err(ConnError::Io)?;
    let _ = stream.set_nodelay(true);
    let mut policy = PolicyParser::default();
    let mut socketmap = NetstringParser::default();
    let mut requests = Vec::new();
    let mut payloads = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // Idle: close quietly, Postfix reconnects when it needs to.
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ConnError::Io(e)),
        };
        let mut out = Vec::new();
        match protocol {
            Protocol::Policy => {
                policy
                    .feed(&buf[..n], &mut requests)
                    .map_err(ConnError::Protocol)?;
                for r in requests.drain(..) {
                    out.extend_from_slice(&policy_answer(&shared.policy_action(&r)));
                }
            }
            Protocol::Socketmap => {
                socketmap
                    .feed(&buf[..n], &mut payloads)
                    .map_err(ConnError::Protocol)?;
                for p in payloads.drain(..) {
                    out.extend_from_slice(&netstring(&shared.socketmap_answer(&p)));
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).map_err(ConnError::Io)?;
        }
    }
}
