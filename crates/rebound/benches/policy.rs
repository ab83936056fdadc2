//! `rebound policy` lookups per second, as Postfix would load it: several
//! connections (one per smtpd process), each sending one policy request and
//! waiting for its answer, against a SQLite ledger holding many
//! suppressions. One recipient in ten is suppressed.
//!
//! cargo bench -p rebound --bench policy -- [--suppressions 100000]
//!     [--connections 8] [--seconds 5]
//!
//! Prints lookups/s and latency percentiles (microseconds, client side).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let suppressions = arg("--suppressions", 100_000);
    let connections = arg("--connections", 8).max(1);
    let seconds = arg("--seconds", 5).max(1);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let db = db.to_str().unwrap();
    let list = dir.path().join("list.txt");
    let text: String = (0..suppressions)
        .map(|i| format!("dead{i}@example{}.net\n", i % 97))
        .collect();
    std::fs::write(&list, text).unwrap();
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["suppressions", "--db", db, "import", list.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    eprintln!(
        "imported {suppressions} suppressions in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut child = Command::new(BIN)
        .args(["policy", "--db", db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().expect("rebound policy exited").unwrap();
        if line.contains("policy delegation on") {
            break line.rsplit(' ').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut latencies = Vec::new();
                let mut rejected = 0u64;
                let mut buf = [0u8; 512];
                let mut i = c * 7919;
                while Instant::now() < deadline {
                    i += 1;
                    let n = i % (suppressions.max(1) * 10);
                    // n < suppressions for one lookup in ten when the list
                    // is a tenth of the range.
                    let recipient = if n.is_multiple_of(10) {
                        format!("dead{}@example{}.net", n / 10, (n / 10) % 97)
                    } else {
                        format!("alive{n}@example{}.net", n % 97)
                    };
                    let request = format!(
                        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n\
                         client_address=192.0.2.{c}\nsender=news@sender.example\n\
                         recipient={recipient}\ninstance={i:x}\n\n"
                    );
                    let t = Instant::now();
                    s.write_all(request.as_bytes()).unwrap();
                    let mut got = Vec::new();
                    while !got.ends_with(b"\n\n") {
                        let k = s.read(&mut buf).unwrap();
                        assert!(k > 0, "connection closed");
                        got.extend_from_slice(&buf[..k]);
                    }
                    latencies.push(t.elapsed().as_micros() as u64);
                    if got.starts_with(b"action=REJECT") {
                        rejected += 1;
                    }
                }
                (latencies, rejected)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut rejected = 0;
    for w in workers {
        let (l, r) = w.join().unwrap();
        all.extend(l);
        rejected += r;
    }
    let _ = child.kill();
    let _ = child.wait();
    all.sort_unstable();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize];
    println!(
        "policy: {:.0} lookups/s over {connections} connections for {seconds} s, {suppressions} suppressions \
         ({} lookups, {rejected} rejected); latency p50 {} µs, p99 {} µs, max {} µs",
        all.len() as f64 / seconds as f64,
        all.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}
