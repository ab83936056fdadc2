//! JSON answers for requests hyper cannot parse.
//!
//! A request whose head hyper cannot read (a malformed request line, a bad
//! header, a head beyond hyper's buffer) is answered by hyper itself before
//! any service runs: an empty-bodied `400`, `414` or `431`, after which it
//! closes the connection. hyper has no hook to shape that answer, so
//! [`JsonParseErrors`] wraps each connection's socket, recognises that one
//! answer on its way out and writes the server's error shape
//! (`{"error": …, "detail": …}`, as [`crate::error::ApiError`] writes it)
//! in its place. A client then reads one error format whatever went wrong.
//!
//! Recognising it is safe because the server's own answers with these
//! statuses always carry a JSON body: an empty-bodied one can only be
//! hyper's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A socket whose outgoing bytes are watched for hyper's parse-error answer.
pub struct JsonParseErrors<S> {
    inner: S,
    /// The replacement answer still to be written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<S> JsonParseErrors<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The JSON answer for hyper's empty-bodied answer `out`, when `out` is
/// exactly that: a status line of 400, 414 or 431, `content-length: 0`, and
/// nothing after the head.
fn replacement(out: &[u8]) -> Option<Vec<u8>> {
    let (code, error, detail) = match out.get(..13)? {
        b"HTTP/1.1 400 " => (
            "400 Bad Request",
            "bad_request",
            "the request line or a header could not be read as HTTP/1.1",
        ),
        b"HTTP/1.1 414 " => (
            "414 URI Too Long",
            "uri_too_long",
            "the request target is too long",
        ),
        b"HTTP/1.1 431 " => (
            "431 Request Header Fields Too Large",
            "headers_too_large",
            "the request's header block is too large",
        ),
        _ => return None,
    };
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if head_end != out.len() {
        return None;
    }
    let head = std::str::from_utf8(out).ok()?;
    let mut empty_body = false;
    let mut date = None;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            empty_body = value.trim() == "0";
        } else if name.eq_ignore_ascii_case("date") {
            date = Some(value.trim());
        }
    }
    if !empty_body {
        return None;
    }
    let body = serde_json::json!({ "error": error, "detail": detail }).to_string();
    let mut answer = format!(
        "HTTP/1.1 {code}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n",
        body.len()
    );
    if let Some(date) = date {
        answer.push_str(&format!("date: {date}\r\n"));
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

impl<S: AsyncWrite + Unpin> JsonParseErrors<S> {
    /// Writes what is left of a replacement answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `out` (all of one write) as answered when it is hyper's
    /// parse-error answer: the replacement goes out instead.
    fn intercept(&mut self, cx: &mut Context<'_>, out: &[u8]) -> Option<Poll<io::Result<usize>>> {
        let answer = replacement(out)?;
        self.pending = answer;
        self.written = 0;
        // Written or not yet, the bytes are ours to send now: a flush or the
        // next write finishes them.
        Some(match self.poll_drain(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(out.len())),
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonParseErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        if let Some(done) = self.intercept(cx, buf) {
            return done;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        // hyper's answer is a head alone: one non-empty slice.
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next())
            && let Some(done) = self.intercept(cx, only)
        {
            return done;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_an_empty_bodied_parse_error_answer_is_replaced() {
        let canned = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 02:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(canned).expect("replaced")).unwrap();
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        assert!(
            out.contains("date: Thu, 03 Dec 2026 02:00:00 GMT\r\n"),
            "{out}"
        );
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{out}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"], "bad_request");

        let big = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let out = String::from_utf8(replacement(big).unwrap()).unwrap();
        assert!(
            out.ends_with(r#""error":"headers_too_large"}"#) || out.contains("headers_too_large")
        );

        // The server's own answers carry bodies, and other statuses pass.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n";
        assert!(replacement(ours).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nextra";
        assert!(replacement(with_body).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(ok).is_none());
        assert!(replacement(b"HTTP/1.1 4").is_none());
    }
}
