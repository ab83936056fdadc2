//! The vocabulary every other Rebound crate speaks: what a receiving server
//! said ([`ReplyCode`], [`EnhancedStatus`], [`Observation`]) and what Rebound
//! concludes about it ([`Verdict`], [`Reason`], [`Owner`], [`Remedy`],
//! [`Blocklist`]).
//!
//! This crate holds types only, no logic beyond parsing and printing them, so
//! that inputs (decoders, log parsers, webhooks), the classifier, the ledger and
//! the interfaces can all depend on it without depending on each other.
//! JSON field names are part of Rebound's public contract and follow Sisimai's
//! where Sisimai has the concept.

mod codes;
mod observation;
mod verdict;

pub use codes::{EnhancedStatus, ReplyCode, StatusClass};
pub use observation::Observation;
pub use verdict::{Blocklist, Listed, Owner, Reason, Remedy, Verdict};

/// Serde helpers that write an absent value as `""` and read `""` back as
/// absent, the way Sisimai prints `replycode` and `deliverystatus`.
pub mod empty_as_none {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        // Accept numbers too: some producers write `"replycode": 550`.
        let v = serde_json::Value::deserialize(d)?;
        let s = match v {
            serde_json::Value::Null => return Ok(None),
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected a string, got {other}"
                )));
            }
        };
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(serde::de::Error::custom)
        }
    }
}
