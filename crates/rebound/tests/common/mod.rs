//! `rebound serve` as a child process for the end-to-end tests.

#![allow(dead_code)]

pub mod browser;
#[path = "../../../rebound-server/tests/common/http.rs"]
pub mod http;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rebound");
pub const READ: &str = "reader-secret-0123456789";
pub const INGEST: &str = "ingest-secret-0123456789";
pub const ADMIN: &str = "admin-secret-0123456789";

pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
    /// The thread copying stderr into `log`; it ends when the server does.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    pub fn start(db: &str) -> Serve {
        Self::start_with_args(db, &[])
    }

    /// [`Serve::start`] with more `rebound serve` arguments.
    pub fn start_with_args(db: &str, extra: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--db",
                db,
                "--store-connections",
                "2",
            ])
            .args(extra)
            .env(
                "REBOUND_TOKENS",
                format!("reader:read:{READ},ingester:ingest:{INGEST},boss:admin:{ADMIN}"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rebound serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("rebound serve exited: {}", log.lock().unwrap()))
                .unwrap();
            log.lock().unwrap().push_str(&line);
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&l);
                s.push('\n');
            }
        });
        Serve {
            child,
            addr,
            log,
            reader: Some(reader),
        }
    }

    pub fn req(&self, method: &str, path: &str, token: &str, body: &[u8]) -> http::Resp {
        let auth = http::bearer(token);
        http::request(self.addr, method, path, &[("Authorization", &auth)], body)
    }

    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // The server's last lines may still be in the pipe: read
                // them all before anyone looks at the log.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return st;
            }
            assert!(
                start.elapsed() < limit,
                "server did not stop: {}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
