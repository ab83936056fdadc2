//! `rebound fetch` against a real Dovecot (IMAP and POP3, TLS from a test
//! CA), started by the test in a temp directory on loopback ports.
//!
//! Each test fills a user's Maildir with the Sisimai corpus's bounce emails
//! and two non-bounces written here (a human reply, a spam-like offer),
//! fetches, and compares the store's events with what `rebound ingest
//! --format email` stores from the same files; the folders are read back
//! with `doveadm`. Also: kill -9 in the middle of a fetch and fetch again
//! (nothing lost, nothing doubled), a wrong password, a closed port and an
//! untrusted certificate (clear errors, non-zero exits, mail untouched),
//! and `--watch` picking up mail delivered after it started.
//!
//! Needs root, Dovecot (`apt-get install dovecot-imapd dovecot-pop3d`) and
//! the `openssl` command; without them it prints `SKIPPED: …` and passes,
//! except under `CI=true`, where it fails. The corpus is found as by every
//! other test (tests/support/shared_corpus.rs). How Dovecot runs here:
//! ../shared/notes/mail-servers-in-tests.md.

#[path = "../../rebound-decode/tests/support/shared_corpus.rs"]
mod shared_corpus;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");
/// Every wait in this file ends by this deadline (a hang is a failure,
/// never a pass).
const WAIT: Duration = Duration::from_secs(120);
const PASSWORD: &str = "mailbox-secret-0123";
/// The uid Dovecot stores mail as (`nobody`): never root.
const MAIL_UID: u32 = 65534;
const USERS: &[&str] = &[
    "imaps",
    "starttls",
    "pop3s",
    "pop3",
    "killed",
    "killedpop",
    "watch",
    "served",
];

/// A reply from a person to the bounce address: no failed recipient in it.
const HUMAN_REPLY: &str = "From: Maria Lopez <maria.lopez@example.org>\r\n\
To: bounces@sender.example\r\n\
Subject: Re: Your November newsletter\r\n\
Date: Tue, 01 Dec 2026 09:12:00 +0100\r\n\
Message-ID: <reply-1@example.org>\r\n\
In-Reply-To: <news-2026-11@sender.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello,\r\n\
\r\n\
thanks for the newsletter. Could you send the next one to my work address\r\n\
instead? It is maria@corp.example.\r\n\
\r\n\
Maria\r\n";

/// Spam that reached the bounce address.
const SPAM: &str = "From: \"Crypto Gains\" <win@offers.example>\r\n\
To: bounces@sender.example\r\n\
Subject: You have WON 5,000 USD - claim now!!!\r\n\
Date: Wed, 02 Dec 2026 03:00:00 +0000\r\n\
Message-ID: <spam-77@offers.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body><p>Dear friend, click <a href=\"http://offers.example/x\">here</a>\r\n\
to claim your prize. Limited offer!</p></body></html>\r\n";

fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true: required)");
    }
    println!("SKIPPED: {why}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// A running Dovecot with the users of [`USERS`]; stopped when dropped,
/// also when a test fails half-way.
struct Dovecot {
    _dir: tempfile::TempDir,
    root: PathBuf,
    conf: PathBuf,
    imap: u16,
    imaps: u16,
    pop3: u16,
    pop3s: u16,
    delivered: std::cell::Cell<u64>,
}

impl Dovecot {
    /// `None` (after printing why) when Dovecot cannot run here.
    fn start() -> Option<Dovecot> {
        Dovecot::start_with("")
    }

    /// As [`Dovecot::start`], with `extra` lines of configuration.
    fn start_with(extra: &str) -> Option<Dovecot> {
        // Dovecot's master must start as root to switch to the mail uid.
        let uid = String::from_utf8_lossy(&run("id", &["-u"]).stdout)
            .trim()
            .to_string();
        if uid != "0" {
            skip_or_fail("the Dovecot tests need root");
            return None;
        }
        if !Path::new("/usr/sbin/dovecot").exists() || !Path::new("/usr/bin/doveadm").exists() {
            skip_or_fail("Dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d)");
            return None;
        }
        if Command::new("openssl").arg("version").output().is_err() {
            skip_or_fail("the openssl command is not installed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        // The mail uid must reach the mail directories below.
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        make_certificates(&root);
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        let users: String = USERS
            .iter()
            .map(|u| format!("{u}:{{PLAIN}}{PASSWORD}\n"))
            .collect();
        std::fs::write(root.join("users"), users).unwrap();
        let (imap, imaps, pop3, pop3s) = (free_port(), free_port(), free_port(), free_port());
        let r = root.display();
        let conf = format!(
            "protocols = imap pop3\n\
             listen = 127.0.0.1\n\
             base_dir = {r}/run\n\
             state_dir = {r}/state\n\
             log_path = {r}/dovecot.log\n\
             ssl = yes\n\
             ssl_cert = <{r}/server.pem\n\
             ssl_key = <{r}/server.key\n\
             # No password before TLS: imap:// and pop3:// must upgrade.\n\
             disable_plaintext_auth = yes\n\
             mail_location = maildir:{r}/mail/%u\n\
             first_valid_uid = {MAIL_UID}\n\
             default_internal_user = nobody\n\
             default_login_user = nobody\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {r}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid={MAIL_UID} gid={MAIL_UID} home={r}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {imap}\n  }}\n  inet_listener imaps {{\n    port = {imaps}\n    ssl = yes\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n  inet_listener pop3s {{\n    port = {pop3s}\n    ssl = yes\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             pop3_uidl_format = %08Xu%08Xv\n\
             {extra}"
        );
        let conf_path = root.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        for user in USERS {
            for sub in ["new", "cur", "tmp"] {
                std::fs::create_dir_all(root.join("mail").join(user).join(sub)).unwrap();
            }
        }
        chown_tree(&root.join("mail"));
        // Dovecot daemonises; its output goes to its log file (inherited
        // pipes would be kept open by the daemon).
        let status = Command::new("dovecot")
            .args(["-c", conf_path.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let dovecot = Dovecot {
            _dir: dir,
            root,
            conf: conf_path,
            imap,
            imaps,
            pop3,
            pop3s,
            delivered: std::cell::Cell::new(0),
        };
        assert!(status.success(), "dovecot did not start: {}", dovecot.log());
        // Listening once every port answers.
        let deadline = Instant::now() + WAIT;
        for port in [imap, imaps, pop3, pop3s] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "dovecot never listened: {}",
                    dovecot.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(dovecot)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("dovecot.log")).unwrap_or_default()
    }

    fn ca(&self) -> String {
        self.root.join("ca.pem").display().to_string()
    }

    /// Delivers a message into `user`'s INBOX the way an MDA does into a
    /// Maildir: written in tmp/, renamed into new/.
    fn deliver(&self, user: &str, message: &[u8]) {
        let n = self.delivered.get() + 1;
        self.delivered.set(n);
        let base = self.root.join("mail").join(user);
        let name = format!(
            "{}.M{n}P{}.rebound-test",
            1_796_000_000 + n,
            std::process::id()
        );
        let tmp = base.join("tmp").join(&name);
        std::fs::write(&tmp, message).unwrap();
        std::os::unix::fs::chown(&tmp, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        std::fs::rename(&tmp, base.join("new").join(&name)).unwrap();
    }

    /// Messages in `user`'s `folder` (0 when it does not exist), as
    /// Dovecot counts them.
    fn count(&self, user: &str, folder: &str) -> u64 {
        let out = run(
            "doveadm",
            &[
                "-c",
                self.conf.to_str().unwrap(),
                "mailbox",
                "status",
                "-u",
                user,
                "messages",
                folder,
            ],
        );
        if !out.status.success() {
            return 0;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        // "INBOX messages=3"
        text.split_once("messages=")
            .and_then(|(_, n)| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("doveadm said {text:?}"))
    }

    fn url(&self, scheme: &str, user: &str) -> String {
        let port = match scheme {
            "imaps" => self.imaps,
            "imap" => self.imap,
            "pop3s" => self.pop3s,
            "pop3" => self.pop3,
            _ => unreachable!(),
        };
        let folder = if scheme.starts_with("imap") {
            "/INBOX"
        } else {
            ""
        };
        format!("{scheme}://{user}@127.0.0.1:{port}{folder}")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .args(["-c", self.conf.to_str().unwrap(), "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // `stop` signals the master: wait for it to go before the temp
        // directory is removed under it.
        let pid = std::fs::read_to_string(self.root.join("run/master.pid")).unwrap_or_default();
        let pid = pid.trim();
        if pid.is_empty() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() {
            if Instant::now() > deadline {
                let _ = Command::new("kill").args(["-9", pid]).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn chown_tree(path: &Path) {
    std::os::unix::fs::chown(path, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path());
        }
    }
}

/// A test CA and a server certificate it signed for 127.0.0.1, made with
/// the openssl command.
fn make_certificates(dir: &Path) {
    let d = |f: &str| dir.join(f).display().to_string();
    let ok = |out: Output, what: &str| {
        assert!(
            out.status.success(),
            "openssl {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    ok(
        run(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &d("ca.key"),
                "-out",
                &d("ca.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=Rebound fetch test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ),
        "CA",
    );
    ok(
        run(
            "openssl",
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &d("server.key"),
                "-out",
                &d("server.csr"),
                "-subj",
                "/CN=127.0.0.1",
            ],
        ),
        "server key",
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ok(
        run(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                &d("server.csr"),
                "-CA",
                &d("ca.pem"),
                "-CAkey",
                &d("ca.key"),
                "-CAcreateserial",
                "-out",
                &d("server.pem"),
                "-days",
                "2",
                "-extfile",
                &d("server.ext"),
            ],
        ),
        "server certificate",
    );
}

/// The test's messages: the corpus's bounce emails and the two
/// non-bounces, as files (for `rebound ingest`) and bytes (to deliver).
struct Messages {
    dir: tempfile::TempDir,
    all: Vec<Vec<u8>>,
}

fn messages() -> Option<Messages> {
    let corpus = shared_corpus::sisimai_corpus(&["emails"])?;
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(corpus.join("emails"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    assert!(
        names.len() > 500,
        "the corpus lost its emails: {}",
        names.len()
    );
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(dir.path().join(path.file_name().unwrap()), &bytes).unwrap();
        all.push(bytes);
    }
    for (name, text) in [("human-reply.eml", HUMAN_REPLY), ("spam.eml", SPAM)] {
        std::fs::write(dir.path().join(name), text).unwrap();
        all.push(text.as_bytes().to_vec());
    }
    Some(Messages { dir, all })
}

/// An event as compared between stores: everything but where it was read
/// from (a file path or a mailbox URL), the reading format (`maildir` for a
/// directory, `eml` for a message) and the row id.
fn events_of(db: &str) -> BTreeMap<String, u64> {
    let out = run(
        BIN,
        &[
            "events",
            "--db",
            db,
            "--since",
            "1970-01-01",
            "--limit",
            "1000000",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut events = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let o = v.as_object_mut().unwrap();
        for volatile in ["source", "format", "id"] {
            o.remove(volatile);
        }
        // A dateless bounce's time is when it was read; its key is fixed.
        if o["dedupe_key"]
            .as_str()
            .unwrap()
            .starts_with("000000000000")
        {
            o.remove("time");
            o.remove("time_ms");
        }
        *events.entry(v.to_string()).or_default() += 1;
    }
    events
}

/// Messages in which the decoder finds no bounce: the two written here.
/// (`rebound ingest` of the directory counts one more: it reads a corpus
/// file that starts with an mbox `From ` line as an mbox, whose split-off
/// piece is no bounce; its events are the same.)
const NOT_BOUNCES: u64 = 2;

/// What `rebound ingest --format email` stores from the test's messages.
fn reference(messages: &Messages, work: &Path) -> BTreeMap<String, u64> {
    let db = work.join("reference.db").display().to_string();
    let out = run(
        BIN,
        &[
            "ingest",
            "-q",
            "--format",
            "email",
            "--db",
            &db,
            messages.dir.path().to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let not_bounces = summary["ignored"]["not a bounce"].as_u64().unwrap_or(0);
    assert!(
        not_bounces >= NOT_BOUNCES,
        "the reply and the spam are no bounces: {summary}"
    );
    assert_eq!(summary["skipped"], 0, "{summary}");
    events_of(&db)
}

fn fetch(dovecot: &Dovecot, url: &str, db: &str, extra: &[&str], password: &str) -> Output {
    Command::new(BIN)
        .args(["fetch", "-q", "--db", db, "--ca", &dovecot.ca(), url])
        .args(extra)
        .env("REBOUND_MAIL_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Panics with the events only one side has, counted.
fn assert_same_events(got: &BTreeMap<String, u64>, expected: &BTreeMap<String, u64>, what: &str) {
    if got == expected {
        return;
    }
    let only = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>| -> Vec<String> {
        a.iter()
            .filter(|(k, n)| b.get(*k) != Some(n))
            .take(5)
            .map(|(k, n)| format!("{n}x {k}"))
            .collect()
    };
    panic!(
        "{what}: {} events, expected {}\nonly stored here:\n{}\nonly expected:\n{}",
        total(got),
        total(expected),
        only(got, expected).join("\n"),
        only(expected, got).join("\n")
    );
}

fn total(events: &BTreeMap<String, u64>) -> u64 {
    events.values().sum()
}

#[test]
fn every_protocol_stores_what_ingest_stores_and_sorts_the_mailbox() {
    let Some(messages) = messages() else { return };
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let expected = reference(&messages, work.path());
    let delivered = messages.all.len() as u64;
    for (scheme, user) in [
        ("imaps", "imaps"),
        ("imap", "starttls"),
        ("pop3s", "pop3s"),
        ("pop3", "pop3"),
    ] {
        for m in &messages.all {
            dovecot.deliver(user, m);
        }
        let db = work.path().join(format!("{user}.db")).display().to_string();
        let url = dovecot.url(scheme, user);
        let out = fetch(&dovecot, &url, &db, &[], PASSWORD);
        assert!(
            out.status.success(),
            "{url}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            dovecot.log()
        );
        let pass: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(pass["messages"], delivered, "{url}: {pass}");
        assert_eq!(pass["not_bounces"], NOT_BOUNCES, "{url}: {pass}");
        let stored = events_of(&db);
        assert_eq!(total(&stored), total(&expected), "{url}: event count");
        assert_same_events(&stored, &expected, &url);
        if scheme.starts_with("imap") {
            assert_eq!(dovecot.count(user, "INBOX"), 0, "{url}");
            assert_eq!(
                dovecot.count(user, "Processed"),
                delivered - NOT_BOUNCES,
                "{url}"
            );
            assert_eq!(dovecot.count(user, "Other"), NOT_BOUNCES, "{url}");
        } else {
            // POP3 deletes the bounces and leaves the rest on the server.
            assert_eq!(dovecot.count(user, "INBOX"), NOT_BOUNCES, "{url}");
        }
        // A second pass finds only what was left, and adds nothing.
        let again = fetch(&dovecot, &url, &db, &[], PASSWORD);
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
        let pass: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(pass["inserted"], 0, "{url}: {pass}");
        assert_same_events(&events_of(&db), &expected, &format!("{url}, second pass"));
    }
}

/// Spawns `rebound fetch`, kills it with SIGKILL once it reported `after`
/// messages done, and returns how many it had reported.
fn fetch_and_kill(dovecot: &Dovecot, url: &str, db: &str, after: usize) -> usize {
    let mut child = Command::new(BIN)
        .args(["fetch", "--db", db, "--ca", &dovecot.ca(), url])
        .env("REBOUND_MAIL_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_channel(child.stderr.take().unwrap());
    let mut done = 0;
    let deadline = Instant::now() + WAIT;
    while done < after {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with("rebound: fetched ") => done += 1,
            Ok(_) => {}
            Err(e) => panic!("{url}: fetch ended or stalled after {done} messages: {e}"),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    done
}

fn line_channel(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn killed_mid_fetch_then_run_again_loses_nothing_and_doubles_nothing() {
    let Some(messages) = messages() else { return };
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let expected = reference(&messages, work.path());
    let delivered = messages.all.len() as u64;
    for (scheme, user) in [("imaps", "killed"), ("pop3s", "killedpop")] {
        for m in &messages.all {
            dovecot.deliver(user, m);
        }
        let db = work.path().join(format!("{user}.db")).display().to_string();
        let url = dovecot.url(scheme, user);
        let done = fetch_and_kill(&dovecot, &url, &db, 150);
        let partial = total(&events_of(&db));
        assert!(
            partial > 0 && partial < total(&expected),
            "{url}: killed too late? {partial}"
        );
        if scheme == "imaps" {
            // Whatever was moved had been stored first.
            let moved = dovecot.count(user, "Processed") + dovecot.count(user, "Other");
            assert!(
                moved as usize >= done,
                "{url}: {moved} moved, {done} reported"
            );
            assert_eq!(
                moved + dovecot.count(user, "INBOX"),
                delivered,
                "{url}: lost mail"
            );
        } else {
            // No QUIT, no deletion (RFC 1939): all of it is still there.
            assert_eq!(dovecot.count(user, "INBOX"), delivered, "{url}");
        }
        let out = fetch(&dovecot, &url, &db, &[], PASSWORD);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_events(
            &events_of(&db),
            &expected,
            &format!("{url}, killed and run again"),
        );
        if scheme == "imaps" {
            assert_eq!(dovecot.count(user, "INBOX"), 0, "{url}");
            assert_eq!(
                dovecot.count(user, "Processed"),
                delivered - NOT_BOUNCES,
                "{url}"
            );
            assert_eq!(dovecot.count(user, "Other"), NOT_BOUNCES, "{url}");
        } else {
            assert_eq!(dovecot.count(user, "INBOX"), NOT_BOUNCES, "{url}");
        }
    }
}

#[test]
fn a_wrong_password_a_dead_server_and_an_unknown_ca_are_clear_errors() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("errors.db").display().to_string();
    dovecot.deliver("imaps", SPAM.as_bytes());
    dovecot.deliver("pop3s", SPAM.as_bytes());
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    for (scheme, user, says) in [
        ("imaps", "imaps", "login refused"),
        ("imap", "imaps", "login refused"),
        ("pop3s", "pop3s", "refused PASS"),
        ("pop3", "pop3s", "refused PASS"),
    ] {
        let out = fetch(
            &dovecot,
            &dovecot.url(scheme, user),
            &db,
            &[],
            "not-the-password",
        );
        assert_eq!(out.status.code(), Some(77), "{scheme}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{scheme}: {}", stderr(&out));
    }

    let closed = free_port();
    let url = format!("imaps://imaps@127.0.0.1:{closed}/INBOX");
    let out = fetch(&dovecot, &url, &db, &[], PASSWORD);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));

    // Without --ca the test CA is unknown: refused before the password.
    let out = Command::new(BIN)
        .args(["fetch", "--db", &db, &dovecot.url("pop3s", "pop3s")])
        .env("REBOUND_MAIL_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));

    // No password at all: said before connecting.
    let out = Command::new(BIN)
        .args(["fetch", "--db", &db, &dovecot.url("imaps", "imaps")])
        .env_remove("REBOUND_MAIL_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("REBOUND_MAIL_PASSWORD"),
        "{}",
        stderr(&out)
    );

    // A store that cannot be opened: EX_TEMPFAIL, before any connection.
    let out = fetch(
        &dovecot,
        &dovecot.url("imaps", "imaps"),
        "/nonexistent-directory/rebound.db",
        &[],
        PASSWORD,
    );
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot open the store"),
        "{}",
        stderr(&out)
    );

    // Nothing was taken from the mailboxes.
    assert_eq!(dovecot.count("imaps", "INBOX"), 1);
    assert_eq!(dovecot.count("pop3s", "INBOX"), 1);
}

/// Waits for a `fetched` line naming a message, or panics at the deadline.
fn wait_fetched(lines: &mpsc::Receiver<String>, what: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with("rebound: fetched ") => return line,
            Ok(_) => {}
            Err(e) => panic!("no message fetched while watching {what}: {e}"),
        }
    }
}

#[test]
fn watch_picks_up_mail_delivered_after_it_started() {
    let Some(messages) = messages() else { return };
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let bounce = &messages.all[0];
    for scheme in ["imaps", "pop3s"] {
        let db = work
            .path()
            .join(format!("watch-{scheme}.db"))
            .display()
            .to_string();
        let url = dovecot.url(scheme, "watch");
        let password_file = work.path().join("password");
        std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
        let mut child = Command::new(BIN)
            .args(["fetch", "--watch", "--poll-interval", "1", "--db", &db])
            .args(["--ca", &dovecot.ca(), "--password-file"])
            .arg(&password_file)
            .arg(&url)
            .env_remove("REBOUND_MAIL_PASSWORD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let passes = line_channel(child.stdout.take().unwrap());
        let lines = line_channel(child.stderr.take().unwrap());
        // The first pass over the empty mailbox is over: from now on it
        // is waiting (IDLE, or between two polls).
        let first = passes.recv_timeout(WAIT).expect("no first pass");
        assert!(first.contains("\"messages\":0"), "{first}");
        dovecot.deliver("watch", bounce);
        let line = wait_fetched(&lines, &url);
        assert!(line.contains("-> processed"), "{line}");
        // The pass is over (for POP3: QUIT, which deletes) once its
        // summary is printed.
        let pass = passes
            .recv_timeout(WAIT)
            .expect("no pass after the message");
        assert!(pass.contains("\"messages\":1"), "{pass}");
        if scheme == "imaps" {
            // The server drops the connection (as at a restart): the
            // watcher says so, connects again and goes on.
            let kicked = run(
                "doveadm",
                &["-c", dovecot.conf.to_str().unwrap(), "kick", "watch"],
            );
            assert!(
                kicked.status.success(),
                "{}",
                String::from_utf8_lossy(&kicked.stderr)
            );
            let deadline = Instant::now() + WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = lines
                    .recv_timeout(left)
                    .expect("no word of the dropped connection");
                if line.contains("connecting again") {
                    break;
                }
            }
            dovecot.deliver("watch", &messages.all[1]);
            let line = wait_fetched(&lines, &url);
            assert!(line.contains("-> processed"), "{line}");
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(total(&events_of(&db)) > 0, "{url}: nothing stored");
        assert_eq!(dovecot.count("watch", "INBOX"), 0, "{url}");
    }
}

/// README's `[[mailboxes]]` example, pointed at this Dovecot, in the config
/// of a `rebound serve`: the server stores and sorts the mailbox by itself.
#[test]
fn serve_watches_the_mailboxes_of_its_config() {
    let Some(messages) = messages() else { return };
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("**In the server.**")
        .and_then(|i| readme[i..].find("```toml").map(|j| i + j + 7))
        .expect("the [[mailboxes]] example in README");
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let password_file = work.path().join("mail-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mailbox = example
        .replace(
            "imaps://bounces%40sender.example@mail.sender.example/INBOX",
            &dovecot.url("imaps", "served"),
        )
        .replace(
            "/etc/rebound/mail-password",
            password_file.to_str().unwrap(),
        )
        .replace("/etc/rebound/mail-ca.pem", &dovecot.ca());
    assert!(
        !mailbox.contains("sender.example"),
        "the example changed: {example}"
    );
    let config = work.path().join("serve.toml");
    std::fs::write(&config, format!("listen = \"127.0.0.1:0\"\n{mailbox}")).unwrap();
    let db = work.path().join("served.db").display().to_string();

    dovecot.deliver("served", &messages.all[0]);
    dovecot.deliver("served", HUMAN_REPLY.as_bytes());
    let mut server = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap(), "--db", &db])
        .env("REBOUND_TOKENS", "reader:read:fetch-test-reader-0123456789")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_channel(server.stderr.take().unwrap());
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    // The server logs the pass's summary once both messages are done.
    while !seen.iter().any(|l: &String| l.contains("\"messages\":2")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(e) => panic!(
                "the server did not fetch the mailbox ({e}):\n{}",
                seen.join("\n")
            ),
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        seen.iter().any(|l| l.contains("watching imaps://served@")),
        "{seen:?}"
    );
    assert_eq!(dovecot.count("served", "INBOX"), 0);
    assert_eq!(dovecot.count("served", "Processed"), 1);
    assert_eq!(dovecot.count("served", "Other"), 1);
    assert!(total(&events_of(&db)) > 0, "nothing stored");
}

/// A server that announces none of MOVE, UIDPLUS and IDLE (Dovecot told to
/// claim plain IMAP4rev1): messages are copied, flagged \\Deleted and
/// expunged instead of moved, and `--watch` polls with NOOP.
#[test]
fn a_server_without_move_uidplus_or_idle_still_gets_its_mail_sorted() {
    let Some(messages) = messages() else { return };
    let Some(dovecot) = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+\n") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("old.db").display().to_string();
    let url = dovecot.url("imaps", "imaps");
    for m in &messages.all[..20] {
        dovecot.deliver("imaps", m);
    }
    dovecot.deliver("imaps", HUMAN_REPLY.as_bytes());
    let out = fetch(&dovecot, &url, &db, &[], PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(dovecot.count("imaps", "INBOX"), 0);
    assert_eq!(dovecot.count("imaps", "Processed"), 20);
    assert_eq!(dovecot.count("imaps", "Other"), 1);

    let mut child = Command::new(BIN)
        .args(["fetch", "--watch", "--poll-interval", "1", "--db", &db])
        .args(["--ca", &dovecot.ca(), &url])
        .env("REBOUND_MAIL_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let passes = line_channel(child.stdout.take().unwrap());
    let lines = line_channel(child.stderr.take().unwrap());
    let first = passes.recv_timeout(WAIT).expect("no first pass");
    assert!(first.contains("\"messages\":0"), "{first}");
    dovecot.deliver("imaps", &messages.all[20]);
    let line = wait_fetched(&lines, &url);
    assert!(line.contains("-> processed"), "{line}");
    let pass = passes
        .recv_timeout(WAIT)
        .expect("no pass after the message");
    assert!(pass.contains("\"messages\":1"), "{pass}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dovecot.count("imaps", "INBOX"), 0);
    assert_eq!(dovecot.count("imaps", "Processed"), 21);
}
