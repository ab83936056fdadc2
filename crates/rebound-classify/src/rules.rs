//! Rule files: their TOML schema (documented for users in `rules/README.md`)
//! and their compilation into one phrase automaton (`scanner.rs`) plus small tables.
//!
//! Every phrase, provider marker and blocklist zone of every file goes into a
//! single automaton (case ignored), so classifying a reply costs one
//! pass over it whatever the number of rules. Regular expressions are only
//! run to confirm a rule whose phrases already hit.

use crate::advice::{Advice, AdviceBuilder, AdviceSpec};
use crate::scanner::{Fnv, PhraseScanner};
use rebound_core::{EnhancedStatus, Listed, Reason, ReplyCode};
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a rule file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    // The source error is not repeated in the message: error reporters
    // (anyhow's `{:#}`) print the chain.
    #[error("cannot read rule file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rule file {file}: invalid TOML")]
    Toml {
        file: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("rule file {file}: {message}")]
    Invalid { file: String, message: String },
}

/// Where a rule comes from; decides precedence (lower wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    /// A file the user passed (`--rules`): overrides everything built in.
    User = 0,
    /// A provider's own conventions: override the generic phrases.
    Provider = 1,
    /// Generic phrases, valid whoever the receiver is.
    Generic = 2,
}

// ---------------------------------------------------------------------------
// The TOML schema.

/// One rule file. Every section is optional, so a file can describe one
/// reason, one provider, the status table, the blocklists, or a user's mix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    /// Default `reason` for the file's `[[rule]]`s.
    reason: Option<String>,
    /// The provider this file describes; its rules only apply to replies
    /// recognised as coming from it.
    provider: Option<String>,
    /// Text markers that recognise the provider (`gsmtp`, a support URL).
    #[serde(default)]
    markers: Vec<String>,
    /// Host name suffixes of the provider's servers (`google.com`).
    #[serde(default)]
    rhosts: Vec<String>,
    /// Recipient domains the provider hosts (`gmail.com`).
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    rule: Vec<RuleSpec>,
    #[serde(default)]
    status: Vec<StatusSpec>,
    #[serde(default)]
    blocklist: Vec<BlocklistSpec>,
    /// `[advice.<reason>]`: what a reason means for the sender (see
    /// `rules/advice.toml`).
    #[serde(default)]
    advice: std::collections::BTreeMap<String, AdviceSpec>,
    /// The order in which reasons are tried (built-in files only).
    order: Option<OrderSpec>,
    /// `[phrase_sets]`: named phrase lists that rules share through
    /// `phrases_sets` and `excludes_sets`, so a family of wordings ("the
    /// refused address is the sender's") is written once and every rule
    /// that names it follows. A name defined in several files (a user's
    /// file adding to a built-in set) is the union of them.
    #[serde(default)]
    phrase_sets: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderSpec {
    /// Tried first, by phrase or by deciding status.
    primary: Vec<String>,
    /// Tried next, by phrase only.
    secondary: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    reason: Option<String>,
    /// Case-insensitive substrings; any one of them makes the rule a
    /// candidate.
    #[serde(default)]
    phrases: Vec<String>,
    /// Reuse the `phrases` of another rule, by id.
    phrases_from: Option<String>,
    /// Named `[phrase_sets]` whose phrases are candidates too.
    #[serde(default)]
    phrases_sets: Vec<String>,
    /// Substrings that must all be present too.
    #[serde(default)]
    requires: Vec<String>,
    /// Substrings that veto the rule.
    #[serde(default)]
    excludes: Vec<String>,
    /// Reuse the `excludes` of another rule, by id (with `phrases_from`:
    /// the same words, vetoed by the same words).
    excludes_from: Option<String>,
    /// Named `[phrase_sets]` whose phrases veto the rule too.
    #[serde(default)]
    excludes_sets: Vec<String>,
    /// A regular expression (case-insensitive) the text must also match.
    regex: Option<String>,
    /// Only when the reply answered one of these commands.
    #[serde(default)]
    commands: Vec<String>,
    /// Never when the reply answered one of these commands.
    #[serde(default)]
    not_commands: Vec<String>,
    /// Only when the enhanced status matches one of these (`5.7.1`,
    /// `x.7.1` for any class, `5.7` for a subject).
    #[serde(default)]
    status: Vec<String>,
    /// Never when the enhanced status matches one of these.
    #[serde(default)]
    not_status: Vec<String>,
    /// Only with one of these reply codes.
    #[serde(default)]
    replycodes: Vec<u16>,
    /// Never with these reply codes.
    #[serde(default)]
    not_replycodes: Vec<u16>,
    /// Only with this class (`4` temporary, `5` permanent).
    class: Option<u8>,
    /// Never with this class (also holds when no class is known).
    not_class: Option<u8>,
    /// Only when the input's DSN `Action` (or its equivalent) is one of
    /// these (`failed`, `delayed`); never when none is known.
    #[serde(default)]
    actions: Vec<String>,
    /// Never when the input's DSN `Action` is one of these (also holds
    /// when none is known).
    #[serde(default)]
    not_actions: Vec<String>,
    /// Only when no reply code is known: the text is the reporting
    /// system's own words, not a remote server's reply.
    #[serde(default)]
    no_replycode: bool,
    /// Only when the input's format already named one of these reasons
    /// (`vacation` for an auto-reply, `feedback`, `delivered`), which
    /// otherwise decide without reading the text: a rule written for
    /// auto-replies that say the address itself is gone. A rule with
    /// `hints` never decides anything else.
    #[serde(default)]
    hints: Vec<String>,
    /// Provider files only: only when the remote host (or, when that names
    /// no provider, the reporting host) is the provider's, i.e. its own
    /// server gave the reply; not when only a text marker or the
    /// recipient's domain names the provider.
    #[serde(default)]
    from_host: bool,
    /// Why, in words, for `explain`.
    explain: Option<String>,
    /// The owner and remedies when this rule decides, where they differ
    /// from its reason's (`advice.toml`).
    owner: Option<String>,
    remedy: Option<String>,
    temporary_remedy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusSpec {
    /// `5.1.1`, or `x.1.1` for both 4 and 5.
    code: String,
    reason: String,
    /// Whether the status alone decides the reason (a specific code such as
    /// `5.1.1`), or only applies when no phrase matched (an ambiguous one
    /// such as `5.7.1`).
    #[serde(default)]
    decides: bool,
    /// Reasons whose phrases, when present, win over this status.
    #[serde(default)]
    unless: Vec<String>,
    explain: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlocklistSpec {
    name: String,
    /// Text that names the operator without a zone (`spamhaus`).
    #[serde(default)]
    markers: Vec<String>,
    /// What the operator lists when only its name is known.
    listed: Option<String>,
    /// Zones by what they list.
    #[serde(default)]
    zones: ZoneSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSpec {
    #[serde(default)]
    ip: Vec<String>,
    #[serde(default)]
    domain: Vec<String>,
    #[serde(default)]
    url: Vec<String>,
    #[serde(default)]
    unknown: Vec<String>,
}

// ---------------------------------------------------------------------------
// The compiled form.

/// A status condition: class 0 means "any class"; `detail` None means any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusMatch {
    class: u8,
    subject: u16,
    detail: Option<u16>,
}

impl StatusMatch {
    fn parse(s: &str) -> Option<Self> {
        let mut parts = s.trim().split('.');
        let class = match parts.next()? {
            "x" | "X" | "*" => 0,
            c => c.parse::<u8>().ok().filter(|c| matches!(c, 2 | 4 | 5))?,
        };
        let subject = parts.next()?.parse().ok()?;
        let detail = match parts.next() {
            None => None,
            Some(d) => Some(d.parse().ok()?),
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            class,
            subject,
            detail,
        })
    }

    pub(crate) fn matches(&self, s: EnhancedStatus) -> bool {
        (self.class == 0 || self.class == s.class_digit())
            && self.subject == s.subject()
            && self.detail.is_none_or(|d| d == s.detail())
    }
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub id: String,
    pub reason: Reason,
    pub tier: Tier,
    /// Index into `RuleSet::providers` when the rule is a provider's.
    pub provider: Option<usize>,
    /// Order of definition, the last tie-breaker.
    pub order: usize,
    any: Vec<u32>,
    requires: Vec<u32>,
    excludes: Vec<u32>,
    regex: Option<LazyRegex>,
    commands: Vec<String>,
    not_commands: Vec<String>,
    status: Vec<StatusMatch>,
    not_status: Vec<StatusMatch>,
    replycodes: Vec<u16>,
    not_replycodes: Vec<u16>,
    class: Option<u8>,
    not_class: Option<u8>,
    actions: Vec<String>,
    not_actions: Vec<String>,
    no_replycode: bool,
    /// Only when the input's format named one of these reasons (see
    /// `RuleSpec`).
    pub hints: Vec<Reason>,
    /// Only when the provider is recognised by a host (see `RuleSpec`).
    pub from_host: bool,
    pub explain: Option<String>,
    /// Owner and remedies of its own, over its reason's.
    pub advice: crate::advice::RuleAdvice,
}

/// What a reply looks like to the constraint checks.
pub(crate) struct Facts<'a> {
    pub command: Option<&'a str>,
    pub status: Option<EnhancedStatus>,
    pub replycode: Option<ReplyCode>,
    pub class: Option<u8>,
    /// The DSN action, trimmed and lower-cased.
    pub action: Option<&'a str>,
    pub text: &'a str,
    /// The observation is a bounce message's (see `Observation::bounce_report`).
    pub bounce_report: bool,
    /// The reason the input's format named, if any.
    pub hint: Option<Reason>,
}

impl Rule {
    /// Whether the rule holds, given the automaton's hits (sorted).
    pub(crate) fn holds(&self, hits: &[u32], facts: &Facts<'_>) -> bool {
        let has = |p: &u32| hits.binary_search(p).is_ok();
        if !self.any.is_empty() && !shares_one(&self.any, hits) {
            return false;
        }
        if !self.requires.iter().all(has) || shares_one(&self.excludes, hits) {
            return false;
        }
        // No command known: "-" where the input never records one (a bare
        // reply, a log line, a webhook), "?" where a bounce message's
        // reporting MTA could have named it and did not.
        let command = facts
            .command
            .unwrap_or(if facts.bounce_report { "?" } else { "-" });
        if !self.commands.is_empty() && !self.commands.iter().any(|x| x == command) {
            return false;
        }
        if self.not_commands.iter().any(|x| x == command) {
            return false;
        }
        if !self.status.is_empty()
            && !facts
                .status
                .is_some_and(|s| self.status.iter().any(|m| m.matches(s)))
        {
            return false;
        }
        if facts
            .status
            .is_some_and(|s| self.not_status.iter().any(|m| m.matches(s)))
        {
            return false;
        }
        if !self.replycodes.is_empty()
            && !facts
                .replycode
                .is_some_and(|r| self.replycodes.contains(&r.get()))
        {
            return false;
        }
        if facts
            .replycode
            .is_some_and(|r| self.not_replycodes.contains(&r.get()))
        {
            return false;
        }
        if self.no_replycode && facts.replycode.is_some() {
            return false;
        }
        if !self.hints.is_empty() && !facts.hint.is_some_and(|h| self.hints.contains(&h)) {
            return false;
        }
        if self.class.is_some() && self.class != facts.class {
            return false;
        }
        if self.not_class.is_some() && self.not_class == facts.class {
            return false;
        }
        if facts
            .action
            .is_some_and(|a| self.not_actions.iter().any(|x| x == a))
        {
            return false;
        }
        if !self.actions.is_empty()
            && !facts
                .action
                .is_some_and(|a| self.actions.iter().any(|x| x == a))
        {
            return false;
        }
        match &self.regex {
            Some(re) => re.is_match(facts.text),
            None => true,
        }
    }

    /// Rules without phrases cannot be found through the automaton and are
    /// checked on every reply.
    pub(crate) fn is_unanchored(&self) -> bool {
        self.any.is_empty()
    }
}

/// A rule's regex, checked when the rules are built but compiled the first
/// time a reply needs it: most never run in a given process (a regex is
/// only tried once a phrase of its rule hit), and compiling them all was a
/// tenth of building the rules, which every process pays.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    pattern: String,
    compiled: std::sync::OnceLock<Option<Regex>>,
}

impl LazyRegex {
    fn checked(pattern: String) -> Result<Self, String> {
        regex_syntax::Parser::new()
            .parse(&pattern)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            pattern,
            compiled: std::sync::OnceLock::new(),
        })
    }

    fn is_match(&self, text: &str) -> bool {
        // A pattern that parses but exceeds the engine's size limits
        // matches nothing.
        self.compiled
            .get_or_init(|| Regex::new(&self.pattern).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(text))
    }
}

#[derive(Debug)]
pub(crate) struct StatusEntry {
    pub matcher: StatusMatch,
    pub reason: Reason,
    pub decides: bool,
    pub unless: Vec<Reason>,
    pub explain: Option<String>,
    pub tier: Tier,
}

#[derive(Debug)]
pub(crate) struct Provider {
    pub name: String,
    rhosts: Vec<String>,
    domains: Vec<String>,
}

type SuffixIndex = HashMap<String, usize, std::hash::BuildHasherDefault<Fnv>>;

/// Looks `name` and each of its parent domains up, longest first.
fn lookup_suffix(index: &SuffixIndex, name: &str) -> Option<usize> {
    let mut rest = name.trim_end_matches('.');
    loop {
        if let Some(&p) = index.get(rest) {
            return Some(p);
        }
        rest = rest.split_once('.')?.1;
    }
}

#[derive(Debug)]
pub(crate) struct BlocklistDef {
    pub name: String,
}

/// What one automaton pattern stands for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// A phrase of a rule (any of, requires or excludes: the rule checks).
    Rule(u32),
    ProviderMarker(u32),
    /// A phrase naming the SMTP command answered (index into
    /// `reply::command_markers_table()`).
    Command(u32),
    /// A blocklist zone (the pattern's text is the zone) or a marker that
    /// names the operator only.
    Blocklist {
        list: u32,
        listed: Listed,
        is_zone: bool,
    },
}

/// All rules, compiled.
pub(crate) struct RuleSet {
    /// Every pattern, matched ASCII-case-insensitively (the patterns are
    /// lower-cased), so the text needs no lower-cased copy. See
    /// [`RuleSet::scan`].
    scanner: PhraseScanner,
    /// Targets of each pattern id.
    pub targets: Vec<Vec<Target>>,
    /// The lower-cased text of each pattern (zones are reported from it).
    pub patterns: Vec<String>,
    pub rules: Vec<Rule>,
    /// Rules checked on every reply (no phrase to find them by).
    pub unanchored: Vec<u32>,
    pub statuses: Vec<StatusEntry>,
    /// (class, subject, detail) → the winning entry of `statuses`, for
    /// every code the table mentions, resolved once at compile time.
    status_index: HashMap<(u8, u16, u16), usize, std::hash::BuildHasherDefault<Fnv>>,
    pub providers: Vec<Provider>,
    /// Host suffix → provider, and recipient domain suffix → provider.
    host_index: SuffixIndex,
    domain_index: SuffixIndex,
    pub blocklists: Vec<BlocklistDef>,
    /// Each reason's advice, indexed by `Reason as usize`.
    pub advice: Vec<Advice>,
    pub order: ReasonOrder,
}

/// The order in which the decision tries reasons (`rules/order.toml`).
#[derive(Debug)]
pub(crate) struct ReasonOrder {
    /// By generic phrase or by deciding status.
    pub primary: Vec<Reason>,
    /// By generic phrase only.
    pub secondary: Vec<Reason>,
}

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The built-in rule files with the user's before them (user files first,
/// in precedence order), compiled: what every classifier is built from, and
/// what `lint` checks a user file against.
pub(crate) fn compile_with_builtins(user_files: &[(&str, &str)]) -> Result<RuleSet, RuleError> {
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
    RuleSet::compile(&sources)
}

/// One source file: its name (for errors) and text.
pub(crate) struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
    pub tier: Tier,
}

fn invalid(file: &str, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

fn parse_reason(file: &str, what: &str, s: &str) -> Result<Reason, RuleError> {
    s.parse()
        .map_err(|e: String| invalid(file, format!("{what}: {e}")))
}

#[derive(Default)]
struct Builder {
    pattern_ids: HashMap<String, u32, std::hash::BuildHasherDefault<Fnv>>,
    patterns: Vec<String>,
    targets: Vec<Vec<Target>>,
}

impl Builder {
    fn pattern(&mut self, text: &str, target: Target) -> Result<u32, String> {
        let key = crate::scanner::fold_phrase(text);
        if key.trim().is_empty() {
            return Err("empty phrase".into());
        }
        let id = match self.pattern_ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.patterns.len() as u32;
                self.pattern_ids.insert(key.clone(), id);
                self.patterns.push(key);
                self.targets.push(Vec::new());
                id
            }
        };
        self.targets[id as usize].push(target);
        Ok(id)
    }
}

fn normalize_command(c: &str) -> String {
    c.trim().to_ascii_uppercase()
}

/// What `lint` reads of a rule file.
pub(crate) struct RuleFileView {
    pub reason: Option<String>,
    pub rules: Vec<RuleSpecView>,
    /// (code, reason) of each status entry.
    pub statuses: Vec<(String, String)>,
    /// The `[advice.<reason>]` tables, by key.
    pub advice: std::collections::BTreeMap<String, AdviceSpec>,
    /// The file has an `[order]` (built-in files only).
    pub has_order: bool,
}

pub(crate) struct RuleSpecView {
    pub id: String,
    pub reason: Option<String>,
    pub phrases: Vec<String>,
    /// Holds whenever a phrase is present: no other condition.
    pub has_no_conditions: bool,
}

/// A file's text as `lint` reads it, or the TOML error's line (1-based)
/// and message.
pub(crate) fn view(text: &str) -> Result<RuleFileView, (usize, String)> {
    let file: RuleFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(0);
        (line, format!("invalid TOML: {}", e.message()))
    })?;
    Ok(RuleFileView {
        reason: file.reason,
        advice: file.advice,
        has_order: file.order.is_some(),
        statuses: file
            .status
            .iter()
            .map(|s| (s.code.clone(), s.reason.clone()))
            .collect(),
        rules: file
            .rule
            .into_iter()
            .map(|r| RuleSpecView {
                has_no_conditions: r.requires.is_empty()
                    && r.excludes.is_empty()
                    && r.excludes_from.is_none()
                    && r.excludes_sets.is_empty()
                    && r.regex.is_none()
                    && r.commands.is_empty()
                    && r.not_commands.is_empty()
                    && r.status.is_empty()
                    && r.not_status.is_empty()
                    && r.replycodes.is_empty()
                    && r.not_replycodes.is_empty()
                    && r.class.is_none()
                    && r.actions.is_empty()
                    && r.not_actions.is_empty()
                    && r.not_class.is_none()
                    && !r.no_replycode
                    && r.hints.is_empty()
                    && !r.from_host,
                id: r.id,
                reason: r.reason,
                phrases: r.phrases,
            })
            .collect(),
    })
}

impl RuleSet {
    /// The advice of `reason` (every reason has one: `compile` checks).
    pub(crate) fn advice(&self, reason: Reason) -> &Advice {
        &self.advice[reason as usize]
    }

    /// The own advice of the rule a verdict's `explain` names as its
    /// decider (`rule <id>: …`, as the classifier writes it), if that rule
    /// still gives the verdict's reason: for re-deriving the consequences
    /// of a finished verdict, which keeps only its explanation.
    pub(crate) fn advice_of_explained_rule(
        &self,
        explain: &str,
        reason: Reason,
    ) -> crate::advice::RuleAdvice {
        explain
            .strip_prefix("rule ")
            .and_then(|rest| rest.split_once(": "))
            .and_then(|(id, _)| {
                self.rules
                    .iter()
                    .find(|r| r.id == id && r.reason == reason && !r.advice.is_empty())
            })
            .map(|r| r.advice)
            .unwrap_or_default()
    }
}

/// Rules and status entries in a file's text (0 when it does not parse;
/// building the rules reports that).
pub(crate) fn count_rules_and_statuses(text: &str) -> (usize, usize) {
    toml::from_str::<RuleFile>(text)
        .map(|f| (f.rule.len(), f.status.len()))
        .unwrap_or((0, 0))
}

/// Rules in a file's text.
pub(crate) fn count_rules(text: &str) -> usize {
    count_rules_and_statuses(text).0
}

/// Reads the user's rule file.
pub(crate) fn read_user_file(path: &Path) -> Result<String, RuleError> {
    std::fs::read_to_string(path).map_err(|source| RuleError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl RuleSet {
    /// Compiles the files in precedence order (user files first). Each
    /// file's sections are added in turn; what needs every file (phrases
    /// reused by id, the host and status indexes, the advice table, the
    /// reason order) is resolved at the end.
    pub(crate) fn compile(sources: &[Source<'_>]) -> Result<Self, RuleError> {
        let mut c = Compiler::default();
        for src in sources {
            let file: RuleFile = toml::from_str(src.text).map_err(|e| RuleError::Toml {
                file: src.name.to_string(),
                source: Box::new(e),
            })?;
            c.add_file(src, file)?;
        }
        c.finish()
    }
}

/// How a rule uses words it takes from elsewhere: a named phrase set, or
/// another rule's phrases or excludes.
#[derive(Clone, Copy)]
enum SetUse {
    /// They make the rule a candidate (`phrases_sets`, `phrases_from`).
    Phrases,
    /// They veto the rule (`excludes_sets`, `excludes_from`).
    Excludes,
}

/// The rules being compiled: what the files gave so far.
#[derive(Default)]
struct Compiler {
    patterns: Builder,
    rules: Vec<Rule>,
    statuses: Vec<StatusEntry>,
    providers: Vec<Provider>,
    blocklists: Vec<BlocklistDef>,
    /// Each rule's own phrases, for `phrases_from`.
    phrases_by_id: HashMap<String, Vec<String>, std::hash::BuildHasherDefault<Fnv>>,
    /// Each rule's own excludes, for `excludes_from`.
    excludes_by_id: HashMap<String, Vec<String>, std::hash::BuildHasherDefault<Fnv>>,
    /// (rule index, id it takes phrases from, file): resolved once every
    /// file is read, so a rule may reuse a later file's phrases.
    phrases_from: Vec<(usize, String, String)>,
    /// (rule index, id it takes excludes from, file), resolved likewise.
    excludes_from: Vec<(usize, String, String)>,
    /// Every file's `[phrase_sets]`, merged by name.
    phrase_sets: std::collections::BTreeMap<String, Vec<String>>,
    /// (rule index, set name, file, whether the set gives candidate
    /// phrases rather than vetoes), resolved like `phrases_from`.
    sets_used: Vec<(usize, String, String, SetUse)>,
    advice: AdviceBuilder,
    order: Option<ReasonOrder>,
}

impl Compiler {
    fn add_file(&mut self, src: &Source<'_>, file: RuleFile) -> Result<(), RuleError> {
        let file_reason = file
            .reason
            .as_deref()
            .map(|r| parse_reason(src.name, "reason", r))
            .transpose()?;
        let provider = self.add_provider(src, &file)?;
        for (name, phrases) in file.phrase_sets {
            if phrases.is_empty() {
                return Err(invalid(src.name, format!("phrase set {name:?} is empty")));
            }
            self.phrase_sets.entry(name).or_default().extend(phrases);
        }
        for spec in file.rule {
            self.add_rule(src, spec, file_reason, provider)?;
        }
        for spec in file.status {
            self.add_status(src, spec)?;
        }
        for spec in file.blocklist {
            self.add_blocklist(src, spec)?;
        }
        for (reason, spec) in &file.advice {
            self.advice
                .add(reason, spec)
                .map_err(|e| invalid(src.name, e))?;
        }
        if let Some(order) = &file.order {
            self.set_order(src, order)?;
        }
        Ok(())
    }

    /// The file's provider (one provider may span several files): its
    /// hosts, domains and text markers.
    fn add_provider(
        &mut self,
        src: &Source<'_>,
        file: &RuleFile,
    ) -> Result<Option<usize>, RuleError> {
        let Some(name) = &file.provider else {
            if file.markers.is_empty() && file.rhosts.is_empty() && file.domains.is_empty() {
                return Ok(None);
            }
            return Err(invalid(
                src.name,
                "markers/rhosts/domains need a `provider = \"…\"`",
            ));
        };
        let idx = match self.providers.iter().position(|p| &p.name == name) {
            Some(i) => i,
            None => {
                self.providers.push(Provider {
                    name: name.clone(),
                    rhosts: Vec::new(),
                    domains: Vec::new(),
                });
                self.providers.len() - 1
            }
        };
        let p = &mut self.providers[idx];
        p.rhosts
            .extend(file.rhosts.iter().map(|h| h.to_ascii_lowercase()));
        p.domains
            .extend(file.domains.iter().map(|d| d.to_ascii_lowercase()));
        for m in &file.markers {
            self.patterns
                .pattern(m, Target::ProviderMarker(idx as u32))
                .map_err(|e| invalid(src.name, format!("marker: {e}")))?;
        }
        Ok(Some(idx))
    }

    fn add_rule(
        &mut self,
        src: &Source<'_>,
        spec: RuleSpec,
        file_reason: Option<Reason>,
        provider: Option<usize>,
    ) -> Result<(), RuleError> {
        let err = |message: String| invalid(src.name, format!("rule {}: {message}", spec.id));
        let reason = match (&spec.reason, file_reason) {
            (Some(r), _) => parse_reason(src.name, &spec.id, r)?,
            (None, Some(r)) => r,
            (None, None) => return Err(err("no reason".into())),
        };
        if self
            .rules
            .iter()
            .any(|r| r.id == spec.id && r.tier == src.tier)
        {
            return Err(invalid(src.name, format!("duplicate rule id {}", spec.id)));
        }
        let idx = self.rules.len();
        let target = Target::Rule(idx as u32);
        let mut phrase_ids = |list: &[String]| {
            list.iter()
                .map(|p| self.patterns.pattern(p, target).map_err(&err))
                .collect::<Result<Vec<u32>, _>>()
        };
        let any = phrase_ids(&spec.phrases)?;
        let requires = phrase_ids(&spec.requires)?;
        let excludes = phrase_ids(&spec.excludes)?;
        let regex = spec
            .regex
            .as_deref()
            .map(|r| LazyRegex::checked(format!("(?i){r}")).map_err(&err))
            .transpose()?;
        let parse_statuses = |list: &[String]| {
            list.iter()
                .map(|s| StatusMatch::parse(s).ok_or_else(|| err(format!("bad status {s:?}"))))
                .collect::<Result<Vec<_>, _>>()
        };
        let status = parse_statuses(&spec.status)?;
        let not_status = parse_statuses(&spec.not_status)?;
        if any.is_empty()
            && spec.phrases_from.is_none()
            && spec.phrases_sets.is_empty()
            && regex.is_none()
            && status.is_empty()
            && spec.replycodes.is_empty()
        {
            return Err(err(
                "needs phrases, phrases_from, phrases_sets, regex, status or replycodes".into(),
            ));
        }
        if [spec.class, spec.not_class]
            .iter()
            .flatten()
            .any(|c| !matches!(c, 2 | 4 | 5))
        {
            return Err(err("class must be 2, 4 or 5".into()));
        }
        if spec.from_host && provider.is_none() {
            return Err(err("from_host needs a provider file".into()));
        }
        let remedy = |v: &Option<String>| {
            v.as_deref()
                .map(|v| {
                    v.parse::<rebound_core::Remedy>()
                        .map_err(|e| err(e.to_string()))
                })
                .transpose()
        };
        let advice = crate::advice::RuleAdvice {
            owner: spec
                .owner
                .as_deref()
                .map(|v| {
                    v.parse::<rebound_core::Owner>()
                        .map_err(|e| err(e.to_string()))
                })
                .transpose()?,
            remedy: remedy(&spec.remedy)?,
            temporary_remedy: remedy(&spec.temporary_remedy)?,
        };
        if let Some(from) = &spec.phrases_from {
            self.phrases_from
                .push((idx, from.clone(), src.name.to_string()));
        }
        if let Some(from) = &spec.excludes_from {
            self.excludes_from
                .push((idx, from.clone(), src.name.to_string()));
        }
        for (sets, used) in [
            (&spec.phrases_sets, SetUse::Phrases),
            (&spec.excludes_sets, SetUse::Excludes),
        ] {
            for set in sets {
                self.sets_used
                    .push((idx, set.clone(), src.name.to_string(), used));
            }
        }
        let hints = spec
            .hints
            .iter()
            .map(|h| parse_reason(src.name, &spec.id, h))
            .collect::<Result<Vec<_>, _>>()?;
        self.phrases_by_id
            .insert(spec.id.clone(), spec.phrases.clone());
        self.excludes_by_id
            .insert(spec.id.clone(), spec.excludes.clone());
        self.rules.push(Rule {
            id: spec.id,
            reason,
            tier: src.tier,
            provider,
            order: idx,
            any,
            requires,
            excludes,
            regex,
            commands: spec.commands.iter().map(|c| normalize_command(c)).collect(),
            not_commands: spec
                .not_commands
                .iter()
                .map(|c| normalize_command(c))
                .collect(),
            status,
            not_status,
            replycodes: spec.replycodes,
            not_replycodes: spec.not_replycodes,
            class: spec.class,
            not_class: spec.not_class,
            actions: spec
                .actions
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
            not_actions: spec
                .not_actions
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
            no_replycode: spec.no_replycode,
            hints,
            from_host: spec.from_host,
            explain: spec.explain,
            advice,
        });
        Ok(())
    }

    fn add_status(&mut self, src: &Source<'_>, spec: StatusSpec) -> Result<(), RuleError> {
        let matcher = StatusMatch::parse(&spec.code)
            .filter(|m| m.detail.is_some())
            .ok_or_else(|| invalid(src.name, format!("bad status code {:?}", spec.code)))?;
        self.statuses.push(StatusEntry {
            matcher,
            reason: parse_reason(src.name, &spec.code, &spec.reason)?,
            decides: spec.decides,
            unless: spec
                .unless
                .iter()
                .map(|r| parse_reason(src.name, &spec.code, r))
                .collect::<Result<_, _>>()?,
            explain: spec.explain,
            tier: src.tier,
        });
        Ok(())
    }

    /// A blocklist's zones (what each lists) and the bare markers that
    /// name its operator.
    fn add_blocklist(&mut self, src: &Source<'_>, spec: BlocklistSpec) -> Result<(), RuleError> {
        let list = self.blocklists.len() as u32;
        let err = |e: String| invalid(src.name, format!("{}: {e}", spec.name));
        let default_listed = match &spec.listed {
            Some(l) => l.parse().map_err(err)?,
            None => Listed::Unknown,
        };
        let zones = [
            (&spec.zones.ip, Listed::Ip),
            (&spec.zones.domain, Listed::Domain),
            (&spec.zones.url, Listed::Url),
            (&spec.zones.unknown, Listed::Unknown),
        ];
        for (list_zones, listed) in zones {
            for z in list_zones {
                let target = Target::Blocklist {
                    list,
                    listed,
                    is_zone: true,
                };
                self.patterns.pattern(z, target).map_err(err)?;
            }
        }
        for m in &spec.markers {
            let target = Target::Blocklist {
                list,
                listed: default_listed,
                is_zone: false,
            };
            self.patterns.pattern(m, target).map_err(err)?;
        }
        self.blocklists.push(BlocklistDef { name: spec.name });
        Ok(())
    }

    /// The reason order is the built-in files' alone: it is what status
    /// `decides`/`unless` entries and every phrase list were tuned against,
    /// so a user file changes a reason's rules, not its rank.
    fn set_order(&mut self, src: &Source<'_>, spec: &OrderSpec) -> Result<(), RuleError> {
        if src.tier == Tier::User {
            return Err(invalid(
                src.name,
                "[order] is built in (rules/order.toml); a user file cannot change it",
            ));
        }
        if self.order.is_some() {
            return Err(invalid(src.name, "a second [order]"));
        }
        let parse = |list: &[String]| {
            list.iter()
                .map(|r| parse_reason(src.name, "order", r))
                .collect::<Result<Vec<_>, _>>()
        };
        let order = ReasonOrder {
            primary: parse(&spec.primary)?,
            secondary: parse(&spec.secondary)?,
        };
        let mut seen = [false; Reason::ALL.len()];
        for &r in order.primary.iter().chain(&order.secondary) {
            if std::mem::replace(&mut seen[r as usize], true) {
                return Err(invalid(src.name, format!("order: {r} listed twice")));
            }
        }
        if let Some(missing) = Reason::ALL.iter().find(|r| !seen[**r as usize]) {
            return Err(invalid(src.name, format!("order: {missing} is not listed")));
        }
        self.order = Some(order);
        Ok(())
    }

    fn finish(mut self) -> Result<RuleSet, RuleError> {
        self.add_command_markers()?;
        self.resolve_phrases_from()?;
        let scanner =
            PhraseScanner::new(&self.patterns.patterns).map_err(|e| invalid("(all rules)", e))?;
        let unanchored = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_unanchored())
            .map(|(i, _)| i as u32)
            .collect();
        let (host_index, domain_index) = index_providers(&self.providers);
        let order = self
            .order
            .ok_or_else(|| invalid("(all rules)", "no [order] of reasons"))?;
        Ok(RuleSet {
            status_index: index_statuses(&self.statuses),
            host_index,
            domain_index,
            scanner,
            targets: self.patterns.targets,
            patterns: self.patterns.patterns,
            rules: self.rules,
            unanchored,
            statuses: self.statuses,
            providers: self.providers,
            blocklists: self.blocklists,
            advice: self.advice.finish().map_err(|e| invalid("(advice)", e))?,
            order,
        })
    }

    /// `reply::smtp_command`'s markers go into the same automaton, so the
    /// classifier learns the command in its one pass.
    fn add_command_markers(&mut self) -> Result<(), RuleError> {
        for (i, (marker, _)) in crate::reply::command_markers_table().iter().enumerate() {
            self.patterns
                .pattern(marker, Target::Command(i as u32))
                .map_err(|e| invalid("(command markers)", e))?;
        }
        Ok(())
    }

    fn resolve_phrases_from(&mut self) -> Result<(), RuleError> {
        // Another rule's phrases (`phrases_from`) or excludes
        // (`excludes_from`), by its id.
        let reused = [
            (std::mem::take(&mut self.phrases_from), SetUse::Phrases),
            (std::mem::take(&mut self.excludes_from), SetUse::Excludes),
        ];
        for (list, used) in reused {
            let (by_id, field) = match used {
                SetUse::Phrases => (&self.phrases_by_id, "phrases_from"),
                SetUse::Excludes => (&self.excludes_by_id, "excludes_from"),
            };
            for (idx, from, file) in list {
                let words = by_id
                    .get(&from)
                    .ok_or_else(|| invalid(&file, format!("{field}: no rule {from:?}")))?;
                lend_words(&mut self.patterns, &mut self.rules, idx, words, used, &file)?;
            }
        }
        for (idx, name, file, used) in std::mem::take(&mut self.sets_used) {
            let field = match used {
                SetUse::Phrases => "phrases_sets",
                SetUse::Excludes => "excludes_sets",
            };
            let phrases = self
                .phrase_sets
                .get(&name)
                .ok_or_else(|| invalid(&file, format!("{field}: no phrase set {name:?}")))?;
            lend_words(
                &mut self.patterns,
                &mut self.rules,
                idx,
                phrases,
                used,
                &file,
            )?;
        }
        for r in &mut self.rules {
            r.any.sort_unstable();
            r.any.dedup();
            r.excludes.sort_unstable();
            r.excludes.dedup();
        }
        Ok(())
    }
}

/// Whether two sorted id lists share an id, searching the longer one for
/// each id of the shorter: a rule may hold hundreds of phrases and a reply
/// hits a dozen.
fn shares_one(a: &[u32], b: &[u32]) -> bool {
    debug_assert!(a.is_sorted() && b.is_sorted());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.iter().any(|x| long.binary_search(x).is_ok())
}

/// Gives rule `idx` the `words` taken from elsewhere (a phrase set, another
/// rule), as candidates or as vetoes.
fn lend_words(
    patterns: &mut Builder,
    rules: &mut [Rule],
    idx: usize,
    words: &[String],
    used: SetUse,
    file: &str,
) -> Result<(), RuleError> {
    for p in words {
        let id = patterns
            .pattern(p, Target::Rule(idx as u32))
            .map_err(|e| invalid(file, e))?;
        match used {
            SetUse::Phrases => rules[idx].any.push(id),
            SetUse::Excludes => rules[idx].excludes.push(id),
        }
    }
    Ok(())
}

/// Host suffix → provider and recipient domain suffix → provider; the
/// first provider to name a suffix keeps it.
fn index_providers(providers: &[Provider]) -> (SuffixIndex, SuffixIndex) {
    let mut host_index = SuffixIndex::default();
    let mut domain_index = SuffixIndex::default();
    for (i, p) in providers.iter().enumerate() {
        for h in &p.rhosts {
            host_index
                .entry(h.trim_matches('.').to_string())
                .or_insert(i);
        }
        for d in &p.domains {
            domain_index
                .entry(d.trim_matches('.').to_string())
                .or_insert(i);
        }
    }
    (host_index, domain_index)
}

/// Every code the status table mentions → its winning entry, resolved
/// once: user entries first, then exact class before any-class, then order
/// of definition.
fn index_statuses(
    statuses: &[StatusEntry],
) -> HashMap<(u8, u16, u16), usize, std::hash::BuildHasherDefault<Fnv>> {
    let mut index: HashMap<(u8, u16, u16), usize, std::hash::BuildHasherDefault<Fnv>> =
        HashMap::default();
    let rank = |e: &StatusEntry| (e.tier, e.matcher.class == 0);
    for (i, e) in statuses.iter().enumerate() {
        let Some(detail) = e.matcher.detail else {
            continue;
        };
        let classes: &[u8] = if e.matcher.class == 0 {
            &[2, 4, 5]
        } else {
            &[e.matcher.class]
        };
        for &class in classes {
            let key = (class, e.matcher.subject, detail);
            match index.get(&key) {
                Some(&j) if rank(&statuses[j]) <= rank(e) => {}
                _ => {
                    index.insert(key, i);
                }
            }
        }
    }
    index
}

impl RuleSet {
    /// One pass of the automaton over `text`, case ignored (see
    /// [`crate::scanner::fold_case`]): calls `f(pattern id, start, end)`
    /// for every match, overlapping ones included, in no particular order.
    /// The offsets are `text`'s own: folding keeps every byte in place.
    pub(crate) fn scan(&self, text: &str, f: impl FnMut(u32, usize, usize)) {
        self.scanner
            .scan(crate::scanner::fold_case(text).as_bytes(), f);
    }

    /// The provider owning `host` (a lower-cased host name), by its
    /// longest registered suffix.
    pub(crate) fn provider_of_host(&self, host: &str) -> Option<usize> {
        lookup_suffix(&self.host_index, host)
    }

    /// The provider hosting the (lower-cased) recipient domain.
    pub(crate) fn provider_of_domain(&self, domain: &str) -> Option<usize> {
        lookup_suffix(&self.domain_index, domain)
    }

    /// The status table's entry for `s`, user entries first, exact codes
    /// before any-class ones.
    pub(crate) fn status_entry(&self, s: EnhancedStatus) -> Option<&StatusEntry> {
        self.status_index
            .get(&(s.class_digit(), s.subject(), s.detail()))
            .map(|&i| &self.statuses[i])
    }
}

#[cfg(test)]
mod tests {
    use super::shares_one;

    #[test]
    fn shared_ids_are_found_from_either_side() {
        let many: Vec<u32> = (0..500).map(|i| i * 3).collect();
        assert!(shares_one(&many, &[1, 2, 300]));
        assert!(shares_one(&[1, 2, 300], &many));
        assert!(!shares_one(&many, &[1, 2, 301]));
        assert!(!shares_one(&[], &many));
        assert!(shares_one(&[7], &[7]));
    }
}
