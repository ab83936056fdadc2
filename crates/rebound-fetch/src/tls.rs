//! The rustls client configuration: the system's roots (the Debian bundle,
//! or `SSL_CERT_FILE`), else webpki-roots' copy of Mozilla's, plus the
//! certificates of `--ca FILE`.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// Where Debian, Ubuntu and Alpine keep the system's CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// A client configuration trusting the system's roots and `ca`'s.
pub fn tls_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from))
        .find(|p| p.is_file());
    let mut from_system = 0;
    if let Some(bundle) = system
        && let Ok(pem) = std::fs::read(&bundle)
    {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .filter_map(Result::ok)
            .collect();
        (from_system, _) = roots.add_parsable_certificates(certs);
    }
    if from_system == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = ca {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the CA file {} is not PEM: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "the CA file {} holds no certificate",
                path.display()
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                format!(
                    "the CA file {} holds a certificate rustls cannot use: {e}",
                    path.display()
                )
            })?;
        }
    }
    // The provider is named rather than taken from the process default, so
    // the configuration does not depend on which of rustls' providers other
    // crates of the binary enabled.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("rebound-fetch-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no pem here\n").unwrap();
        let e = tls_config(Some(&empty)).unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
        let e = tls_config(Some(&dir.join("missing.pem"))).unwrap_err();
        assert!(e.contains("cannot read the CA file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(tls_config(None).is_ok());
    }
}
