//! ESP webhook signatures, checked on top of the token when a key is
//! configured for the source.
//!
//! * SendGrid (signed event webhook): ECDSA P-256 with SHA-256 over the
//!   `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the raw
//!   body; the signature (base64 DER) is in
//!   `X-Twilio-Email-Event-Webhook-Signature`; the verification key SendGrid
//!   shows is a base64 DER public key.
//! * Mailgun: HMAC-SHA256 keyed with the webhook signing key over
//!   `timestamp` followed by `token`, hex, all three in the body's
//!   `signature` object. A token is accepted once: the server claims it in
//!   the store, in the transaction that stores the events
//!   ([`rebound_ledger::Store::ingest_batch_once`]), so a replay is refused
//!   by every server sharing the store, and after a restart.
//! * Resend (Svix, the Standard Webhooks scheme): HMAC-SHA256, keyed with
//!   the base64 secret after `whsec_`, over `{id}.{timestamp}.{body}` from
//!   the `svix-id`/`svix-timestamp` headers (or `webhook-id`/…); the
//!   `svix-signature` header lists `v1,<base64>` signatures, any of which
//!   may match (secret rotation). The body is signed, so a replay carries
//!   the same events, which their dedupe keys store once.
//! * Postmark: no signature; Postmark protects webhooks with HTTP Basic
//!   auth, which the token layer checks.
//! * SES over SNS: RSA signatures with Amazon's certificate, when enabled
//!   (see [`crate::sns`]).
//!
//! The verifiers with a timestamp refuse timestamps further than `max_age` from now, either
//! way, so a captured request cannot be replayed later.

use base64::Engine;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use sha2::Sha256;

pub const SENDGRID_SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
pub const SENDGRID_TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature: {0}")]
    Missing(&'static str),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("timestamp outside the accepted window of {0} s")]
    Stale(u64),
    #[error("signature does not match")]
    Mismatch,
    #[error("token already used (replay)")]
    Replay,
    #[error("signing certificate: {0}")]
    Certificate(String),
    /// The certificate could not be fetched: the sender should retry.
    #[error("signing certificate unavailable: {0}")]
    Unreachable(String),
}

/// SendGrid's verification key.
pub struct SendgridVerifier {
    key: VerifyingKey,
    max_age: u64,
}

impl SendgridVerifier {
    /// `public_key`: base64 DER (SubjectPublicKeyInfo), as SendGrid shows it;
    /// PEM armour is tolerated.
    pub fn new(public_key: &str, max_age: u64) -> Result<Self, String> {
        let b64: String = public_key
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
            .split_whitespace()
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("sendgrid public_key is not base64: {e}"))?;
        let key = VerifyingKey::from_public_key_der(&der)
            .map_err(|e| format!("sendgrid public_key is not a P-256 public key: {e}"))?;
        Ok(Self { key, max_age })
    }

    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now_s: i64,
    ) -> Result<(), SignatureError> {
        let sig = signature.ok_or(SignatureError::Missing(
            "X-Twilio-Email-Event-Webhook-Signature header",
        ))?;
        let ts = timestamp.ok_or(SignatureError::Missing(
            "X-Twilio-Email-Event-Webhook-Timestamp header",
        ))?;
        check_age(ts, now_s, self.max_age)?;
        let der = base64::engine::general_purpose::STANDARD
            .decode(sig.trim())
            .map_err(|e| SignatureError::Malformed(format!("not base64: {e}")))?;
        let sig = Signature::from_der(&der)
            .map_err(|e| SignatureError::Malformed(format!("not a DER ECDSA signature: {e}")))?;
        let mut signed = Vec::with_capacity(ts.len() + body.len());
        signed.extend_from_slice(ts.as_bytes());
        signed.extend_from_slice(body);
        self.key
            .verify(&signed, &sig)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// Mailgun's signing key, with the tokens already accepted.
pub struct MailgunVerifier {
    key: Vec<u8>,
    max_age: u64,
}

impl MailgunVerifier {
    pub fn new(signing_key: &str, max_age: u64) -> Self {
        Self {
            key: signing_key.as_bytes().to_vec(),
            max_age,
        }
    }

    /// Checks the `signature` object of a Mailgun webhook body; returns the
    /// token as a one-time key, to claim in the store with the events. The
    /// claim may be forgotten once the timestamp is out of the window.
    pub fn verify(
        &self,
        body: &serde_json::Value,
        now_s: i64,
    ) -> Result<rebound_ledger::OnceKey, SignatureError> {
        let sig = body
            .get("signature")
            .ok_or(SignatureError::Missing("`signature` object in the body"))?;
        let field = |name: &'static str| -> Result<String, SignatureError> {
            match sig.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                _ => Err(SignatureError::Missing(name)),
            }
        };
        let (ts, token, hex) = (field("timestamp")?, field("token")?, field("signature")?);
        let t = check_age(&ts, now_s, self.max_age)?;
        let expected = decode_hex(&hex)
            .ok_or_else(|| SignatureError::Malformed("signature is not hex".into()))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|e| SignatureError::Malformed(e.to_string()))?;
        mac.update(ts.as_bytes());
        mac.update(token.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&expected)
            .map_err(|_| SignatureError::Mismatch)?;
        Ok(rebound_ledger::OnceKey {
            key: format!("mailgun:{token}"),
            expires_ms: t
                .saturating_add(self.max_age as i64)
                .saturating_add(60)
                .saturating_mul(1000),
        })
    }
}

/// Mandrill's webhook key and the URL the webhook is registered with: its
/// `X-Mandrill-Signature` is the base64 HMAC-SHA1, under the key, of the
/// URL followed by every POST field's name and value, sorted by name
/// (Mandrill's "Authenticating webhook requests"). It carries no time, so a
/// captured request can be posted again; the events' dedupe keys make such
/// a replay store nothing new.
pub struct MandrillVerifier {
    key: Vec<u8>,
    url: String,
}

impl MandrillVerifier {
    pub fn new(webhook_key: &str, url: &str) -> Self {
        Self {
            key: webhook_key.as_bytes().to_vec(),
            url: url.to_string(),
        }
    }

    /// Checks `signature` (the header's value) over the decoded form fields.
    pub fn verify(
        &self,
        signature: Option<&str>,
        fields: &[(String, String)],
    ) -> Result<(), SignatureError> {
        let signature = signature.ok_or(SignatureError::Missing("X-Mandrill-Signature header"))?;
        let expected = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|e| SignatureError::Malformed(format!("not base64: {e}")))?;
        let mut sorted: Vec<&(String, String)> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&self.key)
            .map_err(|e| SignatureError::Malformed(e.to_string()))?;
        mac.update(self.url.as_bytes());
        for (name, value) in sorted {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        mac.verify_slice(&expected)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// A Resend (Svix) signing secret.
pub struct SvixVerifier {
    key: Vec<u8>,
    max_age: u64,
}

impl SvixVerifier {
    /// `secret` as Resend shows it, `whsec_` and base64.
    pub fn new(secret: &str, max_age: u64) -> Result<Self, String> {
        let b64 = secret.trim();
        let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("resend signing_secret is not whsec_ and base64: {e}"))?;
        if key.len() < 16 {
            return Err("resend signing_secret is shorter than 16 bytes".into());
        }
        Ok(Self { key, max_age })
    }

    /// Checks the headers' signature over the raw body.
    pub fn verify(
        &self,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        now_s: i64,
    ) -> Result<(), SignatureError> {
        let either = |svix: &'static str, standard: &'static str| {
            header(svix)
                .or_else(|| header(standard))
                .ok_or(SignatureError::Missing(svix))
        };
        let id = either("svix-id", "webhook-id")?;
        let ts = either("svix-timestamp", "webhook-timestamp")?;
        let signatures = either("svix-signature", "webhook-signature")?;
        check_age(&ts, now_s, self.max_age)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .map_err(|e| SignatureError::Malformed(e.to_string()))?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(ts.trim().as_bytes());
        mac.update(b".");
        mac.update(body);
        let mac = mac.finalize().into_bytes();
        let mut any_v1 = false;
        for sig in signatures.split_whitespace() {
            let Some(b64) = sig.strip_prefix("v1,") else {
                continue;
            };
            any_v1 = true;
            let Ok(given) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                continue;
            };
            if bool::from(subtle::ConstantTimeEq::ct_eq(&mac[..], &given[..])) {
                return Ok(());
            }
        }
        if any_v1 {
            Err(SignatureError::Mismatch)
        } else {
            Err(SignatureError::Malformed("no v1 signature".into()))
        }
    }
}

fn check_age(ts: &str, now_s: i64, max_age: u64) -> Result<i64, SignatureError> {
    let t: i64 = ts
        .trim()
        .parse()
        .map_err(|_| SignatureError::Malformed(format!("timestamp {ts:?} is not a number")))?;
    if now_s.abs_diff(t) > max_age {
        return Err(SignatureError::Stale(max_age));
    }
    Ok(t)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    /// The example Svix documents (secret, headers and payload as
    /// published), so the construction is checked against theirs, not ours.
    #[test]
    fn svix_documented_example_verifies() {
        let v = SvixVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 300).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let headers = |sig: &'static str| {
            move |name: &str| match name {
                "svix-id" => Some("msg_p5jXN8AQM9LWM0D4loKWxJek".to_string()),
                "svix-timestamp" => Some("1614265330".to_string()),
                "svix-signature" => Some(sig.to_string()),
                _ => None,
            }
        };
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        v.verify(headers(good), body, 1614265330 + 10).unwrap();
        // One of several (a rotated secret's) is enough.
        v.verify(
            headers("v1,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            body,
            1614265330,
        )
        .unwrap();
        assert!(matches!(
            v.verify(headers(good), br#"{"test": 2432232315}"#, 1614265330),
            Err(SignatureError::Mismatch)
        ));
        assert!(matches!(
            v.verify(headers(good), body, 1614265330 + 301),
            Err(SignatureError::Stale(300))
        ));
        assert!(matches!(
            v.verify(headers("v2,abc"), body, 1614265330),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            v.verify(|_| None, body, 1614265330),
            Err(SignatureError::Missing("svix-id"))
        ));
        assert!(SvixVerifier::new("whsec_not base64!", 300).is_err());
    }

    use super::*;

    /// The expected signature was computed apart from this code (Python's
    /// `hmac` and `hashlib.sha1` over the URL and the sorted fields).
    #[test]
    fn mandrill_signature_covers_the_url_and_the_sorted_fields() {
        let v = MandrillVerifier::new("md-webhook-key", "https://hooks.example/v1/events/mandrill");
        let fields = vec![
            ("mandrill_events".to_string(), "[]".to_string()),
            ("a".to_string(), "1".to_string()),
        ];
        let good = "+fF83yvxWrF46NFG0AAdmRr+TIQ=";
        assert!(v.verify(Some(good), &fields).is_ok());
        let mut tampered = fields.clone();
        tampered[0].1 = "[{}]".into();
        assert!(matches!(
            v.verify(Some(good), &tampered),
            Err(SignatureError::Mismatch)
        ));
        assert!(matches!(
            v.verify(None, &fields),
            Err(SignatureError::Missing(_))
        ));
        assert!(matches!(
            v.verify(Some("not base64!"), &fields),
            Err(SignatureError::Malformed(_))
        ));
        let elsewhere = MandrillVerifier::new("md-webhook-key", "https://other.example/hook");
        assert!(elsewhere.verify(Some(good), &fields).is_err());
    }
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;

    fn keypair() -> (SigningKey, String) {
        let sk = SigningKey::random(&mut rand_core::OsRng);
        let der = sk.verifying_key().to_public_key_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        (sk, b64)
    }

    fn sign(sk: &SigningKey, ts: &str, body: &[u8]) -> String {
        let mut m = ts.as_bytes().to_vec();
        m.extend_from_slice(body);
        let sig: Signature = sk.sign(&m);
        base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
    }

    #[test]
    fn sendgrid_valid_tampered_wrong_key_stale() {
        let (sk, pk) = keypair();
        let (_, other_pk) = keypair();
        let now = 1_700_000_000;
        let ts = now.to_string();
        let body = br#"[{"email":"a@b.example","event":"bounce"}]"#;
        let sig = sign(&sk, &ts, body);
        let v = SendgridVerifier::new(&pk, 300).unwrap();
        assert_eq!(v.verify(Some(&sig), Some(&ts), body, now), Ok(()));
        let tampered = br#"[{"email":"x@b.example","event":"bounce"}]"#;
        assert_eq!(
            v.verify(Some(&sig), Some(&ts), tampered, now),
            Err(SignatureError::Mismatch)
        );
        let wrong = SendgridVerifier::new(&other_pk, 300).unwrap();
        assert_eq!(
            wrong.verify(Some(&sig), Some(&ts), body, now),
            Err(SignatureError::Mismatch)
        );
        // Signed long ago: refused even though the signature is genuine.
        let old = (now - 3600).to_string();
        let old_sig = sign(&sk, &old, body);
        assert_eq!(
            v.verify(Some(&old_sig), Some(&old), body, now),
            Err(SignatureError::Stale(300))
        );
        // Changing the timestamp header breaks the signature.
        let later = (now + 10).to_string();
        assert_eq!(
            v.verify(Some(&sig), Some(&later), body, now),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            v.verify(None, Some(&ts), body, now),
            Err(SignatureError::Missing(_))
        ));
        assert!(matches!(
            v.verify(Some("!!"), Some(&ts), body, now),
            Err(SignatureError::Malformed(_))
        ));
        assert!(SendgridVerifier::new("not a key", 300).is_err());
    }

    fn mailgun_body(key: &str, ts: i64, token: &str) -> serde_json::Value {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{ts}{token}").as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        serde_json::json!({
            "signature": {"timestamp": ts.to_string(), "token": token, "signature": hex},
            "event-data": {"event": "failed", "recipient": "a@b.example"}
        })
    }

    #[test]
    fn mailgun_valid_tampered_wrong_key_stale_replay() {
        let now = 1_700_000_000;
        let v = MailgunVerifier::new("key-right", 300);
        let body = mailgun_body("key-right", now, "tok-1");
        let once = v.verify(&body, now).unwrap();
        assert_eq!(once.key, "mailgun:tok-1");
        // Claimed until the timestamp leaves the window (and a minute).
        assert_eq!(once.expires_ms, (now + 300 + 60) * 1000);
        let mut tampered = mailgun_body("key-right", now, "tok-2");
        tampered["signature"]["token"] = "tok-3".into();
        assert_eq!(v.verify(&tampered, now), Err(SignatureError::Mismatch));
        let wrong = mailgun_body("key-wrong", now, "tok-4");
        assert_eq!(v.verify(&wrong, now), Err(SignatureError::Mismatch));
        let stale = mailgun_body("key-right", now - 3600, "tok-5");
        assert_eq!(v.verify(&stale, now), Err(SignatureError::Stale(300)));
        let unsigned = serde_json::json!({"event-data": {}});
        assert!(matches!(
            v.verify(&unsigned, now),
            Err(SignatureError::Missing(_))
        ));
    }
}
