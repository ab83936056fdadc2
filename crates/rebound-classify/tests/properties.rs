//! Properties that must hold for any input.

use proptest::prelude::*;
use rebound_classify::{Classifier, reply};
use rebound_core::{Observation, Remedy};

fn reply_like() -> impl Strategy<Value = String> {
    let code = prop_oneof![
        Just("421"),
        Just("450"),
        Just("451"),
        Just("452"),
        Just("550"),
        Just("554"),
        Just("250")
    ];
    let status = prop_oneof![
        Just(""),
        Just("4.7.0 "),
        Just("5.1.1 "),
        Just("4.2.2 "),
        Just("5.7.1 "),
        Just("4.4.1 ")
    ];
    let phrase = prop_oneof![
        Just("User unknown".to_string()),
        Just("Mailbox full".to_string()),
        Just("blocked using zen.spamhaus.org".to_string()),
        Just("Relay access denied".to_string()),
        Just("OXSUS001_403".to_string()),
        Just("try again later".to_string()),
        Just("- gsmtp".to_string()),
        ".{0,40}",
    ];
    (code, status, phrase).prop_map(|(c, s, p)| format!("{c} {s}{p}"))
}

proptest! {
    #[test]
    fn never_panics_on_strings(text in ".{0,300}") {
        let _ = reply::parse(&text);
        let _ = Classifier::builtin().classify_text(&text);
    }

    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Classifier::builtin().classify_text(&text);
    }

    /// `reply::codes` is `reply::parse` cut short: the same codes on any
    /// text (log readers and webhooks call it, the classifier `parse`).
    #[test]
    fn codes_are_what_parse_finds(
        text in prop_oneof![
            ".{0,200}",
            reply_like(),
            proptest::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![
                        "550", "5.1.1", "452-4.2.2", "smtp;", " ", "-", ":", "=", "%", "\n",
                        "(5.1.1 x)", "[10.0.0.1]", "2001:db8:550::1", "x-postfix; ", "#",
                    ])
                    .prop_map(str::to_string),
                    "[0-9.]{1,8}",
                    "[a-z ]{0,6}",
                ],
                0..12,
            )
            .prop_map(|parts| parts.concat()),
        ]
    ) {
        let parsed = reply::parse(&text);
        prop_assert_eq!(reply::codes(&text), (parsed.replycode, parsed.status));
    }

    #[test]
    fn deterministic(text in reply_like()) {
        let c = Classifier::builtin();
        prop_assert_eq!(c.classify_text(&text), c.classify_text(&text));
    }

    #[test]
    fn temporary_replies_never_suppress(
        code in prop_oneof![Just("421"), Just("450"), Just("451"), Just("452")],
        status in prop_oneof![Just(""), Just("4.1.1 "), Just("4.2.2 "), Just("4.7.1 "), Just("4.3.2 ")],
        tail in prop_oneof![Just("User unknown".to_string()), Just("Mailbox full".to_string()), Just("OXSUS001_403".to_string()), Just("Host unknown".to_string()), ".{0,60}"],
        command in prop_oneof![Just(None), Just(Some("RCPT".to_string())), Just(Some("DATA".to_string()))],
    ) {
        let obs = Observation {
            text: format!("{code} {status}{tail}"),
            smtpcommand: command,
            ..Observation::default()
        };
        let v = Classifier::builtin().classify(&obs);
        prop_assert!(!v.hardbounce, "{:?}", v);
        prop_assert!(!matches!(v.remedy, Remedy::Suppress | Remedy::RetryThenSuppress), "{:?}", v);
        prop_assert_eq!(v.permanent, Some(false));
    }
}
