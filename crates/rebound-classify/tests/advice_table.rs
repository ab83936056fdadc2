//! The per-reason advice (meaning, owner, remedy, hard bounce) moved from
//! code (`advice.rs`) into `rules/advice.toml`. This fixture is the old
//! table, printed from the code before it was deleted and written out here
//! as explicit expectations: the table loaded from the file must give the
//! same answer for every reason, temporary or not, with and without a named
//! blocklist, and for every status class. Change a row only together with
//! the file, on purpose.

use rebound_classify::Classifier;
use rebound_core::{Owner, Reason, Remedy};

type Pair = (&'static str, &'static str);
/// See [`OLD`].
type Row = (&'static str, &'static str, Pair, Pair, Pair, [bool; 4]);

/// (reason, meaning, (owner, remedy) permanent, the same with a blocklist
/// named, (remedy temporary, the same with a blocklist), hard bounce of a
/// permanent failure with no class known, class 2, 4 and 5). The owner of a
/// temporary failure is the permanent one's.
#[rustfmt::skip]
const OLD: &[Row] = &[
    ("undefined", "nothing says why", ("unknown", "investigate"), ("unknown", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("userunknown", "the mailbox does not exist", ("recipient", "suppress"), ("recipient", "suppress"), ("retry", "retry"), [true, true, false, true]),
    ("hostunknown", "the recipient domain does not exist or has no mail host", ("recipient", "suppress"), ("recipient", "suppress"), ("retry", "retry"), [true, true, false, true]),
    ("mailboxfull", "the mailbox is over quota", ("mailbox", "retry_then_suppress"), ("mailbox", "retry_then_suppress"), ("retry", "retry"), [false, false, false, false]),
    ("suspend", "the mailbox is disabled or suspended", ("mailbox", "retry_then_suppress"), ("mailbox", "retry_then_suppress"), ("retry", "retry"), [false, false, false, false]),
    ("hasmoved", "the recipient has moved away", ("recipient", "suppress"), ("recipient", "suppress"), ("retry", "retry"), [true, true, false, true]),
    ("notaccept", "the domain accepts no mail", ("recipient", "suppress"), ("recipient", "suppress"), ("retry", "retry"), [false, false, false, true]),
    ("blocked", "the sending IP or host is refused", ("sender_reputation", "investigate"), ("sender_reputation", "investigate"), ("slow_down", "slow_down"), [false, false, false, false]),
    ("badreputation", "the sender's reputation is too low", ("sender_reputation", "investigate"), ("sender_reputation", "investigate"), ("slow_down", "slow_down"), [false, false, false, false]),
    ("authfailure", "SPF, DKIM or DMARC failed", ("sender_auth", "fix_config"), ("sender_auth", "fix_config"), ("fix_config", "fix_config"), [false, false, false, false]),
    ("requireptr", "the sending IP lacks valid reverse DNS", ("sender_auth", "fix_config"), ("sender_auth", "fix_config"), ("fix_config", "fix_config"), [false, false, false, false]),
    ("failedstarttls", "TLS is required or failed", ("sender_auth", "fix_config"), ("sender_auth", "fix_config"), ("fix_config", "fix_config"), [false, false, false, false]),
    ("spamdetected", "the message was judged spam", ("content", "investigate"), ("sender_reputation", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("virusdetected", "the message carries malware", ("content", "investigate"), ("content", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("contenterror", "the content or headers were refused", ("content", "investigate"), ("content", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("mesgtoobig", "the message is too big", ("content", "investigate"), ("content", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("exceedlimit", "a size or count limit was exceeded", ("content", "investigate"), ("content", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("policyviolation", "the receiver's policy refused the message", ("policy", "investigate"), ("policy", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("rejected", "the envelope sender was refused", ("policy", "investigate"), ("policy", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("filtered", "the recipient's filter refused the message", ("policy", "investigate"), ("policy", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("norelaying", "the server refuses to relay for the sender", ("sender_config", "fix_config"), ("sender_config", "fix_config"), ("fix_config", "fix_config"), [false, false, false, false]),
    ("notcompliantrfc", "the message breaks the RFCs", ("content", "fix_config"), ("content", "fix_config"), ("fix_config", "fix_config"), [false, false, false, false]),
    ("speeding", "too many messages too fast", ("sender_reputation", "slow_down"), ("sender_reputation", "slow_down"), ("slow_down", "slow_down"), [false, false, false, false]),
    ("toomanyconn", "too many connections or recipients at once", ("sender_reputation", "slow_down"), ("sender_reputation", "slow_down"), ("slow_down", "slow_down"), [false, false, false, false]),
    ("systemerror", "the receiving system failed", ("remote", "retry"), ("remote", "retry"), ("retry", "retry"), [false, false, false, false]),
    ("systemfull", "the receiving system is out of space", ("remote", "retry"), ("remote", "retry"), ("retry", "retry"), [false, false, false, false]),
    ("networkerror", "DNS or network trouble", ("network", "retry"), ("network", "retry"), ("retry", "retry"), [false, false, false, false]),
    ("expired", "delivery kept failing until the retry time ran out", ("network", "retry_then_suppress"), ("network", "retry_then_suppress"), ("retry", "retry"), [false, false, false, false]),
    ("syntaxerror", "the SMTP dialogue had a syntax error", ("sender_config", "fix_config"), ("sender_config", "fix_config"), ("retry", "retry"), [false, false, false, false]),
    ("securityerror", "a security or policy check refused the message", ("policy", "investigate"), ("policy", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("mailererror", "the local delivery program failed", ("remote", "retry"), ("remote", "retry"), ("retry", "retry"), [false, false, false, false]),
    ("suppressed", "the address is on a suppression list", ("recipient", "suppress"), ("recipient", "suppress"), ("retry", "retry"), [false, false, false, false]),
    ("delivered", "the message was delivered", ("none", "none"), ("none", "none"), ("none", "none"), [false, false, false, false]),
    ("onhold", "the failure is real but its cause is not stated", ("unknown", "investigate"), ("unknown", "investigate"), ("retry", "retry"), [false, false, false, false]),
    ("feedback", "the recipient complained (feedback loop)", ("sender_reputation", "suppress"), ("sender_reputation", "suppress"), ("retry", "retry"), [false, false, false, false]),
    ("vacation", "an auto-reply", ("none", "none"), ("none", "none"), ("none", "none"), [false, false, false, false]),
];

#[test]
fn every_reason_has_its_old_advice() {
    let c = Classifier::builtin();
    assert_eq!(OLD.len(), Reason::ALL.len(), "one row per reason");
    for &(name, meaning, perm, perm_bl, (temp, temp_bl), hard) in OLD {
        let reason: Reason = name.parse().unwrap();
        let advice = c.advice(reason);
        assert_eq!(advice.meaning, meaning, "{name}: meaning");
        let owner = |s: &str| s.parse::<Owner>().unwrap();
        let remedy = |s: &str| s.parse::<Remedy>().unwrap();
        for (i, class) in [None, Some(2), Some(4), Some(5)].into_iter().enumerate() {
            for blocklisted in [false, true] {
                let (o, m) = if blocklisted { perm_bl } else { perm };
                let t = if blocklisted { temp_bl } else { temp };
                assert_eq!(
                    advice.consequences(false, class, blocklisted, Default::default()),
                    (hard[i], owner(o), remedy(m)),
                    "{name}: permanent, class {class:?}, blocklisted {blocklisted}"
                );
                assert_eq!(
                    advice.consequences(true, class, blocklisted, Default::default()),
                    (false, owner(o), remedy(t)),
                    "{name}: temporary, class {class:?}, blocklisted {blocklisted}"
                );
            }
        }
    }
}

/// The reason order moved from code (`PRIMARY_ORDER`, `SECONDARY_ORDER` in
/// `lib.rs`) into `rules/order.toml`; these are the old constants.
#[test]
fn the_reason_order_is_the_old_one() {
    let primary = [
        "mailboxfull",
        "mesgtoobig",
        "exceedlimit",
        "suspend",
        "hasmoved",
        "norelaying",
        "authfailure",
        "userunknown",
        "filtered",
        "requireptr",
        "notcompliantrfc",
        "badreputation",
        "rejected",
        "hostunknown",
        "spamdetected",
        "speeding",
        "toomanyconn",
        "blocked",
    ];
    let secondary = [
        "virusdetected",
        "policyviolation",
        "systemerror",
        "networkerror",
        "contenterror",
        "systemfull",
        "notaccept",
        "expired",
        "failedstarttls",
        "securityerror",
        "suppressed",
        "mailererror",
        "syntaxerror",
        "onhold",
        "delivered",
        "feedback",
        "vacation",
        "undefined",
    ];
    let names = |list: &[Reason]| list.iter().map(|r| r.as_str()).collect::<Vec<_>>();
    let (p, s) = Classifier::builtin().reason_order();
    assert_eq!(names(p), primary);
    assert_eq!(names(s), secondary);
}

/// A user file's `[advice.<reason>]` replaces the fields it gives, the
/// first file that gives a field winning; the others stay built in.
#[test]
fn user_files_override_advice_field_by_field() {
    let first = "[advice.mailboxfull]\nremedy = \"suppress\"\n";
    let second = "[advice.mailboxfull]\nremedy = \"retry\"\nowner = \"remote\"\n";
    let c = Classifier::with_rules(&[("first.toml", first), ("second.toml", second)]).unwrap();
    let advice = c.advice(Reason::MailboxFull);
    assert_eq!(advice.remedy, Remedy::Suppress, "the first file wins");
    assert_eq!(advice.owner, Owner::Remote, "a field only the second gives");
    assert_eq!(advice.temporary_remedy, Remedy::Retry, "built in");
    let v = c.classify_text("552 5.2.2 Mailbox full");
    assert_eq!(
        (v.reason, v.remedy),
        (Reason::MailboxFull, Remedy::Suppress)
    );
    // Settling a verdict uses the same table.
    let mut v = v;
    v.remedy = Remedy::None;
    c.settle(&mut v);
    assert_eq!(v.remedy, Remedy::Suppress);
    // The built-in classifier is untouched.
    assert_eq!(
        Classifier::builtin().advice(Reason::MailboxFull).remedy,
        Remedy::RetryThenSuppress
    );
}

#[test]
fn bad_advice_and_a_user_order_are_refused() {
    for (text, says) in [
        ("[advice.mailboxful]\nremedy = \"suppress\"\n", "mailboxful"),
        ("[advice.mailboxfull]\nremedy = \"drop\"\n", "drop"),
        ("[advice.mailboxfull]\nhardbounce = \"always\"\n", "always"),
        ("[advice.mailboxfull]\nowners = \"policy\"\n", "owners"),
        (
            "[order]\nprimary = []\nsecondary = []\n",
            "[order] is built in",
        ),
    ] {
        let err = match Classifier::with_rules(&[("user.toml", text)]) {
            Ok(_) => panic!("{text:?} was accepted"),
            Err(e) => format!(
                "{e:#} {:?}",
                std::error::Error::source(&e).map(|s| s.to_string())
            ),
        };
        assert!(err.contains(says), "{text:?}: {err}");
    }
}

/// A rule's own `owner`, `remedy` and `temporary_remedy` replace its
/// reason's when that rule decides, and only then; `settle` keeps them.
#[test]
fn a_rule_can_give_its_own_owner_and_remedies() {
    let file = r#"
[[rule]]
id = "test/relay-login"
reason = "securityerror"
phrases = ["relay login refused"]
owner = "sender_config"
remedy = "fix_config"
temporary_remedy = "slow_down"
"#;
    let c = Classifier::with_rules(&[("user.toml", file)]).unwrap();
    let v = c.classify_text("550 5.7.1 relay login refused");
    assert_eq!(v.reason, Reason::SecurityError);
    assert_eq!(
        (v.owner, v.remedy),
        (Owner::SenderConfig, Remedy::FixConfig)
    );
    let t = c.classify_text("454 4.7.1 relay login refused");
    assert_eq!((t.owner, t.remedy), (Owner::SenderConfig, Remedy::SlowDown));
    // Another securityerror reply, decided by something else, keeps the
    // reason's advice.
    let other = c.classify_text("550 5.7.1 some policy said no");
    assert_eq!(other.reason, Reason::SecurityError);
    let reason_advice = c.advice(Reason::SecurityError);
    assert_eq!(
        (other.owner, other.remedy),
        (reason_advice.owner, reason_advice.remedy)
    );
    assert_ne!(reason_advice.remedy, Remedy::FixConfig);
    // Re-deriving a finished verdict (as an ESP's "temporary" flag makes
    // the ingest do) still applies the deciding rule's advice.
    let mut settled = v.clone();
    settled.permanent = Some(false);
    c.settle(&mut settled);
    assert_eq!(settled.remedy, Remedy::SlowDown);
    settled.permanent = Some(true);
    c.settle(&mut settled);
    assert_eq!(settled.remedy, Remedy::FixConfig);
    // Once the reason changed, the rule no longer speaks for the verdict.
    settled.reason = Reason::Blocked;
    c.settle(&mut settled);
    assert_eq!(settled.remedy, c.advice(Reason::Blocked).remedy);
}

#[test]
fn a_rule_with_an_unknown_owner_or_remedy_is_refused() {
    for (field, value) in [
        ("owner", "nobody"),
        ("remedy", "drop"),
        ("temporary_remedy", "later"),
    ] {
        let file = format!(
            "[[rule]]\nid = \"t/x\"\nreason = \"blocked\"\nphrases = [\"x\"]\n{field} = \"{value}\"\n"
        );
        let err = Classifier::with_rules(&[("user.toml", &file)])
            .err()
            .unwrap_or_else(|| panic!("{field} = {value:?} accepted"))
            .to_string();
        assert!(err.contains(value), "{err}");
    }
}
