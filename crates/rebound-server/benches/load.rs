//! Load test of the HTTP server on loopback: starts a server in this process
//! (its own runtime) over a fresh SQLite ledger, drives it with a small
//! keep-alive HTTP/1.1 load generator (its own runtime, N connections, a
//! fixed duration per phase), and prints requests/s and latency percentiles:
//!
//! * `POST /v1/classify`, one reply per request;
//! * `GET /v1/suppressions/{address}` against a table of `--suppressions`
//!   entries (half the lookups hit, half miss);
//! * `POST /v1/suppressions/check` with 1,000 addresses per request (half
//!   hit), printed as addresses/s too;
//! * ingest under load: `--events` SendGrid events posted in batches of
//!   `--ingest-batch` (default 5,000) while
//!   classify traffic runs, then the store's event count is compared with
//!   what was sent ("ingest under load: sent N, stored N").
//!
//! Bounded: every phase stops after `--seconds` (ingest after its events),
//! traffic goes to 127.0.0.1 only. Generator and server share the machine's
//! cores, so the figures are a floor for the server alone.
//!
//! `cargo bench -p rebound-server --bench load -- [--seconds 5]
//!  [--connections 64] [--suppressions 100000] [--events 50000] [--ingest-batch 5000]
//!  [--server-threads 2] [--client-threads 2] [--db postgres://…?schema=load]`
//!
//! `--db` runs against that store instead of a fresh SQLite file (use a
//! schema of its own: the suppressions are added to it).

use rebound_server::{AppState, Config};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// `rebound serve` runs with mimalloc (see `crates/rebound/src/main.rs`):
// measure the server with the allocator it is deployed with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-admin-token-0123456789";

struct Opts {
    seconds: u64,
    connections: usize,
    suppressions: usize,
    events: usize,
    ingest_batch: usize,
    server_threads: usize,
    client_threads: usize,
    db: Option<String>,
    /// Phases to run (`--only classify,check,batch,ingest`); all when empty.
    only: Vec<String>,
}

impl Opts {
    fn runs(&self, phase: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == phase)
    }
}

fn opts() -> Opts {
    let mut o = Opts {
        seconds: 5,
        connections: 64,
        suppressions: 100_000,
        events: 50_000,
        ingest_batch: 5_000,
        server_threads: 2,
        client_threads: 2,
        db: None,
        only: Vec::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = || args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match args[i].as_str() {
            "--seconds" => o.seconds = v().unwrap_or(o.seconds).clamp(1, 120),
            "--connections" => o.connections = v().unwrap_or(64).clamp(1, 1024) as usize,
            "--suppressions" => o.suppressions = v().unwrap_or(100_000) as usize,
            "--events" => o.events = v().unwrap_or(50_000) as usize,
            "--ingest-batch" => o.ingest_batch = v().unwrap_or(5_000).clamp(1, 10_000) as usize,
            "--server-threads" => o.server_threads = v().unwrap_or(2).max(1) as usize,
            "--client-threads" => o.client_threads = v().unwrap_or(2).max(1) as usize,
            "--db" => o.db = args.get(i + 1).cloned(),
            "--only" => {
                o.only = args
                    .get(i + 1)
                    .map(|v| v.split(',').map(str::to_string).collect())
                    .unwrap_or_default()
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    let o = opts();
    let dir = tempfile::tempdir().unwrap();
    let db =
        o.db.clone()
            .unwrap_or_else(|| dir.path().join("load.db").display().to_string());

    // A realistic suppression table.
    let started = Instant::now();
    {
        let mut store = rebound_ledger::open(&db).unwrap();
        let items: Vec<rebound_ledger::ManualSuppression> = (0..o.suppressions)
            .map(|i| rebound_ledger::ManualSuppression {
                address: format!("user{i}@example{}.com", i % 97),
                reason: "manual".into(),
                detail: String::new(),
            })
            .collect();
        for chunk in items.chunks(20_000) {
            store.add_suppressions(chunk, "bench").unwrap();
        }
    }
    println!(
        "setup: {} suppressions in {:.1} s; load average {}; {} cores",
        o.suppressions,
        started.elapsed().as_secs_f64(),
        loadavg(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    let mut config = Config {
        db: db.clone(),
        store_connections: 4,
        ..Config::default()
    };
    config.limits.concurrency = 4096;
    let state = AppState::new(config, Some(&format!("bench:admin:{TOKEN}"))).unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.server_threads)
        .enable_all()
        .build()
        .unwrap();
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(rebound_server::serve(state, listener, async {
        let _ = stop_rx.await;
    }));

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.client_threads)
        .enable_all()
        .build()
        .unwrap();
    let dur = Duration::from_secs(o.seconds);

    let classify: Vec<Vec<u8>> = [
        "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints",
        "552 5.2.2 The email account that you tried to reach is over quota",
        "554 5.7.1 Service unavailable; Client host [192.0.2.44] blocked using zen.spamhaus.org",
    ]
    .iter()
    .map(|r| post("/v1/classify", &serde_json::to_string(r).unwrap()))
    .collect();
    // The baseline the ratios are of: the cheapest route through
    // the same server, connections and generator.
    let health = [get("/healthz")];
    let base = client_rt.block_on(run_load(addr, &health, o.connections, dur));
    base.print("GET /healthz (baseline)");
    // Ratios to /healthz are paired: the phase runs in one-second slices,
    // each right after a one-second /healthz slice, and the ratio is the
    // median of the slices' ratios. On a shared VM the machine's speed
    // drifts by 20-30% within a minute; a ratio of two runs seconds apart
    // measured that drift as much as the route.
    let paired = |reqs: &[Vec<u8>]| {
        let mut ratios = Vec::new();
        let mut all: Option<Results> = None;
        for _ in 0..o.seconds {
            let b = client_rt.block_on(run_load(
                addr,
                &health,
                o.connections,
                Duration::from_secs(1),
            ));
            let r = client_rt.block_on(run_load(addr, reqs, o.connections, Duration::from_secs(1)));
            ratios.push(r.rate() / b.rate().max(1e-9));
            all = Some(match all {
                None => r,
                Some(a) => a.merged(r),
            });
        }
        ratios.sort_by(f64::total_cmp);
        (
            all.expect("at least one second"),
            ratios[ratios.len() / 2],
            ratios,
        )
    };
    let show = |what: &str, ratios: &[f64], median: f64| {
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "  {what} / healthz: {median:.2} (median of paired one-second slices: {})",
            each.join(" ")
        );
    };

    if o.runs("classify") {
        let (r, median, ratios) = paired(&classify);
        r.print("POST /v1/classify (one reply)");
        show("classify", &ratios, median);
    }

    if o.runs("check") {
        let checks: Vec<Vec<u8>> = (0..2000)
            .map(|k| {
                // Even k: a suppressed address; odd: one that is not.
                let i = (k * 7919) % o.suppressions.max(1);
                let addr = if k % 2 == 0 {
                    format!("user{i}@example{}.com", i % 97)
                } else {
                    format!("other{i}@example{}.com", i % 97)
                };
                get(&format!("/v1/suppressions/{addr}"))
            })
            .collect();
        let (r, median, ratios) = paired(&checks);
        r.print(&format!(
            "GET /v1/suppressions/{{address}} ({} suppressions, {})",
            o.suppressions,
            if db.starts_with("postgres") {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        ));
        show("check", &ratios, median);
    }

    if o.runs("batch") {
        // Batch checks: 1,000 addresses per request, half of them suppressed.
        let per_request = 1000;
        let batch_checks: Vec<Vec<u8>> = (0..50)
            .map(|b| {
                let addresses: Vec<String> = (0..per_request)
                    .map(|k| {
                        let i = (b * per_request + k) * 7919 % o.suppressions.max(1);
                        if k.is_multiple_of(2) {
                            format!("user{i}@example{}.com", i % 97)
                        } else {
                            format!("other{i}@example{}.com", i % 97)
                        }
                    })
                    .collect();
                post(
                    "/v1/suppressions/check",
                    &serde_json::json!({ "addresses": addresses }).to_string(),
                )
            })
            .collect();
        let r = client_rt.block_on(run_load(addr, &batch_checks, 8, dur));
        r.print(&format!(
            "POST /v1/suppressions/check ({per_request} addresses per request, 8 connections)"
        ));
        println!(
            "batch check: {:.0} addresses/s; CPU {:.2} us/address (server and generator); load average {}",
            (r.requests * per_request as u64) as f64 / r.elapsed.as_secs_f64(),
            r.cpu * 1e6 / (r.requests.max(1) * per_request as u64) as f64,
            loadavg()
        );
    }

    // Ingest: `--events` SendGrid events in batches, first alone ("ingest"),
    // then again (other event ids) while classify traffic runs on other
    // connections ("ingest-mixed").
    let mut failed = false;
    for (phase, alongside) in [("ingest", false), ("ingest-mixed", true)] {
        if !o.runs(phase) {
            continue;
        }
        let before = rebound_ledger::open(&db).unwrap().count_events().unwrap();
        let bodies = sendgrid_batches(phase, o.events, o.ingest_batch);
        let (ingest, background) = client_rt.block_on(async {
            let bg = alongside.then(|| {
                let classify = classify.clone();
                tokio::spawn(async move { run_load(addr, &classify, 16, dur).await })
            });
            let ingest = run_once(addr, bodies, 8).await;
            let background = match bg {
                Some(bg) => Some(bg.await.unwrap()),
                None => None,
            };
            (ingest, background)
        });
        let stored = rebound_ledger::open(&db).unwrap().count_events().unwrap() - before;
        ingest.print(&format!(
            "POST /v1/events/sendgrid ({} events per request{})",
            o.ingest_batch,
            if alongside {
                ", classify alongside"
            } else {
                ""
            }
        ));
        if let Some(bg) = &background {
            bg.print("  classify alongside ingest");
        }
        println!(
            "{}: sent {}, stored {} ({:.0} events/s; CPU {:.1} us/event, server, generator{}){}",
            if alongside {
                "ingest under load"
            } else {
                "ingest"
            },
            o.events,
            stored,
            o.events as f64 / ingest.elapsed.as_secs_f64(),
            ingest.cpu * 1e6 / o.events.max(1) as f64,
            if alongside {
                " and the classify traffic"
            } else {
                ""
            },
            if stored as usize == o.events {
                ""
            } else {
                "  MISMATCH"
            }
        );
        failed |= stored as usize != o.events || ingest.errors > 0;
    }
    println!("load average after: {}", loadavg());
    let _ = stop_tx.send(());
    let _ = server_rt.block_on(server);
    if failed {
        std::process::exit(1);
    }
}

/// `events` SendGrid webhook events (a third bounces, the rest deliveries)
/// as requests of `batch` events, ids prefixed with `tag` so that each
/// phase's events are new to the store.
fn sendgrid_batches(tag: &str, events: usize, batch: usize) -> Vec<Vec<u8>> {
    let t0 = rebound_ingest::time::now_ms() / 1000 - 86_400;
    (0..events.div_ceil(batch))
        .map(|b| {
            let n = batch.min(events - b * batch);
            let events: Vec<serde_json::Value> = (0..n)
                .map(|j| {
                    let i = b * batch + j;
                    serde_json::json!({"email": format!("r{i}@example{}.org", i % 50),
                        "timestamp": t0 + (i as i64 % 80_000), "event": if i.is_multiple_of(3) { "bounce" } else { "delivered" },
                        "sg_event_id": format!("{tag}-{i}"), "reason": "550 5.1.1 unknown user",
                        "response": "250 OK", "status": "5.1.1", "type": "bounce"})
                })
                .collect();
            post("/v1/events/sendgrid", &serde_json::Value::Array(events).to_string())
        })
        .collect()
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")
        .into_bytes()
}

struct Results {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    /// CPU seconds this process (server and generator) used in the phase.
    cpu: f64,
}

/// CPU seconds (user + system) this process has used so far, from
/// `/proc/self/stat` (Linux; 0 elsewhere). On a shared machine the rate
/// moves with the neighbours; CPU time per request moves much less.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

impl Results {
    /// Both runs as one: their requests, errors, time and CPU added.
    fn merged(mut self, other: Results) -> Results {
        self.requests += other.requests;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies_us.extend(other.latencies_us);
        self.cpu += other.cpu;
        self
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, what: &str) {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| {
            if l.is_empty() {
                0.0
            } else {
                l[((l.len() - 1) as f64 * p) as usize] as f64 / 1000.0
            }
        };
        println!(
            "{what}: {} requests in {:.2} s = {:.0} req/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}; non-200: {}; CPU {:.1} us/request (server and generator)",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0),
            self.errors,
            self.cpu * 1e6 / self.requests.max(1) as f64
        );
    }
}

/// `connections` keep-alive connections sending the requests round-robin
/// until `dur` has passed.
async fn run_load(
    addr: SocketAddr,
    reqs: &[Vec<u8>],
    connections: usize,
    dur: Duration,
) -> Results {
    let reqs = Arc::new(reqs.to_vec());
    let errors = Arc::new(AtomicU64::new(0));
    let cpu = cpu_seconds();
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let reqs = Arc::clone(&reqs);
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut conn = Conn::open(addr).await;
            let mut k = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                let status = conn.exchange(&reqs[k % reqs.len()]).await;
                lat.push(t.elapsed().as_micros() as u32);
                if status != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                k += 1;
            }
            lat
        }));
    }
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.unwrap());
    }
    Results {
        requests: latencies_us.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latencies_us,
        cpu: cpu_seconds() - cpu,
    }
}

/// Sends each request once, over `connections` connections.
async fn run_once(addr: SocketAddr, reqs: Vec<Vec<u8>>, connections: usize) -> Results {
    let queue = Arc::new(std::sync::Mutex::new(reqs));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let queue = Arc::clone(&queue);
        let errors = Arc::clone(&errors);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut conn = Conn::open(addr).await;
            loop {
                let Some(req) = queue.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                if conn.exchange(&req).await != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(t.elapsed().as_micros() as u32);
            }
            lat
        }));
    }
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.unwrap());
    }
    Results {
        requests: latencies_us.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        latencies_us,
        cpu: cpu_seconds() - cpu,
    }
}

/// One keep-alive connection: write a request, read one response
/// (headers, then Content-Length bytes).
struct Conn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(1 << 16),
        }
    }

    async fn exchange(&mut self, req: &[u8]) -> u16 {
        self.stream.write_all(req).await.unwrap();
        self.buf.clear();
        // Bytes the whole response takes, once its head has been read.
        let mut total: Option<(usize, u16)> = None;
        let mut searched: usize = 0;
        loop {
            // Straight into the buffer's spare room: the generator shares
            // the cores with the server, so it zeroes and copies nothing.
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16384);
            }
            let n = self.stream.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "server closed the connection");
            if total.is_none() {
                // Only the new bytes (and three before them) are searched:
                // a large body arrives in many reads.
                let from = searched.saturating_sub(3);
                searched = self.buf.len();
                let Some(at) = HEAD_END.find(&self.buf[from..]) else {
                    continue;
                };
                let end = from + at;
                let head = &self.buf[..end];
                let status = std::str::from_utf8(&head[9..12])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                total = Some((end + 4 + content_length(head), status));
            }
            if let Some((len, status)) = total
                && self.buf.len() >= len
            {
                return status;
            }
        }
    }
}

/// The end of a response head, searched with one prepared finder.
static HEAD_END: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));

/// The Content-Length of a response head (the generator shares the cores
/// with the server: it reads the head bytewise rather than as text).
fn content_length(head: &[u8]) -> usize {
    head.split(|&b| b == b'\n')
        .find_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let (name, value) = line.split_at(colon);
            if !name.eq_ignore_ascii_case(b"content-length") {
                return None;
            }
            std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok()
        })
        .unwrap_or(0)
}
