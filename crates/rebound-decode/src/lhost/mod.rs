//! Format decoders: one module per bounce format (an MTA's NDR, a provider's
//! notice, a standard), all behind the [`Decoder`] trait, tried in the order
//! of [`registry`].
//!
//! To add a format: write a module with a unit struct implementing
//! [`Decoder`], add it to [`registry`] before the generic fallbacks, and add
//! a test that decodes a sample. `decode` must reject foreign messages
//! cheaply (a header or a fixed marker) before any real parsing.

use crate::mail::Mail;
use rebound_core::{EnhancedStatus, Reason, ReplyCode};

pub mod activehunter;
pub mod amavis;
pub mod amazonses;
pub mod amazonworkmail;
pub mod aol;
pub mod apachejames;
pub mod appliances;
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
pub mod providers;
pub mod qmail;
pub mod receivingses;
pub mod rfc3464;
pub mod rfc3834;
pub mod sendgrid;
pub mod sendmail;
pub mod surfcontrol;
pub mod trendmicro;
pub mod unix;
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

/// What a format decoder found about one recipient. Fields it cannot know
/// stay empty; the record assembly fills them from the headers and the
/// classifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The failed (or delivered) recipient address.
    pub recipient: String,
    /// The address as the sender wrote it when the MTA rewrote it
    /// (`Original-Recipient`, Postfix `expanded from`).
    pub alias: String,
    /// DSN `Action:` in lower case: failed, delayed, delivered, relayed, expanded.
    pub action: String,
    /// Enhanced status as stated by the report (`Status:`), if any.
    pub status: Option<EnhancedStatus>,
    /// Reply code as stated separately, if any (it is usually in `diagnostic`).
    pub replycode: Option<ReplyCode>,
    /// The remote server's reply or the MTA's diagnostic text.
    pub diagnostic: String,
    /// Type of the diagnostic (`SMTP`, `X-UNIX`, `X-POSTFIX`, …), upper-cased.
    pub diagnostictype: String,
    /// SMTP command that failed (`RCPT`, `DATA`, …).
    pub command: String,
    /// The host that refused (`Remote-MTA`), if known.
    pub rhost: String,
    /// The host that reports (`Reporting-MTA`), if known.
    pub lhost: String,
    /// Date of the attempt as written (`Last-Attempt-Date`, `Arrival-Date`).
    pub date: String,
    /// A reason the format itself states (e.g. feedback, vacation, expired).
    pub reason: Option<Reason>,
    /// ARF `Feedback-Type`.
    pub feedbacktype: String,
    /// The reason whose Sisimai stand-in status (`x.0.9xx`) the record gets
    /// when the bounce states no enhanced status, where the format's
    /// convention fixes it apart from the final reason (Exim's refusals
    /// after `MAIL FROM`: `x.0.901`). `None`: the final reason's.
    pub standin: Option<Reason>,
    /// The sender as the report itself states it (ARF's
    /// `Original-Mail-From`). Empty: the record takes it from the returned
    /// message's headers.
    pub addresser: String,
}

/// A bounce format.
pub trait Decoder: Sync {
    /// Name written to `decodedby` (`Postfix`, `Exim`, `RFC3464`, …).
    fn name(&self) -> &'static str;

    /// The recipients this format reports, or `None` when the message is not
    /// in this format.
    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>>;
}

/// Every decoder, in the order they are tried: specific formats first,
/// standards-based fallbacks last.
pub fn registry() -> &'static [&'static dyn Decoder] {
    static REGISTRY: std::sync::OnceLock<Vec<&'static dyn Decoder>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all: Vec<&'static dyn Decoder> = Vec::new();
        all.extend_from_slice(appliances::FIRST);
        all.extend_from_slice(providers::FIRST);
        all.extend_from_slice(unix::FIRST);
        all.push(&rfc3464::Rfc3464);
        all.extend_from_slice(appliances::LAST);
        all.extend_from_slice(providers::LAST);
        all.extend_from_slice(unix::LAST);
        // Free text no format claims: every failed recipient near failure
        // wording, each with its own reply.
        all.push(&freetext::FreeText);
        all.push(&rfc3464::Rfc3464Loose);
        all
    })
}
