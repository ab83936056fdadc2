//! `rebound ingest` on rotated Postfix logs: gzip and zstd told by their
//! magic bytes (whatever the file is called), syslog dates in `--timezone`,
//! and a summary that says which lines gave no event and why. The log lines
//! follow Postfix's documented `smtp(8)`/`qmgr(8)` log format.

use std::io::Write;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

const LOG: &str = "\
Nov 25 08:00:00 mx1 postfix/qmgr[11]: 4CMP1: from=<news@sender.example>, size=900, nrcpt=2 (queue active)
Nov 25 08:00:01 mx1 postfix/smtp[12]: 4CMP1: to=<x@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.1, status=bounced (host mx.example.net[192.0.2.1] said: 554 5.7.1 Service unavailable; Client host [198.51.100.22] blocked using zen.spamhaus.org (in reply to RCPT TO command))
Nov 32 25:99:99 mx1 postfix/smtp[12]: 4CMP1: to=<y@example.net>, relay=mx.example.net[192.0.2.1]:25, delay=1, dsn=5.1.1, status=bounced (550 5.1.1 User unknown)
Nov 25 08:00:03 mx1 postfix/smtpd[9]: connect from client.example[198.51.100.9]
Nov 25 08:00:04 mx1 dovecot: imap-login: Login: user=<x>
2026-11-25T09:00:05.250+01:00 mx1 postfix/smtp[12]: 4CMP1: to=<z@example.org>, relay=mx.example.org[192.0.2.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9)
";

fn gzip(parts: &[&str]) -> Vec<u8> {
    // Members concatenated, as `cat a.gz b.gz` makes and gzip reads.
    let mut out = Vec::new();
    for p in parts {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(p.as_bytes()).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

fn ingest(db: &Path, args: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(BIN)
        .args(["ingest", "--quiet", "--db", db.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let summary = serde_json::from_slice(&out.stdout).expect("one summary line");
    (summary, err)
}

fn events(db: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args(["events", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut v: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    v.sort_by_key(|e| e["time_ms"].as_i64());
    v
}

#[test]
fn gzip_and_zstd_logs_by_magic_with_zone_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (head, tail) = LOG.split_at(LOG.find("Nov 32").unwrap());
    // Rotated names that do not say how they are compressed.
    let gz = dir.path().join("maillog.1");
    std::fs::write(&gz, gzip(&[head, tail])).unwrap();
    let zst = dir.path().join("maillog.2.zst");
    std::fs::write(&zst, zstd::encode_all(LOG.as_bytes(), 3).unwrap()).unwrap();

    for path in [&gz, &zst] {
        let db = dir.path().join(format!(
            "{}.db",
            path.file_name().unwrap().to_str().unwrap()
        ));
        let (summary, err) = ingest(
            &db,
            &[
                "--year",
                "2026",
                "--timezone",
                "Europe/Paris",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(summary["format"], "postfix", "{summary}");
        assert_eq!(summary["events"], 2, "{summary}");
        assert_eq!(summary["skipped"], 1, "{summary}");
        assert_eq!(
            summary["skipped_by_reason"],
            serde_json::json!({
                "another program": 1,
                "no delivery status": 1,
                "no queue id": 1,
                "rejected: invalid timestamp": 1,
            }),
            "{summary}"
        );
        assert!(
            err.contains(&format!("{}:3: invalid timestamp", path.display())),
            "{err}"
        );
        let ev = events(&db);
        // Paris is UTC+1 in November; the RFC 3339 line states its offset.
        assert_eq!(ev[0]["time"], "2026-11-25T07:00:01.000Z");
        assert_eq!(ev[0]["sending_ip"], "198.51.100.22");
        assert_eq!(ev[1]["time"], "2026-11-25T08:00:05.250Z");
        assert_eq!(ev[1]["sending_ip"], serde_json::Value::Null);
    }
}

#[test]
fn corrupt_compressed_logs_and_unknown_zones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    let mut bytes = gzip(&[LOG]);
    let n = bytes.len();
    bytes.truncate(n / 2);
    let gz = dir.path().join("maillog.3.gz");
    std::fs::write(&gz, &bytes).unwrap();
    let out = Command::new(BIN)
        .args(["ingest", "--quiet", "--format", "postfix", "--db"])
        .args([db.as_os_str(), gz.as_os_str()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // A truncated file is a read error at the line it breaks, not silence.
    assert!(err.contains(&format!("{}:", gz.display())), "{err}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["skipped"].as_u64().unwrap() >= 1, "{summary}");

    let out = Command::new(BIN)
        .args(["ingest", "--timezone", "Mars/Olympus_Mons", "--db"])
        .args([db.as_os_str(), gz.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone"));
}
