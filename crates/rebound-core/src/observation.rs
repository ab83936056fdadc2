//! What an input (a bounce email, a log line, a webhook) tells us about one
//! delivery attempt, before any judgement.

use crate::{EnhancedStatus, Reason, ReplyCode};
use serde::{Deserialize, Serialize};

/// One delivery outcome as an input reported it. Inputs fill in what they
/// know; the classifier reads the text for whatever is missing (reply code,
/// enhanced status, command, remote host) and turns it into a
/// [`Verdict`](crate::Verdict).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The server's reply or the diagnostic text, raw.
    pub text: String,
    /// Reply code stated separately by the input (e.g. a webhook field).
    pub replycode: Option<ReplyCode>,
    /// Enhanced status stated separately (e.g. a DSN `Status:` field). It
    /// usually outranks a status found inside `text`.
    pub status: Option<EnhancedStatus>,
    /// The SMTP command the reply answered (`RCPT`, `DATA`, …), if known.
    pub smtpcommand: Option<String>,
    /// The host that gave the reply, if known.
    pub rhost: Option<String>,
    /// The host that reported the failure (the bounce's sender), if known.
    pub lhost: Option<String>,
    /// The recipient address, if known; its domain helps to recognise the
    /// receiving provider.
    pub recipient: Option<String>,
    /// DSN `Action:` (`failed`, `delayed`, `delivered`, `relayed`,
    /// `expanded`) or its equivalent.
    pub action: Option<String>,
    /// A reason the input already knows from its own format (an ARF report is
    /// `feedback`, an auto-reply `vacation`, a Postfix `status=expired` line
    /// `expired`). The classifier keeps it unless the text is more specific.
    pub reason_hint: Option<Reason>,
    /// Name of the format or MTA that produced the observation, for `explain`.
    pub source: Option<String>,
    /// The observation comes from a bounce message (a DSN or an MTA's
    /// notice). Its reporting MTA names the SMTP command when a remote
    /// server refused at a stage it knows, so there a missing command is
    /// itself a fact; a bare reply, a log line or a webhook simply never
    /// records one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bounce_report: bool,
}

impl Observation {
    /// An observation holding just a reply text.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// The domain part of the recipient, lower-cased.
    pub fn recipient_domain(&self) -> Option<String> {
        let r = self.recipient.as_deref()?;
        let (_, domain) = r.rsplit_once('@')?;
        let domain = domain.trim_end_matches('>').trim();
        (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
    }
}
