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
///
/// Reading (parsing, classifying) and storing overlap: the calling thread
/// reads the next batch while a second thread commits the previous one,
/// so a batch's store time hides behind the next one's parse time (each
/// alone is about 5 µs an event, one core's worth). Batches still commit
/// one at a time, in order, one transaction each; at most one waits
/// behind the one being stored, and the callbacks run on the calling
/// thread, in order.
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
    std::thread::scope(|scope| {
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<Vec<Event>>(1);
        let (to_reader, outcomes) = std::sync::mpsc::channel::<(usize, Result<BatchOutcome>)>();
        let writer = scope.spawn(move || {
            for batch in batches {
                let outcome = store.ingest_batch(&batch, policy);
                let failed = outcome.is_err();
                if to_reader.send((batch.len(), outcome)).is_err() || failed {
                    // Stop taking batches: the reader sees the error (or
                    // has stopped) and sends no more.
                    break;
                }
            }
        });
        // Folds one committed batch into the totals; a failed one is the
        // run's error.
        let mut committed = |(len, outcome): (usize, Result<BatchOutcome>),
                             stats: &mut IngestStats|
         -> std::result::Result<(), IngestError> {
            let out = outcome?;
            stats.committed += len as u64;
            stats.inserted += out.inserted as u64;
            stats.duplicates += out.duplicates as u64;
            stats.suppressed += out.suppressed.len() as u64;
            stats.sender_issues += out.sender_issues as u64;
            stats.batches += 1;
            on_commit(stats, &out);
            Ok(())
        };
        let read = || -> std::result::Result<(), IngestError> {
            let mut batch: Vec<Event> = Vec::with_capacity(batch_size.min(100_000));
            for item in events {
                match item {
                    Ok(e) => {
                        stats.read += 1;
                        batch.push(e);
                        if batch.len() >= batch_size {
                            let full = std::mem::replace(
                                &mut batch,
                                Vec::with_capacity(batch_size.min(100_000)),
                            );
                            if to_writer.send(full).is_err() {
                                // The writer stopped on an error, which is
                                // waiting in `outcomes`.
                                return Ok(());
                            }
                            while let Ok(done) = outcomes.try_recv() {
                                committed(done, stats)?;
                            }
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
            if !batch.is_empty() {
                let _ = to_writer.send(batch);
            }
            Ok(())
        };
        let result = read();
        // Whatever stopped the reading, the batches already handed over
        // finish (committed or failed) and are reported, in order.
        drop(to_writer);
        if let Err(panic) = writer.join() {
            std::panic::resume_unwind(panic);
        }
        let mut stored = Ok(());
        for done in outcomes.try_iter() {
            if stored.is_ok() {
                stored = committed(done, stats);
            }
        }
        // A store error comes first: a strict stop after it would hide it.
        stored.and(result)
    })
}
