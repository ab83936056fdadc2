//! IMAP through `async-imap`: login over TLS (or STARTTLS), the messages
//! of a folder by UID, moving one, and waiting with IDLE.

use crate::config::Password;
use crate::fetch::FetchError;
use crate::io::{BoxIo, Budget, Budgeted, IO_TIMEOUT, connect_tcp, start_tls, timed};
use crate::url::{MailboxUrl, Security};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Bytes an answer other than a message's body may bring (a UID SEARCH of
/// a million messages is under 8 MiB).
const ANSWER_BUDGET: u64 = 64 * 1024 * 1024;

pub struct ImapMailbox {
    session: Session<BoxIo>,
    budget: Budget,
    can_move: bool,
    uidplus: bool,
    pub can_idle: bool,
    /// The selected folder's UIDVALIDITY: a UID names a message only
    /// together with it (RFC 3501 2.3.1.1).
    pub uid_validity: u32,
}

fn protocol(what: &str, e: async_imap::error::Error) -> FetchError {
    match e {
        async_imap::error::Error::Io(io) => FetchError::Connection(format!("{what}: {io}")),
        async_imap::error::Error::ConnectionLost => {
            FetchError::Connection(format!("{what}: the server closed the connection"))
        }
        other => FetchError::Protocol(format!("{what}: {other}")),
    }
}

impl ImapMailbox {
    /// Connects, upgrades (STARTTLS for `imap://`), logs in and selects
    /// the URL's folder, creating `folders` (where messages go) if missing.
    pub async fn connect(
        url: &MailboxUrl,
        tls: Arc<rustls::ClientConfig>,
        password: &Password,
        folders: &[&str],
    ) -> Result<Self, FetchError> {
        let budget = Budget::default();
        budget.reset(ANSWER_BUDGET);
        let tcp = connect_tcp(&url.host, url.port)
            .await
            .map_err(|e| FetchError::Connection(format!("cannot connect to {url}: {e}")))?;
        let tcp = Budgeted::new(tcp, budget.clone());
        let tls_error = |e: std::io::Error| FetchError::Connection(format!("{url}: TLS: {e}"));
        let stream: BoxIo = match url.security {
            Security::Tls => Box::new(start_tls(tcp, &url.host, tls).await.map_err(tls_error)?),
            Security::StartTls => {
                let mut plain = Client::new(tcp);
                greeting(&mut plain, url).await?;
                timed(
                    "STARTTLS",
                    plain.run_command_and_check_ok("STARTTLS", None),
                )
                .await
                .map_err(|e| {
                    FetchError::Protocol(format!(
                        "{url}: the server does not offer STARTTLS, and the password is not sent in the clear: {e}"
                    ))
                })?;
                Box::new(
                    start_tls(plain.into_inner(), &url.host, tls)
                        .await
                        .map_err(tls_error)?,
                )
            }
        };
        let mut client = Client::new(stream);
        if url.security == Security::Tls {
            greeting(&mut client, url).await?;
        }
        let mut session = match timed("LOGIN", async {
            Ok::<_, std::io::Error>(client.login(&url.user, &password.0).await)
        })
        .await
        .map_err(|e| FetchError::Connection(format!("{url}: {e}")))?
        {
            Ok(s) => s,
            Err((async_imap::error::Error::No(text), _)) => {
                return Err(FetchError::Auth(format!(
                    "{url}: login refused: {}",
                    server_text(&text)
                )));
            }
            Err((e, _)) => return Err(protocol(&format!("{url}: LOGIN"), e)),
        };
        let caps = timed("CAPABILITY", session.capabilities())
            .await
            .map_err(|e| protocol("CAPABILITY", e))?;
        let mut mailbox = ImapMailbox {
            can_move: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            can_idle: caps.has_str("IDLE"),
            uid_validity: 0,
            session,
            budget,
        };
        for folder in folders {
            mailbox.ensure_folder(folder).await?;
        }
        mailbox.uid_validity = mailbox.select(&url.folder).await?;
        Ok(mailbox)
    }

    async fn ensure_folder(&mut self, name: &str) -> Result<(), FetchError> {
        self.budget.reset(ANSWER_BUDGET);
        let quoted = quote(name);
        let exists = timed("LIST", async {
            let names: Vec<_> = self
                .session
                .list(Some(""), Some(&quoted))
                .await?
                .try_collect()
                .await?;
            Ok::<_, async_imap::error::Error>(!names.is_empty())
        })
        .await
        .map_err(|e| protocol(&format!("LIST {name}"), e))?;
        if !exists {
            timed("CREATE", self.session.create(name))
                .await
                .map_err(|e| protocol(&format!("CREATE {name}"), e))?;
        }
        Ok(())
    }

    async fn select(&mut self, folder: &str) -> Result<u32, FetchError> {
        self.budget.reset(ANSWER_BUDGET);
        let mailbox = timed("SELECT", self.session.select(folder))
            .await
            .map_err(|e| protocol(&format!("SELECT {folder}"), e))?;
        Ok(mailbox.uid_validity.unwrap_or(0))
    }

    /// The UIDs of the folder's messages not marked deleted, oldest first,
    /// with their sizes.
    pub async fn pending(&mut self) -> Result<Vec<(u32, u64)>, FetchError> {
        self.budget.reset(ANSWER_BUDGET);
        let uids = timed("UID SEARCH", self.session.uid_search("UNDELETED"))
            .await
            .map_err(|e| protocol("UID SEARCH", e))?;
        self.drain_unsolicited();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let mut uids: Vec<u32> = uids.into_iter().collect();
        uids.sort_unstable();
        let mut sized = Vec::with_capacity(uids.len());
        // Sizes in chunks, so no command line grows with the mailbox.
        for chunk in uids.chunks(500) {
            let set = uid_set(chunk);
            self.budget.reset(ANSWER_BUDGET);
            let fetches: Vec<_> = timed("UID FETCH RFC822.SIZE", async {
                self.session
                    .uid_fetch(&set, "(UID RFC822.SIZE)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .map_err(|e| protocol("UID FETCH", e))?;
            for f in fetches {
                if let Some(uid) = f.uid {
                    sized.push((uid, u64::from(f.size.unwrap_or(0))));
                }
            }
        }
        self.drain_unsolicited();
        sized.sort_unstable();
        Ok(sized)
    }

    /// The raw message `uid` (BODY.PEEK: its \Seen flag is left alone);
    /// `None` if it vanished meanwhile.
    pub async fn body(&mut self, uid: u32, max: usize) -> Result<Option<Vec<u8>>, FetchError> {
        // The literal plus the FETCH line around it.
        self.budget.reset(max as u64 + 64 * 1024);
        let fetches: Vec<_> = timed("UID FETCH BODY.PEEK[]", async {
            self.session
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .map_err(|e| protocol(&format!("UID FETCH {uid}"), e))?;
        self.drain_unsolicited();
        let body = fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
            .map(<[u8]>::to_vec);
        match body {
            Some(b) if b.len() > max => Err(FetchError::Protocol(format!(
                "UID {uid}: the server sent {} bytes, more than the {max} it announced room for",
                b.len()
            ))),
            other => Ok(other),
        }
    }

    /// Moves `uid` to `folder`: MOVE (RFC 6851), else COPY, flag \Deleted
    /// and expunge (UID EXPUNGE with UIDPLUS, so no other message flagged
    /// \Deleted by someone else goes with it).
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), FetchError> {
        self.budget.reset(ANSWER_BUDGET);
        let set = uid.to_string();
        let what = format!("moving UID {uid} to {folder}");
        if self.can_move {
            timed("UID MOVE", self.session.uid_mv(&set, folder))
                .await
                .map_err(|e| protocol(&what, e))?;
        } else {
            timed("UID COPY", self.session.uid_copy(&set, folder))
                .await
                .map_err(|e| protocol(&what, e))?;
            timed("UID STORE", async {
                self.session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await
            .map_err(|e| protocol(&what, e))?;
            if self.uidplus {
                timed("UID EXPUNGE", async {
                    self.session
                        .uid_expunge(&set)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await
                .map_err(|e| protocol(&what, e))?;
            } else {
                timed("EXPUNGE", async {
                    self.session.expunge().await?.try_collect::<Vec<_>>().await
                })
                .await
                .map_err(|e| protocol(&what, e))?;
            }
        }
        self.drain_unsolicited();
        Ok(())
    }

    /// Waits until the server announces a change or `dur` passes (IDLE,
    /// RFC 2177); without IDLE, sleeps `dur` and sends NOOP.
    pub async fn wait(mut self, dur: Duration) -> Result<Self, FetchError> {
        if !self.can_idle {
            tokio::time::sleep(dur).await;
            self.budget.reset(ANSWER_BUDGET);
            timed("NOOP", self.session.noop())
                .await
                .map_err(|e| protocol("NOOP", e))?;
            return Ok(self);
        }
        let ImapMailbox {
            session,
            budget,
            can_move,
            uidplus,
            can_idle,
            uid_validity,
        } = self;
        budget.reset(ANSWER_BUDGET);
        let mut idle = session.idle();
        timed("IDLE", idle.init())
            .await
            .map_err(|e| protocol("IDLE", e))?;
        {
            let (wait, _stop) = idle.wait_with_timeout(dur);
            // Keepalives reset the library's timeout; this one bounds the
            // whole wait, so a server that chats forever is still renewed.
            if let Ok(r) = tokio::time::timeout(dur + IO_TIMEOUT, wait).await {
                r.map_err(|e| protocol("IDLE", e))?;
            }
        }
        budget.reset(ANSWER_BUDGET);
        let session = timed("DONE", idle.done())
            .await
            .map_err(|e| protocol("IDLE DONE", e))?;
        let mut mailbox = ImapMailbox {
            session,
            budget,
            can_move,
            uidplus,
            can_idle,
            uid_validity,
        };
        mailbox.drain_unsolicited();
        Ok(mailbox)
    }

    pub async fn logout(mut self) {
        self.budget.reset(ANSWER_BUDGET);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }

    /// Untagged answers the library set aside (EXISTS, EXPUNGE…): nothing
    /// here needs them, and its channel keeps only the first 100 anyway.
    fn drain_unsolicited(&mut self) {
        while self.session.unsolicited_responses.try_recv().is_ok() {}
    }
}

async fn greeting(
    client: &mut Client<impl crate::io::Io>,
    url: &MailboxUrl,
) -> Result<(), FetchError> {
    let greeting = timed("the greeting", client.read_response())
        .await
        .map_err(|e| FetchError::Connection(format!("{url}: {e}")))?;
    match greeting {
        Some(g) => match g.parsed() {
            async_imap::imap_proto::Response::Data {
                status: async_imap::imap_proto::Status::Ok | async_imap::imap_proto::Status::PreAuth,
                ..
            } => Ok(()),
            other => Err(FetchError::Protocol(format!(
                "{url}: not an IMAP greeting: {other:?}"
            ))),
        },
        None => Err(FetchError::Connection(format!(
            "{url}: the server closed the connection before its greeting"
        ))),
    }
}

/// The server's own words in async-imap's rendering of a NO answer
/// (`code: None, info: Some("[AUTHENTICATIONFAILED] …")`).
fn server_text(rendered: &str) -> String {
    match rendered.split_once("info: Some(\"") {
        Some((_, rest)) => rest.trim_end_matches("\")").replace("\\\"", "\""),
        None => rendered.to_string(),
    }
}

/// A folder name as an IMAP quoted string (names with quotes or
/// backslashes are refused by the configuration).
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

/// `1:3,7,9:10` for sorted UIDs.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refusal_reads_as_the_servers_words() {
        assert_eq!(
            super::server_text(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")"#
            ),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        assert_eq!(super::server_text("plain"), "plain");
    }

    #[test]
    fn uid_sets_join_runs() {
        assert_eq!(super::uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(super::uid_set(&[4]), "4");
    }
}
