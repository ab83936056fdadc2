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
                Err(ApiError::unavailable(format!("store call failed: {e}")))
            }
        }
    }
}
