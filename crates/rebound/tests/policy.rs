//! `rebound policy` over real sockets, as Postfix would talk to it: the
//! policy delegation protocol and the socketmap table, answered from a real
//! SQLite ledger, with the limits that keep a bad peer from holding it.
//! (Postfix itself consults it in `tests/postfix.rs`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

struct Policy {
    child: Child,
    policy: SocketAddr,
    socketmap: SocketAddr,
}

impl Policy {
    fn start(db: &str, extra: &[&str]) -> Policy {
        let mut child = Command::new(BIN)
            .args([
                "policy",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                "--socketmap",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rebound policy");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (mut policy, mut socketmap) = (None, None);
        while policy.is_none() || socketmap.is_none() {
            let line = lines
                .next()
                .expect("rebound policy exited before listening")
                .unwrap();
            let addr = line.rsplit(' ').next().unwrap().parse().ok();
            if line.contains("policy delegation on") {
                policy = addr;
            } else if line.contains("socketmap on") {
                socketmap = addr;
            }
        }
        // Keep reading stderr so the service never blocks on a full pipe.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        Policy {
            child,
            policy: policy.unwrap(),
            socketmap: socketmap.unwrap(),
        }
    }
}

impl Drop for Policy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads one policy answer (up to the empty line).
fn answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\n\n") {
        match s.read(&mut byte) {
            Ok(0) => panic!(
                "connection closed after {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(_) => got.push(byte[0]),
            Err(e) => panic!("no answer ({e}) after {:?}", String::from_utf8_lossy(&got)),
        }
    }
    String::from_utf8(got).unwrap()
}

fn ask(addr: SocketAddr, recipient: &str) -> String {
    let mut s = connect(addr);
    write!(
        s,
        "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient={recipient}\n\n"
    )
    .unwrap();
    answer(&mut s)
}

/// True when the service closes the connection (read returns 0) within the
/// read timeout, after discarding anything it still sent.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn netstring_answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        s.read_exact(&mut byte).expect("a socketmap answer");
        got.push(byte[0]);
        if let Some(colon) = got.iter().position(|&b| b == b':') {
            let len: usize = std::str::from_utf8(&got[..colon]).unwrap().parse().unwrap();
            if got.len() == colon + 1 + len + 1 {
                assert_eq!(got.last(), Some(&b','));
                return String::from_utf8(got[colon + 1..colon + 1 + len].to_vec()).unwrap();
            }
        }
    }
}

fn lookup(s: &mut TcpStream, request: &str) -> String {
    write!(s, "{}:{request},", request.len()).unwrap();
    netstring_answer(s)
}

fn ledger() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db").to_str().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["suppressions", "--db", &db, "add", "Dead@Example.net"])
        .args(["--reason", "hardbounce"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (dir, db)
}

#[test]
fn suppressed_recipients_are_refused_and_others_pass() {
    let (_dir, db) = ledger();
    let p = Policy::start(&db, &[]);
    let today = &rebound_ingest::time::format_rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )[..10];
    // Postfix sends the address as the client wrote it: it is normalised.
    assert_eq!(
        ask(p.policy, "<DEAD@example.NET>"),
        format!(
            "action=REJECT 5.1.1 <dead@example.net>: suppressed by Rebound (hardbounce, since {today})\n\n"
        )
    );
    assert_eq!(ask(p.policy, "alive@example.net"), "action=DUNNO\n\n");
    assert_eq!(ask(p.policy, "not an address"), "action=DUNNO\n\n");

    // Several requests on one connection, one split across writes, and one
    // without a recipient (e.g. at DATA with several recipients).
    let mut s = connect(p.policy);
    s.write_all(b"request=smtpd_access_policy\nrecipient=alive@example.net\n\nrequest=smtpd_")
        .unwrap();
    assert_eq!(answer(&mut s), "action=DUNNO\n\n");
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"access_policy\nrecipient=dead@exa").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"mple.net\r\n\r\nprotocol_state=DATA\n\n")
        .unwrap();
    assert!(answer(&mut s).starts_with("action=REJECT 5.1.1 <dead@example.net>"));
    assert_eq!(answer(&mut s), "action=DUNNO\n\n");

    // A suppression added while the service runs counts at once, and so
    // does one lifted.
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    run(&["suppressions", "--db", &db, "add", "alive@example.net"]);
    write!(s, "recipient=alive@example.net\n\n").unwrap();
    assert!(answer(&mut s).contains("suppressed by Rebound (manual, since"));
    run(&["suppressions", "--db", &db, "remove", "alive@example.net"]);
    write!(s, "recipient=alive@example.net\n\n").unwrap();
    assert_eq!(answer(&mut s), "action=DUNNO\n\n");
}

#[test]
fn socketmap_answers_whole_addresses_only() {
    let (_dir, db) = ledger();
    let p = Policy::start(&db, &[]);
    let mut s = connect(p.socketmap);
    let hit = lookup(&mut s, "suppressed dead@example.net");
    assert!(
        hit.starts_with(
            "OK REJECT 5.1.1 <dead@example.net>: suppressed by Rebound (hardbounce, since "
        ),
        "{hit}"
    );
    // check_recipient_access also looks up the domain and `local@`.
    assert_eq!(lookup(&mut s, "suppressed example.net"), "NOTFOUND ");
    assert_eq!(lookup(&mut s, "suppressed dead@"), "NOTFOUND ");
    assert_eq!(lookup(&mut s, "other alive@example.net"), "NOTFOUND ");
    assert!(lookup(&mut s, "nospace").starts_with("PERM "));
    // Garbage where a netstring should be: the connection is closed.
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(closed_by_peer(&mut s));
    let mut again = connect(p.socketmap);
    assert!(lookup(&mut again, "x DEAD@example.net").starts_with("OK REJECT"));
}

#[test]
fn hold_or_discard_instead_of_reject() {
    let (_dir, db) = ledger();
    let p = Policy::start(&db, &["--action", "hold"]);
    assert!(
        ask(p.policy, "dead@example.net").starts_with("action=HOLD <dead@example.net>: suppressed")
    );
    drop(p);
    let p = Policy::start(&db, &["--action", "discard"]);
    assert!(ask(p.policy, "dead@example.net").starts_with("action=DISCARD <dead@example.net>"));
    let mut s = connect(p.socketmap);
    assert!(lookup(&mut s, "m dead@example.net").starts_with("OK DISCARD "));
}

#[test]
fn an_unavailable_store_defers_or_passes_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    // A SQLite file in a directory that does not exist cannot be opened.
    let db = dir.path().join("missing/ledger.db");
    let db = db.to_str().unwrap();
    let p = Policy::start(db, &[]);
    assert_eq!(
        ask(p.policy, "dead@example.net"),
        "action=DEFER_IF_PERMIT 4.3.0 Rebound: suppression list unavailable, try later\n\n"
    );
    let mut s = connect(p.socketmap);
    assert!(lookup(&mut s, "m dead@example.net").starts_with("TEMP "));
    drop(p);
    let p = Policy::start(db, &["--on-error", "open"]);
    assert_eq!(ask(p.policy, "dead@example.net"), "action=DUNNO\n\n");
    let mut s = connect(p.socketmap);
    assert_eq!(lookup(&mut s, "m dead@example.net"), "NOTFOUND ");

    // The store comes back: the same service answers from it.
    std::fs::create_dir(dir.path().join("missing")).unwrap();
    let out = Command::new(BIN)
        .args(["suppressions", "--db", db, "add", "dead@example.net"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(ask(p.policy, "dead@example.net").starts_with("action=REJECT"));
}

#[test]
fn bad_peers_are_cut_off_and_good_ones_still_served() {
    let (_dir, db) = ledger();
    let p = Policy::start(&db, &["--max-connections", "3", "--idle-seconds", "1"]);

    // Not the protocol: closed.
    let mut s = connect(p.policy);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(closed_by_peer(&mut s));
    // A line that never ends: closed once it passes the cap, not buffered.
    let mut s = connect(p.policy);
    let _ = s.write_all(&[b'a'; 64 * 1024]);
    assert!(closed_by_peer(&mut s));
    // Endless attributes: closed.
    let mut s = connect(p.policy);
    let many: String = (0..1000).map(|i| format!("a{i}=x\n")).collect();
    let _ = s.write_all(many.as_bytes());
    assert!(closed_by_peer(&mut s));

    // An idle connection is closed after --idle-seconds.
    let started = Instant::now();
    let mut idle = connect(p.policy);
    assert!(closed_by_peer(&mut idle));
    assert!(started.elapsed() < Duration::from_secs(8));

    // At the connection cap a new connection is closed at once, and served
    // again once a slot is free.
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect(p.policy)).collect();
    for h in &mut held {
        // Each is being served (answers), so each holds its slot.
        write!(h, "recipient=a@b.example\n\n").unwrap();
        assert_eq!(answer(h), "action=DUNNO\n\n");
    }
    let mut extra = connect(p.policy);
    let _ = write!(extra, "recipient=dead@example.net\n\n");
    assert!(closed_by_peer(&mut extra));
    drop(held);
    // The held ones are gone; their threads notice within the idle time.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = connect(p.policy);
        let _ = write!(s, "recipient=dead@example.net\n\n");
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        if got.starts_with(b"action=REJECT") {
            break;
        }
        assert!(Instant::now() < deadline, "no slot freed: {got:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The same lookups on PostgreSQL, when `REBOUND_TEST_POSTGRES_URL` names a
/// server (required in CI, as for the ledger's own tests).
#[test]
fn lookups_on_postgresql() {
    let base = match std::env::var("REBOUND_TEST_POSTGRES_URL") {
        Ok(b) if !b.is_empty() => b,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("REBOUND_TEST_POSTGRES_URL is not set: in CI the PostgreSQL tests must run");
            }
            println!("SKIPPED: PostgreSQL not available (set REBOUND_TEST_POSTGRES_URL)");
            return;
        }
    };
    let schema = format!("rebound_policy_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}schema={schema}");
    struct DropSchema(String, String);
    impl Drop for DropSchema {
        fn drop(&mut self) {
            let _ = rebound_ledger::PgStore::drop_schema(&self.0, &self.1);
        }
    }
    let _cleanup = DropSchema(base.clone(), schema);
    let out = Command::new(BIN)
        .args(["suppressions", "--db", &url, "add", "dead@example.net"])
        .args(["--reason", "hardbounce"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let p = Policy::start(&url, &[]);
    assert!(ask(p.policy, "Dead@Example.NET").starts_with(
        "action=REJECT 5.1.1 <dead@example.net>: suppressed by Rebound (hardbounce, since "
    ));
    assert_eq!(ask(p.policy, "alive@example.net"), "action=DUNNO\n\n");
    let mut s = connect(p.socketmap);
    assert!(lookup(&mut s, "m dead@example.net").starts_with("OK REJECT 5.1.1"));
}

/// Exim's `${readsocket{inet:HOST:PORT}{REQUEST}}` (the README's Exim ACL)
/// sends one request, shuts down its writing side and reads until the
/// service closes: the answer must come whole before the close.
#[test]
fn exim_readsocket_style_one_shot_requests() {
    let (_dir, db) = ledger();
    let p = Policy::start(&db, &[]);
    let one_shot = |recipient: &str| {
        let mut s = connect(p.policy);
        write!(
            s,
            "request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient={recipient}\n\n"
        )
        .unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut all = String::new();
        s.read_to_string(&mut all)
            .expect("read until the service closes");
        all
    };
    let refused = one_shot("dead@example.net");
    assert!(
        refused.starts_with("action=REJECT 5.1.1 <dead@example.net>"),
        "{refused:?}"
    );
    assert!(refused.ends_with("\n\n"), "{refused:?}");
    assert_eq!(one_shot("alive@example.net"), "action=DUNNO\n\n");
}
