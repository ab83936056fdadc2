//! `rebound demo` end to end: the generated inputs go through the real
//! parsers into a real SQLite file, the report finds the incidents the demo
//! stages, the same seed gives the same database, and `--serve` answers on
//! loopback with its one-time token.

mod common;

use common::{BIN, http};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// A small day (about 14,000 events), fast in a debug build.
const SMALL: [&str; 6] = ["--days", "1", "--scale", "1", "--end", "2026-11-30"];

fn rebound(dir: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("REBOUND_DATABASE_URL")
        .output()
        .expect("run rebound");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "rebound {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

fn demo(dir: &Path, seed: &str) -> (String, String) {
    let mut args = vec!["demo", "--seed", seed];
    args.extend(SMALL);
    rebound(dir, &args)
}

/// What the database holds, without the wall-clock times of ingestion
/// (when a suppression was created is when the demo ran).
fn content(dir: &Path) -> (Vec<Value>, Vec<Value>, String) {
    let db = ["--db", "rebound-demo.db"];
    let (events, _) = rebound(dir, &["events", db[0], db[1], "--limit", "10000000"]);
    let (list, _) = rebound(dir, &["suppressions", db[0], db[1], "list"]);
    let (issues, _) = rebound(dir, &["events", db[0], db[1], "--sender-issues"]);
    let parse = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    let mut suppressions = parse(&list);
    for s in &mut suppressions {
        for key in ["created", "created_ms", "updated", "updated_ms"] {
            s.as_object_mut().unwrap().remove(key);
        }
    }
    (parse(&events), suppressions, issues)
}

#[test]
fn a_day_of_sending_goes_through_the_parsers_and_the_report_finds_the_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = demo(dir.path(), "7");

    // Every record written was read back: nothing unreadable, nothing lost.
    let line = stderr
        .lines()
        .find(|l| l.contains("ingested"))
        .unwrap_or_else(|| panic!("no ingest summary:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(line.contains("(0 unreadable)"), "{line}");
    assert_eq!(numbers[0], numbers[1], "events vs records: {line}");
    assert!(numbers[0] > 5_000, "{line}");

    // The three inputs exist and each gave events of its kind.
    for f in ["postfix-2026.log", "sendgrid-events.jsonl", "bounces.mbox"] {
        assert!(dir.path().join("rebound-demo").join(f).is_file(), "{f}");
    }
    let (events, suppressions, issues) = content(dir.path());
    assert_eq!(events.len() as u64, numbers[0]);
    let kinds: BTreeSet<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["format"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (format, outcome) in [
        ("postfix", "delivered"),
        ("postfix", "bounced"),
        ("postfix", "deferred"),
        ("sendgrid", "delivered"),
        ("sendgrid", "bounced"),
        ("sendgrid", "deferred"),
        ("mbox", "bounced"),
        ("mbox", "autoreply"),
    ] {
        assert!(
            kinds.contains(&(format.to_string(), outcome.to_string())),
            "no {outcome} event from {format}: {kinds:?}"
        );
    }
    let domains: BTreeSet<&str> = events
        .iter()
        .map(|e| e["recipient_domain"].as_str().unwrap())
        .collect();
    for d in [
        "gmail.com",
        "outlook.com",
        "yahoo.com",
        "icloud.com",
        "gmx.de",
        "orange.fr",
    ] {
        assert!(domains.contains(d), "no mail to {d}: {domains:?}");
    }
    let ips: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["sending_ip"].as_str())
        .collect();
    assert_eq!(
        ips,
        BTreeSet::from(["198.51.100.10", "198.51.100.11", "203.0.113.20"]),
        "SendGrid events carry the ESP's IPs; Postfix events our MTA's, where a reply names it"
    );
    // Hard bounces were suppressed; the Spamhaus listing went to the
    // sender-side issues, against the listed IP.
    assert!(
        suppressions
            .iter()
            .any(|s| s["reason"] == "hardbounce" && s["detail"] == "userunknown"),
        "{suppressions:?}"
    );
    assert!(
        issues.contains("198.51.100.11") && issues.to_lowercase().contains("spamhaus"),
        "{issues}"
    );

    // The report names the staged incidents, and the HTML page was written.
    for incident in [
        "blocklist at microsoft",
        "rate_limiting at microsoft",
        "authentication at google",
    ] {
        assert!(stdout.contains(incident), "{incident} missing:\n{stdout}");
    }
    let (incidents, tables) = (
        stdout.find("Incidents:").unwrap(),
        stdout.find("by provider").unwrap(),
    );
    assert!(incidents < tables, "incidents are not first:\n{stdout}");
    let html = std::fs::read_to_string(dir.path().join("rebound-demo.html")).unwrap();
    assert!(
        html.to_lowercase().starts_with("<!doctype html"),
        "{}",
        &html[..80]
    );
}

#[test]
fn the_same_seed_gives_the_same_database() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    demo(a.path(), "11");
    demo(b.path(), "11");
    demo(c.path(), "12");
    let (first, second, other) = (content(a.path()), content(b.path()), content(c.path()));
    assert!(!first.0.is_empty() && !first.1.is_empty());
    assert!(first == second, "same seed, different content");
    assert!(first.0 != other.0, "another seed gave the same events");

    // Running again in place replaces the demo database: same content.
    demo(a.path(), "11");
    assert!(content(a.path()) == first, "a second run in place differs");
}

#[test]
fn an_existing_database_that_is_not_the_demo_s_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ledger.db"), b"precious").unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--db", "ledger.db"])
        .args(SMALL)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ledger.db exists"));
    assert_eq!(
        std::fs::read(dir.path().join("ledger.db")).unwrap(),
        b"precious"
    );
}

#[test]
fn serve_answers_on_loopback_with_the_one_time_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "demo", "--days", "1", "--scale", "0.2", "--serve", "--port", "0",
        ])
        .current_dir(dir.path())
        .env("REBOUND_TOKENS", "other:admin:a-token-the-demo-must-ignore")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = loop {
        let line = lines
            .next()
            .expect("demo exited before serving")
            .expect("read stdout");
        if line.starts_with("Dashboard: http://") {
            break line;
        }
    };
    // Dashboard: http://127.0.0.1:PORT/  (token for this run, admin scope: HEX)
    let addr: std::net::SocketAddr = line["Dashboard: http://".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let token = line
        .rsplit(": ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    assert!(addr.ip().is_loopback(), "{line}");
    assert_eq!(token.len(), 48, "{line}");

    let get = |path: &str, token: &str| {
        let auth = http::bearer(token);
        http::request(addr, "GET", path, &[("Authorization", &auth)], b"")
    };
    assert_eq!(get("/", "").status, 200);
    assert_eq!(get("/v1/incidents", &token).status, 200);
    let events = get("/v1/events?limit=5", &token);
    assert_eq!(events.status, 200, "{}", events.text());
    assert!(events.text().contains("recipient"), "{}", events.text());
    assert_eq!(get("/v1/incidents", "").status, 401);
    assert_eq!(
        get("/v1/incidents", "a-token-the-demo-must-ignore").status,
        401
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}
