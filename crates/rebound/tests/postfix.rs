//! Rebound inside a real Postfix: bounces piped in, suppressions enforced.
//!
//! The test configures a Postfix instance of its own (a temp directory,
//! loopback ports, no chroot) for the domain `local.test`, whose one known
//! address is the bounce address `bounces@local.test`, routed by
//! `transport_maps` to a pipe(8) transport that runs this build's
//! `rebound ingest --format email -` as `nobody`. Mail from the bounce
//! address to an unknown local user is accepted, local(8) fails it, Postfix
//! writes its own bounce to the bounce address, the pipe ingests it and the
//! address is suppressed; the next message to it is refused at RCPT TO by
//! `rebound policy`, which Postfix consults through `check_policy_service`.
//! On the way, a store that cannot be written makes the pipe exit 75
//! (EX_TEMPFAIL): Postfix keeps the bounce and delivers it once the store is
//! back.
//!
//! Needs root and Postfix (`apt-get install postfix`); without them it
//! prints `SKIPPED: …` and passes, except under `CI=true`, where it fails.
//! How Postfix runs here: ../shared/notes/mail-servers-in-tests.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");
/// Every wait in this test ends by this deadline.
const WAIT: Duration = Duration::from_secs(30);

fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true: required)");
    }
    println!("SKIPPED: {why}");
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn uid_of(user: &str) -> Option<u32> {
    command_output("id", &["-u", user])?.parse().ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a command with its output in a file (Postfix's master daemon keeps
/// inherited pipes open, so a piped `output()` would never end), waiting at
/// most `WAIT`. Returns whether it succeeded and what it printed.
fn run_bounded(dir: &Path, cmd: &str, args: &[&str]) -> (bool, String) {
    let log = dir.join("command.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    let deadline = Instant::now() + WAIT;
    let ok = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (ok, std::fs::read_to_string(&log).unwrap_or_default())
}

/// A running Postfix instance; stopped when dropped, also when the test
/// fails half-way.
struct Postfix {
    conf: PathBuf,
    root: PathBuf,
}

impl Postfix {
    fn maillog(&self) -> String {
        std::fs::read_to_string(self.root.join("maillog")).unwrap_or_default()
    }

    /// Polls the maillog until `pred` holds, or panics with it.
    fn wait_log(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !pred(&self.maillog()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; maillog:\n{}",
                self.maillog()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let conf = self.conf.to_str().unwrap();
        let _ = run_bounded(&self.root, "postfix", &["-c", conf, "stop"]);
        // `stop` only signals the master: wait for it to go, so the temp
        // directory is not removed under a running queue manager.
        let pid_file = self.root.join("queue/pid/master.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
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
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `rebound policy` as a child process.
struct PolicyService {
    child: Child,
    addr: SocketAddr,
    socketmap: SocketAddr,
}

impl PolicyService {
    fn start(db: &str) -> PolicyService {
        let mut child = Command::new(BIN)
            .args(["policy", "--db", db, "--listen", "127.0.0.1:0"])
            .args(["--socketmap", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rebound policy");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (mut addr, mut socketmap) = (None, None);
        while addr.is_none() || socketmap.is_none() {
            let line = lines
                .next()
                .expect("rebound policy exited before listening")
                .unwrap();
            let a = line.rsplit(' ').next().unwrap().parse().ok();
            if line.contains("policy delegation on") {
                addr = a;
            } else if line.contains("socketmap on") {
                socketmap = a;
            }
        }
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        PolicyService {
            child,
            addr: addr.unwrap(),
            socketmap: socketmap.unwrap(),
        }
    }
}

impl Drop for PolicyService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal SMTP client: one reply (all its lines) per command.
struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    fn connect(port: u16) -> Smtp {
        let deadline = Instant::now() + WAIT;
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "Postfix never listened: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut smtp = Smtp {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let greeting = smtp.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        let ehlo = smtp.command("EHLO client.test");
        assert!(ehlo.starts_with("250"), "{ehlo}");
        smtp
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("an SMTP reply");
            assert!(n > 0, "connection closed after {all:?}");
            all.push_str(&line);
            // "250-…" continues, "250 …" ends.
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    fn command(&mut self, line: &str) -> String {
        write!(self.writer, "{line}\r\n").unwrap();
        self.reply()
    }

    /// Sends one message; returns the RCPT TO reply (and sends nothing
    /// more when it is not 250).
    fn send(&mut self, from: &str, to: &str) -> String {
        let mail = self.command(&format!("MAIL FROM:<{from}>"));
        assert!(mail.starts_with("250"), "{mail}");
        let rcpt = self.command(&format!("RCPT TO:<{to}>"));
        if !rcpt.starts_with("250") {
            let _ = self.command("RSET");
            return rcpt;
        }
        let data = self.command("DATA");
        assert!(data.starts_with("354"), "{data}");
        let body = format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: newsletter\r\nMessage-ID: <{}.{}@local.test>\r\n\r\nHello.\r\n.",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        );
        let queued = self.command(&body);
        assert!(queued.starts_with("250"), "{queued}");
        rcpt
    }
}

fn suppression_of(db: &str, address: &str) -> String {
    let out = Command::new(BIN)
        .args(["suppressions", "--db", db, "check", address])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

#[test]
fn postfix_bounces_suppress_and_the_policy_service_refuses() {
    if !Path::new("/usr/sbin/postfix").exists() {
        return skip_or_fail("Postfix is not installed (apt-get install postfix)");
    }
    if uid_of("root") != command_output("id", &["-u"]).and_then(|u| u.parse().ok()) {
        return skip_or_fail("starting Postfix needs root");
    }
    let (Some(nobody), Some(postfix_uid)) = (uid_of("nobody"), uid_of("postfix")) else {
        return skip_or_fail("no nobody or postfix user");
    };

    let tmp = tempfile::Builder::new()
        .prefix("rebound-postfix")
        .tempdir()
        .unwrap();
    let root = tmp.path().to_path_buf();
    // pipe(8) runs rebound as nobody, which must reach the ledger.
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ledger_dir = root.join("ledger");
    std::fs::create_dir(&ledger_dir).unwrap();
    let db_path = ledger_dir.join("ledger.db");
    let db = db_path.to_str().unwrap().to_string();
    // Create the schema, then hand the ledger to nobody; SQLite gives the
    // WAL files a root process creates later the database file's owner.
    let out = Command::new(BIN)
        .args(["suppressions", "--db", &db, "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    chown_tree(&ledger_dir, nobody);

    let policy = PolicyService::start(&db);
    let smtp_port = free_port();
    // A second smtpd that asks the socketmap table instead.
    let map_port = free_port();
    let conf = root.join("conf");
    for d in ["conf", "queue", "data"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    std::os::unix::fs::chown(root.join("data"), Some(postfix_uid), None).unwrap();
    let r = root.to_str().unwrap();
    std::fs::write(
        conf.join("main.cf"),
        format!(
            "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
mail_owner = postfix
myhostname = mx.local.test
mydomain = local.test
myorigin = local.test
mydestination = local.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Accept any local part, so an unknown user is a bounce after acceptance
# (local(8): unknown user) rather than a refusal at RCPT TO.
local_recipient_maps =
alias_maps =
alias_database =
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
transport_maps = inline:{{ bounces@local.test=rebound: }}
smtpd_recipient_restrictions = check_policy_service inet:{policy}, permit_mynetworks, reject_unauth_destination
biff = no
smtputf8_enable = no
",
            policy = policy.addr
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("master.cf"),
        format!(
            "{smtp_port} inet n - n - - smtpd
{map_port} inet n - n - - smtpd
  -o smtpd_recipient_restrictions=check_recipient_access,socketmap:inet:{socketmap}:suppressed,permit_mynetworks,reject_unauth_destination
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
rebound   unix  -       n       n       -       -       pipe
  flags=Rq user=nobody argv={BIN} ingest --db {db} --format email --quiet -
",
            socketmap = policy.socketmap
        ),
    )
    .unwrap();
    let conf_s = conf.to_str().unwrap();
    let (ok, out) = run_bounded(&root, "postfix", &["-c", conf_s, "start"]);
    let postfix = Postfix {
        conf: conf.clone(),
        root: root.clone(),
    };
    assert!(ok, "postfix start failed: {out}\n{}", postfix.maillog());

    let dead = "nosuch@local.test";
    let mut smtp = Smtp::connect(smtp_port);

    // 1. The store cannot be written (the ledger belongs to root, the pipe
    //    runs as nobody): rebound exits 75 and Postfix keeps the bounce.
    std::os::unix::fs::chown(&db_path, Some(0), None).unwrap();
    let rcpt = smtp.send("bounces@local.test", dead);
    assert!(rcpt.starts_with("250"), "{rcpt}");
    postfix.wait_log("local(8) to bounce the message", |l| {
        l.contains("to=<nosuch@local.test>, relay=local") && l.contains("status=bounced")
    });
    postfix.wait_log("the pipe to defer the bounce", |l| {
        l.lines()
            .any(|x| x.contains("relay=rebound") && x.contains("status=deferred"))
    });
    assert_eq!(suppression_of(&db, dead), format!("{dead}\tok"));

    // 2. The store is back: a queue flush delivers the bounce through the
    //    pipe and the address is suppressed.
    // (The WAL files a root process made meanwhile took the database
    // file's owner then, root: they are handed back too.)
    chown_tree(&ledger_dir, nobody);
    let (ok, out) = run_bounded(&root, "postqueue", &["-c", conf_s, "-f"]);
    assert!(ok, "postqueue -f: {out}");
    let ls = command_output("ls", &["-ln", ledger_dir.to_str().unwrap()]).unwrap_or_default();
    postfix.wait_log(
        &format!("the pipe to deliver the bounce (ledger: {ls})"),
        |l| {
            l.lines()
                .any(|x| x.contains("relay=rebound") && x.contains("status=sent"))
        },
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let state = suppression_of(&db, dead);
        if state.starts_with(&format!("{dead}\tsuppressed\thardbounce")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not suppressed: {state}; maillog:\n{}",
            postfix.maillog()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // 3. The next message to it is refused at RCPT TO by the policy
    //    service; other recipients still pass.
    // REJECT takes Postfix's access_map_reject_code, 554 by default.
    let rcpt = smtp.send("news@local.test", dead);
    assert!(
        rcpt.starts_with("554 5.1.1 <nosuch@local.test>: Recipient address rejected: <nosuch@local.test>: suppressed by Rebound (hardbounce, since "),
        "{rcpt}"
    );
    let rcpt = smtp.send("news@local.test", "someone.else@local.test");
    assert!(rcpt.starts_with("250"), "{rcpt}");

    // The same through the socketmap table and check_recipient_access
    // (whose own code for REJECT is 554 too).
    let mut via_map = Smtp::connect(map_port);
    let rcpt = via_map.send("news@local.test", dead);
    assert!(
        rcpt.starts_with("554 5.1.1 <nosuch@local.test>: Recipient address rejected: <nosuch@local.test>: suppressed by Rebound (hardbounce, since "),
        "{rcpt}"
    );
    let rcpt = via_map.send("news@local.test", "someone.else@local.test");
    assert!(rcpt.starts_with("250"), "{rcpt}");

    // 4. With the policy service gone, Postfix defers (4xx): fail closed.
    drop(policy);
    let rcpt = smtp.send("news@local.test", dead);
    assert!(rcpt.starts_with("451 4.3.5"), "{rcpt}");
    let _ = smtp.command("QUIT");
    let rcpt = via_map.send("news@local.test", dead);
    assert!(rcpt.starts_with("451 4.3.5"), "{rcpt}");
    let _ = via_map.command("QUIT");

    let mut log = String::new();
    let _ = std::fs::File::open(root.join("maillog")).and_then(|mut f| f.read_to_string(&mut log));
    assert!(log.contains("suppressed by Rebound"), "{log}");
    drop(postfix);
}

/// The exit codes pipe(8) reads, without Postfix: 0 for anything read
/// (bounces stored, other messages counted), 75 when the store is down.
#[test]
fn ingest_from_a_pipe_exits_as_postfix_expects() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let db = db.to_str().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let bounce = std::fs::read(examples.join("postfix-user-unknown.eml")).unwrap();
    let pipe = |db: &str, input: &[u8]| {
        let mut child = Command::new(BIN)
            .args(["ingest", "--db", db, "--format", "email", "--quiet", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        let summary: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code(), summary)
    };
    let (code, summary) = pipe(db, &bounce);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["inserted"], 1);
    assert_eq!(
        suppression_of(db, "old.account@mail.example.net"),
        "old.account@mail.example.net\tsuppressed\thardbounce\tuserunknown"
    );
    // A message that is no bounce (a reply to the bounce address): read,
    // counted, nothing stored, and not bounced back by Postfix.
    let reply = b"From: someone@example.org\r\nTo: bounces@local.test\r\nSubject: Re: your newsletter\r\n\r\nPlease stop.\r\n";
    let (code, summary) = pipe(db, reply);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["inserted"], 0);
    assert_eq!(summary["ignored"]["not a bounce"], 1, "{summary}");
    // Binary junk: nothing found in it either, still 0.
    let (code, summary) = pipe(db, &[0, 159, 146, 150, 255]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ignored"]["not a bounce"], 1, "{summary}");
    // Larger than a message may be: skipped (counted), still 0.
    let huge = vec![b'a'; rebound_decode::input::MAX_MESSAGE_BYTES + 1];
    let (code, summary) = pipe(db, &huge);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    // The store cannot be opened: EX_TEMPFAIL, so Postfix keeps the bounce.
    let missing = dir.path().join("missing/ledger.db");
    let (code, _) = pipe(missing.to_str().unwrap(), &bounce);
    assert_eq!(code, Some(75));
    let (code, _) = pipe("postgres://rebound@127.0.0.1:1/rebound", &bounce);
    assert_eq!(code, Some(75));
    // A policy file that cannot be read is a configuration error, which
    // pipe(8) also retries (EX_CONFIG) rather than bouncing the bounce.
    let out = Command::new(BIN)
        .args(["ingest", "--db", db, "--format", "email", "--policy"])
        .arg(dir.path().join("no-such-policy.toml"))
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
}
