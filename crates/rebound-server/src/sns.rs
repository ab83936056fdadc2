//! Amazon SNS message signatures (SES notifications arrive through SNS).
//!
//! SNS signs a canonical string of the envelope's fields (`Message`,
//! `MessageId`, `Subject` if present, `Timestamp`, `TopicArn`, `Type` for
//! notifications; `Message`, `MessageId`, `SubscribeURL`, `Timestamp`,
//! `Token`, `TopicArn`, `Type` for (un)subscription confirmations), each as
//! `name\nvalue\n`, with RSA PKCS#1 v1.5 — SHA-1 for `SignatureVersion` 1,
//! SHA-256 for 2 — using the key of the certificate at `SigningCertURL`.
//!
//! The certificate is looked up by the URL's file name in a directory the
//! operator fills (offline, pinned), and, only when `fetch_certificates` is
//! on, fetched over HTTPS from the URL itself — and only from an
//! `https://sns.<region>.amazonaws.com[.cn]/….pem` URL, so a forged message
//! cannot point the server at a key of its choosing. Fetched keys are kept
//! in memory. Verification is off unless configured.

use crate::signatures::SignatureError;
use base64::Engine;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use x509_cert::der::{DecodePem, Encode};

/// Keys kept in memory; more distinct certificate URLs than this empties
/// the cache (SNS uses a handful).
const CACHE: usize = 64;

pub struct SnsVerifier {
    dir: Option<PathBuf>,
    fetch: bool,
    keys: Mutex<HashMap<String, Arc<RsaPublicKey>>>,
}

impl SnsVerifier {
    pub fn new(dir: Option<PathBuf>, fetch: bool) -> SnsVerifier {
        SnsVerifier {
            dir,
            fetch,
            keys: Mutex::default(),
        }
    }

    /// Verifies an SNS envelope. May fetch a certificate (blocking): call
    /// it off the async workers.
    pub fn verify(&self, doc: &Value) -> Result<(), SignatureError> {
        let field = |name: &'static str| doc.get(name).and_then(Value::as_str);
        let url = field("SigningCertURL").ok_or(SignatureError::Missing("SigningCertURL"))?;
        let version = field("SignatureVersion").unwrap_or("1");
        let sig = field("Signature").ok_or(SignatureError::Missing("Signature"))?;
        let sig = base64::engine::general_purpose::STANDARD
            .decode(sig.trim())
            .map_err(|e| SignatureError::Malformed(format!("Signature is not base64: {e}")))?;
        let sig = Signature::try_from(sig.as_slice())
            .map_err(|e| SignatureError::Malformed(e.to_string()))?;
        let message = string_to_sign(doc)?;
        let key = self.key(url)?;
        let ok = match version {
            "1" => VerifyingKey::<sha1::Sha1>::new((*key).clone()).verify(message.as_bytes(), &sig),
            "2" => {
                VerifyingKey::<sha2::Sha256>::new((*key).clone()).verify(message.as_bytes(), &sig)
            }
            v => {
                return Err(SignatureError::Malformed(format!(
                    "SignatureVersion {v:?} (1 or 2)"
                )));
            }
        };
        ok.map_err(|_| SignatureError::Mismatch)
    }

    fn key(&self, url: &str) -> Result<Arc<RsaPublicKey>, SignatureError> {
        let file = cert_file_name(url)?;
        if let Some(k) = self.keys.lock().unwrap_or_else(|e| e.into_inner()).get(url) {
            return Ok(Arc::clone(k));
        }
        let pinned = self
            .dir
            .as_ref()
            .map(|d| d.join(file))
            .filter(|p| p.is_file());
        let pem = match pinned {
            Some(p) => std::fs::read_to_string(&p).map_err(|e| {
                SignatureError::Certificate(format!("reading {}: {e}", p.display()))
            })?,
            None if self.fetch => fetch(url)?,
            None => {
                return Err(SignatureError::Certificate(format!(
                    "certificate {file} is not in webhooks.ses.certificate_dir (download it from {url}, or set fetch_certificates)"
                )));
            }
        };
        let key = Arc::new(public_key(&pem).map_err(SignatureError::Certificate)?);
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= CACHE {
            keys.clear();
        }
        keys.insert(url.to_string(), Arc::clone(&key));
        Ok(key)
    }
}

/// The canonical string SNS signs.
pub fn string_to_sign(doc: &Value) -> Result<String, SignatureError> {
    let kind = doc
        .get("Type")
        .and_then(Value::as_str)
        .ok_or(SignatureError::Missing("Type"))?;
    let names: &[&'static str] = match kind {
        "Notification" => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
        other => {
            return Err(SignatureError::Malformed(format!(
                "unknown SNS message Type {other:?}"
            )));
        }
    };
    let mut out = String::new();
    for &name in names {
        match doc.get(name).and_then(Value::as_str) {
            Some(v) => {
                out.push_str(name);
                out.push('\n');
                out.push_str(v);
                out.push('\n');
            }
            None if name == "Subject" => {}
            None => return Err(SignatureError::Missing(name)),
        }
    }
    Ok(out)
}

/// The certificate's file name, if `url` is an SNS certificate URL:
/// `https://sns.<region>.amazonaws.com[.cn]/<name>.pem`, nothing else.
pub fn cert_file_name(url: &str) -> Result<&str, SignatureError> {
    let bad = || {
        SignatureError::Certificate(format!(
            "SigningCertURL {url:?} is not an Amazon SNS certificate URL"
        ))
    };
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let (host, path) = rest.split_once('/').ok_or_else(bad)?;
    let region = host
        .strip_prefix("sns.")
        .and_then(|h| {
            h.strip_suffix(".amazonaws.com")
                .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
        })
        .ok_or_else(bad)?;
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let file_ok = path.ends_with(".pem")
        && !path.contains('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !path.starts_with('.');
    if region_ok && file_ok {
        Ok(path)
    } else {
        Err(bad())
    }
}

fn public_key(pem: &str) -> Result<RsaPublicKey, String> {
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|e| format!("not an RSA key: {e}"))
}

fn fetch(url: &str) -> Result<String, SignatureError> {
    // No redirects: the certificate must come from the checked host itself.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .max_redirects(0)
        .build()
        .into();
    let mut resp = agent
        .get(url)
        .call()
        .map_err(|e| SignatureError::Unreachable(format!("fetching {url}: {e}")))?;
    resp.body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| SignatureError::Unreachable(format!("reading {url}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};

    const URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem";

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    /// A notification signed with a fixture key (`version` 1 or 2).
    fn signed(key_file: &str, version: &str, message: &str) -> Value {
        let mut doc = serde_json::json!({
            "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:ses",
            "Message": message, "Timestamp": "2026-11-02T10:00:00.000Z",
            "SignatureVersion": version, "SigningCertURL": URL,
        });
        let pem = std::fs::read_to_string(fixtures().join(key_file)).unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
        let text = string_to_sign(&doc).unwrap();
        let sig = if version == "1" {
            rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key)
                .sign(text.as_bytes())
                .to_vec()
        } else {
            rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key)
                .sign(text.as_bytes())
                .to_vec()
        };
        doc["Signature"] = base64::engine::general_purpose::STANDARD.encode(sig).into();
        doc
    }

    #[test]
    fn valid_tampered_wrong_key_and_bad_urls() {
        let v = SnsVerifier::new(Some(fixtures()), false);
        assert_eq!(
            v.verify(&signed("sns-test-key.pem", "2", "{\"a\":1}")),
            Ok(())
        );
        assert_eq!(
            v.verify(&signed("sns-test-key.pem", "1", "{\"a\":1}")),
            Ok(())
        );
        let mut tampered = signed("sns-test-key.pem", "2", "{\"a\":1}");
        tampered["Message"] = "{\"a\":2}".into();
        assert_eq!(v.verify(&tampered), Err(SignatureError::Mismatch));
        // Adding a Subject changes the signed string too.
        let mut subject = signed("sns-test-key.pem", "2", "{}");
        subject["Subject"] = "x".into();
        assert_eq!(v.verify(&subject), Err(SignatureError::Mismatch));
        assert_eq!(
            v.verify(&signed("other-key.pem", "2", "{}")),
            Err(SignatureError::Mismatch)
        );
        for url in [
            "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-test.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/../../etc/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.txt",
        ] {
            let mut d = signed("sns-test-key.pem", "2", "{}");
            d["SigningCertURL"] = url.into();
            assert!(
                matches!(v.verify(&d), Err(SignatureError::Certificate(_))),
                "{url}"
            );
        }
        // A certificate that is not pinned, with fetching off: refused
        // without any network call.
        let none = SnsVerifier::new(None, false);
        assert!(matches!(
            none.verify(&signed("sns-test-key.pem", "2", "{}")),
            Err(SignatureError::Certificate(_))
        ));
        let mut unsigned = signed("sns-test-key.pem", "2", "{}");
        unsigned.as_object_mut().unwrap().remove("Signature");
        assert_eq!(
            v.verify(&unsigned),
            Err(SignatureError::Missing("Signature"))
        );
    }
}
