//! What a format decoder gives ([`Delivery`], one per recipient) and what a
//! format decoder is ([`Decoder`]): the contract between the decoders below
//! and the registry, VERP repair and record assembly above, in a module of
//! its own so that neither side imports the other to reach it.

use crate::mail::Mail;
use rebound_core::{EnhancedStatus, Reason, ReplyCode};

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

impl Delivery {
    /// Whether the DSN action reports a success (`delivered`, `relayed`,
    /// `expanded`) rather than a failure or a delay.
    pub fn reports_success(&self) -> bool {
        ["delivered", "relayed", "expanded"]
            .iter()
            .any(|a| self.action.eq_ignore_ascii_case(a))
    }
}

/// A bounce format.
pub trait Decoder: Sync {
    /// Name written to `decodedby` (`Postfix`, `Exim`, `RFC3464`, …).
    fn name(&self) -> &'static str;

    /// The recipients this format reports, or `None` when the message is not
    /// in this format.
    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>>;
}
