//! Auto-replies (RFC 3834): vacation notices, out-of-office replies and
//! other automatic answers. The "recipient" is the address that answered,
//! i.e. the reply's sender. Tried last: delivery notices also carry
//! `Auto-Submitted`, and any real report must win.

use crate::delivery::{Decoder, Delivery};
use crate::dsn::find_address;
use crate::mail::Mail;
use crate::text::{SplitLines, squash, starts_with_ignore_case};
use rebound_core::Reason;

pub struct Rfc3834;

/// Subject prefixes that mark an automatic answer, in lower case (the
/// subject is compared after Unicode lower-casing). Besides the generic
/// English forms, the prefixes Outlook and Exchange put on an out-of-office
/// reply in the mailbox owner's language ("Automatic reply:", formerly "Out
/// of Office:"): Exchange marks its replies `Auto-Submitted: auto-generated`,
/// which RFC 3834 does not make an auto-reply, so for those the subject is
/// the only sign. A prefix must end at a word's end (see `subject_is_auto`).
const SUBJECT_PREFIXES: &[&str] = &[
    "auto:",
    "auto reply",
    "auto-reply",
    "autoreply",
    "automatic reply",
    "autoresponse",
    "autoresponder",
    "auto response",
    "auto-response",
    "out of office",
    "out of the office",
    // German, French, Spanish, Italian, Portuguese, Catalan
    "automatische antwort",
    "abwesenheitsnotiz",
    "réponse automatique",
    "absence du bureau",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "risposta automatica",
    "fuori sede",
    "resposta automática",
    "resposta automàtica",
    "ausência temporária",
    // Dutch, Scandinavian, Finnish, Estonian, Latvian, Lithuanian
    "automatisch antwoord",
    "afwezig:",
    "automatiskt svar",
    "automatisk svar",
    "automatisk besvarelse",
    "automaattinen vastaus",
    "automaatne vastus",
    "automātiskā atbilde",
    "automatinis atsakymas",
    // Central and Eastern Europe, Greek, Turkish
    "odpowiedź automatyczna",
    "automatyczna odpowiedź",
    "automatická odpověď",
    "automatická odpoveď",
    "automatikus válasz",
    "răspuns automat",
    "automatski odgovor",
    "samodejni odgovor",
    "автоответ",
    "автоматический ответ",
    "автоматична відповідь",
    "автоматичен отговор",
    "αυτόματη απάντηση",
    "otomatik yanıt",
    "otomatik cevap",
    // Middle East, Asia
    "תשובה אוטומטית",
    "رد تلقائي",
    "自動応答",
    "自動返信",
    "自动回复",
    "自動回覆",
    "자동 회신",
    "자동 응답",
    "trả lời tự động",
    "balasan otomatis",
    "ตอบกลับอัตโนมัติ",
];

/// Words that mark an automatic answer anywhere in the subject: HCL
/// (Lotus) Notes names the absent person first ("Anna Berg is out of the
/// office (returning 01/07/2026)") and sets no auto-reply header.
const SUBJECT_PHRASES: &[&str] = &[" is out of the office"];

/// Whether the subject marks an automatic answer: one of `SUBJECT_PHRASES`
/// anywhere, or one of `SUBJECT_PREFIXES` at its start ending at a
/// word's end ("Autoreply: ...", not "Autoreplyer pricing"). Japanese,
/// Chinese and Thai write no spaces between words, so their prefixes may
/// run straight on ("自動応答メール").
fn subject_is_auto(subject: &str) -> bool {
    let lower = subject.trim().to_lowercase();
    if SUBJECT_PHRASES.iter().any(|p| lower.contains(p)) {
        return true;
    }
    SUBJECT_PREFIXES.iter().any(|p| {
        lower.strip_prefix(p).is_some_and(|rest| {
            let ends_word = rest.chars().next().is_none_or(|c| !c.is_alphanumeric());
            ends_word || p.ends_with(':') || p.chars().last().is_some_and(writes_without_spaces)
        })
    })
}

/// Letters of scripts written without spaces between words (kana, CJK
/// ideographs, Thai).
fn writes_without_spaces(c: char) -> bool {
    matches!(c, '\u{0E00}'..='\u{0E7F}' | '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// Subjects of delivery notices, which are never auto-replies.
const BOUNCE_SUBJECTS: &[&str] = &[
    "delivery status",
    "undeliver",
    "undelivered",
    "returned mail",
    "mail delivery",
    "delivery failure",
    "failure notice",
    "delivery has failed",
    "delivery notification",
    "non-delivery",
    "nondeliverable",
    "mail system error",
];

impl Decoder for Rfc3834 {
    fn name(&self) -> &'static str {
        "RFC3834"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        let h = &mail.headers;
        let auto_replied = h
            .get("auto-submitted")
            .is_some_and(|v| starts_with_ignore_case(v.trim(), "auto-replied"));
        let autoreply_header = h.contains("x-autoreply")
            || h.contains("x-autorespond")
            || h.contains("x-autoresponder")
            || h.get("precedence")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("auto_reply"));
        let subject = mail.subject.trim();
        // The subject last: it is lower-cased (Unicode) to be compared.
        if !(auto_replied || autoreply_header || subject_is_auto(subject)) {
            return None;
        }
        // Delivery notices carry `Auto-Submitted` too: cheapest checks first.
        if !mail.reports.is_empty() || mail.content_type.contains("multipart/report") {
            return None;
        }
        let from = h.value("from");
        let lower_from = from.to_ascii_lowercase();
        if lower_from.contains("mailer-daemon") || lower_from.contains("postmaster@") {
            return None;
        }
        let lower_subject = subject.to_ascii_lowercase();
        if BOUNCE_SUBJECTS.iter().any(|s| lower_subject.contains(s)) {
            return None;
        }
        let recipient = find_address(from)?;
        let diagnostic = reply_text(&mail.text);
        Some(vec![Delivery {
            recipient,
            diagnostic: if diagnostic.is_empty() {
                subject.to_string()
            } else {
                diagnostic
            },
            reason: Some(Reason::Vacation),
            ..Delivery::default()
        }])
    }
}

/// The reply's own words: the text before any quoted original, squashed,
/// at most a few hundred characters.
fn reply_text(text: &str) -> String {
    let mut kept = String::new();
    for line in text.split_lines().take(40) {
        let t = line.trim();
        if t.starts_with('>')
            || starts_with_ignore_case(t, "-----original message")
            || starts_with_ignore_case(t, "from:")
        {
            break;
        }
        kept.push_str(t);
        kept.push('\n');
        if kept.len() > 400 {
            break;
        }
    }
    let squashed = squash(&kept);
    match squashed.char_indices().nth(300) {
        Some((end, _)) => squashed.get(..end).unwrap_or("").to_string(),
        None => squashed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacation_reply_names_its_sender() {
        let raw = "From: Tora <tora@example.net>\nTo: me@example.org\nSubject: Out of Office: hi\n\
Auto-Submitted: auto-replied\n\nI am away until\nMonday.\n\n> your text\n";
        let found = Rfc3834
            .decode(&Mail::parse(raw.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(found[0].recipient, "tora@example.net");
        assert_eq!(found[0].reason, Some(Reason::Vacation));
        assert_eq!(found[0].diagnostic, "I am away until Monday.");
    }

    #[test]
    fn out_of_office_subjects_in_the_owners_language_mark_an_auto_reply() {
        // Exchange's own header, which RFC 3834 does not count as a reply:
        // the localized subject is the sign.
        for subject in [
            "Automatische Antwort: Angebot",
            "=?UTF-8?Q?R=C3=A9ponse_automatique_=3A_Devis?=",
            "Resposta automática: Proposta",
            "=?UTF-8?B?T2Rwb3dpZWTFuiBhdXRvbWF0eWN6bmE6IG9mZXJ0YQ==?=",
            "AUTOMATISCH ANTWOORD: offerte",
            "=?UTF-8?B?6Ieq5Yqo5Zue5aSNOiDmiqXku7c=?=",
            "=?UTF-8?B?0JDQstGC0L7QvtGC0LLQtdGCOiDQv9GA0LXQtNC70L7QttC10L3QuNC1?=",
        ] {
            let raw = format!(
                "From: Anna <anna@example.net>\nTo: me@example.org\nSubject: {subject}\n\
Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\n\nIch bin bis Montag nicht im B\u{fc}ro.\n"
            );
            let found = Rfc3834.decode(&Mail::parse(raw.as_bytes()).unwrap());
            let found = found.unwrap_or_else(|| panic!("{subject}: not read as an auto-reply"));
            assert_eq!(found[0].recipient, "anna@example.net", "{subject}");
            assert_eq!(found[0].reason, Some(Reason::Vacation), "{subject}");
        }
    }

    #[test]
    fn a_prefix_must_end_at_a_word_end() {
        assert!(subject_is_auto("Autoreply: away"));
        assert!(subject_is_auto("自動応答メール"));
        assert!(subject_is_auto("Hans Meier is out of the office."));
        assert!(!subject_is_auto("Autoreplyer pricing for 2027"));
        assert!(!subject_is_auto("Automatisch antwoorden instellen?"));
        assert!(!subject_is_auto("Re: meeting"));
    }

    #[test]
    fn bounces_and_plain_mail_are_not_auto_replies() {
        let bounce = "From: MAILER-DAEMON@example.net\nTo: me@example.org\n\
Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n\nfailed\n";
        assert!(
            Rfc3834
                .decode(&Mail::parse(bounce.as_bytes()).unwrap())
                .is_none()
        );
        let plain = "From: a@example.net\nTo: me@example.org\nSubject: lunch?\n\nsee you\n";
        assert!(
            Rfc3834
                .decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
