//! What keeps `GET /v1/report` from taking the server down: reports run a
//! few at a time (`limits.report_slots`), within a bound on their time
//! buckets (`limits.report_buckets`), stop when the request is gone (timed
//! out or the client left), and identical requests within
//! `limits.report_cache_seconds` share one answer.

use crate::config::Limits;
use axum::body::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Entries kept in the cache; a new one evicts the oldest.
const CACHED: usize = 32;

/// A rendered report: its content type and body.
#[derive(Clone)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Bytes,
}

pub struct Reports {
    slots: Arc<Semaphore>,
    ttl: Duration,
    /// (request key, made at, answer), oldest first.
    cache: Mutex<Vec<(String, Instant, Rendered)>>,
}

impl Reports {
    pub fn new(limits: &Limits) -> Reports {
        Reports {
            slots: Arc::new(Semaphore::new(limits.report_slots.max(1))),
            ttl: Duration::from_secs(limits.report_cache_seconds),
            cache: Mutex::new(Vec::new()),
        }
    }

    /// A fresh answer to the same request, if one was made lately.
    pub fn cached(&self, key: &str) -> Option<Rendered> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .iter()
            .rev()
            .find(|(k, at, _)| k == key && at.elapsed() < self.ttl)
            .map(|(_, _, r)| r.clone())
    }

    pub fn remember(&self, key: String, rendered: Rendered) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|(k, at, _)| *k != key && at.elapsed() < self.ttl);
        if cache.len() >= CACHED {
            cache.remove(0);
        }
        cache.push((key, Instant::now(), rendered));
    }

    /// A report slot, waiting at most `wait`.
    pub async fn slot(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// Raises its flag when dropped: held by the request's future, so a report
/// being built stops once nobody waits for it.
pub struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
