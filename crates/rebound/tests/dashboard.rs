//! The dashboard end to end: a real `rebound serve` on loopback, headless
//! Chromium driven over the DevTools protocol (a WebSocket, `tungstenite`):
//! type the token, see incidents, chart and events render, search a
//! suppressed address and remove it with a click, then check through the
//! API that it is gone.
//!
//! Prints "SKIPPED: chromium not installed" without a browser, and fails
//! instead when `CI=true`.

mod common;

use common::{ADMIN, INGEST, READ, Serve, now_s};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

fn chromium() -> Option<PathBuf> {
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let from_env = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let found = from_env.into_iter().chain(names.iter().flat_map(|n| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(move |d| d.join(n))
            .collect::<Vec<_>>()
    }));
    for p in found {
        if p.is_file() {
            return Some(p);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("chromium not installed, and CI=true: the dashboard must be tested");
    }
    eprintln!("SKIPPED: chromium not installed");
    None
}

/// The browser process, killed with its whole process group (renderers,
/// GPU and zygote processes included) when dropped — also when the test
/// fails half-way through starting it.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless browser and a DevTools session on its first page.
struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    // Dropped after the socket, before the profile directory.
    _process: Process,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(bin: &PathBuf) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--window-size=1280,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let process = Process(child);
        let mut lines = BufReader::new(stderr).lines();
        let browser_ws = loop {
            let line = lines
                .next()
                .expect("chromium exited before DevTools")
                .unwrap();
            if let Some(url) = line.split("DevTools listening on ").nth(1) {
                break url.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        // The page target's socket, from the DevTools HTTP endpoint.
        let port = browser_ws
            .split(':')
            .nth(2)
            .and_then(|p| p.split('/').next())
            .unwrap()
            .to_string();
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let page_ws = (0..50)
            .find_map(|_| {
                let list = common::http::request(addr, "GET", "/json/list", &[], b"").json();
                let found = list.as_array().and_then(|a| {
                    a.iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_string))
                });
                if found.is_none() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                found
            })
            .expect("a page target");
        let (ws, _) = tungstenite::connect(page_ws.as_str()).expect("DevTools socket");
        Browser {
            ws,
            next_id: 0,
            _process: process,
            _profile: profile,
        }
    }

    /// Sends a DevTools command and waits for its answer (events in
    /// between are dropped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(msg)).unwrap();
        loop {
            let m = self.ws.read().expect("DevTools answer");
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"].as_u64() == Some(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    fn wait_for(&mut self, expr: &str, what: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.eval(expr) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let state = self.eval(
            "document.body.dataset.state + ' / ' + document.getElementById('status').textContent",
        );
        panic!("timed out waiting for {what} (page state: {state})");
    }

    /// A real mouse click in the middle of the element.
    fn click(&mut self, selector: &str) {
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.scrollIntoView(); const b = e.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; }})()",
            sel = Value::String(selector.into())
        ));
        let (x, y) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Clicks into a field and types into it.
    fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector);
        self.call("Input.insertText", json!({"text": text}));
    }
}

#[test]
fn dashboard_shows_incidents_chart_events_and_removes_a_suppression() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").display().to_string();
    let server = Serve::start(&db);

    // Seed: a blocklisting at one provider (an incident), some deliveries
    // elsewhere, and a manual suppression to find and remove.
    let t0 = now_s() - 3 * 3600;
    let mut events = Vec::new();
    for i in 0..240i64 {
        let (email, event, reply) = match i % 4 {
            0 => (format!("fine{i}@gmail.com"), "delivered", "250 2.0.0 OK"),
            1 => (format!("user{i}@outlook.com"), "delivered", "250 2.0.0 OK"),
            _ => (
                format!("user{i}@outlook.com"),
                "bounce",
                "550 5.7.1 Service unavailable, Client host [192.0.2.44] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.44",
            ),
        };
        events.push(
            json!({"email": email, "timestamp": t0 + i * 40, "event": event,
            "sg_event_id": format!("dash-{i}"), "reason": reply, "response": reply,
            "ip": "192.0.2.44", "type": "blocked"}),
        );
    }
    let r = server.req(
        "POST",
        "/v1/events/sendgrid",
        INGEST,
        Value::Array(events).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = server.req(
        "PUT",
        "/v1/suppressions/remove-me@example.com",
        ADMIN,
        br#"{"detail": "seeded by the test"}"#,
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        server.req("GET", "/v1/incidents", READ, b"").json()["open"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let mut b = Browser::launch(&bin);
    b.call("Page.enable", json!({}));
    b.call(
        "Page.navigate",
        json!({"url": format!("http://{}/", server.addr)}),
    );
    b.wait_for(
        "document.readyState === 'complete' && document.body.dataset.state === 'need-token'",
        "the token prompt",
    );
    // The shell alone shows no data.
    assert_eq!(
        b.eval("document.querySelectorAll('#events tbody tr').length"),
        json!(0)
    );

    b.type_into("#token", ADMIN);
    b.click("#token-save");
    b.wait_for(
        "document.body.dataset.rendered === 'ok'",
        "the dashboard to render",
    );
    assert_eq!(
        b.eval("sessionStorage.getItem('rebound-token')"),
        json!(ADMIN)
    );

    let incidents = b.eval("document.querySelector('#incidents tbody').innerText");
    assert!(
        incidents.as_str().unwrap().contains("microsoft"),
        "incidents: {incidents}"
    );
    let lines = b.eval("[...document.querySelectorAll('#chart path[data-provider]')].map(p => p.dataset.provider).sort()");
    // Providers as the classifier names them (gmail.com is Google's).
    assert_eq!(lines, json!(["google", "microsoft"]), "chart lines");
    let rows = b.eval("document.querySelectorAll('#events tbody tr').length");
    assert!(rows.as_u64().unwrap() >= 40, "events rows: {rows}");
    let text = b.eval("document.querySelector('#events tbody').innerText");
    assert!(text.as_str().unwrap().contains("outlook.com"), "{text}");

    if let Ok(path) = std::env::var("REBOUND_DASHBOARD_SCREENSHOT") {
        use base64_png::decode;
        let shot = b.call("Page.captureScreenshot", json!({"format": "png"}));
        std::fs::write(path, decode(shot["data"].as_str().unwrap())).unwrap();
    }

    b.type_into("#search", "Remove-Me@example.com");
    b.click("#search-btn");
    b.wait_for(
        "document.getElementById('search-result').dataset.result === 'suppressed'",
        "the search result",
    );
    let found = b.eval("document.getElementById('search-result').innerText");
    assert!(
        found.as_str().unwrap().contains("seeded by the test"),
        "{found}"
    );
    b.click("#remove-btn");
    b.wait_for(
        "document.getElementById('search-result').dataset.result === 'removed'",
        "the removal",
    );

    let r = server.req("GET", "/v1/suppressions/remove-me@example.com", READ, b"");
    assert_eq!(r.json()["suppressed"], false, "{}", r.text());
}

/// Base64 for the optional screenshot (no extra dependency for a debug aid).
mod base64_png {
    pub fn decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let bytes: Vec<u8> = s
            .bytes()
            .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
            .collect();
        let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
        for chunk in bytes.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &c)| n | (val(c) as u32) << (18 - 6 * i));
            for i in 0..chunk.len().saturating_sub(1) {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }
}
