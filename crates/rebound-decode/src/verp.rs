//! VERP (variable envelope return path): senders that encode each
//! recipient in the bounce address (`bounces+user=example.com@lists.example.org`)
//! learn who bounced from where the bounce was delivered, whatever the
//! notice says. The decoder uses it only as a last resort: when no format
//! decoder found a recipient in a notice that is a bounce, or when the one
//! it found is a truncated copy of the VERP recipient.

use crate::delivery::Delivery;
use crate::dsn::looks_like_address;
use crate::mail::Mail;
use regex::Regex;

/// The default shape: a prefix, `+` or `-`, then `LOCAL=DOMAIN` (exactly
/// one `=`, a dotted domain), then `@host`. A prefix ending in `+` wins
/// over one ending in `-`, so `list-bounces+user=example.com@host` gives
/// `user@example.com` and `bounce-john-doe=example.com@host` gives
/// `john-doe@example.com`.
pub const DEFAULT_VERP_PATTERN: &str =
    r"^(?:[^@+=\s]+\+|[^@+=\s-]+-)(?P<local>[^@=\s]+)=(?P<domain>[^@=\s]+\.[^@=\s]+)@[^@\s]+$";

/// The headers of the bounce that name where it was delivered, in the
/// order they are trusted: the envelope's (set by the receiving MTA) first.
const DELIVERY_HEADERS: &[&str] = &["delivered-to", "x-original-to", "envelope-to", "to"];

/// A VERP address shape: a regular expression over the whole bounce
/// address with the named groups `local` and `domain`.
#[derive(Debug, Clone)]
pub struct VerpPattern(Regex);

#[derive(Debug, thiserror::Error)]
pub enum VerpPatternError {
    #[error("invalid VERP pattern: {0}")]
    Regex(#[from] regex::Error),
    #[error("a VERP pattern needs the named groups `local` and `domain`")]
    MissingGroups,
}

impl VerpPattern {
    /// A pattern of one's own (e.g. `^bounce\.(?P<local>[^.]+)\.(?P<domain>.+)@mail\.example\.org$`).
    pub fn new(pattern: &str) -> Result<VerpPattern, VerpPatternError> {
        let regex = Regex::new(pattern)?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        if !names.contains(&"local") || !names.contains(&"domain") {
            return Err(VerpPatternError::MissingGroups);
        }
        Ok(VerpPattern(regex))
    }

    /// [`DEFAULT_VERP_PATTERN`], compiled once.
    pub fn builtin() -> &'static VerpPattern {
        static BUILTIN: std::sync::OnceLock<VerpPattern> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| {
            VerpPattern::new(DEFAULT_VERP_PATTERN).expect("the default VERP pattern is valid")
        })
    }

    /// The recipient a VERP address encodes, if it has this shape.
    pub fn recipient(&self, address: &str) -> Option<String> {
        let caps = self.0.captures(address.trim())?;
        let recipient = format!("{}@{}", &caps["local"], &caps["domain"]);
        looks_like_address(&recipient).then_some(recipient)
    }

    /// The recipient encoded in the address the bounce was delivered to.
    pub fn recipient_of(&self, mail: &Mail) -> Option<String> {
        DELIVERY_HEADERS
            .iter()
            .flat_map(|h| mail.headers.get_all(h))
            .flat_map(|v| v.split(','))
            .filter_map(crate::dsn::find_address)
            .find_map(|a| self.recipient(&a))
    }
}

impl Default for VerpPattern {
    fn default() -> Self {
        VerpPattern::builtin().clone()
    }
}

/// Whether the deliveries are one recipient that is not a whole address
/// with a dotted domain: the only case [`repair`] changes, tested first so
/// that well-formed notices never pay for the VERP search.
pub(crate) fn may_need_repair(deliveries: &[Delivery]) -> bool {
    matches!(deliveries, [only] if !is_whole(only.recipient.trim()))
}

fn is_whole(address: &str) -> bool {
    looks_like_address(address)
        && address
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.contains('.') && !d.ends_with('.'))
}

/// Repairs the recipient of a notice about one recipient when it is a
/// cut-off copy of the VERP one (`john.smith@exa`, `john.smith`, a
/// missing local part): the sender's own record of whom it wrote to is
/// complete. A recipient that is a whole, different address is left alone.
pub(crate) fn repair(deliveries: &mut [Delivery], verp_recipient: &str) {
    let [only] = deliveries else {
        return;
    };
    let got = only.recipient.trim();
    if got.eq_ignore_ascii_case(verp_recipient) {
        return;
    }
    let whole = is_whole(got);
    let lower_got = got.to_ascii_lowercase();
    let lower_verp = verp_recipient.to_ascii_lowercase();
    let truncated = !lower_got.is_empty()
        && (lower_verp.starts_with(&lower_got) || lower_verp.ends_with(&lower_got));
    if got.is_empty() || (!whole && truncated) {
        only.recipient = verp_recipient.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shapes() {
        let p = VerpPattern::builtin();
        let r = |a: &str| p.recipient(a);
        assert_eq!(
            r("bounces+user=example.com@lists.example.org").as_deref(),
            Some("user@example.com")
        );
        assert_eq!(
            r("bounce-user=example.com@mail.example.org").as_deref(),
            Some("user@example.com")
        );
        assert_eq!(
            r("prefix-user=example.com@x.example").as_deref(),
            Some("user@example.com")
        );
        assert_eq!(
            r("list-bounces+john.doe=sub.example.co.uk@lists.example.org").as_deref(),
            Some("john.doe@sub.example.co.uk")
        );
        assert_eq!(
            r("bounce-john-doe=example.com@x.example").as_deref(),
            Some("john-doe@example.com")
        );
        // Not VERP: no separator, two `=`, a dot-less domain, no `=` at all.
        assert_eq!(r("user=example.com@x.example"), None);
        assert_eq!(r("bounces+a=b=example.com@x.example"), None);
        assert_eq!(r("bounces+user=localhost@x.example"), None);
        assert_eq!(r("bounces+user@x.example"), None);
        assert_eq!(r("mailer-daemon@x.example"), None);
    }

    #[test]
    fn own_patterns_need_both_groups() {
        assert!(VerpPattern::new(r"^b\.(?P<local>[^.]+)@x$").is_err());
        assert!(VerpPattern::new(r"(").is_err());
        let p = VerpPattern::new(r"^b\.(?P<local>[^.]+)\.at\.(?P<domain>.+)@bounce\.example\.org$")
            .unwrap();
        assert_eq!(
            p.recipient("b.jane.at.example.net@bounce.example.org")
                .as_deref(),
            Some("jane@example.net")
        );
    }

    #[test]
    fn repair_only_cut_off_recipients() {
        let mut one = vec![Delivery {
            recipient: "john.smith@exa".into(),
            ..Delivery::default()
        }];
        repair(&mut one, "john.smith@example.com");
        assert_eq!(one[0].recipient, "john.smith@example.com");
        let mut local = vec![Delivery {
            recipient: "john.smith".into(),
            ..Delivery::default()
        }];
        repair(&mut local, "john.smith@example.com");
        assert_eq!(local[0].recipient, "john.smith@example.com");
        // A whole, different address is what the notice says: kept.
        let mut other = vec![Delivery {
            recipient: "jane@example.net".into(),
            ..Delivery::default()
        }];
        repair(&mut other, "john.smith@example.com");
        assert_eq!(other[0].recipient, "jane@example.net");
        // Several recipients: the VERP address names only one of them.
        let mut two = vec![
            Delivery {
                recipient: "john".into(),
                ..Delivery::default()
            },
            Delivery {
                recipient: "x@y.example".into(),
                ..Delivery::default()
            },
        ];
        repair(&mut two, "john@example.com");
        assert_eq!(two[0].recipient, "john");
    }
}
