//! The suppression policy: which events suppress an address, which are
//! recorded against the sender, which are only kept.

use rebound_core::{Owner, Reason, StatusClass};
use rebound_ingest::{Event, Outcome};
use serde::{Deserialize, Serialize};

/// Tunables, read from TOML (`--policy FILE`); every field has a default
/// from deliverability practice.
///
/// ```toml
/// soft_bounce_threshold = 3     # mailbox full/suspended: bounces needed…
/// soft_bounce_min_days = 7.0    # …spread over at least this many days
/// soft_reasons = ["mailboxfull", "suspend"]
/// hard_reasons = ["userunknown", "hostunknown", "hasmoved", "notaccept"]
/// suppress_hard_bounces = true
/// suppress_complaints = true
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Distinct messages that must bounce for a soft reason before the
    /// address is suppressed.
    pub soft_bounce_threshold: u32,
    /// The first and last of those bounces must be at least this far apart.
    pub soft_bounce_min_days: f64,
    /// Reasons that count as "the mailbox exists but cannot take mail".
    pub soft_reasons: Vec<Reason>,
    /// Reasons that kill an address on the first permanent failure even
    /// when the classifier did not set `hardbounce`.
    pub hard_reasons: Vec<Reason>,
    pub suppress_hard_bounces: bool,
    pub suppress_complaints: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            soft_bounce_threshold: 3,
            soft_bounce_min_days: 7.0,
            soft_reasons: vec![Reason::MailboxFull, Reason::Suspend],
            hard_reasons: vec![
                Reason::UserUnknown,
                Reason::HostUnknown,
                Reason::HasMoved,
                Reason::NotAccept,
            ],
            suppress_hard_bounces: true,
            suppress_complaints: true,
        }
    }
}

/// What the policy makes of one event. Stored with the event
/// (`events.policy_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The address is dead: suppress now.
    Hard,
    /// A feedback-loop complaint: suppress now.
    Complaint,
    /// Mailbox full / suspended: counts towards the repeated-bounce rule.
    Soft,
    /// Delivered: resets the soft count.
    Delivered,
    /// Refused because of the sender (reputation, authentication, content,
    /// policy, blocklist, relay): recorded against the sender, never the
    /// recipient.
    SenderIssue,
    /// A temporary failure the sender retries: never suppresses.
    Deferral,
    /// Auto-replies: ignored.
    Ignored,
    /// Anything else: kept, no action.
    Other,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Hard => "hard",
            Class::Complaint => "complaint",
            Class::Soft => "soft",
            Class::Delivered => "delivered",
            Class::SenderIssue => "sender",
            Class::Deferral => "deferral",
            Class::Ignored => "ignored",
            Class::Other => "other",
        }
    }
}

/// Owners on the sender's side.
pub fn is_sender_owner(o: Owner) -> bool {
    matches!(
        o,
        Owner::SenderAuth
            | Owner::SenderReputation
            | Owner::Content
            | Owner::Policy
            | Owner::SenderConfig
    )
}

/// Reasons that are the sender's problem whatever the owner says
/// (used when the classifier leaves the owner unknown).
pub fn is_sender_reason(r: Reason) -> bool {
    matches!(
        r,
        Reason::Blocked
            | Reason::BadReputation
            | Reason::AuthFailure
            | Reason::RequirePtr
            | Reason::FailedStartTls
            | Reason::SpamDetected
            | Reason::VirusDetected
            | Reason::ContentError
            | Reason::PolicyViolation
            | Reason::Rejected
            | Reason::NoRelaying
            | Reason::Speeding
            | Reason::TooManyConn
            | Reason::NotCompliantRfc
            | Reason::MesgTooBig
    )
}

impl Policy {
    /// Reads a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let p: Policy = toml::from_str(text).map_err(|e| e.to_string())?;
        if p.soft_bounce_threshold == 0 {
            return Err("soft_bounce_threshold must be at least 1".into());
        }
        if !p.soft_bounce_min_days.is_finite() || p.soft_bounce_min_days < 0.0 {
            return Err("soft_bounce_min_days must be a non-negative number".into());
        }
        Ok(p)
    }

    /// The minimum spread of the soft bounces, in ms.
    pub fn soft_span_ms(&self) -> i64 {
        (self.soft_bounce_min_days * 86_400_000.0) as i64
    }

    /// Classifies one event for the policy.
    pub fn class(&self, e: &Event) -> Class {
        self.class_of_event(e, &e.verdict)
    }

    /// [`Policy::class`] of an event under a verdict that may not be its
    /// own yet (a verdict judged again). A hard bounce of an address mail
    /// was forwarded to (`evidence.forwarded_to`) is the address sent to's
    /// soft bounce: the forward's target is dead, but the address sent to
    /// may be a list whose other members receive, so it is suppressed
    /// only when its sends keep failing.
    pub fn class_of_event(&self, e: &Event, v: &rebound_core::Verdict) -> Class {
        match self.class_of(e.outcome, v) {
            Class::Hard if e.evidence.forwarded_to.is_some() => Class::Soft,
            c => c,
        }
    }

    /// [`Policy::class`] of an outcome and a verdict held apart (a verdict
    /// judged again, before it replaces the event's).
    pub fn class_of(&self, outcome: Outcome, v: &rebound_core::Verdict) -> Class {
        if outcome == Outcome::AutoReply || v.reason == Reason::Vacation {
            return Class::Ignored;
        }
        if outcome == Outcome::Complained || v.reason == Reason::Feedback {
            return Class::Complaint;
        }
        if outcome == Outcome::Delivered || v.reason == Reason::Delivered {
            return Class::Delivered;
        }
        if outcome == Outcome::Dropped || v.reason == Reason::Suppressed {
            // The ESP did not even try: its own list, nothing new to learn.
            return Class::Other;
        }
        if outcome == Outcome::Deferred {
            return Class::Deferral;
        }
        if is_sender_owner(v.owner)
            || (matches!(v.owner, Owner::Unknown | Owner::Remote) && is_sender_reason(v.reason))
            || v.blocklist.is_some()
        {
            return Class::SenderIssue;
        }
        if self.soft_reasons.contains(&v.reason) {
            return Class::Soft;
        }
        let transient = v.permanent == Some(false)
            || v.deliverystatus
                .is_some_and(|s| s.class() == StatusClass::Transient)
            || v.replycode
                .is_some_and(|c| c.class() == StatusClass::Transient);
        if transient {
            return Class::Deferral;
        }
        if matches!(outcome, Outcome::Bounced)
            && (v.hardbounce || self.hard_reasons.contains(&v.reason))
        {
            return Class::Hard;
        }
        Class::Other
    }
}
