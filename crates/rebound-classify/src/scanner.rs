//! The phrase scanner: every occurrence of every rule phrase in a reply, in
//! one pass, ASCII case ignored (letters outside ASCII are folded before
//! the scan: [`fold_case`]).
//!
//! A full automaton of the built-in phrases (2,200 of them, in many
//! scripts) is big: aho-corasick's DFA takes megabytes, and its contiguous
//! NFA scans at 7–8 ns per byte. Between two replies the decoder walks a
//! whole bounce, so none of those tables stays in cache. This scanner runs
//! a DFA of the phrases' first few bytes only (at most [`PREFIX_LEN`], as
//! many as fit [`MAX_TABLE_BYTES`]) and confirms each phrase where its
//! prefix was found by comparing the bytes that follow.
//!
//! The table's rows are indexed by state number shifted by the row width
//! (a power of two), not by premultiplied offsets: a 16-bit offset would
//! cap the table at 65,536 entries, and as the phrases grew into more
//! scripts (more byte classes, wider rows) that cap had silently cut the
//! prefixes to 2 bytes and multiplied the confirmations by five.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, MatchKind};

/// `text` with upper case folded to lower case wherever the lower-case
/// letter takes as many bytes (Cyrillic, Greek, Latin letters with
/// diacritics: "Пользователь не найден", "ŁĄCZE"), so that byte offsets
/// stay those of `text`; a letter whose lower case is longer or several
/// letters stays as it is. The automaton folds ASCII itself, so ASCII text
/// (nearly every reply) is borrowed untouched.
pub(crate) fn fold_case(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => out.push(l),
            _ => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A rule phrase as the automaton takes it: lower case throughout (ASCII
/// and, as [`fold_case`] folds it, beyond), whatever case the rule file
/// wrote it in.
pub(crate) fn fold_phrase(phrase: &str) -> String {
    fold_case(&phrase.to_ascii_lowercase()).into_owned()
}

/// How many leading bytes of each phrase the automaton knows at most.
/// Longer prefixes mean more states; shorter ones more confirmations.
const PREFIX_LEN: usize = 5;

/// The largest transition table built: the longest prefixes (up to
/// [`PREFIX_LEN`]) whose table fits are used. The table is what each byte
/// of a reply touches, and it must stay in the core's cache between
/// replies. (The built-in phrases, 2,200 in many scripts, fit with 3-byte
/// prefixes: about 770 states in rows of 128 classes, 190 KB.)
const MAX_TABLE_BYTES: usize = 256 * 1024;

/// Finds every occurrence of a fixed set of lower-case phrases.
pub(crate) struct PhraseScanner {
    /// Byte → class: one class per byte some prefix uses (ASCII upper case
    /// folded onto lower case), class 0 for all other bytes.
    classes: [u8; 256],
    /// `(state << shift) + class` → the next state.
    trans: Vec<u16>,
    shift: u32,
    /// States below this one are those where a prefix ends.
    match_limit: usize,
    /// Where a scan starts.
    start: usize,
    /// Per state: the prefixes ending there, as a range of `state_prefixes`.
    state_ranges: Vec<(u32, u32)>,
    state_prefixes: Vec<u32>,
    /// Per prefix: its length and the phrases starting with it, as a range
    /// of `prefix_phrases`.
    prefixes: Vec<(u32, u32, u32)>,
    prefix_phrases: Vec<u32>,
    phrases: Vec<Box<[u8]>>,
}

impl PhraseScanner {
    /// Compiles the phrases (lower case, none empty).
    pub(crate) fn new(phrases: &[String]) -> Result<PhraseScanner, String> {
        // Many phrases make too many states for the table's budget:
        // shorter prefixes make fewer (one byte always fits).
        for len in (1..=PREFIX_LEN).rev() {
            if let Some(scanner) = Self::with_prefix(phrases, len)? {
                return Ok(scanner);
            }
        }
        Err("the rules make too large an automaton".into())
    }

    /// The scanner over prefixes of `prefix_len` bytes; `None` when its
    /// table is over [`MAX_TABLE_BYTES`] or has more states than 16-bit
    /// entries can name.
    pub(crate) fn with_prefix(
        phrases: &[String],
        prefix_len: usize,
    ) -> Result<Option<PhraseScanner>, String> {
        // Distinct prefixes, and which phrases share each.
        let mut prefix_ids: std::collections::HashMap<
            &[u8],
            usize,
            std::hash::BuildHasherDefault<Fnv>,
        > = Default::default();
        let mut prefix_texts: Vec<&[u8]> = Vec::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for (id, p) in phrases.iter().enumerate() {
            let b = p.as_bytes();
            if b.is_empty() {
                return Err("empty phrase".into());
            }
            let prefix = &b[..b.len().min(prefix_len)];
            let next = prefix_texts.len();
            let j = *prefix_ids.entry(prefix).or_insert(next);
            if j == next {
                prefix_texts.push(prefix);
                members.push(Vec::new());
            }
            members[j].push(id as u32);
        }
        let mut prefixes = Vec::with_capacity(prefix_texts.len());
        let mut prefix_phrases = Vec::new();
        for (text, ids) in prefix_texts.iter().zip(&members) {
            let lo = prefix_phrases.len() as u32;
            prefix_phrases.extend_from_slice(ids);
            prefixes.push((text.len() as u32, lo, prefix_phrases.len() as u32));
        }

        // The library's automaton over the prefixes (standard semantics:
        // every overlapping occurrence, each state holding the matches of
        // its failure chain), built case-sensitively over lower-case text,
        // then laid out as a DFA over our own byte classes. Its
        // noncontiguous NFA is the cheapest to build: we fill every
        // transition of our table once anyway, and its own DFA builder
        // would fill a larger table first (a third of the start-up time).
        let dfa = aho_corasick::nfa::noncontiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(&prefix_texts)
            .map_err(|e| e.to_string())?;
        let mut used = [false; 256];
        for p in &prefix_texts {
            for &c in p.iter() {
                used[usize::from(c)] = true;
                used[usize::from(c.to_ascii_lowercase())] = true;
                used[usize::from(c.to_ascii_uppercase())] = true;
            }
        }
        let mut classes = [0u8; 256];
        // Class 0 stands for every byte in no prefix; its representative is
        // any such byte (if all 256 are used, class 0 is simply byte 0's).
        let mut reps: Vec<u8> = vec![(0..=255u8).find(|&c| !used[usize::from(c)]).unwrap_or(0)];
        for c in 0..=255u8 {
            if used[usize::from(c)] && !c.is_ascii_uppercase() {
                let class = u8::try_from(reps.len()).map_err(|_| "too many distinct bytes")?;
                classes[usize::from(c)] = class;
                reps.push(c);
            }
        }
        for c in b'A'..=b'Z' {
            classes[usize::from(c)] = classes[usize::from(c.to_ascii_lowercase())];
        }
        // A row per state, as wide as the next power of two of the classes:
        // a state's row starts at `state << shift`.
        let shift = reps.len().next_power_of_two().trailing_zeros();
        let stride = 1usize << shift;

        // Every state reachable from the start, in the library's ids.
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        let mut seen: std::collections::HashSet<StateID, std::hash::BuildHasherDefault<Fnv>> =
            std::collections::HashSet::default();
        seen.insert(start);
        let mut states = vec![start];
        let mut i = 0;
        while i < states.len() {
            for &rep in &reps {
                let next = dfa.next_state(Anchored::No, states[i], rep);
                if seen.insert(next) {
                    states.push(next);
                }
            }
            i += 1;
        }
        // Match states first, so that "a prefix ends here" is `state <
        // match_limit` and an entry needs no flag bit: with 16-bit entries
        // the table is half the size.
        states.sort_by_key(|&sid| !dfa.is_match(sid));
        if states.len() > usize::from(u16::MAX) + 1 || states.len() * stride * 2 > MAX_TABLE_BYTES {
            return Ok(None);
        }
        let match_limit = states.iter().filter(|&&sid| dfa.is_match(sid)).count();
        let number_of: std::collections::HashMap<
            StateID,
            usize,
            std::hash::BuildHasherDefault<Fnv>,
        > = states
            .iter()
            .enumerate()
            .map(|(n, &sid)| (sid, n))
            .collect();
        let mut trans = Vec::with_capacity(states.len() * stride);
        let mut state_ranges = Vec::new();
        let mut state_prefixes = Vec::new();
        for &sid in &states {
            if dfa.is_match(sid) {
                let lo = state_prefixes.len() as u32;
                for k in 0..dfa.match_len(sid) {
                    state_prefixes.push(dfa.match_pattern(sid, k).as_u32());
                }
                state_ranges.push((lo, state_prefixes.len() as u32));
            }
            for &rep in &reps {
                let next = number_of[&dfa.next_state(Anchored::No, sid, rep)];
                trans.push(u16::try_from(next).expect("states were counted"));
            }
            // The row's padding: no byte has these classes.
            trans.resize(trans.len() + stride - reps.len(), 0);
        }
        let start = number_of[&start];
        Ok(Some(PhraseScanner {
            classes,
            trans,
            shift,
            match_limit,
            start,
            state_ranges,
            state_prefixes,
            prefixes,
            prefix_phrases,
            phrases: phrases
                .iter()
                .map(|p| p.as_bytes().to_vec().into_boxed_slice())
                .collect(),
        }))
    }

    /// Calls `f(phrase id, start, end)` for every occurrence of every phrase
    /// in `text`, overlapping ones included, ASCII case ignored. The order
    /// of the calls is unspecified.
    #[inline]
    pub(crate) fn scan(&self, text: &[u8], mut f: impl FnMut(u32, usize, usize)) {
        let (classes, trans, shift) = (&self.classes, self.trans.as_slice(), self.shift);
        let mut state = self.start;
        for (at, &byte) in text.iter().enumerate() {
            state = usize::from(trans[(state << shift) + usize::from(classes[usize::from(byte)])]);
            if state < self.match_limit {
                self.confirm(text, state, at + 1, &mut f);
            }
        }
    }

    /// A prefix ends at `end`: reports the phrases starting with it that
    /// the text goes on to spell. Out of line, so that the scan loop stays
    /// small.
    #[inline(never)]
    fn confirm(
        &self,
        text: &[u8],
        state: usize,
        end: usize,
        f: &mut impl FnMut(u32, usize, usize),
    ) {
        let (lo, hi) = self.state_ranges[state];
        for &prefix in &self.state_prefixes[lo as usize..hi as usize] {
            let (len, first, last) = self.prefixes[prefix as usize];
            let start = end - len as usize;
            for &id in &self.prefix_phrases[first as usize..last as usize] {
                let phrase = &self.phrases[id as usize];
                // Phrases sharing a prefix are many for common words
                // ("mailb…"): their last byte rejects most before the
                // whole comparison.
                let end = start + phrase.len();
                if let Some(candidate) = text.get(start..end)
                    && candidate[phrase.len() - 1].eq_ignore_ascii_case(&phrase[phrase.len() - 1])
                    && candidate.eq_ignore_ascii_case(phrase)
                {
                    f(id, start, end);
                }
            }
        }
    }

    /// Bytes of the tables, for the curious (and a test).
    #[cfg(test)]
    fn table_bytes(&self) -> usize {
        self.trans.len() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_offsets_and_lowers_letters_outside_ascii() {
        for text in [
            "Пользователь не найден",
            "ŁĄCZE ÄÖÜ",
            "İstanbul ẞ",
            "plain ASCII",
        ] {
            let folded = fold_case(text);
            assert_eq!(folded.len(), text.len(), "{text}");
        }
        assert_eq!(fold_case("Пользователь ÄÖÜ"), "пользователь äöü");
        // Longer lower cases stay as they are.
        assert_eq!(fold_case("İ"), "İ");
        // Phrases are lower case throughout, ASCII included.
        assert_eq!(fold_phrase("Mailbox Retired ÄÖ"), "mailbox retired äö");
        assert_eq!(fold_phrase("User Unknown"), "user unknown");
    }

    fn scanner(phrases: &[&str]) -> PhraseScanner {
        let owned: Vec<String> = phrases.iter().map(|p| p.to_string()).collect();
        PhraseScanner::new(&owned).unwrap()
    }

    fn found(s: &PhraseScanner, text: &str) -> Vec<(u32, usize, usize)> {
        let mut out = Vec::new();
        s.scan(text.as_bytes(), |id, a, b| out.push((id, a, b)));
        out.sort_unstable();
        out
    }

    #[test]
    fn short_shared_and_overlapping_phrases() {
        let s = scanner(&[
            "user unknown",
            "user",
            "us",
            "unknown user",
            "knowledge",
            "no",
        ]);
        assert_eq!(
            found(&s, "USER UNKNOWN USER"),
            [
                (0, 0, 12),
                (1, 0, 4),
                (1, 13, 17),
                (2, 0, 2),
                (2, 13, 15),
                (3, 5, 17),
                (5, 8, 10)
            ]
        );
        // A prefix without the rest of its phrase is no match; a phrase cut
        // by the end of the text neither.
        assert!(found(&s, "user unknow").iter().all(|m| m.0 != 0));
        assert!(found(&s, "unkn").is_empty());
        assert_eq!(
            found(&s, "kNOWLEDGE no"),
            [(4, 0, 9), (5, 1, 3), (5, 10, 12)]
        );
    }

    /// So many phrases that five-byte prefixes overflow 16-bit entries:
    /// shorter prefixes are used, and every phrase is still found exactly.
    #[test]
    fn many_phrases_fall_back_to_shorter_prefixes() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let phrases: Vec<String> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{x:016x}")
            })
            .collect();
        assert!(
            PhraseScanner::with_prefix(&phrases, PREFIX_LEN)
                .unwrap()
                .is_none()
        );
        let s = PhraseScanner::new(&phrases).unwrap();
        for (id, p) in phrases.iter().enumerate().step_by(97) {
            let text = format!("..{}..", p.to_ascii_uppercase());
            assert_eq!(found(&s, &text), [(id as u32, 2, 18)], "{p}");
        }
    }

    /// The same matches as aho-corasick's own overlapping search, on every
    /// built-in phrase written in upper case inside other text, on a
    /// realistic reply, and on all phrases run together.
    #[test]
    fn agrees_with_aho_corasick_on_the_builtin_phrases() {
        let phrases = &crate::Classifier::builtin().rules.patterns;
        let s = PhraseScanner::new(phrases).unwrap();
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(phrases)
            .unwrap();
        let mut texts: Vec<String> = phrases
            .iter()
            .map(|p| format!("x{p}y {}", p.to_ascii_uppercase()))
            .collect();
        texts.push(
            "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown \
             (in reply to RCPT TO command) \u{e9}\u{0} zen.SPAMHAUS.org"
                .into(),
        );
        texts.push(phrases.concat());
        for t in &texts {
            let ours = found(&s, t);
            let mut theirs: Vec<(u32, usize, usize)> = ac
                .find_overlapping_iter(t.as_str())
                .map(|m| (m.pattern().as_u32(), m.start(), m.end()))
                .collect();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "{t:?}");
        }
        // Small enough to stay in cache: what this scanner is for.
        assert!(
            s.table_bytes() <= MAX_TABLE_BYTES,
            "{} bytes",
            s.table_bytes()
        );
        // ... and still long prefixes: with 2-byte ones every "re" and "ma"
        // of a reply confirmed a hundred phrases.
        let longest = s.prefixes.iter().map(|p| p.0).max().unwrap();
        assert!(longest >= 3, "prefixes of {longest} bytes");
    }
}

/// FNV-1a: host names and phrases are short and come from rule files, not
/// from the mail being judged, so a fast non-keyed hash is the right trade
/// (SipHash was an eighth of building the rules, paid by every process).
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}
