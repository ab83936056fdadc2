//! The fetch loop: one pass over a mailbox (`run_once`) or passes for ever
//! (`run`: IMAP IDLE or POP3 polling, reconnecting with backoff).

use crate::MAX_MESSAGE_BYTES;
use crate::config::{MailboxConfig, Password};
use crate::imap::ImapMailbox;
use crate::pop3::{Pop3Error, Pop3Session};
use crate::url::{MailboxUrl, Protocol};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a message's events go. `store` returns once they are committed:
/// the message is moved or deleted only after it returned `Ok`.
pub trait Sink: Send + 'static {
    /// Stores the events of one raw message; `origin` names it for the
    /// records (`imaps://user@host:993/INBOX;UIDVALIDITY=1733…/;UID=12`,
    /// `pop3s://user@host:995;UIDL=…`). A message in which
    /// nothing was found returns `Stored { events: 0, .. }`.
    fn store(&mut self, message: Vec<u8>, origin: &str) -> Result<Stored, String>;
}

/// What the sink did with one message.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Stored {
    /// Events the message gave (0: not a bounce).
    pub events: u64,
    pub inserted: u64,
    pub duplicates: u64,
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored, then moved to the folder (IMAP) or deleted (POP3).
    Processed,
    /// Stored and left in place (`keep`).
    Kept,
    /// No bounce in it: moved to the other folder (IMAP) or left (POP3).
    Other,
    /// Over the size cap: not read; moved to the other folder (IMAP) or
    /// left (POP3).
    TooLarge,
}

/// The totals of one pass over a mailbox.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Pass {
    pub mailbox: String,
    pub messages: u64,
    pub bounces: u64,
    pub not_bounces: u64,
    pub too_large: u64,
    pub events: u64,
    pub inserted: u64,
    pub duplicates: u64,
    /// Moved to the folder (IMAP) or deleted (POP3).
    pub processed: u64,
    pub moved_to_other: u64,
    /// Left where they were.
    pub left: u64,
}

impl Pass {
    fn count(&mut self, outcome: Outcome, stored: Stored) {
        self.messages += 1;
        self.events += stored.events;
        self.inserted += stored.inserted;
        self.duplicates += stored.duplicates;
        match outcome {
            Outcome::Processed | Outcome::Kept => self.bounces += 1,
            Outcome::Other => self.not_bounces += 1,
            Outcome::TooLarge => self.too_large += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The settings cannot work (URL, password, CA file).
    #[error("{0}")]
    Config(String),
    /// The server refused the login.
    #[error("{0}")]
    Auth(String),
    /// No connection, or it broke (refused, timed out, TLS failed).
    #[error("{0}")]
    Connection(String),
    /// The server said something that breaks the protocol or refused a
    /// command.
    #[error("{0}")]
    Protocol(String),
    /// The sink could not store a message's events; the message stays.
    #[error("{0}")]
    Store(String),
}

/// Something to tell the operator, as it happens.
#[derive(Debug)]
pub enum Notice<'a> {
    /// One message done.
    Message {
        origin: &'a str,
        outcome: Outcome,
        stored: Stored,
    },
    /// A pass is over.
    Pass(&'a Pass),
    /// Watching: the connection failed; the next try is in `retry_in`.
    Retry {
        error: &'a FetchError,
        retry_in: Duration,
    },
}

/// State kept across passes of one watch: messages left in place that a
/// later pass need not read again (IMAP UIDs under one UIDVALIDITY, POP3
/// UIDLs).
#[derive(Default)]
struct Seen {
    ids: HashSet<String>,
}

/// The settings checked and the TLS configuration built, once.
struct Prepared {
    url: MailboxUrl,
    password: Password,
    tls: Arc<rustls::ClientConfig>,
}

fn prepare(config: &MailboxConfig) -> Result<Prepared, FetchError> {
    let (url, password) = config.validate().map_err(FetchError::Config)?;
    let tls = crate::tls::tls_config(config.ca.as_deref()).map_err(FetchError::Config)?;
    Ok(Prepared { url, password, tls })
}

/// One pass: every message of the mailbox stored, then moved, deleted or
/// left; returns its totals.
pub async fn run_once<S: Sink>(
    config: &MailboxConfig,
    sink: S,
    mut notify: impl FnMut(Notice<'_>) + Send,
) -> Result<Pass, FetchError> {
    let prepared = prepare(config)?;
    let sink = Arc::new(Mutex::new(sink));
    let mut seen = Seen::default();
    let pass = match prepared.url.protocol {
        Protocol::Imap => {
            let mut mailbox = imap_connect(config, &prepared).await?;
            let pass = imap_pass(
                config,
                &prepared,
                &mut mailbox,
                &sink,
                &mut seen,
                &mut notify,
            )
            .await?;
            mailbox.logout().await;
            pass
        }
        Protocol::Pop3 => pop3_pass(config, &prepared, &sink, &mut seen, &mut notify).await?,
    };
    notify(Notice::Pass(&pass));
    Ok(pass)
}

/// Watches the mailbox until the future is dropped: a pass, then waits for
/// new mail (IMAP IDLE, renewed every `idle_seconds`; POP3 and IMAP
/// servers without IDLE: every `poll_interval_seconds`) and passes again.
/// A dropped connection is retried with exponential backoff (1 s up to
/// 5 min); only a first connection that fails for good (settings, login)
/// ends it with an error.
pub async fn run<S: Sink>(
    config: &MailboxConfig,
    sink: S,
    mut notify: impl FnMut(Notice<'_>) + Send,
) -> Result<(), FetchError> {
    let prepared = prepare(config)?;
    let sink = Arc::new(Mutex::new(sink));
    let mut seen = Seen::default();
    let mut backoff = Duration::from_secs(1);
    let mut passed_once = false;
    loop {
        let result = match prepared.url.protocol {
            Protocol::Imap => {
                imap_watch(
                    config,
                    &prepared,
                    &sink,
                    &mut seen,
                    &mut notify,
                    &mut || {
                        passed_once = true;
                        backoff = Duration::from_secs(1);
                    },
                )
                .await
            }
            Protocol::Pop3 => {
                let r = pop3_pass(config, &prepared, &sink, &mut seen, &mut notify).await;
                match r {
                    Ok(pass) => {
                        passed_once = true;
                        backoff = Duration::from_secs(1);
                        notify(Notice::Pass(&pass));
                        tokio::time::sleep(config.poll_interval()).await;
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let Err(error) = result;
        if !passed_once && matches!(error, FetchError::Config(_) | FetchError::Auth(_)) {
            return Err(error);
        }
        notify(Notice::Retry {
            error: &error,
            retry_in: backoff,
        });
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(300));
    }
}

/// Folders the IMAP pass moves messages to.
fn targets(config: &MailboxConfig) -> Vec<&str> {
    if config.keep {
        Vec::new()
    } else {
        vec![config.folder.as_str(), config.other_folder.as_str()]
    }
}

async fn imap_connect(
    config: &MailboxConfig,
    prepared: &Prepared,
) -> Result<ImapMailbox, FetchError> {
    ImapMailbox::connect(
        &prepared.url,
        prepared.tls.clone(),
        &prepared.password,
        &targets(config),
    )
    .await
}

/// Connects, then passes and waits until the connection fails;
/// `on_pass_done` after each pass.
async fn imap_watch<S: Sink>(
    config: &MailboxConfig,
    prepared: &Prepared,
    sink: &Arc<Mutex<S>>,
    seen: &mut Seen,
    notify: &mut (impl FnMut(Notice<'_>) + Send),
    on_pass_done: &mut (impl FnMut() + Send),
) -> Result<std::convert::Infallible, FetchError> {
    let mut mailbox = imap_connect(config, prepared).await?;
    loop {
        let pass = imap_pass(config, prepared, &mut mailbox, sink, seen, notify).await?;
        // Only a whole pass resets the backoff: a connection that fails
        // at every first message (a store that is down) is retried
        // slower and slower, not every second.
        on_pass_done();
        notify(Notice::Pass(&pass));
        let wait = if mailbox.can_idle {
            config.idle()
        } else {
            config.poll_interval()
        };
        mailbox = mailbox.wait(wait).await?;
    }
}

async fn store<S: Sink>(
    sink: &Arc<Mutex<S>>,
    message: Vec<u8>,
    origin: String,
) -> Result<Stored, FetchError> {
    let sink = sink.clone();
    // The store is synchronous (SQLite, PostgreSQL through a blocking
    // client): it runs off the async workers.
    tokio::task::spawn_blocking(move || {
        let mut sink = sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sink.store(message, &origin)
    })
    .await
    .map_err(|e| FetchError::Store(format!("the store task failed: {e}")))?
    .map_err(FetchError::Store)
}

async fn imap_pass<S: Sink>(
    config: &MailboxConfig,
    prepared: &Prepared,
    mailbox: &mut ImapMailbox,
    sink: &Arc<Mutex<S>>,
    seen: &mut Seen,
    notify: &mut (impl FnMut(Notice<'_>) + Send),
) -> Result<Pass, FetchError> {
    let url = &prepared.url;
    let mut pass = Pass {
        mailbox: url.to_string(),
        ..Pass::default()
    };
    for (uid, size) in mailbox.pending().await? {
        // RFC 5092's form: `…/INBOX;UIDVALIDITY=…/;UID=…`.
        let origin = format!("{url};UIDVALIDITY={}/;UID={uid}", mailbox.uid_validity);
        if seen.ids.contains(&origin) {
            continue;
        }
        let (outcome, stored) = if size > MAX_MESSAGE_BYTES as u64 {
            (Outcome::TooLarge, Stored::default())
        } else {
            let Some(message) = mailbox.body(uid, MAX_MESSAGE_BYTES).await? else {
                // Expunged by another client since the search.
                continue;
            };
            let stored = store(sink, message, origin.clone()).await?;
            let outcome = if stored.events > 0 {
                if config.keep {
                    Outcome::Kept
                } else {
                    Outcome::Processed
                }
            } else {
                Outcome::Other
            };
            (outcome, stored)
        };
        // Only now, with the events committed, does the message move.
        if config.keep {
            seen.ids.insert(origin.clone());
            pass.left += 1;
        } else if outcome == Outcome::Processed {
            mailbox.move_to(uid, &config.folder).await?;
            pass.processed += 1;
        } else {
            mailbox.move_to(uid, &config.other_folder).await?;
            pass.moved_to_other += 1;
        }
        pass.count(outcome, stored);
        notify(Notice::Message {
            origin: &origin,
            outcome,
            stored,
        });
    }
    Ok(pass)
}

fn pop3_error(url: &MailboxUrl, e: Pop3Error) -> FetchError {
    match e {
        Pop3Error::Auth(why) => FetchError::Auth(format!("{url}: {why}")),
        Pop3Error::Io(io) => FetchError::Connection(format!("{url}: {io}")),
        Pop3Error::Protocol(why) => FetchError::Protocol(format!("{url}: {why}")),
    }
}

/// One POP3 session: every message not seen before stored, bounces marked
/// for deletion, and QUIT, which deletes them (a session cut short deletes
/// nothing, RFC 1939, so the next pass reads them again: duplicates).
async fn pop3_pass<S: Sink>(
    config: &MailboxConfig,
    prepared: &Prepared,
    sink: &Arc<Mutex<S>>,
    seen: &mut Seen,
    notify: &mut (impl FnMut(Notice<'_>) + Send),
) -> Result<Pass, FetchError> {
    let url = &prepared.url;
    let err = |e| pop3_error(url, e);
    let mut session =
        match Pop3Session::connect(url, prepared.tls.clone(), &prepared.password).await {
            Ok(s) => s,
            Err(Pop3Error::Io(io)) => {
                return Err(FetchError::Connection(format!(
                    "cannot connect to {url}: {io}"
                )));
            }
            Err(e) => return Err(err(e)),
        };
    let uids = session.uidl().await.map_err(err)?;
    let sizes: std::collections::HashMap<u32, u64> =
        session.list().await.map_err(err)?.into_iter().collect();
    let mut pass = Pass {
        mailbox: url.to_string(),
        ..Pass::default()
    };
    let mut failure = None;
    for (n, uidl) in uids {
        let origin = format!("{url};UIDL={uidl}");
        if seen.ids.contains(&origin) {
            continue;
        }
        let size = sizes.get(&n).copied().unwrap_or(0);
        let (outcome, stored) = if size > MAX_MESSAGE_BYTES as u64 {
            (Outcome::TooLarge, Stored::default())
        } else {
            let message = session.retr(n, MAX_MESSAGE_BYTES).await.map_err(err)?;
            match store(sink, message, origin.clone()).await {
                Ok(stored) if stored.events > 0 && config.keep => (Outcome::Kept, stored),
                Ok(stored) if stored.events > 0 => (Outcome::Processed, stored),
                Ok(stored) => (Outcome::Other, stored),
                Err(e) => {
                    // QUIT all the same: the messages already stored are
                    // deleted, this one stays.
                    failure = Some(e);
                    break;
                }
            }
        };
        if outcome == Outcome::Processed {
            session.dele(n).await.map_err(err)?;
            pass.processed += 1;
        } else {
            seen.ids.insert(origin.clone());
            pass.left += 1;
        }
        pass.count(outcome, stored);
        notify(Notice::Message {
            origin: &origin,
            outcome,
            stored,
        });
    }
    session.quit().await.map_err(err)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(pass),
    }
}
