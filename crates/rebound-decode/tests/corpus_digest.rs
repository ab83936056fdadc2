//! Byte-identical guard for refactors of the decoder: every Sisimai corpus
//! email is decoded and the JSON Lines it gives (the records `rebound decode
//! --delivered --vacation` prints, one `serde_json` line per record, emails
//! in file-name order, origin = file name) are hashed with SHA-1 and compared
//! with [`EXPECTED_DIGEST`].
//!
//! This is a regression guard, not a correctness claim: the digest only says
//! "the output has not moved". Whether the output is right is judged by the
//! conformance tests (`tests/sisimai_corpus.rs`, against `expected.jsonl`).
//!
//! How the digest was produced: by this test, run on the code as it stood
//! before the layering refactor of issue 18 (commit 77f6ead, branch
//! `decode-layers`), before any decoder source was changed: 669 lines, the
//! same bytes `rebound decode --delivered --vacation` prints for the corpus
//! files one by one, with origins set to file names.
//!
//! Changing behaviour on purpose: run
//! `cargo test -p rebound-decode --test corpus_digest -- --nocapture`, check
//! the first differing record it prints (and the conformance tests), and
//! replace `EXPECTED_DIGEST` with the digest it prints, saying why in the
//! commit. Each run whose digest matches keeps its output in
//! `CARGO_TARGET_TMPDIR/corpus_digest_baseline.jsonl`; a run that differs
//! compares with that file to name the first differing record (with no such
//! file, run the test once on the previous commit).

use rebound_decode::{DecodeOptions, decode_message};
use sha1::{Digest, Sha1};
use std::path::{Path, PathBuf};

#[path = "support/shared_corpus.rs"]
mod shared_corpus;

/// SHA-1 of the corpus's decode output; see the module comment.
const EXPECTED_DIGEST: &str = "cbf02a9dcf14b29ddf887bae89cf363cda4ab02b";

/// Every email's output, as `rebound decode` writes it: one JSON line per
/// record; an email that fails to decode gives one `ERROR` line, so a new
/// failure moves the digest too.
fn corpus_output(dir: &Path) -> Vec<(String, String)> {
    let options = DecodeOptions {
        delivered: true,
        vacation: true,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("emails"))
        .expect("corpus emails readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    let mut lines = Vec::new();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).expect("corpus email readable");
        match decode_message(&bytes, &name, &options) {
            Ok(records) => {
                for r in records {
                    lines.push((name.clone(), serde_json::to_string(&r).unwrap()));
                }
            }
            Err(e) => lines.push((name.clone(), format!("ERROR {name}: {e}"))),
        }
    }
    lines
}

fn digest(lines: &[(String, String)]) -> String {
    let mut hasher = Sha1::new();
    for (_, line) in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn corpus_decode_output_is_byte_identical() {
    let Some(dir) = shared_corpus::sisimai_corpus(&["emails"]) else {
        return;
    };
    let lines = corpus_output(&dir);
    let actual = digest(&lines);
    println!("corpus decode digest: {actual} ({} lines)", lines.len());
    let baseline = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus_digest_baseline.jsonl");
    if actual == EXPECTED_DIGEST {
        let text: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
        // Best effort: the baseline only serves a later failure's message.
        let _ = std::fs::write(&baseline, text);
        return;
    }
    let first_difference = match std::fs::read_to_string(&baseline) {
        Ok(old) => {
            let old: Vec<&str> = old.lines().collect();
            let i = (0..old.len().max(lines.len()))
                .find(|&i| old.get(i).copied() != lines.get(i).map(|(_, l)| l.as_str()))
                .unwrap_or(0);
            format!(
                "first differing record (line {}, {}):\n  was: {}\n  now: {}",
                i + 1,
                lines.get(i).map_or("<end>", |(n, _)| n.as_str()),
                old.get(i).copied().unwrap_or("<none>"),
                lines.get(i).map_or("<none>", |(_, l)| l.as_str()),
            )
        }
        Err(_) => format!(
            "no baseline at {} to compare with: run this test once on the previous commit",
            baseline.display()
        ),
    };
    panic!(
        "decode output changed on the corpus: digest {actual}, expected {EXPECTED_DIGEST}.\n\
         {first_difference}\n\
         If the change is deliberate, put the new digest in EXPECTED_DIGEST."
    );
}
