//! Bearer tokens with scopes.
//!
//! Only SHA-256 digests of secrets are kept; a presented token is hashed and
//! compared in constant time against every known digest, so neither the
//! comparison nor the position of a match leaks through timing.
//!
//! ESPs cannot set an `Authorization: Bearer` header on their webhook
//! requests, but SendGrid, Mailgun, Postmark and SNS all accept
//! `https://user:password@host/...` URLs: the token is accepted as the HTTP
//! Basic password too (the user name is ignored).

use crate::error::ApiError;
use axum::http::HeaderMap;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// What a token may do. `Admin` implies the other two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Classify, decode, check suppressions, read reports, incidents,
    /// events, metrics and the API document.
    Read,
    /// Post events.
    Ingest,
    /// Add and remove suppressions.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(Scope::Read),
            "ingest" => Ok(Scope::Ingest),
            "admin" => Ok(Scope::Admin),
            other => Err(format!("unknown scope {other:?} (read, ingest, admin)")),
        }
    }
}

/// A known token: its name (recorded as the actor of manual changes), its
/// scopes and the SHA-256 of its secret.
#[derive(Clone)]
pub struct Token {
    pub name: String,
    pub scopes: Vec<Scope>,
    digest: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Token {
    pub fn from_secret(name: &str, scopes: Vec<Scope>, secret: &str) -> Token {
        Token {
            name: name.to_string(),
            scopes,
            digest: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    pub fn from_digest_hex(name: &str, scopes: Vec<Scope>, hex: &str) -> Option<Token> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, d) in digest.iter_mut().enumerate() {
            *d = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Token {
            name: name.to_string(),
            scopes,
            digest,
        })
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }
}

/// Who made a request (put into the request's extensions by the auth layer).
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
}

/// The known tokens.
#[derive(Debug, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

impl Tokens {
    pub fn new(tokens: Vec<Token>) -> Tokens {
        Tokens { tokens }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token a request presents (Bearer, or Basic password), checked
    /// for `scope`: 401 when absent or unknown, 403 when it lacks the scope.
    pub fn authorize(&self, headers: &HeaderMap, scope: Scope) -> Result<Caller, ApiError> {
        let presented = presented_secret(headers).ok_or_else(|| {
            ApiError::unauthorized(
                "a token is required: send `Authorization: Bearer TOKEN` (webhooks: the token as the Basic-auth password in the URL)",
            )
        })?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found: Option<&Token> = None;
        for t in &self.tokens {
            if bool::from(t.digest.ct_eq(&digest)) {
                found = Some(t);
            }
        }
        let token = found.ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        if !token.allows(scope) {
            return Err(ApiError::forbidden(format!(
                "token {:?} lacks the {scope} scope",
                token.name
            )));
        }
        Ok(Caller {
            name: token.name.clone(),
        })
    }
}

fn presented_secret(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (kind, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if kind.eq_ignore_ascii_case("bearer") {
        return (!rest.is_empty()).then(|| rest.to_string());
    }
    if kind.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (_, password) = text.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn scopes_and_kinds_of_credentials() {
        let tokens = Tokens::new(vec![
            Token::from_secret("reader", vec![Scope::Read], "read-secret-0123456789"),
            Token::from_secret("boss", vec![Scope::Admin], "admin-secret-0123456789"),
        ]);
        let ok = tokens.authorize(&headers("Bearer read-secret-0123456789"), Scope::Read);
        assert_eq!(ok.unwrap().name, "reader");
        let e = tokens
            .authorize(&headers("Bearer read-secret-0123456789"), Scope::Ingest)
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 403);
        let e = tokens
            .authorize(&headers("Bearer nope-nope-nope-nope"), Scope::Read)
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 401);
        let e = tokens
            .authorize(&HeaderMap::new(), Scope::Read)
            .unwrap_err();
        assert_eq!(e.status.as_u16(), 401);
        // Basic auth: user ignored, password is the token; admin implies ingest.
        let basic =
            base64::engine::general_purpose::STANDARD.encode("sendgrid:admin-secret-0123456789");
        let ok = tokens.authorize(&headers(&format!("Basic {basic}")), Scope::Ingest);
        assert_eq!(ok.unwrap().name, "boss");
    }

    #[test]
    fn digest_form_matches_secret_form() {
        let hex: String = Sha256::digest(b"some-long-secret-value")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let t = Token::from_digest_hex("x", vec![Scope::Read], &hex).unwrap();
        let tokens = Tokens::new(vec![t]);
        assert!(
            tokens
                .authorize(&headers("Bearer some-long-secret-value"), Scope::Read)
                .is_ok()
        );
        assert!(Token::from_digest_hex("x", vec![], "abc").is_none());
    }
}
