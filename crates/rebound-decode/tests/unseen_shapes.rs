//! Bounce shapes the Sisimai corpus does not hold, written by hand from
//! the formats' documentation (RFC 3464, RFC 5965, what each MTA is
//! documented to write). Each test names the class of notice it stands
//! for; the addresses and texts are invented.

use rebound_core::Reason;
use rebound_decode::{
    DecodeOptions, Record, VerpPattern, decode_message, decode_message_configured,
};

fn decode(raw: &str) -> Vec<Record> {
    decode_message(raw.as_bytes(), "t", &DecodeOptions::default()).expect("a message")
}

fn recipients(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.recipient.as_str()).collect()
}

fn record<'a>(records: &'a [Record], recipient: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.recipient == recipient)
        .unwrap_or_else(|| panic!("no record for {recipient}: {records:#?}"))
}

fn status(r: &Record) -> String {
    r.verdict
        .deliverystatus
        .map(|s| s.to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// 1. Free-text notices no format decoder claims.

/// Netscape/iPlanet Messaging Server's plain notice: one `Recipient
/// address:` block per recipient, each with its own reason.
#[test]
fn iplanet_style_blocks_per_recipient() {
    let records = decode(
        "From: Internet Mail Delivery <postmaster@mail.example.net>\n\
To: sender@ours.example\n\
Subject: Delivery Notification: Delivery has failed\n\n\
This report relates to a message you sent with the following header fields:\n\n\
  Subject: quarterly figures\n\n\
Your message cannot be delivered to the following recipients:\n\n\
  Recipient address: ann@example.net\n\
  Reason: Remote SMTP server has rejected address\n\
  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: ann@example.net\n\
  Remote system: dns;mx.example.net\n\n\
  Recipient address: bob@example.org\n\
  Reason: Remote SMTP server has rejected address\n\
  Diagnostic code: smtp;552 5.2.2 mailbox over quota\n\
  Remote system: dns;mx.example.org\n",
    );
    assert_eq!(recipients(&records), ["ann@example.net", "bob@example.org"]);
    let ann = record(&records, "ann@example.net");
    assert!(
        ann.diagnosticcode.contains("unknown or illegal alias"),
        "{ann:?}"
    );
    assert_eq!(status(ann), "5.1.1");
    let bob = record(&records, "bob@example.org");
    assert!(bob.diagnosticcode.contains("over quota"), "{bob:?}");
    assert!(!bob.diagnosticcode.contains("illegal alias"));
    assert_eq!(status(bob), "5.2.2");
}

/// Exchange 5.5 / 2000 "did not reach the following recipient(s)": the
/// summary lists the original's To, the recipient line carries a date,
/// the MSEXCH line the cause.
#[test]
fn exchange55_did_not_reach() {
    let records = decode(
        "From: System Administrator <postmaster@corp.example.com>\n\
To: Sender <sender@ours.example>\n\
Subject: Undeliverable: budget\n\n\
Your message\n\n\
  To:      Carol <carol@corp.example.com>\n\
  Subject: budget\n\
  Sent:    Mon, 1 Jan 2024 10:00:00 +0000\n\n\
did not reach the following recipient(s):\n\n\
carol@corp.example.com on Mon, 1 Jan 2024 10:00:05 +0000\n\
    The recipient name is not recognized\n\
    The MTS-ID of the original message is: c=US;a= ;p=Corp;l=MAIL0101010101-1\n\
    MSEXCH:IMS:Corp:Site:MAIL 0 (000C05A6) Unknown Recipient\n",
    );
    assert_eq!(recipients(&records), ["carol@corp.example.com"]);
    let carol = &records[0];
    assert!(
        carol
            .diagnosticcode
            .contains("recipient name is not recognized"),
        "{carol:?}"
    );
    assert_eq!(carol.verdict.reason.to_string(), "userunknown");
}

/// Exchange 2007+ plain NDR without a report: a friendly line per
/// recipient, then "Diagnostic information for administrators" naming
/// each again with the remote reply, then the original headers.
#[test]
fn exchange_friendly_text_and_diagnostic_section() {
    let records = decode(
        "From: Microsoft Outlook <MicrosoftExchange329e71ec@corp.example.com>\n\
To: Sender <sender@ours.example>\n\
Subject: Undeliverable: Meeting\n\n\
Delivery has failed to these recipients or groups:\n\n\
John Smith (john@partner.example)\n\
The e-mail address you entered couldn't be found.\n\n\
Mary (mary@partner.example)\n\
The recipient's mailbox is full and can't accept messages now.\n\n\
Diagnostic information for administrators:\n\n\
Generating server: mail.corp.example.com\n\n\
john@partner.example\n\
mx.partner.example #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n\n\
mary@partner.example\n\
mx.partner.example #552 5.2.2 mailbox full ##\n\n\
Original message headers:\n\n\
Received: from a by b\n\
From: Sender <sender@ours.example>\n\
To: john@partner.example, mary@partner.example, zed@partner.example\n",
    );
    assert_eq!(
        recipients(&records),
        ["john@partner.example", "mary@partner.example"]
    );
    let john = record(&records, "john@partner.example");
    assert_eq!(status(john), "5.1.1");
    assert!(john.diagnosticcode.contains("couldn't be found"));
    assert!(!john.diagnosticcode.contains("mailbox full"));
    let mary = record(&records, "mary@partner.example");
    assert_eq!(status(mary), "5.2.2");
    assert!(!mary.diagnosticcode.contains("RecipNotFound"));
}

/// GroupWise: "undeliverable to the following", one address per line
/// with its cause in parentheses.
#[test]
fn groupwise_undeliverable_list() {
    let records = decode(
        "From: Mail Administrator <postmaster@gw.example.edu>\n\
To: sender@ours.example\n\
Subject: Message status - undeliverable\n\n\
The message that you sent was undeliverable to the following:\n\
\tdan@gw.example.edu (user not found)\n\
\teve@gw.example.edu (mailbox full)\n\n\
Possible alternatives:\n\
\tCheck the spelling of the address.\n",
    );
    assert_eq!(
        recipients(&records),
        ["dan@gw.example.edu", "eve@gw.example.edu"]
    );
    assert!(
        record(&records, "dan@gw.example.edu")
            .diagnosticcode
            .contains("user not found")
    );
    let eve = record(&records, "eve@gw.example.edu");
    assert!(eve.diagnosticcode.contains("mailbox full"), "{eve:?}");
    assert!(!eve.diagnosticcode.contains("user not found"));
}

/// Lotus Notes: the address on a line of its own, "because:" and the cause
/// in the next paragraph.
#[test]
fn lotus_was_not_delivered_because() {
    let records = decode(
        "From: Postmaster <postmaster@notes.example.com>\n\
To: sender@ours.example\n\
Subject: DELIVERY FAILURE: User frank not listed\n\n\
Your message\n\n\
  Subject: invoice\n\n\
was not delivered to:\n\n\
  frank@notes.example.com\n\n\
because:\n\n\
  User frank (frank@notes.example.com) not listed in Domino Directory\n",
    );
    assert_eq!(recipients(&records), ["frank@notes.example.com"]);
    assert!(
        records[0]
            .diagnosticcode
            .contains("not listed in Domino Directory"),
        "{:?}",
        records[0]
    );
}

/// SMTP32-style listing: bare addresses under "did not receive this
/// message", a system contact address that is not a recipient.
#[test]
fn smtp32_style_list_and_contact_address() {
    let records = decode(
        "From: MAILER-DAEMON@mail.example.info\n\
To: sender@ours.example\n\
Subject: Undeliverable Mail\n\n\
The following recipients did not receive this message:\n\n\
<gina@example.info>\n\
<hank@example.info>\n\n\
550 5.1.1 User unknown\n\n\
Please reply to postmaster@example.info if you feel this message to be in error.\n",
    );
    assert_eq!(
        recipients(&records),
        ["gina@example.info", "hank@example.info"]
    );
    for r in &records {
        assert!(r.diagnosticcode.contains("User unknown"), "{r:?}");
        assert_eq!(status(r), "5.1.1");
    }
}

/// A qmail-like notice from an unrecognised host: `<addr>:` paragraphs,
/// then the returned message with its own addresses, which are not
/// recipients.
#[test]
fn qmail_like_paragraphs_and_returned_message() {
    let records = decode(
        "From: MAILER-DAEMON@relay.example.biz\n\
To: sender@ours.example\n\
Subject: failure notice\n\n\
Hi. This is the mail transport at relay.example.biz.\n\
I'm afraid I wasn't able to deliver your message to the following addresses.\n\n\
<ivan@example.biz>:\n\
192.0.2.7 does not like recipient.\n\
Remote host said: 550 5.1.1 <ivan@example.biz>: Recipient address rejected\n\n\
<judy@example.biz>:\n\
Sorry, no mailbox here by that name. (#5.1.1)\n\n\
--- Below this line is a copy of the message.\n\n\
Return-Path: <sender@ours.example>\n\
From: sender@ours.example\n\
To: ivan@example.biz, judy@example.biz, kim@example.biz\n\
Cc: leo@example.biz\n\
Subject: hello\n",
    );
    assert_eq!(
        recipients(&records),
        ["ivan@example.biz", "judy@example.biz"]
    );
    assert!(
        record(&records, "ivan@example.biz")
            .diagnosticcode
            .contains("Recipient address rejected")
    );
    let judy = record(&records, "judy@example.biz");
    assert!(judy.diagnosticcode.contains("no mailbox here"), "{judy:?}");
    assert!(!judy.diagnosticcode.contains("Recipient address rejected"));
}

/// "could not be delivered to" in a sentence, then an inline "Original
/// message" with more addresses: only the sentence's counts.
#[test]
fn sentence_then_original_message_inline() {
    let records = decode(
        "From: Mail Delivery System <mailer-daemon@example.co>\n\
To: sender@ours.example\n\
Subject: Mail could not be delivered\n\n\
Your message could not be delivered to mia@example.co because the mailbox is disabled.\n\n\
----- Original message -----\n\
From: sender@ours.example\n\
To: mia@example.co, ned@example.co\n\
Subject: hi\n",
    );
    assert_eq!(recipients(&records), ["mia@example.co"]);
    assert!(records[0].diagnosticcode.contains("mailbox is disabled"));
}

/// The returned message's headers written inline with no marker at all:
/// the addresses of its To and Cc are not recipients.
#[test]
fn inline_returned_headers_without_a_marker() {
    let records = decode(
        "From: MAILER-DAEMON@gw.example.org\nTo: sender@ours.example\nSubject: Undeliverable mail\n\n\
Delivery to nell@example.org failed: mailbox unavailable.\n\n\
From: sender@ours.example\n\
To: nell@example.org, otto@example.org\n\
Cc: pia@example.org\n\
Subject: plans\n",
    );
    assert_eq!(recipients(&records), ["nell@example.org"]);
}

/// A mailing-list server's notice: the list's owner and -request
/// addresses are never recipients.
#[test]
fn list_server_notice_skips_list_addresses() {
    let records = decode(
        "From: news-owner@lists.example.net\n\
To: news-request@lists.example.net\n\
Subject: Delivery failure for list news\n\n\
Your message to news@lists.example.net was not delivered to the following members:\n\n\
   olga@example.com (550 5.1.1 no such user)\n\
   paul@example.org (552 5.2.2 quota exceeded)\n\n\
Questions go to news-owner@lists.example.net or news-admin@lists.example.net.\n",
    );
    assert_eq!(
        recipients(&records),
        ["olga@example.com", "paul@example.org"]
    );
    assert_eq!(status(record(&records, "olga@example.com")), "5.1.1");
    assert_eq!(status(record(&records, "paul@example.org")), "5.2.2");
}

/// An HTML-only notice (hosted Exchange's newer style): the sentence
/// naming the recipient, the remote reply two paragraphs below.
#[test]
fn html_only_notice_with_reply_below() {
    let records = decode(
        "From: postmaster@mail.example.biz\nTo: sender@ours.example\n\
Subject: Undeliverable: hello\nContent-Type: text/html; charset=utf-8\n\n\
<html><body><p><b>Your message to <a href=\"mailto:rita@example.biz\">rita@example.biz</a> \
couldn't be delivered.</b></p>\n<p>rita wasn't found at example.biz.</p>\n\
<p>Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found'</p>\n\
</body></html>\n",
    );
    assert_eq!(recipients(&records), ["rita@example.biz"]);
    assert_eq!(status(&records[0]), "5.1.10");
    assert!(records[0].diagnosticcode.contains("couldn't be delivered"));
}

/// A German notice (Exchange and many hosters localise theirs): the
/// failure wording and subject in the sender's language.
#[test]
fn german_notice() {
    let records = decode(
        "From: Mail-Server <mailserver@hoster.example.de>
To: sender@ours.example
Subject: Unzustellbar: Angebot

Ihre Nachricht konnte nicht zugestellt werden an:

    uwe@example.de
    550 5.1.1 Postfach nicht vorhanden
",
    );
    assert_eq!(recipients(&records), ["uwe@example.de"]);
    assert_eq!(status(&records[0]), "5.1.1");
}

/// A subject that a person may write too ("error", "failed") makes a
/// bounce only with a system's mark: a null return path or
/// Auto-Submitted.
#[test]
fn weak_subjects_need_a_system_mark() {
    let body = "Subject: Error in your order

Your message could not be delivered to vera@example.com: mailbox unavailable.
";
    let person = format!(
        "From: Wes <wes@example.org>
To: sender@ours.example
{body}"
    );
    assert!(decode(&person).is_empty());
    let system = format!(
        "Return-Path: <>
From: Gateway <gw@relay.example.org>
To: sender@ours.example
{body}"
    );
    assert_eq!(recipients(&decode(&system)), ["vera@example.com"]);
}

/// Mail to a role mailbox of another site (`postmaster@`) bounces like
/// any other; the reporting site's own role mailboxes are not recipients.
#[test]
fn role_mailboxes_here_and_elsewhere() {
    let records = decode(
        "From: MAILER-DAEMON@mx.relay.example.com\nTo: sender@ours.example\n\
Subject: Undelivered Mail Returned to Sender\n\n\
Your message could not be delivered:\n\n\
<postmaster@partner.example>: host mx.partner.example said: 550 5.1.1 unknown\n\n\
Report problems to postmaster@relay.example.com.\n",
    );
    assert_eq!(recipients(&records), ["postmaster@partner.example"]);
}

/// A notice that names its recipient only in the subject.
#[test]
fn recipient_only_in_the_subject() {
    let records = decode(
        "From: Mail System <mailsys@mx.example.net>
To: sender@ours.example
Subject: Undeliverable mail: xavier@example.net

Delivery failed permanently: the mailbox has been disabled.
",
    );
    assert_eq!(recipients(&records), ["xavier@example.net"]);
    assert!(
        records[0]
            .diagnosticcode
            .contains("mailbox has been disabled")
    );
}

/// A notice that is no bounce at all (a person's mail mentioning
/// failure) gives nothing.
#[test]
fn a_personal_message_is_not_a_bounce() {
    let records = decode(
        "From: Quinn <quinn@example.com>\nTo: rose@example.org\nSubject: lunch\n\n\
My mail to sam@example.net could not be delivered, do you have his new address?\n",
    );
    assert!(records.is_empty(), "{records:?}");
}

// ---------------------------------------------------------------------------
// 2. Which field is the recipient.

fn dsn(recipient_fields: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.com\nTo: sender@ours.example\nSubject: Delivery failure\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nDelivery failed.\n\n\
--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.com\n\n{recipient_fields}\n\
--B--\n"
    )
}

/// Sun/Oracle Messaging Server: the Final-Recipient is the internal
/// message-store route; the Original-Recipient is the address sent to.
#[test]
fn messaging_server_internal_route() {
    for daemon in ["ims-ms-daemon", "sims-ms-daemon"] {
        let records = decode(&dsn(&format!(
            "Original-Recipient: rfc822;tom@example.com\n\
Final-Recipient: rfc822;tom@{daemon}\nAction: failed\nStatus: 5.2.2 (mailbox full)\n"
        )));
        assert_eq!(recipients(&records), ["tom@example.com"], "{daemon}");
    }
}

/// The same in Messaging Server's own notice, whose text names the store
/// route as `Recipient address:` and the sent-to address as `Original
/// address:`.
#[test]
fn messaging_server_notice_with_store_route() {
    let records = decode(
        "From: Internet Mail Delivery <postmaster@mail.example.com>\n\
To: sender@ours.example\n\
Subject: Delivery Notification: Delivery has failed\n\
Content-type: multipart/report; boundary=\"B\"; report-type=delivery-status\n\n\
--B\nContent-type: text/plain; charset=us-ascii\n\n\
This report relates to a message you sent with the following header fields:\n\n\
  To: tom@example.com\n\n\
Your message cannot be delivered to the following recipients:\n\n\
  Recipient address: tom@ims-ms-daemon\n\
  Original address: tom@example.com\n\
  Reason: Over quota\n\n\
--B\nContent-type: message/DELIVERY-STATUS\n\n\
Reporting-MTA: dns;mail.example.com (tcp_intranet-daemon)\n\n\
Original-recipient: rfc822;tom@example.com\n\
Final-recipient: rfc822;tom@ims-ms-daemon\n\
Action: failed\nStatus: 5.2.2 (Over quota)\n\n--B--\n",
    );
    assert_eq!(recipients(&records), ["tom@example.com"]);
    assert_eq!(status(&records[0]), "5.2.2");
}

/// Exchange and X.400 address forms in DSN fields.
#[test]
fn exchange_and_x400_address_forms() {
    let records = decode(&dsn(
        "Final-Recipient: rfc822;SMTP:uma@example.com\nAction: failed\nStatus: 5.1.1\n\n\
Final-Recipient: rfc822;dda:SMTP=vic@example.com\nAction: failed\nStatus: 5.1.1\n\n\
Final-Recipient: rfc822;IMCEASMTP-will+2Ewright+40example+2Eorg@exch.example.com\nAction: failed\nStatus: 5.1.1\n\n\
Final-Recipient: rfc822;\"Xena Q\" <xena@example.net>\nAction: failed\nStatus: 5.1.1\n\n\
Final-Recipient: rfc822;\"yuri tanaka\"@example.jp\nAction: failed\nStatus: 5.1.1\n\n\
Final-Recipient: rfc822; zoe@example.com>\nAction: failed\nStatus: 5.1.1\n",
    ));
    assert_eq!(
        recipients(&records),
        [
            "uma@example.com",
            "vic@example.com",
            "will.wright@example.org",
            "xena@example.net",
            "\"yuri tanaka\"@example.jp",
            "zoe@example.com",
        ]
    );
}

/// Sendmail's X-Actual-Recipient names the mailbox only when the other
/// fields do not; a well-formed Final-Recipient stays the recipient.
#[test]
fn actual_recipient_is_the_last_resort() {
    let records = decode(&dsn(
        "Final-Recipient: rfc822;abe@example.com\nX-Actual-Recipient: rfc822;abe.local@host.example.com\n\
Action: failed\nStatus: 5.1.1\n\n\
Final-Recipient: X-Unix; |/usr/local/bin/filter\nX-Actual-Recipient: rfc822;bea@example.com\n\
Action: failed\nStatus: 5.0.0\n",
    ));
    assert_eq!(recipients(&records), ["abe@example.com", "bea@example.com"]);
}

/// Exim's X-Failed-Recipients (several, comma separated) under a notice of
/// a shape no decoder knows.
#[test]
fn failed_recipients_header_with_unknown_wording() {
    let records = decode(
        "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n\
To: sender@ours.example\n\
X-Failed-Recipients: cal@example.org,\n dee@example.org\n\
Subject: Mail delivery failed\n\n\
Our system could not deliver your message to some addresses:\n\n\
  cal@example.org\n    550 5.1.1 mailbox unknown\n\n\
Please contact the recipient by other means.\n",
    );
    assert_eq!(recipients(&records), ["cal@example.org", "dee@example.org"]);
    assert_eq!(status(record(&records, "cal@example.org")), "5.1.1");
}

/// A gateway's `X-Original-RecipientList` (semicolon separated) names the
/// recipients its notice leaves out; the notice's own To (the sender) and
/// the quoted message's addresses are not recipients.
#[test]
fn original_recipient_list_header_names_the_recipients() {
    let records = decode(
        "From: Postmaster <postmaster@gw.example.org>\n\
To: sender@ours.example\n\
X-Original-RecipientList: <gil@example.org>; hal@example.org\n\
Subject: Undeliverable: quarterly figures\n\n\
Your message could not be delivered to one or more recipients.\n\
The recipient's mailbox is unavailable.\n\n\
----- Original message -----\n\
From: sender@ours.example\nTo: team@example.org\nSubject: quarterly figures\n",
    );
    assert_eq!(recipients(&records), ["gil@example.org", "hal@example.org"]);
}

// ---------------------------------------------------------------------------
// 3. VERP.

/// A notice that names nobody, delivered to a VERP bounce address.
#[test]
fn verp_names_the_recipient_when_the_notice_does_not() {
    for (header, address, want) in [
        (
            "To",
            "bounces+eli=example.com@lists.example.org",
            "eli@example.com",
        ),
        (
            "Delivered-To",
            "bounce-fay.g=example.net@mail.example.org",
            "fay.g@example.net",
        ),
        (
            "X-Original-To",
            "news-bounces+gus=example.co.uk@lists.example.org",
            "gus@example.co.uk",
        ),
    ] {
        let raw = format!(
            "From: MAILER-DAEMON@mx.example.com\n{header}: {address}\nSubject: Undeliverable message\n\n\
The message you sent could not be delivered: the mailbox is full.\n"
        );
        let records = decode(&raw);
        assert_eq!(recipients(&records), [want], "{header}");
        assert_eq!(records[0].decodedby, "VERP");
        assert!(records[0].diagnosticcode.contains("mailbox is full"));
    }
}

/// A cut-off recipient is completed from the VERP address; a complete
/// one is never replaced.
#[test]
fn verp_repairs_only_a_truncated_recipient() {
    let notice = |named: &str| {
        format!(
            "From: MAILER-DAEMON@mx.example.com\nTo: bounces+hal.jordan=example.com@lists.example.org\n\
Subject: Returned mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n\
Final-Recipient: rfc822; {named}\nAction: failed\nStatus: 5.1.1\n--B--\n"
        )
    };
    assert_eq!(
        recipients(&decode(&notice("hal.jordan@exam"))),
        ["hal.jordan@example.com"]
    );
    assert_eq!(
        recipients(&decode(&notice("ivy@example.net"))),
        ["ivy@example.net"]
    );
}

/// The pattern is configurable: a shape of one's own.
#[test]
fn verp_pattern_of_ones_own() {
    let raw = "From: MAILER-DAEMON@mx.example.com\nTo: b.jo.at.example.net@bounce.example.org\n\
Subject: Undeliverable\n\nDelivery failed: no such user.\n";
    let pattern =
        VerpPattern::new(r"^b\.(?P<local>[^.]+)\.at\.(?P<domain>.+)@bounce\.example\.org$")
            .unwrap();
    let records = decode_message_configured(
        raw.as_bytes(),
        "t",
        &DecodeOptions::default(),
        rebound_classify::Classifier::builtin(),
        &pattern,
    )
    .unwrap();
    assert_eq!(recipients(&records), ["jo@example.net"]);
    assert!(decode(raw).is_empty());
}

// ---------------------------------------------------------------------------
// 4. Several recipients in one DSN, each with its own reply.

#[test]
fn dsn_recipients_keep_their_own_replies() {
    let records = decode(&dsn(
        "Final-Recipient: rfc822; one@example.com\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n\
Final-Recipient: rfc822; two@example.com\nAction: failed\nStatus: 5.2.2\n\
Diagnostic-Code: smtp; 552 5.2.2 mailbox full\n\n\
Final-Recipient: rfc822; three@example.com\nAction: delayed\nStatus: 4.4.1\n\
Diagnostic-Code: smtp; 421 4.4.1 connection timed out\n",
    ));
    assert_eq!(
        recipients(&records),
        ["one@example.com", "two@example.com", "three@example.com"]
    );
    assert_eq!(
        record(&records, "one@example.com").diagnosticcode,
        "550 5.1.1 no such user"
    );
    assert_eq!(
        record(&records, "two@example.com").diagnosticcode,
        "552 5.2.2 mailbox full"
    );
    assert_eq!(
        record(&records, "two@example.com")
            .verdict
            .reason
            .to_string(),
        "mailboxfull"
    );
    let three = record(&records, "three@example.com");
    assert_eq!(three.action, "delayed");
    assert!(!three.verdict.hardbounce);
    assert_ne!(three.verdict.reason.as_str(), "expired");
    assert_eq!(status(three), "4.4.1");
}

/// A provider's notice with one explanation for all its recipients, and a
/// report with a reply per recipient: each recipient keeps its own.
#[test]
fn shared_notice_text_yields_to_per_recipient_report() {
    let records = decode(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
To: sender@ours.example\n\
Subject: Delivery Status Notification (Failure)\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
--b\nContent-Type: text/plain\n\n\
Delivery to the following recipients failed permanently:\n\n\
     pat@example.com\n\
     quin@example.com\n\n\
Technical details of permanent failure:\n\
The email account that you tried to reach does not exist.\n\n\
--b\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; googlemail.com\n\n\
Final-Recipient: rfc822; pat@example.com\nAction: failed\nStatus: 5.1.1\n\
Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n\
Final-Recipient: rfc822; quin@example.com\nAction: failed\nStatus: 5.0.0\n\
Diagnostic-Code: smtp; 552 5.2.2 over quota\n\n\
--b--\n",
    );
    assert_eq!(
        recipients(&records),
        ["pat@example.com", "quin@example.com"]
    );
    assert_eq!(status(record(&records, "pat@example.com")), "5.1.1");
    let quin = record(&records, "quin@example.com");
    assert_eq!(quin.diagnosticcode, "552 5.2.2 over quota");
    assert_eq!(status(quin), "5.2.2");
    assert_eq!(quin.verdict.reason.to_string(), "mailboxfull");
}

/// An old Sendmail notice without a report (AOL's, around 2001): the
/// addresses listed bare, one transcript session with a RCPT per
/// recipient. Each recipient gets the reply to its own RCPT, not the
/// session's first failure.
#[test]
fn sendmail_transcript_replies_per_rcpt() {
    let records = decode(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: sender@ours.example
Subject: Returned mail: User unknown

The original message was received at Mon, 1 Jan 2001 00:00:00 -0500 (EST)
from mail.ours.example [192.0.2.9]

   ----- The following addresses had permanent fatal errors -----
ada@example.com
ben@example.com

   ----- Transcript of session follows -----
... while talking to mx1.example.com.:
>>> RCPT To:<ada@example.com>
<<< 550 MAILBOX NOT FOUND
550 ada@example.com... User unknown
>>> RCPT To:<ben@example.com>
<<< 552 MAILBOX FULL
",
    );
    assert_eq!(recipients(&records), ["ada@example.com", "ben@example.com"]);
    assert_eq!(
        record(&records, "ada@example.com")
            .verdict
            .reason
            .to_string(),
        "userunknown"
    );
    let ben = record(&records, "ben@example.com");
    assert_eq!(ben.diagnosticcode, "552 MAILBOX FULL");
    assert_eq!(ben.verdict.reason.to_string(), "mailboxfull");
}

// ---------------------------------------------------------------------------
// 5. Shape tolerance.

const SMALL_DSN: &str = "From: MAILER-DAEMON@mx.example.com\nTo: sender@ours.example\n\
Subject: Delivery failure\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n\
Final-Recipient: rfc822; kay@example.com\nAction: failed\nStatus: 5.1.1\n--B--\n";

#[test]
fn leading_blank_lines_and_an_mbox_postmark() {
    for prefix in [
        "\u{feff}",
        "\n\n",
        "\r\n  \r\n",
        "From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n",
        "\nFrom MAILER-DAEMON Mon Jan  1 00:00:00 2024\n",
    ] {
        let records = decode(&format!("{prefix}{SMALL_DSN}"));
        assert_eq!(recipients(&records), ["kay@example.com"], "{prefix:?}");
    }
}

/// A free-text delay warning (Sendmail's "Warning: could not send message
/// for past 4 hours") is a delay, never a hard failure.
#[test]
fn free_text_delay_warning_stays_soft() {
    let records = decode(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>\n\
To: sender@ours.example\n\
Subject: Warning: could not send message for past 4 hours\n\n\
    **********************************************\n\
    **      THIS IS A WARNING MESSAGE ONLY      **\n\
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n\
    **********************************************\n\n\
The following addresses had transient non-fatal errors:\n\
lou@example.net\n\n\
Your message has not yet been delivered; the system will continue to try for 5 days.\n",
    );
    assert_eq!(recipients(&records), ["lou@example.net"]);
    assert_eq!(records[0].action, "delayed");
    assert!(!records[0].verdict.hardbounce);
    assert!(status(&records[0]).starts_with("4."), "{:?}", records[0]);
    assert_ne!(records[0].verdict.reason.as_str(), "expired");
}

/// A standard delay DSN whose only status is x.4.7 ("delivery time
/// expired": here the warning timer, the queue lifetime is days away) and
/// which names no cause: pending and retried, never `expired`, never
/// suppressing anyone.
#[test]
fn dsn_delay_notice_is_pending_not_expired() {
    let records = decode(&dsn(
        "Final-Recipient: rfc822; pat@example.org\nAction: delayed\nStatus: 4.4.7\n\
Will-Retry-Until: Fri, 4 Dec 2026 10:00:00 +0000\n",
    ));
    assert_eq!(recipients(&records), ["pat@example.org"]);
    let v = &records[0].verdict;
    assert_eq!(v.reason.as_str(), "onhold", "{:?}", v.explain);
    assert_eq!(v.permanent, Some(false));
    assert!(!v.hardbounce);
    assert_eq!(v.remedy.as_str(), "retry");
    // A delay notice that names its cause reports it.
    let records = decode(&dsn(
        "Final-Recipient: rfc822; pat@example.org\nAction: delayed\nStatus: 4.2.2\n\
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\n",
    ));
    assert_eq!(records[0].verdict.reason.as_str(), "mailboxfull");
    assert!(!records[0].verdict.hardbounce);
}

/// Postfix bounces every recipient when its relay refuses its SASL login
/// ("SASL authentication failed; server ... said: 535 5.7.8 ...
/// unknown user"): the sender's credentials, never the recipient's
/// mailbox nor a filter of theirs.
#[test]
fn a_refused_relay_login_is_the_senders_setup_for_every_recipient() {
    let records = decode(
        "From: MAILER-DAEMON@app.ours.example (Mail Delivery System)\n\
To: news@ours.example\nSubject: Undelivered Mail Returned to Sender\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nThis is the mail system at host app.ours.example.\n\n\
<olga@example.net>: SASL authentication failed; server smtp.relay.example[198.51.100.5] \
said: 535 5.7.8 Error: authentication failed: unknown user\n\n\
--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; app.ours.example\n\n\
Final-Recipient: rfc822; olga@example.net\nAction: failed\nStatus: 5.7.8\n\
Remote-MTA: dns; smtp.relay.example\n\
Diagnostic-Code: smtp; 535 5.7.8 Error: authentication failed: unknown user\n\n--B--\n",
    );
    assert_eq!(recipients(&records), ["olga@example.net"]);
    let v = &records[0].verdict;
    assert_eq!(v.reason.as_str(), "securityerror");
    assert!(!v.hardbounce);
    assert_eq!(v.remedy.as_str(), "fix_config");
}

/// Someone forwarded the bounce they got to the bounce mailbox: the
/// forwarded notice's own `To:` is the original sender, who must not be
/// read (and suppressed) as a recipient that failed; the notice's recipient
/// still is one. The returned message's `To:` (from the sender) stays one.
#[test]
fn a_forwarded_notice_names_its_addressee_who_is_no_recipient() {
    let forwarded = |quote: &str| {
        format!(
            "From: owner@ours.example\nTo: bounces@ours.example\n\
Subject: Fwd: Undeliverable: Your invoice\nDate: Tue, 1 Dec 2026 10:05:00 +0000\n\n\
{quote}---------- Forwarded message ---------\n\
{quote}From: Microsoft Outlook <postmaster@contoso.example>\n\
{quote}Date: Tue, Dec 1, 2026 at 10:00 AM\n{quote}Subject: Undeliverable: Your invoice\n\
{quote}To: <billing@ours.example>\n{quote}\n\
{quote}Your message to alice@contoso.example couldn't be delivered.\n\
{quote}alice wasn't found at contoso.example.\n{quote}\n\
{quote}Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; \
Recipient not found by SMTP address lookup'\n"
        )
    };
    for quote in ["", "> "] {
        let records = decode(&forwarded(quote));
        assert_eq!(recipients(&records), ["alice@contoso.example"], "{quote:?}");
        assert_eq!(records[0].verdict.reason.as_str(), "userunknown");
    }
    let records = decode(
        "From: Mail Delivery System <Mailer-Daemon@mx1.hosting.example>\n\
To: info@ours.example\nSubject: Mail delivery failed: returning message to sender\n\n\
A message that you sent could not be delivered to one or more of its\n\
recipients. This is a permanent error.\n\n\
Mailbox unavailable: 550 5.1.1 no such user\n\n\
From: info@ours.example\nTo: bob@example.net\nSubject: hello\n\nHi Bob\n",
    );
    assert_eq!(recipients(&records), ["bob@example.net"]);
}

// ---------------------------------------------------------------------------
// 6. Feedback reports (RFC 5965).

#[test]
fn arf_addresser_and_no_duplicate_recipients() {
    let records = decode(
        "From: feedback@fbl.example.net\nTo: fbl@ours.example\nSubject: Abuse report\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"B\"\n\n\
--B\nContent-Type: text/plain\n\nThis is an abuse report.\n\n\
--B\nContent-Type: message/feedback-report\n\n\
Feedback-Type: abuse\nUser-Agent: FBL/1.0\nVersion: 1\n\
Original-Mail-From: <bounce-7@mailer.ours.example>\n\
Original-Rcpt-To: <mo@example.net>\nRemoval-Recipient: mo@example.net\n\
Original-Rcpt-To: <ned@example.net>\n\
Arrival-Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n\
--B\nContent-Type: message/rfc822\n\n\
From: Newsletter <news@ours.example>\nTo: mo@example.net\nSubject: offers\n\nbody\n--B--\n",
    );
    assert_eq!(recipients(&records), ["mo@example.net", "ned@example.net"]);
    for r in &records {
        assert_eq!(r.addresser, "bounce-7@mailer.ours.example");
        assert_eq!(r.verdict.reason.to_string(), "feedback");
    }
}

// ---------------------------------------------------------------------------
// Auto-replies that say the address is gone.

fn auto_reply(subject: &str, body: &str) -> Vec<Record> {
    let raw = format!(
        "From: Tom Berg <tom@example.net>\nTo: news@ours.example\nSubject: {subject}\n\
Auto-Submitted: auto-replied\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    );
    let options = DecodeOptions {
        vacation: true,
        ..DecodeOptions::default()
    };
    decode_message(raw.as_bytes(), "t", &options).expect("a message")
}

/// An out-of-office reply is no failure, but one that says the address
/// itself is retired is a dead address a sender must stop mailing (and one
/// that names the new address is a move); "no longer monitored" or "not
/// read until" stay auto-replies: the mail still arrives.
#[test]
fn an_auto_reply_that_says_the_address_is_gone_is_a_dead_address() {
    let closed = auto_reply(
        "Automatic reply: invoice",
        "This email address is no longer in use and the mailbox has been closed.\n\
Your message has not been read and will not be forwarded. Please write to info@example.net.",
    );
    assert_eq!(closed[0].verdict.reason, Reason::UserUnknown, "{closed:?}");
    assert!(closed[0].verdict.hardbounce);
    let moved = auto_reply(
        "Automatische Antwort: Bestellung",
        "Diese E-Mail-Adresse ist nicht mehr aktiv. Bitte senden Sie Ihre Nachricht an meine neue Adresse: tom.berg@example.org",
    );
    assert_eq!(moved[0].verdict.reason, Reason::HasMoved, "{moved:?}");
    for body in [
        "I am out of the office until Monday and will not read mail until then.",
        "This mailbox is no longer monitored. For support please use the web form.",
        "Our old phone number is no longer in use; I am away until 3 May.",
    ] {
        let away = auto_reply("Out of Office: invoice", body);
        assert_eq!(away[0].verdict.reason, Reason::Vacation, "{body}");
        assert!(!away[0].verdict.hardbounce, "{body}");
    }
}
