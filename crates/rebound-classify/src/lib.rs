//! The SMTP reply classifier: turns an [`Observation`] (a reply text plus
//! whatever the input knew) into a [`Verdict`]: Sisimai's reason, hard or
//! soft, who owns the problem, what to do, the provider, the blocklist, a
//! grouping pattern, and one sentence saying which rule decided.
//!
//! This crate owns two things: the reply parser ([`reply`]) and the
//! classification knowledge, which lives as data in the TOML files under
//! `rules/` (phrases per reason, provider conventions, blocklists, the status
//! table), embedded at build time and compiled once into one Aho-Corasick
//! automaton. Users add their own file ([`Classifier::from_user_file`]),
//! which takes precedence over the built-in rules.
//!
//! # How a reason is decided
//!
//! Facts first: the observation's own fields (reply code, status, command,
//! host) outrank what [`reply::parse`] finds in the text. Then, in order, the
//! first step that applies decides:
//!
//! 1. A `feedback`, `vacation` or `delivered` hint: the input's format says
//!    so (an ARF report, an auto-reply, a success DSN) and no text changes it.
//! 2. A 2xx class: delivered.
//! 3. A rule from a user file.
//! 4. A rule of the provider the reply comes from (recognised by a text
//!    marker, the remote host or, when that names no provider, the
//!    reporting host, or the recipient's domain). Providers'
//!    conventions beat generic phrases and status codes: Vade's
//!    `OXSUS001_403` under `5.7.1` means the mailbox does not exist. A rule
//!    marked `from_host` holds only when a host (not a text marker or the
//!    recipient's domain) names the provider: its own server said it.
//! 5. Specific reasons, in a fixed priority ([`PRIMARY_ORDER`]): each fires
//!    when a generic phrase rule of it matches, or when the status table
//!    says the enhanced status alone decides it (`5.1.1` → userunknown,
//!    `5.2.2` → mailboxfull) and no phrase of a reason listed in the entry's
//!    `unless` contradicts it. A named blocklist counts as a `blocked` phrase.
//!    Under an `expired` hint (`Action: delayed`), `blocked` is skipped
//!    here: a refusal reported while the MTA still retries is the last
//!    attempt's error.
//! 6. Other phrase rules ([`SECONDARY_ORDER`]).
//! 7. Any other hint (`expired`, `onhold`, …): a hint only says what the
//!    input's format implies, so a specific text or status beats it, as in
//!    Sisimai.
//! 8. The status table's weaker entries (`5.7.1`, `5.2.1`, `4.4.7`…).
//! 9. Fallbacks: `x.6.x` → contenterror, `x.7.x` → securityerror, an
//!    `X-Unix`/`X-Postfix` diagnostic → mailererror, `500`–`504` →
//!    syntaxerror, a refusal at connection or greeting → blocked, any other
//!    failure (a failure code, or `Action: failed`) → onhold, nothing that
//!    says a failure → undefined.
//!
//! Like Sisimai, a "user unknown" phrase that did not answer `RCPT` (said
//! after `DATA`, or with no command known) is how filters disguise a
//! refusal, and the reason is `filtered`; so is one with `x.2.1` ("mailbox
//! disabled") that did not answer `RCPT`. It stays `userunknown` when the
//! status names a bad mailbox (`x.1.1`) or the words are a reporting
//! system's own directory lookup (Domino, Exchange, IMail: rules in
//! `decode-*.toml`).
//!
//! Generic `x.0.0` statuses never decide anything.

pub mod reply;

mod advice;
mod lint;
mod pattern;
mod rules;
mod scanner;

pub use lint::{Finding, lint};
pub use rules::RuleError;

use rebound_core::{Blocklist, EnhancedStatus, Observation, Reason, Verdict};
use rules::{Facts, RuleSet, Source, Target, Tier};
use std::cell::RefCell;
use std::path::Path;

/// Reasons tried first, in this order, by phrase or by deciding status.
pub const PRIMARY_ORDER: &[Reason] = &[
    Reason::MailboxFull,
    Reason::MesgTooBig,
    Reason::ExceedLimit,
    Reason::Suspend,
    Reason::HasMoved,
    Reason::NoRelaying,
    Reason::AuthFailure,
    Reason::UserUnknown,
    Reason::Filtered,
    Reason::RequirePtr,
    Reason::NotCompliantRfc,
    Reason::BadReputation,
    Reason::Rejected,
    Reason::HostUnknown,
    Reason::SpamDetected,
    Reason::Speeding,
    Reason::TooManyConn,
    Reason::Blocked,
];

/// Reasons tried next, by phrase only.
pub const SECONDARY_ORDER: &[Reason] = &[
    Reason::VirusDetected,
    Reason::PolicyViolation,
    Reason::SystemError,
    Reason::NetworkError,
    Reason::ContentError,
    Reason::SystemFull,
    Reason::NotAccept,
    Reason::Expired,
    Reason::FailedStartTls,
    Reason::SecurityError,
    Reason::Suppressed,
    Reason::MailerError,
    Reason::SyntaxError,
    Reason::OnHold,
    Reason::Delivered,
    Reason::Feedback,
    Reason::Vacation,
    Reason::Undefined,
];

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// A compiled set of rules. Build once, share everywhere (it is `Sync`).
pub struct Classifier {
    rules: RuleSet,
    /// See [`Classifier::id`].
    id: String,
    /// The user files this classifier was built with: (name, rules, status
    /// entries).
    user_files: Vec<UserFileInfo>,
}

/// A classifier to hand around: the built-in one (built once per process)
/// or one built from user files, shared. Cheap to clone; dereferences to
/// the [`Classifier`]. What readers and servers hold, so that every path
/// that judges (classify, decode, ingest, reclassify) can take user rules.
#[derive(Clone, Default)]
pub enum SharedClassifier {
    #[default]
    Builtin,
    Loaded(std::sync::Arc<Classifier>),
}

impl std::ops::Deref for SharedClassifier {
    type Target = Classifier;
    fn deref(&self) -> &Classifier {
        match self {
            SharedClassifier::Builtin => Classifier::builtin(),
            SharedClassifier::Loaded(c) => c,
        }
    }
}

impl std::fmt::Debug for SharedClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedClassifier({})", self.id())
    }
}

/// A rule that holds for a reply ([`Classifier::matching_rules`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleMatch {
    pub id: String,
    pub reason: Reason,
    /// `user`, `provider` or `generic`.
    pub tier: &'static str,
    pub provider: Option<String>,
    /// The first of its phrases found in the reply.
    pub phrase: Option<String>,
    /// It decided the verdict.
    pub won: bool,
}

/// A user rule file as loaded: what `rebound rules list` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserFileInfo {
    pub name: String,
    pub rules: usize,
    pub statuses: usize,
}

/// FNV-1a over length-prefixed parts: the rules id must be the same on
/// every machine and in every release of the same rules (a keyed hash
/// would not be), and it is no defence against anyone, only a name.
fn rules_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in (p.len() as u64).to_le_bytes().iter().chain(p.as_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The id of the built-in rules: this crate's version (the code that reads
/// the rules) and every built-in file's name and text.
pub fn builtin_rules_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut parts = vec![env!("CARGO_PKG_VERSION")];
        for (name, text) in BUILTIN_RULES {
            parts.push(name);
            parts.push(text);
        }
        format!("{:016x}", rules_hash(&parts))
    })
}

/// The built-in rule files: (path under `rules/`, number of rules).
pub fn builtin_files() -> Vec<(&'static str, usize)> {
    BUILTIN_RULES
        .iter()
        .map(|(name, text)| (*name, rules::count_rules(text)))
        .collect()
}

/// An [`Observation`]'s fields, borrowed: what [`Classifier::classify_ref`]
/// reads, so that callers holding the fields elsewhere (a decoder's record
/// in the making) need not copy them into an `Observation` first.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObservationRef<'a> {
    pub text: &'a str,
    pub replycode: Option<rebound_core::ReplyCode>,
    pub status: Option<EnhancedStatus>,
    pub smtpcommand: Option<&'a str>,
    pub rhost: Option<&'a str>,
    pub lhost: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub action: Option<&'a str>,
    pub reason_hint: Option<Reason>,
    /// See [`Observation::bounce_report`]: rules then see a missing
    /// command as `?` instead of `-`.
    pub bounce_report: bool,
}

impl<'a> From<&'a Observation> for ObservationRef<'a> {
    fn from(obs: &'a Observation) -> Self {
        ObservationRef {
            text: &obs.text,
            replycode: obs.replycode,
            status: obs.status,
            smtpcommand: obs.smtpcommand.as_deref(),
            rhost: obs.rhost.as_deref(),
            lhost: obs.lhost.as_deref(),
            recipient: obs.recipient.as_deref(),
            action: obs.action.as_deref(),
            reason_hint: obs.reason_hint,
            bounce_report: obs.bounce_report,
        }
    }
}

/// Per-thread buffers, so that classifying allocates nothing but the
/// verdict's own strings.
#[derive(Default)]
struct Scratch {
    hits: Vec<u32>,
    candidates: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// What decided, for `explain`.
/// Why a delay notice with no stated cause is `onhold`: the outcome is
/// pending, so neither `expired` nor a guessed cause would be true.
const DELAYED_WITHOUT_CAUSE: &str =
    "a delay notice: the MTA is still retrying and states no cause, so the outcome is pending";

enum Decider<'a> {
    Hint(Reason),
    Success,
    Rule {
        rule: &'a rules::Rule,
        phrase: Option<&'a str>,
    },
    Status {
        status: EnhancedStatus,
        reason: Reason,
        explain: Option<&'a str>,
    },
    Blocklist(Reason),
    Fallback(Reason, &'static str),
}

impl Decider<'_> {
    fn reason(&self) -> Reason {
        match self {
            Decider::Hint(r) | Decider::Blocklist(r) | Decider::Fallback(r, _) => *r,
            Decider::Success => Reason::Delivered,
            Decider::Rule { rule, .. } => rule.reason,
            Decider::Status { reason, .. } => *reason,
        }
    }
}

impl Classifier {
    /// The built-in rules, compiled on first use.
    pub fn builtin() -> &'static Classifier {
        static BUILTIN: std::sync::OnceLock<Classifier> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| {
            Self::with_rules(&[]).expect("built-in rules compile (checked by the crate's tests)")
        })
    }

    /// The built-in rules plus user rule files given as `(name, toml text)`;
    /// the user's rules and status entries take precedence.
    pub fn with_rules(user_files: &[(&str, &str)]) -> Result<Classifier, RuleError> {
        let mut sources: Vec<Source<'_>> = user_files
            .iter()
            .map(|(name, text)| Source {
                name,
                text,
                tier: Tier::User,
            })
            .collect();
        sources.extend(BUILTIN_RULES.iter().map(|(name, text)| Source {
            name,
            text,
            tier: if name.starts_with("providers/") {
                Tier::Provider
            } else {
                Tier::Generic
            },
        }));
        let rules = RuleSet::compile(&sources)?;
        Ok(Classifier {
            id: rules_id(user_files),
            user_files: user_files
                .iter()
                .map(|(name, text)| {
                    let counted = rules::count_rules_and_statuses(text);
                    UserFileInfo {
                        name: name.to_string(),
                        rules: counted.0,
                        statuses: counted.1,
                    }
                })
                .collect(),
            rules,
        })
    }

    /// The id of these rules: the built-in rules' id alone, or followed by
    /// `+` and a hash of the user files' texts (in order; their names are
    /// left out, so moving a file does not make its verdicts stale).
    /// Computed once, when the rules are built; stored with every event.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The user rule files loaded, in precedence order.
    pub fn user_files(&self) -> &[UserFileInfo] {
        &self.user_files
    }

    /// Number of compiled rules (built-in and user).
    pub fn rule_count(&self) -> usize {
        self.rules.rules.len()
    }

    /// The built-in rules plus one user rule file.
    pub fn from_user_file(path: impl AsRef<Path>) -> Result<Classifier, RuleError> {
        let path = path.as_ref();
        let text = rules::read_user_file(path)?;
        let name = path.display().to_string();
        Self::with_rules(&[(&name, &text)])
    }

    /// The built-in rules plus user rule files, in precedence order (the
    /// first file's rules win over the second's).
    pub fn from_user_files(paths: &[impl AsRef<Path>]) -> Result<Classifier, RuleError> {
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref();
            files.push((p.display().to_string(), rules::read_user_file(p)?));
        }
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Self::with_rules(&borrowed)
    }

    /// Judge a bare reply text.
    pub fn classify_text(&self, text: &str) -> Verdict {
        self.classify_ref(&ObservationRef {
            text,
            ..ObservationRef::default()
        })
    }

    /// Judge one observation.
    pub fn classify(&self, obs: &Observation) -> Verdict {
        self.classify_ref(&ObservationRef::from(obs))
    }

    /// [`Classifier::classify`] on borrowed fields.
    pub fn classify_ref(&self, input: &ObservationRef<'_>) -> Verdict {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut scratch) => self.classify_with(input, &mut scratch, None),
            // Only reachable through re-entrancy; stay correct regardless.
            Err(_) => self.classify_with(input, &mut Scratch::default(), None),
        })
    }

    /// Every rule that holds for the input, in the order the decision
    /// tries them (user rules, then the provider's, then generic ones by
    /// reason priority, each by order of definition), with the verdict; the
    /// rule that decided, if a rule did, is marked `won`. For `rebound rules
    /// explain`.
    pub fn matching_rules(&self, input: &ObservationRef<'_>) -> (Verdict, Vec<RuleMatch>) {
        let mut holding = Vec::new();
        let verdict = self.classify_with(input, &mut Scratch::default(), Some(&mut holding));
        let rs = &self.rules;
        let rank = |r: &rules::Rule| {
            let reason_rank = PRIMARY_ORDER
                .iter()
                .chain(SECONDARY_ORDER)
                .position(|x| *x == r.reason)
                .unwrap_or(usize::MAX);
            match r.tier {
                Tier::Generic => (r.tier, reason_rank, r.order),
                _ => (r.tier, 0, r.order),
            }
        };
        holding.sort_by_key(|&i| rank(&rs.rules[i as usize]));
        holding.dedup();
        let hits = {
            let mut hits = Vec::new();
            rs.scan(reply::capped(input.text), |pid, _, _| hits.push(pid));
            hits.sort_unstable();
            hits.dedup();
            hits
        };
        let winner = verdict
            .explain
            .strip_prefix("rule ")
            .and_then(|r| r.split(':').next());
        let mut won_seen = false;
        let matches = holding
            .iter()
            .map(|&i| {
                let r = &rs.rules[i as usize];
                let won = !won_seen && winner == Some(r.id.as_str());
                won_seen |= won;
                RuleMatch {
                    id: r.id.clone(),
                    reason: r.reason,
                    tier: match r.tier {
                        Tier::User => "user",
                        Tier::Provider => "provider",
                        Tier::Generic => "generic",
                    },
                    provider: r.provider.map(|p| rs.providers[p].name.clone()),
                    phrase: first_phrase(rs, r, &hits).map(str::to_string),
                    won,
                }
            })
            .collect();
        (verdict, matches)
    }

    fn classify_with(
        &self,
        obs: &ObservationRef<'_>,
        scratch: &mut Scratch,
        mut holding: Option<&mut Vec<u32>>,
    ) -> Verdict {
        let rs = &self.rules;
        let text = reply::capped(obs.text);
        let parsed = reply::parse_except_command(text);

        let replycode = obs.replycode.or(parsed.replycode);
        // The most specific evidence wins: a catch-all status stated by the
        // transport (an ESP's `5.0.0` over the receiver's `550 5.1.1 ...`)
        // yields to a specific status of the same class quoted in the text.
        let status = match (obs.status, parsed.status) {
            (Some(stated), Some(quoted))
                if stated.is_generic()
                    && !quoted.is_generic()
                    && stated.class_digit() == quoted.class_digit() =>
            {
                Some(quoted)
            }
            (stated, quoted) => stated.or(quoted),
        };
        let rhost = obs
            .rhost
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_ascii_lowercase)
            .or(parsed.rhost);
        // The class that decides permanence: a separately stated status (a
        // DSN's `Status:` field) is the reporting MTA's own judgement; else
        // the reply code, which is what the SMTP client acted on.
        let class = obs
            .status
            .map(EnhancedStatus::class_digit)
            .or(replycode.map(|r| (r.get() / 100) as u8))
            .or(status.map(EnhancedStatus::class_digit));

        // One pass of the automaton over the text (ASCII case ignored).
        scratch.hits.clear();
        // The leftmost (then longest) command marker names the command, as
        // `reply::smtp_command` reads it.
        let mut command_marker: Option<(usize, usize, u32)> = None;
        rs.scan(text, |pid, start, end| {
            scratch.hits.push(pid);
            for t in &rs.targets[pid as usize] {
                if let Target::Command(c) = *t
                    && reply::ends_a_word(text, end)
                {
                    let key = (start, usize::MAX - (end - start), c);
                    if command_marker.is_none_or(|best| key < best) {
                        command_marker = Some(key);
                    }
                }
            }
        });
        let command = obs
            .smtpcommand
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_ascii_uppercase)
            .or_else(|| {
                command_marker
                    .map(|(_, _, c)| reply::command_markers_table()[c as usize].1.to_string())
            });
        scratch.hits.sort_unstable();
        scratch.hits.dedup();
        let hits = &scratch.hits;

        // Provider: text marker first (most specific), then host, then the
        // recipient's domain.
        let mut provider: Option<usize> = None;
        let mut blocklist: Option<(u32, u32, rebound_core::Listed, bool)> = None;
        scratch.candidates.clear();
        for &pid in hits {
            for t in &rs.targets[pid as usize] {
                match *t {
                    Target::Rule(r) => scratch.candidates.push(r),
                    Target::ProviderMarker(p) => {
                        provider.get_or_insert(p as usize);
                    }
                    Target::Command(_) => {}
                    Target::Blocklist {
                        list,
                        listed,
                        is_zone,
                    } => {
                        // A zone beats an operator's bare name.
                        let better = match blocklist {
                            None => true,
                            Some((_, _, _, was_zone)) => is_zone && !was_zone,
                        };
                        if better {
                            blocklist = Some((list, pid, listed, is_zone));
                        }
                    }
                }
            }
        }
        // Looked up only when needed: no marker named the provider, or a
        // provider rule asks whether it applies.
        let host_provider_cell = std::cell::OnceCell::new();
        // When the remote host names no provider, the reporting host
        // stands in: a provider's own relay reporting a failure speaks the
        // provider's conventions (AOL's bouncer names no remote host; a
        // MessageLabs gateway reports what its customer's server said).
        let host_provider = || {
            *host_provider_cell.get_or_init(|| {
                rhost
                    .as_deref()
                    .and_then(|h| rs.provider_of_host(h))
                    .or_else(|| {
                        obs.lhost
                            .map(str::trim)
                            .filter(|h| !h.is_empty())
                            .and_then(|h| rs.provider_of_host(&h.to_ascii_lowercase()))
                    })
            })
        };
        let domain = obs
            .recipient
            .and_then(|r| r.rsplit_once('@'))
            .map(|(_, d)| d.trim_end_matches('>').trim())
            .filter(|d| !d.is_empty());
        let domain_provider = domain.and_then(|d| rs.provider_of_domain(&d.to_ascii_lowercase()));
        let marker_provider = provider;
        let provider = provider.or_else(host_provider).or(domain_provider);
        let provider_applies = |p: usize| {
            Some(p) == provider || Some(p) == domain_provider || Some(p) == host_provider()
        };

        scratch.candidates.extend_from_slice(&rs.unanchored);
        scratch.candidates.sort_unstable();
        scratch.candidates.dedup();

        let action = obs
            .action
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_ascii_lowercase);
        let facts = Facts {
            command: command.as_deref(),
            status,
            replycode,
            class,
            action: action.as_deref(),
            text,
            bounce_report: obs.bounce_report,
        };

        // The best holding rule of each tier, and of each reason for the
        // generic tier.
        let mut best_user: Option<&rules::Rule> = None;
        let mut best_provider: Option<&rules::Rule> = None;
        let mut generic_by_reason: [Option<&rules::Rule>; Reason::ALL.len()] =
            [None; Reason::ALL.len()];
        for &ri in &scratch.candidates {
            let rule = &rs.rules[ri as usize];
            if rule.provider.is_some_and(|p| !provider_applies(p)) {
                continue;
            }
            // A convention of the provider's own servers: a relay quoting
            // the same words (recognised by a marker) does not count.
            if rule.from_host && rule.provider != host_provider() {
                continue;
            }
            if let Some(h) = holding.as_deref_mut()
                && rule.holds(hits, &facts)
            {
                h.push(ri);
            }
            let slot = match rule.tier {
                Tier::User => &mut best_user,
                Tier::Provider => &mut best_provider,
                Tier::Generic => &mut generic_by_reason[rule.reason as usize],
            };
            if slot.is_some_and(|b| b.order < rule.order) {
                continue;
            }
            if rule.holds(hits, &facts) {
                *slot = Some(rule);
            }
        }
        let text_says = |r: Reason| {
            generic_by_reason[r as usize].is_some() || (r == Reason::Blocked && blocklist.is_some())
        };

        let status_entry = status
            .filter(|s| !s.is_generic())
            .and_then(|s| rs.status_entry(s).map(|e| (s, e)));
        // A delay notice (`Action: delayed`) comes from an MTA that is still
        // retrying: nothing has expired, whatever a decoder guessed. Its
        // reason is the cause the text gives, if any.
        let delayed = obs
            .action
            .is_some_and(|a| a.trim().eq_ignore_ascii_case("delayed"));
        let hint = obs
            .reason_hint
            .filter(|h| !(delayed && *h == Reason::Expired));

        let decider = 'decide: {
            if let Some(h @ (Reason::Feedback | Reason::Vacation | Reason::Delivered)) = hint {
                break 'decide Decider::Hint(h);
            }
            if class == Some(2) {
                break 'decide Decider::Success;
            }
            if let Some(rule) = best_user.or(best_provider) {
                break 'decide Decider::Rule {
                    rule,
                    phrase: first_phrase(rs, rule, hits),
                };
            }
            if let Some((s, e)) = status_entry
                && e.tier == Tier::User
            {
                break 'decide Decider::Status {
                    status: s,
                    reason: e.reason,
                    explain: e.explain.as_deref(),
                };
            }
            for &r in PRIMARY_ORDER {
                // A message the MTA gave up on (`expired`) after a refused
                // connection or a block: the block is only the last
                // attempt's error, the loss is the expiry (as in Sisimai).
                // Other specific reasons still decide.
                if r == Reason::Blocked && hint == Some(Reason::Expired) {
                    continue;
                }
                if let Some(rule) = generic_by_reason[r as usize] {
                    break 'decide Decider::Rule {
                        rule,
                        phrase: first_phrase(rs, rule, hits),
                    };
                }
                if let Some((s, e)) = status_entry
                    && e.decides
                    && e.reason == r
                    && !e.unless.iter().any(|u| text_says(*u))
                {
                    break 'decide Decider::Status {
                        status: s,
                        reason: r,
                        explain: e.explain.as_deref(),
                    };
                }
                if r == Reason::Blocked && blocklist.is_some() {
                    break 'decide Decider::Blocklist(r);
                }
            }
            for &r in SECONDARY_ORDER {
                if let Some(rule) = generic_by_reason[r as usize] {
                    break 'decide Decider::Rule {
                        rule,
                        phrase: first_phrase(rs, rule, hits),
                    };
                }
            }
            if let Some(h) = hint.filter(|h| *h != Reason::Undefined) {
                break 'decide Decider::Hint(h);
            }
            if matches!(
                parsed.diagnostic_type.as_deref(),
                Some("x-unix" | "x-postfix")
            ) {
                break 'decide Decider::Fallback(
                    Reason::MailerError,
                    "an X-Unix/X-Postfix diagnostic is a local delivery program's error",
                );
            }
            if let Some((s, e)) = status_entry {
                break 'decide Decider::Status {
                    status: s,
                    reason: e.reason,
                    explain: e.explain.as_deref(),
                };
            }
            fallback(status, replycode, command.as_deref(), obs)
        };
        // "Delivery time expired" (x.4.7) in a delay notice is the warning
        // timer, not the queue lifetime: the message is still queued.
        let decider = if delayed && decider.reason() == Reason::Expired {
            Decider::Fallback(Reason::OnHold, DELAYED_WITHOUT_CAUSE)
        } else {
            decider
        };

        // The provider a verdict is counted under: the one whose server
        // answered (the remote or reporting host) or that hosts the
        // recipient's domain. A word in the text only recognises which
        // conventions apply: "comcast" in a reply from another network does
        // not make its failures Comcast's, and deliveries to the same domain
        // (whose "250 ok" names nobody) must be counted alike. With no
        // recipient known (a bare reply), a marker is all there is.
        let reported_provider = host_provider()
            .or(domain_provider)
            .or(marker_provider.filter(|_| domain.is_none()));
        let reason = decider.reason();
        // With no code at all, a delay notice's action is what says the
        // failure is temporary.
        let transient = class == Some(4) || (class.is_none() && delayed);
        let permanent = match class {
            Some(5) => Some(true),
            Some(4) => Some(false),
            Some(_) => None,
            None => match obs.action.map(str::trim) {
                Some(a) if a.eq_ignore_ascii_case("failed") => Some(true),
                Some(a) if a.eq_ignore_ascii_case("delayed") => Some(false),
                _ => None,
            },
        };
        let hard_class = status.map(EnhancedStatus::class_digit).or(class);
        let (hardbounce, owner, remedy) =
            consequences(reason, transient, hard_class, blocklist.is_some());

        let blocklist = blocklist.map(|(list, pid, listed, is_zone)| Blocklist {
            name: rs.blocklists[list as usize].name.clone(),
            zone: if is_zone {
                rs.patterns[pid as usize].clone()
            } else {
                String::new()
            },
            listed,
        });

        // What the status alone would have meant, to say when a rule
        // overrode it.
        let status_meaning = status_entry.map(|(_, e)| e.reason).or(match status {
            Some(s) if s.class_digit() != 2 && s.subject() == 7 => Some(Reason::SecurityError),
            Some(s) if s.class_digit() != 2 && s.subject() == 6 => Some(Reason::ContentError),
            _ => None,
        });
        let explain = explain(&decider, status, status_meaning);
        Verdict {
            replycode,
            deliverystatus: status,
            smtpcommand: command.unwrap_or_default(),
            rhost: rhost.unwrap_or_default(),
            reason,
            hardbounce,
            permanent,
            owner,
            remedy,
            provider: reported_provider.map(|p| rs.providers[p].name.clone()),
            blocklist,
            pattern: pattern::pattern(replycode, status, &parsed.text),
            explain,
        }
    }
}

/// See [`Classifier::id`].
fn rules_id(user_files: &[(&str, &str)]) -> String {
    if user_files.is_empty() {
        return builtin_rules_id().to_string();
    }
    let texts: Vec<&str> = user_files.iter().map(|(_, t)| *t).collect();
    format!("{}+{:016x}", builtin_rules_id(), rules_hash(&texts))
}

/// Hard bounce, owner and remedy from a reason, whether the failure was
/// temporary, and the class of the status (or reply code): the one place
/// that derives them, for [`Classifier::classify`] and [`settle`].
fn consequences(
    reason: Reason,
    transient: bool,
    hard_class: Option<u8>,
    blocklisted: bool,
) -> (bool, rebound_core::Owner, rebound_core::Remedy) {
    let (owner, remedy) = advice::advise(reason, transient, blocklisted);
    let hardbounce = !transient && advice::is_hard(reason, hard_class);
    (hardbounce, owner, remedy)
}

/// Re-derive `hardbounce`, `owner` and `remedy` after the caller completed
/// a verdict's status, as a decoder does when it writes a stand-in
/// `x.0.9xx` status for a bounce that stated none (Sisimai's hard-bounce
/// rule for `notaccept` looks at the status class). The failure counts as
/// temporary when the verdict says it is not permanent.
pub fn settle(verdict: &mut Verdict) {
    let transient = verdict.permanent == Some(false);
    let hard_class = verdict
        .deliverystatus
        .map(EnhancedStatus::class_digit)
        .or(verdict.replycode.map(|r| (r.get() / 100) as u8));
    let (hardbounce, owner, remedy) = consequences(
        verdict.reason,
        transient,
        hard_class,
        verdict.blocklist.is_some(),
    );
    verdict.hardbounce = hardbounce;
    verdict.owner = owner;
    verdict.remedy = remedy;
}

/// The first of the rule's own phrases found in the text, for `explain`.
fn first_phrase<'a>(rs: &'a RuleSet, rule: &rules::Rule, hits: &[u32]) -> Option<&'a str> {
    hits.iter()
        .find(|&&pid| {
            rs.targets[pid as usize]
                .iter()
                .any(|t| matches!(t, Target::Rule(r) if std::ptr::eq(&rs.rules[*r as usize], rule)))
        })
        .map(|&pid| rs.patterns[pid as usize].as_str())
}

/// Step 9 of the decision: what is left when no rule and no table entry
/// spoke.
fn fallback<'a>(
    status: Option<EnhancedStatus>,
    replycode: Option<rebound_core::ReplyCode>,
    command: Option<&str>,
    obs: &ObservationRef<'_>,
) -> Decider<'a> {
    if let Some(s) = status.filter(|s| s.class_digit() != 2) {
        match s.subject() {
            6 => {
                return Decider::Fallback(
                    Reason::ContentError,
                    "status x.6.x (media error) and no phrase says more",
                );
            }
            7 => {
                return Decider::Fallback(
                    Reason::SecurityError,
                    "status x.7.x (security or policy status) and no phrase says more",
                );
            }
            _ => {}
        }
    }
    if replycode.is_some_and(|r| (500..=504).contains(&r.get())) {
        return Decider::Fallback(
            Reason::SyntaxError,
            "reply code 500-504 means the server did not understand the command",
        );
    }
    if obs
        .action
        .is_some_and(|a| a.trim().eq_ignore_ascii_case("delayed"))
    {
        return Decider::Fallback(Reason::OnHold, DELAYED_WITHOUT_CAUSE);
    }
    if matches!(command, Some("CONN" | "HELO" | "EHLO")) {
        return Decider::Fallback(
            Reason::Blocked,
            "refused at connection or greeting, before any address was given",
        );
    }
    // A failure code, or the input's own `Action: failed`, proves something
    // failed; text alone (garbage, an unknown language) proves nothing.
    let failed = status.is_some_and(|s| s.class_digit() != 2)
        || replycode.is_some_and(|r| r.get() >= 400)
        || (!obs.text.trim().is_empty()
            && obs
                .action
                .is_some_and(|a| a.trim().eq_ignore_ascii_case("failed")));
    if failed {
        Decider::Fallback(Reason::OnHold, "a failure whose cause no rule recognises")
    } else {
        Decider::Fallback(Reason::Undefined, "the input holds no usable reply")
    }
}

fn explain(
    decider: &Decider<'_>,
    status: Option<EnhancedStatus>,
    status_reason: Option<Reason>,
) -> String {
    // Built with push_str into one pre-sized buffer: `format!` here was a
    // sixth of the classification time.
    let reason = decider.reason();
    let mut out = String::with_capacity(192);
    match decider {
        Decider::Rule { rule, phrase } => {
            out.push_str("rule ");
            out.push_str(&rule.id);
            out.push_str(": ");
            match (&rule.explain, phrase) {
                (Some(e), _) => out.push_str(e),
                (None, Some(p)) => {
                    out.push('"');
                    out.push_str(p);
                    out.push_str("\" means ");
                    out.push_str(advice::meaning(reason));
                }
                (None, None) => out.push_str(advice::meaning(reason)),
            }
            if let (Some(s), Some(sr)) = (status, status_reason)
                && sr != reason
            {
                out.push_str(", overriding ");
                pattern::push_status(&mut out, s);
            }
            out
        }
        Decider::Status {
            status, explain, ..
        } => {
            out.push_str("status ");
            pattern::push_status(&mut out, *status);
            out.push_str(": ");
            out.push_str(explain.unwrap_or(advice::meaning(reason)));
            out
        }
        Decider::Hint(r) => format!(
            "hint {r}: the input's format says {}; nothing in the text says otherwise",
            advice::meaning(*r)
        ),
        Decider::Success => "class 2: the server accepted the message".to_string(),
        Decider::Blocklist(_) => format!(
            "blocklist: the reply names a DNS blocklist, so {}",
            advice::meaning(reason)
        ),
        Decider::Fallback(_, why) => format!("fallback {reason}: {why}"),
    }
}
