//! Standards beyond RFC 3464 (ARF feedback reports, RFC 3834 auto-replies),
//! mail appliances and filters, and Japanese carriers.

use super::Decoder;

/// Decoders of this group tried before the generic RFC 3464 fallback.
pub static FIRST: &[&dyn Decoder] = &[&super::arf::Arf];

/// Decoders of this group tried after the RFC 3464 fallback (shapes too
/// loose to be trusted over a standard report).
pub static LAST: &[&dyn Decoder] = &[&super::rfc3834::Rfc3834, &super::rfc3464::Rfc3464Loose];
