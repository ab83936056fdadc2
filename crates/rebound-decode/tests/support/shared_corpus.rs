//! Where tests find the Sisimai corpus, which is not part of the project:
//! `$REBOUND_SISIMAI_CORPUS`, else `../shared/corpus/sisimai` beside the
//! workspace root. Included by path (`#[path]`) from every test that reads
//! it, in this crate and others, so that they all skip or fail alike.
//!
//! Absent corpus: under `CI=true` (set by `.ci/run` and by CI itself) the
//! test fails, because a CI run that silently skips conformance proves
//! nothing; elsewhere it prints `SKIPPED: …` and passes.

use std::path::PathBuf;

/// The corpus directory, if every path in `needed` (relative to it) exists.
/// Panics in CI when one is missing; prints why it skips otherwise.
pub fn sisimai_corpus(needed: &[&str]) -> Option<PathBuf> {
    let dir = std::env::var_os("REBOUND_SISIMAI_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sisimai")
        });
    let missing: Vec<String> = needed
        .iter()
        .map(|p| dir.join(p))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(dir);
    }
    let message = format!(
        "Sisimai corpus not found: {} (set REBOUND_SISIMAI_CORPUS)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{message}: in CI (CI=true) the corpus tests must run");
    }
    eprintln!("SKIPPED: {message}");
    None
}
