//! The server's configuration: a TOML file (`rebound serve --config`), flags
//! laid over it by the CLI, and tokens from the environment.

use crate::auth::{Scope, Token};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable holding tokens: comma- or newline-separated
/// `name:scope1+scope2:secret` entries.
pub const TOKENS_ENV: &str = "REBOUND_TOKENS";

/// Everything `serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The store: a SQLite file or `postgres://…`.
    pub db: String,
    /// Suppression policy (TOML); the ledger's defaults when absent.
    pub policy: Option<PathBuf>,
    /// A classifier rule file whose rules take precedence (used by
    /// `/v1/classify` and `/v1/decode`).
    pub rules: Option<PathBuf>,
    /// Open store connections (each store call holds one).
    pub store_connections: usize,
    pub limits: Limits,
    pub tokens: Vec<TokenConfig>,
    pub webhooks: Webhooks,
    pub incidents: IncidentsConfig,
    /// Rate alerts of `/v1/report` and `/v1/alerts` (as `[alerts]` of
    /// `rebound report --config`).
    pub alerts: rebound_insight::AlertConfig,
    /// Bounce mailboxes watched in the background (`[[mailboxes]]`, the
    /// fields of `rebound fetch`'s flags; `rebound serve` runs them).
    pub mailboxes: Vec<rebound_fetch::MailboxConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8025)),
            db: rebound_ledger::DEFAULT_DB.into(),
            policy: None,
            rules: None,
            store_connections: 4,
            limits: Limits::default(),
            tokens: Vec::new(),
            webhooks: Webhooks::default(),
            incidents: IncidentsConfig::default(),
            alerts: Default::default(),
            mailboxes: Vec::new(),
        }
    }
}

/// Bounds on what one request may cost.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest body for decode and event ingestion.
    pub body_bytes: usize,
    /// Largest body for classify and the batch suppression check.
    pub small_body_bytes: usize,
    /// Longest a request may take, end to end.
    pub timeout_seconds: u64,
    /// Longest a client may take to send a request's headers (and so the
    /// longest an idle keep-alive connection stays open).
    pub header_seconds: u64,
    /// Requests handled at once; further ones wait up to `queue_seconds`,
    /// then get 503.
    pub concurrency: usize,
    pub queue_seconds: u64,
    /// Replies in one classify call, addresses in one batch check.
    pub batch_items: usize,
    /// Longest a client may take to send a request's body, counted apart
    /// from the handler's time: a body arrives whole before the request
    /// takes one of the `concurrency` slots.
    pub body_seconds: u64,
    /// Slots kept for `/healthz`, `/metrics` and ingestion when the others
    /// are taken (at most half of `concurrency`).
    pub reserved_slots: usize,
    /// Slots one token (one `Authorization` value) may hold at once.
    pub per_token: usize,
    /// Slots one client address may hold at once.
    pub per_address: usize,
    /// Request bodies one client address may be sending at once.
    pub receiving_per_address: usize,
    /// Reports built at once (each reads the store with its own threads);
    /// more wait up to `queue_seconds`, then 503.
    pub report_slots: usize,
    /// Most time buckets one report may hold (400 beyond): a series'
    /// memory grows with buckets times groups.
    pub report_buckets: usize,
    /// Identical report requests within this many seconds share one answer.
    pub report_cache_seconds: u64,
    /// Events dated further back than this many days, or further ahead
    /// than `event_max_ahead_hours`, are rejected records.
    pub event_max_age_days: u64,
    pub event_max_ahead_hours: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 10 * 1024 * 1024,
            small_body_bytes: 1024 * 1024,
            timeout_seconds: 30,
            header_seconds: 30,
            concurrency: 1024,
            queue_seconds: 5,
            batch_items: 10_000,
            body_seconds: 15,
            reserved_slots: 64,
            per_token: 256,
            per_address: 512,
            receiving_per_address: 64,
            report_slots: 2,
            report_buckets: 5000,
            report_cache_seconds: 5,
            event_max_age_days: 365,
            event_max_ahead_hours: 24,
        }
    }
}

impl Limits {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.max(1))
    }

    /// The event times ingestion accepts.
    pub fn event_times(&self) -> rebound_ingest::TimeWindow {
        rebound_ingest::TimeWindow {
            max_age_ms: Some((self.event_max_age_days as i64).saturating_mul(86_400_000)),
            max_ahead_ms: Some((self.event_max_ahead_hours as i64).saturating_mul(3_600_000)),
        }
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_seconds.max(1))
    }
}

/// One token as written in the config file. `secret` is the token itself;
/// `sha256` (hex) lets the file hold only its digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Signature verification per ESP, on top of the token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhooks {
    pub sendgrid: Option<SendgridConfig>,
    pub mailgun: Option<MailgunConfig>,
    pub mandrill: Option<MandrillConfig>,
    pub resend: Option<ResendConfig>,
    pub ses: Option<SesConfig>,
}

/// Resend's webhook signing secret (`whsec_…`, shown with the webhook).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendConfig {
    pub signing_secret: String,
    /// Oldest accepted `svix-timestamp`, seconds.
    #[serde(default = "default_max_age")]
    pub max_age_seconds: u64,
}

/// Mandrill's webhook key (shown with the webhook) and the exact URL the
/// webhook was registered with: the signature covers that URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MandrillConfig {
    pub webhook_key: String,
    pub url: String,
}

/// SendGrid's signed event webhook: the verification key SendGrid shows
/// (base64 DER public key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendgridConfig {
    pub public_key: String,
    /// Oldest accepted timestamp, seconds.
    #[serde(default = "default_max_age")]
    pub max_age_seconds: u64,
}

/// Mailgun's webhook signing key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailgunConfig {
    pub signing_key: String,
    #[serde(default = "default_max_age")]
    pub max_age_seconds: u64,
}

/// SES over SNS. Signature verification is off by default: it needs
/// Amazon's signing certificate, either pinned in `certificate_dir` (looked
/// up by the file name of `SigningCertURL`; offline) or fetched from
/// Amazon when `fetch_certificates` is on (the server's only outbound
/// request, to `https://sns.<region>.amazonaws.com/…pem` only).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SesConfig {
    /// Accepted `TopicArn`s of SNS envelopes (empty: any).
    pub topic_arns: Vec<String>,
    /// Accept only SNS envelopes whose signature verifies.
    pub verify_sns_signatures: bool,
    /// Pinned certificates, named as the last segment of their URL.
    pub certificate_dir: Option<PathBuf>,
    /// Fetch certificates missing from `certificate_dir` over HTTPS.
    pub fetch_certificates: bool,
}

fn default_max_age() -> u64 {
    300
}

/// The incident list the API serves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// How far back the detector reads, hours.
    pub window_hours: u64,
    /// How long a computed list is served before it is recomputed, seconds.
    pub cache_seconds: u64,
    /// Detection thresholds (as `rebound report --config`).
    pub detect: rebound_insight::DetectConfig,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            window_hours: 24,
            cache_seconds: 5,
            detect: Default::default(),
        }
    }
}

/// A configuration error, said plainly.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads a TOML config file.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string()))
    }

    /// The tokens of the file plus those of `env` (the value of
    /// [`TOKENS_ENV`], if set), checked.
    pub fn tokens(&self, env: Option<&str>) -> Result<Vec<Token>, ConfigError> {
        let mut out = Vec::new();
        for t in &self.tokens {
            let scopes = parse_scopes(&t.scopes.join("+"), &t.name)?;
            let token = match (&t.secret, &t.sha256) {
                (Some(s), None) => Token::from_secret(&t.name, scopes, s),
                (None, Some(h)) => Token::from_digest_hex(&t.name, scopes, h).ok_or_else(|| {
                    ConfigError(format!("token {:?}: sha256 must be 64 hex digits", t.name))
                })?,
                _ => {
                    return Err(ConfigError(format!(
                        "token {:?}: give exactly one of secret or sha256",
                        t.name
                    )));
                }
            };
            check_secret_len(&t.name, t.secret.as_deref())?;
            out.push(token);
        }
        if let Some(env) = env {
            for entry in env
                .split([',', '\n'])
                .map(str::trim)
                .filter(|e| !e.is_empty())
            {
                let mut parts = entry.splitn(3, ':');
                let (Some(name), Some(scopes), Some(secret)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(ConfigError(format!(
                        "{TOKENS_ENV}: entry {:?} is not name:scopes:secret",
                        entry.split(':').next().unwrap_or("")
                    )));
                };
                let scopes = parse_scopes(scopes, name)?;
                check_secret_len(name, Some(secret))?;
                out.push(Token::from_secret(name, scopes, secret));
            }
        }
        let mut names: Vec<&str> = out.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError(format!("token name {:?} given twice", w[0])));
        }
        Ok(out)
    }

    /// Settings that cannot work are refused at start.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.webhooks.ses.as_ref().is_some_and(|s| {
            s.verify_sns_signatures && s.certificate_dir.is_none() && !s.fetch_certificates
        }) {
            return Err(ConfigError(
                "webhooks.ses.verify_sns_signatures needs certificate_dir (pinned certificates) or fetch_certificates = true".into(),
            ));
        }
        if self.store_connections == 0 {
            return Err(ConfigError("store_connections must be at least 1".into()));
        }
        if self.limits.concurrency == 0 {
            return Err(ConfigError("limits.concurrency must be at least 1".into()));
        }
        for (i, mailbox) in self.mailboxes.iter().enumerate() {
            // The URL, folders and intervals, and that the password can be
            // read now, not at the first reconnection.
            mailbox
                .validate()
                .map_err(|e| ConfigError(format!("mailboxes[{i}]: {e}")))?;
        }
        Ok(())
    }
}

/// Short secrets are guessable; refuse them rather than run with them.
fn check_secret_len(name: &str, secret: Option<&str>) -> Result<(), ConfigError> {
    match secret {
        Some(s) if s.len() < 16 => Err(ConfigError(format!(
            "token {name:?}: secret shorter than 16 characters"
        ))),
        _ => Ok(()),
    }
}

fn parse_scopes(list: &str, name: &str) -> Result<Vec<Scope>, ConfigError> {
    let scopes: Result<Vec<Scope>, _> = list
        .split(['+', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Scope>()
                .map_err(|e| ConfigError(format!("token {name:?}: {e}")))
        })
        .collect();
    let scopes = scopes?;
    if scopes.is_empty() {
        return Err(ConfigError(format!("token {name:?}: no scope")));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in README's "HTTP server" section is a valid config.
    #[test]
    fn readme_example_parses() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("**Config file**")
            .and_then(|i| readme[i..].find("```toml").map(|j| i + j + 7))
            .expect("config example in README");
        let end = start + readme[start..].find("```").unwrap();
        let cfg = Config::from_toml(&readme[start..end]).unwrap();
        assert_eq!(cfg.limits.body_bytes, 10 * 1024 * 1024);
        assert_eq!(cfg.incidents.detect.min_events, 20);
        assert_eq!(cfg.tokens[0].scopes, ["admin"]);
    }

    #[test]
    fn env_tokens_are_checked() {
        let cfg = Config::default();
        let t = cfg
            .tokens(Some(
                "a:read+ingest:aaaaaaaaaaaaaaaa\n b:admin:bbbbbbbbbbbbbbbb",
            ))
            .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].scopes, [Scope::Read, Scope::Ingest]);
        for bad in [
            "a:read:short",
            "a:root:aaaaaaaaaaaaaaaa",
            "no-colons",
            "a:read:aaaaaaaaaaaaaaaa,a:read:bbbbbbbbbbbbbbbb",
        ] {
            let e = cfg.tokens(Some(bad)).unwrap_err().0;
            assert!(!e.contains("aaaaaaaaaaaaaaaa"), "secret leaked into {e}");
        }
        let mut ses = Config::default();
        ses.webhooks.ses = Some(SesConfig {
            verify_sns_signatures: true,
            ..SesConfig::default()
        });
        assert!(ses.validate().is_err());
    }
}
