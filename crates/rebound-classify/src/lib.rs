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
//!    so (an ARF report, an auto-reply, a success DSN) and no text changes it,
//!    except a rule written for such inputs (`hints`: an auto-reply saying
//!    the address itself is retired, `rules/autoreplies.toml`).
//! 2. A 2xx class: delivered.
//! 3. A rule from a user file.
//! 4. A rule of the provider the reply comes from (recognised by a text
//!    marker, the remote host or, when that names no provider, the
//!    reporting host, or the recipient's domain). Providers'
//!    conventions beat generic phrases and status codes: Vade's
//!    `OXSUS001_403` under `5.7.1` means the mailbox does not exist. A rule
//!    marked `from_host` holds only when a host (not a text marker or the
//!    recipient's domain) names the provider: its own server said it.
//! 5. Specific reasons, in a fixed priority (`primary` in
//!    `rules/order.toml`, [`Classifier::reason_order`]): each fires
//!    when a generic phrase rule of it matches, or when the status table
//!    says the enhanced status alone decides it (`5.1.1` → userunknown,
//!    `5.2.2` → mailboxfull) and no phrase of a reason listed in the entry's
//!    `unless` contradicts it. A named blocklist counts as a `blocked` phrase.
//!    Under an `expired` hint (`Action: delayed`), `blocked` is skipped
//!    here: a refusal reported while the MTA still retries is the last
//!    attempt's error.
//! 6. Other phrase rules (`secondary` in `rules/order.toml`).
//! 7. Any other hint (`expired`, `onhold`, …): a hint only says what the
//!    input's format implies, so a specific text or status beats it, as in
//!    Sisimai. An `onhold` hint (no cause stated) also yields to step 8's
//!    weaker status entries, which do state one.
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

pub use advice::{Advice, HardBounce, RuleAdvice};
pub use lint::{Finding, lint};
pub use rules::RuleError;

use rebound_core::{Blocklist, EnhancedStatus, Observation, Owner, Reason, Remedy, Verdict};
use rules::{Facts, RuleSet, Target, Tier};
use std::cell::RefCell;
use std::path::Path;

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
        for (name, text) in rules::BUILTIN_RULES {
            parts.push(name);
            parts.push(text);
        }
        format!("{:016x}", rules_hash(&parts))
    })
}

/// The built-in rule files: (path under `rules/`, number of rules).
pub fn builtin_files() -> Vec<(&'static str, usize)> {
    rules::BUILTIN_RULES
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

/// Why a delay notice with no stated cause is `onhold`: the outcome is
/// pending, so neither `expired` nor a guessed cause would be true.
const DELAYED_WITHOUT_CAUSE: &str =
    "a delay notice: the MTA is still retrying and states no cause, so the outcome is pending";

/// What decided, for `explain`.
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
        let rules = rules::compile_with_builtins(user_files)?;
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

    /// What `reason` means for the sender under these rules: the
    /// `[advice.<reason>]` table of `rules/advice.toml`, with the user
    /// files' fields over it.
    pub fn advice(&self, reason: Reason) -> &Advice {
        self.rules.advice(reason)
    }

    /// The order in which the decision tries reasons by generic phrase
    /// (and, the first list, by deciding status): `rules/order.toml`.
    pub fn reason_order(&self) -> (&[Reason], &[Reason]) {
        (&self.rules.order.primary, &self.rules.order.secondary)
    }

    /// Re-derive `hardbounce`, `owner` and `remedy` after the caller
    /// completed a verdict's reason or status, as a decoder does when it
    /// writes a stand-in `x.0.9xx` status for a bounce that stated none
    /// (Sisimai's hard-bounce rule for `notaccept` looks at the status
    /// class): the one place besides classification that applies the
    /// advice table. The failure counts as temporary when the verdict says
    /// it is not permanent.
    pub fn settle(&self, verdict: &mut Verdict) {
        let transient = verdict.permanent == Some(false);
        let hard_class = verdict
            .deliverystatus
            .map(EnhancedStatus::class_digit)
            .or(verdict.replycode.map(|r| (r.get() / 100) as u8));
        let (hardbounce, owner, remedy) = self.advice(verdict.reason).consequences(
            transient,
            hard_class,
            verdict.blocklist.is_some(),
            self.rules
                .advice_of_explained_rule(&verdict.explain, verdict.reason),
        );
        verdict.hardbounce = hardbounce;
        verdict.owner = owner;
        verdict.remedy = remedy;
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
            let reason_rank = rs
                .order
                .primary
                .iter()
                .chain(&rs.order.secondary)
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
            rs.scan(
                &reply::matching_text(reply::capped(input.text)),
                |pid, _, _| hits.push(pid),
            );
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

    /// The decision, in its steps: what the input states and the text says
    /// ([`Reading`]), one automaton pass ([`scan`]), which provider and
    /// blocklist the hits name ([`recognise`], [`Providers`]), the best
    /// holding rule of each tier ([`best_rules`]), the first step of the
    /// documented order that applies ([`decide`]), then the verdict.
    fn classify_with(
        &self,
        obs: &ObservationRef<'_>,
        scratch: &mut Scratch,
        holding: Option<&mut Vec<u32>>,
    ) -> Verdict {
        let rs = &self.rules;
        let raw = reply::capped(obs.text);
        let mut parsed = reply::parse_except_command(raw);
        let mut reading = Reading::new(obs, &mut parsed);
        let matching = reply::matching_text(raw);
        let text: &str = &matching;
        let command_marker = scan(rs, text, &mut scratch.hits);
        reading.command = reading.command.or_else(|| {
            command_marker.map(|c| reply::command_markers_table()[c as usize].1.to_string())
        });
        let hits = &scratch.hits;
        let (marker_provider, blocklist) = recognise(rs, hits, &mut scratch.candidates);
        let providers = Providers::new(rs, obs, &reading, marker_provider);
        scratch.candidates.extend_from_slice(&rs.unanchored);
        scratch.candidates.sort_unstable();
        scratch.candidates.dedup();

        let facts = Facts {
            command: reading.command.as_deref(),
            status: reading.status,
            replycode: reading.replycode,
            class: reading.class,
            action: reading.action.as_deref(),
            text,
            bounce_report: obs.bounce_report,
            hint: reading.hint,
        };
        let best = best_rules(rs, &scratch.candidates, hits, &facts, &providers, holding);
        let status_entry = reading
            .status
            .filter(|s| !s.is_generic())
            .and_then(|s| rs.status_entry(s).map(|e| (s, e)));
        let decider = decide(
            rs,
            &reading,
            &parsed,
            hits,
            &best,
            status_entry,
            blocklist.map(FoundBlocklist::implies),
            obs,
        );
        // "Delivery time expired" (x.4.7) in a delay notice is the warning
        // timer, not the queue lifetime: the message is still queued.
        let decider = if reading.delayed && decider.reason() == Reason::Expired {
            Decider::Fallback(Reason::OnHold, DELAYED_WITHOUT_CAUSE)
        } else {
            decider
        };

        let reason = decider.reason();
        let rule_advice = match decider {
            Decider::Rule { rule, .. } => rule.advice,
            _ => RuleAdvice::default(),
        };
        let (hardbounce, owner, remedy) =
            reading.consequences(rs.advice(reason), blocklist.is_some(), rule_advice);
        let blocklist = blocklist.map(|b| b.named(rs));
        let status_meaning = status_meaning(status_entry, reading.status);
        let explain = explain(rs, &decider, reading.status, status_meaning);
        let provider = providers.reported().map(|p| rs.providers[p].name.clone());
        let permanent = reading.permanent(obs);
        Verdict {
            replycode: reading.replycode,
            deliverystatus: reading.status,
            smtpcommand: reading.command.unwrap_or_default(),
            rhost: reading.rhost.unwrap_or_default(),
            reason,
            hardbounce,
            permanent,
            owner,
            remedy,
            provider,
            blocklist,
            pattern: pattern::pattern(reading.replycode, reading.status, &parsed.text),
            explain,
        }
    }
}

/// What the input states and the reply text says, reconciled. Facts
/// first: the observation's own fields outrank what [`reply::parse`] finds
/// in the text.
struct Reading {
    replycode: Option<rebound_core::ReplyCode>,
    status: Option<EnhancedStatus>,
    rhost: Option<String>,
    /// The class that decides permanence.
    class: Option<u8>,
    /// Stated, else the text's command marker (see [`scan`]).
    command: Option<String>,
    /// The DSN action, trimmed and lower-cased.
    action: Option<String>,
    /// A delay notice (`Action: delayed`).
    delayed: bool,
    /// The input's reason hint, as far as it is believed.
    hint: Option<Reason>,
}

impl Reading {
    fn new(obs: &ObservationRef<'_>, parsed: &mut reply::ParsedRef<'_>) -> Reading {
        let replycode = obs.replycode.or(parsed.replycode);
        let action = obs
            .action
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_ascii_lowercase);
        // A success status on a failure or delay report (`Action: failed`,
        // `Status: 2.0.0` over a `550` reply) is the reporting MTA's slip,
        // not a delivery: the reply, else the action, says what happened.
        let stated_status = obs.status.filter(|s| {
            !(s.class_digit() == 2 && matches!(action.as_deref(), Some("failed" | "delayed")))
        });
        // The most specific evidence wins: a catch-all status stated by the
        // transport (an ESP's `5.0.0` over the receiver's `550 5.1.1 ...`)
        // yields to a specific status of the same class quoted in the text.
        let status = match (stated_status, parsed.status) {
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
            .or(parsed.rhost.take());
        // A separately stated status (a DSN's `Status:` field) is the
        // reporting MTA's own judgement; else the reply code, which is what
        // the SMTP client acted on.
        let class = stated_status
            .map(EnhancedStatus::class_digit)
            .or(replycode.map(|r| (r.get() / 100) as u8))
            .or(status.map(EnhancedStatus::class_digit));
        let command = obs
            .smtpcommand
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_ascii_uppercase);
        // A delay notice comes from an MTA that is still retrying: nothing
        // has expired, whatever a decoder guessed. Its reason is the cause
        // the text gives, if any.
        let delayed = action.as_deref() == Some("delayed");
        let hint = obs
            .reason_hint
            .filter(|h| !(delayed && *h == Reason::Expired));
        Reading {
            replycode,
            status,
            rhost,
            class,
            command,
            action,
            delayed,
            hint,
        }
    }

    /// Hard bounce, owner and remedy by `advice`. With no code at all, a
    /// delay notice's action is what says the failure is temporary; the
    /// class of the status (else the reply code) decides hardness.
    fn consequences(
        &self,
        advice: &Advice,
        blocklisted: bool,
        rule: RuleAdvice,
    ) -> (bool, Owner, Remedy) {
        let transient = self.class == Some(4) || (self.class.is_none() && self.delayed);
        let hard_class = self.status.map(EnhancedStatus::class_digit).or(self.class);
        advice.consequences(transient, hard_class, blocklisted, rule)
    }

    /// Permanent (5), temporary (4), or, with no code, what the DSN action
    /// says.
    fn permanent(&self, obs: &ObservationRef<'_>) -> Option<bool> {
        match self.class {
            Some(5) => Some(true),
            Some(4) => Some(false),
            Some(_) => None,
            None => match obs.action.map(str::trim) {
                Some(a) if a.eq_ignore_ascii_case("failed") => Some(true),
                Some(a) if a.eq_ignore_ascii_case("delayed") => Some(false),
                _ => None,
            },
        }
    }
}

/// One pass of the automaton over the text (case ignored): every
/// pattern hit into `hits` (sorted, deduplicated), and the command marker
/// that names the command answered: the leftmost (then longest) one ending
/// a word, as `reply::smtp_command` reads it.
fn scan(rs: &RuleSet, text: &str, hits: &mut Vec<u32>) -> Option<u32> {
    hits.clear();
    let mut command_marker: Option<(usize, usize, u32)> = None;
    let local_parts = address_local_parts(text);
    rs.scan(text, |pid, start, end| {
        // An address's local part is a name, not the server's words:
        // `<dmarc@example.com>: User unknown` is about a mailbox called
        // dmarc, not DMARC. Provider markers may name a provider's own
        // address (`delist@microsoft.com`) and still count.
        if local_parts.iter().any(|&(s, e)| s <= start && end <= e)
            && !rs.targets[pid as usize]
                .iter()
                .any(|t| matches!(t, Target::ProviderMarker(_)))
        {
            return;
        }
        hits.push(pid);
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
    hits.sort_unstable();
    hits.dedup();
    command_marker.map(|(_, _, c)| c)
}

/// The byte spans of the local parts of the addresses in `text`: the
/// characters RFC 5322 allows in a dot-atom (and any non-ASCII, RFC 6531)
/// before an `@` that a domain label follows.
fn address_local_parts(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let is_local =
        |b: u8| b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+/=?^_`{|}~.-".contains(&b);
    let mut spans = Vec::new();
    for at in memchr::memchr_iter(b'@', bytes) {
        let start = bytes[..at]
            .iter()
            .rposition(|&b| !is_local(b))
            .map_or(0, |i| i + 1);
        let domain_follows = bytes
            .get(at + 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b >= 0x80);
        if start < at && domain_follows {
            spans.push((start, at));
        }
    }
    spans
}

/// A blocklist the reply names: a zone, or only its operator.
#[derive(Clone, Copy)]
struct FoundBlocklist {
    list: u32,
    pattern: u32,
    listed: rebound_core::Listed,
    is_zone: bool,
}

impl FoundBlocklist {
    /// The reason a listing implies: a list of the links found in messages
    /// (SURBL, URIBL) judges the message's content; any other (of IPs, of
    /// sending domains) refuses the sender.
    fn implies(self) -> Reason {
        match self.listed {
            rebound_core::Listed::Url => Reason::SpamDetected,
            _ => Reason::Blocked,
        }
    }

    /// As the verdict names it: the list, and the zone when the reply
    /// named one.
    fn named(self, rs: &RuleSet) -> Blocklist {
        Blocklist {
            name: rs.blocklists[self.list as usize].name.clone(),
            zone: if self.is_zone {
                rs.patterns[self.pattern as usize].clone()
            } else {
                String::new()
            },
            listed: self.listed,
        }
    }
}

/// What the status alone would have meant (its table entry, else the x.6
/// and x.7 fallbacks), for `explain` to say when a rule overrode it.
fn status_meaning(
    entry: Option<(EnhancedStatus, &rules::StatusEntry)>,
    status: Option<EnhancedStatus>,
) -> Option<Reason> {
    entry.map(|(_, e)| e.reason).or(match status {
        Some(s) if s.class_digit() != 2 && s.subject() == 7 => Some(Reason::SecurityError),
        Some(s) if s.class_digit() != 2 && s.subject() == 6 => Some(Reason::ContentError),
        _ => None,
    })
}

/// What the hits name: the rules they are phrases of (into `candidates`),
/// the first provider marker, and the blocklist (a zone beats an
/// operator's bare name).
fn recognise(
    rs: &RuleSet,
    hits: &[u32],
    candidates: &mut Vec<u32>,
) -> (Option<usize>, Option<FoundBlocklist>) {
    let mut provider: Option<usize> = None;
    let mut blocklist: Option<FoundBlocklist> = None;
    candidates.clear();
    for &pid in hits {
        for t in &rs.targets[pid as usize] {
            match *t {
                Target::Rule(r) => candidates.push(r),
                Target::ProviderMarker(p) => {
                    provider.get_or_insert(p as usize);
                }
                Target::Command(_) => {}
                Target::Blocklist {
                    list,
                    listed,
                    is_zone,
                } => {
                    if blocklist.is_none_or(|b| is_zone && !b.is_zone) {
                        blocklist = Some(FoundBlocklist {
                            list,
                            pattern: pid,
                            listed,
                            is_zone,
                        });
                    }
                }
            }
        }
    }
    (provider, blocklist)
}

/// Which provider the reply comes from, by each of the ways one is
/// recognised: a text marker (most specific), the remote or reporting
/// host, the recipient's domain.
struct Providers<'a> {
    rs: &'a RuleSet,
    marker: Option<usize>,
    rhost: Option<&'a str>,
    lhost: Option<&'a str>,
    /// Looked up only when needed: no marker named the provider, or a
    /// provider rule asks whether it applies.
    host: std::cell::OnceCell<Option<usize>>,
    has_domain: bool,
    domain: Option<usize>,
    /// Marker, else host, else domain: whose conventions apply.
    recognised: Option<usize>,
}

impl<'a> Providers<'a> {
    fn new(
        rs: &'a RuleSet,
        obs: &ObservationRef<'a>,
        reading: &'a Reading,
        marker: Option<usize>,
    ) -> Self {
        let domain = obs
            .recipient
            .and_then(|r| r.rsplit_once('@'))
            .map(|(_, d)| d.trim_end_matches('>').trim())
            .filter(|d| !d.is_empty());
        let mut p = Providers {
            rs,
            marker,
            rhost: reading.rhost.as_deref(),
            lhost: obs.lhost.map(str::trim).filter(|h| !h.is_empty()),
            host: std::cell::OnceCell::new(),
            has_domain: domain.is_some(),
            domain: domain.and_then(|d| rs.provider_of_domain(&d.to_ascii_lowercase())),
            recognised: None,
        };
        p.recognised = marker.or_else(|| p.host()).or(p.domain);
        p
    }

    /// The provider of the remote host; when the remote host names no
    /// provider, the reporting host stands in: a provider's own relay
    /// reporting a failure speaks the provider's conventions (AOL's bouncer
    /// names no remote host; a MessageLabs gateway reports what its
    /// customer's server said).
    fn host(&self) -> Option<usize> {
        *self.host.get_or_init(|| {
            self.rhost
                .and_then(|h| self.rs.provider_of_host(h))
                .or_else(|| {
                    self.lhost
                        .and_then(|h| self.rs.provider_of_host(&h.to_ascii_lowercase()))
                })
        })
    }

    /// Whether a rule of provider `p` applies to this reply.
    fn applies(&self, p: usize) -> bool {
        Some(p) == self.recognised || Some(p) == self.domain || Some(p) == self.host()
    }

    /// The provider a verdict is counted under: the one whose server
    /// answered (the remote or reporting host) or that hosts the
    /// recipient's domain. A word in the text only recognises which
    /// conventions apply: "comcast" in a reply from another network does
    /// not make its failures Comcast's, and deliveries to the same domain
    /// (whose "250 ok" names nobody) must be counted alike. With no
    /// recipient known (a bare reply), a marker is all there is.
    fn reported(&self) -> Option<usize> {
        self.host()
            .or(self.domain)
            .or(self.marker.filter(|_| !self.has_domain))
    }
}

/// The best holding rule of each tier, and of each reason for the generic
/// tier (lowest order of definition wins).
struct BestRules<'a> {
    /// The first rule written for an input whose format named its reason
    /// (`hints`), which alone may overturn that reason.
    for_hint: Option<&'a rules::Rule>,
    user: Option<&'a rules::Rule>,
    provider: Option<&'a rules::Rule>,
    generic_by_reason: [Option<&'a rules::Rule>; Reason::ALL.len()],
}

/// Checks the candidate rules against the facts, keeping each tier's
/// best; with `holding`, also lists every rule that holds (`rebound rules
/// explain`).
fn best_rules<'a>(
    rs: &'a RuleSet,
    candidates: &[u32],
    hits: &[u32],
    facts: &Facts<'_>,
    providers: &Providers<'_>,
    mut holding: Option<&mut Vec<u32>>,
) -> BestRules<'a> {
    let mut best = BestRules {
        for_hint: None,
        user: None,
        provider: None,
        generic_by_reason: [None; Reason::ALL.len()],
    };
    for &ri in candidates {
        let rule = &rs.rules[ri as usize];
        if rule.provider.is_some_and(|p| !providers.applies(p)) {
            continue;
        }
        // A convention of the provider's own servers: a relay quoting the
        // same words (recognised by a marker) does not count.
        if rule.from_host && rule.provider != providers.host() {
            continue;
        }
        if let Some(h) = holding.as_deref_mut()
            && rule.holds(hits, facts)
        {
            h.push(ri);
        }
        let slot = match rule.tier {
            _ if !rule.hints.is_empty() => &mut best.for_hint,
            Tier::User => &mut best.user,
            Tier::Provider => &mut best.provider,
            Tier::Generic => &mut best.generic_by_reason[rule.reason as usize],
        };
        if slot.is_some_and(|b| b.order < rule.order) {
            continue;
        }
        if rule.holds(hits, facts) {
            *slot = Some(rule);
        }
    }
    best
}

/// Steps 1 to 9 of the crate documentation: the first that applies
/// decides.
#[allow(clippy::too_many_arguments)]
fn decide<'a>(
    rs: &'a RuleSet,
    reading: &Reading,
    parsed: &reply::ParsedRef<'_>,
    hits: &[u32],
    best: &BestRules<'a>,
    status_entry: Option<(EnhancedStatus, &'a rules::StatusEntry)>,
    blocklisted: Option<Reason>,
    obs: &ObservationRef<'_>,
) -> Decider<'a> {
    let hint = reading.hint;
    let by_rule = |rule: &'a rules::Rule| Decider::Rule {
        rule,
        phrase: first_phrase(rs, rule, hits),
    };
    let by_status = |(s, e): (EnhancedStatus, &'a rules::StatusEntry)| Decider::Status {
        status: s,
        reason: e.reason,
        explain: e.explain.as_deref(),
    };
    if let Some(h @ (Reason::Feedback | Reason::Vacation | Reason::Delivered)) = hint {
        // The format's word stands unless a rule written for such inputs
        // reads more in the text (an auto-reply saying the address is gone).
        return match best.for_hint {
            Some(rule) => by_rule(rule),
            None => Decider::Hint(h),
        };
    }
    if reading.class == Some(2) {
        return Decider::Success;
    }
    if let Some(rule) = best.user.or(best.provider) {
        return by_rule(rule);
    }
    if let Some(entry) = status_entry.filter(|(_, e)| e.tier == Tier::User) {
        return by_status(entry);
    }
    let text_says =
        |r: Reason| best.generic_by_reason[r as usize].is_some() || blocklisted == Some(r);
    for &r in &rs.order.primary {
        // A message the MTA gave up on (`expired`) after a refused
        // connection or a block: the block is only the last attempt's
        // error, the loss is the expiry (as in Sisimai). Other specific
        // reasons still decide.
        if r == Reason::Blocked && hint == Some(Reason::Expired) {
            continue;
        }
        if let Some(rule) = best.generic_by_reason[r as usize] {
            return by_rule(rule);
        }
        if let Some(entry) = status_entry
            .filter(|(_, e)| e.decides && e.reason == r && !e.unless.iter().any(|u| text_says(*u)))
        {
            return by_status(entry);
        }
        if blocklisted == Some(r) {
            return Decider::Blocklist(r);
        }
    }
    for &r in &rs.order.secondary {
        if let Some(rule) = best.generic_by_reason[r as usize] {
            return by_rule(rule);
        }
    }
    // An `onhold` hint says only that the format states no cause; a
    // status that names one (5.3.1, the mail system is full) says more.
    if let Some(h) = hint
        .filter(|h| *h != Reason::Undefined)
        .filter(|h| !(*h == Reason::OnHold && status_entry.is_some()))
    {
        return Decider::Hint(h);
    }
    if matches!(
        parsed.diagnostic_type.as_deref(),
        Some("x-unix" | "x-postfix")
    ) {
        return Decider::Fallback(
            Reason::MailerError,
            "an X-Unix/X-Postfix diagnostic is a local delivery program's error",
        );
    }
    if let Some(entry) = status_entry {
        return by_status(entry);
    }
    fallback(
        reading.status,
        reading.replycode,
        reading.command.as_deref(),
        obs,
    )
}

/// See [`Classifier::id`].
fn rules_id(user_files: &[(&str, &str)]) -> String {
    if user_files.is_empty() {
        return builtin_rules_id().to_string();
    }
    let texts: Vec<&str> = user_files.iter().map(|(_, t)| *t).collect();
    format!("{}+{:016x}", builtin_rules_id(), rules_hash(&texts))
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
    rs: &RuleSet,
    decider: &Decider<'_>,
    status: Option<EnhancedStatus>,
    status_reason: Option<Reason>,
) -> String {
    // Built with push_str into one pre-sized buffer: `format!` here was a
    // sixth of the classification time.
    let reason = decider.reason();
    let meaning = |r: Reason| rs.advice(r).meaning.as_str();
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
                    out.push_str(meaning(reason));
                }
                (None, None) => out.push_str(meaning(reason)),
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
            out.push_str(explain.unwrap_or(meaning(reason)));
            out
        }
        Decider::Hint(r) => format!(
            "hint {r}: the input's format says {}; nothing in the text says otherwise",
            meaning(*r)
        ),
        Decider::Success => "class 2: the server accepted the message".to_string(),
        Decider::Blocklist(_) => format!(
            "blocklist: the reply names a DNS blocklist, so {}",
            meaning(reason)
        ),
        Decider::Fallback(_, why) => format!("fallback {reason}: {why}"),
    }
}
