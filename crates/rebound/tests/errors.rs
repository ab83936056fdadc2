//! Every subcommand that takes a path, given one that does not exist: the
//! error names the path and the operation, not just the OS's reason.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

/// Extra environment variables for one run.
type Env<'a> = &'a [(&'a str, &'a str)];

/// Runs `rebound ARGS` and returns (exit code, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("REBOUND_DATABASE_URL")
        .output()
        .expect("run rebound");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_path_is_named_with_the_operation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("errors.db");
    let db = db.to_str().unwrap();
    let missing = dir.path().join("no-such-dir");
    let m = |name: &str| missing.join(name).to_str().unwrap().to_string();
    let (eml, corpus, log, rules, html) = (
        m("bounce.eml"),
        m("corpus"),
        m("mail.log"),
        m("rules.toml"),
        m("report.html"),
    );
    let (config, policy, list, store) = (
        m("serve.toml"),
        m("policy.toml"),
        m("list.csv"),
        m("store.db"),
    );
    let tokens = [("REBOUND_TOKENS", "t:read:0123456789abcdef0123")];
    // (arguments, the path the message must name, the operation, environment)
    let cases: Vec<(Vec<&str>, &str, &str, Env)> = vec![
        (vec!["decode", &eml], &eml, "cannot read", &[]),
        (vec!["conformance", &corpus], &corpus, "cannot read", &[]),
        (vec!["bench", &eml], &eml, "cannot read", &[]),
        (vec!["ingest", "--db", db, &log], &log, "cannot read", &[]),
        (
            vec!["ingest", "--db", db, "--policy", &policy, &log],
            &policy,
            "cannot read",
            &[],
        ),
        (
            vec!["classify", "--rules", &rules, "550 5.1.1 no"],
            &rules,
            "cannot load rules from",
            &[],
        ),
        (
            vec!["report", "--db", db, "--html", &html],
            &html,
            "cannot write",
            &[],
        ),
        (
            vec!["report", "--db", db, "--config", &config],
            &config,
            "cannot read",
            &[],
        ),
        (
            vec!["serve", "--config", &config],
            &config,
            "cannot read",
            &[],
        ),
        (
            vec![
                "serve",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                "--policy",
                &policy,
            ],
            &policy,
            "cannot read",
            &tokens,
        ),
        (
            vec![
                "serve",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                "--rules",
                &rules,
            ],
            &rules,
            "cannot read",
            &tokens,
        ),
        (
            vec!["suppressions", "--db", db, "import", &list],
            &list,
            "cannot read",
            &[],
        ),
        (
            vec!["events", "--db", &store],
            &store,
            "cannot open the store",
            &[],
        ),
        (
            vec!["suppressions", "--db", &store, "list"],
            &store,
            "cannot open the store",
            &[],
        ),
    ];
    for (args, path, operation, env) in cases {
        let (code, stderr) = run(&args, env);
        assert!(
            code.is_some_and(|c| c != 0),
            "rebound {args:?} should fail, exited {code:?}: {stderr}"
        );
        let line = stderr
            .lines()
            .find(|l| l.contains(path))
            .unwrap_or_else(|| panic!("rebound {args:?}: no line names {path}:\n{stderr}"));
        assert!(
            line.contains(&format!("{operation} {path}")),
            "rebound {args:?}: {line:?} does not say `{operation}` for {path}"
        );
        assert!(
            line.contains("No such file or directory") || line.contains("unable to open"),
            "rebound {args:?}: {line:?} does not give the reason"
        );
    }
}
