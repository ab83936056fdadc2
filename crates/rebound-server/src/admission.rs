//! Who may use the server's request slots, so that one client cannot starve
//! the others.
//!
//! - A request's body is received before it takes a handler slot, under a
//!   deadline of its own (`limits.body_seconds`): a client trickling bytes
//!   holds a connection and a small receive allowance, never a slot.
//!   Bodies being received are capped per client address.
//! - Handler slots (`limits.concurrency`) are shared, but one token, and one
//!   client address, may hold at most `limits.per_token` and
//!   `limits.per_address` of them at once.
//! - `limits.reserved_slots` of them are kept for `/healthz`, `/metrics` and
//!   ingestion, which take a shared slot when one is free and a reserved
//!   one otherwise: monitoring and the ESPs' webhooks still get through
//!   while reads saturate the server.

use crate::config::Limits;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The client's address, put into each request's extensions by the
/// connection loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// What a count is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// Handler slots held by requests presenting this credential (a hash
    /// of the `Authorization` header: checked or not, it is what the
    /// client controls).
    Token(u64),
    /// Handler slots held by this address.
    Address(IpAddr),
    /// Bodies being received from this address.
    Receiving(IpAddr),
}

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken (after waiting `queue_seconds`).
    Busy,
    /// This token or address already holds its share.
    OverShare(&'static str),
}

pub struct Admission {
    shared: Arc<Semaphore>,
    reserved: Arc<Semaphore>,
    per_token: usize,
    per_address: usize,
    receiving_per_address: usize,
    queue: Duration,
    counts: Mutex<HashMap<Key, usize>>,
}

/// Held while a request runs (or its body is received); gives everything
/// back when dropped.
pub struct Ticket {
    _permit: Option<OwnedSemaphorePermit>,
    keys: [Option<Key>; 2],
    admission: Arc<Admission>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.admission.lock();
        for key in self.keys.iter().flatten() {
            if let Some(n) = counts.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(key);
                }
            }
        }
    }
}

impl Admission {
    pub fn new(limits: &Limits) -> Arc<Admission> {
        let reserved = limits.reserved_slots.min(limits.concurrency / 2);
        Arc::new(Admission {
            shared: Arc::new(Semaphore::new(limits.concurrency - reserved)),
            reserved: Arc::new(Semaphore::new(reserved)),
            per_token: limits.per_token.max(1),
            per_address: limits.per_address.max(1),
            receiving_per_address: limits.receiving_per_address.max(1),
            queue: Duration::from_secs(limits.queue_seconds),
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, usize>> {
        // A panic while holding the lock leaves counts that are still
        // consistent (each change is one increment or decrement).
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the keys in, all or none, unless one is at its cap.
    fn count_in(&self, keys: &[Option<(Key, usize)>; 2]) -> Result<(), Refusal> {
        let mut counts = self.lock();
        for (key, cap) in keys.iter().flatten() {
            if counts.get(key).copied().unwrap_or(0) >= *cap {
                return Err(Refusal::OverShare(match key {
                    Key::Token(_) => "this token already has its share of requests in flight",
                    Key::Address(_) => "this address already has its share of requests in flight",
                    Key::Receiving(_) => {
                        "this address is already sending its share of request bodies"
                    }
                }));
            }
        }
        for (key, _) in keys.iter().flatten() {
            *counts.entry(*key).or_insert(0) += 1;
        }
        Ok(())
    }

    /// A receive allowance for one request body from `addr`.
    pub fn receiving(self: &Arc<Self>, addr: Option<IpAddr>) -> Result<Ticket, Refusal> {
        let keys = [
            addr.map(|a| (Key::Receiving(a), self.receiving_per_address)),
            None,
        ];
        self.count_in(&keys)?;
        Ok(Ticket {
            _permit: None,
            keys: keys.map(|k| k.map(|(k, _)| k)),
            admission: Arc::clone(self),
        })
    }

    /// A handler slot. `priority` requests (health, metrics, ingestion) may
    /// take a reserved slot when the shared ones are gone.
    pub async fn admit(
        self: &Arc<Self>,
        priority: bool,
        credential: Option<&[u8]>,
        addr: Option<IpAddr>,
    ) -> Result<Ticket, Refusal> {
        let keys = [
            credential.map(|c| (Key::Token(hash(c)), self.per_token)),
            addr.map(|a| (Key::Address(a), self.per_address)),
        ];
        self.count_in(&keys)?;
        let mut ticket = Ticket {
            _permit: None,
            keys: keys.map(|k| k.map(|(k, _)| k)),
            admission: Arc::clone(self),
        };
        let permit = match Arc::clone(&self.shared).try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => match priority {
                true => Arc::clone(&self.reserved).try_acquire_owned().ok(),
                false => None,
            },
        };
        let permit = match permit {
            Some(p) => p,
            None => tokio::time::timeout(self.queue, Arc::clone(&self.shared).acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or(Refusal::Busy)?,
        };
        ticket._permit = Some(permit);
        Ok(ticket)
    }
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            concurrency: 8,
            reserved_slots: 2,
            per_token: 3,
            per_address: 5,
            receiving_per_address: 2,
            queue_seconds: 0,
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn a_token_gets_its_share_and_no_more() {
        let a = Admission::new(&limits());
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(a.admit(false, Some(b"Bearer one"), None).await.unwrap());
        }
        assert!(matches!(
            a.admit(false, Some(b"Bearer one"), None).await,
            Err(Refusal::OverShare(_))
        ));
        // Another token still gets in; a released slot is usable again.
        let other = a.admit(false, Some(b"Bearer two"), None).await.unwrap();
        held.pop();
        held.push(a.admit(false, Some(b"Bearer one"), None).await.unwrap());
        drop(other);
        assert!(a.lock().len() == 1, "counts of released keys are removed");
    }

    #[tokio::test]
    async fn reserved_slots_only_for_priority_requests() {
        let a = Admission::new(&limits());
        let addr = |i: u8| Some(IpAddr::from([127, 0, 0, i]));
        // Six shared slots, taken by six addresses.
        let mut held = Vec::new();
        for i in 1..=6 {
            held.push(a.admit(false, None, addr(i)).await.unwrap());
        }
        assert_eq!(
            a.admit(false, None, addr(7)).await.err(),
            Some(Refusal::Busy)
        );
        let h1 = a.admit(true, None, addr(7)).await.unwrap();
        let _h2 = a.admit(true, None, addr(8)).await.unwrap();
        assert_eq!(
            a.admit(true, None, addr(9)).await.err(),
            Some(Refusal::Busy)
        );
        drop(h1);
        assert!(a.admit(true, None, addr(9)).await.is_ok());
    }

    #[test]
    fn bodies_being_received_are_capped_per_address() {
        let a = Admission::new(&limits());
        let one = Some(IpAddr::from([127, 0, 0, 1]));
        let _r1 = a.receiving(one).unwrap();
        let r2 = a.receiving(one).unwrap();
        assert!(a.receiving(one).is_err());
        assert!(a.receiving(Some(IpAddr::from([127, 0, 0, 2]))).is_ok());
        drop(r2);
        assert!(a.receiving(one).is_ok());
    }
}
