//! Connecting to PostgreSQL from a URL as libpq users write it: the ledger's
//! own `schema=` parameter, and TLS by `sslmode` (`disable`, `prefer`,
//! `require`, `verify-ca`, `verify-full`) with `sslrootcert=FILE`, done with
//! rustls. Managed PostgreSQL services refuse plain connections, and the
//! driver alone knows neither `verify-*` nor `sslrootcert`.

use crate::{Error, Result};
use postgres::{Client, NoTls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;

/// How much a connection checks of the server, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS if the server offers it, plain otherwise; the certificate is not
    /// checked (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is checked only against
    /// `sslrootcert` when one is given (as libpq does).
    Require,
    /// TLS, and the certificate chains to a trusted root.
    VerifyCa,
    /// TLS, a trusted chain, and the certificate names the host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => {
                return Err(Error::Other(format!(
                    "sslmode={s:?}: expected disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }
}

/// A PostgreSQL URL taken apart: what the driver reads, and what we do
/// ourselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgUrl {
    /// The URL as the driver reads it (our parameters removed, `sslmode`
    /// reduced to what the driver knows).
    pub driver_url: String,
    pub schema: Option<String>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<String>,
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = None;
        let mut sslmode = SslMode::Prefer;
        let mut sslrootcert = None;
        let mut rest = Vec::new();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("schema", s)) => schema = Some(s.to_string()),
                Some(("sslmode", m)) => sslmode = SslMode::parse(m)?,
                Some(("sslrootcert", f)) => sslrootcert = Some(percent_decode(f)),
                _ => rest.push(kv),
            }
        }
        if let Some(s) = &schema
            && (s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(Error::Other(format!("bad schema name {s:?}")));
        }
        // The driver negotiates TLS itself and knows only these three.
        rest.push(match sslmode {
            SslMode::Disable => "sslmode=disable",
            SslMode::Prefer => "sslmode=prefer",
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "sslmode=require",
        });
        Ok(Self {
            driver_url: format!("{base}?{}", rest.join("&")),
            schema,
            sslmode,
            sslrootcert,
        })
    }

    /// Opens a connection (no schema selected).
    pub fn connect(&self) -> Result<Client> {
        let client = if self.sslmode == SslMode::Disable {
            Client::connect(&self.driver_url, NoTls)
        } else {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config()?);
            Client::connect(&self.driver_url, tls)
        };
        client.map_err(connect_error)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match (self.sslmode, &self.sslrootcert) {
            (SslMode::Prefer, _) | (SslMode::Require, None) => {
                Arc::new(AnyCertificate(provider.clone()))
            }
            (SslMode::Require | SslMode::VerifyCa, roots) => {
                Arc::new(ChainOnly(webpki_verifier(roots.as_deref(), &provider)?))
            }
            (SslMode::VerifyFull, roots) => webpki_verifier(roots.as_deref(), &provider)?,
            (SslMode::Disable, _) => unreachable!("no TLS for sslmode=disable"),
        };
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Other(format!("TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

/// A connection error with its causes: "error performing TLS handshake"
/// alone does not say that the certificate was the problem.
fn connect_error(e: postgres::Error) -> Error {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    Error::Other(format!("postgres: {text}"))
}

/// The roots a verifying connection trusts: the `sslrootcert` file's
/// certificates, or the Mozilla roots when none is named.
fn webpki_verifier(
    rootcert: Option<&str>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut roots = RootCertStore::empty();
    match rootcert {
        Some(path) if path != "system" => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<std::result::Result<_, _>>())
                .map_err(|e| Error::Other(format!("sslrootcert {path}: {e}")))?;
            if certs.is_empty() {
                return Err(Error::Other(format!(
                    "sslrootcert {path}: no PEM certificate in the file"
                )));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| Error::Other(format!("sslrootcert {path}: {e}")))?;
            }
        }
        _ => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Other(format!("TLS roots: {e}")))
}

/// `verify-ca`: a trusted chain is required, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a root file: encrypted, but any
/// certificate is accepted, as libpq does. The handshake signatures are
/// still checked, so the session key belongs to the certificate shown.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `%2F`-style escapes in a URL parameter (a root file's path).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_parameters_are_taken_off_and_sslmode_reduced() {
        let u = PgUrl::parse(
            "postgres://u@db.example:5432/rb?schema=s1&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(
            u.driver_url,
            "postgres://u@db.example:5432/rb?application_name=x&sslmode=require"
        );
        assert_eq!(u.schema.as_deref(), Some("s1"));
        assert_eq!(u.sslmode, SslMode::VerifyFull);
        assert_eq!(u.sslrootcert.as_deref(), Some("/etc/ca.pem"));
        let plain = PgUrl::parse("postgres://u@h/db").unwrap();
        assert_eq!(plain.sslmode, SslMode::Prefer);
        assert_eq!(plain.driver_url, "postgres://u@h/db?sslmode=prefer");
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(PgUrl::parse("postgres://h/db?sslmode=verify").is_err());
        assert!(PgUrl::parse("postgres://h/db?schema=a;drop").is_err());
        assert!(PgUrl::parse("postgres://h/db?schema=").is_err());
    }

    #[test]
    fn a_missing_root_file_is_a_clear_error() {
        let u = PgUrl::parse("postgres://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
            .unwrap();
        let e = u.tls_config().expect_err("no such file").to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
