//! Headless Chromium driven over the DevTools protocol (a WebSocket,
//! `tungstenite`), for the dashboard and the HTML report tests.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

pub fn chromium() -> Option<PathBuf> {
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
        panic!("chromium not installed, and CI=true: the pages must be tested in a browser");
    }
    eprintln!("SKIPPED: chromium not installed");
    None
}

/// The browser process, killed with its whole process group (renderers,
/// GPU and zygote processes included) when dropped — also when the test
/// fails half-way through starting it.
pub struct Process(Child);

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
pub struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    // Dropped after the socket, before the profile directory.
    _process: Process,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch(bin: &PathBuf) -> Browser {
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
                let list = super::http::request(addr, "GET", "/json/list", &[], b"").json();
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
    pub fn call(&mut self, method: &str, params: Value) -> Value {
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

    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    pub fn wait_for(&mut self, expr: &str, what: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if self.eval(expr) == Value::Bool(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let state = self.eval(
            "document.body.dataset.state + ' / ' + (document.getElementById('status') || document.getElementById('render-status') || {}).textContent",
        );
        panic!("timed out waiting for {what} (page state: {state})");
    }

    /// A real mouse click in the middle of the element.
    pub fn click(&mut self, selector: &str) {
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
    pub fn type_into(&mut self, selector: &str, text: &str) {
        self.click(selector);
        // The click focuses the field, unless the page moved under it (a
        // chart still laying out on a loaded machine): focus it for sure,
        // since the typed text goes wherever the focus is.
        self.eval(&format!(
            "document.querySelector({}).focus()",
            serde_json::to_string(selector).unwrap()
        ));
        self.call("Input.insertText", json!({"text": text}));
    }
}

/// Base64 for the optional screenshot (no extra dependency for a debug aid).
pub mod base64_png {
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
