//! Verdicts for representative replies. Expected values come from
//! deliverability practice (what a sender must do), not from the output.

use rebound_classify::Classifier;
use rebound_core::{Listed, Observation, Owner, Reason, Remedy, Verdict};

fn classify(text: &str) -> Verdict {
    Classifier::builtin().classify_text(text)
}

/// Each reply's reason and hard-bounce flag; a mismatch names the reply
/// and the rule that decided.
fn assert_reasons(cases: &[(&str, Reason, bool)]) {
    for &(text, reason, hard) in cases {
        let v = classify(text);
        assert_eq!(
            (v.reason, v.hardbounce),
            (reason, hard),
            "{text}: {}",
            v.explain
        );
    }
}

/// Each reply's reason and remedy, none of them a hard bounce.
fn assert_soft_remedies(cases: &[(&str, Reason, Remedy)]) {
    for &(text, reason, remedy) in cases {
        let v = classify(text);
        assert_eq!(
            (v.reason, v.hardbounce, v.remedy),
            (reason, false, remedy),
            "{text}: {}",
            v.explain
        );
    }
}

#[test]
fn user_unknown_is_a_hard_bounce_to_suppress() {
    let v = classify("550 5.1.1 User unknown");
    assert_eq!(v.reason, Reason::UserUnknown);
    assert!(v.hardbounce);
    assert_eq!(v.permanent, Some(true));
    assert_eq!(v.owner, Owner::Recipient);
    assert_eq!(v.remedy, Remedy::Suppress);
    assert_eq!(v.replycode.unwrap().get(), 550);
    assert_eq!(v.deliverystatus.unwrap().to_string(), "5.1.1");
}

#[test]
fn relaying_denied_is_the_senders_configuration() {
    let v = classify("550 5.7.1 Relaying denied");
    assert_eq!(v.reason, Reason::NoRelaying);
    assert!(!v.hardbounce);
    assert_eq!(v.owner, Owner::SenderConfig);
    assert_eq!(v.remedy, Remedy::FixConfig);
}

#[test]
fn vade_oxsus001_403_means_no_mailbox_despite_5_7_1() {
    let v = classify("550 5.7.1 Service unavailable, mailbox does not exist OXSUS001_403");
    assert_eq!(v.reason, Reason::UserUnknown);
    assert!(v.hardbounce);
    assert_eq!(v.remedy, Remedy::Suppress);
    assert_eq!(v.provider.as_deref(), Some("vade"));
    assert!(v.explain.contains("vade/OXSUS001"), "{}", v.explain);
    assert!(v.explain.contains("5.7.1"), "{}", v.explain);
}

#[test]
fn temporary_failure_is_never_suppressed() {
    let v = classify("421 4.7.0 Try again later");
    assert!(!v.hardbounce);
    assert_eq!(v.permanent, Some(false));
    assert!(
        matches!(v.remedy, Remedy::Retry | Remedy::SlowDown),
        "{:?}",
        v.remedy
    );
}

#[test]
fn gmail_unauthenticated_is_authfailure() {
    let v = classify(
        "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\n\
         550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n\
         550 5.7.26 authenticate with at least one of SPF or DKIM. x1si123abc.45 - gsmtp",
    );
    assert_eq!(v.reason, Reason::AuthFailure);
    assert_eq!(v.owner, Owner::SenderAuth);
    // SPF or DKIM setup: resending fails until the sender fixes it.
    assert_eq!(v.remedy, Remedy::FixConfig);
    assert_eq!(v.provider.as_deref(), Some("google"));
    assert!(!v.hardbounce);
}

/// Microsoft's refusal of senders without SPF, DKIM and DMARC
/// (`5.7.515`, aka.ms/SenderRequirements) read from its text alone, as
/// when the reply reaches us without a host that names Microsoft (a
/// relay's bounce, a webhook): the sender's authentication to fix, not a
/// policy to investigate.
#[test]
fn an_unmet_authentication_requirement_is_authfailure_without_the_provider() {
    for text in [
        "550 5.7.515 Access denied, sending domain example.com doesn't meet the required authentication level. The sender's domain in the 5322.From address doesn't meet the authentication requirements defined for the sender.",
        "550 5.7.1 Message rejected: the sending domain does not meet the authentication requirements",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::AuthFailure, "{text}");
        assert!(!v.hardbounce, "{text}");
        assert_eq!(v.owner, Owner::SenderAuth, "{text}");
        assert_eq!(v.remedy, Remedy::FixConfig, "{text}");
    }
}

/// Servers that answer in their own language, without an enhanced status
/// to lean on: a missing mailbox is a hard bounce, a full one is retried,
/// whatever the language (capitals outside ASCII included).
#[test]
fn missing_and_full_mailboxes_in_other_languages() {
    for text in [
        "550 Postfach nicht vorhanden",
        "550 Empfänger unbekannt",
        "550 Utilisateur inexistant",
        "550 Destinataire inconnu",
        "550 Usuario no existe",
        "550 Usuário desconhecido",
        "550 Destinatario inesistente",
        "550 Gebruiker bestaat niet",
        "550 Okänd mottagare",
        "550 Nie ma takiego użytkownika",
        "550 Нет такого пользователя",
        "550 Пользователь не найден",
        // Capitals outside ASCII fold too.
        "550 EMPFÄNGER UNBEKANNT",
        "550 ПОЛЬЗОВАТЕЛЬ НЕ НАЙДЕН",
        "550 Użytkownik nie istnieje",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::UserUnknown, "{text}");
        assert!(v.hardbounce, "{text}");
    }
    for text in [
        "552 Caixa postal cheia",
        "552 Casilla llena",
        "552 Postvak vol",
        "552 Skrzynka pełna",
        "552 Ящик переполнен",
        "554 5.2.0 STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::MailboxFull, "{text}");
        assert!(!v.hardbounce, "{text}");
        assert_eq!(v.remedy, Remedy::RetryThenSuppress, "{text}");
    }
}

/// A mailbox closed for inactivity is suspended (retried, then
/// suppressed), not a filter to investigate.
#[test]
fn a_mailbox_closed_for_inactivity_is_suspend() {
    for text in [
        "550 5.2.1 This mailbox has been blocked due to inactivity",
        "550 5.2.1 Mailbox closed because of inactivity",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::Suspend, "{text}");
        assert_eq!(v.remedy, Remedy::RetryThenSuppress, "{text}");
    }
    // A connection dropped for idling is a network timeout, nothing about
    // the mailbox.
    for text in [
        "421 4.4.2 Connection closed due to inactivity",
        "421 Disconnected for inactivity, closing channel",
    ] {
        assert_ne!(classify(text).reason, Reason::Suspend, "{text}");
    }
}

/// A reply that says the *sender's* mailbox, address or domain does not
/// exist uses the same words as a missing recipient: it is the sender's
/// setup, never a hard bounce that would suppress a good recipient.
#[test]
fn a_missing_sender_is_never_the_recipients_hard_bounce() {
    for text in [
        "553 5.1.8 Domain of sender address does not exist",
        "550 5.1.0 Sender address does not exist",
        "550 5.1.7 The sender's mailbox does not exist",
        "550 5.1.0 <news@bad.example> sender rejected: no such user",
        "550 From address does not exist",
        "550 Invalid sender: user unknown",
        "550 5.1.0 Address rejected news@bad.example: sender user unknown",
        "550 Return path does not exist",
        "550 5.7.1 Envelope sender mailbox does not exist",
        "550 Sender domain unknown",
        "550 5.1.2 Sender host unknown",
        "550 5.7.1 Unknown sender domain",
        "550 Verification failed for <news@bad.example>: Unrouteable address",
        "550 5.1.2 Unrouteable sender address",
        "451 Temporary local problem - sender verify defer: host not found",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::Rejected, "{text}");
        assert!(!v.hardbounce, "{text}");
        assert_ne!(v.remedy, Remedy::Suppress, "{text}");
    }
    // The recipient's own missing mailbox still is one.
    let v = classify("550 5.1.1 <anna@example.org>: Recipient address rejected: User unknown");
    assert_eq!(v.reason, Reason::UserUnknown);
    assert!(v.hardbounce);
}

/// RFC 5321's stock "mailbox unavailable", or a "user unknown", followed
/// by the real reason (the sending IP's listing, spam, a rate, the
/// recipient's refusal of this sender): not a dead address, no hard
/// bounce, and the reason the words give.
#[test]
fn a_refusal_disguised_as_a_missing_mailbox_is_not_a_hard_bounce() {
    for (text, reason) in [
        (
            "550 5.7.1 Mailbox unavailable. Your IP has been blocked",
            Reason::Blocked,
        ),
        (
            "550 Mailbox unavailable: your IP is on a blocklist",
            Reason::Blocked,
        ),
        (
            "550 User unknown, your IP 192.0.2.9 is on our DNSBL",
            Reason::Blocked,
        ),
        (
            "550 Requested action not taken: mailbox unavailable (spam detected)",
            Reason::SpamDetected,
        ),
        (
            "550 Mailbox unavailable - rate limited, try again later",
            Reason::Speeding,
        ),
        (
            "550 5.1.1 Recipient rejected: you are not allowed to send to this recipient",
            Reason::Rejected,
        ),
        (
            "553 5.1.1 Mailbox name not allowed: sender domain blocked",
            Reason::Rejected,
        ),
        (
            "550 Message rejected: recipient does not accept mail from your domain",
            Reason::Rejected,
        ),
    ] {
        let v = classify(text);
        assert_eq!(v.reason, reason, "{text}");
        assert!(!v.hardbounce, "{text}");
        assert_ne!(v.remedy, Remedy::Suppress, "{text}");
    }
    // The stock text alone, and a domain that takes no mail, still are.
    for text in [
        "550 Requested action not taken: mailbox unavailable",
        "556 5.1.10 Recipient address rejected: Domain example.org does not accept mail (nullMX)",
    ] {
        assert!(classify(text).hardbounce, "{text}");
    }
}

/// Gmail's bulk-sender refusals read by their cause, even when worded as
/// a rate limit: failed DKIM or DMARC alignment is the sender's
/// authentication, mail not sent over TLS its TLS setup (fix, do not just
/// slow down); a recipient's own policy and suspicious content are named.
#[test]
fn gmail_bulk_sender_refusals_are_read_by_their_cause() {
    for (text, reason, remedy) in [
        (
            "550-5.7.30 Your email has been blocked because DKIM authentication didn't pass for this message.",
            Reason::AuthFailure,
            Remedy::FixConfig,
        ),
        (
            "421-4.7.30 Your email has been rate limited because DKIM authentication didn't pass for this message.",
            Reason::AuthFailure,
            Remedy::FixConfig,
        ),
        (
            "421-4.7.32 Your email has been rate limited because the From: header (RFC5322) in this message isn't aligned with either the authenticated SPF or DKIM organizational domain.",
            Reason::AuthFailure,
            Remedy::FixConfig,
        ),
        (
            "421-4.7.29 Your email has been rate limited because this message wasn't sent over a TLS connection.",
            Reason::FailedStartTls,
            Remedy::FixConfig,
        ),
        (
            "550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.",
            Reason::PolicyViolation,
            Remedy::Investigate,
        ),
        (
            "421-4.7.0 [192.0.2.9] Our system has detected that this message is suspicious due to the nature of the content and/or the links within.",
            Reason::SpamDetected,
            Remedy::Retry,
        ),
    ] {
        let v = classify(text);
        assert_eq!((v.reason, v.remedy), (reason, remedy), "{text}");
        assert!(!v.hardbounce, "{text}");
    }
}

/// A retired address is a dead one; the same words about mail from this
/// sender are the recipient's refusal of the sender.
#[test]
fn a_retired_address_is_dead_but_a_refused_sender_is_not() {
    for text in [
        "554 5.7.1 <x@example.org>: Recipient address rejected: This address no longer accepts mail.",
        "550 5.1.1 The email address is no longer in service",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::UserUnknown, "{text}");
        assert!(v.hardbounce, "{text}");
    }
    for text in [
        "550 This address no longer accepts mail from your domain",
        "554 5.7.1 <x@example.org>: Recipient address rejected: Blocked by recipient",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::Rejected, "{text}");
        assert!(!v.hardbounce, "{text}");
    }
}

/// A refused SMTP login names a "user" too: its reply code (RFC 4954)
/// says it is the sending client's credentials, never a recipient's
/// missing mailbox, or a relay with a bad password would suppress every
/// address it was given.
#[test]
fn a_refused_smtp_login_is_never_a_missing_mailbox() {
    for text in [
        "535 5.7.8 Error: authentication failed: unknown user",
        "535 5.7.3 Authentication unsuccessful: user not found",
        "535 Account does not exist",
        "534 5.7.9 No such user for this mechanism",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::SecurityError, "{text}");
        assert!(!v.hardbounce, "{text}");
        assert_eq!(v.remedy, Remedy::FixConfig, "{text}");
    }
}

/// Deferred or refused for the recipients' complaints: the sender's
/// reputation, even where the provider's tag is not recognised.
#[test]
fn complaints_are_the_senders_reputation() {
    for text in [
        "421 4.7.0 [TSS04] Messages from 192.0.2.9 temporarily deferred due to user complaints",
        "554 5.7.1 Rejected due to complaints from our users",
        "550 5.7.1 Message rejected due to high bounce rate",
        "554 5.7.1 The sending domain has been blocked due to abuse",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::BadReputation, "{text}");
        assert!(!v.hardbounce, "{text}");
    }
}

/// A listed or known-bad link in the message is its content, not a block
/// of the sending IP.
#[test]
fn a_bad_link_in_the_message_is_its_content() {
    for text in [
        "550 5.7.1 URL in message body is blacklisted",
        "550 5.7.1 Message contains a blocked URL",
        "554 5.7.1 Message rejected: link to a known phishing site",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::SpamDetected, "{text}");
        assert!(!v.hardbounce, "{text}");
    }
}

/// Chinese providers' short English replies, read without the provider
/// named (a relay's bounce, a webhook): spam content, a full mailbox, a
/// rate.
#[test]
fn short_replies_of_chinese_providers() {
    for (text, reason) in [
        (
            "550 Mail content denied. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000726",
            Reason::SpamDetected,
        ),
        ("550 User is over flow", Reason::MailboxFull),
        (
            "550 Requested action not taken: Too many emails per second",
            Reason::Speeding,
        ),
    ] {
        let v = classify(text);
        assert_eq!(v.reason, reason, "{text}");
        assert!(!v.hardbounce, "{text}");
    }
}

/// A refusal of the sending IP for its reverse DNS, in wordings other
/// than Postfix's: the sender's DNS to fix, under a bare 5.7.1.
#[test]
fn a_refused_reverse_lookup_is_the_senders_ptr() {
    for text in [
        "550 5.7.1 Sender IP reverse lookup rejected",
        "554 5.7.1 Client IP reverse lookup rejected: 192.0.2.4",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::RequirePtr, "{text}");
        assert!(!v.hardbounce, "{text}");
        assert_eq!(v.remedy, Remedy::FixConfig, "{text}");
    }
}

#[test]
fn spamhaus_listing_is_blocked_with_the_zone() {
    let v = classify(
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
    );
    assert_eq!(v.reason, Reason::Blocked);
    assert_eq!(v.owner, Owner::SenderReputation);
    assert_eq!(v.remedy, Remedy::Investigate);
    let bl = v.blocklist.expect("blocklist");
    assert_eq!(bl.name, "spamhaus");
    assert_eq!(bl.zone, "zen.spamhaus.org");
    assert_eq!(bl.listed, Listed::Ip);
}

#[test]
fn other_blocklists_are_named() {
    let cases = [
        (
            "554 Rejected: 192.0.2.1 listed at bl.spamcop.net",
            "spamcop",
            "bl.spamcop.net",
        ),
        (
            "550 5.7.1 blocked using b.barracudacentral.org",
            "barracuda",
            "b.barracudacentral.org",
        ),
        (
            "554 5.7.1 rejected because 192.0.2.1 is in dnsbl-1.uceprotect.net",
            "uceprotect",
            "dnsbl-1.uceprotect.net",
        ),
        (
            "550 5.7.1 URL in message listed at dbl.spamhaus.org",
            "spamhaus",
            "dbl.spamhaus.org",
        ),
    ];
    for (text, name, zone) in cases {
        let v = classify(text);
        let bl = v
            .blocklist
            .unwrap_or_else(|| panic!("no blocklist for {text}"));
        assert_eq!((bl.name.as_str(), bl.zone.as_str()), (name, zone), "{text}");
        assert_eq!(v.reason, Reason::Blocked, "{text}");
    }
    assert_eq!(
        classify("550 5.7.1 URL in message listed at dbl.spamhaus.org")
            .blocklist
            .unwrap()
            .listed,
        Listed::Domain
    );
}

#[test]
fn mailbox_full_is_retried_then_suppressed() {
    let v = classify("552 5.2.2 Mailbox full");
    assert_eq!(v.reason, Reason::MailboxFull);
    assert_eq!(v.owner, Owner::Mailbox);
    assert_eq!(v.remedy, Remedy::RetryThenSuppress);
    assert!(!v.hardbounce);
    // The same over quota, temporarily: retry only; a deferral never
    // counts toward suppressing anyone.
    let v = classify("452 4.2.2 Mailbox full");
    assert_eq!(v.reason, Reason::MailboxFull);
    assert_eq!(v.remedy, Remedy::Retry);
    assert!(!v.hardbounce);
}

#[test]
fn rate_limits_slow_down() {
    let v = classify(
        "451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation. (S3113)",
    );
    assert_eq!(v.reason, Reason::BadReputation);
    assert_eq!(v.remedy, Remedy::SlowDown);
    assert_eq!(v.provider.as_deref(), Some("microsoft"));
    let v = classify(
        "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    );
    assert_eq!(v.provider.as_deref(), Some("yahoo"));
    assert_eq!(v.remedy, Remedy::SlowDown);
    let v = classify("452 4.3.2 Connection rate limit exceeded.");
    assert_eq!(v.reason, Reason::TooManyConn);
    assert_eq!(v.remedy, Remedy::SlowDown);
}

#[test]
fn microsoft_codes() {
    let v = classify(
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/",
    );
    assert_eq!(v.reason, Reason::Blocked);
    assert_eq!(v.provider.as_deref(), Some("microsoft"));
    let v = Classifier::builtin().classify(&Observation {
        text: "host example-com.mail.protection.outlook.com[192.0.2.1] said: 550 5.4.1 Recipient address rejected: Access denied. AS(201806281) (in reply to RCPT TO command)".into(),
        ..Observation::default()
    });
    assert_eq!(v.reason, Reason::UserUnknown);
    assert_eq!(v.smtpcommand, "RCPT");
    assert_eq!(v.rhost, "example-com.mail.protection.outlook.com");
}

#[test]
fn yahoo_tss04_from_yahoos_own_mx_refuses_the_sender() {
    let text = "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes";
    // Said by Yahoo's own MX (the remote host is Yahoo's).
    let v = Classifier::builtin().classify(&Observation {
        text: text.into(),
        smtpcommand: Some("MAIL".into()),
        rhost: Some("mta6.am0.yahoodns.net".into()),
        ..Observation::default()
    });
    assert_eq!(v.reason, Reason::Rejected, "{}", v.explain);
    assert!(
        v.explain.contains("yahoo/TSS04-at-yahoo-mx"),
        "{}",
        v.explain
    );
    assert_eq!(v.permanent, Some(false));
    // The same words quoted with no Yahoo host known: only the marker names
    // Yahoo, and the reputation reading stands.
    let v = Classifier::builtin().classify(&Observation {
        text: text.into(),
        smtpcommand: Some("MAIL".into()),
        rhost: Some("192.0.2.7".into()),
        ..Observation::default()
    });
    assert_eq!(v.reason, Reason::BadReputation, "{}", v.explain);
    assert_eq!(v.provider.as_deref(), Some("yahoo"));
}

#[test]
fn from_host_needs_a_provider_file() {
    let err = Classifier::with_rules(&[(
        "mine.toml",
        "[[rule]]\nid = \"x\"\nreason = \"blocked\"\nphrases = [\"zzz\"]\nfrom_host = true\n",
    )])
    .err()
    .expect("a generic rule cannot ask for the provider's host");
    assert!(err.to_string().contains("from_host"), "{err}");
}

#[test]
fn dropped_connections_are_refusals_and_timeouts_expire() {
    // The peer tore the session down and the delivery failed: refused,
    // like "connection refused".
    let reset = Observation {
        text: "Remote protocol error: Connection reset by peer during result wait with example.edu"
            .into(),
        action: Some("failed".into()),
        ..Observation::default()
    };
    let v = Classifier::builtin().classify(&reset);
    assert_eq!(v.reason, Reason::Blocked, "{}", v.explain);
    // The same reset during a deferral is a network hiccup.
    let v = Classifier::builtin().classify(&Observation {
        action: Some("delayed".into()),
        ..reset
    });
    assert_eq!(v.reason, Reason::NetworkError, "{}", v.explain);
    // A host that never answered until the queue gave up.
    let v = Classifier::builtin().classify(&Observation {
        text: "426 connection timed out".into(),
        status: Some("4.0.0".parse().unwrap()),
        action: Some("failed".into()),
        ..Observation::default()
    });
    assert_eq!(v.reason, Reason::Expired, "{}", v.explain);
    assert!(!v.hardbounce);
    // One deferred attempt that timed out has not expired: its status says
    // what it is.
    let v = classify("421 4.4.2 Connection timed out");
    assert_eq!(v.reason, Reason::NetworkError, "{}", v.explain);
    // A named network cause still wins over the timeout.
    let v = classify("connect to mx.example.org: No route to host; Connection timed out");
    assert_eq!(v.reason, Reason::NetworkError, "{}", v.explain);
}

#[test]
fn messagelabs_542_rejected_is_an_unknown_recipient() {
    let obs = Observation {
        text: "542 kijitora@example.com Rejected".into(),
        lhost: Some("server-00.bemta-0.messagelabs.com".into()),
        action: Some("failed".into()),
        ..Observation::default()
    };
    let v = Classifier::builtin().classify(&obs);
    assert_eq!(v.reason, Reason::UserUnknown, "{}", v.explain);
    assert!(v.hardbounce);
    // Without MessageLabs in sight the code is nobody's convention.
    let v = Classifier::builtin().classify(&Observation { lhost: None, ..obs });
    assert_ne!(v.reason, Reason::UserUnknown, "{}", v.explain);
}

#[test]
fn sisimai_user_unknown_after_data_is_filtered() {
    let obs = Observation {
        text: "550 Unknown user kijitora@example.jp".into(),
        smtpcommand: Some("DATA".into()),
        ..Observation::default()
    };
    assert_eq!(
        Classifier::builtin().classify(&obs).reason,
        Reason::Filtered
    );
    let obs = Observation {
        smtpcommand: Some("RCPT".into()),
        ..obs
    };
    let v = Classifier::builtin().classify(&obs);
    assert_eq!(v.reason, Reason::UserUnknown);
    assert!(v.hardbounce);
}

#[test]
fn user_unknown_with_no_command_is_dead_unless_a_bounce_message_left_it_out() {
    let c = Classifier::builtin();
    // A reply as a webhook or a log line gives it: no command recorded, and
    // the words are all there is. The address is dead.
    for text in [
        "550 user unknown",
        "550 5.0.0 <kijitora@example.jp>: Recipient address rejected: User unknown",
        "No such user here",
    ] {
        let v = c.classify(&Observation {
            text: text.into(),
            action: Some("failed".into()),
            ..Observation::default()
        });
        assert_eq!(v.reason, Reason::UserUnknown, "{text}: {}", v.explain);
        assert!(v.hardbounce, "{text}");
        assert_eq!(v.remedy, Remedy::Suppress, "{text}");
    }
    // Said after DATA, the server had accepted the recipient: a filter.
    let after_data = c.classify(&Observation {
        text: "550 user unknown".into(),
        smtpcommand: Some("DATA".into()),
        ..Observation::default()
    });
    assert_eq!(
        after_data.reason,
        Reason::Filtered,
        "{}",
        after_data.explain
    );
    assert!(!after_data.hardbounce);
    // A bounce message's summary line that names no command (a relay's
    // "[User unknown]"): the reporting MTA would have said RCPT.
    let bare = Observation {
        text: "kijitora@example.jp [User unknown]".into(),
        action: Some("failed".into()),
        bounce_report: true,
        ..Observation::default()
    };
    let v = c.classify(&bare);
    assert_eq!(v.reason, Reason::Filtered, "{}", v.explain);
    assert!(!v.hardbounce, "a filter's refusal must not suppress");
    assert!(v.explain.contains("filtered/userunknown-outside-rcpt"));
    // A status naming a bad mailbox decides.
    let with_status = Observation {
        status: Some("5.1.1".parse().unwrap()),
        ..bare.clone()
    };
    let v = c.classify(&with_status);
    assert_eq!(v.reason, Reason::UserUnknown, "{}", v.explain);
    assert!(v.hardbounce);
    // A reporting system's own directory lookup (Domino) decides too.
    let domino = Observation {
        text: "User some.name (kijitora@example.jp) not listed in Domino Directory".into(),
        ..bare
    };
    assert_eq!(c.classify(&domino).reason, Reason::UserUnknown);
}

#[test]
fn hints_interact_with_text() {
    let c = Classifier::builtin();
    // Format-only facts stay whatever the text says.
    let obs = Observation {
        text: "550 5.1.1 User unknown".into(),
        reason_hint: Some(Reason::Feedback),
        ..Observation::default()
    };
    assert_eq!(c.classify(&obs).reason, Reason::Feedback);
    // A generic hint yields to a specific text.
    let obs = Observation {
        text: "552 5.2.2 Mailbox full".into(),
        reason_hint: Some(Reason::Expired),
        ..Observation::default()
    };
    assert_eq!(c.classify(&obs).reason, Reason::MailboxFull);
    // ... and decides when the text says nothing specific.
    let obs = Observation {
        text: "Connection timed out".into(),
        reason_hint: Some(Reason::Expired),
        action: Some("failed".into()),
        ..Observation::default()
    };
    assert_eq!(c.classify(&obs).reason, Reason::Expired);
    // A delay notice has not expired, whatever its decoder guessed: the MTA
    // is still retrying, so the outcome is pending and nothing is suppressed;
    // the attempt that timed out is a network matter.
    for status in ["", "Status: 4.4.7 "] {
        let obs = Observation {
            text: format!("{status}Connection timed out"),
            reason_hint: Some(Reason::Expired),
            action: Some("delayed".into()),
            ..Observation::default()
        };
        let v = c.classify(&obs);
        assert_eq!(v.reason, Reason::NetworkError, "{status}");
        assert_eq!(v.permanent, Some(false));
        assert!(!v.hardbounce);
        assert_eq!(v.remedy, Remedy::Retry);
    }
    // A delay notice that names its cause keeps it.
    let obs = Observation {
        text: "452 4.2.2 Mailbox full".into(),
        action: Some("delayed".into()),
        ..Observation::default()
    };
    assert_eq!(c.classify(&obs).reason, Reason::MailboxFull);
}

#[test]
fn success_is_delivered() {
    let v = classify("250 2.0.0 OK 1700000000 x1si123 - gsmtp");
    assert_eq!(v.reason, Reason::Delivered);
    assert_eq!(v.remedy, Remedy::None);
    assert_eq!(v.permanent, None);
}

#[test]
fn garbage_and_empty_input_are_undefined() {
    for text in [
        "",
        "   ",
        "\u{fffd}\u{fffd} garbage \u{0}\u{1}",
        &"x".repeat(1 << 20),
    ] {
        let v = classify(text);
        assert_eq!(
            v.reason,
            Reason::Undefined,
            "{:?}",
            &text[..text.len().min(20)]
        );
        assert_eq!(v.owner, Owner::Unknown);
    }
}

#[test]
fn patterns_group_replies_of_one_kind() {
    let a = classify(
        "host mx1.example.com[192.0.2.1] said: 550 5.1.1 <alice@example.com>: Recipient address rejected: User unknown in virtual mailbox table; id=3f9a8b7c6d5e (in reply to RCPT TO command)",
    );
    let b = classify(
        "host mx9.other.net[203.0.113.77] said: 550 5.1.1 <bob.smith@other.net>: Recipient address rejected: User unknown in virtual mailbox table; id=0a1b2c3d4e5f (in reply to RCPT TO command)",
    );
    assert_eq!(a.pattern, b.pattern);
    assert_eq!(
        a.pattern,
        "550 5.1.1 <<email>>: Recipient address rejected: User unknown in virtual mailbox table; id=<id>"
    );
    let c = classify(
        "550 5.7.1 [192.0.2.1 18] Our system has detected that this message is likely suspicious. x1si1584129pfn.61 - gsmtp",
    );
    let d = classify(
        "550 5.7.1 [198.51.100.7 18] Our system has detected that this message is likely suspicious. 98e67ed59e1d1-2c2d0e28189si6418580a91.13 - gsmtp",
    );
    assert_eq!(c.pattern, d.pattern);
}

#[test]
fn user_rules_take_precedence() {
    let user = r#"
[[rule]]
id = "acme/quota-means-gone"
reason = "userunknown"
phrases = ["mailbox full"]
explain = "Acme's MX says 'mailbox full' for deleted accounts"
"#;
    let c = Classifier::with_rules(&[("acme.toml", user)]).expect("valid user rules");
    let v = c.classify_text("552 5.2.2 Mailbox full");
    assert_eq!(v.reason, Reason::UserUnknown);
    assert!(
        v.explain.starts_with("rule acme/quota-means-gone:"),
        "{}",
        v.explain
    );
    // The built-ins are untouched.
    assert_eq!(
        classify("552 5.2.2 Mailbox full").reason,
        Reason::MailboxFull
    );
}

/// A user's phrase matches whatever case either side writes it in, ASCII
/// or not.
#[test]
fn user_phrases_match_in_any_case() {
    let user = r#"
[[rule]]
id = "acme/retired"
reason = "userunknown"
phrases = ["Mailbox Retired By ACME", "Адрес Закрыт"]
"#;
    let c = Classifier::with_rules(&[("acme.toml", user)]).expect("valid user rules");
    for text in [
        "550 mailbox retired by acme",
        "550 MAILBOX RETIRED BY ACME",
        "550 адрес закрыт",
        "550 АДРЕС ЗАКРЫТ",
    ] {
        let v = c.classify_text(text);
        assert!(
            v.explain.starts_with("rule acme/retired:"),
            "{text}: {}",
            v.explain
        );
    }
}

/// The built-in `sender-named` phrase set vetoes every recipient-address
/// reason at once (rejected reads its wordings as the sender's), and a user file widens it for all of them by defining
/// the same name (here in Dutch: "afzender" is the sender).
#[test]
fn phrase_sets_veto_every_rule_that_names_them_and_users_can_widen_them() {
    let builtin = [
        // userunknown, hostunknown, notaccept, each over the sender's
        // address in the set's own words.
        "550 5.1.1 Envelope sender mailbox unknown: user unknown",
        "550 5.1.2 Unroutable sender: host unknown",
        "550 Sender mailbox has a null MX",
        // ... and a recipient status that would decide alone yields to
        // rejected's rule over the same set.
        "550 5.1.1 Sender mailbox unknown",
        "550 5.1.10 Envelope sender domain has a null MX",
        // ... also in the languages the set knows.
        "550 5.1.1 Absender unbekannt: user unknown",
        "550 5.1.1 Direccion del remitente rechazada: el dominio del remitente no existe",
    ];
    for text in builtin {
        let v = classify(text);
        assert_eq!(v.reason, Reason::Rejected, "{text}: {}", v.explain);
        assert!(!v.hardbounce, "{text}");
    }
    let dutch = [
        "550 5.1.1 Afzender onbekend: user unknown",
        "550 Afzender-domein: domain does not exist",
        "550 Afzender-domein: null mx",
    ];
    for text in dutch {
        assert!(
            matches!(
                classify(text).reason,
                Reason::UserUnknown | Reason::HostUnknown | Reason::NotAccept
            ),
            "{text}: the built-in set does not know the Dutch word"
        );
    }
    let user = "[phrase_sets]\nsender-named = [\"afzender\"]\n";
    let c = Classifier::with_rules(&[("nl.toml", user)]).expect("valid user rules");
    for text in dutch {
        let v = c.classify_text(text);
        assert!(
            !matches!(
                v.reason,
                Reason::UserUnknown | Reason::HostUnknown | Reason::NotAccept
            ),
            "{text}: {} ({})",
            v.reason,
            v.explain
        );
    }
    // The user's phrase adds to the set; the built-in phrases still veto.
    assert_ne!(c.classify_text(builtin[0]).reason, Reason::UserUnknown);
    for (file, text, message) in [
        (
            "x.toml",
            "[[rule]]\nid = \"x\"\nreason = \"blocked\"\nphrases = [\"a\"]\nexcludes_sets = [\"nope\"]\n",
            "no phrase set \"nope\"",
        ),
        ("y.toml", "[phrase_sets]\nempty = []\n", "is empty"),
    ] {
        let err = Classifier::with_rules(&[(file, text)])
            .err()
            .expect("error");
        assert!(err.to_string().contains(file), "{err}");
        assert!(err.to_string().contains(message), "{err}");
    }
}

#[test]
fn bad_user_rules_are_clear_errors() {
    let err = Classifier::with_rules(&[(
        "bad.toml",
        "[[rule]]\nid = \"x\"\nreason = \"nonsense\"\nphrases = [\"a\"]\n",
    )])
    .err()
    .expect("error");
    assert!(err.to_string().contains("bad.toml"), "{err}");
    let err = Classifier::with_rules(&[(
        "typo.toml",
        "[[rule]]\nid = \"x\"\nreason = \"blocked\"\nphrase = [\"a\"]\n",
    )])
    .err()
    .expect("error");
    assert!(err.to_string().contains("typo.toml"), "{err}");
    assert!(Classifier::from_user_file("/nonexistent/rules.toml").is_err());
}

#[test]
fn explain_names_the_rule() {
    let v = classify("550 5.7.1 Relaying denied");
    assert!(v.explain.starts_with("rule norelaying/"), "{}", v.explain);
    let v = classify("550 5.1.1 Sorry");
    assert!(v.explain.starts_with("status 5.1.1"), "{}", v.explain);
}

#[test]
fn ezweb_names_the_address_only_for_a_missing_mailbox() {
    let obs = |text: &str| Observation {
        text: text.to_string(),
        replycode: None,
        recipient: Some("neko@ezweb.ne.jp".to_string()),
        ..Observation::default()
    };
    let missing = Classifier::builtin().classify(&obs("550 <neko@ezweb.ne.jp>: User unknown"));
    assert_eq!(missing.reason, Reason::UserUnknown);
    assert!(missing.hardbounce);
    // Without the address, au's reception filter refused the sender.
    let filtered = Classifier::builtin().classify(&obs("550 : User unknown"));
    assert_eq!(filtered.reason, Reason::Filtered);
    assert!(!filtered.hardbounce);
    assert_ne!(filtered.remedy, Remedy::Suppress);
}

#[test]
fn settle_rederives_hardness_from_a_stand_in_status() {
    let mut v = classify("an MX or SRV record indicated no SMTP service");
    assert_eq!(v.reason, Reason::NotAccept);
    assert!(!v.hardbounce, "no class known yet");
    v.deliverystatus = rebound_core::EnhancedStatus::new(5, 0, 932);
    Classifier::builtin().settle(&mut v);
    assert!(v.hardbounce);
    assert_eq!(v.remedy, Remedy::Suppress);
}

#[test]
fn a_transport_catch_all_status_yields_to_the_quoted_reply() {
    let c = Classifier::builtin();
    // An ESP's event: its own `5.0.0` over the receiver's specific reply.
    let v = c.classify(&Observation {
        text: "smtp; 550 5.1.1 <kijitora@example.org>: Recipient address does not exist".into(),
        status: Some("5.0.0".parse().unwrap()),
        ..Observation::default()
    });
    assert_eq!(v.reason, Reason::UserUnknown, "{}", v.explain);
    assert_eq!(v.deliverystatus, Some("5.1.1".parse().unwrap()));
    assert!(v.hardbounce);
    // A specific stated status stays: the DSN's own judgement.
    let v = c.classify(&Observation {
        text: "550 5.1.1 user unknown".into(),
        status: Some("5.2.2".parse().unwrap()),
        ..Observation::default()
    });
    assert_eq!(v.deliverystatus, Some("5.2.2".parse().unwrap()));
    // A catch-all of another class stays too: a `4.0.0` transport status
    // over a quoted `5.x.x` reply is the transport's decision to retry.
    let v = c.classify(&Observation {
        text: "550 5.7.1 blocked".into(),
        status: Some("4.0.0".parse().unwrap()),
        ..Observation::default()
    });
    assert_eq!(v.deliverystatus, Some("4.0.0".parse().unwrap()));
    assert!(!v.hardbounce);
}

/// Replies under `x.7.x` (and sender limits) name what failed in words; a
/// bare status must not make every one of them an authentication problem.
#[test]
fn security_and_policy_statuses_read_by_their_words() {
    use Owner as O;
    use Reason as R;
    use Remedy as M;
    let cases: &[(&str, Reason, Owner, Remedy)] = &[
        // SPF, DKIM and DMARC wording: the sender's authentication.
        (
            "550 5.7.1 Sender address failed SPF verification",
            R::AuthFailure,
            O::SenderAuth,
            M::FixConfig,
        ),
        (
            "550 5.7.1 DKIM signature is invalid",
            R::AuthFailure,
            O::SenderAuth,
            M::FixConfig,
        ),
        (
            "550 5.7.1 Unauthenticated mail is prohibited",
            R::AuthFailure,
            O::SenderAuth,
            M::FixConfig,
        ),
        (
            "550 5.7.1 [SPF] 192.0.2.1 is not allowed to send mail from example.com",
            R::AuthFailure,
            O::SenderAuth,
            M::FixConfig,
        ),
        // Spam-content wording: the content.
        (
            "550 5.7.1 Our system has detected that this message is likely unsolicited mail.",
            R::SpamDetected,
            O::Content,
            M::Investigate,
        ),
        (
            "550 5.7.1 Message contains spam or virus",
            R::SpamDetected,
            O::Content,
            M::Investigate,
        ),
        // Greylisting: a deliberate first deferral; retry.
        (
            "451 4.7.1 Greylisting in action, please come back later",
            R::PolicyViolation,
            O::Policy,
            M::Retry,
        ),
        (
            "450 4.7.1 <a@example.com>: Recipient address rejected: Greylisted, see https://postgrey.example/",
            R::PolicyViolation,
            O::Policy,
            M::Retry,
        ),
        // Throttling: slow down.
        (
            "421 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719)",
            R::Speeding,
            O::SenderReputation,
            M::SlowDown,
        ),
        (
            "452 4.7.1 Rate limit exceeded",
            R::Speeding,
            O::SenderReputation,
            M::SlowDown,
        ),
        // The sender's own quotas: slow down, never the recipient's fault.
        (
            "550 5.4.5 Daily user sending quota exceeded.",
            R::Speeding,
            O::SenderReputation,
            M::SlowDown,
        ),
        (
            "550 5.7.1 Daily SMTP relay limit exceeded for customer",
            R::Speeding,
            O::SenderReputation,
            M::SlowDown,
        ),
        (
            "554 5.7.0 Sending quota exceeded",
            R::Speeding,
            O::SenderReputation,
            M::SlowDown,
        ),
        // ... unlike the recipient's own quota.
        (
            "552 5.2.2 Mailbox quota exceeded",
            R::MailboxFull,
            O::Mailbox,
            M::RetryThenSuppress,
        ),
        // A bare security status: the receiver's policy, not the sender's DNS.
        (
            "550 5.7.1 Message rejected",
            R::SecurityError,
            O::Policy,
            M::Investigate,
        ),
    ];
    let c = Classifier::builtin();
    for &(text, reason, owner, remedy) in cases {
        let v = c.classify_text(text);
        assert_eq!(
            (v.reason, v.owner, v.remedy),
            (reason, owner, remedy),
            "{text}: {}",
            v.explain
        );
        assert!(!v.hardbounce, "{text}: no address here is dead");
    }
}

/// Dead addresses as webhooks and logs report them: no command named.
#[test]
fn dead_addresses_without_a_command() {
    let c = Classifier::builtin();
    for (text, reason) in [
        (
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DM3NAM02FT012.eop-nam02.prod.protection.outlook.com]",
            Reason::UserUnknown,
        ),
        (
            "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
            Reason::UserUnknown,
        ),
        (
            "550 Requested action not taken: mailbox unavailable",
            Reason::UserUnknown,
        ),
        (
            "550 5.4.310 DNS domain example.com does not exist",
            Reason::HostUnknown,
        ),
        (
            "553 sorry, mail domain example.invalid is unknown",
            Reason::HostUnknown,
        ),
    ] {
        let v = c.classify_text(text);
        assert_eq!(v.reason, reason, "{text}: {}", v.explain);
        assert!(v.hardbounce, "{text}");
        assert_eq!(v.remedy, Remedy::Suppress, "{text}");
    }
}

/// One reader of "which SMTP command failed", for the classifier, the
/// decoders and ingest alike.
#[test]
fn the_command_a_reply_answered() {
    use rebound_classify::reply::smtp_command;
    for (text, want) in [
        (
            "host mx.example.org said: 550 5.1.1 unknown (in reply to RCPT TO command)",
            Some("RCPT"),
        ),
        (
            "SMTP error from remote mail server after RCPT TO:<a@example.org>: 550 no",
            Some("RCPT"),
        ),
        (
            "SMTP error from remote mail server after end of data: 554 spam",
            Some("DATA"),
        ),
        (
            "550 5.7.1 rejected (in reply to end of DATA command)",
            Some("DATA"),
        ),
        (
            "mx.example.org [192.0.2.1] did not like our MAIL FROM: 553 no",
            Some("MAIL"),
        ),
        (">>> BDAT 1024 LAST\n<<< 554 5.7.1 rejected", Some("BDAT")),
        (
            "host mx.example.org refused to talk to me: 554 go away",
            Some("CONN"),
        ),
        ("after initial connection: 421 too busy", Some("CONN")),
        ("501 Sender address rejected [MAIL_FROM]", Some("MAIL")),
        ("550 user unknown", None),
        // A word that only starts like a command names none.
        ("451 temporary failure after database maintenance", None),
        ("452 try again after mailbox migration", None),
    ] {
        assert_eq!(smtp_command(text), want, "{text}");
    }
    // The classifier reads the same.
    let v = Classifier::builtin().classify_text(">>> BDAT 1024 LAST\n<<< 550 user unknown");
    assert_eq!(v.smtpcommand, "BDAT");
    assert_eq!(v.reason, Reason::Filtered, "{}", v.explain);
}

/// A verdict is counted under the provider that answered or hosts the
/// recipient, never under one a word in the text names.
#[test]
fn the_provider_comes_from_the_domain_or_host_not_a_word() {
    let c = Classifier::builtin();
    let obs = |recipient: &str, rhost: Option<&str>| Observation {
        text: "550 5.1.1 <a@x>: recipient unknown (see comcast.net policy)".into(),
        recipient: Some(recipient.into()),
        rhost: rhost.map(str::to_string),
        ..Observation::default()
    };
    assert_eq!(
        c.classify(&obs("a@comcast-like.example.net", None))
            .provider,
        None
    );
    assert_eq!(
        c.classify(&obs("a@comcast.net", None)).provider.as_deref(),
        Some("comcast")
    );
    assert_eq!(
        c.classify(&obs("a@example.org", Some("gmail-smtp-in.l.google.com")))
            .provider
            .as_deref(),
        Some("google")
    );
    // A bare reply has nothing else to go by.
    assert_eq!(
        c.classify_text("550 5.1.1 The email account does not exist. x1si - gsmtp")
            .provider
            .as_deref(),
        Some("google")
    );
}

/// Wordings seen in filtering gateways' refusals: a spam profile, content
/// refused as unacceptable, a receiver that takes mail only from listed IPs.
/// None of them says anything about the recipient's address.
#[test]
fn gateway_refusals_of_the_message_or_the_ip() {
    let cases = [
        (
            "554 5.7.1 The message from (<news@sender.example>) with the subject of (Hi) matches a profile the Internet community may consider spam. Please revise your message before resending.",
            Reason::SpamDetected,
        ),
        (
            "554 5.7.1 Message rejected because of unacceptable content",
            Reason::ContentError,
        ),
        (
            "550 5.7.0 Mail is rejected by recipients (anna@example.de) due to content",
            Reason::ContentError,
        ),
        ("550 High probability of spam", Reason::SpamDetected),
        (
            "421 4.7.0 IP not in whitelist for RCPT domain, closing connection.",
            Reason::Blocked,
        ),
        (
            "420 The message has been deferred due to suspect content. Try again later.",
            Reason::SpamDetected,
        ),
    ];
    for (text, want) in cases {
        let v = classify(text);
        assert_eq!(v.reason, want, "{text}: {}", v.explain);
        assert!(!v.hardbounce, "{text}");
    }
}

/// `text` reads as `reason`, a problem of the sender's own setup to fix,
/// never a dead address.
fn assert_senders_configuration(text: &str, reason: Reason) {
    let v = classify(text);
    assert_eq!(v.reason, reason, "{text}: {}", v.explain);
    assert!(!v.hardbounce, "{text}");
    assert_eq!(
        (v.owner, v.remedy),
        (Owner::SenderConfig, Remedy::FixConfig),
        "{text}: {}",
        v.explain
    );
}

/// The sending client's own SMTP login failing is its configuration to
/// fix, nothing about the recipient or its reputation; a group that takes
/// mail only from authenticated senders (Exchange's RESOLVER.RST) is not.
#[test]
fn a_refused_smtp_login_is_the_senders_configuration() {
    for text in [
        "535 5.7.8 Username and Password not accepted",
        "530 5.7.0 Authentication required",
        "535 5.7.1 Application-specific password required",
        "504 5.7.4 Unrecognized authentication type",
        "550 Unauthenticated senders not allowed",
    ] {
        assert_senders_configuration(text, Reason::SecurityError);
    }
    let group = classify("550 5.7.1 RESOLVER.RST.AuthRequired; authentication required");
    assert_eq!(group.reason, Reason::SecurityError);
    assert_eq!(group.remedy, Remedy::Investigate, "{}", group.explain);
}

/// A sender domain without usable DNS is fixed in that DNS, deferred or not.
#[test]
fn a_sender_domain_without_dns_is_the_senders_configuration() {
    for text in [
        "553 5.1.8 <news@gone.example>: Sender address rejected: Domain not found",
        "450 4.1.8 <news@gone.example>: Sender address rejected: Domain not found",
        "550 5.1.0 sender rejected - sender domain must resolve to a valid MX or A record",
        "504 5.5.2 <news>: Sender address rejected: need fully-qualified address",
        "553 5.1.8 <news@gone.example>... Domain of sender address news@gone.example does not exist",
        "451 4.1.8 Domain of sender address news@gone.example does not resolve",
        "553 5.7.1 <news@sender.example>: Sender address rejected: not owned by user bob@sender.example",
    ] {
        assert_senders_configuration(text, Reason::Rejected);
    }
}

#[test]
fn refused_attachment_types_and_recipient_blocklists_are_not_dead_addresses() {
    let v = classify("552 5.7.0 Message rejected: attachment type is not allowed");
    assert_eq!(v.reason, Reason::PolicyViolation, "{}", v.explain);
    assert!(!v.hardbounce);
    let v = classify("553 sorry, your envelope recipient is in my badrcptto list (#5.7.1)");
    assert_eq!(v.reason, Reason::Filtered, "{}", v.explain);
    assert!(!v.hardbounce);
}

/// Postfix's HELO-name checks refuse the sending MTA's own name: a setting
/// to fix, deferred or not, never a slower rate or a look at reputation.
#[test]
fn a_bad_helo_name_is_the_senders_configuration() {
    for text in [
        "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
        "450 4.7.1 <mta.invalid>: Helo command rejected: Host not found",
        "501 5.5.2 <mta_1>: Helo command rejected: Invalid name",
        // Postfix checks HELO at RCPT by default: the command is RCPT, the
        // host not found is still the sending MTA's name.
        "SMTP error from remote mail server after RCPT TO:<a@example.net>: 450 4.7.1 <mta.invalid>: Helo command rejected: Host not found",
    ] {
        assert_senders_configuration(text, Reason::Blocked);
    }
    let v = classify("421 4.3.2 The maximum number of concurrent connections has been exceeded");
    assert_eq!(v.reason, Reason::TooManyConn, "{}", v.explain);
    assert_eq!(v.remedy, Remedy::SlowDown);
}

/// "Not our customer" / "user not local" is RFC 5321's 551 (the address
/// is served elsewhere: hasmoved), but under an explicit 5.1.1 it only
/// says the receiver has no such mailbox.
#[test]
fn user_not_local_is_moved_unless_the_status_says_no_mailbox() {
    assert_reasons(&[
        ("551 5.1.6 not our customer", Reason::HasMoved, true),
        (
            "551 User not local; please try <ann@example.org>",
            Reason::HasMoved,
            true,
        ),
        (
            "550 5.1.1 <ann@example.net> Not our Customer",
            Reason::UserUnknown,
            true,
        ),
    ]);
}

/// MTA wordings (Sendmail, Exim, SES, Postfix) for a dead or malformed
/// recipient, a recipient domain whose mail hosts do not exist, an expired
/// account and a message that breaks RFC 2822.
#[test]
fn mta_wordings_for_dead_addresses_and_broken_messages() {
    assert_reasons(&[
        (
            "553 5.3.0 <a@example.com>... Addressee unknown, relay=[192.0.2.1]",
            Reason::UserUnknown,
            true,
        ),
        (
            "554 Transaction failed: Missing final '@domain'",
            Reason::UserUnknown,
            true,
        ),
        (
            "504 5.5.2 <a>: Recipient address rejected: need fully-qualified address",
            Reason::UserUnknown,
            true,
        ),
        ("552 Mailbox voll", Reason::MailboxFull, false),
        (
            "554 delivery error: dd Not a valid recipient - atlas210.aol.mail.ne1.yahoo.com",
            Reason::UserUnknown,
            true,
        ),
        // RFC 5321's stock "mailbox unavailable" over a refusal of the
        // sender is no dead address.
        (
            "550 5.7.1 Recipient address rejected: Your IP is blacklisted, mailbox unavailable",
            Reason::Blocked,
            false,
        ),
        (
            "550 Mailbox unavailable: message rejected as spam",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 Requested action not taken: mailbox unavailable for policy reasons",
            Reason::PolicyViolation,
            false,
        ),
        (
            "550 5.4.6 Unusual sending activity detected. Please try after sometime",
            Reason::Speeding,
            false,
        ),
        (
            "554 IP=192.0.2.1 - A problem occurred. (Ask your postmaster for help or to contact tosa@rx.t-online.de to clarify.) (BL)",
            Reason::Blocked,
            false,
        ),
        (
            "421 4.7.1 Message from 192.0.2.1 temporarily deferred due to rate limit",
            Reason::Speeding,
            false,
        ),
        (
            "550 all relevant MX records point to non-existent hosts",
            Reason::HostUnknown,
            true,
        ),
        (
            "550 5.0.0 <a@example.com>... User account is expired",
            Reason::Suspend,
            false,
        ),
        (
            "554 5.7.1 Delivery not authorized, message refused: Message is not RFC 2822 compliant",
            Reason::NotCompliantRfc,
            false,
        ),
    ]);
}

#[test]
fn unnamed_dns_blocklists_old_tls_and_outgoing_caps_are_the_senders() {
    assert_soft_remedies(&[
        (
            "550 5.7.1 Mail rejected by Proofpoint Essentials. Reason: Sender's IP is listed on RBL",
            Reason::Blocked,
            Remedy::Investigate,
        ),
        (
            "554 Message refused, sending host listed in dnsbl",
            Reason::Blocked,
            Remedy::Investigate,
        ),
        (
            "550 Rejected - listed in RBL",
            Reason::Blocked,
            Remedy::Investigate,
        ),
        (
            "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.",
            Reason::FailedStartTls,
            Remedy::FixConfig,
        ),
        (
            // Exim's own words when hosts_require_tls meets a server
            // without STARTTLS.
            "a TLS session is required, but the server did not offer TLS support",
            Reason::FailedStartTls,
            Remedy::FixConfig,
        ),
        (
            "550 5.7.0 Your message could not be sent. The limit on the number of allowed outgoing messages was exceeded. Try again later.",
            Reason::Speeding,
            Remedy::SlowDown,
        ),
        (
            "Domain example.com has exceeded the max emails per hour (123/100 (123%)) allowed.  Message discarded.",
            Reason::Speeding,
            Remedy::SlowDown,
        ),
        (
            "Domain example.com has exceeded the max defers and failures per hour (5/5 (100%)) allowed.  Message discarded.",
            Reason::Speeding,
            Remedy::SlowDown,
        ),
    ]);
    // The letters of "rbl" inside a word are no blocklist.
    let v = classify("451 4.3.0 Message garbled in transit");
    assert_ne!(v.reason, Reason::Blocked, "{}", v.explain);
}

#[test]
fn missing_and_full_mailboxes_in_east_asian_languages_and_turkish() {
    assert_reasons(&[
        ("550 用户不存在", Reason::UserUnknown, true),
        ("550 收件人邮箱地址不存在", Reason::UserUnknown, true),
        (
            "550 該当するユーザーが存在しません",
            Reason::UserUnknown,
            true,
        ),
        ("550 존재하지 않는 사용자입니다", Reason::UserUnknown, true),
        // Turkish capitals fold to the dotted i.
        ("550 KULLANICI BULUNAMADI", Reason::UserUnknown, true),
        ("550 Kullanıcı bulunamadı", Reason::UserUnknown, true),
        ("550 Destinataire inexistant", Reason::UserUnknown, true),
        ("552 对方邮箱空间已满", Reason::MailboxFull, false),
        ("452 사서함이 가득 찼습니다", Reason::MailboxFull, false),
        ("552 Posta kutusu dolu", Reason::MailboxFull, false),
    ]);
}

#[test]
fn closed_disabled_and_banned_are_not_unknown_users() {
    assert_soft_remedies(&[
        (
            "554 5.7.1 <a@example.com>: Recipient address rejected: Account closed",
            Reason::Suspend,
            Remedy::RetryThenSuppress,
        ),
        (
            "550 mailbox temporarily disabled",
            Reason::Suspend,
            Remedy::RetryThenSuppress,
        ),
        (
            "550 5.7.511 Access denied, banned sender[192.0.2.5]. To request removal from this list, forward this message to delist@messaging.microsoft.com",
            Reason::Blocked,
            Remedy::Investigate,
        ),
        // The sending mailbox's submission quota (Exchange), not the
        // recipient's store quota.
        (
            "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.",
            Reason::Speeding,
            Remedy::SlowDown,
        ),
    ]);
}

#[test]
fn a_refused_connection_is_a_block_only_when_final_and_the_senders_own_mta_is_its_own() {
    let refused = Observation {
        text: "connect to mx.example.org[192.0.2.4]:25: Connection refused".into(),
        status: Some("4.4.1".parse().unwrap()),
        action: Some("delayed".into()),
        ..Observation::default()
    };
    // While retrying: the receiver may be down or not listening.
    let v = Classifier::builtin().classify(&refused);
    assert_eq!(v.reason, Reason::NetworkError, "{}", v.explain);
    assert_eq!(v.owner, Owner::Network);
    // The same refusal as the delivery's final failure: a refused client.
    let v = Classifier::builtin().classify(&Observation {
        action: Some("failed".into()),
        ..refused.clone()
    });
    assert_eq!(v.reason, Reason::Blocked, "{}", v.explain);
    // Given up on after days of refusals: the loss is the expiry.
    let v = Classifier::builtin().classify(&Observation {
        action: Some("failed".into()),
        reason_hint: Some(Reason::Expired),
        ..refused
    });
    assert_eq!(v.reason, Reason::Expired, "{}", v.explain);
    // A permanent reply that says it.
    let v = classify("554 5.7.1 Connection refused");
    assert_eq!(v.reason, Reason::Blocked, "{}", v.explain);

    // Postfix's TLS handshake failure and its own missing transport.
    let v = classify("Cannot start TLS: handshake failure");
    assert_eq!(v.reason, Reason::FailedStartTls, "{}", v.explain);
    let v = classify("mail transport unavailable");
    assert_eq!(
        (v.reason, v.owner, v.remedy),
        (Reason::SystemError, Owner::SenderConfig, Remedy::FixConfig),
        "{}",
        v.explain
    );
}

#[test]
fn exim_gives_up_after_failing_hosts_and_defers_on_timeouts() {
    let c = Classifier::builtin();
    let failed = |text: &str| Observation {
        text: text.into(),
        action: Some("failed".into()),
        ..Observation::default()
    };
    for text in [
        "retry time not reached for any host for 'example.org' after 5d",
        "all hosts for 'example.com' have been failing for a long time (and retry time not reached)",
    ] {
        let v = c.classify(&failed(text));
        assert_eq!(v.reason, Reason::Expired, "{text}: {}", v.explain);
        assert!(!v.hardbounce);
    }
    // Deferred, "retry time not reached" only says no host is due yet.
    let v = c.classify(&Observation {
        action: Some("delayed".into()),
        ..failed("retry time not reached for any host for 'example.com'")
    });
    assert_ne!(v.reason, Reason::Expired, "{}", v.explain);
    // One attempt that timed out, to be retried.
    let v = c.classify(&Observation {
        action: Some("delayed".into()),
        ..failed("defer (110): Connection timed out")
    });
    assert_eq!(
        (v.reason, v.remedy),
        (Reason::NetworkError, Remedy::Retry),
        "{}",
        v.explain
    );
}

#[test]
fn spam_suspicion_and_spam_filters_are_the_content_unless_they_name_the_ip() {
    for text in [
        "550 5.7.1 Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1701234567-AbCdEfGh",
        "550 5.7.1 Rejected by recipient's ProtonMail spam filter",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::SpamDetected, "{text}: {}", v.explain);
        assert_eq!(v.owner, Owner::Content);
    }
    let v = classify("554 Rejected by spam filter: your IP 192.0.2.5 is blacklisted");
    assert_eq!(v.reason, Reason::Blocked, "{}", v.explain);
}

#[test]
fn a_success_status_on_a_failure_report_is_not_a_delivery() {
    let c = Classifier::builtin();
    let slip = Observation {
        text: "550 5.7.1 Message rejected as spam".into(),
        status: Some("2.0.0".parse().unwrap()),
        action: Some("failed".into()),
        ..Observation::default()
    };
    let v = c.classify(&slip);
    assert_eq!(v.reason, Reason::SpamDetected, "{}", v.explain);
    assert_eq!(v.permanent, Some(true));
    // A report of a relayed message keeps its success.
    let v = c.classify(&Observation {
        text: "250 2.0.0 Ok".into(),
        action: Some("relayed".into()),
        ..slip
    });
    assert_eq!(v.reason, Reason::Delivered, "{}", v.explain);
}

#[test]
fn a_mailbox_said_to_be_back_later_is_not_a_dead_address() {
    for text in [
        "550 Mailbox temporarily unavailable",
        "550 5.2.0 Mailbox unavailable, try again later",
        "550 Requested action not taken: mailbox unavailable (temporary)",
        // The text outweighs the status that would otherwise decide.
        "550 5.1.1 Mailbox is temporarily unavailable due to maintenance",
        "550 User temporarily unavailable",
    ] {
        let v = classify(text);
        assert!(!v.hardbounce, "{text}: {} {}", v.reason, v.explain);
        assert_ne!(v.remedy, Remedy::Suppress, "{text}: {}", v.explain);
    }
    let v = classify("550 5.1.1 User is inactive");
    assert_eq!(v.reason, Reason::Suspend, "{}", v.explain);
    // The stock wording alone still means the mailbox is missing.
    let v = classify("550 Requested action not taken: mailbox unavailable");
    assert_eq!(v.reason, Reason::UserUnknown, "{}", v.explain);
}

#[test]
fn a_user_unknown_that_names_another_cause_is_not_a_dead_address() {
    // Each says "no such user" (some under 5.1.1) and then why it really
    // refused: the sender, its server, the message or a rate.
    for (text, reason) in [
        (
            "550 Invalid recipient - Sender's domain does not exist",
            Reason::Rejected,
        ),
        (
            "550 5.1.1 User unknown; sender's domain has no MX record",
            Reason::Rejected,
        ),
        (
            "550 5.1.1 Unknown user or sender not authorized",
            Reason::Rejected,
        ),
        (
            "550 5.1.1 The recipient does not accept mail from this sender",
            Reason::Rejected,
        ),
        (
            "550 5.1.1 <a@example.com>: Recipient address rejected: Greylisted, try again in 5 minutes",
            Reason::PolicyViolation,
        ),
        (
            "550 5.1.1 User unknown (reverse DNS of your server is missing)",
            Reason::RequirePtr,
        ),
        (
            "550 5.1.1 invalid recipient, your message looks like spam",
            Reason::SpamDetected,
        ),
        (
            "550 5.1.1 User unknown (mail rate exceeded)",
            Reason::Speeding,
        ),
        (
            "550 5.1.1 <a@example.com> mailbox unavailable: account has been blocked for abuse",
            Reason::Suspend,
        ),
    ] {
        let v = classify(text);
        assert_eq!(
            (v.reason, v.hardbounce),
            (reason, false),
            "{text}: {}",
            v.explain
        );
    }
    // A plain 5.1.1 still decides.
    let v = classify("550 5.1.1 <a@example.com>: Recipient address rejected: User unknown");
    assert_eq!((v.reason, v.hardbounce), (Reason::UserUnknown, true));
}

#[test]
fn deleted_and_unknown_accounts_are_dead_addresses() {
    for text in [
        "550 Not a valid mailbox",
        "550 The account has been deleted",
        "550 This address no longer exists",
        "550 account unknown",
        "550 No mailbox by that name is currently available",
    ] {
        let v = classify(text);
        assert_eq!(
            (v.reason, v.hardbounce),
            (Reason::UserUnknown, true),
            "{text}: {}",
            v.explain
        );
    }
}

#[test]
fn full_inboxes_domains_without_mx_and_dns_timeouts() {
    assert_reasons(&[
        (
            "550 The recipient's inbox is full",
            Reason::MailboxFull,
            false,
        ),
        (
            "452 Insufficient storage on the recipient's mailbox",
            Reason::MailboxFull,
            false,
        ),
        // The receiver's own disk is not the recipient's mailbox.
        (
            "452 4.3.1 Insufficient system storage",
            Reason::SystemFull,
            false,
        ),
        (
            "451 4.4.0 DNS lookup timed out",
            Reason::NetworkError,
            false,
        ),
        ("550 No MX for domain", Reason::NotAccept, true),
        (
            "550 domain has no valid MX or A record",
            Reason::NotAccept,
            true,
        ),
        // The sender's domain without MX is the sender's setup.
        ("550 No MX for your FROM address", Reason::Rejected, false),
        (
            "451 4.3.0 sender domain has no valid MX",
            Reason::Rejected,
            false,
        ),
    ]);
}

#[test]
fn moved_users_malformed_messages_links_attachments_and_dkim() {
    for (text, reason) in [
        (
            "550 User has changed their address to b@example.org",
            Reason::HasMoved,
        ),
        (
            "550 5.6.1 Message content rejected: malformed MIME",
            Reason::ContentError,
        ),
        (
            "554 5.7.0 Message rejected: Email contains an encrypted attachment",
            Reason::PolicyViolation,
        ),
        (
            "550 5.7.1 Your message was rejected because it contains a suspicious link",
            Reason::SpamDetected,
        ),
        ("550 5.7.1 DKIM signature invalid", Reason::AuthFailure),
    ] {
        let v = classify(text);
        assert_eq!(v.reason, reason, "{text}: {}", v.explain);
    }
}

#[test]
fn dkim_body_hashes_arc_and_spf_by_domain_are_authentication() {
    assert_reasons(&[
        (
            "550 5.7.0 Rejected: DKIM signature body hash did not verify",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.1 ARC validation failed",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.1 Sender IP address is not authorized by sender domain's SPF",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.7 Sender address domain does not exist",
            Reason::Rejected,
            false,
        ),
        // An SPF result quoted beside a missing user is no SPF failure.
        (
            "550 5.1.1 User unknown (SPF: pass)",
            Reason::UserUnknown,
            true,
        ),
    ]);
}

#[test]
fn too_many_invalid_recipients_is_the_senders_record_and_blocked_senders_are_refusals() {
    assert_reasons(&[
        // The sender's list hygiene, not this address.
        (
            "550 5.7.0 Too many invalid recipients",
            Reason::BadReputation,
            false,
        ),
        (
            "450 4.7.1 Too many bad recipients, try again later",
            Reason::BadReputation,
            false,
        ),
        (
            "550 Your email was rejected because the recipient has blocked you",
            Reason::Rejected,
            false,
        ),
        (
            "554 5.7.1 Message blocked: sender domain is on the recipient's blocked senders list",
            Reason::Rejected,
            false,
        ),
        (
            "550 5.7.1 You are not allowed to send mail to this address",
            Reason::Rejected,
            false,
        ),
        (
            "550 Email address has been disabled",
            Reason::Suspend,
            false,
        ),
        (
            "554 5.7.1 Recipient mailbox is suspended",
            Reason::Suspend,
            false,
        ),
    ]);
}

/// Wordings met in a probe of replies written as receivers word them:
/// each read by its words, not left to a status or a fallback.
#[test]
fn dns_answers_sender_mx_suspended_accounts_and_filters() {
    assert_reasons(&[
        // The resolver's NXDOMAIN in a final failure: the domain is gone.
        (
            "DNS Error: DNS type 'mx' lookup of no-such-shop.example responded with code NXDOMAIN Domain name not found: no-such-shop.example",
            Reason::HostUnknown,
            true,
        ),
        (
            "550 5.4.4 Unable to lookup DNS for gone.example: NXDOMAIN",
            Reason::HostUnknown,
            true,
        ),
        // ... while the sender still retries, a passing DNS fault.
        (
            "451 4.4.0 DNS query failed. The error was: SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
            Reason::NetworkError,
            false,
        ),
        // Postfix's SERVFAIL ("try again") is no NXDOMAIN.
        (
            "Host or domain name not found. Name service error for name=mx.example.net type=MX: Host not found, try again",
            Reason::NetworkError,
            false,
        ),
        // ... and never a lookup of the sending side.
        (
            "450 4.7.25 Client host rejected: cannot find your reverse hostname (NXDOMAIN)",
            Reason::RequirePtr,
            false,
        ),
        // qmail's chkuser under 5.1.1 about the sender's domain: not the
        // recipient's mailbox.
        (
            "550 5.1.1 sorry, cannot find a valid MX for sender domain (#5.1.1 - chkuser)",
            Reason::Rejected,
            false,
        ),
        (
            "451 4.4.397 Error communicating with target host. -> 421 4.4.2 Connection dropped due to SocketError",
            Reason::NetworkError,
            false,
        ),
        (
            "Unable to connect to MX servers: [mx.example.net]: dial tcp 192.0.2.9:25: i/o timeout",
            Reason::NetworkError,
            false,
        ),
        (
            "550 Benutzer hat das Speichervolumen ueberschritten",
            Reason::MailboxFull,
            false,
        ),
        (
            "552 Requested mail action aborted: exceeded mailsize limit",
            Reason::MesgTooBig,
            false,
        ),
        // Disabled, dormant, archived: x.2.1 alone would say filtered.
        (
            "550 5.2.1 <ana@example.com.br>: Conta desativada",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.2.1 <g.bianchi@example.it>: Casella disattivata per inattivita'",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.2.1 Mailbox deactivated for non-payment",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.2.1 Recipient address rejected: this mailbox has been disabled",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.2.0 <p.martin@example.fr>: Boite du destinataire archivee. Archived recipient.",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.7.1 <k.sato@example.ne.jp>: 受信拒否設定により受け付けられません",
            Reason::Filtered,
            false,
        ),
        (
            "550 5.7.1 Message rejected by the recipient's mail rules",
            Reason::Filtered,
            false,
        ),
        (
            "550 5.7.1 <team@example.com>: Recipient address rejected: Only local senders are allowed to send to this address",
            Reason::Rejected,
            false,
        ),
        (
            "554 mx.example.net rejected - no rDNS for 203.0.113.4",
            Reason::RequirePtr,
            false,
        ),
        // A Comcast block code whose text says what is missing.
        (
            "554 resimta-po-01v.sys.comcast.net comcast 198.51.100.3 Comcast requires that all mail servers must have a PTR record with a valid Reverse DNS entry. BL000010",
            Reason::RequirePtr,
            false,
        ),
        (
            "501 Connection rejected by policy [7.7] 20910, please visit www.symanteccloud.com/troubleshooting",
            Reason::Blocked,
            false,
        ),
        (
            "451 4.7.1 Ratelimit \"from_ip\" exceeded",
            Reason::Speeding,
            false,
        ),
        (
            "521 5.5.2 mx.example.com Error: bare <LF> received",
            Reason::NotCompliantRfc,
            false,
        ),
        (
            "550 5.6.0 Required header 'From' missing",
            Reason::NotCompliantRfc,
            false,
        ),
        (
            "Child process of address_pipe transport returned 69 from command: /usr/bin/ticketer",
            Reason::MailerError,
            false,
        ),
        (
            "553 sorry, that domain isn't allowed to be relayed thru this MTA (#5.7.1)",
            Reason::NoRelaying,
            false,
        ),
        (
            "550 Recipient not in route list.",
            Reason::UserUnknown,
            true,
        ),
        ("554 You talk too soon", Reason::SyntaxError, false),
        (
            "451 4.7.1 Sorry, the service is currently unavailable. Please come back later.",
            Reason::SystemError,
            false,
        ),
        (
            "550 5.7.0 Message rejected: it violates our email policy",
            Reason::PolicyViolation,
            false,
        ),
    ]);
}

/// A refused connection said with no outcome and no permanent code (a
/// bare reply, a log text) is the network fault it describes, retried;
/// in a final failure or under a 5xx it is the receiver refusing us.
#[test]
fn a_refused_connection_without_an_outcome_is_a_network_fault() {
    let text = "connect to mx1.example.net[192.0.2.80]:25: Connection refused";
    let v = classify(text);
    assert_eq!(
        (v.reason, v.remedy),
        (Reason::NetworkError, Remedy::Retry),
        "{}",
        v.explain
    );
    let v = Classifier::builtin().classify(&Observation {
        text: text.into(),
        action: Some("failed".into()),
        ..Observation::default()
    });
    assert_eq!(v.reason, Reason::Blocked, "{}", v.explain);
    assert_eq!(
        classify("554 5.7.1 Connection refused").reason,
        Reason::Blocked
    );
}

/// NXDOMAIN is a dead domain only once the sender has given up: in a delay
/// notice (`Action: delayed`, no code) it is a DNS fault being retried
/// (`not_actions`), and in a failure report it is the domain.
#[test]
fn nxdomain_in_a_delay_notice_is_retried_and_in_a_failure_is_a_dead_domain() {
    let nxdomain = Observation {
        text: "DNS Error: DNS type 'mx' lookup of lapsed.example responded with code NXDOMAIN"
            .into(),
        action: Some("delayed".into()),
        ..Observation::default()
    };
    let v = Classifier::builtin().classify(&nxdomain);
    assert_eq!(
        (v.reason, v.hardbounce),
        (Reason::NetworkError, false),
        "{}",
        v.explain
    );
    let v = Classifier::builtin().classify(&Observation {
        action: Some("failed".into()),
        ..nxdomain
    });
    assert_eq!(
        (v.reason, v.hardbounce),
        (Reason::HostUnknown, true),
        "{}",
        v.explain
    );
}

/// A sending service's own suppression list, said in words: it did not
/// send; the address is not judged dead from that, unless the list is one
/// of addresses that bounced as invalid for every sender (SES's global
/// list), as the SES table reads its `Suppressed` subtype.
#[test]
fn suppression_lists_are_suppressed_unless_they_say_the_address_is_invalid() {
    assert_reasons(&[
        (
            "Not delivering to previously bounced address",
            Reason::Suppressed,
            false,
        ),
        (
            "554 5.7.1 recipient address was suppressed due to customer policy",
            Reason::Suppressed,
            false,
        ),
        // SES writes 5.1.1 on its account-level list.
        (
            "550 5.1.1 Amazon SES did not send the message to this address because it is on the suppression list for your account.",
            Reason::Suppressed,
            false,
        ),
        (
            "Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address.",
            Reason::UserUnknown,
            true,
        ),
    ]);
}

/// A mailbox's name is not the server's words: `dmarc@`, `blacklist@`,
/// `greylist@` are ordinary recipients, and a reply about them is read by
/// what it says around the address. A provider's own address still names
/// the provider.
#[test]
fn words_inside_an_address_local_part_are_not_the_replys_words() {
    for local in [
        "dmarc",
        "blacklist",
        "greylist",
        "spf.reports",
        "virus-lab",
        "jane",
    ] {
        let text = format!(
            "550 5.1.1 <{local}@example.com>: Recipient address rejected: User unknown in virtual mailbox table"
        );
        let v = classify(&text);
        assert_eq!(
            (v.reason, v.hardbounce),
            (Reason::UserUnknown, true),
            "{text}: {}",
            v.explain
        );
    }
    // In the text proper the same words still count.
    assert_eq!(
        classify("550 5.7.1 <jane@example.com>: rejected, DMARC policy of example.net is reject")
            .reason,
        Reason::AuthFailure
    );
    let v = classify(
        "550 5.7.1 Unfortunately, messages from [192.0.2.8] weren't sent. For more information contact delist@microsoft.com",
    );
    assert_eq!(v.provider.as_deref(), Some("microsoft"), "{}", v.explain);
}

/// A second probe of replies (hosting providers, regional ISPs, appliances,
/// more languages): each read by its words rather than a status fallback.
#[test]
fn hosting_isp_and_appliance_wordings() {
    assert_reasons(&[
        // IONOS says "mailbox unavailable" over the sender domain's DNS:
        // not the recipient's mailbox.
        (
            "550-Requested action not taken: mailbox unavailable 550 invalid DNS MX or A/AAAA resource record",
            Reason::Rejected,
            false,
        ),
        (
            "550 5.2.1 The email account that you tried to reach is suspended for incoming mail",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.2.1 <k.weber@example.de>: Postfach des Empfängers ist gesperrt",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.2.1 <o.k@example.ua>: Скриньку заблоковано / Mailbox is blocked",
            Reason::Suspend,
            false,
        ),
        (
            "550 This message scored 14.1 spam points.",
            Reason::SpamDetected,
            false,
        ),
        (
            "554 5.7.1 스팸으로 의심되어 거부되었습니다",
            Reason::SpamDetected,
            false,
        ),
        (
            "554-No SMTP service 554-IP address is black listed.",
            Reason::Blocked,
            false,
        ),
        (
            "554 5.7.1 Sender is on the recipient's block list",
            Reason::Rejected,
            false,
        ),
        (
            "550 Rejected RCPT: sender address news@example.net is blacklisted on this server",
            Reason::Rejected,
            false,
        ),
        // The sender's own hourly cap, said under "Sender address rejected".
        (
            "550 5.7.1 <news@example.net>: Sender address rejected: this account has exceeded its hourly sending limit",
            Reason::Speeding,
            false,
        ),
        (
            "552 5.7.0 Virus infected message rejected",
            Reason::VirusDetected,
            false,
        ),
        (
            "554 5.7.0 Reject, id=12345-01 - VIRUS: Eicar-Test-Signature",
            Reason::VirusDetected,
            false,
        ),
        (
            "421 Server temporarily unavailable. Try again later.",
            Reason::SystemError,
            false,
        ),
        (
            "541 5.4.1 Mail rejected by destination domain",
            Reason::PolicyViolation,
            false,
        ),
        (
            "551 5.7.1 ip (198.51.100.21) not in the spf list of domain example.net",
            Reason::AuthFailure,
            false,
        ),
        (
            "451 4.7.5 DKIM temporary error: DNS lookup timeout for selector s1._domainkey.example.net",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 Relay rejected for policy reasons.",
            Reason::NoRelaying,
            false,
        ),
        (
            "550 5.7.1 Relaying to <partner@example.org> denied (authentication required)",
            Reason::NoRelaying,
            false,
        ),
        (
            "552 Unable to deliver message, recipient's mail file exceeds its quota",
            Reason::MailboxFull,
            false,
        ),
        (
            "421 4.7.0 [198.51.100.9] Temporary deferral: rate control limit exceeded",
            Reason::Speeding,
            false,
        ),
        (
            "550 5.7.1 Message rejected by content filter: Blocked_Attachments",
            Reason::ContentError,
            false,
        ),
        (
            "550 5.7.1 TLS encryption is required for this recipient domain",
            Reason::FailedStartTls,
            false,
        ),
        (
            "451 4.4.0 Primary target IP address responded with: \"454 4.7.5 Certificate validation failure.\"",
            Reason::FailedStartTls,
            false,
        ),
        // RFC 4954's AUTH wording is the client's login, not STARTTLS.
        (
            "538 5.7.11 Encryption required for requested authentication mechanism",
            Reason::SecurityError,
            false,
        ),
        (
            "550 5.7.1 <y.k@example.jp>: Message rejected by the recipient's personal mail filter",
            Reason::Filtered,
            false,
        ),
        (
            "Message could not be delivered within 5 days; giving up",
            Reason::Expired,
            false,
        ),
        (
            "The recipient is on the account-level suppression list because of a previous hard bounce",
            Reason::Suppressed,
            false,
        ),
    ]);
}

/// Codes and texts the big providers document on their error pages.
#[test]
fn documented_provider_codes() {
    assert_reasons(&[
        // Microsoft: TLS and DANE checks before sending (4.7.321-325).
        (
            "451 4.7.321 starttls-not-supported: Destination mail server must support TLS to receive mail.",
            Reason::FailedStartTls,
            false,
        ),
        (
            "451 4.7.323 tlsa-invalid: The domain failed DANE validation.",
            Reason::FailedStartTls,
            false,
        ),
        // 5.7.510 is about IPv6, not DMARC.
        (
            "550 5.7.510 Access denied, example.com does not accept email over IPv6 [2001:db8::1]. [MWH0EPF000989E8.namprd02.prod.outlook.com]",
            Reason::Blocked,
            false,
        ),
        (
            "550 5.7.509 Access denied, sending domain example.net does not pass DMARC verification and has a DMARC policy of reject. [BN8NAM12FT012.eop-nam12.prod.protection.outlook.com]",
            Reason::AuthFailure,
            false,
        ),
        // The sender's own submission quota, under a mailbox-full status.
        (
            "550 5.2.2 Submission quota exceeded. [BN0PR01MB1234.prod.outlook.com]",
            Reason::Speeding,
            false,
        ),
        (
            "550 5.2.122 The recipient has exceeded their limit for the number of messages they can receive per hour.",
            Reason::Speeding,
            false,
        ),
        // The sending IP blocked by the recipient's organisation.
        (
            "550 5.7.507 Access denied, rejected by recipient. The IP that you're attempting to send from has been blocked by the recipient's organization.",
            Reason::Blocked,
            false,
        ),
        (
            "550 5.7.506 Access Denied, Bad HELO. [DM6NAM10FT033.eop-nam10.prod.protection.outlook.com]",
            Reason::Blocked,
            false,
        ),
        (
            "451 4.7.850 Access denied, please try again later. [AM7EUR03FT045.eop-EUR03.prod.protection.outlook.com]",
            Reason::Blocked,
            false,
        ),
        (
            "550 5.7.508 Access denied, [2001:db8:77::15] has exceeded permitted limits within /64 range.",
            Reason::Speeding,
            false,
        ),
        (
            "550 5.7.1 Sender ID (PRA) Not Permitted",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.0 Unfortunately, messages from (198.51.100.5) on behalf of (example.net) could not be delivered due to domain owner policy restrictions.",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.2.0 STOREDRV.Deliver.Exception:ObjectNotFoundException; The Active Directory user wasn't found.",
            Reason::UserUnknown,
            true,
        ),
        // Yahoo: the sender's domain does not resolve; a harvest guard.
        (
            "451 Message temporarily deferred due to unresolvable RFC.5321 from domain",
            Reason::Rejected,
            false,
        ),
        (
            "451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)",
            Reason::BadReputation,
            false,
        ),
        (
            "421 Max message per connection reached, closing transmission channel",
            Reason::TooManyConn,
            false,
        ),
        // AOL and Cox block codes.
        (
            "554 5.7.1 :  (CON:B1)  http://postmaster.info.aol.com/errors/554conb1.html",
            Reason::Blocked,
            false,
        ),
        (
            "554 mx.cox.net cox.net 198.51.100.80 rejected. Refer to Error Code: IPBL0001 https://www.cox.com/residential/support/email-error-codes.html",
            Reason::Blocked,
            false,
        ),
        ("521 <198.51.100.74> is blocked", Reason::Blocked, false),
        (
            "550 Sender has no A, AAAA, or MX DNS records. - https://community.mimecast.com/docs/DOC-1369#550",
            Reason::Rejected,
            false,
        ),
        (
            "550 SPF Sender Invalid - envelope rejected",
            Reason::AuthFailure,
            false,
        ),
        (
            "421 Reject due to policy violations",
            Reason::BadReputation,
            false,
        ),
        (
            "552 k.moore@example.com has a full mailbox",
            Reason::MailboxFull,
            false,
        ),
        (
            "550 Benutzer hat zuviele Mails auf dem Server. / User has too many messages on the server.",
            Reason::MailboxFull,
            false,
        ),
        (
            "550 5.7.1 - Message rejected; message contains virus.",
            Reason::VirusDetected,
            false,
        ),
        (
            "450 4.2.1 <s.a@example.com>: Mailbox received too much email in a short period of time",
            Reason::Speeding,
            false,
        ),
    ]);
}

/// What MTA logs say in their own words (Exim's transports and TLS, a
/// delivery agent's exit code).
#[test]
fn mta_log_wordings() {
    assert_reasons(&[
        // sysexits' EX_NOUSER from the mailbox's delivery agent.
        (
            "Child process of dovecot_delivery transport returned 67 (could mean user nonexistent) from command: /usr/lib/dovecot/dovecot-lda",
            Reason::UserUnknown,
            true,
        ),
        // Any other exit code is the program's own trouble.
        (
            "Child process of dovecot_delivery transport returned 75 (could mean temporary error) from command: /usr/lib/dovecot/dovecot-lda",
            Reason::MailerError,
            false,
        ),
        (
            "SMTP error from remote mail server after end of data: 554 5.7.1 VIRUS_FOUND Win.Test.EICAR_HDB-1",
            Reason::VirusDetected,
            false,
        ),
        ("No MX for no-mx-here.example", Reason::NotAccept, false),
        (
            "Remote host closed connection in response to end of data",
            Reason::NetworkError,
            false,
        ),
        (
            "TLS session: (SSL_connect): error:0A000410:SSL routines::sslv3 alert handshake failure",
            Reason::FailedStartTls,
            false,
        ),
        (
            "550 5.7.1 <dina@example.com>: Recipient address rejected: This mailbox only accepts mail from internal senders",
            Reason::Rejected,
            false,
        ),
    ]);
}

/// Sender-side refusals and other causes written in the receiver's own
/// language under a bare x.7.x status: the words decide, not the
/// security-or-policy fallback.
#[test]
fn causes_in_other_languages_are_read_by_their_words() {
    assert_reasons(&[
        (
            "421 4.7.0 Zbyt wiele polaczen z tego adresu",
            Reason::TooManyConn,
            false,
        ),
        (
            "421 4.7.0 Demasiadas conexiones simultaneas",
            Reason::TooManyConn,
            false,
        ),
        (
            "450 4.7.1 Слишком много писем, повторите позже",
            Reason::Speeding,
            false,
        ),
        (
            "550 5.7.1 Wiadomosc odrzucona: podejrzenie spamu",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 5.7.1 Низкая репутация IP-адреса",
            Reason::BadReputation,
            false,
        ),
        (
            "554 5.7.1 Le message contient un virus",
            Reason::VirusDetected,
            false,
        ),
        (
            "550 5.7.1 El servidor no tiene DNS inverso",
            Reason::RequirePtr,
            false,
        ),
        (
            "550 5.7.1 Falha na verificacao SPF do dominio",
            Reason::AuthFailure,
            false,
        ),
        ("554 5.7.1 Relay non consentito", Reason::NoRelaying, false),
        (
            "550 5.7.1 Remitente no autorizado en este servidor",
            Reason::Rejected,
            false,
        ),
        ("451 4.3.0 システムエラーです", Reason::SystemError, false),
        ("550 5.2.1 邮箱已被冻结", Reason::Suspend, false),
        (
            "エラー内容：メールが受信可能サイズを超えています",
            Reason::MesgTooBig,
            false,
        ),
        ("550 5.7.1 Usuario nao existe", Reason::UserUnknown, true),
        (
            "550 5.7.1 Only senders on the recipient's allow list may write here",
            Reason::Filtered,
            false,
        ),
    ]);
}

/// Wordings of servers outside the corpus, read by the class of words they
/// belong to: a domain that "does not appear to be registered" is dead; a
/// signature "infected by"; a refused attachment type is the receiver's
/// policy; "DKIM does not pass" is the sender's authentication.
#[test]
fn unseen_wordings_are_read_by_their_class() {
    assert_reasons(&[
        (
            "The message could not be delivered because the domain name (shop.example) does not appear to be registered.",
            Reason::HostUnknown,
            true,
        ),
        (
            "553 5.1.8 Sender domain does not appear to be registered",
            Reason::Rejected,
            false,
        ),
        (
            "554 5.7.1 Message rejected: infected by Win.Trojan.Agent-123-0",
            Reason::VirusDetected,
            false,
        ),
        (
            "550 5.7.1 Message rejected: attachments of type .exe are not accepted by policy (setup.exe)",
            Reason::PolicyViolation,
            false,
        ),
        (
            "550 5.7.30 This mail has been blocked because DKIM does not pass.",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.26 Unauthenticated mail: SPF did not pass for the sending domain",
            Reason::AuthFailure,
            false,
        ),
    ]);
}

/// More wordings met in new material, each a class rather than one reply:
/// a refusal naming the check that refused it, a spam verdict said of "your
/// message", an anti-spam policy that names no listing (and one that does),
/// a per-host request budget, and a pipe command's own failure whose output
/// mentions a refused connection.
#[test]
fn refusals_that_name_their_check_or_budget() {
    assert_reasons(&[
        (
            "550 5.1.0 0bcW1i00G0jifNx01 blocked by SPF",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.1 Message rejected by DKIM: signature did not verify for example.com",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 The mail server detected your message as spam and has prevented delivery.",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 5.7.1 <c@uol.example>: Mensagem recusada pela politica antispam do provedor",
            Reason::SpamDetected,
            false,
        ),
        (
            "554 5.7.1 Rejected by anti-spam policy: your IP 192.0.2.7 is listed at zen.spamhaus.org",
            Reason::Blocked,
            false,
        ),
        (
            "451-The server has reached its limit for processing requests from your host. 451 Please try again later.",
            Reason::Speeding,
            false,
        ),
        (
            "Command died with status 1: \"/usr/local/bin/ticket-import\". Command output: ConnectionRefusedError: [Errno 111] Connection refused",
            Reason::MailerError,
            false,
        ),
    ]);
}

/// Wording classes from a second set of new replies: a provider's code
/// under any prefix, deleted and misspelt mailboxes (but not under a
/// client-IP block), an MTA's own words for a loop or the server's size
/// limit, greylisting and viruses in other languages, missing required
/// headers, spam judged or sourced, floods and harvest guards.
#[test]
fn second_round_of_unseen_wordings() {
    assert_reasons(&[
        (
            "550 5.7.1 Connection refused - OXSUS0001_403",
            Reason::UserUnknown,
            true,
        ),
        (
            "550 5.7.1 Connection refused - OXSEU_403",
            Reason::UserUnknown,
            true,
        ),
        (
            "551 5.7.1 <lars@example.com>: account deleted; no forwarding address",
            Reason::UserUnknown,
            true,
        ),
        (
            "550 recipient e-mail adress unknown",
            Reason::UserUnknown,
            true,
        ),
        (
            "550 Requested action not taken: mailbox unavailable [MX-PLCY-07] client IP 198.51.100.21 blocked",
            Reason::Blocked,
            false,
        ),
        (
            "mail for example.com loops back to myself",
            Reason::NetworkError,
            false,
        ),
        (
            "message size 31457280 exceeds size limit 26214400 of server mx.example.com[192.0.2.40]",
            Reason::MesgTooBig,
            false,
        ),
        (
            "451 4.7.1 Szara lista: spróbuj ponownie za 5 minut",
            Reason::PolicyViolation,
            false,
        ),
        (
            "554 5.7.1 Mensagem recusada por conter vírus (Win.Trojan.Agent-123)",
            Reason::VirusDetected,
            false,
        ),
        (
            "550 5.7.1 Message rejected: missing Message-ID header",
            Reason::NotCompliantRfc,
            false,
        ),
        (
            "552 5.2.0 This message has been rejected due to content judged to be spam by the internet community",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 5.7.1 Your message was rejected: attachment invoice.pdf.exe has a blocked file type",
            Reason::PolicyViolation,
            false,
        ),
        (
            "554 5.7.1 IP address 198.51.100.44 has been labeled as a source of spam",
            Reason::Blocked,
            false,
        ),
        ("554 5.7.28 Mail flood detected", Reason::Speeding, false),
        (
            "552 5.1.1 <h.ortiz@example.com> Mailbox delivery failure policy error",
            Reason::PolicyViolation,
            false,
        ),
        (
            "554 5.7.1 Message blocked: banned attachment type (.js)",
            Reason::ContentError,
            false,
        ),
        (
            "556 Too many invalid recipient requests. Closing connection.",
            Reason::TooManyConn,
            false,
        ),
    ]);
    // A connection refused before any greeting is no refusal by the server.
    let obs = Observation {
        smtpcommand: Some("CONN".into()),
        ..Observation::from_text("connect to mx2.example.net[203.0.113.26]:25: Connection refused")
    };
    let v = Classifier::builtin().classify(&obs);
    assert_eq!(v.reason, Reason::NetworkError, "{}", v.explain);
}

/// A third round: how replies reach a sender (a greeting refused for a
/// domain that takes no mail, a timed-out greeting, a reporting MTA's own
/// words), wordings in Russian, Chinese, Japanese, German and French, and
/// a listing of the message's links rather than of the sender.
#[test]
fn third_round_of_unseen_wordings() {
    assert_reasons(&[
        (
            "550 Сообщение не принято: почтовый ящик ivanov@example.ru не существует",
            Reason::UserUnknown,
            true,
        ),
        (
            "550 收件人地址不存在 (recipient not exist) wang@example.cn",
            Reason::UserUnknown,
            true,
        ),
        (
            "550 5.1.1 Diese Adresse ist nicht mehr gültig. Die neue Adresse lautet: k.braun@example.de",
            Reason::HasMoved,
            true,
        ),
        (
            "X-Notes; The recipient's mail file is full. Router: Unable to deliver message",
            Reason::MailboxFull,
            false,
        ),
        (
            "552 5.2.2 Message size exceeds maximum permitted",
            Reason::MesgTooBig,
            false,
        ),
        (
            "550 5.7.1 Message rejected because it contains a URL listed in multi.surbl.org",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 5.7.1 Service unavailable; client [192.0.2.9] blocked using zen.spamhaus.org",
            Reason::Blocked,
            false,
        ),
        (
            "421 4.7.0 Reverse DNS (PTR) für 203.0.113.9 fehlt oder passt nicht",
            Reason::RequirePtr,
            false,
        ),
        (
            "451 RP:TRC 发送方当天的邮件发送数量超出限制，请控制发送频率",
            Reason::Speeding,
            false,
        ),
        (
            "421 4.7.0 Trop de connexions simultanées depuis votre adresse IP",
            Reason::TooManyConn,
            false,
        ),
        (
            "451 4.7.1 グレイリスト処理中です。しばらくしてから再送してください",
            Reason::PolicyViolation,
            false,
        ),
        (
            "554 发送的邮件内容被系统识别为垃圾邮件。",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 5.7.1 Der Empfänger hat Nachrichten von diesem Absender blockiert",
            Reason::Rejected,
            false,
        ),
        (
            "550 5.1.1 The email account that you tried to reach has been disabled by its administrator",
            Reason::Suspend,
            false,
        ),
        (
            "smtp;421 4.4.0 [internal] no MXs for this domain could be reached at this time",
            Reason::NetworkError,
            false,
        ),
    ]);
    let c = Classifier::builtin();
    for (text, want) in [
        (
            "host noservice.example[192.0.2.150] refused to talk to me: 521 5.3.2 noservice.example does not accept mail",
            Reason::NotAccept,
        ),
        (
            "conversation with mx.example.net[198.51.100.25] timed out while receiving the initial server greeting",
            Reason::NetworkError,
        ),
        (
            "Deferred: Connection timed out with mx.example.net.",
            Reason::NetworkError,
        ),
    ] {
        let v = c.classify(&Observation {
            smtpcommand: Some("CONN".into()),
            ..Observation::from_text(text)
        });
        assert_eq!(v.reason, want, "{text}: {}", v.explain);
    }
}

/// A filter's "user unknown" in a bounce that names no command yields, as
/// the "user unknown" rule does, to the real reason the same reply gives
/// after RFC 5321's stock words: IONOS's missing reverse DNS, a blocked IP.
#[test]
fn stock_words_in_a_bounce_yield_to_the_reason_after_them() {
    let c = Classifier::builtin();
    for (text, want) in [
        (
            "550-Requested action not taken: mailbox unavailable\n550 invalid DNS PTR resource record, IP=192.0.2.5",
            Reason::RequirePtr,
        ),
        (
            "550 Requested action not taken: mailbox unavailable, client IP 192.0.2.5 blocked",
            Reason::Blocked,
        ),
    ] {
        let v = c.classify(&Observation {
            text: text.into(),
            action: Some("failed".into()),
            bounce_report: true,
            ..Observation::default()
        });
        assert_eq!(v.reason, want, "{text}: {}", v.explain);
        assert!(!v.hardbounce, "{text}");
    }
}

/// A multi-line reply as an MTA log joins it keeps each line's `550-5.7.1`
/// prefix, and a DSN folds it over lines: a phrase the server wrote across
/// the break still reads as written (Gmail's refusal of an IP that must use
/// its provider's relay), and the code is not taken for a host name.
#[test]
fn phrases_across_continuation_lines_are_read() {
    for text in [
        "550-5.7.1 [198.51.100.77] The IP you're using to send mail is not authorized to 550-5.7.1 send email directly to our servers. Please use the SMTP relay at your 550-5.7.1 service provider instead. For more information, go to 550 5.7.1  https://support.google.com/mail/?p=NotAuthorizedError x1si2 - gsmtp",
        "550-5.7.1 [198.51.100.77] The IP you're using to send mail is not authorized to\r\n550-5.7.1 send email directly to our servers. Please use the SMTP relay at your\r\n550 5.7.1 service provider instead. - gsmtp",
    ] {
        let v = classify(text);
        assert_eq!(v.reason, Reason::Blocked, "{text}: {}", v.explain);
        assert!(
            v.explain.contains("google/NotAuthorizedDirect"),
            "{}",
            v.explain
        );
        assert_eq!(v.rhost, "", "{text}");
    }
}

/// An MTA log keeps only the last line of Gmail's multi-line reply: its
/// code (Gmail's documented 4.7.28, 5.7.26, 5.7.30...) then decides, not the
/// bare x.7.x fallback.
#[test]
fn gmail_codes_decide_when_its_words_are_cut() {
    assert_reasons(&[
        (
            "550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError a640c23a62f3a-a1b2c3 - gsmtp",
            Reason::SpamDetected,
            false,
        ),
        (
            "550 5.7.1  https://support.google.com/mail/?p=NotAuthorizedError x1si2 - gsmtp",
            Reason::Blocked,
            false,
        ),
        (
            "550 5.7.26  https://support.google.com/mail/answer/81126#authentication 5b1f17b1804b1-47a3c1e7a90si3330201f8f.409 - gsmtp",
            Reason::AuthFailure,
            false,
        ),
        (
            "550 5.7.30  https://support.google.com/mail/answer/81126#authentication 5b1f17b1804b1-47a3c1e7a90si3330201f8f.410 - gsmtp",
            Reason::AuthFailure,
            false,
        ),
        (
            "421 4.7.28 review our Bulk Email Senders Guidelines. 5b1f17b1804b1-47a3c1e7b12si3330288f8f.52 - gsmtp",
            Reason::BadReputation,
            false,
        ),
        (
            "550 5.7.28 review our Bulk Email Senders Guidelines. 5b1f17b1804b1-47a3c1e7b12si3330288f8f.53 - gsmtp",
            Reason::Blocked,
            false,
        ),
    ]);
    // Not Gmail: the code alone is no statement of these causes.
    let v = classify("550 5.7.28 Message refused");
    assert_ne!(v.reason, Reason::Blocked, "{}", v.explain);
}

/// A fourth round of wordings met on unseen mail: a suspended user under
/// 5.1.1 (not a dead address), a missing domain in other languages, a
/// dormant Chinese mailbox, Yahoo's "dd" after end of data, reputation
/// services and behaviour, the receiver's database, Sendmail's return
/// after its queue lifetime, attachments over a size limit, and a
/// Postfix client refusal whose "Service unavailable" prefix is no system
/// fault.
#[test]
fn fourth_round_of_unseen_wordings() {
    assert_reasons(&[
        (
            "550 5.1.1 <mina@example.kr> suspended user",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.1.1 The user has been suspended by the administrator",
            Reason::Suspend,
            false,
        ),
        (
            "550 该账户长时间未登录，已处于休眠状态",
            Reason::Suspend,
            false,
        ),
        (
            "550 5.1.2 il dominio esempio-errato.it non esiste",
            Reason::HostUnknown,
            true,
        ),
        (
            "550 5.1.2 El dominio no existe: ejemplo-erroneo.es",
            Reason::HostUnknown,
            true,
        ),
        (
            "550 收件人域名不存在 (example-typo.cn)",
            Reason::HostUnknown,
            true,
        ),
        (
            "554 delivery error: dd Not a valid recipient - mta7.mail.gq1.yahoo.com",
            Reason::UserUnknown,
            true,
        ),
        (
            "450 4.7.1 Client host [198.51.100.3] deferred by the Email Reputation Service; try later",
            Reason::BadReputation,
            false,
        ),
        (
            "554 5.7.1 Connection refused due to bad behavior of your IP",
            Reason::BadReputation,
            false,
        ),
        (
            "451 4.3.0 Temporary system failure, please retry",
            Reason::SystemError,
            false,
        ),
        (
            "450 4.3.0 user database error, try again later",
            Reason::SystemError,
            false,
        ),
        (
            "552 5.3.4 Attachment is too large for this system",
            Reason::MesgTooBig,
            false,
        ),
        (
            "451 4.7.1 Try again later (rate limit: 500 msgs/hour per client)",
            Reason::Speeding,
            false,
        ),
        (
            "451 4.4.0 Temporary DNS resolution error for example.net",
            Reason::NetworkError,
            false,
        ),
        (
            "554 5.7.1 Message rejected by policy; contact the administrator",
            Reason::PolicyViolation,
            false,
        ),
        (
            "550 5.7.1 迷惑メール設定により受信できません",
            Reason::Filtered,
            false,
        ),
        (
            "554 5.6.0 Die Nachricht ist nicht RFC-5322-konform",
            Reason::NotCompliantRfc,
            false,
        ),
        // An attachment refused by type is the receiver's policy, neither
        // a block of the sending IP nor a spam verdict.
        (
            "550 5.7.0 Blocked - attachment type not allowed (.exe, .scr)",
            Reason::PolicyViolation,
            false,
        ),
        (
            "554 5.6.1 Message content rejected: attachments of type .vbs are not accepted",
            Reason::PolicyViolation,
            false,
        ),
        // Said with a syntax error's code, the words still decide.
        (
            "500 Attachments are not allowed here; send a link instead",
            Reason::PolicyViolation,
            false,
        ),
        // Gmail's per-message recipient cap is not the sender's quota,
        // whatever its "sending limits" link says.
        (
            "452-4.5.3 Your message has too many recipients. For more information regarding 452-4.5.3 Google's sending limits, go to 452 4.5.3  https://support.google.com/mail/?p=TooManyRecipientsError a1si2 - gsmtp",
            Reason::TooManyConn,
            false,
        ),
    ]);
    // At MAIL FROM no recipient is named: a disabled account there is the
    // sender's, not a suspended mailbox.
    let obs = Observation {
        text: "550 sending from this account has been disabled".into(),
        smtpcommand: Some("MAIL".into()),
        ..Observation::default()
    };
    assert_ne!(Classifier::builtin().classify(&obs).reason, Reason::Suspend);
    // Gmail's "Send mail as" notice: the account's own SMTP server
    // refusing Gmail's login is the sender's credentials, not a refused
    // envelope sender.
    let v = classify(
        "535 5.7.8 Error: authentication failed. Learn more at https://support.google.com/mail/?p=CustomFromDenied",
    );
    assert_eq!(v.reason, Reason::SecurityError, "{}", v.explain);
    let v = classify(
        "550 5.7.1 Your message was rejected. Learn more at https://support.google.com/mail/?p=CustomFromDenied",
    );
    assert_eq!(v.reason, Reason::Rejected, "{}", v.explain);
    // Sendmail's queue-lifetime return reads as the expiry, whatever the
    // last attempt said.
    let v = classify(
        "----- The following addresses had permanent fatal errors ----- <x@example.org> (reason: Deferred) Cannot send message for 5 days",
    );
    assert_eq!(v.reason, Reason::Expired, "{}", v.explain);
    // Postfix's "Service unavailable; Client host [...]" prefix says whom
    // it refused, not that the receiver failed.
    let v = classify(
        "554 5.7.1 Service unavailable; Client host [192.0.2.8] refused by the receiver's access rules",
    );
    assert_ne!(v.reason, Reason::SystemError, "{}", v.explain);
    assert!(!v.hardbounce);
    // A sender's domain that "does not exist" is no dead recipient.
    let v = classify("553 5.1.8 发件人域名不存在");
    assert_ne!(v.reason, Reason::HostUnknown, "{}", v.explain);
}

/// An `onhold` hint (the format states no cause) yields to a status that
/// names one; a status that names none leaves it onhold.
#[test]
fn an_onhold_hint_yields_to_a_status_that_names_a_cause() {
    let c = Classifier::builtin();
    let with = |text: &str| Observation {
        text: text.into(),
        reason_hint: Some(Reason::OnHold),
        action: Some("failed".into()),
        ..Observation::default()
    };
    let v = c.classify(&with(
        "hôte mx.example.net [192.0.2.20] : 552 5.3.1 Espace disque insuffisant",
    ));
    assert_eq!(v.reason, Reason::SystemFull, "{}", v.explain);
    let v = c.classify(&with("hôte mx.example.net [192.0.2.20] : 550 5.0.0 refusé"));
    assert_eq!(v.reason, Reason::OnHold, "{}", v.explain);
}
