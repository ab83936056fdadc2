//! Rebound's input parsers for machine-written delivery records: MTA logs
//! (Postfix and Sendmail maillog, Exim main log, PowerMTA accounting CSV) and
//! ESP webhook JSON (Amazon SES, SendGrid, Mailgun, Postmark, SparkPost,
//! Mailjet, Brevo, Mandrill, Resend), turned into
//! normalised [`Event`]s.
//!
//! This crate owns parsing, format detection and normalisation (addresses,
//! times, dedupe keys) and asks the shared classifier for every verdict; it
//! stores nothing (that is `rebound-ledger`'s job) and it does not read bounce
//! emails itself: `rebound-decode` does, and [`from_decoded`] turns its
//! records into events.
//!
//! Everything streams: a log is read line by line, a JSON Lines file record by
//! record; a JSON document that is not line-delimited is read whole up to
//! [`MAX_JSON_DOCUMENT`] bytes, and bigger ones are refused.

/// Public for insight, which names the listed IP of a blocklist incident
/// from the replies the same way ingest names an event's sending IP.
pub mod client_ip;
mod detect;
mod email;
mod exim;
mod pmta;
mod postfix;
mod reader;
mod rejudge;
mod sendmail;
pub mod time;
mod webhook;

pub use detect::detect;
pub use email::{addressed, forwarded_failure, from_decoded};
pub use reader::{EventReader, ReaderOptions};
pub use rejudge::Judge;
pub use webhook::{MandrillForm, mandrill_form};

/// The event times an input may state. Whatever the bounds, a time before
/// 1970 or after 9999 is refused: such a record is a broken or hostile one,
/// and one stored would break every chart drawn over the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// How far back from now (none: no bound, for backfilling old logs).
    pub max_age_ms: Option<i64>,
    /// How far ahead of now (clocks drift; a day is generous).
    pub max_ahead_ms: Option<i64>,
}

impl Default for TimeWindow {
    fn default() -> Self {
        Self {
            max_age_ms: None,
            max_ahead_ms: Some(86_400_000),
        }
    }
}

/// 9999-12-31T23:59:59.999Z.
const LAST_MS: i64 = 253_402_300_799_999;

impl TimeWindow {
    /// Ok, or why the time is refused.
    pub fn check(&self, time_ms: i64, now_ms: i64) -> Result<(), String> {
        let shown = || {
            if (0..=LAST_MS).contains(&time_ms) {
                time::format_rfc3339(time_ms)
            } else {
                format!("{time_ms} ms since 1970")
            }
        };
        if !(0..=LAST_MS).contains(&time_ms) {
            return Err(format!("event time {} is not a real date", shown()));
        }
        if let Some(age) = self.max_age_ms
            && time_ms < now_ms.saturating_sub(age)
        {
            return Err(format!(
                "event time {} is more than {} days old",
                shown(),
                age / 86_400_000
            ));
        }
        if let Some(ahead) = self.max_ahead_ms
            && time_ms > now_ms.saturating_add(ahead)
        {
            return Err(format!(
                "event time {} is more than {} hours ahead of now",
                shown(),
                ahead / 3_600_000
            ));
        }
        Ok(())
    }
}

use rebound_classify::{Classifier, SharedClassifier};
use rebound_core::{EnhancedStatus, Observation, Reason, ReplyCode, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// JSON documents that are not JSON Lines are read whole; this is the most we
/// read.
pub const MAX_JSON_DOCUMENT: u64 = 256 * 1024 * 1024;

/// Longest line we accept in a log; longer lines are reported and skipped.
pub const MAX_LINE: usize = 1024 * 1024;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Auto,
    Eml,
    Mbox,
    Maildir,
    Postfix,
    Exim,
    Sendmail,
    Pmta,
    Ses,
    Sendgrid,
    Mailgun,
    Postmark,
    Sparkpost,
    Mailjet,
    Brevo,
    Mandrill,
    Resend,
}

impl Format {
    pub const ALL: &'static [Format] = &[
        Format::Auto,
        Format::Eml,
        Format::Mbox,
        Format::Maildir,
        Format::Postfix,
        Format::Exim,
        Format::Sendmail,
        Format::Pmta,
        Format::Ses,
        Format::Sendgrid,
        Format::Mailgun,
        Format::Postmark,
        Format::Sparkpost,
        Format::Mailjet,
        Format::Brevo,
        Format::Mandrill,
        Format::Resend,
    ];

    /// The formats an [`EventReader`] reads record by record (logs and
    /// webhook payloads; `Auto` detects which); bounce emails go through
    /// the decoder instead.
    pub const RECORDS: &'static [Format] = &[
        Format::Auto,
        Format::Postfix,
        Format::Exim,
        Format::Sendmail,
        Format::Pmta,
        Format::Ses,
        Format::Sendgrid,
        Format::Mailgun,
        Format::Postmark,
        Format::Sparkpost,
        Format::Mailjet,
        Format::Brevo,
        Format::Mandrill,
        Format::Resend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Eml => "eml",
            Format::Mbox => "mbox",
            Format::Maildir => "maildir",
            Format::Postfix => "postfix",
            Format::Exim => "exim",
            Format::Sendmail => "sendmail",
            Format::Pmta => "pmta",
            Format::Ses => "ses",
            Format::Sendgrid => "sendgrid",
            Format::Mailgun => "mailgun",
            Format::Postmark => "postmark",
            Format::Sparkpost => "sparkpost",
            Format::Mailjet => "mailjet",
            Format::Brevo => "brevo",
            Format::Mandrill => "mandrill",
            Format::Resend => "resend",
        }
    }

    /// Bounce emails, read through the decoder rather than this crate.
    pub fn is_email(self) -> bool {
        matches!(self, Format::Eml | Format::Mbox | Format::Maildir)
    }

    /// ESP webhook JSON.
    pub fn is_json(self) -> bool {
        matches!(
            self,
            Format::Ses
                | Format::Sendgrid
                | Format::Mailgun
                | Format::Postmark
                | Format::Sparkpost
                | Format::Mailjet
                | Format::Brevo
                | Format::Mandrill
                | Format::Resend
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut s = s.trim().to_ascii_lowercase();
        // `email` reads better in a pipe transport's argv; it is one message.
        if s == "email" {
            s = "eml".into();
        }
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown format {s:?} (one of {})", names.join(", "))
            })
    }
}

/// What the source says happened to the message, before any judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Accepted by the receiving server.
    Delivered,
    /// A final failure: the sender gave up (or the receiver refused for good).
    Bounced,
    /// A temporary failure: the sender will retry.
    Deferred,
    /// Retries ran out.
    Expired,
    /// A feedback-loop complaint.
    Complained,
    /// Not attempted: the ESP dropped it (its own suppression list, policy).
    Dropped,
    /// An auto-reply.
    AutoReply,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Bounced => "bounced",
            Outcome::Deferred => "deferred",
            Outcome::Expired => "expired",
            Outcome::Complained => "complained",
            Outcome::Dropped => "dropped",
            Outcome::AutoReply => "autoreply",
        }
    }

    /// The DSN `Action:` equivalent handed to the classifier.
    fn action(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "delayed",
            _ => "failed",
        }
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "delivered" => Outcome::Delivered,
            "bounced" => Outcome::Bounced,
            "deferred" => Outcome::Deferred,
            "expired" => Outcome::Expired,
            "complained" => Outcome::Complained,
            "dropped" => Outcome::Dropped,
            "autoreply" => Outcome::AutoReply,
            _ => return Err(format!("unknown outcome {s:?}")),
        })
    }
}

/// One normalised delivery event, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, UTC milliseconds since the epoch.
    pub time_ms: i64,
    /// The recipient, normalised by [`normalize_address`].
    pub recipient: String,
    /// The recipient's domain, lower-case.
    pub recipient_domain: String,
    /// The envelope sender, normalised; `None` when unknown or null (`<>`).
    pub sender: Option<String>,
    /// The IP address the message was sent from.
    pub sending_ip: Option<String>,
    /// Campaign: `X-Campaign`, `List-ID`, ESP campaign/category/tag.
    pub campaign: Option<String>,
    /// Message-ID (or the ESP's message id, or the MTA queue id).
    pub message_id: Option<String>,
    pub outcome: Outcome,
    /// The raw reply or diagnostic text.
    pub text: String,
    /// The format name (`postfix`, `ses`, …).
    pub format: String,
    /// Where it was read: `file:line` (or `file#n` for the n-th record of a
    /// JSON document).
    pub source: String,
    /// Stable identity for deduplication: the event time and xxh3-128 of a
    /// source-specific identity string (an ESP event id, or message +
    /// recipient + time + outcome + text); see [`time_ordered_key`].
    #[serde(with = "hex16")]
    pub dedupe_key: [u8; 16],
    /// The shared classifier's judgement.
    pub verdict: Verdict,
    /// What the verdict was judged from, kept so that new rules can judge
    /// it again (`rebound reclassify`).
    #[serde(default)]
    pub evidence: Evidence,
}

/// Everything the classifier read for an event besides its text, as the
/// input stated it (not as the verdict completed it: a status the text
/// quotes is found again in the text, and one the input stated outranks
/// it), plus the id of the rules that judged it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// False for events stored before evidence was kept: they are judged
    /// again from what the verdict recorded (`Judge` and its `recovered`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recorded: bool,
    /// Reply code stated outside the text (a webhook field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replycode: Option<ReplyCode>,
    /// Enhanced status stated outside the text (a DSN `Status:`, an ESP
    /// field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EnhancedStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtpcommand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rhost: Option<String>,
    /// The reporting host (bounce emails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lhost: Option<String>,
    /// The DSN `Action:` or its equivalent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The reason the input's format states (the decoder's hint, or the
    /// ESP's own type and severity read through its table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Reason>,
    /// The ESP calls the failure temporary or a block of the sender.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub temporary: bool,
    /// The ESP's own type and severity fields as it stated them
    /// (`bounceType=Permanent; bounceSubType=General`), which its table
    /// turned into `hint` and `temporary`: kept so that a changed table
    /// can be checked against what was said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp: Option<String>,
    /// A bounce message's observation (see `Observation::bounce_report`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bounce_report: bool,
    /// The reason a bounce format's decoder fixed for the stand-in status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standin: Option<Reason>,
    /// The id of the rules that judged the event
    /// (`rebound_classify::Classifier::id`); `None` when unknown (stored
    /// before rules had ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_id: Option<String>,
    /// A bounce of mail forwarded from the event's recipient: the address
    /// it was forwarded to, which is the one that failed (see
    /// [`crate::addressed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to: Option<String>,
}

mod hex16 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&super::hex(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let s = String::deserialize(d)?;
        super::unhex16(&s).ok_or_else(|| serde::de::Error::custom("bad dedupe key"))
    }
}

/// Lower-case hexadecimal.
pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

/// Parses 32 hex digits.
pub fn unhex16(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for i in 0..16 {
        let d = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        out[i] = d(b[2 * i])? << 4 | d(b[2 * i + 1])?;
    }
    Some(out)
}

/// The dedupe key of an identity string.
pub fn dedupe_key(identity: &str) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(identity.as_bytes()).to_be_bytes()
}

/// An event's stored key: the event time (48-bit big-endian milliseconds)
/// followed by the first 10 bytes of its identity hash. The time is part of
/// every identity, so the key is as unique as the hash, and a time-ordered
/// input inserts in index order instead of at random places.
pub fn time_ordered_key(time_ms: i64, hash: [u8; 16]) -> [u8; 16] {
    let t = time_ms.clamp(0, (1 << 48) - 1) as u64;
    let mut k = [0u8; 16];
    k[..6].copy_from_slice(&t.to_be_bytes()[2..]);
    k[6..].copy_from_slice(&hash[..10]);
    k
}

/// Normalises an address for storage and lookup: trims blanks and angle
/// brackets, strips a `mailto:` and a display name, lower-cases the whole
/// address and drops a trailing dot from the domain.
///
/// The local part is lower-cased too. RFC 5321 lets a server treat it as
/// case-sensitive, but no mailbox provider of note does, and ESPs match their
/// suppression lists case-insensitively: keeping case would let `John@x`
/// slip past a suppression of `john@x`. Sub-addresses (`+tag`) are kept, as
/// they may be different mailboxes.
///
/// Returns `None` for anything that is not `local@domain`.
pub fn normalize_address(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    // "Name <addr>"
    if let (Some(l), Some(r)) = (s.rfind('<'), s.rfind('>'))
        && l < r
    {
        s = &s[l + 1..r];
    }
    let s = s.trim().trim_matches(|c| c == '<' || c == '>' || c == '\'');
    // A whole address in quotes (`"ann@example.net"`) loses them; a quoted
    // local part (`"neko..nyaan"@example.org`, RFC 5321's quoted string)
    // keeps both of its quotes, not just the closing one.
    let s = match s.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner,
        _ => s,
    };
    let s = s
        .strip_prefix("mailto:")
        .or_else(|| s.strip_prefix("MAILTO:"))
        .unwrap_or(s)
        .trim();
    let (local, domain) = s.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.');
    // U+FFFD is what invalid UTF-8 became on the way in: such an address
    // names nobody, and storing it would suppress a string of question
    // marks.
    if local.is_empty()
        || domain.is_empty()
        || s.len() > 320
        || s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || c == ',' || c == char::REPLACEMENT_CHARACTER
        })
    {
        return None;
    }
    let domain = normalize_domain(domain)?;
    let mut out = String::with_capacity(local.len() + domain.len() + 1);
    if local.is_ascii() {
        // Nearly every address: lower-cased in place, byte by byte.
        out.push_str(local);
        out.make_ascii_lowercase();
    } else {
        for c in local.chars() {
            out.extend(c.to_lowercase());
        }
    }
    out.push('@');
    out.push_str(&domain);
    Some(out)
}

/// One form for a domain however it was written: IDNA's mapping (Unicode
/// case folding and the rest of UTS #46) to the ASCII form, then back to
/// Unicode, so `BÜCHER.DE`, `bücher.de` and `xn--bcher-kva.de` are the same
/// key, and reports show what people type. `None` for what is no domain.
fn normalize_domain(domain: &str) -> Option<std::borrow::Cow<'_, str>> {
    if domain
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !domain.contains("xn--")
    {
        return Some(std::borrow::Cow::Borrowed(domain));
    }
    let ascii = idna::domain_to_ascii(domain).ok()?;
    let (unicode, checked) = idna::domain_to_unicode(&ascii);
    checked.ok()?;
    Some(std::borrow::Cow::Owned(unicode))
}

/// The domain of a normalised address.
pub fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// A record that could not be read: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ParseError {
    /// `file:line` (or `file#n`).
    pub location: String,
    pub message: String,
}

/// What a parser extracted from one record, before classification.
#[derive(Debug, Clone, Default)]
pub(crate) struct Draft {
    pub time_ms: i64,
    pub recipient: String,
    pub sender: Option<String>,
    pub sending_ip: Option<String>,
    pub campaign: Option<String>,
    pub message_id: Option<String>,
    pub outcome: Option<Outcome>,
    pub text: String,
    pub replycode: Option<ReplyCode>,
    pub status: Option<EnhancedStatus>,
    pub smtpcommand: Option<String>,
    pub rhost: Option<String>,
    pub hint: Option<Reason>,
    /// The hint is a broad class of the source ("general hard bounce"),
    /// dropped when the reply's status says more.
    pub hint_is_broad: bool,
    /// The source calls the failure temporary, or a block of the sender:
    /// never a hard bounce, whatever the text says.
    pub temporary: bool,
    /// The ESP's own classification fields, as stated (see `Evidence::esp`).
    pub esp: Option<String>,
    /// Source-specific identity; empty means "derive from the fields".
    pub identity: String,
}

impl Draft {
    pub(crate) fn set_status(&mut self, s: &str) {
        let s = s.trim();
        let tok = s
            .split(|c: char| c.is_whitespace() || c == ';')
            .next()
            .unwrap_or("");
        if let Ok(st) = tok.parse() {
            self.status = Some(st);
        }
    }
}

/// Turns drafts into events: normalises, classifies (with a bounded cache of
/// verdicts) and computes dedupe keys.
pub struct Normaliser {
    classifier: SharedClassifier,
    cache: HashMap<u128, Verdict>,
    /// Entries kept before the cache is emptied.
    pub cache_limit: usize,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl Default for Normaliser {
    fn default() -> Self {
        Self::new()
    }
}

impl Normaliser {
    /// A normaliser judging with the built-in rules.
    pub fn new() -> Self {
        Self::with_classifier(SharedClassifier::Builtin)
    }

    /// A normaliser judging with `classifier` (user rule files).
    pub fn with_classifier(classifier: SharedClassifier) -> Self {
        Self {
            classifier,
            cache: HashMap::new(),
            cache_limit: 200_000,
            cache_hits: 0,
            cache_misses: 0,
        }
    }

    /// Classifies an observation. Verdicts are cached by a 128-bit hash of
    /// everything the classifier reads, with the recipient address in the text
    /// replaced by a placeholder (so `550 <a@x> unknown` and `550 <b@x>
    /// unknown` share one entry) and, for deliveries only, ids and numbers
    /// masked.
    pub fn classify(&mut self, obs: &Observation) -> Verdict {
        let mut key = String::with_capacity(obs.text.len() + 64);
        if obs.action.as_deref() == Some("delivered") {
            // Acceptance replies differ only in ids and timestamps
            // (`250 2.0.0 Ok: queued as 4AB12`).
            mask_variable(&obs.text, &mut key);
        } else {
            match obs.recipient.as_deref() {
                Some(r) if !r.is_empty() && obs.text.contains(r) => {
                    key.push_str(&obs.text.replace(r, "\u{1}"))
                }
                _ => key.push_str(&obs.text),
            }
        }
        // Everything else the classifier reads, hashed into the key.
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(key.as_bytes());
        let opt = |h: &mut xxhash_rust::xxh3::Xxh3, s: Option<&str>| {
            h.update(&[0x1f, s.is_some() as u8]);
            h.update(s.unwrap_or("").as_bytes());
        };
        h.update(&obs.replycode.map(|c| c.get()).unwrap_or(0).to_le_bytes());
        let st = obs
            .status
            .map(|s| (s.class_digit(), s.subject(), s.detail()));
        let (c, sj, dt) = st.unwrap_or((0, 0, 0));
        h.update(&[c]);
        h.update(&sj.to_le_bytes());
        h.update(&dt.to_le_bytes());
        opt(&mut h, obs.smtpcommand.as_deref());
        opt(&mut h, obs.rhost.as_deref());
        opt(&mut h, obs.recipient_domain().as_deref());
        opt(&mut h, obs.action.as_deref());
        opt(&mut h, obs.reason_hint.map(|r| r.as_str()));
        opt(&mut h, obs.source.as_deref());
        let key = h.digest128();
        if let Some(v) = self.cache.get(&key) {
            self.cache_hits += 1;
            return v.clone();
        }
        self.cache_misses += 1;
        let v = self.classifier.classify(obs);
        if self.cache.len() >= self.cache_limit {
            self.cache.clear();
        }
        self.cache.insert(key, v.clone());
        v
    }

    pub(crate) fn finish(
        &mut self,
        d: Draft,
        format: Format,
        source: String,
    ) -> Result<Event, String> {
        let recipient = normalize_address(&d.recipient)
            .ok_or_else(|| format!("not a recipient address: {:?}", d.recipient))?;
        let outcome = d.outcome.ok_or("no outcome")?;
        let hint = d.hint.or(match outcome {
            Outcome::Delivered => Some(Reason::Delivered),
            Outcome::Complained => Some(Reason::Feedback),
            Outcome::Expired => Some(Reason::Expired),
            Outcome::AutoReply => Some(Reason::Vacation),
            _ => None,
        });
        let obs = Observation {
            text: d.text.clone(),
            replycode: d.replycode,
            status: d.status,
            smtpcommand: d.smtpcommand.clone(),
            rhost: d.rhost.clone(),
            lhost: None,
            recipient: Some(recipient.clone()),
            action: Some(outcome.action().to_string()),
            reason_hint: hint,
            source: Some(format.as_str().to_string()),
            bounce_report: false,
        };
        let mut verdict = self.classify(&obs);
        apply_source_facts(&self.classifier, &mut verdict, outcome, hint, d.temporary);
        // The identity, hashed as a stream (same bytes as the documented
        // `format \x1f …` string, without building it).
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let sep = |h: &mut xxhash_rust::xxh3::Xxh3, s: &[u8]| {
            h.update("\u{1f}".as_bytes());
            h.update(s);
        };
        h.update(format.as_str().as_bytes());
        if d.identity.is_empty() {
            sep(&mut h, d.message_id.as_deref().unwrap_or("").as_bytes());
            sep(&mut h, recipient.as_bytes());
            sep(&mut h, d.time_ms.to_string().as_bytes());
            sep(&mut h, outcome.as_str().as_bytes());
            sep(&mut h, d.text.as_bytes());
        } else {
            sep(&mut h, d.identity.as_bytes());
            sep(&mut h, recipient.as_bytes());
        }
        let key = time_ordered_key(d.time_ms, h.digest128().to_be_bytes());
        // Webhooks rarely state which of our addresses sent.
        let sending_ip = d
            .sending_ip
            .filter(|s| !s.is_empty())
            .or_else(|| crate::client_ip::of_reply(outcome, &d.text));
        Ok(Event {
            time_ms: d.time_ms,
            recipient_domain: domain_of(&recipient).to_string(),
            recipient,
            sender: d.sender.as_deref().and_then(normalize_address),
            sending_ip,
            campaign: d.campaign.filter(|s| !s.is_empty()),
            message_id: d.message_id.filter(|s| !s.is_empty()),
            outcome,
            text: d.text,
            format: format.as_str().to_string(),
            source,
            dedupe_key: key,
            verdict,
            evidence: Evidence {
                recorded: true,
                replycode: d.replycode,
                status: d.status,
                smtpcommand: d.smtpcommand,
                rhost: d.rhost,
                lhost: None,
                action: Some(outcome.action().to_string()),
                hint,
                temporary: d.temporary,
                esp: d.esp,
                bounce_report: false,
                standin: None,
                rules_id: Some(self.classifier.id().to_string()),
                forwarded_to: None,
            },
        })
    }
}

/// What only the source knows, applied after classification: a message the
/// ESP dropped keeps the ESP's reason, and a failure the ESP calls
/// temporary (or a block of the sender) is not permanent.
pub(crate) fn apply_source_facts(
    classifier: &Classifier,
    verdict: &mut Verdict,
    outcome: Outcome,
    hint: Option<Reason>,
    temporary: bool,
) {
    if outcome == Outcome::Dropped
        && let Some(h) = hint
        && verdict.reason != h
    {
        // Not attempted: no receiving server replied, and the text and
        // status are the ESP's own account of why it did not send (SES
        // writes `5.1.1` for an address on its suppression list). Its
        // stated reason is the fact.
        verdict.reason = h;
        classifier.settle(verdict);
        verdict.explain = format!("hint {h}: the ESP did not send the message and says why");
    }
    if temporary && verdict.permanent != Some(false) {
        // The ESP's own verdict: it will retry, or it judged the refusal
        // a block of the sender. A reply that reads as permanent (a
        // block worded "550 user unknown") is then no reason to drop
        // the address; `settle` re-derives hard bounce and remedy.
        verdict.permanent = Some(false);
        classifier.settle(verdict);
        verdict
            .explain
            .push_str("; the ESP reports the failure as temporary or a block, not permanent");
    }
}

/// Copies `text` with every token that holds a digit replaced by `#`, except
/// reply codes (`250`) and enhanced status codes (`2.0.0`).
fn mask_variable(text: &str, out: &mut String) {
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let tok = &rest[..end];
        let has_digit = tok.bytes().any(|b| b.is_ascii_digit());
        let is_code = tok.len() == 3 && tok.bytes().all(|b| b.is_ascii_digit());
        if has_digit && !is_code && EnhancedStatus::parse(tok).is_none() {
            out.push('#');
        } else {
            out.push_str(tok);
        }
        rest = &rest[end..];
    }
}

/// The command a reply answered, as `rebound_classify::reply::smtp_command`
/// reads it (the one reader the classifier and the decoders use too).
pub(crate) fn smtp_command_in(text: &str) -> Option<String> {
    rebound_classify::reply::smtp_command(text).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_normalise() {
        assert_eq!(
            normalize_address("  <John.Doe@Example.COM.> ").as_deref(),
            Some("john.doe@example.com")
        );
        assert_eq!(
            normalize_address("\"Doe, John\" <j+tag@X.org>").as_deref(),
            Some("j+tag@x.org")
        );
        assert_eq!(normalize_address("mailto:a@b").as_deref(), Some("a@b"));
        assert_eq!(normalize_address("no-at-sign"), None);
        assert_eq!(normalize_address("@x.org"), None);
        assert_eq!(normalize_address("a b@x.org"), None);
        assert_eq!(normalize_address("<>"), None);
        // A quoted local part keeps both quotes; a quoted whole address
        // loses them.
        assert_eq!(
            normalize_address("\"Neko..Nyaan\"@Example.org").as_deref(),
            Some("\"neko..nyaan\"@example.org")
        );
        assert_eq!(
            normalize_address("\"ann@example.net\"").as_deref(),
            Some("ann@example.net")
        );
    }

    /// Log readers and webhooks read a reply's codes with the classifier's
    /// reader (`reply::codes`, what `reply::parse` finds). It replaced a
    /// reader of ingest's own; on 1,205 real reply texts (the Sisimai
    /// corpus's diagnostic codes, the provider-documented replies, the
    /// fixtures) the two differed on 30, and on each the classifier's
    /// reading is the right one. These are those shapes.
    #[test]
    fn codes_are_read_as_the_classifier_reads_them() {
        let codes = |t: &str| {
            let (c, s) = rebound_classify::reply::codes(t);
            (c.map(|c| c.get()), s.map(|s| s.to_string()))
        };
        let both = |c: u16, s: &str| (Some(c), Some(s.to_string()));
        assert_eq!(
            codes("host mx[1.2.3.4] said: 550 5.1.1 <a@b>: User unknown"),
            both(550, "5.1.1")
        );
        assert_eq!(
            codes("smtp; 452-4.2.2 The email account is over quota"),
            both(452, "4.2.2")
        );
        assert_eq!(
            codes("connect to mx[10.0.0.1]:25: Connection timed out"),
            (None, None)
        );
        // A status quoted before the reply does not hide its code (the old
        // reader took no code after a status).
        assert_eq!(
            codes("<k@example.jp> (5.1.1 <k@example.jp>... User unknown) 550 5.1.1 User unknown"),
            both(550, "5.1.1")
        );
        // The code followed by its status is the reply proper, not the
        // first three digits (`354` of the DATA answer, a `220` greeting).
        assert_eq!(
            codes("354 End data with <CR><LF>.<CR><LF> 451 4.3.0 Error: queue file write error"),
            both(451, "4.3.0")
        );
        assert_eq!(
            codes("220-laposte 421 4.2.1 Service refuse. LPN006_107"),
            both(421, "4.2.1")
        );
        // Digits inside an IPv6 address, a host name or a key=value are
        // no reply code.
        assert_eq!(codes("2001:db8:550::1"), (None, None));
        assert_eq!(codes("<14c5d75ce93.dfd.64b469@ismtpd-555>"), (None, None));
        assert_eq!(codes("id=550"), (None, None));
    }

    #[test]
    fn delivered_replies_share_a_cache_key() {
        let mut k = String::new();
        mask_variable("250 2.0.0 Ok: queued as 4AB12 (id 1700000000-a1si)", &mut k);
        assert_eq!(k, "250 2.0.0 Ok: queued as # (id #)");
        let mut n = Normaliser::new();
        let obs = |t: &str| Observation {
            text: t.into(),
            action: Some("delivered".into()),
            reason_hint: Some(Reason::Delivered),
            ..Observation::default()
        };
        n.classify(&obs("250 2.0.0 Ok: queued as 4AB12"));
        n.classify(&obs("250 2.0.0 Ok: queued as 9FF01"));
        assert_eq!((n.cache_hits, n.cache_misses), (1, 1));
        // Failures keep their text: 550 and 552 must not share a verdict.
        let fail = |t: &str| Observation {
            text: t.into(),
            action: Some("failed".into()),
            ..Observation::default()
        };
        n.classify(&fail("550 5.1.1 no such user"));
        n.classify(&fail("552 5.2.2 mailbox full"));
        assert_eq!(n.cache_misses, 3);
    }

    #[test]
    fn formats_parse_by_name() {
        assert_eq!("SES".parse::<Format>().unwrap(), Format::Ses);
        assert!("nope".parse::<Format>().is_err());
    }

    #[test]
    fn event_keys_hash_the_documented_identity() {
        let mut n = Normaliser::new();
        let d = Draft {
            time_ms: 5,
            recipient: "A@B.c".into(),
            outcome: Some(Outcome::Bounced),
            text: "550 x".into(),
            message_id: Some("m@x".into()),
            ..Draft::default()
        };
        let e = n.finish(d.clone(), Format::Exim, "f:1".into()).unwrap();
        assert_eq!(
            e.dedupe_key,
            time_ordered_key(
                5,
                dedupe_key("exim\u{1f}m@x\u{1f}a@b.c\u{1f}5\u{1f}bounced\u{1f}550 x")
            )
        );
        assert_eq!(&e.dedupe_key[..6], &[0, 0, 0, 0, 0, 5]);
        let e = n
            .finish(
                Draft {
                    identity: "ID1".into(),
                    ..d
                },
                Format::Ses,
                "f:2".into(),
            )
            .unwrap();
        assert_eq!(
            e.dedupe_key,
            time_ordered_key(5, dedupe_key("ses\u{1f}ID1\u{1f}a@b.c"))
        );
    }

    #[test]
    fn dedupe_keys_are_stable() {
        // Fixed value: changing the hash would re-insert every stored event.
        assert_eq!(hex(&dedupe_key("abc")), "06b05ab6733a618578af5f94892f3950");
        assert_eq!(unhex16(&hex(&dedupe_key("x"))), Some(dedupe_key("x")));
    }
}

#[cfg(test)]
mod time_window_tests {
    use super::TimeWindow;

    const NOW: i64 = 1_796_000_000_000; // 2026-11-30

    #[test]
    fn refuses_impossible_and_far_times() {
        let w = TimeWindow {
            max_age_ms: Some(365 * 86_400_000),
            max_ahead_ms: Some(86_400_000),
        };
        assert!(w.check(NOW, NOW).is_ok());
        assert!(w.check(NOW - 300 * 86_400_000, NOW).is_ok());
        assert!(
            w.check(NOW - 400 * 86_400_000, NOW)
                .unwrap_err()
                .contains("days old")
        );
        assert!(
            w.check(NOW + 2 * 86_400_000, NOW)
                .unwrap_err()
                .contains("ahead")
        );
        // Year 275760 (JavaScript's last date) and overflowed negatives.
        assert!(
            w.check(8_640_000_000_000_000, NOW)
                .unwrap_err()
                .contains("not a real date")
        );
        assert!(
            w.check(i64::MIN, NOW)
                .unwrap_err()
                .contains("not a real date")
        );
        // The default keeps old logs (backfills) but not the future.
        let d = TimeWindow::default();
        assert!(d.check(1_000_000_000_000, NOW).is_ok());
        assert!(d.check(NOW + 2 * 86_400_000, NOW).is_err());
        assert!(d.check(-1, NOW).is_err());
    }
}

#[cfg(test)]
mod address_tests {
    use super::normalize_address;

    #[test]
    fn one_form_for_international_addresses() {
        let want = Some("änne@bücher.de".to_string());
        assert_eq!(normalize_address("ÄNNE@BÜCHER.DE"), want);
        assert_eq!(normalize_address("änne@bücher.de"), want);
        assert_eq!(normalize_address("Änne@xn--bcher-kva.de"), want);
        assert_eq!(normalize_address("\"Anne\" <ÄNNE@Bücher.DE.>"), want);
        assert_eq!(
            normalize_address("John.Smith@Example.COM"),
            Some("john.smith@example.com".into())
        );
    }

    #[test]
    fn broken_text_is_no_address() {
        assert_eq!(normalize_address("\u{fffd}\u{fffd}@example.com"), None);
        assert_eq!(normalize_address("a@exa mple.com"), None);
        assert_eq!(normalize_address("a@exa\u{fffd}mple.com"), None);
        assert_eq!(normalize_address("no-at-sign"), None);
    }
}
