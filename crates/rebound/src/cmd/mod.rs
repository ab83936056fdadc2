//! One module per subcommand: its clap arguments and its `run`.

pub mod bench;
pub mod classify;
pub mod conformance;
pub mod decode;
pub mod demo;
pub mod events;
pub mod fetch;
pub mod generate;
pub mod ingest;
pub mod policy;
pub mod policy_protocol;
pub mod reclassify;
pub mod report;
pub mod rules;
pub mod serve;
pub mod suppressions;

use std::path::Path;

/// A decoder input error as "cannot read PATH: cause": the library's own
/// wording puts the origin first and leaves the operation unsaid.
pub fn input_error(e: &rebound_decode::InputError) -> String {
    match e {
        rebound_decode::InputError::Io { origin, source } => {
            format!("cannot read {origin}: {source}")
        }
        other => other.to_string(),
    }
}

/// Reads a whole text file, naming the path and the operation on failure.
pub fn read_text(path: &Path) -> anyhow::Result<String> {
    use anyhow::Context;
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Opens the store, naming it on failure.
pub fn open_store(url: &str) -> anyhow::Result<Box<dyn rebound_ledger::Store>> {
    use anyhow::Context;
    rebound_ledger::open(url).with_context(|| format!("cannot open the store {url}"))
}
