//! Servers that misbehave, on real loopback sockets: each answer below is
//! what a broken or hostile server sends before any TLS, and each must end
//! the fetch with a clear error — no panic, no hang, no password sent.

use rebound_fetch::{FetchError, MailboxConfig, Sink, Stored};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A sink these tests must never reach: no message is ever read.
struct Unreachable;

impl Sink for Unreachable {
    fn store(&mut self, _: Vec<u8>, origin: &str) -> Result<Stored, String> {
        panic!("a message was stored from a broken server: {origin}");
    }
}

/// A one-connection server: sends `greeting`, then answers each line the
/// client sends with the next of `answers` (then closes). Returns its port
/// and what the client sent.
fn server(
    greeting: Vec<u8>,
    answers: Vec<&'static str>,
) -> (u16, Arc<Mutex<String>>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let heard = Arc::new(Mutex::new(String::new()));
    let log = heard.clone();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        // The client may give up before reading all of it.
        let _ = conn.write_all(&greeting);
        for answer in answers {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while conn.read(&mut byte).unwrap_or(0) == 1 {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            log.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&line));
            // IMAP answers carry the client's tag.
            let tag = String::from_utf8_lossy(&line)
                .split(' ')
                .next()
                .unwrap_or("")
                .to_string();
            let _ = conn.write_all(answer.replace("TAG", &tag).as_bytes());
        }
    });
    (port, heard, handle)
}

fn fetch(url: String) -> FetchError {
    let password = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(password.path(), "never-sent-0123\n").unwrap();
    let mut config = MailboxConfig::new(url);
    config.password_file = Some(password.path().to_path_buf());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(rebound_fetch::run_once(&config, Unreachable, |_| {}))
        .expect_err("a broken server gave a successful fetch")
}

#[test]
fn an_http_server_is_no_imap_server() {
    let (port, _, h) = server(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), vec![]);
    let e = fetch(format!("imap://u@127.0.0.1:{port}/INBOX"));
    h.join().unwrap();
    assert!(
        matches!(e, FetchError::Protocol(_) | FetchError::Connection(_)),
        "{e:?}"
    );
    assert!(e.to_string().contains("127.0.0.1"), "names the server: {e}");
}

#[test]
fn an_imap_server_is_no_pop3_server() {
    let (port, _, h) = server(b"* OK IMAP4rev1 ready\r\n".to_vec(), vec![]);
    let e = fetch(format!("pop3://u@127.0.0.1:{port}"));
    h.join().unwrap();
    assert!(e.to_string().contains("not a POP3 answer"), "{e}");
}

#[test]
fn an_endless_pop3_line_is_cut_at_the_cap() {
    let (port, _, h) = server(vec![b'+'; 1 << 20], vec![]);
    let e = fetch(format!("pop3://u@127.0.0.1:{port}"));
    h.join().unwrap();
    assert!(e.to_string().contains("longer than"), "{e}");
}

#[test]
fn a_server_without_starttls_never_gets_the_password() {
    let (port, heard, h) = server(
        b"* OK ready\r\n".to_vec(),
        vec!["TAG NO STARTTLS is not offered\r\n", "TAG OK logged in\r\n"],
    );
    let e = fetch(format!("imap://u@127.0.0.1:{port}/INBOX"));
    h.join().unwrap();
    assert!(e.to_string().contains("STARTTLS"), "{e}");
    let heard = heard.lock().unwrap().clone();
    assert!(
        !heard.contains("never-sent"),
        "the password went out: {heard:?}"
    );

    let (port, heard, h) = server(
        b"+OK ready\r\n".to_vec(),
        vec!["-ERR no STLS here\r\n", "+OK\r\n", "+OK\r\n"],
    );
    let e = fetch(format!("pop3://u@127.0.0.1:{port}"));
    h.join().unwrap();
    assert!(e.to_string().contains("STLS"), "{e}");
    let heard = heard.lock().unwrap().clone();
    assert!(
        !heard.contains("never-sent"),
        "the password went out: {heard:?}"
    );
    assert!(!heard.contains("USER"), "the user name went out: {heard:?}");
}

#[test]
fn a_server_that_hangs_up_is_a_connection_error() {
    let (port, _, h) = server(Vec::new(), vec![]);
    let e = fetch(format!("pop3://u@127.0.0.1:{port}"));
    h.join().unwrap();
    assert!(matches!(e, FetchError::Connection(_)), "{e:?}");
    assert!(e.to_string().contains("closed the connection"), "{e}");
}
