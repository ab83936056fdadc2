//! `rebound reclassify` through the real binary, on SQLite and (when
//! `REBOUND_TEST_POSTGRES_URL` is set; required in CI) PostgreSQL: a ledger
//! judged by the built-in rules, a user rule file that changes two
//! wordings, a dry run that changes nothing, then `--apply`; and a run
//! killed with SIGKILL that, run again, ends where an uninterrupted run
//! does.

mod common;

use rebound_ledger::{AuditEntry, Store};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

/// A fresh store URL per test: a SQLite file, or a fresh PostgreSQL schema.
struct Db {
    url: String,
    pg: Option<(String, String)>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            let _ = rebound_ledger::PgStore::drop_schema(base, schema);
        }
    }
}

fn sqlite_db(dir: &Path, name: &str) -> Db {
    Db {
        url: dir.join(name).to_str().unwrap().to_string(),
        pg: None,
    }
}

fn postgres_db(tag: &str) -> Option<Db> {
    match std::env::var("REBOUND_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("rebound_reclassify_{tag}_{}", std::process::id());
            let sep = if base.contains('?') { '&' } else { '?' };
            let _ = rebound_ledger::PgStore::drop_schema(&base, &schema);
            Some(Db {
                url: format!("{base}{sep}schema={schema}"),
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

fn rebound(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rebound {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ------------------------------------------------------ the issue's test

/// A wording the built-in rules cannot place (`onhold`, no suppression)
/// and the user file calls a dead address.
const RETIRED: &str = "550 5.0.0 Recipient address rejected: mailbox retired by acme";
/// A wording the built-in rules read as a dead address ("user unknown",
/// 5.1.1) and the user file calls a block of the sender.
const DISGUISED: &str =
    "550 5.1.1 Recipient address rejected: User unknown in relay recipient table (acme-block-7)";

const USER_RULES: &str = r#"
[[rule]]
id = "acme-retired"
reason = "userunknown"
phrases = ["mailbox retired by acme"]

[[rule]]
id = "acme-block"
reason = "blocked"
phrases = ["acme-block-7"]
"#;

/// One Postfix bounce line per (day, local part, reply), RFC 3339 dated.
fn postfix_log(lines: &[(u32, &str, &str)]) -> String {
    let mut out = String::new();
    for (day, local, reply) in lines {
        out.push_str(&format!(
            "2026-11-{day:02}T10:15:00+00:00 mx1 postfix/smtp[2231]: Q{day}{local}: to=<{local}@acme.example>, relay=mx.acme.example[192.0.2.25]:25, delay=3.2, delays=0.05/0.01/3/0.14, dsn=5.0.0, status=bounced (host mx.acme.example[192.0.2.25] said: {reply} (in reply to RCPT TO command))\n"
        ));
    }
    out
}

fn suppression_of(store: &mut dyn Store, address: &str) -> Option<(String, String)> {
    store
        .check(&[address.to_string()])
        .unwrap()
        .remove(0)
        .map(|s| (s.reason, s.created_by))
}

/// Everything a run could change, for "nothing changed" comparisons.
fn snapshot(store: &mut dyn Store) -> String {
    let events = store
        .events(&rebound_ledger::EventQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    format!(
        "{}\n{}\n{}\n{}\n{}",
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&store.suppressions(None).unwrap()).unwrap(),
        serde_json::to_string(&store.audit(None, 1000).unwrap()).unwrap(),
        serde_json::to_string(&store.sender_issues(None).unwrap()).unwrap(),
        serde_json::to_string(&store.verdict_changes(None, 1000).unwrap()).unwrap(),
    )
}

fn reclassify_follows_the_users_rules(db: &Db, dir: &Path) {
    let log = dir.join("bounces.log");
    // alice: the retired wording. bob: the disguised block (suppressed by
    // the policy at ingest). carol: the disguised block too, but her
    // suppression is a manual one. dave: the retired wording, before a
    // manual lift.
    std::fs::write(
        &log,
        postfix_log(&[
            (1, "alice", RETIRED),
            (2, "bob", DISGUISED),
            (3, "carol", DISGUISED),
            (4, "dave", RETIRED),
        ]),
    )
    .unwrap();
    rebound(&["ingest", "--quiet", "--db", &db.url, log.to_str().unwrap()]);
    let rules = dir.join("acme.toml");
    std::fs::write(&rules, USER_RULES).unwrap();

    let builtin = rebound_classify::builtin_rules_id().to_string();
    let user = rebound_classify::Classifier::from_user_file(&rules)
        .unwrap()
        .id()
        .to_string();
    assert_ne!(builtin, user);
    {
        let mut store = rebound_ledger::open(&db.url).unwrap();
        assert_eq!(
            suppression_of(&mut *store, "bob@acme.example"),
            Some(("hardbounce".into(), "policy".into()))
        );
        // carol: the policy's suppression replaced by a manual one.
        assert!(
            store
                .remove_suppression("carol@acme.example", "ops", "checked by hand")
                .unwrap()
        );
        store
            .add_suppressions(
                &[rebound_ledger::ManualSuppression {
                    address: "carol@acme.example".into(),
                    reason: "manual".into(),
                    detail: "asked to stop".into(),
                }],
                "ops",
            )
            .unwrap();
        // dave: suppressed and lifted by hand, so his old bounce no longer
        // counts whatever the rules say of it.
        store
            .add_suppressions(
                &[rebound_ledger::ManualSuppression {
                    address: "dave@acme.example".into(),
                    reason: "manual".into(),
                    detail: String::new(),
                }],
                "ops",
            )
            .unwrap();
        assert!(
            store
                .remove_suppression("dave@acme.example", "ops", "wrongly added")
                .unwrap()
        );
        for e in store
            .events(&rebound_ledger::EventQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap()
        {
            assert_eq!(e.event.evidence.rules_id.as_deref(), Some(builtin.as_str()));
            assert!(e.event.evidence.recorded);
        }
    }

    // The dry run reports the difference and changes nothing.
    let before = snapshot(&mut *rebound_ledger::open(&db.url).unwrap());
    let out = rebound(&[
        "reclassify",
        "--quiet",
        "--json",
        "--db",
        &db.url,
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let dry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dry["events"], 4);
    assert_eq!(dry["changed"], 4, "{dry}");
    assert_eq!(dry["applied"], false);
    // alice now dead; dave too but lifted by hand; bob's policy
    // suppression goes; carol's is manual.
    assert_eq!(
        dry["suppressions_added"],
        serde_json::json!(["alice@acme.example"])
    );
    assert_eq!(
        dry["suppressions_lifted"],
        serde_json::json!(["bob@acme.example"])
    );
    assert_eq!(dry["transitions"]["onhold → userunknown"], 2);
    assert_eq!(dry["transitions"]["userunknown → blocked"], 2);
    assert_eq!(dry["by_rule"]["rule acme-retired"], 2);
    assert_eq!(dry["by_rule"]["rule acme-block"], 2);
    let after_dry = snapshot(&mut *rebound_ledger::open(&db.url).unwrap());
    assert_eq!(before, after_dry, "the dry run changed the store");

    // The text output says the same, addresses included.
    let out = rebound(&[
        "reclassify",
        "--quiet",
        "--db",
        &db.url,
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("suppressions to be added: 1\n  alice@acme.example"),
        "{text}"
    );
    assert!(
        text.contains("suppressions to be lifted: 1\n  bob@acme.example"),
        "{text}"
    );

    // Applied.
    let out = rebound(&[
        "reclassify",
        "--quiet",
        "--json",
        "--apply",
        "--db",
        &db.url,
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let applied: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(applied["suppressions_added"], dry["suppressions_added"]);
    assert_eq!(applied["suppressions_lifted"], dry["suppressions_lifted"]);
    assert_eq!(applied["changed"], 4);

    let mut store = rebound_ledger::open(&db.url).unwrap();
    assert_eq!(
        suppression_of(&mut *store, "alice@acme.example"),
        Some(("hardbounce".into(), "policy".into()))
    );
    assert_eq!(suppression_of(&mut *store, "bob@acme.example"), None);
    assert_eq!(
        suppression_of(&mut *store, "carol@acme.example"),
        Some(("manual".into(), "ops".into()))
    );
    assert_eq!(suppression_of(&mut *store, "dave@acme.example"), None);
    // The blocks are the sender's now.
    let issues = store.sender_issues(None).unwrap();
    assert_eq!(issues.iter().map(|i| i.count).sum::<i64>(), 2, "{issues:?}");
    assert!(issues.iter().all(|i| i.reason == "blocked"));

    // The audit trail names the run and both rule ids.
    let note = format!("rules {builtin} → {user}");
    let by = |addr: &str, store: &mut dyn Store| -> Vec<AuditEntry> {
        store
            .audit(Some(addr), 10)
            .unwrap()
            .into_iter()
            .filter(|a| a.actor == "reclassify")
            .collect()
    };
    let alice = by("alice@acme.example", &mut *store);
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert_eq!(
        (
            alice[0].action.as_str(),
            alice[0].reason.as_str(),
            &alice[0].note
        ),
        ("suppress", "hardbounce", &note)
    );
    let bob = by("bob@acme.example", &mut *store);
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert_eq!(
        (bob[0].action.as_str(), bob[0].reason.as_str(), &bob[0].note),
        ("remove", "hardbounce", &note)
    );
    assert!(by("carol@acme.example", &mut *store).is_empty());
    assert!(by("dave@acme.example", &mut *store).is_empty());
    // Every changed verdict is recorded with both ids.
    let changes = store.verdict_changes(None, 100).unwrap();
    assert_eq!(changes.len(), 4);
    for c in &changes {
        assert_eq!(c.old_rules_id.as_deref(), Some(builtin.as_str()));
        assert_eq!(c.new_rules_id, user);
        assert!(c.decided_by == "rule acme-retired" || c.decided_by == "rule acme-block");
    }
    // Every event is now judged by the user's rules.
    for e in store
        .events(&rebound_ledger::EventQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap()
    {
        assert_eq!(e.event.evidence.rules_id.as_deref(), Some(user.as_str()));
    }
    drop(store);

    // Nothing is left to do with the same rules.
    let out = rebound(&[
        "reclassify",
        "--quiet",
        "--json",
        "--apply",
        "--db",
        &db.url,
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (again["events"].clone(), again["changed"].clone()),
        (0.into(), 0.into())
    );

    // Back to the built-in rules: bob is dead again, alice is not.
    let out = rebound(&[
        "reclassify",
        "--quiet",
        "--json",
        "--apply",
        "--db",
        &db.url,
    ]);
    let back: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        back["suppressions_added"],
        serde_json::json!(["bob@acme.example"])
    );
    assert_eq!(
        back["suppressions_lifted"],
        serde_json::json!(["alice@acme.example"])
    );
}

#[test]
fn reclassify_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path(), "ledger.db");
    reclassify_follows_the_users_rules(&db, dir.path());
}

#[test]
fn reclassify_postgres() {
    let Some(db) = postgres_db("issue") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    reclassify_follows_the_users_rules(&db, dir.path());
}

// ------------------------------------------------------------- kill -9

const N: u64 = 20_000;
const BATCH: u64 = 100;

/// Every synthetic "user unknown" becomes a block of the sender: each one
/// lifts a suppression.
const FLIP_RULES: &str = r#"
[[rule]]
id = "virtual-table-is-a-block"
reason = "blocked"
phrases = ["user unknown in virtual mailbox table"]
"#;

fn ingest_synth(db: &Db, dir: &Path) {
    let log = dir.join("synth.log");
    if !log.exists() {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
        rebound_ledger::synth::postfix_lines(0, N, &mut f).unwrap();
        f.flush().unwrap();
    }
    rebound(&[
        "ingest",
        "--quiet",
        "--year",
        "2026",
        "--db",
        &db.url,
        log.to_str().unwrap(),
    ]);
}

/// The state a run leaves: every event's verdict, class and rules id, the
/// suppressions, and the audit rows of the run (without times).
fn final_state(url: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut store = rebound_ledger::open(url).unwrap();
    let mut events: Vec<String> = store
        .events(&rebound_ledger::EventQuery {
            limit: N as usize + 10,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| {
            format!(
                "{} {} {} {:?}",
                e.event.recipient,
                e.event.verdict.reason,
                e.policy_class,
                e.event.evidence.rules_id
            )
        })
        .collect();
    events.sort();
    let mut suppressions: Vec<String> = store
        .suppressions(None)
        .unwrap()
        .into_iter()
        .map(|s| format!("{} {} {}", s.address, s.reason, s.event_count))
        .collect();
    suppressions.sort();
    let mut audit: Vec<String> = store
        .audit(None, usize::MAX >> 1)
        .unwrap()
        .into_iter()
        .filter(|a| a.actor == "reclassify")
        .map(|a| format!("{} {} {} {}", a.address, a.action, a.reason, a.note))
        .collect();
    audit.sort();
    (events, suppressions, audit)
}

fn stamped(url: &str, rules_id: &str) -> u64 {
    let mut store = rebound_ledger::open(url).unwrap();
    store
        .events(&rebound_ledger::EventQuery {
            limit: N as usize + 10,
            ..Default::default()
        })
        .unwrap()
        .iter()
        .filter(|e| e.event.evidence.rules_id.as_deref() == Some(rules_id))
        .count() as u64
}

fn kill_mid_reclassify_then_resume(killed: &Db, whole: &Db, dir: &Path) {
    ingest_synth(killed, dir);
    ingest_synth(whole, dir);
    let rules = dir.join("flip.toml");
    std::fs::write(&rules, FLIP_RULES).unwrap();
    let rules = rules.to_str().unwrap();
    let user = rebound_classify::Classifier::from_user_file(rules)
        .unwrap()
        .id()
        .to_string();
    let batch = BATCH.to_string();
    let args = |url: &str| -> Vec<String> {
        [
            "reclassify",
            "--apply",
            "--batch-size",
            &batch,
            "--db",
            url,
            "--rules",
            rules,
        ]
        .map(String::from)
        .to_vec()
    };

    let mut child = Command::new(BIN)
        .args(args(&killed.url))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    // Two batches committed, then SIGKILL.
    for _ in 0..2 {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "reclassify ended early"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let done = stamped(&killed.url, &user);
    assert!(done >= 2 * BATCH, "{done} events stamped after two batches");
    assert!(done < N, "the run was not interrupted ({done} events)");
    // Every synthetic address has one event, so a batch is BATCH events:
    // a half-applied batch would show here.
    assert_eq!(done % BATCH, 0, "a half batch landed: {done} events");
    // What landed is consistent: a stamped "user unknown" has lost its
    // suppression, an unstamped one still has it.
    {
        let mut store = rebound_ledger::open(&killed.url).unwrap();
        let events = store
            .events(&rebound_ledger::EventQuery {
                limit: N as usize + 10,
                ..Default::default()
            })
            .unwrap();
        let mut lifted = 0;
        for e in events.iter().filter(|e| {
            e.event
                .text
                .contains("User unknown in virtual mailbox table")
        }) {
            let now = e.event.evidence.rules_id.as_deref() == Some(user.as_str());
            let suppressed = suppression_of(&mut *store, &e.event.recipient).is_some();
            assert_eq!(suppressed, !now, "{}", e.event.recipient);
            lifted += u64::from(now);
        }
        assert!(lifted > 0);
    }

    // Run again: it finishes the job.
    rebound(
        &args(&killed.url)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    rebound(
        &args(&whole.url)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let (ke, ks, ka) = final_state(&killed.url);
    let (we, ws, wa) = final_state(&whole.url);
    assert_eq!(ke, we, "events differ");
    assert_eq!(ks, ws, "suppressions differ");
    assert_eq!(ka, wa, "audit differs");
    // 1 in 20 synthetic events is a "user unknown", each lifted once.
    let hard = (0..N)
        .filter(|&i| rebound_ledger::synth::kind(i) == rebound_ledger::synth::Kind::UserUnknown)
        .count();
    assert_eq!(wa.len(), hard);
    assert!(wa.iter().all(|a| a.contains(" remove hardbounce ")));
    assert!(ws.is_empty(), "{ws:?}");
}

#[test]
fn kill_9_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let killed = sqlite_db(dir.path(), "killed.db");
    let whole = sqlite_db(dir.path(), "whole.db");
    kill_mid_reclassify_then_resume(&killed, &whole, dir.path());
}

#[test]
fn kill_9_postgres() {
    let (Some(killed), Some(whole)) = (postgres_db("killed"), postgres_db("whole")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    kill_mid_reclassify_then_resume(&killed, &whole, dir.path());
}

// ------------------------------------------------------------ rebound rules

fn rebound_status(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn rules_list_check_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("acme.toml");
    std::fs::write(&good, USER_RULES).unwrap();
    let good = good.to_str().unwrap();

    // list: the id is the built-in one plus the file's, as the classifier
    // computes it; the file's two rules are counted.
    let (code, out) = rebound_status(&["rules", "list", "--json", "--rules", good]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = rebound_classify::Classifier::from_user_file(good)
        .unwrap()
        .id()
        .to_string();
    assert_eq!(v["rules_id"], id.as_str());
    assert!(id.starts_with(&format!("{}+", rebound_classify::builtin_rules_id())));
    assert_eq!(v["user"][0]["rules"], 2);
    let builtin_total: u64 = v["builtin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rules"].as_u64().unwrap())
        .sum();
    assert_eq!(v["rules"].as_u64().unwrap(), builtin_total + 2);

    // check: a clean file passes.
    assert_eq!(
        rebound_status(&["rules", "check", good]),
        (0, format!("{good}: ok\n"))
    );
    // Every kind of problem, each on its line.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"wide\"\nreason = \"userunknown\"\nphrases = [\"retired\"]\n\n\
         [[rule]]\nid = \"narrow\"\nreason = \"dead\"\nphrases = [\"mailbox retired by acme\"]\n\n\
         [[rule]]\nid = \"wide\"\nreason = \"blocked\"\nphrases = [\"x\"]\n",
    )
    .unwrap();
    let (code, out) = rebound_status(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].contains(":8: error: unknown reason \"dead\""),
        "{out}"
    );
    assert!(
        lines[1].contains(":9: warning: rule narrow: phrase \"mailbox retired by acme\" can never win: rule wide (line 2)"),
        "{out}"
    );
    assert!(
        lines[2].contains(":12: error: duplicate rule id \"wide\" (first at line 2)"),
        "{out}"
    );
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "# a comment\n\n[[rule]\nid = 1\n").unwrap();
    let (code, out) = rebound_status(&["rules", "check", broken.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains(":3: error: invalid TOML"), "{out}");

    // explain: the user's rule and the built-in one both hold; the user's
    // is tried first and wins.
    let (code, out) = rebound_status(&["rules", "explain", "--json", "--rules", good, DISGUISED]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let m = v["matches"].as_array().unwrap();
    assert_eq!(m[0]["id"], "acme-block");
    assert_eq!(m[0]["won"], true);
    assert!(
        m[1..]
            .iter()
            .any(|r| r["reason"] == "userunknown" && r["tier"] == "generic" && r["won"] == false),
        "{out}"
    );
    assert_eq!(v["verdict"]["reason"], "blocked");
    // Without the file the built-in rule wins.
    let (_, out) = rebound_status(&["rules", "explain", "--json", DISGUISED]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["matches"][0]["won"], true);
    assert_eq!(v["matches"][0]["reason"], "userunknown");
}

// ------------------------------------------------------------ SIGHUP

#[test]
fn serve_reloads_rules_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("acme.toml");
    std::fs::write(&rules, USER_RULES).unwrap();
    let id_of = |p: &Path| {
        rebound_classify::Classifier::from_user_file(p)
            .unwrap()
            .id()
            .to_string()
    };
    let first = id_of(&rules);
    let db = dir.path().join("ledger.db");
    let serve =
        common::Serve::start_with_args(db.to_str().unwrap(), &["--rules", rules.to_str().unwrap()]);
    let health = |s: &common::Serve| s.req("GET", "/healthz", "", b"").json()["rules_id"].clone();
    assert_eq!(health(&serve), first.as_str());
    let hup = |s: &common::Serve| {
        let ok = Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    // Polls of the server's own answer and log, bounded in number.
    let until = |what: &dyn Fn() -> bool| {
        for _ in 0..1000 {
            if what() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the server never reloaded: {}", serve.log.lock().unwrap());
    };

    std::fs::write(&rules, FLIP_RULES).unwrap();
    let second = id_of(&rules);
    assert_ne!(first, second);
    hup(&serve);
    until(&|| health(&serve) == second.as_str());
    // The new rules answer before the server has written its log line (and
    // before the test's reader has seen it): wait for the line too.
    let reloaded = format!("rules reloaded: {second}");
    until(&|| serve.log.lock().unwrap().contains(&reloaded));

    // A broken file: refused, the rules in use stay, the server lives on.
    std::fs::write(&rules, "[[rule]\n").unwrap();
    hup(&serve);
    until(&|| serve.log.lock().unwrap().contains("stay"));
    assert_eq!(health(&serve), second.as_str());
}

// ------------------------------------------ ingest judges by the same rules

/// A minimal RFC 3464 bounce of `recipient` with `reply` as its diagnostic.
fn dsn_email(recipient: &str, reply: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx1.sender.example\r\nTo: news@sender.example\r\n\
         Date: Mon, 23 Nov 2026 10:15:00 +0000\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <dsn-{recipient}@mx1.sender.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx1.sender.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.0.0\r\n\
         Remote-MTA: dns; mx.acme.example\r\nDiagnostic-Code: smtp; {reply}\r\n\r\n--b--\r\n"
    )
}

/// `rebound ingest --rules FILE` judges log lines and bounce emails by the
/// user's rules, and stamps them with those rules' id: a reclassify with
/// the same file then has nothing to change.
#[test]
fn ingest_judges_by_the_users_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path(), "ingest-rules.db");
    let rules = dir.path().join("acme.toml");
    std::fs::write(&rules, USER_RULES).unwrap();
    let user = rebound_classify::Classifier::from_user_file(&rules)
        .unwrap()
        .id()
        .to_string();
    let log = dir.path().join("mail.log");
    std::fs::write(
        &log,
        postfix_log(&[(2, "alice", RETIRED), (3, "bob", DISGUISED)]),
    )
    .unwrap();
    let eml = dir.path().join("bounce.eml");
    std::fs::write(&eml, dsn_email("carol@acme.example", RETIRED)).unwrap();
    let r = rules.to_str().unwrap();
    for input in [&log, &eml] {
        rebound(&[
            "ingest",
            "--db",
            &db.url,
            "--rules",
            r,
            "-q",
            input.to_str().unwrap(),
        ]);
    }
    let mut store = rebound_ledger::open(&db.url).unwrap();
    // By the built-in rules alice and carol would be `onhold` (kept) and
    // bob a dead address; the user file says the opposite.
    assert_eq!(
        suppression_of(&mut *store, "alice@acme.example").map(|s| s.0),
        Some("hardbounce".to_string())
    );
    assert_eq!(
        suppression_of(&mut *store, "carol@acme.example").map(|s| s.0),
        Some("hardbounce".to_string())
    );
    assert_eq!(suppression_of(&mut *store, "bob@acme.example"), None);
    let events = store
        .events(&rebound_ledger::EventQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(events.len(), 3);
    for e in &events {
        assert_eq!(
            e.event.evidence.rules_id.as_deref(),
            Some(user.as_str()),
            "{e:?}"
        );
    }
    let out = rebound(&["reclassify", "--db", &db.url, "--rules", r, "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["changed"], 0, "{summary}");
}
