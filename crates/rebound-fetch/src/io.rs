//! The byte stream under both protocols: TCP, maybe wrapped in TLS, behind
//! one type so a STARTTLS upgrade keeps the session's type; every read and
//! write bounded by a timeout, and reads by a byte budget.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a connect, a read or a write may take before the connection
/// is given up as dead.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

pub type BoxIo = Box<dyn Io>;

/// The bytes a reply may still bring: reset before each command. A server
/// that sends more (a huge literal, an endless line) makes the read fail
/// instead of growing the client's buffers to the library's own cap
/// (512 MiB in async-imap).
#[derive(Clone, Debug, Default)]
pub struct Budget(Arc<AtomicU64>);

impl Budget {
    pub fn reset(&self, bytes: u64) {
        self.0.store(bytes, Ordering::Relaxed);
    }
}

/// A stream that fails reads beyond its [`Budget`].
#[derive(Debug)]
pub struct Budgeted<S> {
    inner: S,
    budget: Budget,
}

impl<S> Budgeted<S> {
    pub fn new(inner: S, budget: Budget) -> Self {
        Budgeted { inner, budget }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let read = (buf.filled().len() - before) as u64;
            let left = this.budget.0.load(Ordering::Relaxed);
            if read > left {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the server sent more than any answer may hold (a message over the size cap, or garbage)",
                )));
            }
            this.budget.0.store(left - read, Ordering::Relaxed);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Connects over TCP within [`IO_TIMEOUT`].
pub async fn connect_tcp(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Wraps `stream` in TLS, checking the certificate against `host`.
pub async fn start_tls<S>(
    stream: S,
    host: &str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{host:?}: {e}"))
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    tokio::time::timeout(IO_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// Runs `f` within [`IO_TIMEOUT`], naming `what` when it runs out.
pub async fn timed<T, E: From<std::io::Error>>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match tokio::time::timeout(IO_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer to {what} within {} s", IO_TIMEOUT.as_secs()),
        )
        .into()),
    }
}
