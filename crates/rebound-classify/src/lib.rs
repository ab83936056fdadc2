//! The SMTP reply classifier: turns an [`Observation`] (a reply text plus
//! whatever the input knew) into a [`Verdict`].
//!
//! PLACEHOLDER API, to be filled by the classifier work (issue 2): the
//! signatures below are what the other crates call.

pub mod reply;

use rebound_core::{Observation, Owner, Reason, Remedy, Verdict};

/// A compiled set of rules. Build once, share everywhere (it is `Sync`).
pub struct Classifier {}

impl Classifier {
    /// The built-in rules, compiled on first use.
    pub fn builtin() -> &'static Classifier {
        static BUILTIN: std::sync::OnceLock<Classifier> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| Classifier {})
    }

    /// Judge one observation.
    pub fn classify(&self, obs: &Observation) -> Verdict {
        let parsed = reply::parse(&obs.text);
        Verdict {
            replycode: obs.replycode.or(parsed.replycode),
            deliverystatus: obs.status.or(parsed.status),
            smtpcommand: obs.smtpcommand.clone().unwrap_or_default(),
            rhost: obs.rhost.clone().unwrap_or_default(),
            reason: obs.reason_hint.unwrap_or(Reason::Undefined),
            hardbounce: false,
            permanent: None,
            owner: Owner::Unknown,
            remedy: Remedy::Investigate,
            provider: None,
            blocklist: None,
            pattern: String::new(),
            explain: String::new(),
        }
    }

    /// Judge a bare reply text.
    pub fn classify_text(&self, text: &str) -> Verdict {
        self.classify(&Observation::from_text(text))
    }
}
