//! One module per subcommand: its clap arguments and its `run`.

pub mod bench;
pub mod classify;
pub mod conformance;
pub mod decode;
pub mod events;
pub mod ingest;
pub mod report;
pub mod serve;
pub mod suppressions;
