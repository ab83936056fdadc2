//! `imaps://user@host[:port]/FOLDER` and its three siblings.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
}

/// How the connection is protected. There is no plain-text mode: a
/// password is never sent in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`imaps`, `pop3s`).
    Tls,
    /// Plain connection upgraded before login (`imap`: STARTTLS, `pop3`:
    /// STLS); a server that cannot upgrade is refused.
    StartTls,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxUrl {
    pub protocol: Protocol,
    pub security: Security,
    pub user: String,
    pub host: String,
    pub port: u16,
    /// The folder read (IMAP; `INBOX` when the URL names none). POP3 has
    /// only the one mailbox.
    pub folder: String,
}

impl fmt::Display for MailboxUrl {
    /// The URL without secrets (there are none in it) for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.protocol, self.security) {
            (Protocol::Imap, Security::Tls) => "imaps",
            (Protocol::Imap, Security::StartTls) => "imap",
            (Protocol::Pop3, Security::Tls) => "pop3s",
            (Protocol::Pop3, Security::StartTls) => "pop3",
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{scheme}://{}@{host}:{}", self.user, self.port)?;
        if self.protocol == Protocol::Imap {
            write!(f, "/{}", self.folder)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for MailboxUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{s:?} is not a mailbox URL: {why}");
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            bad("expected imaps://user@host[:port]/FOLDER (or imap, pop3s, pop3)")
        })?;
        let (protocol, security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "imaps" => (Protocol::Imap, Security::Tls, 993),
            "imap" => (Protocol::Imap, Security::StartTls, 143),
            "pop3s" => (Protocol::Pop3, Security::Tls, 995),
            "pop3" => (Protocol::Pop3, Security::StartTls, 110),
            other => {
                return Err(bad(&format!(
                    "unknown scheme {other:?} (imaps, imap, pop3s or pop3)"
                )));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad("no user (user@host; write an @ in the user name as %40)"))?;
        if userinfo.contains(':') {
            return Err(bad(
                "a password in the URL is refused: give it with --password-env or --password-file",
            ));
        }
        let user = percent_decode(userinfo).map_err(|e| bad(&e))?;
        if user.is_empty() {
            return Err(bad("empty user"));
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("junk after ]")),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad(&format!("bad port {p:?}")))?,
        };
        let folder = percent_decode(path.trim_end_matches('/')).map_err(|e| bad(&e))?;
        if protocol == Protocol::Pop3 && !folder.is_empty() {
            return Err(bad("POP3 has no folders: drop the path"));
        }
        let folder = if folder.is_empty() {
            "INBOX".to_string()
        } else {
            folder
        };
        Ok(MailboxUrl {
            protocol,
            security,
            user,
            host,
            port,
            folder,
        })
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent escapes are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> MailboxUrl {
        s.parse().unwrap()
    }

    #[test]
    fn each_scheme_has_its_port_and_security() {
        let u = url("imaps://bounces@mail.example.org/INBOX");
        assert_eq!(
            (u.protocol, u.security, u.port, u.folder.as_str()),
            (Protocol::Imap, Security::Tls, 993, "INBOX")
        );
        let u = url("imap://bounces@mail.example.org");
        assert_eq!((u.security, u.port), (Security::StartTls, 143));
        let u = url("pop3s://bounces@mail.example.org:1995");
        assert_eq!((u.protocol, u.port), (Protocol::Pop3, 1995));
        assert_eq!(url("pop3://b@h").port, 110);
    }

    #[test]
    fn user_and_folder_are_percent_decoded_and_v6_hosts_bracketed() {
        let u = url("imaps://bounces%40example.org@[::1]:10993/Bounces%20In");
        assert_eq!(u.user, "bounces@example.org");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 10993);
        assert_eq!(u.folder, "Bounces In");
        assert_eq!(
            u.to_string(),
            "imaps://bounces@example.org@[::1]:10993/Bounces In"
        );
    }

    #[test]
    fn refused_shapes_say_why() {
        for (s, why) in [
            ("https://a@b", "unknown scheme"),
            ("imaps://b", "no user"),
            ("imaps://u:secret@b", "password in the URL"),
            ("imaps://u@b:0", "bad port"),
            ("imaps://u@b:99999", "bad port"),
            ("pop3s://u@b/INBOX", "POP3 has no folders"),
            ("imaps://u@/x", "empty host"),
            ("imaps://u%zz@h", "percent"),
        ] {
            let e = s.parse::<MailboxUrl>().unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
