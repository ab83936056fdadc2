//! A few open ledger stores shared by the request handlers.
//!
//! The ledger's `Store` is synchronous (rusqlite, the `postgres` crate), so
//! every store call runs on tokio's blocking pool, holding one store for its
//! duration; the async workers never wait on the database. The number of
//! stores bounds the database connections one server opens.

use crate::error::ApiError;
use rebound_ledger::Store;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub struct StorePool {
    url: String,
    stores: Mutex<Vec<Box<dyn Store>>>,
    permits: Semaphore,
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
        }))
    }

    pub fn url(&self) -> &str {
        &self.url
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

/// Answers single-address suppression checks (the per-send hot path) in
/// batches: requests queue up while a worker thread is busy, and the worker
/// takes everything queued and checks it in one store call. Under load one
/// thread wake-up and one store call serve many requests; idle, a lookup
/// costs one hand-off as through the pool. Every answer is read from the
/// store (nothing is cached), so instances sharing a store agree.
///
/// That is for a networked store (PostgreSQL), where a lookup is a round
/// trip. A SQLite file is read on the calling runtime thread instead, with a
/// connection of that thread's own: the lookup costs less than the hand-off.
pub struct CheckBatcher {
    tx: std::sync::mpsc::SyncSender<CheckJob>,
    /// Set for a SQLite store: checks are answered on the calling thread.
    inline_url: Option<String>,
}

thread_local! {
    /// One read connection per runtime thread and SQLite file, opened on
    /// first use. A point lookup in a WAL-mode file is a few microseconds
    /// and never waits for a writer, far less than handing the request to
    /// another thread and waking it (which was most of a check's cost).
    static INLINE_STORES: std::cell::RefCell<Vec<(String, Box<dyn Store>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn check_inline(url: &str, address: String) -> CheckAnswer {
    INLINE_STORES.with(|cell| {
        let mut stores = cell.borrow_mut();
        let at = match stores.iter().position(|(u, _)| u == url) {
            Some(i) => i,
            None => {
                let store = rebound_ledger::open(url).map_err(|e| e.to_string())?;
                stores.push((url.to_string(), store));
                stores.len() - 1
            }
        };
        match stores[at].1.check(std::slice::from_ref(&address)) {
            Ok(mut answers) => Ok(answers.pop().flatten()),
            Err(e) => {
                // Drop the connection; the next check reopens it.
                stores.swap_remove(at);
                Err(e.to_string())
            }
        }
    })
}

type CheckAnswer = Result<Option<rebound_ledger::Suppression>, String>;
type CheckJob = (String, tokio::sync::oneshot::Sender<CheckAnswer>);

/// Most addresses one store call checks.
const CHECK_BATCH: usize = 512;

impl CheckBatcher {
    /// Starts `workers` threads, each with its own store on `url` (none for
    /// SQLite, whose checks are answered inline).
    pub fn start(url: &str, workers: usize) -> rebound_ledger::Result<CheckBatcher> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<CheckJob>(64 * 1024);
        let rx = Arc::new(Mutex::new(rx));
        let first = rebound_ledger::open(url)?;
        let inline_url = (first.backend() == "sqlite").then(|| url.to_string());
        drop(first);
        let workers = if inline_url.is_some() {
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
        Ok(CheckBatcher { tx, inline_url })
    }

    pub async fn check(
        &self,
        address: String,
    ) -> Result<Option<rebound_ledger::Suppression>, ApiError> {
        if let Some(url) = &self.inline_url {
            return check_inline(url, address).map_err(ApiError::store);
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
