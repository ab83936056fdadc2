//! What each reason means for the sender: who owns the problem and what to
//! do next, by deliverability practice. Kept apart from the decision so the
//! policy can be read (and argued about) in one place.

use rebound_core::{Owner, Reason, Remedy};

/// One plain sentence per reason, for `explain`.
pub(crate) fn meaning(reason: Reason) -> &'static str {
    match reason {
        Reason::Undefined => "nothing says why",
        Reason::UserUnknown => "the mailbox does not exist",
        Reason::HostUnknown => "the recipient domain does not exist or has no mail host",
        Reason::MailboxFull => "the mailbox is over quota",
        Reason::Suspend => "the mailbox is disabled or suspended",
        Reason::HasMoved => "the recipient has moved away",
        Reason::NotAccept => "the domain accepts no mail",
        Reason::Blocked => "the sending IP or host is refused",
        Reason::BadReputation => "the sender's reputation is too low",
        Reason::AuthFailure => "SPF, DKIM or DMARC failed",
        Reason::RequirePtr => "the sending IP lacks valid reverse DNS",
        Reason::FailedStartTls => "TLS is required or failed",
        Reason::SpamDetected => "the message was judged spam",
        Reason::VirusDetected => "the message carries malware",
        Reason::ContentError => "the content or headers were refused",
        Reason::MesgTooBig => "the message is too big",
        Reason::ExceedLimit => "a size or count limit was exceeded",
        Reason::PolicyViolation => "the receiver's policy refused the message",
        Reason::Rejected => "the envelope sender was refused",
        Reason::Filtered => "the recipient's filter refused the message",
        Reason::NoRelaying => "the server refuses to relay for the sender",
        Reason::NotCompliantRfc => "the message breaks the RFCs",
        Reason::Speeding => "too many messages too fast",
        Reason::TooManyConn => "too many connections or recipients at once",
        Reason::SystemError => "the receiving system failed",
        Reason::SystemFull => "the receiving system is out of space",
        Reason::NetworkError => "DNS or network trouble",
        Reason::Expired => "delivery kept failing until the retry time ran out",
        Reason::SyntaxError => "the SMTP dialogue had a syntax error",
        Reason::SecurityError => "a security or policy check refused the message",
        Reason::MailerError => "the local delivery program failed",
        Reason::Suppressed => "the address is on a suppression list",
        Reason::Delivered => "the message was delivered",
        Reason::OnHold => "the failure is real but its cause is not stated",
        Reason::Feedback => "the recipient complained (feedback loop)",
        Reason::Vacation => "an auto-reply",
    }
}

/// Who owns the problem and what to do, for a permanent (or unknown-class)
/// failure. `transient` then bends the remedy: see [`advise`].
fn permanent_advice(reason: Reason, blocklisted: bool) -> (Owner, Remedy) {
    use Owner as O;
    use Reason as R;
    use Remedy as M;
    match reason {
        R::Delivered | R::Vacation => (O::None, M::None),
        // A complaint: keep mailing and the reputation suffers; stop.
        R::Feedback => (O::SenderReputation, M::Suppress),
        R::UserUnknown | R::HostUnknown | R::HasMoved | R::NotAccept | R::Suppressed => {
            (O::Recipient, M::Suppress)
        }
        R::MailboxFull | R::Suspend => (O::Mailbox, M::RetryThenSuppress),
        R::Blocked | R::BadReputation => (O::SenderReputation, M::Investigate),
        R::SpamDetected if blocklisted => (O::SenderReputation, M::Investigate),
        R::SpamDetected | R::VirusDetected | R::ContentError | R::MesgTooBig => {
            (O::Content, M::Investigate)
        }
        R::NotCompliantRfc => (O::Content, M::FixConfig),
        R::ExceedLimit => (O::Content, M::Investigate),
        // SPF, DKIM, DMARC: the sender's DNS and signing setup; resending
        // before it is fixed fails again.
        R::AuthFailure => (O::SenderAuth, M::FixConfig),
        // A security or policy status (x.7.x) with no phrase that names a
        // mechanism: the receiver's policy refused, and nothing says it was
        // authentication (most bare `5.7.1`s are blocks and filters).
        R::SecurityError => (O::Policy, M::Investigate),
        R::RequirePtr | R::FailedStartTls => (O::SenderAuth, M::FixConfig),
        R::NoRelaying | R::SyntaxError => (O::SenderConfig, M::FixConfig),
        R::Speeding | R::TooManyConn => (O::SenderReputation, M::SlowDown),
        R::PolicyViolation | R::Rejected | R::Filtered => (O::Policy, M::Investigate),
        R::NetworkError => (O::Network, M::Retry),
        // The sending MTA already retried for days. One more try on the next
        // send is fair; an address that keeps expiring is as good as dead.
        R::Expired => (O::Network, M::RetryThenSuppress),
        R::SystemError | R::SystemFull | R::MailerError => (O::Remote, M::Retry),
        R::OnHold | R::Undefined => (O::Unknown, M::Investigate),
    }
}

/// Owner and remedy. A temporary failure (`transient`) is never a reason to
/// suppress at once or to wait for a human: the receiver asked to come back
/// later. So the remedy becomes `slow_down` for rate, reputation and block
/// trouble, stays `fix_config` where the sender's own setup is refused
/// (a deferral for missing SPF/DKIM, PTR or TLS repeats until it is fixed),
/// and is `retry` for everything else (a temporarily full mailbox too: a
/// deferral never counts toward suppressing anyone).
pub(crate) fn advise(reason: Reason, transient: bool, blocklisted: bool) -> (Owner, Remedy) {
    let (owner, remedy) = permanent_advice(reason, blocklisted);
    if !transient || matches!(remedy, Remedy::None) {
        return (owner, remedy);
    }
    let remedy = match reason {
        Reason::Speeding | Reason::TooManyConn | Reason::BadReputation | Reason::Blocked => {
            Remedy::SlowDown
        }
        Reason::AuthFailure
        | Reason::RequirePtr
        | Reason::FailedStartTls
        | Reason::NotCompliantRfc => Remedy::FixConfig,
        _ => Remedy::Retry,
    };
    (owner, remedy)
}

/// Sisimai's hard-bounce rule: the address itself is dead. Never for a
/// temporary failure.
pub(crate) fn is_hard(reason: Reason, class: Option<u8>) -> bool {
    match reason {
        Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved => class != Some(4),
        Reason::NotAccept => class == Some(5),
        _ => false,
    }
}
