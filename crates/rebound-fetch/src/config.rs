//! One mailbox's settings: `rebound fetch`'s flags and `[[mailboxes]]` in
//! `rebound serve`'s configuration are the same fields.

use crate::url::MailboxUrl;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable read for the password when neither
/// `password_env` nor `password_file` is given.
pub const DEFAULT_PASSWORD_ENV: &str = "REBOUND_MAIL_PASSWORD";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// `imaps://user@host[:port]/FOLDER`, `imap://…` (STARTTLS),
    /// `pop3s://user@host[:port]` or `pop3://…` (STLS).
    pub url: String,
    /// The environment variable holding the password (default
    /// `REBOUND_MAIL_PASSWORD`).
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file whose first line is the password (wins over the variable).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Where stored bounces go (IMAP; created if missing).
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Where messages that are no bounce go (IMAP; created if missing).
    /// POP3 leaves them on the server.
    #[serde(default = "default_other_folder")]
    pub other_folder: String,
    /// Leave every message where it is (stored all the same; a later pass
    /// stores them again as duplicates).
    #[serde(default)]
    pub keep: bool,
    /// PEM file of a private CA trusted besides the system's roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Seconds between two looks at a POP3 mailbox (or an IMAP server
    /// without IDLE) when watching.
    #[serde(default = "default_poll_seconds")]
    pub poll_interval_seconds: u64,
    /// Seconds an IDLE lasts before it is renewed (servers may drop an IDLE
    /// after 30 minutes, RFC 2177: renewed before 29).
    #[serde(default = "default_idle_seconds")]
    pub idle_seconds: u64,
}

fn default_folder() -> String {
    "Processed".into()
}
fn default_other_folder() -> String {
    "Other".into()
}
fn default_poll_seconds() -> u64 {
    60
}
fn default_idle_seconds() -> u64 {
    28 * 60
}

/// The longest IDLE allowed: RFC 2177 lets a server end an IDLE after 29
/// minutes of silence.
pub const MAX_IDLE_SECONDS: u64 = 28 * 60;

impl MailboxConfig {
    /// A mailbox with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        MailboxConfig {
            url: url.into(),
            password_env: None,
            password_file: None,
            folder: default_folder(),
            other_folder: default_other_folder(),
            keep: false,
            ca: None,
            poll_interval_seconds: default_poll_seconds(),
            idle_seconds: default_idle_seconds(),
        }
    }

    /// Checks what can be checked before connecting: the URL, the folders,
    /// the intervals and that the password can be read.
    pub fn validate(&self) -> Result<(MailboxUrl, Password), String> {
        let url: MailboxUrl = self.url.parse()?;
        if url.protocol == crate::Protocol::Imap {
            for (name, v) in [
                ("folder", &self.folder),
                ("other_folder", &self.other_folder),
            ] {
                if v.trim().is_empty() || v.contains(['\r', '\n', '"', '\\']) {
                    return Err(format!("{url}: bad {name} {v:?}"));
                }
                if v.eq_ignore_ascii_case(&url.folder) {
                    return Err(format!(
                        "{url}: {name} {v:?} is the folder being read; messages would be read again"
                    ));
                }
            }
        }
        if self.poll_interval_seconds == 0 {
            return Err(format!("{url}: poll_interval_seconds must be at least 1"));
        }
        if !(1..=MAX_IDLE_SECONDS).contains(&self.idle_seconds) {
            return Err(format!(
                "{url}: idle_seconds between 1 and {MAX_IDLE_SECONDS} (servers may end an IDLE after 29 minutes)"
            ));
        }
        let password = self.password().map_err(|e| format!("{url}: {e}"))?;
        Ok((url, password))
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_seconds)
    }

    pub fn idle(&self) -> Duration {
        Duration::from_secs(self.idle_seconds)
    }

    /// Reads the password: the file when one is named, else the variable.
    pub fn password(&self) -> Result<Password, String> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
            let line = text.lines().next().unwrap_or("").to_string();
            if line.is_empty() {
                return Err(format!("the password file {} is empty", path.display()));
            }
            return Ok(Password(line));
        }
        let name = self.password_env.as_deref().unwrap_or(DEFAULT_PASSWORD_ENV);
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok(Password(v)),
            _ => Err(format!(
                "no password: set the environment variable {name} or give a password file"
            )),
        }
    }
}

/// A password that does not print itself.
#[derive(Clone)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_defaults_and_refusals() {
        let c: MailboxConfig = toml_like(r#"{"url": "imaps://b@h/INBOX"}"#);
        assert_eq!(c.folder, "Processed");
        assert_eq!(c.other_folder, "Other");
        assert_eq!(c.idle_seconds, 28 * 60);
        let mut bad = c.clone();
        bad.folder = "INBOX".into();
        bad.password_file = Some("/nonexistent/rebound-test".into());
        assert!(bad.validate().unwrap_err().contains("being read"));
        let mut bad = c.clone();
        bad.idle_seconds = 30 * 60;
        assert!(bad.validate().unwrap_err().contains("idle_seconds"));
        let mut no_password = c;
        no_password.password_env = Some("REBOUND_TEST_SURELY_UNSET_VARIABLE".into());
        assert!(
            no_password
                .validate()
                .unwrap_err()
                .contains("REBOUND_TEST_SURELY_UNSET_VARIABLE")
        );
    }

    fn toml_like(json: &str) -> MailboxConfig {
        serde_json::from_str(json).unwrap()
    }
}
