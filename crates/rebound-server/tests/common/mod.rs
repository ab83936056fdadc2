//! A real server on loopback for each test: its own SQLite file, its own
//! runtime on a thread, stopped (gracefully) when the handle is dropped.

#![allow(dead_code)]

pub mod http;

use rebound_server::{AppState, Config};
use std::net::SocketAddr;

pub const READ: &str = "reader-secret-0123456789";
pub const INGEST: &str = "ingest-secret-0123456789";
pub const ADMIN: &str = "admin-secret-0123456789";

pub struct Server {
    pub addr: SocketAddr,
    pub db: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(|_| {})
    }

    pub fn start_with(edit: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rebound.db").display().to_string();
        let mut config = Config {
            db: db.clone(),
            store_connections: 2,
            ..Config::default()
        };
        config.incidents.cache_seconds = 0;
        edit(&mut config);
        let env = format!("reader:read:{READ},ingester:ingest:{INGEST},boss:admin:{ADMIN}");
        let state = AppState::new(config, Some(&env)).expect("server state");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                rebound_server::serve(state, listener, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Server {
            addr,
            db,
            stop: Some(tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    pub fn req(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> http::Resp {
        self.req_h(method, path, token, &[], body)
    }

    pub fn req_h(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> http::Resp {
        let auth = token.map(http::bearer);
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        http::request(self.addr, method, path, &headers, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Mailgun webhook body signed with `key` for `token` at `t`, whose event
/// data (not covered by the signature) names `recipient`.
pub fn mailgun_body(key: &str, token: &str, t: i64, recipient: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{t}{token}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    serde_json::json!({
        "signature": {"timestamp": t.to_string(), "token": token, "signature": hex},
        "event-data": {"id": format!("mg-{token}-{recipient}"), "timestamp": t, "event": "failed",
            "severity": "permanent", "recipient": recipient,
            "delivery-status": {"code": 550, "message": "No such mailbox"}}
    })
    .to_string()
}
