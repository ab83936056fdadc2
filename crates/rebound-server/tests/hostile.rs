//! The server under an attacker holding an ordinary token: short, bounded
//! loops on loopback.

mod common;

use common::{ADMIN, READ, Server, http, mailgun_body};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Opens a connection from `from` (any 127.x address), so a test can play
/// several clients.
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("bind a loopback address");
        socket.connect(to).await.expect("connect")
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Sends a request's head announcing `len` body bytes, and one of them.
fn start_slow_body(from: [u8; 4], to: SocketAddr, token: &str, len: usize) -> TcpStream {
    let mut s = connect_from(from, to);
    let head = format!(
        "POST /v1/classify HTTP/1.1\r\nHost: {to}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).unwrap();
    s
}

fn request_from(
    from: [u8; 4],
    to: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> http::Resp {
    let mut s = connect_from(from, to);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    http::read_response(&mut s)
}

#[test]
fn slow_bodies_hold_no_request_slots() {
    let s = Server::start_with(|c| {
        c.limits.concurrency = 16;
        c.limits.reserved_slots = 4;
        c.limits.per_token = 8;
        c.limits.per_address = 12;
        c.limits.receiving_per_address = 10;
        c.limits.body_seconds = 2;
        c.limits.queue_seconds = 1;
    });
    let attacker = [127, 0, 0, 1];
    // Three times the server's slots, trickling bodies with a read token.
    let slow: Vec<TcpStream> = (0..48)
        .map(|_| start_slow_body(attacker, s.addr, READ, 100))
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // Health answers, even from the attacker's own address.
    let r = request_from(attacker, s.addr, "GET", "/healthz", READ, "");
    assert_eq!(r.status, 200, "{}", r.text());
    // Another client classifies as usual.
    let r = request_from(
        [127, 0, 0, 2],
        s.addr,
        "POST",
        "/v1/classify",
        ADMIN,
        r#"{"text": "550 5.1.1 user unknown"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["reason"], "userunknown");

    // The attacker's bodies beyond its receive share were refused at once
    // (429), the others time out on their own deadline (408).
    let mut statuses = std::collections::BTreeMap::new();
    for mut c in slow {
        let r = http::read_response(&mut c);
        *statuses.entry(r.status).or_insert(0) += 1;
        if r.status != 429 {
            assert_eq!(r.status, 408, "{}", r.text());
            assert_eq!(r.json()["error"], "timeout");
        }
    }
    assert_eq!(statuses.get(&408), Some(&10), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&38), "{statuses:?}");
}

#[test]
fn a_mailgun_token_is_accepted_once_across_servers_and_restarts() {
    let signed = |c: &mut rebound_server::config::Config| {
        c.webhooks.mailgun = Some(rebound_server::config::MailgunConfig {
            signing_key: "mg-signing-key".into(),
            max_age_seconds: 300,
        });
    };
    let a = Server::start_with(signed);
    let db = a.db.clone();
    let b = Server::start_with(|c| {
        signed(c);
        c.db = db.clone();
    });
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // 40 concurrent copies of one signed token, half to each server, each
    // carrying different event data.
    let addrs = [a.addr, b.addr];
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let addr = addrs[i % 2];
                let body = mailgun_body(
                    "mg-signing-key",
                    "one-token",
                    t,
                    &format!("r{i}@example.com"),
                );
                scope.spawn(move || {
                    http::request(
                        addr,
                        "POST",
                        "/v1/events/mailgun",
                        &[("Authorization", &http::bearer(common::INGEST))],
                        body.as_bytes(),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 401),
        "{statuses:?}"
    );
    // A server started later on the same store refuses it too.
    drop(b);
    let c = Server::start_with(|c| {
        signed(c);
        c.db = db.clone();
    });
    let again = mailgun_body("mg-signing-key", "one-token", t, "late@example.com");
    let r = http::request(
        c.addr,
        "POST",
        "/v1/events/mailgun",
        &[("Authorization", &http::bearer(common::INGEST))],
        again.as_bytes(),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("replay"));
    // A new token goes through.
    let fresh = mailgun_body("mg-signing-key", "two-token", t, "fresh@example.com");
    let r = http::request(
        c.addr,
        "POST",
        "/v1/events/mailgun",
        &[("Authorization", &http::bearer(common::INGEST))],
        fresh.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn impossible_and_far_event_times_are_rejected_records() {
    let s = Server::start();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let bounce = |email: &str, t: i64| {
        serde_json::json!({"email": email, "timestamp": t, "event": "bounce", "sg_event_id": email,
            "reason": "550 5.1.1 unknown recipient", "status": "5.1.1", "type": "bounce"})
    };
    let body = serde_json::json!([
        bounce("now@example.com", now),
        // Year 275760, JavaScript's last date.
        bounce("far@example.com", 8_640_000_000_000),
        bounce("old@example.com", now - 2 * 365 * 86_400),
        bounce("ahead@example.com", now + 7 * 86_400),
    ])
    .to_string();
    let r = s.req(
        "POST",
        "/v1/events/sendgrid",
        Some(common::INGEST),
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["stored"], 1, "{v}");
    let errors: Vec<&str> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{v}");
    assert!(
        errors.iter().all(|e| e.contains("event time")),
        "{errors:?}"
    );
    // A syslog year that overflows is refused before anything is read.
    let line = "Dec  1 10:00:00 mx postfix/smtp[1]: ABC123: to=<a@example.com>, relay=none, delay=1, delays=0/0/1/0, dsn=5.1.1, status=bounced (user unknown)\n";
    let r = s.req(
        "POST",
        "/v1/events/postfix?year=9223372036854775807",
        Some(common::INGEST),
        line.as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    // Whatever got stored, the report still serves.
    let r = s.req("GET", "/v1/report?format=html", Some(READ), b"");
    assert_eq!(r.status, 200);
}

#[test]
fn an_international_address_is_one_address_however_written() {
    let s = Server::start();
    // ÄNNE@BÜCHER.DE, percent-encoded in the path.
    let r = s.req(
        "PUT",
        "/v1/suppressions/%C3%84NNE@B%C3%9CCHER.DE",
        Some(ADMIN),
        b"",
    );
    assert!(r.status == 201 || r.status == 200, "{}", r.text());
    for written in [
        "%C3%A4nne@b%C3%BCcher.de",
        "%C3%A4nne@xn--bcher-kva.de",
        "%C3%84nne@B%C3%BCcher.de.",
    ] {
        let r = s.req(
            "GET",
            &format!("/v1/suppressions/{written}"),
            Some(READ),
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["suppressed"], true, "{written}: {}", r.text());
        assert_eq!(r.json()["address"], "änne@bücher.de");
    }
}

#[test]
fn json_endpoints_want_json() {
    let s = Server::start();
    // A form posted to a JSON endpoint.
    let r = http::request(
        s.addr,
        "POST",
        "/v1/classify",
        &[
            ("Authorization", &http::bearer(READ)),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"text=550+user+unknown",
    );
    assert_eq!(r.status, 415, "{}", r.text());
    assert_eq!(r.json()["error"], "unsupported_media_type");
    let r = http::request(
        s.addr,
        "POST",
        "/v1/classify",
        &[
            ("Authorization", &http::bearer(READ)),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        br#"{"text": "550 5.1.1 user unknown"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn long_targets_and_header_blocks_get_json_errors() {
    let s = Server::start();
    let long = format!("/v1/suppressions/{}@example.com", "a".repeat(9000));
    let r = s.req("GET", &long, Some(READ), b"");
    assert_eq!(r.status, 414, "{}", r.text());
    assert_eq!(r.json()["error"], "uri_too_long");
    let many: Vec<(String, String)> = (0..150)
        .map(|i| (format!("X-Filler-{i}"), "x".into()))
        .collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = http::request(s.addr, "GET", "/healthz", &headers, b"");
    assert_eq!(r.status, 431, "{}", r.text());
    assert_eq!(r.json()["error"], "headers_too_large");
    let big = "y".repeat(40 * 1024);
    let r = http::request(s.addr, "GET", "/healthz", &[("X-Big", &big)], b"");
    assert_eq!(r.status, 431, "{}", r.text());
    assert_eq!(r.json()["error"], "headers_too_large");
}

/// Requests hyper cannot parse are answered before any handler runs; they
/// must still get the JSON error shape, and the connection must close.
#[test]
fn unparseable_requests_get_json_errors() {
    let s = Server::start();
    let big = "z".repeat(600 * 1024);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), 400, "bad_request"),
        (
            b"GET / HTTP/1.1\r\nno colon here\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        // Beyond hyper's own read buffer: hyper answers 431 itself.
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
    ];
    for (raw, status, error) in cases {
        let mut c = connect_from([127, 0, 0, 1], s.addr);
        // hyper may answer (and close) before it has read all of a huge head.
        let _ = c.write_all(&raw);
        let r = http::read_response(&mut c);
        let shown = String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned();
        assert_eq!(r.status, status, "{shown:?}: {}", r.text());
        assert_eq!(r.json()["error"], error, "{shown:?}: {}", r.text());
        assert!(r.json()["detail"].is_string(), "{shown:?}: {}", r.text());
    }
    // A good request on a fresh connection still works.
    let r = s.req("GET", "/healthz", None, b"");
    assert_eq!(r.status, 200, "{}", r.text());
}
