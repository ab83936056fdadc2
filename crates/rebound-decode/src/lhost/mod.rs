//! Format decoders: one module per bounce format (an MTA's NDR, a provider's
//! notice, a standard), all behind the [`Decoder`] trait, tried in the order
//! of [`registry`].
//!
//! To add a format: write a module with a unit struct implementing
//! [`Decoder`], add it to [`registry`] before the generic fallbacks, and add
//! a test that decodes a sample. `decode` must reject foreign messages
//! cheaply (a header or a fixed marker) before any real parsing.

pub use crate::delivery::{Decoder, Delivery};

pub mod activehunter;
pub mod amavis;
pub mod amazonses;
pub mod amazonworkmail;
pub mod aol;
pub mod apachejames;
pub mod arf;
pub mod barracuda;
pub mod bigfoot;
pub mod biglobe;
pub mod common;
pub mod courier;
pub mod domino;
pub mod dragonfly;
pub mod exchange2003;
pub mod exchange2007;
pub mod exim;
pub mod ezweb;
pub mod facebook;
pub mod fml;
pub mod freetext;
pub mod gmail;
pub mod gmx;
pub mod googlegroups;
pub mod googleworkspace;
pub mod imailserver;
pub mod kddi;
pub mod mailfoundry;
pub mod mailmarshal;
pub mod mailru;
pub mod mcafee;
pub mod messagingserver;
pub mod mfilter;
pub mod mimecast;
pub mod mxlogic;
pub mod notes;
pub mod office365;
pub mod opensmtpd;
pub mod outlook;
pub mod postfix;
pub mod powermta;
pub mod provider_helpers;
pub mod qmail;
pub mod receivingses;
pub mod rfc3464;
pub mod rfc3834;
pub mod sendgrid;
pub mod sendmail;
pub mod surfcontrol;
pub mod trendmicro;
pub mod v5sendmail;
pub mod verizon;
pub mod x1;
pub mod x2;
pub mod x3;
pub mod x4;
pub mod x5;
pub mod x6;
pub mod yahoo;
pub mod yandex;
pub mod zoho;

/// Every decoder, in the order they are tried: specific formats first,
/// standards-based fallbacks last. This list is the one place that says
/// which decoders exist; the modules above only decode.
pub fn registry() -> &'static [&'static dyn Decoder] {
    static REGISTRY: &[&dyn Decoder] = &[
        // Standards beyond RFC 3464 (ARF first: a feedback report must win
        // over everything), mail appliances and filters, Japanese carriers.
        &arf::Arf,
        &ezweb::EzWeb,
        &kddi::Kddi,
        &biglobe::Biglobe,
        &mfilter::MFilter,
        &trendmicro::InterScanMss,
        &mailfoundry::MailFoundry,
        &mailmarshal::MailMarshal,
        &surfcontrol::SurfControl,
        &barracuda::Barracuda,
        &activehunter::ActiveHunter,
        &amavis::Amavis,
        &powermta::PowerMta,
        &notes::Notes,
        &domino::Domino,
        &mcafee::McAfee,
        &mxlogic::MxLogic,
        &facebook::Facebook,
        &mimecast::Mimecast,
        // Mailbox providers and sending services.
        &gmail::Gmail,
        &googleworkspace::GSuite,
        &googlegroups::GoogleGroups,
        &googleworkspace::GoogleWorkspace,
        &yahoo::Yahoo,
        &zoho::Zoho,
        &gmx::Gmx,
        &gmx::EinsUndEins,
        &mailru::MailRu,
        &yandex::Yandex,
        &amazonworkmail::AmazonWorkMail,
        &receivingses::ReceivingSes,
        &amazonses::AmazonSes,
        &sendgrid::SendGrid,
        &office365::Office365,
        &exchange2007::Exchange2007,
        &exchange2003::Exchange2003,
        &outlook::Outlook,
        &aol::Aol,
        &verizon::Verizon,
        &bigfoot::Bigfoot,
        // Unix MTAs that write their own notices.
        &postfix::Postfix,
        &sendmail::Sendmail,
        &exim::Exim,
        &qmail::Qmail,
        &dragonfly::DragonFly,
        &opensmtpd::OpenSmtpd,
        &v5sendmail::V5sendmail,
        &courier::Courier,
        &messagingserver::MessagingServer,
        &imailserver::IMailServer,
        &fml::Fml,
        &apachejames::ApacheJames,
        // The standard report.
        &rfc3464::Rfc3464,
        // Shapes too loose to be trusted over a standard report: RFC 3834
        // auto-replies, then the unknown-MTA shapes.
        &rfc3834::Rfc3834,
        &x1::X1,
        &x2::X2,
        &x3::X3,
        &x4::X4,
        &x5::X5,
        &x6::X6,
        // Free text no format claims: every failed recipient near failure
        // wording, each with its own reply.
        &freetext::FreeText,
        // The loose mailer-daemon notice reader, last of all.
        &rfc3464::Rfc3464Loose,
    ];
    REGISTRY
}
