//! The generator's reply texts are judged by the real classifier as the
//! kind of incident they are injected for.

use rebound_core::Observation;
use rebound_insight::IncidentKind;
use rebound_insight::synth::{Rng, incident_reply};

#[test]
fn injected_replies_classify_as_their_kind() {
    let c = rebound_classify::Classifier::builtin();
    let mut rng = Rng::new(1);
    let mut bad = Vec::new();
    for kind in [
        IncidentKind::Reputation,
        IncidentKind::Blocklist,
        IncidentKind::Authentication,
        IncidentKind::RateLimiting,
        IncidentKind::Content,
        IncidentKind::ListQuality,
    ] {
        for (provider, domain) in [
            ("google", "gmail.com"),
            ("microsoft", "outlook.com"),
            ("yahoo", "yahoo.com"),
            ("apple", "icloud.com"),
        ] {
            // Not generated: Gmail's content refusal is judged a policy
            // block, and Apple's throttling has no text of its own here.
            if (kind, provider) == (IncidentKind::Content, "google")
                || (kind, provider) == (IncidentKind::RateLimiting, "apple")
            {
                continue;
            }
            let addr = format!("someone@{domain}");
            let (outcome, text) = incident_reply(kind, provider, "198.51.100.10", &addr, &mut rng);
            let obs = Observation {
                text: text.clone(),
                recipient: Some(addr),
                smtpcommand: Some("RCPT".into()),
                action: Some(
                    if outcome == rebound_ingest::Outcome::Deferred {
                        "delayed"
                    } else {
                        "failed"
                    }
                    .into(),
                ),
                ..Observation::default()
            };
            let v = c.classify(&obs);
            let got = IncidentKind::of(v.reason.as_str(), v.owner.as_str(), v.blocklist.is_some());
            println!(
                "{kind:?}/{provider}: reason={} owner={} provider={:?} bl={:?} -> {got:?}\n   {}",
                v.reason, v.owner, v.provider, v.blocklist, v.pattern
            );
            if got != Some(kind) || v.provider.as_deref() != Some(provider) {
                bad.push(format!(
                    "{kind:?}/{provider}: {got:?} {:?} {text}",
                    v.provider
                ));
            }
        }
    }
    assert!(bad.is_empty(), "misjudged:\n{}", bad.join("\n"));
}
