//! A few open ledger stores shared by the request handlers.
//!
//! The ledger's `Store` is synchronous (rusqlite, the `postgres` crate), so
//! every store call runs on tokio's blocking pool, holding one store for its
//! duration; the async workers never wait on the database. The number of
//! stores bounds the database connections one server opens.

use crate::error::ApiError;
use rebound_ledger::{SnapshotChecker, Store};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

pub struct StorePool {
    url: String,
    stores: Mutex<Vec<Box<dyn Store>>>,
    permits: Semaphore,
    /// Calls finished (reads too: counting every call cannot miss a write).
    writes: Arc<AtomicU64>,
    /// SQLite only: writers queue here, in arrival order, instead of in
    /// SQLite's busy handler, which sleeps (1, 2, 5 … 100 ms) and polls:
    /// eight concurrent ingest requests left a third of the CPU idle while
    /// the next writer slept past the end of the transaction it waited
    /// for. PostgreSQL's writers wait on row locks, woken at once: no lane.
    write_lane: Option<tokio::sync::Mutex<()>>,
}

impl StorePool {
    /// Opens `n` stores on `url` (migrating the schema once, on the first).
    pub fn open(url: &str, n: usize) -> rebound_ledger::Result<Arc<StorePool>> {
        let mut stores = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            stores.push(rebound_ledger::open(url)?);
        }
        Ok(Arc::new(StorePool {
            url: url.to_string(),
            permits: Semaphore::new(stores.len()),
            stores: Mutex::new(stores),
            writes: Arc::new(AtomicU64::new(0)),
            write_lane: rebound_ledger::sqlite_file(url).map(|_| tokio::sync::Mutex::new(())),
        }))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A count that goes up after every call that may have written (every
    /// call through [`StorePool::run`], and [`StorePool::wrote`]): a reader
    /// that keeps a snapshot renews it when the count has moved, so this
    /// server's own writes are seen by its next check.
    pub fn writes(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.writes)
    }

    /// Counts a write made outside [`StorePool::run`] (a job's own store).
    pub fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Release);
    }

    /// [`StorePool::run`] for a call that writes: on SQLite it waits its
    /// turn in the write lane (one writer at a time, first come first
    /// served) before taking a store.
    pub async fn run_write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> rebound_ledger::Result<T> + Send + 'static,
    {
        let _turn = match &self.write_lane {
            Some(lane) => Some(lane.lock().await),
            None => None,
        };
        self.run(f).await
    }

    /// Runs `f` with a store on the blocking pool. A store whose call failed
    /// is replaced by a fresh connection (a PostgreSQL server restart must
    /// not leave the pool holding dead connections).
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> rebound_ledger::Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        let mut store = self
            .stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or_else(|| ApiError::unavailable("no store connection free"))?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let result = f(&mut *store);
            pool.writes.fetch_add(1, Ordering::Release);
            let keep = match &result {
                Ok(_) => Some(store),
                // Reopen; if that fails too, keep the old one (it may
                // recover) so the pool never shrinks.
                Err(_) => Some(rebound_ledger::open(&pool.url).unwrap_or(store)),
            };
            if let Some(s) = keep {
                pool.stores
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(s);
            }
            result
        })
        .await;
        match joined {
            Ok(r) => r.map_err(ApiError::from),
            Err(e) => {
                // The closure panicked; its store is lost, so open another.
                if let Ok(s) = rebound_ledger::open(&self.url) {
                    self.stores
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(s);
                }
                Err(ApiError::store(format!("store call panicked: {e}")))
            }
        }
    }
}

impl Drop for StorePool {
    /// Closes the stores on a thread of their own: the PostgreSQL client
    /// blocks on its own runtime when it closes, which tokio refuses on an
    /// async worker — and the pool is dropped there when the server stops.
    fn drop(&mut self) {
        let stores = std::mem::take(self.stores.get_mut().unwrap_or_else(|e| e.into_inner()));
        if let Ok(t) = std::thread::Builder::new()
            .name("rebound-close".into())
            .spawn(move || drop(stores))
        {
            let _ = t.join();
        }
    }
}

/// Answers single-address suppression checks (the per-send hot path).
///
/// On a networked store (PostgreSQL), where a lookup is a round trip, in
/// batches: requests queue up while a worker thread is busy, and the worker
/// takes everything queued and checks it in one store call. Under load one
/// thread wake-up and one store call serve many requests; idle, a lookup
/// costs one hand-off as through the pool. Every answer is read from the
/// store (nothing is cached), so instances sharing a store agree.
///
/// On a SQLite file, on the calling runtime thread (a lookup costs less than
/// the hand-off), through [`SnapshotCheckers`].
pub struct CheckBatcher {
    tx: std::sync::mpsc::SyncSender<CheckJob>,
    /// Set for a SQLite store: checks are answered on the calling thread.
    snapshots: Option<Arc<SnapshotCheckers>>,
}

/// The oldest snapshot a SQLite check is answered from: how late a write by
/// another process (or this server's reclassify job) can be seen.
pub const CHECK_SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(10);

/// How often idle snapshots are released (a held one keeps SQLite's
/// checkpoint from restarting the WAL).
const SNAPSHOT_SWEEP: Duration = Duration::from_millis(50);

/// A few SQLite read connections, each answering checks inside a snapshot
/// it renews every [`CHECK_SNAPSHOT_MAX_AGE`] and whenever this server has
/// written through its [`StorePool`] since (see
/// [`rebound_ledger::SnapshotChecker`]): a lookup is then one B-tree walk,
/// without the file locking of a transaction per statement (which was
/// most of a check's cost).
pub struct SnapshotCheckers {
    path: String,
    checkers: Vec<Mutex<Option<SnapshotChecker>>>,
    next: AtomicUsize,
    writes: Arc<AtomicU64>,
}

impl SnapshotCheckers {
    fn start(path: &str, writes: Arc<AtomicU64>) -> Arc<SnapshotCheckers> {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        let checkers = Arc::new(SnapshotCheckers {
            path: path.to_string(),
            checkers: (0..n).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            writes,
        });
        let weak = Arc::downgrade(&checkers);
        // Ends with the server: the thread holds no strong reference while
        // it sleeps.
        let _ = std::thread::Builder::new()
            .name("rebound-snapshots".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(SNAPSHOT_SWEEP);
                    let Some(c) = weak.upgrade() else { return };
                    c.release_idle();
                }
            });
        checkers
    }

    fn check(&self, address: &str) -> CheckAnswer {
        let n = self.checkers.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        // Any free connection; all busy (more threads than connections):
        // wait for one, for the few microseconds of a lookup.
        let mut slot = (0..n)
            .find_map(|i| self.checkers[(first + i) % n].try_lock().ok())
            .unwrap_or_else(|| {
                self.checkers[first]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
            });
        if slot.is_none() {
            *slot = Some(SnapshotChecker::open(&self.path).map_err(|e| e.to_string())?);
        }
        let checker = slot.as_mut().expect("opened above");
        let generation = self.writes.load(Ordering::Acquire);
        checker
            .check(address, generation, CHECK_SNAPSHOT_MAX_AGE)
            .map_err(|e| {
                // Drop the connection; the next check reopens it.
                *slot = None;
                e.to_string()
            })
    }

    fn release_idle(&self) {
        for m in &self.checkers {
            // A connection in use is renewing its own snapshot.
            if let Ok(mut slot) = m.try_lock()
                && let Some(c) = slot.as_mut()
                && c.release_if_older(CHECK_SNAPSHOT_MAX_AGE).is_err()
            {
                *slot = None;
            }
        }
    }
}

type CheckAnswer = Result<Option<rebound_ledger::Suppression>, String>;
type CheckJob = (String, tokio::sync::oneshot::Sender<CheckAnswer>);

/// Most addresses one store call checks.
const CHECK_BATCH: usize = 512;

impl CheckBatcher {
    /// Starts `workers` threads, each with its own store on `url` (none for
    /// SQLite, whose checks are answered inline). `writes` counts the writes
    /// of this server's [`StorePool`] (see [`StorePool::writes`]).
    pub fn start(
        url: &str,
        workers: usize,
        writes: Arc<AtomicU64>,
    ) -> rebound_ledger::Result<CheckBatcher> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<CheckJob>(64 * 1024);
        let rx = Arc::new(Mutex::new(rx));
        let snapshots =
            rebound_ledger::sqlite_file(url).map(|p| SnapshotCheckers::start(p, writes));
        let workers = if snapshots.is_some() {
            0
        } else {
            workers.max(1)
        };
        for i in 0..workers {
            let store = rebound_ledger::open(url)?;
            let rx = Arc::clone(&rx);
            let url = url.to_string();
            std::thread::Builder::new()
                .name(format!("rebound-check-{i}"))
                .spawn(move || check_worker(store, &url, &rx))
                .map_err(|e| rebound_ledger::Error::Other(e.to_string()))?;
        }
        Ok(CheckBatcher { tx, snapshots })
    }

    pub async fn check(
        &self,
        address: String,
    ) -> Result<Option<rebound_ledger::Suppression>, ApiError> {
        if let Some(snapshots) = &self.snapshots {
            return snapshots.check(&address).map_err(ApiError::store);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A full queue (64k waiting) means the store cannot keep up: shed.
        self.tx
            .try_send((address, tx))
            .map_err(|_| ApiError::unavailable("suppression checks are queued too deep; retry"))?;
        rx.await
            .map_err(|_| ApiError::unavailable("the check worker stopped"))?
            .map_err(ApiError::store)
    }
}

fn check_worker(
    mut store: Box<dyn Store>,
    url: &str,
    rx: &Mutex<std::sync::mpsc::Receiver<CheckJob>>,
) {
    let mut jobs: Vec<CheckJob> = Vec::with_capacity(CHECK_BATCH);
    loop {
        {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            match rx.recv() {
                Ok(j) => jobs.push(j),
                // Every sender is gone: the server is shutting down.
                Err(_) => return,
            }
            while jobs.len() < CHECK_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
        }
        let addresses: Vec<String> = jobs.iter().map(|(a, _)| a.clone()).collect();
        match store.check(&addresses) {
            Ok(answers) => {
                for ((_, tx), a) in jobs.drain(..).zip(answers) {
                    let _ = tx.send(Ok(a));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (_, tx) in jobs.drain(..) {
                    let _ = tx.send(Err(msg.clone()));
                }
                if let Ok(s) = rebound_ledger::open(url) {
                    store = s;
                }
            }
        }
    }
}
