//! The README's walk-through, run as written: every command of its
//! `## Walk-through` code block runs on `examples/`, and every fragment its
//! `# …` lines show (the pieces between the `…`) must be in that command's
//! output. Editing the README or the examples without the other fails here.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rebound");

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (command line, the output lines shown under it) of the walk-through.
fn walkthrough() -> Vec<(String, Vec<String>)> {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let section = readme
        .split("\n## Walk-through\n")
        .nth(1)
        .expect("README has a Walk-through section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the walk-through has a sh code block");
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.lines() {
        if let Some(shown) = line.strip_prefix('#') {
            let step = steps.last_mut().expect("output shown before any command");
            step.1.push(shown.trim_start().to_string());
        } else if !line.trim().is_empty() {
            steps.push((line.to_string(), Vec::new()));
        }
    }
    steps
}

/// Splits a command line as the shell would for these commands: double
/// quotes group words, `examples/*.eml` expands (sorted, as bash does).
fn words(line: &str, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    out.push(word);
    out.into_iter()
        .flat_map(|w| match w.split_once("*.") {
            Some((folder, ext)) => {
                let mut files: Vec<String> = std::fs::read_dir(dir.join(folder))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(&format!(".{ext}")))
                    .map(|n| format!("{folder}{n}"))
                    .collect();
                files.sort();
                files
            }
            None => vec![w],
        })
        .collect()
}

#[test]
fn the_readme_walkthrough_says_what_the_commands_print() {
    // A scratch directory with `examples` linked in, so relative paths read
    // as in the README and the database lands outside the repository.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repository().join("examples"), dir.path().join("examples")).unwrap();
    let steps = walkthrough();
    assert!(steps.len() >= 7, "{steps:?}");
    let mut commands = std::collections::BTreeSet::new();
    for (line, shown) in &steps {
        let args = words(line, dir.path());
        assert_eq!(args[0], "rebound", "{line}");
        commands.insert(args[1].clone());
        let out = Command::new(BIN)
            .args(&args[1..])
            .current_dir(dir.path())
            .env_remove("REBOUND_DATABASE_URL")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!shown.is_empty(), "{line}: the README shows no output");
        for fragment in shown
            .iter()
            .flat_map(|l| l.split('…'))
            .map(|f| f.split("   (").next().unwrap().trim().trim_end_matches(','))
            .filter(|f| f.len() > 1)
        {
            assert!(
                stdout.contains(fragment),
                "{line}\nthe README shows {fragment:?}, the output is:\n{stdout}"
            );
        }
    }
    for c in ["decode", "classify", "ingest", "suppressions", "events"] {
        assert!(commands.contains(c), "the walk-through has no `{c}`");
    }
}
