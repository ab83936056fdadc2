//! Which header names a block holds, as 256 bits: one per name, set by a
//! cheap hash of its length and a few of its bytes. No false negatives, so
//! a clear bit answers "no such field" without looking at any field (most
//! of what decoders ask a message is for names it does not have).

/// The bits of the names seen (see `name_bit`).
#[derive(Debug, Clone, Default)]
pub(super) struct NameFilter([u64; 4]);

impl NameFilter {
    pub(super) fn insert(&mut self, name: &[u8]) {
        let (word, bit) = name_bit(name);
        self.0[word] |= bit;
    }

    /// `false`: no field of this name was inserted; `true`: there may be.
    pub(super) fn may_contain(&self, name: &[u8]) -> bool {
        let (word, bit) = name_bit(name);
        self.0[word] & bit != 0
    }
}

/// A name's bit: a cheap hash of its length and a few
/// of its bytes.
fn name_bit(name: &[u8]) -> (usize, u64) {
    let n = name.len();
    let (first, middle, last) = match n {
        0 => (0, 0, 0),
        _ => (name[0], name[n / 2], name[n - 1]),
    };
    let h = n
        .wrapping_mul(31)
        .wrapping_add(usize::from(first))
        .wrapping_add(usize::from(middle).wrapping_mul(7))
        .wrapping_add(usize::from(last).wrapping_mul(13))
        & 255;
    (h >> 6, 1u64 << (h & 63))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inserted_name_is_always_found_and_an_empty_filter_finds_none() {
        let names: [&[u8]; 5] = [b"", b"x", b"content-type", b"x-failed-recipients", b"from"];
        let mut filter = NameFilter::default();
        for name in names {
            assert!(!NameFilter::default().may_contain(name));
            filter.insert(name);
            assert!(filter.may_contain(name));
        }
        assert!(names.iter().all(|n| filter.may_contain(n)));
    }
}
