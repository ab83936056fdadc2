//! What `packaging/build-deb.sh` puts in the Debian package besides the
//! binary: man pages and completions generated from the CLI, the example
//! server config, and the hardened systemd unit. (Building the .deb itself
//! takes a release build and cargo-deb: the script is run by hand.)

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rebound(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "rebound {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn man_pages_cover_every_visible_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    rebound(&["man", man.to_str().unwrap()]);
    let help = rebound(&["--help"]);
    // Subcommand names as `rebound --help` lists them.
    let listed: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(
        listed.contains(&"demo") && listed.contains(&"serve"),
        "{listed:?}"
    );
    for page in
        std::iter::once("rebound".to_string()).chain(listed.iter().map(|c| format!("rebound-{c}")))
    {
        let text = std::fs::read_to_string(man.join(format!("{page}.1")))
            .unwrap_or_else(|e| panic!("{page}.1: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}.1");
        assert!(text.contains(&format!(".TH {page} 1")), "{page}.1");
    }
    // The packaging-only command stays out of the manual.
    assert!(!man.join("rebound-man.1").exists());
    let serve = std::fs::read_to_string(man.join("rebound-serve.1")).unwrap();
    assert!(
        serve.contains("config"),
        "rebound-serve.1 documents --config"
    );
}

#[test]
fn completions_know_the_subcommands_and_their_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let script = rebound(&["completions", shell]);
        for word in ["demo", "suppressions", "sender-issues", "inputs"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown shell is refused");
}

#[test]
fn the_server_config_and_unit_agree_with_the_package() {
    let root = repository();
    let manifest = std::fs::read_to_string(root.join("crates/rebound/Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let targets: Vec<String> = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[1].as_str().unwrap().to_string())
        .collect();
    assert!(targets.contains(&"usr/bin/".to_string()), "{targets:?}");
    assert!(targets.contains(&"etc/rebound/".to_string()), "{targets:?}");
    assert_eq!(
        deb["conf-files"][0].as_str(),
        Some("/etc/rebound/rebound-serve.toml")
    );
    // Every asset the repository provides exists (generated ones are the
    // script's, under target/).
    for a in deb["assets"].as_array().unwrap() {
        let source = a[0].as_str().unwrap();
        if !source.contains("target/") {
            assert!(
                root.join("crates/rebound").join(source).is_file(),
                "{source}"
            );
        }
    }

    // The config is one `rebound serve` reads, and its database lies in the
    // unit's StateDirectory (the only place the unit may write).
    let config = std::fs::read_to_string(root.join("packaging/rebound-serve.toml")).unwrap();
    let config = rebound_server::Config::from_toml(&config).expect("a valid serve config");
    assert!(config.db.starts_with("/var/lib/rebound/"), "{}", config.db);
    assert!(config.listen.ip().is_loopback(), "{}", config.listen);
    assert!(
        config.tokens.is_empty(),
        "no tokens in a world-readable file"
    );

    let unit =
        std::fs::read_to_string(root.join("packaging/debian/rebound-serve.service")).unwrap();
    let settings: Vec<(&str, &str)> = unit
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let has = |k: &str, v: &str| settings.contains(&(k, v));
    assert!(
        has(
            "ExecStart",
            "/usr/bin/rebound serve --config /etc/rebound/rebound-serve.toml"
        ),
        "{unit}"
    );
    for (k, v) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "rebound"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallFilter", "@system-service"),
    ] {
        assert!(has(k, v), "the unit lacks {k}={v}");
    }
}

/// `systemd-analyze verify` and its exposure score, where systemd is
/// installed (the unit's binary path is pointed at the test's binary).
#[test]
fn systemd_accepts_the_unit_and_scores_it_well() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze not installed");
        return;
    }
    // The fetch unit is a template: checked as one of its instances.
    for (file, name) in [
        ("rebound-serve.service", "rebound-serve.service"),
        ("rebound-fetch@.service", "rebound-fetch@bounces.service"),
    ] {
        let unit =
            std::fs::read_to_string(repository().join("packaging/debian").join(file)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, unit.replace("/usr/bin/rebound", BIN)).unwrap();
        let verify = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&path)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&verify.stderr);
        assert!(
            verify.status.success() && said.trim().is_empty(),
            "{file}: {said}"
        );

        let security = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&security.stdout);
        // "→ Overall exposure level for rebound-serve.service: 1.2 OK"
        let score: f64 = text
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .and_then(|l| l.rsplit(": ").next())
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{file}: no exposure level in:\n{text}"));
        assert!(
            score <= 2.0,
            "{file}: exposure {score} (10 is a unit with no hardening)"
        );
    }
}
