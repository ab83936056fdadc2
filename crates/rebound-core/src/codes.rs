//! SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463).

use std::fmt;
use std::str::FromStr;

/// The class shared by reply codes and enhanced status codes: the first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusClass {
    /// 2xx / 2.x.x: accepted or delivered.
    Success,
    /// 3xx: intermediate (only seen in replies to DATA and AUTH).
    Intermediate,
    /// 4xx / 4.x.x: temporary failure, the sender should retry.
    Transient,
    /// 5xx / 5.x.x: permanent failure.
    Permanent,
}

impl StatusClass {
    fn from_digit(d: u8) -> Option<Self> {
        match d {
            2 => Some(Self::Success),
            3 => Some(Self::Intermediate),
            4 => Some(Self::Transient),
            5 => Some(Self::Permanent),
            _ => None,
        }
    }
}

/// A three-digit SMTP reply code such as `550`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// Builds a reply code if `code` is a valid one: first digit 2–5, second
    /// digit 0–5 (RFC 5321 §4.2.1), third digit anything.
    pub fn new(code: u16) -> Option<Self> {
        let first = (code / 100) as u8;
        let second = (code / 10) % 10;
        if (200..600).contains(&code) && second <= 5 && StatusClass::from_digit(first).is_some() {
            Some(Self(code))
        } else {
            None
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }

    pub fn class(self) -> StatusClass {
        StatusClass::from_digit((self.0 / 100) as u8).expect("validated in new")
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for ReplyCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u16>()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| format!("not an SMTP reply code: {s:?}"))
    }
}

/// An RFC 3463 enhanced status code `class.subject.detail`, e.g. `5.1.1`.
/// Subject and detail may have up to three digits (`4.7.650`, `5.7.26`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedStatus {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedStatus {
    /// Builds a status if the class is 2, 4 or 5 and subject and detail fit
    /// in three digits.
    pub fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999 {
            Some(Self {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    pub fn class(self) -> StatusClass {
        StatusClass::from_digit(self.class).expect("validated in new")
    }

    pub fn class_digit(self) -> u8 {
        self.class
    }

    pub fn subject(self) -> u16 {
        self.subject
    }

    pub fn detail(self) -> u16 {
        self.detail
    }

    /// The same subject and detail under another class (`5.2.2` → `4.2.2`).
    pub fn with_class(self, class: u8) -> Option<Self> {
        Self::new(class, self.subject, self.detail)
    }

    /// Whether the status is one of the catch-all codes (`x.0.0`) that say
    /// nothing about the cause.
    pub fn is_generic(self) -> bool {
        self.subject == 0 && self.detail == 0
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl FromStr for EnhancedStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| format!("not an enhanced status code: {s:?}"))
    }
}

impl EnhancedStatus {
    /// Reads `class.subject.detail` (surrounding white space allowed), as
    /// [`FromStr`] does but without building an error: callers that test
    /// every token of a text (masking variable parts) call this.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('.');
        let mut next = |max_len: usize| -> Option<u16> {
            let p = parts.next()?;
            if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let class = next(1)?;
        let subject = next(3)?;
        let detail = next(3)?;
        if parts.next().is_some() {
            return None;
        }
        Self::new(class as u8, subject, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_validate_their_digits() {
        assert!(ReplyCode::new(550).is_some());
        assert!(ReplyCode::new(421).is_some());
        assert!(ReplyCode::new(403).is_some());
        assert!(ReplyCode::new(199).is_none());
        assert!(ReplyCode::new(600).is_none());
        assert!(ReplyCode::new(560).is_none(), "second digit above 5");
        assert_eq!(
            "554".parse::<ReplyCode>().unwrap().class(),
            StatusClass::Permanent
        );
    }

    #[test]
    fn enhanced_status_round_trips_and_rejects_junk() {
        for s in ["5.1.1", "4.7.650", "5.7.26", "2.0.0"] {
            assert_eq!(s.parse::<EnhancedStatus>().unwrap().to_string(), s);
        }
        for s in [
            "3.1.1", "5.1", "5.1.1.1", "5..1", "5.1000.1", "a.b.c", "55.1.1",
        ] {
            assert!(s.parse::<EnhancedStatus>().is_err(), "{s}");
        }
        let s: EnhancedStatus = "5.2.2".parse().unwrap();
        assert_eq!(s.with_class(4).unwrap().to_string(), "4.2.2");
        assert!("4.0.0".parse::<EnhancedStatus>().unwrap().is_generic());
    }
}

macro_rules! serde_as_string {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_string!(ReplyCode);
serde_as_string!(EnhancedStatus);
