//! What each reason means for the sender: who owns the problem, what to do
//! next, and whether the address is dead. The table itself is data, in
//! `rules/advice.toml` (one `[advice.<reason>]` table per reason, where its
//! policy can be read and argued about in one place); this module reads it,
//! merges user overrides into it, and applies it to one verdict.

use rebound_core::{Owner, Reason, Remedy};
use serde::Deserialize;

/// An `[advice.<reason>]` table as written. Every field is optional so that
/// a user file can replace one field and keep the built-in others; the
/// merged table must have all of them (`AdviceBuilder::finish`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdviceSpec {
    pub meaning: Option<String>,
    pub owner: Option<String>,
    pub remedy: Option<String>,
    pub temporary_remedy: Option<String>,
    pub hardbounce: Option<String>,
    pub blocklisted: Option<BlocklistedSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlocklistedSpec {
    pub owner: String,
    pub remedy: String,
}

/// When a failure of a reason is a hard bounce (never when temporary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardBounce {
    /// Unless the status (or reply code) is a 4xx; also with no class known.
    Unless4xx,
    /// Only with a 5xx.
    Only5xx,
    Never,
}

impl std::str::FromStr for HardBounce {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "unless_4xx" => Ok(HardBounce::Unless4xx),
            "only_5xx" => Ok(HardBounce::Only5xx),
            "never" => Ok(HardBounce::Never),
            _ => Err(format!(
                "unknown hardbounce {s:?} (one of unless_4xx, only_5xx, never)"
            )),
        }
    }
}

/// One reason's advice, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// One plain sentence, for `explain`.
    pub meaning: String,
    pub owner: Owner,
    pub remedy: Remedy,
    /// The remedy when the failure is temporary (the owner stays).
    pub temporary_remedy: Remedy,
    pub hardbounce: HardBounce,
    /// Owner and remedy instead when the reply names a blocklist.
    pub blocklisted: Option<(Owner, Remedy)>,
}

/// A rule's own owner and remedies, where they differ from its reason's
/// (`owner`, `remedy`, `temporary_remedy` in a `[[rule]]`): one reason can
/// cover wordings that call for different actions, as `securityerror`
/// covers both a receiver's policy refusal (investigate) and the sender's
/// own SMTP login failing (fix the credentials).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleAdvice {
    pub owner: Option<Owner>,
    pub remedy: Option<Remedy>,
    pub temporary_remedy: Option<Remedy>,
}

impl RuleAdvice {
    pub fn is_empty(&self) -> bool {
        *self == RuleAdvice::default()
    }
}

impl Advice {
    /// Hard bounce, owner and remedy of a failure of this reason: whether
    /// it was temporary, the class of its status (or reply code), whether
    /// the reply named a blocklist, and the deciding rule's own advice (a
    /// named blocklist outranks it: the listing is the fact to act on).
    pub fn consequences(
        &self,
        transient: bool,
        hard_class: Option<u8>,
        blocklisted: bool,
        rule: RuleAdvice,
    ) -> (bool, Owner, Remedy) {
        let (owner, remedy, temporary_remedy) = match self.blocklisted {
            Some((owner, remedy)) if blocklisted => (owner, remedy, self.temporary_remedy),
            _ => (
                rule.owner.unwrap_or(self.owner),
                rule.remedy.unwrap_or(self.remedy),
                rule.temporary_remedy.unwrap_or(self.temporary_remedy),
            ),
        };
        if transient {
            return (false, owner, temporary_remedy);
        }
        let hard = match self.hardbounce {
            HardBounce::Unless4xx => hard_class != Some(4),
            HardBounce::Only5xx => hard_class == Some(5),
            HardBounce::Never => false,
        };
        (hard, owner, remedy)
    }
}

/// The advice of every reason as the files give it, field by field: the
/// first file to give a field (user files come first) sets it.
#[derive(Default)]
pub(crate) struct AdviceBuilder {
    meaning: Vec<Option<String>>,
    owner: Vec<Option<Owner>>,
    remedy: Vec<Option<Remedy>>,
    temporary_remedy: Vec<Option<Remedy>>,
    hardbounce: Vec<Option<HardBounce>>,
    blocklisted: Vec<Option<(Owner, Remedy)>>,
}

/// Sets `slot[reason]` unless an earlier file did.
fn first<T>(slot: &mut Vec<Option<T>>, reason: Reason, value: Option<T>) {
    if slot.is_empty() {
        slot.resize_with(Reason::ALL.len(), || None);
    }
    let cell = &mut slot[reason as usize];
    if cell.is_none() {
        *cell = value;
    }
}

impl AdviceBuilder {
    /// Adds one file's `[advice.<key>]`; the error is the message alone,
    /// the caller names the file.
    pub(crate) fn add(&mut self, key: &str, spec: &AdviceSpec) -> Result<(), String> {
        let what = format!("advice.{key}");
        let reason: Reason = key.parse().map_err(|e| format!("{what}: {e}"))?;
        let owner = |v: &str| v.parse::<Owner>().map_err(|e| format!("{what}: {e}"));
        let remedy = |v: &str| v.parse::<Remedy>().map_err(|e| format!("{what}: {e}"));
        first(&mut self.meaning, reason, spec.meaning.clone());
        first(
            &mut self.owner,
            reason,
            spec.owner.as_deref().map(owner).transpose()?,
        );
        first(
            &mut self.remedy,
            reason,
            spec.remedy.as_deref().map(remedy).transpose()?,
        );
        first(
            &mut self.temporary_remedy,
            reason,
            spec.temporary_remedy.as_deref().map(remedy).transpose()?,
        );
        let hardbounce = spec
            .hardbounce
            .as_deref()
            .map(|h| h.parse().map_err(|e| format!("{what}: {e}")))
            .transpose()?;
        first(&mut self.hardbounce, reason, hardbounce);
        let blocklisted = spec
            .blocklisted
            .as_ref()
            .map(|b| Ok::<_, String>((owner(&b.owner)?, remedy(&b.remedy)?)))
            .transpose()?;
        first(&mut self.blocklisted, reason, blocklisted);
        Ok(())
    }

    /// The table, indexed by reason; every reason must have every field
    /// (`blocklisted` is optional).
    pub(crate) fn finish(mut self) -> Result<Vec<Advice>, String> {
        let mut out = Vec::with_capacity(Reason::ALL.len());
        for &reason in Reason::ALL {
            let i = reason as usize;
            let missing = |field: &str| {
                format!(
                    "no {field} for reason {reason}: every reason needs an [advice.{reason}] table with every field"
                )
            };
            let meaning = self
                .meaning
                .get_mut(i)
                .and_then(Option::take)
                .ok_or_else(|| missing("meaning"))?;
            let get = |v: &Vec<Option<Remedy>>| v.get(i).copied().flatten();
            out.push(Advice {
                meaning,
                owner: self
                    .owner
                    .get(i)
                    .copied()
                    .flatten()
                    .ok_or_else(|| missing("owner"))?,
                remedy: get(&self.remedy).ok_or_else(|| missing("remedy"))?,
                temporary_remedy: get(&self.temporary_remedy)
                    .ok_or_else(|| missing("temporary_remedy"))?,
                hardbounce: self
                    .hardbounce
                    .get(i)
                    .copied()
                    .flatten()
                    .ok_or_else(|| missing("hardbounce"))?,
                blocklisted: self.blocklisted.get(i).copied().flatten(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_without_every_field_is_refused() {
        let mut b = AdviceBuilder::default();
        for r in Reason::ALL {
            let spec = AdviceSpec {
                meaning: Some("m".into()),
                owner: Some("policy".into()),
                remedy: Some("retry".into()),
                temporary_remedy: Some("retry".into()),
                // One reason lacks its hard-bounce rule.
                hardbounce: (*r != Reason::Expired).then(|| "never".into()),
                blocklisted: None,
            };
            b.add(r.as_str(), &spec).unwrap();
        }
        let err = b.finish().unwrap_err();
        assert!(err.contains("no hardbounce for reason expired"), "{err}");
    }
}
