//! The ingest loop: events in, batches committed, progress reported.

use crate::{BatchOutcome, Policy, Result, Store};
use rebound_ingest::{Event, ParseError};

/// How to ingest.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    /// Events per transaction.
    pub batch_size: usize,
    /// Stop at the first unreadable record instead of skipping it.
    pub strict: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            batch_size: 10_000,
            strict: false,
        }
    }
}

/// Running totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestStats {
    /// Events read (parsed) so far.
    pub read: u64,
    /// Events committed (new + duplicates) so far.
    pub committed: u64,
    pub inserted: u64,
    pub duplicates: u64,
    /// Unreadable records skipped.
    pub errors: u64,
    pub batches: u64,
    pub suppressed: u64,
    pub sender_issues: u64,
}

/// Why [`ingest`] stopped early.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] crate::Error),
    /// `strict` and a record could not be read.
    #[error("{0} (stopped: --strict)")]
    Strict(ParseError),
}

/// Reads `events` to the end, committing a transaction every
/// `batch_size` events. `on_error` sees each unreadable record skipped
/// (under `strict` the first one is returned instead);
/// `on_commit` runs after each commit with the totals and the batch's
/// outcome — anything it reports is durable.
pub fn ingest<I>(
    store: &mut dyn Store,
    policy: &Policy,
    events: I,
    opts: IngestOptions,
    stats: &mut IngestStats,
    mut on_error: impl FnMut(&ParseError),
    mut on_commit: impl FnMut(&IngestStats, &BatchOutcome),
) -> std::result::Result<(), IngestError>
where
    I: Iterator<Item = std::result::Result<Event, ParseError>>,
{
    let batch_size = opts.batch_size.max(1);
    let mut batch: Vec<Event> = Vec::with_capacity(batch_size.min(100_000));
    let mut flush = |batch: &mut Vec<Event>, stats: &mut IngestStats| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let out = store.ingest_batch(batch, policy)?;
        stats.committed += batch.len() as u64;
        stats.inserted += out.inserted as u64;
        stats.duplicates += out.duplicates as u64;
        stats.suppressed += out.suppressed.len() as u64;
        stats.sender_issues += out.sender_issues as u64;
        stats.batches += 1;
        batch.clear();
        on_commit(stats, &out);
        Ok(())
    };
    for item in events {
        match item {
            Ok(e) => {
                stats.read += 1;
                batch.push(e);
                if batch.len() >= batch_size {
                    flush(&mut batch, stats)?;
                }
            }
            Err(e) => {
                stats.errors += 1;
                if opts.strict {
                    return Err(IngestError::Strict(e));
                }
                on_error(&e);
            }
        }
    }
    flush(&mut batch, stats)?;
    Ok(())
}
