//! `rebound serve` as a process: two servers on one PostgreSQL share one
//! suppression list and one incident list; SIGTERM lets a request in flight
//! finish. PostgreSQL tests print "SKIPPED" without
//! `REBOUND_TEST_POSTGRES_URL` and fail instead when `CI=true`.

mod common;

use common::{ADMIN, INGEST, READ, Serve, http, now_s};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

fn pg_url(tag: &str) -> Option<(String, String, String)> {
    match std::env::var("REBOUND_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("rebound_serve_{tag}_{}", std::process::id());
            let sep = if base.contains('?') { '&' } else { '?' };
            Some((format!("{base}{sep}schema={schema}"), base, schema))
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("REBOUND_TEST_POSTGRES_URL is not set: in CI the PostgreSQL tests must run");
            }
            eprintln!("SKIPPED: PostgreSQL not available (set REBOUND_TEST_POSTGRES_URL)");
            None
        }
    }
}

struct DropSchema(String, String);
impl Drop for DropSchema {
    fn drop(&mut self) {
        let _ = rebound_ledger::PgStore::drop_schema(&self.0, &self.1);
    }
}

/// SendGrid events: one in four delivered, the rest refused by one
/// provider with one blocklist reply (an incident), all to distinct
/// recipients, ids unique per `tag`.
fn batch(tag: &str, n: usize, t0: i64) -> String {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let (event, reply) = if i % 4 == 0 {
                ("delivered", "250 2.0.0 OK")
            } else {
                ("bounce", "550 5.7.1 Service unavailable, Client host [192.0.2.44] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.44")
            };
            json!({"email": format!("{tag}-{i}@outlook.com"), "timestamp": t0 + i as i64 * 3,
                   "event": event, "sg_event_id": format!("{tag}-{i}"), "reason": reply,
                   "response": reply, "ip": "192.0.2.44", "type": "blocked"})
        })
        .collect();
    Value::Array(events).to_string()
}

#[test]
fn two_servers_on_one_postgres_share_suppressions_and_incidents() {
    let Some((url, base, schema)) = pg_url("two") else {
        return;
    };
    let _cleanup = DropSchema(base, schema);
    let a = Serve::start(&url);
    let b = Serve::start(&url);
    let t0 = now_s() - 3600;
    // Ingest concurrently through both servers.
    let n_per = 8;
    std::thread::scope(|sc| {
        for (k, server) in [&a, &b].into_iter().enumerate() {
            for j in 0..n_per {
                sc.spawn(move || {
                    let tag = format!("s{k}b{j}");
                    let r = server.req(
                        "POST",
                        "/v1/events/sendgrid",
                        INGEST,
                        batch(&tag, 40, t0).as_bytes(),
                    );
                    assert_eq!(r.status, 200, "{}", r.text());
                    assert_eq!(r.json()["stored"], 40);
                });
            }
        }
    });
    let total = 2 * n_per * 40;
    for s in [&a, &b] {
        let ev = s.req("GET", "/v1/events?limit=10000", READ, b"").json();
        assert_eq!(ev["events"].as_array().unwrap().len(), total);
    }
    // A suppression added through one is seen by the other, and removed
    // through the other.
    assert_eq!(
        a.req("PUT", "/v1/suppressions/shared@example.com", ADMIN, b"")
            .status,
        201
    );
    assert_eq!(
        b.req("GET", "/v1/suppressions/shared@example.com", READ, b"")
            .json()["suppressed"],
        true
    );
    assert_eq!(
        b.req("DELETE", "/v1/suppressions/shared@example.com", ADMIN, b"")
            .status,
        200
    );
    assert_eq!(
        a.req("GET", "/v1/suppressions/shared@example.com", READ, b"")
            .json()["suppressed"],
        false
    );
    let list_a = a
        .req("GET", "/v1/suppressions?limit=10000", READ, b"")
        .json();
    let list_b = b
        .req("GET", "/v1/suppressions?limit=10000", READ, b"")
        .json();
    assert_eq!(list_a, list_b);
    // One incident list. The cache lives a few seconds; wait it out so both
    // read the store after the last ingest.
    std::thread::sleep(Duration::from_secs(6));
    let ia = a.req("GET", "/v1/incidents", READ, b"").json();
    let ib = b.req("GET", "/v1/incidents", READ, b"").json();
    assert!(!ia["open"].as_array().unwrap().is_empty(), "{ia}");
    assert_eq!(ia["open"], ib["open"]);
    assert_eq!(ia["closed"], ib["closed"]);
    // Both stop cleanly on SIGTERM (their PostgreSQL connections closed).
    let (mut a, mut b) = (a, b);
    for s in [&mut a, &mut b] {
        s.terminate();
        let status = s.wait(Duration::from_secs(20));
        assert!(status.success(), "{status:?}: {}", s.log.lock().unwrap());
    }
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").display().to_string();
    let mut s = Serve::start(&db);
    // A request whose body is still arriving when the signal comes.
    let body = json!({"replies": vec!["550 5.1.1 <a@b.example>: User unknown"; 500]}).to_string();
    let mut conn = std::net::TcpStream::connect(s.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "POST /v1/classify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READ}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    conn.write_all(first).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    s.terminate();
    std::thread::sleep(Duration::from_millis(500));
    // Still running: it waits for us.
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    conn.write_all(rest).unwrap();
    let r = http::read_response(&mut conn);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["verdicts"].as_array().unwrap().len(), 500);
    let status = s.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}: {}", s.log.lock().unwrap());
    assert!(s.log.lock().unwrap().contains("shutting down"));
}
