//! Mailbox providers and sending services: Google, Microsoft, Yahoo,
//! Amazon, SendGrid, Zoho, GMX and others.

use super::Decoder;

/// Decoders of this group tried before the generic RFC 3464 fallback.
pub static FIRST: &[&dyn Decoder] = &[];

/// Decoders of this group tried after the RFC 3464 fallback (shapes too
/// loose to be trusted over a standard report).
pub static LAST: &[&dyn Decoder] = &[];
