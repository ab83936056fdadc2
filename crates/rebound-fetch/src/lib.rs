//! Bounce mailboxes: this crate owns the mailbox protocols (IMAP through
//! `async-imap`, POP3 with STLS and UIDL through its own small client, both
//! over rustls) and the fetch loop that reads every message of a mailbox,
//! hands it to a [`Sink`] (the ledger, in `rebound fetch` and `rebound
//! serve`) and only then moves it away (IMAP: to `Processed`, or `Other` when
//! it is no bounce; POP3: DELE), once or watching (IMAP IDLE, POP3 polls).
//!
//! What happens to a message's events is the sink's business: this crate
//! stores nothing and decodes nothing. The one rule between the two is the
//! order: a message leaves the mailbox only after [`Sink::store`] returned,
//! i.e. after its events were committed. A crash between the two leaves the
//! message where it was, and the next pass stores it again, which the
//! ledger's dedupe keys turn into duplicates, not new events.

mod config;
mod fetch;
mod imap;
mod io;
mod pop3;
mod tls;
mod url;

pub use config::{DEFAULT_PASSWORD_ENV, MailboxConfig, Password};
pub use fetch::{FetchError, Notice, Outcome, Pass, Sink, Stored, run, run_once};
pub use pop3::{Pop3Error, Pop3Session};
pub use tls::tls_config;
pub use url::{MailboxUrl, Protocol, Security};

/// The largest message fetched (the decoder's own cap). A larger one is
/// left in place (POP3) or moved to the other folder (IMAP), and reported.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
