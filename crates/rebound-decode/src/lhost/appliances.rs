//! Standards beyond RFC 3464 (ARF feedback reports, RFC 3834 auto-replies),
//! mail appliances and filters, and Japanese carriers.

use super::Decoder;

/// Decoders of this group tried before the generic RFC 3464 fallback.
/// ARF first: a feedback report must win over everything.
pub static FIRST: &[&dyn Decoder] = &[
    &super::arf::Arf,
    &super::ezweb::EzWeb,
    &super::kddi::Kddi,
    &super::biglobe::Biglobe,
    &super::mfilter::MFilter,
    &super::trendmicro::InterScanMss,
    &super::mailfoundry::MailFoundry,
    &super::mailmarshal::MailMarshal,
    &super::surfcontrol::SurfControl,
    &super::barracuda::Barracuda,
    &super::activehunter::ActiveHunter,
    &super::amavis::Amavis,
    &super::powermta::PowerMta,
    &super::notes::Notes,
    &super::domino::Domino,
    &super::mcafee::McAfee,
    &super::mxlogic::MxLogic,
    &super::facebook::Facebook,
    &super::mimecast::Mimecast,
];

/// Decoders of this group tried after the RFC 3464 fallback (shapes too
/// loose to be trusted over a standard report). (The loose mailer-daemon
/// notice reader, `rfc3464::Rfc3464Loose`, is registered after every group.)
pub static LAST: &[&dyn Decoder] = &[&super::rfc3834::Rfc3834];
