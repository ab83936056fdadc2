//! The bounce-email decoder: raw messages in, one [`Record`] per failed
//! recipient out.
//!
//! It owns everything between bytes and an [`Observation`](rebound_core::Observation):
//! reading inputs ([`input`]: files, directories, Maildirs, mboxes, stdin),
//! laying a MIME message out for decoders ([`mail`]), the RFC 3464 field
//! parser ([`dsn`]), the text helpers every layer shares ([`text`]), and one
//! decoder per bounce format ([`lhost`], which lists them in order). The
//! judgement itself (reason, hard bounce, remedy) is the classifier's: every
//! record's verdict comes from [`rebound_classify::Classifier`], so a reply
//! means the same thing whether it arrived in an email, a log or a webhook.

pub mod conformance;
pub mod delivery;
pub mod dsn;
pub mod input;
pub mod lhost;
pub mod mail;
mod mime_fields;
mod record;
pub mod text;
pub mod verp;

pub use input::{InputError, RawMessage, messages};
pub use mail::Mail;
pub use record::{Observed, REBOUND_ONLY_FIELDS, Record, judge, parse_date, token};
pub use verp::{DEFAULT_VERP_PATTERN, VerpPattern, VerpPatternError};

use rebound_classify::Classifier;
use rebound_core::Reason;

/// What to report besides failures.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Also report successful deliveries (reason `delivered`).
    pub delivered: bool,
    /// Also report auto-replies (reason `vacation`).
    pub vacation: bool,
}

/// Why a message gave no records at all (as opposed to being a valid
/// message that is not a bounce, which gives an empty list).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not an email message: no header found")]
    NotAMessage,
    #[error("decoder {decoder} failed unexpectedly on this message")]
    DecoderPanicked { decoder: String },
}

/// Decodes one message with the built-in classifier rules.
pub fn decode_message(
    raw: &[u8],
    origin: &str,
    options: &DecodeOptions,
) -> Result<Vec<Record>, DecodeError> {
    decode_message_with(raw, origin, options, Classifier::builtin())
}

/// Decodes one message with the given classifier (e.g. one with user rules).
pub fn decode_message_with(
    raw: &[u8],
    origin: &str,
    options: &DecodeOptions,
    classifier: &Classifier,
) -> Result<Vec<Record>, DecodeError> {
    decode_message_configured(raw, origin, options, classifier, VerpPattern::builtin())
}

/// Decodes one message with the given classifier and VERP address shape
/// (see [`verp`]; [`VerpPattern::builtin`] is [`DEFAULT_VERP_PATTERN`]).
pub fn decode_message_configured(
    raw: &[u8],
    origin: &str,
    options: &DecodeOptions,
    classifier: &Classifier,
    verp: &VerpPattern,
) -> Result<Vec<Record>, DecodeError> {
    let normalised = mail::normalise_line_endings(raw);
    let pieces = input::split_appended_messages(&normalised);
    if pieces.len() > 1 {
        // Several bounces written one after another into one file: decode
        // each, as a reader of the file would.
        let mut records = Vec::new();
        for piece in pieces {
            if let Some(mail) = Mail::parse(piece) {
                records.extend(decode_mail_configured(
                    &mail, origin, options, classifier, verp,
                )?);
            }
        }
        return Ok(records);
    }
    // Already normalised: parsing it does not copy it again.
    let mail = Mail::parse(&normalised).ok_or(DecodeError::NotAMessage)?;
    decode_mail_configured(&mail, origin, options, classifier, verp)
}

/// Decodes an already parsed message.
pub fn decode_mail(
    mail: &Mail,
    origin: &str,
    options: &DecodeOptions,
    classifier: &Classifier,
) -> Result<Vec<Record>, DecodeError> {
    decode_mail_configured(mail, origin, options, classifier, VerpPattern::builtin())
}

/// Decodes an already parsed message with the given VERP address shape.
pub fn decode_mail_configured(
    mail: &Mail,
    origin: &str,
    options: &DecodeOptions,
    classifier: &Classifier,
    verp: &VerpPattern,
) -> Result<Vec<Record>, DecodeError> {
    let mut current = "";
    // A bug in a decoder or in the classifier must cost one message, not the
    // run: contain it here and report which decoder was at work.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let keep = |r: &Record| match r.verdict.reason {
            Reason::Delivered => options.delivered,
            Reason::Vacation => options.vacation,
            _ => true,
        };
        for decoder in lhost::registry() {
            current = decoder.name();
            let Some(mut deliveries) = decoder.decode(mail) else {
                continue;
            };
            if deliveries.is_empty() {
                continue;
            }
            lhost::common::separate_shared_replies(mail, &mut deliveries);
            if verp::may_need_repair(&deliveries)
                && let Some(verp_recipient) = verp.recipient_of(mail)
            {
                verp::repair(&mut deliveries, &verp_recipient);
            }
            return deliveries
                .into_iter()
                .map(|d| record::assemble(mail, d, decoder.name(), origin, classifier))
                .filter(keep)
                .collect();
        }
        // No decoder found a recipient: a bounce that came back to a VERP
        // address still says whom it is about.
        current = "VERP";
        verp.recipient_of(mail)
            .and_then(|r| lhost::freetext::delivery_for(mail, r))
            .map(|d| record::assemble(mail, d, "VERP", origin, classifier))
            .into_iter()
            .filter(keep)
            .collect()
    }))
    .map_err(|_| DecodeError::DecoderPanicked {
        decoder: current.to_string(),
    })
}

/// Fixed-seed random inputs for the tests that compare a fast path with
/// mail-parser's routine: the same cases on every run, so a failure can be
/// replayed.
#[cfg(test)]
pub(crate) mod test_random {
    /// xorshift64.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }
}
