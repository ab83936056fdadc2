//! Parsing reply texts as real systems hand them over.

use rebound_core::{EnhancedStatus, ReplyCode};

/// What [`parse`] found in a reply text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedReply {
    pub replycode: Option<ReplyCode>,
    pub status: Option<EnhancedStatus>,
    pub smtpcommand: Option<String>,
    pub rhost: Option<String>,
    /// The text without codes, prefixes and wrapping.
    pub text: String,
}

/// PLACEHOLDER: to be written by the classifier work.
pub fn parse(text: &str) -> ParsedReply {
    ParsedReply {
        text: text.to_string(),
        ..ParsedReply::default()
    }
}
