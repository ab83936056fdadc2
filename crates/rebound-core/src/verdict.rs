//! What Rebound concludes about one delivery outcome.

use crate::{EnhancedStatus, ReplyCode};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The name used in JSON, rule files and the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)*
                    _ => Err(format!(concat!("unknown ", stringify!($name), " {:?}"), s)),
                }
            }
        }
    };
}

string_enum! {
    /// Why a message was not delivered, in Sisimai's vocabulary (plus
    /// `delivered`, `feedback` and `vacation` for non-failures).
    pub enum Reason {
        /// Nothing in the input says why.
        Undefined = "undefined",
        /// The mailbox does not exist.
        UserUnknown = "userunknown",
        /// The recipient domain does not exist or has no mail host.
        HostUnknown = "hostunknown",
        /// The mailbox is over quota.
        MailboxFull = "mailboxfull",
        /// The mailbox is disabled or suspended.
        Suspend = "suspend",
        /// The recipient has moved; the server names no forwarding.
        HasMoved = "hasmoved",
        /// The domain accepts no mail at all (null MX, `521`/`556`).
        NotAccept = "notaccept",
        /// The sending IP or host is refused.
        Blocked = "blocked",
        /// The sender's reputation is too low.
        BadReputation = "badreputation",
        /// SPF, DKIM or DMARC failed.
        AuthFailure = "authfailure",
        /// The sending IP has no (matching) reverse DNS.
        RequirePtr = "requireptr",
        /// STARTTLS is required or failed.
        FailedStartTls = "failedstarttls",
        /// The message was judged spam.
        SpamDetected = "spamdetected",
        /// The message carries a virus.
        VirusDetected = "virusdetected",
        /// The content or headers were refused.
        ContentError = "contenterror",
        /// The message is too big.
        MesgTooBig = "mesgtoobig",
        /// A size or count limit other than the message size was exceeded.
        ExceedLimit = "exceedlimit",
        /// The receiver's local policy refused the message.
        PolicyViolation = "policyviolation",
        /// The envelope sender was refused.
        Rejected = "rejected",
        /// The recipient's filter refused the message.
        Filtered = "filtered",
        /// Relaying denied.
        NoRelaying = "norelaying",
        /// The message does not comply with the RFCs.
        NotCompliantRfc = "notcompliantrfc",
        /// Too many messages too fast.
        Speeding = "speeding",
        /// Too many connections.
        TooManyConn = "toomanyconn",
        /// The remote system failed.
        SystemError = "systemerror",
        /// The remote system's disk is full.
        SystemFull = "systemfull",
        /// DNS or network trouble.
        NetworkError = "networkerror",
        /// Delivery time expired after retries.
        Expired = "expired",
        /// An SMTP syntax error.
        SyntaxError = "syntaxerror",
        /// A security or authentication error on the connection.
        SecurityError = "securityerror",
        /// The local mailer program failed.
        MailerError = "mailererror",
        /// The address is on a suppression list.
        Suppressed = "suppressed",
        /// Delivered (only reported when asked).
        Delivered = "delivered",
        /// The failure is known but its cause is pending.
        OnHold = "onhold",
        /// A feedback-loop complaint (RFC 5965).
        Feedback = "feedback",
        /// An auto-reply (RFC 3834).
        Vacation = "vacation",
    }
}

string_enum! {
    /// Who owns the problem, i.e. whose side must change for mail to flow.
    pub enum Owner {
        /// The recipient address is dead.
        Recipient = "recipient",
        /// The mailbox exists but cannot take mail now (full, suspended).
        Mailbox = "mailbox",
        /// The sender's authentication (SPF, DKIM, DMARC, PTR, TLS).
        SenderAuth = "sender_auth",
        /// The sender's reputation (blocklists, volume, complaints).
        SenderReputation = "sender_reputation",
        /// The message content.
        Content = "content",
        /// The receiver's local policy.
        Policy = "policy",
        /// The sender's own setup (relaying, DNS, envelope).
        SenderConfig = "sender_config",
        /// The network between the two.
        Network = "network",
        /// The receiving system itself failed.
        Remote = "remote",
        /// No problem: delivered.
        None = "none",
        /// Nothing says.
        Unknown = "unknown",
    }
}

string_enum! {
    /// What the sender should do next.
    pub enum Remedy {
        /// Nothing: delivered.
        None = "none",
        /// Retry later; the problem is temporary.
        Retry = "retry",
        /// Stop sending to this address.
        Suppress = "suppress",
        /// Retry, and suppress after repeated failures across sends.
        RetryThenSuppress = "retry_then_suppress",
        /// Reduce the sending rate or concurrency.
        SlowDown = "slow_down",
        /// A human must look (reputation, content, blocklist).
        Investigate = "investigate",
        /// Fix the sender's configuration (SPF/DKIM/DMARC, PTR, relay, TLS).
        FixConfig = "fix_config",
    }
}

string_enum! {
    /// What a blocklist listed.
    pub enum Listed {
        Ip = "ip",
        Domain = "domain",
        Url = "url",
        Unknown = "unknown",
    }
}

/// A DNS blocklist named in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Blocklist {
    /// Short name of the operator: `spamhaus`, `spamcop`, `barracuda`, …
    pub name: String,
    /// The zone queried, e.g. `zen.spamhaus.org`, or "" when only the
    /// operator was named.
    pub zone: String,
    /// What the list holds against the sender.
    pub listed: Listed,
}

/// Rebound's judgement of one reply. The JSON field names are a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The three-digit reply code, `""` when absent.
    #[serde(with = "crate::empty_as_none", default)]
    pub replycode: Option<ReplyCode>,
    /// The enhanced status code, `""` when absent.
    #[serde(with = "crate::empty_as_none", default)]
    pub deliverystatus: Option<EnhancedStatus>,
    /// The SMTP command the reply answered, `""` when unknown.
    #[serde(default)]
    pub smtpcommand: String,
    /// The host that gave the reply, `""` when unknown.
    #[serde(default)]
    pub rhost: String,
    pub reason: Reason,
    /// The address itself is dead: suppress it on the first occurrence.
    pub hardbounce: bool,
    /// `true` permanent failure, `false` temporary, `null` success or unknown.
    pub permanent: Option<bool>,
    pub owner: Owner,
    pub remedy: Remedy,
    /// The receiving provider, when recognisable from text, host or domain.
    pub provider: Option<String>,
    pub blocklist: Option<Blocklist>,
    /// The text with its variable parts replaced by placeholders.
    pub pattern: String,
    /// One sentence naming the rule that decided and why.
    pub explain: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_strings_and_json() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>().unwrap(), *r);
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Reason::ALL.len(), 36);
        assert_eq!(Owner::SenderAuth.as_str(), "sender_auth");
        assert_eq!(Remedy::RetryThenSuppress.as_str(), "retry_then_suppress");
        assert!("nonsense".parse::<Reason>().is_err());
    }

    #[test]
    fn verdict_writes_absent_codes_as_empty_strings() {
        let v = Verdict {
            replycode: None,
            deliverystatus: "5.1.1".parse().ok(),
            smtpcommand: String::new(),
            rhost: String::new(),
            reason: Reason::UserUnknown,
            hardbounce: true,
            permanent: Some(true),
            owner: Owner::Recipient,
            remedy: Remedy::Suppress,
            provider: None,
            blocklist: None,
            pattern: String::new(),
            explain: String::new(),
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["replycode"], "");
        assert_eq!(json["deliverystatus"], "5.1.1");
        assert_eq!(json["provider"], serde_json::Value::Null);
        let back: Verdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }
}
