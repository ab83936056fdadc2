//! The ledger through the real `rebound` binary: crash safety (`kill -9`
//! mid-ingest), concurrent ingests by separate processes, bad input
//! handling, and the suppression commands. Crash and concurrency tests run
//! on SQLite and, when `REBOUND_TEST_POSTGRES_URL` is set (required in CI),
//! on PostgreSQL.

use rebound_ledger::synth;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

/// A fresh store URL per test: a SQLite file, or a fresh PostgreSQL schema.
struct Db {
    url: String,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            let _ = rebound_ledger::PgStore::drop_schema(base, schema);
        }
    }
}

fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("ledger.db").to_str().unwrap().to_string();
    Db {
        url,
        _dir: dir,
        pg: None,
    }
}

fn postgres_db(tag: &str) -> Option<Db> {
    match std::env::var("REBOUND_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("rebound_cli_{tag}_{}", std::process::id());
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(Db {
                url: format!("{base}{sep}schema={schema}"),
                _dir: tempfile::tempdir().unwrap(),
                pg: Some((base, schema)),
            })
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

fn write_log(path: &Path, start: u64, n: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    synth::postfix_lines(start, n, &mut f).unwrap();
    f.flush().unwrap();
}

fn rebound(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ------------------------------------------------------------- kill -9

fn kill_mid_ingest_loses_no_committed_batch(db: &Db, dir: &Path) {
    const N: u64 = 30_000;
    const BATCH: u64 = 500;
    let log = dir.join("big.log");
    write_log(&log, 0, N);
    let mut child = Command::new(BIN)
        .args([
            "ingest",
            "--year",
            "2026",
            "--batch-size",
            "500",
            "--db",
            &db.url,
        ])
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut reported = 0u64;
    let mut line = String::new();
    // Let a few batches commit, then SIGKILL.
    while reported < 4 * BATCH {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ingest ended early"
        );
        if let Some(c) = committed(&line) {
            reported = c;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines still in the pipe were printed after their commit: count them.
    for l in stderr.lines() {
        if let Some(c) = committed(&l.unwrap()) {
            reported = c;
        }
    }
    let mut store = rebound_ledger::open(&db.url).unwrap();
    let n = store.count_events().unwrap();
    assert!(
        n >= reported,
        "store has {n} events, {reported} were reported committed"
    );
    assert_eq!(n % BATCH, 0, "a half batch landed: {n} events");
    assert!(n < N, "the ingest was not interrupted ({n} events)");
    // They are exactly the first n lines, with their suppressions.
    let events = store
        .events(&rebound_ledger::EventQuery {
            limit: n as usize + 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(events.len() as u64, n);
    let mut lines: Vec<u64> = events
        .iter()
        .map(|e| e.event.source.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=n).collect::<Vec<_>>());
    let hard = (0..n)
        .filter(|&i| synth::kind(i) == synth::Kind::UserUnknown)
        .count();
    assert_eq!(store.suppressions(None).unwrap().len(), hard);
    drop(store);
    // Running it again completes the job without duplicates.
    let out = rebound(&[
        "ingest",
        "--quiet",
        "--year",
        "2026",
        "--db",
        &db.url,
        log.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut store = rebound_ledger::open(&db.url).unwrap();
    assert_eq!(store.count_events().unwrap(), N);
}

fn committed(line: &str) -> Option<u64> {
    let rest = line.split("committed=").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn kill_9_sqlite() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    kill_mid_ingest_loses_no_committed_batch(&db, dir.path());
}

#[test]
fn kill_9_postgres() {
    let Some(db) = postgres_db("kill") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    kill_mid_ingest_loses_no_committed_batch(&db, dir.path());
}

// --------------------------------------------------- concurrent processes

fn concurrent_ingests_both_land(db: &Db, dir: &Path) {
    let a = dir.join("a.log");
    let b = dir.join("b.log");
    write_log(&a, 0, 20_000);
    write_log(&b, 20_000, 20_000);
    let spawn = |files: &[&Path]| {
        Command::new(BIN)
            .args([
                "ingest",
                "--quiet",
                "--year",
                "2026",
                "--batch-size",
                "500",
                "--db",
                &db.url,
            ])
            .args(files)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Overlapping inputs: the second process also re-reads the first's file.
    let p1 = spawn(&[&a]);
    let p2 = spawn(&[&b, &a]);
    for p in [p1, p2] {
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut store = rebound_ledger::open(&db.url).unwrap();
    assert_eq!(store.count_events().unwrap(), 40_000);
    let hard = (0..40_000)
        .filter(|&i| synth::kind(i) == synth::Kind::UserUnknown)
        .count();
    assert_eq!(store.suppressions(None).unwrap().len(), hard);
    let blocked = (0..40_000)
        .filter(|&i| synth::kind(i) == synth::Kind::Blocked)
        .count() as i64;
    let issues: i64 = store
        .sender_issues(None)
        .unwrap()
        .iter()
        .map(|i| i.count)
        .sum();
    assert_eq!(issues, blocked);
}

#[test]
fn concurrent_processes_sqlite() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    concurrent_ingests_both_land(&db, dir.path());
}

#[test]
fn concurrent_processes_postgres() {
    let Some(db) = postgres_db("conc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    concurrent_ingests_both_land(&db, dir.path());
}

// ------------------------------------------------------------- bad input

#[test]
fn malformed_records_are_reported_and_skipped_or_stop_under_strict() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    std::fs::write(
        &log,
        "Nov 20 10:00:01 mx1 postfix/smtp[1]: 4AB: to=<a@x.org>, relay=mx.x.org[1.2.3.4]:25, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n\
         Nov 20 10:00:02 mx1 postfix/smtpd[2]: connect from unknown[5.6.7.8]\n\
         Nov 20 10:00:03 mx1 postfix/smtp[1]: 4AB: to=<b@x.org>, relay=mx.x.org[1.2.3.4]:25, dsn=5.1.1\n\
         Nov 20 10:00:04 mx1 postfix/smtp[1]: 4AB: to=<c@x.org>, relay=mx.x.org[1.2.3.4]:25, dsn=5.1.1, status=bounced (host mx.x.org[1.2.3.4] said: 550 5.1.1 <c@x.org>: User unknown (in reply to RCPT TO command))\n",
    )
    .unwrap();
    let json = dir.path().join("hooks.jsonl");
    std::fs::write(
        &json,
        "{\"email\":\"d@y.org\",\"timestamp\":1513299569,\"event\":\"delivered\",\"sg_event_id\":\"e1\",\"response\":\"250 OK\"}\n\
         {\"email\":\"e@y.org\",\"timestamp\":\n\
         {\"email\":\"f@y.org\",\"timestamp\":1513299570,\"event\":\"bounce\",\"sg_event_id\":\"e2\",\"reason\":\"550 5.1.1 unknown user\",\"status\":\"5.1.1\"}\n\
         {\"email\":\"f@y.org\",\"timestamp\":1513299571,\"event\":\"open\",\"sg_event_id\":\"e3\"}\n",
    )
    .unwrap();
    let out = rebound(&[
        "ingest",
        "--year",
        "2026",
        "--db",
        &db.url,
        log.to_str().unwrap(),
        json.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "{}:3: delivery line without status= (skipped)",
            log.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:2: invalid JSON", json.display())),
        "{err}"
    );
    let summaries = json_lines(&out.stdout);
    assert_eq!(summaries[0]["format"], "postfix");
    assert_eq!(summaries[0]["inserted"], 2);
    assert_eq!(summaries[0]["skipped"], 1);
    assert_eq!(summaries[1]["format"], "sendgrid");
    assert_eq!(summaries[1]["inserted"], 2);
    // An open is no delivery outcome: not an event, not an error, counted.
    assert_eq!(summaries[1]["skipped"], 1);
    assert_eq!(summaries[1]["ignored"]["sendgrid open"], 1);
    let mut store = rebound_ledger::open(&db.url).unwrap();
    assert_eq!(store.count_events().unwrap(), 4);

    let db2 = sqlite_db();
    let out = rebound(&[
        "ingest",
        "--strict",
        "--year",
        "2026",
        "--db",
        &db2.url,
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":3: delivery line without status= (stopped: --strict)"),
        "{err}"
    );
    assert!(!err.contains("(skipped)"), "{err}");

    // A binary file is refused cleanly.
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, [0u8, 159, 146, 150, 255, 0, 1, 2]).unwrap();
    let out = rebound(&["ingest", "--db", &db2.url, junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot tell the format"));
}

// ------------------------------------------------------ suppression commands

#[test]
fn suppression_commands_round_trip() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("mail.log");
    write_log(&log, 0, 100);
    let out = rebound(&[
        "ingest",
        "--quiet",
        "--year",
        "2026",
        "--db",
        &db.url,
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    // Lines 7, 27, 47, 67, 87 are user-unknown bounces.
    let dead = synth::recipient(7);
    let alive = synth::recipient(8);

    let mut child = Command::new(BIN)
        .args(["suppressions", "--db", &db.url, "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    write!(
        child.stdin.take().unwrap(),
        "  {}\n{alive}\nnot-an-address\n",
        dead.to_uppercase()
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{dead}\tsuppressed\thardbounce\tuserunknown\n{alive}\tok\nnot-an-address\tinvalid\n"
        )
    );

    let out = rebound(&[
        "suppressions",
        "--db",
        &db.url,
        "add",
        "--by",
        "carol",
        "--note",
        "asked",
        "VIP@Example.com",
    ]);
    assert!(out.status.success());
    let out = rebound(&["suppressions", "--db", &db.url, "export", "--csv"]);
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(csv.lines().count(), 1 + 5 + 1, "{csv}");
    assert!(csv.starts_with("address,domain,reason,detail,created,updated,created_by,events\n"));
    assert!(
        csv.contains("\nvip@example.com,example.com,manual,asked,"),
        "{csv}"
    );

    let out = rebound(&[
        "suppressions",
        "--db",
        &db.url,
        "remove",
        "--by",
        "dave",
        "--note",
        "fixed",
        &dead,
    ]);
    assert!(out.status.success());
    let audit = json_lines(&rebound(&["suppressions", "--db", &db.url, "audit", &dead]).stdout);
    assert_eq!(audit[0]["action"], "remove");
    assert_eq!(audit[0]["actor"], "dave");
    assert_eq!(audit[0]["note"], "fixed");
    assert_eq!(audit[1]["action"], "suppress");
    // Removing again: nothing to remove, exit 1.
    assert_eq!(
        rebound(&["suppressions", "--db", &db.url, "remove", &dead])
            .status
            .code(),
        Some(1)
    );

    // Import the export into a fresh store.
    let db2 = sqlite_db();
    let exported = dir.path().join("list.csv");
    std::fs::write(&exported, &csv).unwrap();
    let out = rebound(&[
        "suppressions",
        "--db",
        &db2.url,
        "import",
        exported.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = json_lines(&rebound(&["suppressions", "--db", &db2.url, "list"]).stdout);
    assert_eq!(list.len(), 6);
    assert!(
        list.iter()
            .any(|s| s["address"] == "vip@example.com" && s["reason"] == "manual")
    );

    // Events through the CLI.
    let ev = json_lines(&rebound(&["events", "--db", &db.url, "--recipient", &dead]).stdout);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["verdict"]["reason"], "userunknown");
    assert_eq!(ev[0]["policy_class"], "hard");
    let blocks = json_lines(
        &rebound(&[
            "events", "--db", &db.url, "--reason", "sender", "--limit", "1000",
        ])
        .stdout,
    );
    assert_eq!(blocks.len(), 2, "lines 29 and 79 are blocks");
    let issues = json_lines(&rebound(&["events", "--db", &db.url, "--sender-issues"]).stdout);
    assert_eq!(
        issues
            .iter()
            .map(|i| i["count"].as_i64().unwrap())
            .sum::<i64>(),
        2
    );
    assert!(issues.iter().all(|i| i["reason"] != "userunknown"));
}

// ------------------------------------------------------------ bounce emails

const DSN: &str = "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r
To: news@example.org\r
Subject: Undelivered Mail Returned to Sender\r
Date: Mon, 23 Nov 2026 10:00:00 +0000\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"BOUNDARY\"\r
Message-Id: <bounce1@mx.example.org>\r
\r
--BOUNDARY\r
Content-Type: text/plain\r
\r
This is the mail system at host mx.example.org.\r
\r
<gone@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1\r
    <gone@example.net>: Recipient address rejected: User unknown (in reply to\r
    RCPT TO command)\r
\r
--BOUNDARY\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.example.org\r
Arrival-Date: Mon, 23 Nov 2026 09:59:58 +0000\r
\r
Final-Recipient: rfc822; gone@example.net\r
Original-Recipient: rfc822;gone@example.net\r
Action: failed\r
Status: 5.1.1\r
Remote-MTA: dns; mx.example.net\r
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address\r
    rejected: User unknown\r
\r
--BOUNDARY\r
Content-Type: message/rfc822\r
\r
From: news@example.org\r
To: gone@example.net\r
Subject: Spring sale\r
Message-Id: <orig1@example.org>\r
List-Id: <spring.example.org>\r
Date: Mon, 23 Nov 2026 09:59:00 +0000\r
\r
Hello\r
--BOUNDARY--\r
";

#[test]
fn bounce_emails_go_through_the_decoder() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let eml = dir.path().join("bounce.eml");
    std::fs::write(&eml, DSN).unwrap();
    let out = rebound(&["ingest", "--db", &db.url, eml.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json_lines(&out.stdout);
    assert_eq!(summary[0]["format"], "eml");
    assert_eq!(summary[0]["inserted"], 1);
    let check = rebound(&["suppressions", "--db", &db.url, "check", "gone@example.net"]);
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "gone@example.net\tsuppressed\thardbounce\tuserunknown\n"
    );
    let ev = json_lines(&rebound(&["events", "--db", &db.url]).stdout);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["sender"], "news@example.org");
    assert_eq!(ev[0]["message_id"], "orig1@example.org");
    assert_eq!(ev[0]["verdict"]["deliverystatus"], "5.1.1");
    assert_eq!(ev[0]["outcome"], "bounced");

    // The same bounce in an mbox and in a Maildir: recognised, and already stored.
    let mbox = dir.path().join("bounces.mbox");
    std::fs::write(
        &mbox,
        format!(
            "From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n{}\n",
            DSN.replace("\r\n", "\n")
        ),
    )
    .unwrap();
    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::write(maildir.join("new").join("1700000000.1.host"), DSN).unwrap();
    let out = rebound(&[
        "ingest",
        "--db",
        &db.url,
        mbox.to_str().unwrap(),
        maildir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json_lines(&out.stdout);
    assert_eq!(summary[0]["format"], "mbox");
    assert_eq!(summary[1]["format"], "maildir");
    for s in &summary {
        assert_eq!(s["events"], 1, "{s}");
        assert_eq!(s["inserted"], 0, "{s}");
    }
}

/// An exported list reads back whole: a note with commas, quotes and a line
/// break survives CSV export and import, and so does a JSON Lines export.
#[test]
fn exported_lists_round_trip_with_awkward_notes() {
    let db = sqlite_db();
    let note = "asked by \"Legal\", twice;\nsee ticket 42";
    let out = rebound(&[
        "suppressions",
        "--db",
        &db.url,
        "add",
        "--note",
        note,
        "Ann@Example.com",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = rebound(&[
        "suppressions",
        "--db",
        &db.url,
        "add",
        "--reason",
        "legal",
        "bo@example.org",
    ]);
    assert!(out.status.success(), "{out:?}");
    let dir = tempfile::tempdir().unwrap();
    for (name, flag) in [("list.csv", "--csv"), ("list.jsonl", "--json")] {
        let exported = rebound(&["suppressions", "--db", &db.url, "export", flag]);
        assert!(exported.status.success());
        let path = dir.path().join(name);
        std::fs::write(&path, &exported.stdout).unwrap();
        let fresh = sqlite_db();
        let out = rebound(&[
            "suppressions",
            "--db",
            &fresh.url,
            "import",
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{name}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("2 read, 2 added"), "{name}: {stderr}");
        let list = json_lines(&rebound(&["suppressions", "--db", &fresh.url, "list"]).stdout);
        let ann = list
            .iter()
            .find(|s| s["address"] == "ann@example.com")
            .unwrap_or_else(|| panic!("{name}: {list:?}"));
        assert_eq!(ann["detail"], note, "{name}");
        assert_eq!(ann["reason"], "manual", "{name}");
        let bo = list
            .iter()
            .find(|s| s["address"] == "bo@example.org")
            .unwrap();
        assert_eq!(bo["reason"], "legal", "{name}");
    }
}
