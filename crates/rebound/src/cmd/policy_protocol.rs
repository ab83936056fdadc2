//! The two wire protocols Postfix uses to ask an outside program about a
//! recipient, as pure byte-level parsers and answer builders (no sockets,
//! so every case is a unit test):
//!
//! - SMTP access policy delegation (SMTPD_POLICY_README): the client sends
//!   `name=value` lines, a request ends with an empty line, and one
//!   connection carries many requests; the answer is `action=…` and an
//!   empty line.
//! - socketmap (socketmap_table(5)): netstrings (`LEN:DATA,`), request
//!   `name key`, answer `OK value`, `NOTFOUND `, `TEMP reason` or
//!   `PERM reason`.
//!
//! Both parsers are fed whatever a read returned, so a request split across
//! reads, or several in one read, come out the same. Every size is capped:
//! a peer that breaks a cap gets an error and the connection is closed,
//! never a growing buffer.

use std::collections::HashMap;

/// Longest attribute line we accept (bytes, without the newline). Postfix's
/// longest attributes are certificate subjects and SASL names, well under
/// this.
pub const MAX_LINE: usize = 4096;
/// Attributes per request. Postfix 3.x sends about 30.
pub const MAX_ATTRIBUTES: usize = 100;
/// Longest socketmap request (`name key`): a map name and an address.
pub const MAX_NETSTRING: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    LineTooLong,
    TooManyAttributes,
    NotAnAttribute(String),
    BadNetstring(&'static str),
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolError::LineTooLong => write!(f, "line longer than {MAX_LINE} bytes"),
            ProtocolError::TooManyAttributes => {
                write!(f, "more than {MAX_ATTRIBUTES} attributes in one request")
            }
            ProtocolError::NotAnAttribute(l) => write!(f, "not a name=value line: {l:?}"),
            ProtocolError::BadNetstring(why) => write!(f, "bad netstring: {why}"),
        }
    }
}

/// One policy request: its attributes (the last value wins when a name
/// repeats, as in Postfix's own attribute reader).
pub type Request = HashMap<String, String>;

/// The policy protocol's reader state for one connection.
#[derive(Default)]
pub struct PolicyParser {
    /// Bytes of an unfinished line.
    partial: Vec<u8>,
    current: Request,
    attributes: usize,
}

impl PolicyParser {
    /// Feeds bytes as read; pushes every request they complete onto `out`.
    /// After an error the connection must be closed: the stream can no
    /// longer be framed.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Request>) -> Result<(), ProtocolError> {
        while let Some(nl) = memchr(b'\n', bytes) {
            if self.partial.len() + nl > MAX_LINE {
                return Err(ProtocolError::LineTooLong);
            }
            let line: &[u8] = if self.partial.is_empty() {
                &bytes[..nl]
            } else {
                self.partial.extend_from_slice(&bytes[..nl]);
                &self.partial
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                out.push(std::mem::take(&mut self.current));
                self.attributes = 0;
            } else {
                self.attributes += 1;
                if self.attributes > MAX_ATTRIBUTES {
                    return Err(ProtocolError::TooManyAttributes);
                }
                // Values are passed through from SMTP clients and may hold
                // any byte; a lossy conversion keeps the name=value framing.
                let text = String::from_utf8_lossy(line);
                let Some((name, value)) = text.split_once('=') else {
                    let shown: String = text.chars().take(80).collect();
                    return Err(ProtocolError::NotAnAttribute(shown));
                };
                self.current.insert(name.to_string(), value.to_string());
            }
            self.partial.clear();
            bytes = &bytes[nl + 1..];
        }
        if self.partial.len() + bytes.len() > MAX_LINE {
            return Err(ProtocolError::LineTooLong);
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// The socketmap reader state for one connection.
#[derive(Default)]
pub struct NetstringParser {
    buf: Vec<u8>,
}

impl NetstringParser {
    /// Feeds bytes as read; pushes every complete netstring's payload.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), ProtocolError> {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            let Some(colon) = memchr(b':', rest) else {
                // Only digits may precede the colon, and at most as many as
                // MAX_NETSTRING has.
                if rest.len() > 5 || !rest.iter().all(u8::is_ascii_digit) {
                    return Err(ProtocolError::BadNetstring("length is not a number"));
                }
                break;
            };
            let digits = &rest[..colon];
            if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
                return Err(ProtocolError::BadNetstring("length is not a number"));
            }
            let len: usize = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or(ProtocolError::BadNetstring("length is not a number"))?;
            if len > MAX_NETSTRING {
                return Err(ProtocolError::BadNetstring("too long"));
            }
            let end = colon + 1 + len;
            if rest.len() <= end {
                break;
            }
            if rest[end] != b',' {
                return Err(ProtocolError::BadNetstring("no comma after the data"));
            }
            out.push(rest[colon + 1..end].to_vec());
            start += end + 1;
        }
        self.buf.drain(..start);
        Ok(())
    }
}

/// `DATA` as a netstring.
pub fn netstring(data: &str) -> Vec<u8> {
    format!("{}:{data},", data.len()).into_bytes()
}

/// What Postfix is told to do with a suppressed recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Refuse the recipient (5.1.1): the sender's MTA bounces it at once.
    Reject,
    /// Accept the message and put it on hold (the whole message, all its
    /// recipients) for a person to release or delete.
    Hold,
    /// Accept and silently drop the message (the whole message).
    Discard,
}

/// Keeps text from the store fit for one SMTP reply line: no control
/// characters (a newline would end the reply and start a new one), and a
/// bounded length.
fn reply_safe(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// The reply text shared by both protocols:
/// `<addr>: suppressed by Rebound (REASON, since DATE)`.
pub fn suppressed_text(address: &str, reason: &str, since_date: &str) -> String {
    format!(
        "<{}>: suppressed by Rebound ({}, since {})",
        reply_safe(address, 320),
        reply_safe(reason, 64),
        reply_safe(since_date, 10)
    )
}

/// The `action=` value for a suppressed recipient.
pub fn suppressed_action(action: Action, text: &str) -> String {
    match action {
        Action::Reject => format!("REJECT 5.1.1 {text}"),
        Action::Hold => format!("HOLD {text}"),
        Action::Discard => format!("DISCARD {text}"),
    }
}

/// A policy answer: `action=VALUE` and the empty line.
pub fn policy_answer(action: &str) -> Vec<u8> {
    format!("action={action}\n\n").into_bytes()
}

/// A socketmap request `name key`, split. `None` when there is no space.
pub fn socketmap_request(payload: &[u8]) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(payload);
    let (name, key) = text.split_once(' ')?;
    Some((name.to_string(), key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> Result<Vec<Request>, ProtocolError> {
        let mut p = PolicyParser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out)?;
        }
        Ok(out)
    }

    const REQUEST: &[u8] = b"request=smtpd_access_policy\nprotocol_state=RCPT\n\
recipient=Old.Account@Example.NET\nsender=news@sender.example\n\n";

    #[test]
    fn one_request() {
        let out = feed_all(&[REQUEST]).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["recipient"], "Old.Account@Example.NET");
        assert_eq!(out[0]["protocol_state"], "RCPT");
    }

    #[test]
    fn split_at_every_byte_gives_the_same_requests() {
        let two = [REQUEST, b"recipient=b@x.example\r\n\r\n"].concat();
        let whole = feed_all(&[&two]).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[1]["recipient"], "b@x.example");
        for cut in 0..=two.len() {
            let (a, b) = two.split_at(cut);
            assert_eq!(feed_all(&[a, b]).unwrap(), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = two.chunks(1).collect();
        assert_eq!(feed_all(&bytes).unwrap(), whole);
    }

    #[test]
    fn several_requests_per_connection_do_not_share_attributes() {
        let out = feed_all(&[REQUEST, b"sender=other@x.example\n\n", b"\n"]).unwrap();
        assert_eq!(out.len(), 3);
        assert!(!out[1].contains_key("recipient"));
        assert_eq!(out[1]["sender"], "other@x.example");
        assert!(out[2].is_empty());
    }

    #[test]
    fn values_keep_equals_signs_and_odd_bytes() {
        let out = feed_all(&[b"ccert_subject=CN=a=b\nhelo_name=\xff\xfe\n\n"]).unwrap();
        assert_eq!(out[0]["ccert_subject"], "CN=a=b");
        assert_eq!(out[0]["helo_name"], "\u{fffd}\u{fffd}");
    }

    #[test]
    fn garbage_is_an_error_not_a_request() {
        assert!(matches!(
            feed_all(&[b"GET / HTTP/1.1\r\n"]),
            Err(ProtocolError::NotAnAttribute(_))
        ));
        assert!(matches!(
            feed_all(&[b"\x00\x01\x02\n"]),
            Err(ProtocolError::NotAnAttribute(_))
        ));
    }

    #[test]
    fn a_long_line_is_refused_before_it_is_buffered() {
        let long = vec![b'a'; MAX_LINE + 1];
        // No newline ever comes: the cap still holds.
        assert_eq!(feed_all(&[&long]), Err(ProtocolError::LineTooLong));
        let half = vec![b'a'; MAX_LINE / 2 + 1];
        assert_eq!(feed_all(&[&half, &half]), Err(ProtocolError::LineTooLong));
        let mut ok = vec![b'a'; MAX_LINE - 2];
        ok.extend_from_slice(b"=\n\n");
        assert_eq!(feed_all(&[&ok]).unwrap().len(), 1);
    }

    #[test]
    fn too_many_attributes_are_refused() {
        let many: Vec<u8> = (0..=MAX_ATTRIBUTES)
            .flat_map(|i| format!("a{i}=x\n").into_bytes())
            .collect();
        assert_eq!(feed_all(&[&many]), Err(ProtocolError::TooManyAttributes));
        // The count starts again with each request.
        let mut fine = Vec::new();
        for _ in 0..3 {
            fine.extend((0..MAX_ATTRIBUTES).flat_map(|i| format!("a{i}=x\n").into_bytes()));
            fine.push(b'\n');
        }
        assert_eq!(feed_all(&[&fine]).unwrap().len(), 3);
    }

    fn netstrings(chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let mut p = NetstringParser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn netstrings_split_anywhere() {
        let two = [netstring("suppressed a@x.example"), netstring("m b@y")].concat();
        let whole = netstrings(&[&two]).unwrap();
        assert_eq!(
            whole,
            vec![b"suppressed a@x.example".to_vec(), b"m b@y".to_vec()]
        );
        for cut in 0..=two.len() {
            let (a, b) = two.split_at(cut);
            assert_eq!(netstrings(&[a, b]).unwrap(), whole, "cut at {cut}");
        }
        assert_eq!(netstring(""), b"0:,");
        assert_eq!(netstrings(&[b"0:,"]).unwrap(), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn bad_netstrings_are_errors() {
        for bad in [
            &b"x:abc,"[..],
            b":abc,",
            b"3:abc;",
            b"99999:",
            b"123456",
            b"GET / HTTP/1.1\r\n",
            b"-1:a,",
        ] {
            assert!(
                netstrings(&[bad]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // An incomplete one is not an error yet.
        assert_eq!(netstrings(&[b"10:abc"]).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn answers() {
        let text = suppressed_text("a@x.example", "hardbounce", "2026-12-02");
        assert_eq!(
            policy_answer(&suppressed_action(Action::Reject, &text)),
            b"action=REJECT 5.1.1 <a@x.example>: suppressed by Rebound (hardbounce, since 2026-12-02)\n\n"
        );
        assert!(suppressed_action(Action::Hold, &text).starts_with("HOLD <a@x.example>"));
        assert!(suppressed_action(Action::Discard, &text).starts_with("DISCARD "));
        // A reason typed by hand cannot break the reply into two.
        let odd = suppressed_text("a@x", "manual\nfake=1\r\n", "2026-12-02");
        assert!(!odd.contains('\n') && !odd.contains('\r'), "{odd}");
        assert_eq!(
            socketmap_request(b"suppressed a@x.example"),
            Some(("suppressed".into(), "a@x.example".into()))
        );
        assert_eq!(socketmap_request(b"nospace"), None);
    }
}
