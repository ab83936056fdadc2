//! A POP3 client (RFC 1939) with STLS (RFC 2595) and UIDL: no maintained
//! async crate exists, and the protocol is a handful of line commands.
//!
//! Every answer is read under [`IO_TIMEOUT`](crate::io::IO_TIMEOUT), status
//! lines are capped at [`MAX_LINE`], multi-line answers at the caller's
//! byte cap, and the stream itself has a byte budget per command, so a
//! server sending garbage or an endless message gives an error, not a hang
//! or unbounded memory.

use crate::config::Password;
use crate::io::{BoxIo, Budget, Budgeted, connect_tcp, start_tls, timed};
use crate::url::{MailboxUrl, Security};
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The longest status line or listing line accepted (RFC 1939 allows 512
/// octets; servers' texts are longer in practice).
pub const MAX_LINE: usize = 8 * 1024;
/// The most entries a UIDL or LIST answer may have.
const MAX_LISTING: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server refused the user name or password.
    #[error("login refused: {0}")]
    Auth(String),
    /// An answer that breaks the protocol, or an -ERR where +OK was needed.
    #[error("{0}")]
    Protocol(String),
}

pub struct Pop3Session {
    stream: BufReader<BoxIo>,
    budget: Budget,
}

/// Bytes a status or listing answer may bring: the listing cap times a
/// listing line's usual size is far more than needed; this bounds garbage.
const ANSWER_BUDGET: u64 = 64 * 1024 * 1024;

impl Pop3Session {
    /// Connects, upgrades to TLS (STLS for `pop3://`) and logs in.
    pub async fn connect(
        url: &MailboxUrl,
        tls: Arc<rustls::ClientConfig>,
        password: &Password,
    ) -> Result<Self, Pop3Error> {
        let budget = Budget::default();
        budget.reset(ANSWER_BUDGET);
        let tcp = Budgeted::new(connect_tcp(&url.host, url.port).await?, budget.clone());
        let stream: BoxIo = match url.security {
            Security::Tls => Box::new(start_tls(tcp, &url.host, tls.clone()).await?),
            Security::StartTls => Box::new(tcp),
        };
        let mut session = Pop3Session {
            stream: BufReader::new(stream),
            budget,
        };
        session.status("the greeting").await?;
        if url.security == Security::StartTls {
            session.send("STLS").await?;
            session.status("STLS").await.map_err(|e| {
                Pop3Error::Protocol(format!(
                    "the server does not offer STLS, and the password is not sent in the clear: {e}"
                ))
            })?;
            // Anything the server sent after its +OK would be plain text
            // injected before the handshake (CVE-2011-0411's kind).
            if !session.stream.buffer().is_empty() {
                return Err(Pop3Error::Protocol(
                    "the server sent data after its STLS answer; refused".into(),
                ));
            }
            let plain = session.stream.into_inner();
            session.stream = BufReader::new(Box::new(start_tls(plain, &url.host, tls).await?));
        }
        session.send(&format!("USER {}", url.user)).await?;
        session
            .status("USER")
            .await
            .map_err(|e| Pop3Error::Auth(e.to_string()))?;
        session.send_secret(&format!("PASS {}", password.0)).await?;
        match session.status("PASS").await {
            Ok(_) => Ok(session),
            Err(Pop3Error::Protocol(e)) => Err(Pop3Error::Auth(e)),
            Err(e) => Err(e),
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), Pop3Error> {
        if line.contains(['\r', '\n']) {
            return Err(Pop3Error::Protocol(format!(
                "refusing to send a command with a line break: {line:?}"
            )));
        }
        self.send_secret(line).await
    }

    async fn send_secret(&mut self, line: &str) -> Result<(), Pop3Error> {
        if line.contains(['\r', '\n']) {
            return Err(Pop3Error::Protocol(
                "refusing to send a command with a line break".into(),
            ));
        }
        self.budget.reset(ANSWER_BUDGET);
        let stream = self.stream.get_mut();
        timed("a command", async {
            stream.write_all(line.as_bytes()).await?;
            stream.write_all(b"\r\n").await?;
            stream.flush().await
        })
        .await?;
        Ok(())
    }

    /// Reads a status line: the text after `+OK`, or the `-ERR` as an error.
    async fn status(&mut self, what: &str) -> Result<String, Pop3Error> {
        let line = timed(what, read_line(&mut self.stream, MAX_LINE)).await?;
        let line = line.ok_or_else(|| {
            Pop3Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the server closed the connection instead of answering {what}"),
            ))
        })?;
        parse_status(&line, what)
    }

    /// `UIDL`: message number and unique id of every message.
    pub async fn uidl(&mut self) -> Result<Vec<(u32, String)>, Pop3Error> {
        self.send("UIDL").await?;
        self.status("UIDL").await?;
        let lines = timed("UIDL", read_listing(&mut self.stream)).await?;
        lines
            .iter()
            .map(|l| {
                let (n, uid) = l.split_once(' ').ok_or_else(|| bad_listing("UIDL", l))?;
                let n = n.parse::<u32>().map_err(|_| bad_listing("UIDL", l))?;
                let uid = uid.trim();
                if uid.is_empty() || uid.len() > 70 {
                    return Err(bad_listing("UIDL", l));
                }
                Ok((n, uid.to_string()))
            })
            .collect()
    }

    /// `LIST`: message number and size in octets of every message.
    pub async fn list(&mut self) -> Result<Vec<(u32, u64)>, Pop3Error> {
        self.send("LIST").await?;
        self.status("LIST").await?;
        let lines = timed("LIST", read_listing(&mut self.stream)).await?;
        lines
            .iter()
            .map(|l| {
                let mut it = l.split_ascii_whitespace();
                let n = it.next().and_then(|n| n.parse::<u32>().ok());
                let size = it.next().and_then(|s| s.parse::<u64>().ok());
                match (n, size) {
                    (Some(n), Some(size)) => Ok((n, size)),
                    _ => Err(bad_listing("LIST", l)),
                }
            })
            .collect()
    }

    /// `RETR n`: the message, dot-unstuffed, with CRLF line ends; at most
    /// `max` bytes, else an error (the connection is then unusable).
    pub async fn retr(&mut self, n: u32, max: usize) -> Result<Vec<u8>, Pop3Error> {
        self.send(&format!("RETR {n}")).await?;
        // The message's lines plus their terminators and dot-stuffing.
        self.budget.reset(max as u64 * 2 + 64 * 1024);
        self.status("RETR").await?;
        timed("RETR", read_multiline(&mut self.stream, max)).await
    }

    /// `DELE n`: marked for deletion, done when the session ends with QUIT.
    pub async fn dele(&mut self, n: u32) -> Result<(), Pop3Error> {
        self.send(&format!("DELE {n}")).await?;
        self.status("DELE").await.map(drop)
    }

    pub async fn noop(&mut self) -> Result<(), Pop3Error> {
        self.send("NOOP").await?;
        self.status("NOOP").await.map(drop)
    }

    /// `QUIT`: the server deletes the messages marked with DELE (RFC 1939's
    /// UPDATE state). A session that ends any other way deletes nothing.
    pub async fn quit(mut self) -> Result<(), Pop3Error> {
        self.send("QUIT").await?;
        self.status("QUIT").await.map(drop)
    }
}

fn bad_listing(what: &str, line: &str) -> Pop3Error {
    Pop3Error::Protocol(format!(
        "unreadable {what} line from the server: {:?}",
        truncate(line)
    ))
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_status(line: &str, what: &str) -> Result<String, Pop3Error> {
    if let Some(rest) = line.strip_prefix("+OK") {
        Ok(rest.trim().to_string())
    } else if let Some(rest) = line.strip_prefix("-ERR") {
        Err(Pop3Error::Protocol(format!(
            "the server refused {what}: {}",
            truncate(rest.trim())
        )))
    } else {
        Err(Pop3Error::Protocol(format!(
            "not a POP3 answer to {what}: {:?}",
            truncate(line)
        )))
    }
}

/// One line without its CRLF (or LF); `None` at end of stream; an error
/// past `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = read_raw_line(r, max, &mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    strip_eol(&mut buf);
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Appends one line with its end to `buf`; the bytes read (0 at end of
/// stream).
async fn read_raw_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let start = buf.len();
    let n = (&mut *r)
        .take(max as u64 + 1)
        .read_until(b'\n', buf)
        .await?;
    if n > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a line from the server is longer than {max} bytes"),
        ));
    }
    if n > 0 && buf.last() != Some(&b'\n') {
        buf.truncate(start);
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the server closed the connection in the middle of a line",
        ));
    }
    Ok(n)
}

fn strip_eol(buf: &mut Vec<u8>) {
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
}

/// The lines of a multi-line listing up to the lone `.`.
async fn read_listing<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Vec<String>, Pop3Error> {
    let mut lines = Vec::new();
    loop {
        let line = read_line(r, MAX_LINE).await?.ok_or_else(|| {
            Pop3Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection in the middle of a listing",
            ))
        })?;
        if line == "." {
            return Ok(lines);
        }
        if lines.len() == MAX_LISTING {
            return Err(Pop3Error::Protocol(format!(
                "a listing of more than {MAX_LISTING} lines"
            )));
        }
        lines.push(line.strip_prefix('.').unwrap_or(&line).to_string());
    }
}

/// A multi-line answer's bytes, dot-unstuffed, lines ending in CRLF, up to
/// the lone `.`; an error past `max` bytes.
async fn read_multiline<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, Pop3Error> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        // A stuffed line is one byte longer than what it carries.
        let room = max.saturating_sub(out.len()) + 3;
        let n = read_raw_line(r, room, &mut line)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    Pop3Error::Protocol(format!("a message larger than {max} bytes"))
                }
                _ => Pop3Error::Io(e),
            })?;
        if n == 0 {
            return Err(Pop3Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection in the middle of a message",
            )));
        }
        strip_eol(&mut line);
        if line == b"." {
            return Ok(out);
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if out.len() + content.len() + 2 > max {
            return Err(Pop3Error::Protocol(format!(
                "a message larger than {max} bytes"
            )));
        }
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_message_is_dot_unstuffed_and_ends_at_the_lone_dot() {
        let wire: &[u8] = b"Subject: x\r\n\r\n..leading dot\r\nbare lf\n.\r\nnext answer\r\n";
        let mut r = BufReader::new(wire);
        let msg = block_on(read_multiline(&mut r, 1000)).unwrap();
        assert_eq!(msg, b"Subject: x\r\n\r\n.leading dot\r\nbare lf\r\n");
        let rest = block_on(read_line(&mut r, 100)).unwrap();
        assert_eq!(rest.as_deref(), Some("next answer"));
    }

    #[test]
    fn a_message_over_the_cap_is_an_error_not_a_growing_buffer() {
        // One endless line, and many short ones: both stop at the cap.
        let endless = vec![b'a'; 10_000];
        let e = block_on(read_multiline(&mut BufReader::new(&endless[..]), 1000)).unwrap_err();
        assert!(e.to_string().contains("larger than 1000"), "{e}");
        let many = b"line\r\n".repeat(1000);
        let e = block_on(read_multiline(&mut BufReader::new(&many[..]), 1000)).unwrap_err();
        assert!(e.to_string().contains("larger than 1000"), "{e}");
    }

    #[test]
    fn a_cut_connection_is_an_end_of_stream_error() {
        let cut: &[u8] = b"Subject: x\r\nhalf a li";
        let e = block_on(read_multiline(&mut BufReader::new(cut), 1000)).unwrap_err();
        assert!(e.to_string().contains("middle of a line"), "{e}");
        let cut: &[u8] = b"1 abc\r\n";
        let e = block_on(read_listing(&mut BufReader::new(cut))).unwrap_err();
        assert!(e.to_string().contains("middle of a listing"), "{e}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("+OK 2 320", "STAT").unwrap(), "2 320");
        let e = parse_status("-ERR [AUTH] Authentication failed.", "PASS").unwrap_err();
        assert!(e.to_string().contains("refused PASS"), "{e}");
        let e = parse_status("* OK IMAP4rev1 ready", "the greeting").unwrap_err();
        assert!(e.to_string().contains("not a POP3 answer"), "{e}");
    }
}
