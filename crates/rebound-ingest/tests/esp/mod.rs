//! Hand-written ESP webhook payloads, one per class of the providers'
//! documented classifications, each with the suppression decision expected
//! for its recipients. Shared by `rebound-ingest/tests/esp_verdicts.rs`
//! (verdicts) and `rebound-ledger/tests/esp_policy.rs` (the policy).
//!
//! The expectations come from the providers' documentation (what their
//! class means for the address) and from what the reply text says, never
//! from the code's output.

#![allow(dead_code)]

use rebound_core::Reason;

/// What the ledger should do with the recipient on first sight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Suppress now: a dead address (hard bounce) or a complaint.
    Suppress,
    /// Mailbox full or disabled: counts towards the repeated-bounce rule.
    Soft,
    /// Never suppresses the recipient: deferral, block or other refusal of
    /// the sender, not attempted, or unknown.
    Keep,
}

pub struct Case {
    /// The class the payload stands for.
    pub name: &'static str,
    pub body: &'static str,
    /// Per recipient: the decision and, where the class or the text names
    /// one, the reason.
    pub expect: &'static [(&'static str, Expect, Option<Reason>)],
}

use Expect::*;

/// The time given to records that state none.
pub const RECEIVED_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

pub const CASES: &[Case] = &[
    // ---------------------------------------------------------------- SES
    Case {
        name: "SES Permanent/General, no status, no diagnostic: SES says remove the address",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"gone@example.org"}],"timestamp":"2026-03-02T10:00:00.000Z","feedbackId":"fb-general-1"},"mail":{"timestamp":"2026-03-02T09:59:58.000Z","source":"news@sender.example","messageId":"m-general-1","destination":["gone@example.org"]}}"#,
        expect: &[("gone@example.org", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SES Permanent/NoEmail without a diagnostic",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"NoEmail","bouncedRecipients":[{"emailAddress":"nobody@example.org","action":"failed"}],"timestamp":"2026-03-02T10:01:00.000Z","feedbackId":"fb-noemail-1"},"mail":{"source":"news@sender.example","messageId":"m-noemail-1"}}"#,
        expect: &[("nobody@example.org", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SES Transient/MailboxFull with its 5.2.2 reply",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","bouncedRecipients":[{"emailAddress":"full@example.org","action":"failed","status":"5.2.2","diagnosticCode":"smtp; 552 5.2.2 Mailbox full"}],"timestamp":"2026-03-02T10:02:00.000Z","feedbackId":"fb-full-1"},"mail":{"source":"news@sender.example","messageId":"m-full-1"}}"#,
        expect: &[("full@example.org", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "SES Transient/General, no diagnostic: may succeed later",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"later@example.org"}],"timestamp":"2026-03-02T10:03:00.000Z","feedbackId":"fb-tgen-1"},"mail":{"source":"news@sender.example","messageId":"m-tgen-1"}}"#,
        expect: &[("later@example.org", Keep, None)],
    },
    Case {
        name: "SES Permanent/General whose reply is a blocklist refusal of the sender",
        body: r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"fine@example.org","action":"failed","status":"5.7.1","diagnosticCode":"smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org"}],"timestamp":"2026-03-02T10:04:00.000Z","feedbackId":"fb-spamhaus-1"},"mail":{"source":"news@sender.example","messageId":"m-spamhaus-1"}}"#,
        expect: &[("fine@example.org", Keep, Some(Reason::Blocked))],
    },
    Case {
        name: "SES Permanent/General whose reply is a policy refusal (specific 5.7.x status)",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"policy@example.org","action":"failed","status":"5.7.1","diagnosticCode":"smtp; 550 5.7.1 Delivery not authorized, message refused"}],"timestamp":"2026-03-02T10:05:00.000Z","feedbackId":"fb-policy-1"},"mail":{"source":"news@sender.example","messageId":"m-policy-1"}}"#,
        expect: &[("policy@example.org", Keep, None)],
    },
    Case {
        name: "SES Permanent/General whose reply has an address-subject status the table only guesses (Microsoft 5.4.1)",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"left@example.org","action":"failed","status":"5.4.1","diagnosticCode":"smtp; 550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM11FT001.eop-nam11.prod.protection.outlook.com]"}],"timestamp":"2026-03-02T10:05:30.000Z","feedbackId":"fb-541-1"},"mail":{"source":"news@sender.example","messageId":"m-541-1"}}"#,
        expect: &[("left@example.org", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SES Permanent/Suppressed: on SES's global list for bouncing as an invalid address",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"Suppressed","bouncedRecipients":[{"emailAddress":"invalid@example.org","action":"failed","status":"5.1.1","diagnosticCode":"Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address."}],"timestamp":"2026-03-02T10:05:45.000Z","feedbackId":"fb-glob-1"},"mail":{"source":"news@sender.example","messageId":"m-glob-1"}}"#,
        expect: &[("invalid@example.org", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SES Permanent/OnAccountSuppressionList: not sent",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"OnAccountSuppressionList","bouncedRecipients":[{"emailAddress":"listed@example.org","action":"failed","status":"5.1.1","diagnosticCode":"Amazon SES did not send the message to this address because it is on the suppression list for your account."}],"timestamp":"2026-03-02T10:06:00.000Z","feedbackId":"fb-acct-1"},"mail":{"source":"news@sender.example","messageId":"m-acct-1"}}"#,
        expect: &[("listed@example.org", Keep, Some(Reason::Suppressed))],
    },
    Case {
        name: "SES Undetermined/Undetermined: nothing known",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Undetermined","bounceSubType":"Undetermined","bouncedRecipients":[{"emailAddress":"unknown@example.org"}],"timestamp":"2026-03-02T10:07:00.000Z","feedbackId":"fb-und-1"},"mail":{"source":"news@sender.example","messageId":"m-und-1"}}"#,
        expect: &[("unknown@example.org", Keep, None)],
    },
    Case {
        name: "SES Transient/General whose reply reads permanent: SES still calls it temporary",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"flaky@example.org","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-03-02T10:08:00.000Z","feedbackId":"fb-tgen-2"},"mail":{"source":"news@sender.example","messageId":"m-tgen-2"}}"#,
        expect: &[("flaky@example.org", Keep, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SES Permanent/General without a timestamp: taken at receipt, not skipped",
        body: r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"notime@example.org","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"feedbackId":"fb-notime-1"},"mail":{"source":"news@sender.example","messageId":"m-notime-1"}}"#,
        expect: &[("notime@example.org", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SES complaint with subtype OnAccountSuppressionList: not sent, no new complaint",
        body: r#"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"quiet@example.org"}],"timestamp":"2026-03-02T10:09:00.000Z","feedbackId":"fb-cs-1","complaintSubType":"OnAccountSuppressionList"},"mail":{"source":"news@sender.example","messageId":"m-cs-1"}}"#,
        expect: &[("quiet@example.org", Keep, Some(Reason::Suppressed))],
    },
    Case {
        name: "SES DeliveryDelay, IPFailure: the sender's IP is blocked, SES retries",
        body: r#"{"eventType":"DeliveryDelay","mail":{"source":"news@sender.example","messageId":"m-dd-1"},"deliveryDelay":{"timestamp":"2026-03-02T10:10:00.000Z","delayType":"IPFailure","expirationTime":"2026-03-02T22:10:00.000Z","delayedRecipients":[{"emailAddress":"wait@example.org","status":"4.4.0","diagnosticCode":"smtp; 421 4.4.0 Temporarily rate limited"}]}}"#,
        expect: &[("wait@example.org", Keep, None)],
    },
    // ----------------------------------------------------------- SendGrid
    Case {
        name: "SendGrid bounce (type bounce) with 550 5.1.1 and a generic 5.0.0 status field",
        body: r#"{"email":"left@example.net","timestamp":1772445600,"smtp-id":"<a1@sg.example>","event":"bounce","category":"news","sg_event_id":"sg-bounce-511","sg_message_id":"sgm-1","reason":"550 5.1.1 The email account that you tried to reach does not exist.","status":"5.0.0","type":"bounce","bounce_classification":"Invalid Address"}"#,
        expect: &[("left@example.net", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SendGrid blocked (type blocked) with a Spamhaus text",
        body: r#"{"email":"ok@example.net","timestamp":1772445601,"event":"bounce","sg_event_id":"sg-block-sh","sg_message_id":"sgm-2","reason":"554 5.7.1 Service unavailable; Client host [192.0.2.20] blocked using zen.spamhaus.org","status":"5.7.1","type":"blocked","bounce_classification":"Reputation"}"#,
        expect: &[("ok@example.net", Keep, Some(Reason::Blocked))],
    },
    Case {
        name: "SendGrid bounce that says 'bounce' but whose text is a Spamhaus block",
        body: r#"{"email":"ok2@example.net","timestamp":1772445602,"event":"bounce","sg_event_id":"sg-bounce-sh","sg_message_id":"sgm-3","reason":"550 5.7.1 Message rejected: sending IP blocked by Spamhaus","status":"5.7.1","type":"bounce"}"#,
        expect: &[("ok2@example.net", Keep, Some(Reason::Blocked))],
    },
    Case {
        name: "SendGrid blocked whose text reads 'user unknown': a block never suppresses",
        body: r#"{"email":"maybe@example.net","timestamp":1772445603,"event":"bounce","sg_event_id":"sg-block-uu","sg_message_id":"sgm-4","reason":"550 5.1.1 <maybe@example.net>: Recipient address rejected: User unknown","status":"5.1.1","type":"blocked"}"#,
        expect: &[("maybe@example.net", Keep, None)],
    },
    Case {
        name: "SendGrid bounce, Invalid Address, text naming no reason",
        body: r#"{"email":"invalid@example.net","timestamp":1772445604,"event":"bounce","sg_event_id":"sg-bounce-inv","sg_message_id":"sgm-5","reason":"550 Requested action not taken","status":"5.0.0","type":"bounce","bounce_classification":"Invalid Address"}"#,
        expect: &[("invalid@example.net", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SendGrid bounce, Mailbox Unavailable, text naming no reason",
        body: r#"{"email":"away@example.net","timestamp":1772445605,"event":"bounce","sg_event_id":"sg-bounce-mu","sg_message_id":"sgm-6","reason":"550 Requested action not taken","status":"5.0.0","type":"bounce","bounce_classification":"Mailbox Unavailable"}"#,
        expect: &[("away@example.net", Soft, Some(Reason::Suspend))],
    },
    Case {
        name: "SendGrid bounce (type bounce), Unclassified, text naming no reason",
        body: r#"{"email":"uncl@example.net","timestamp":1772445605,"event":"bounce","sg_event_id":"sg-bounce-un","sg_message_id":"sgm-6b","reason":"550 Requested action not taken","type":"bounce","bounce_classification":"Unclassified"}"#,
        expect: &[("uncl@example.net", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SendGrid deferred",
        body: r#"{"email":"slow@example.net","timestamp":1772445606,"event":"deferred","sg_event_id":"sg-def-1","sg_message_id":"sgm-7","response":"421 4.7.0 Try again later","attempt":"3"}"#,
        expect: &[("slow@example.net", Keep, None)],
    },
    Case {
        name: "SendGrid dropped, Bounced Address: not sent",
        body: r#"{"email":"old@example.net","timestamp":1772445607,"event":"dropped","sg_event_id":"sg-drop-1","sg_message_id":"sgm-8","reason":"Bounced Address","status":"5.0.0"}"#,
        expect: &[("old@example.net", Keep, Some(Reason::Suppressed))],
    },
    Case {
        name: "SendGrid spam report",
        body: r#"{"email":"angry@example.net","timestamp":1772445608,"event":"spamreport","sg_event_id":"sg-spam-1","sg_message_id":"sgm-9"}"#,
        expect: &[("angry@example.net", Suppress, Some(Reason::Feedback))],
    },
    Case {
        name: "SendGrid bounce without a timestamp: taken at receipt, not skipped",
        body: r#"{"email":"notime@example.net","event":"bounce","sg_event_id":"sg-notime","reason":"550 5.1.1 user unknown","status":"5.1.1","type":"bounce"}"#,
        expect: &[("notime@example.net", Suppress, Some(Reason::UserUnknown))],
    },
    // ------------------------------------------------------------ Mailgun
    Case {
        name: "Mailgun failed, severity temporary",
        body: r#"{"event-data":{"id":"mg-temp-1","timestamp":1772445700.5,"event":"failed","severity":"temporary","reason":"generic","delivery-status":{"attempt-no":2,"message":"4.2.2 The email account that you tried to reach is over quota.","code":452,"description":"","enhanced-code":"4.2.2"},"recipient":"quota@example.com","envelope":{"sender":"bob@mg.sender.example"}}}"#,
        expect: &[("quota@example.com", Keep, None)],
    },
    Case {
        name: "Mailgun failed, permanent bounce, 550 5.1.1",
        body: r#"{"event-data":{"id":"mg-perm-1","timestamp":1772445701,"event":"failed","severity":"permanent","reason":"bounce","delivery-status":{"message":"5.1.1 The email account that you tried to reach does not exist.","code":550,"description":"","enhanced-code":"5.1.1"},"recipient":"ghost@example.com"}}"#,
        expect: &[("ghost@example.com", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Mailgun failed, permanent, suppress-bounce: not sent",
        body: r#"{"event-data":{"id":"mg-sup-1","timestamp":1772445702,"event":"failed","severity":"permanent","reason":"suppress-bounce","delivery-status":{"message":"","code":605,"description":"Not delivering to previously bounced address"},"recipient":"known@example.com"}}"#,
        expect: &[("known@example.com", Keep, Some(Reason::Suppressed))],
    },
    Case {
        name: "Mailgun failed, permanent, espblock",
        body: r#"{"event-data":{"id":"mg-esp-1","timestamp":1772445703,"event":"failed","severity":"permanent","reason":"espblock","delivery-status":{"message":"","code":605,"description":""},"recipient":"esp@example.com"}}"#,
        expect: &[("esp@example.com", Keep, Some(Reason::Blocked))],
    },
    // ----------------------------------------------------------- Postmark
    Case {
        name: "Postmark HardBounce with its 550 5.1.1 details",
        body: r#"{"RecordType":"Bounce","ID":101,"Type":"HardBounce","TypeCode":1,"Name":"Hard bounce","MessageID":"pm-1","Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).","Details":"smtp;550 5.1.1 The email account that you tried to reach does not exist.","Email":"hard@example.com","From":"sender@pm.example","BouncedAt":"2026-03-02T11:00:00Z","Inactive":true}"#,
        expect: &[("hard@example.com", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Postmark SoftBounce, mailbox full",
        body: r#"{"RecordType":"Bounce","ID":102,"Type":"SoftBounce","TypeCode":4096,"MessageID":"pm-2","Description":"Unable to temporarily deliver this email.","Details":"smtp;552 5.2.2 Mailbox full","Email":"soft@example.com","BouncedAt":"2026-03-02T11:01:00Z","Inactive":false}"#,
        expect: &[("soft@example.com", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "Postmark SoftBounce, no details",
        body: r#"{"RecordType":"Bounce","ID":103,"Type":"SoftBounce","TypeCode":4096,"MessageID":"pm-3","Description":"","Details":"","Email":"soft2@example.com","BouncedAt":"2026-03-02T11:02:00Z"}"#,
        expect: &[("soft2@example.com", Keep, None)],
    },
    Case {
        name: "Postmark Blocked (ISP block of the sender)",
        body: r#"{"RecordType":"Bounce","ID":104,"Type":"Blocked","TypeCode":100006,"MessageID":"pm-4","Description":"The message was blocked by the receiving server.","Details":"smtp;554 5.7.1 Message rejected because of unacceptable content","Email":"blk@example.com","BouncedAt":"2026-03-02T11:03:00Z"}"#,
        expect: &[("blk@example.com", Keep, None)],
    },
    Case {
        name: "Postmark DnsError",
        body: r#"{"RecordType":"Bounce","ID":105,"Type":"DnsError","TypeCode":256,"MessageID":"pm-5","Description":"A temporary DNS error.","Details":"","Email":"dns@example.com","BouncedAt":"2026-03-02T11:04:00Z"}"#,
        expect: &[("dns@example.com", Keep, Some(Reason::NetworkError))],
    },
    Case {
        name: "Postmark BadEmailAddress",
        body: r#"{"RecordType":"Bounce","ID":106,"Type":"BadEmailAddress","TypeCode":100000,"MessageID":"pm-6","Description":"Invalid email address","Details":"","Email":"bad@example.com","BouncedAt":"2026-03-02T11:05:00Z"}"#,
        expect: &[("bad@example.com", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Postmark bounce known only by TypeCode (Blocked)",
        body: r#"{"RecordType":"Bounce","ID":107,"TypeCode":100006,"MessageID":"pm-7","Details":"","Email":"blk2@example.com","BouncedAt":"2026-03-02T11:06:00Z"}"#,
        expect: &[("blk2@example.com", Keep, Some(Reason::Blocked))],
    },
    // ---------------------------------------------------------- SparkPost
    Case {
        name: "SparkPost bounce_class 10 (Invalid Recipient), no reason text",
        body: r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"10","event_id":"sp-10","message_id":"spm-1","rcpt_to":"invalid@example.io","timestamp":"1772445800"}}}"#,
        expect: &[("invalid@example.io", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SparkPost bounce_class 22 (Mailbox Full)",
        body: r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"22","event_id":"sp-22","message_id":"spm-2","rcpt_to":"full@example.io","raw_reason":"552 5.2.2 <full@example.io>: Mailbox full","error_code":"552","timestamp":"1772445801"}}}"#,
        expect: &[("full@example.io", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "SparkPost bounce_class 50 (Mail Block)",
        body: r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"50","event_id":"sp-50","message_id":"spm-3","rcpt_to":"mb@example.io","raw_reason":"550 Message not accepted","error_code":"550","timestamp":"1772445802"}}}"#,
        expect: &[("mb@example.io", Keep, Some(Reason::Blocked))],
    },
    Case {
        name: "SparkPost bounce_class 51 (Spam Block)",
        body: r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"51","event_id":"sp-51","message_id":"spm-4","rcpt_to":"sb@example.io","raw_reason":"554 5.7.1 Service unavailable; Client host [192.0.2.30] blocked using b.barracudacentral.org","error_code":"554","timestamp":"1772445803"}}}"#,
        expect: &[("sb@example.io", Keep, Some(Reason::Blocked))],
    },
    Case {
        name: "SparkPost bounce_class 54 (Relaying Denied)",
        body: r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"54","event_id":"sp-54","message_id":"spm-5","rcpt_to":"relay@example.io","raw_reason":"550 5.7.1 Relaying denied","error_code":"550","timestamp":"1772445804"}}}"#,
        expect: &[("relay@example.io", Keep, Some(Reason::NoRelaying))],
    },
    Case {
        name: "SparkPost bounce_class 30 (Generic Bounce: No RCPT, Hard), no text",
        body: r#"{"msys":{"message_event":{"type":"out_of_band","bounce_class":"30","event_id":"sp-30","message_id":"spm-6","rcpt_to":"norcpt@example.io","timestamp":"1772445805"}}}"#,
        expect: &[("norcpt@example.io", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "SparkPost bounce_class 40 (Generic Bounce, Soft), no text",
        body: r#"{"msys":{"message_event":{"type":"bounce","bounce_class":"40","event_id":"sp-40","message_id":"spm-7","rcpt_to":"generic@example.io","timestamp":"1772445806"}}}"#,
        expect: &[("generic@example.io", Keep, None)],
    },
    Case {
        name: "SparkPost bounce_class 25 (Admin Failure): SparkPost's own policy",
        body: r#"{"msys":{"message_event":{"type":"policy_rejection","bounce_class":"25","event_id":"sp-25","message_id":"spm-8","rcpt_to":"admin@example.io","raw_reason":"550 5.0.0 Message generation rejected","timestamp":"1772445807"}}}"#,
        expect: &[("admin@example.io", Keep, Some(Reason::Suppressed))],
    },
    // ------------------------------------------------------------ Mailjet
    Case {
        name: "Mailjet bounce, hard, user unknown, with the receiver's reply",
        body: r#"{"event":"bounce","time":1772445900,"MessageID":19421777835146490,"Message_GUID":"1ab23cd4-e567-8901-2345-6789f0gh1i2j","email":"gone@example.fr","mj_campaign_id":7257,"mj_contact_id":4,"customcampaign":"spring","CustomID":"","Payload":"","blocked":true,"hard_bounce":true,"error_related_to":"recipient","error":"user unknown","comment":"550 5.1.1 <gone@example.fr>: Recipient address rejected: User unknown in virtual mailbox table"}"#,
        expect: &[("gone@example.fr", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Mailjet bounce, soft, quota exceeded",
        body: r#"{"event":"bounce","time":1772445901,"MessageID":19421777835146491,"email":"full@example.fr","mj_campaign_id":0,"mj_contact_id":5,"customcampaign":"","blocked":false,"hard_bounce":false,"error_related_to":"recipient","error":"quota exceeded","comment":"452 4.2.2 Mailbox full"}"#,
        expect: &[("full@example.fr", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "Mailjet bounce, sender blocked on a DNS blocklist: the sender's problem",
        body: r#"{"event":"bounce","time":1772445902,"MessageID":19421777835146492,"email":"fine@example.fr","mj_campaign_id":0,"mj_contact_id":6,"blocked":false,"hard_bounce":true,"error_related_to":"spam","error":"sender blocked","comment":"554 5.7.1 Service unavailable; Client host [192.0.2.40] blocked using zen.spamhaus.org"}"#,
        expect: &[("fine@example.fr", Keep, Some(Reason::Blocked))],
    },
    Case {
        name: "Mailjet blocked (preblocked): not sent by Mailjet",
        body: r#"{"event":"blocked","time":1772445903,"MessageID":19421777835146493,"email":"listed@example.fr","mj_campaign_id":0,"mj_contact_id":7,"error_related_to":"mailjet","error":"preblocked","comment":""}"#,
        expect: &[("listed@example.fr", Keep, Some(Reason::Suppressed))],
    },
    Case {
        name: "Mailjet spam complaint and a sent message, one post",
        body: r#"[{"event":"spam","time":1772445904,"MessageID":19421777835146494,"email":"angry@example.fr","mj_campaign_id":0,"mj_contact_id":8,"source":"JMRPP"},{"event":"sent","time":1772445905,"MessageID":19421777835146495,"Message_GUID":"g-5","email":"ok@example.fr","mj_campaign_id":0,"mj_contact_id":9,"mj_message_id":"19421777835146495","smtp_reply":"sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)"}]"#,
        expect: &[
            ("angry@example.fr", Suppress, None),
            ("ok@example.fr", Keep, Some(Reason::Delivered)),
        ],
    },
    // -------------------------------------------------------------- Brevo
    Case {
        name: "Brevo hard_bounce, the address does not exist",
        body: r#"{"event":"hard_bounce","email":"gone@example.de","id":123456,"date":"2026-03-02 11:00:00","ts":1772449200,"message-id":"<202603021100.1@smtp-relay.mailin.fr>","ts_event":1772449200,"subject":"Spring","tag":"[\"spring\"]","sending_ip":"198.51.100.20","ts_epoch":1772449200123,"tags":["spring"],"reason":"550 5.1.1 <gone@example.de>: Recipient address rejected: User unknown"}"#,
        expect: &[("gone@example.de", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Brevo hard_bounce whose reply is a content refusal: not a dead address",
        body: r#"{"event":"hard_bounce","email":"fine@example.de","id":123457,"ts_event":1772449201,"message-id":"<202603021100.2@smtp-relay.mailin.fr>","ts_epoch":1772449201000,"reason":"554 5.7.1 Message rejected because it was identified as spam"}"#,
        expect: &[("fine@example.de", Keep, Some(Reason::SpamDetected))],
    },
    Case {
        name: "Brevo soft_bounce, mailbox full",
        body: r#"{"event":"soft_bounce","email":"full@example.de","id":123458,"ts_event":1772449202,"message-id":"<202603021100.3@smtp-relay.mailin.fr>","ts_epoch":1772449202000,"reason":"452 4.2.2 The email account that you tried to reach is over quota"}"#,
        expect: &[("full@example.de", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "Brevo blocked, deferred and spam",
        body: r#"[{"event":"blocked","email":"blocked@example.de","id":123459,"ts_event":1772449203,"message-id":"<m4@relay>","ts_epoch":1772449203000,"reason":"blocked : due to blacklist user"},{"event":"deferred","email":"later@example.de","id":123460,"ts_event":1772449204,"message-id":"<m5@relay>","ts_epoch":1772449204000,"reason":"421 4.7.0 Try again later"},{"event":"spam","email":"angry@example.de","id":123461,"ts_event":1772449205,"message-id":"<m6@relay>","ts_epoch":1772449205000}]"#,
        expect: &[
            ("blocked@example.de", Keep, Some(Reason::Suppressed)),
            ("later@example.de", Keep, None),
            ("angry@example.de", Suppress, None),
        ],
    },
    Case {
        name: "Brevo marketing hard bounce (campaign event, settings' name), no reply text",
        body: r#"{"event":"hardBounce","email":"old@example.de","id":99,"camp_id":12,"date_event":"2026-03-02 11:00:00","ts_event":1772449206,"date_sent":"2026-03-02 10:59:00","ts_sent":1772449140}"#,
        expect: &[("old@example.de", Suppress, Some(Reason::UserUnknown))],
    },
    // ----------------------------------------------------------- Mandrill
    Case {
        name: "Mandrill hard_bounce, bad_mailbox, in its mandrill_events field",
        body: r#"{"mandrill_events":"[{\"event\":\"hard_bounce\",\"_id\":\"md-1\",\"ts\":1772452800,\"msg\":{\"ts\":1772452790,\"_id\":\"md-1\",\"state\":\"bounced\",\"email\":\"gone@example.com.au\",\"sender\":\"news@sender.example\",\"subject\":\"Spring\",\"tags\":[\"spring\"],\"bounce_description\":\"bad_mailbox\",\"bgtools_code\":10,\"diag\":\"smtp;550 5.1.1 The email account that you tried to reach does not exist.\",\"smtp_events\":[]}}]"}"#,
        expect: &[("gone@example.com.au", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Mandrill soft_bounce, mailbox full, from its SMTP events",
        body: r#"[{"event":"soft_bounce","_id":"md-2","ts":1772452801,"msg":{"ts":1772452791,"_id":"md-2","state":"soft-bounced","email":"full@example.com.au","sender":"news@sender.example","bounce_description":"mailbox_full","smtp_events":[{"ts":1772452795,"type":"soft-bounced","diag":"452 4.2.2 Mailbox full","source_ip":"198.51.100.30","destination_ip":"203.0.113.5","size":0}]}}]"#,
        expect: &[("full@example.com.au", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "Mandrill hard_bounce, general, whose reply is a spam refusal",
        body: r#"[{"event":"hard_bounce","_id":"md-3","ts":1772452802,"msg":{"_id":"md-3","state":"bounced","email":"fine@example.com.au","bounce_description":"general","diag":"smtp;550 5.7.1 Our system has detected that this message is likely unsolicited mail."}}]"#,
        expect: &[("fine@example.com.au", Keep, Some(Reason::SpamDetected))],
    },
    Case {
        name: "Mandrill reject, spam and send",
        body: r#"[{"event":"reject","_id":"md-4","ts":1772452803,"msg":{"_id":"md-4","state":"rejected","email":"listed@example.com.au"}},{"event":"spam","_id":"md-5","ts":1772452804,"msg":{"_id":"md-5","state":"sent","email":"angry@example.com.au"}},{"event":"send","_id":"md-6","ts":1772452805,"msg":{"_id":"md-6","state":"sent","email":"ok@example.com.au","smtp_events":[{"ts":1772452805,"type":"sent","diag":"250 2.0.0 Ok: queued as 4F1A2B3C","source_ip":"198.51.100.30","destination_ip":"203.0.113.6"}]}}]"#,
        expect: &[
            ("listed@example.com.au", Keep, Some(Reason::Suppressed)),
            ("angry@example.com.au", Suppress, None),
            ("ok@example.com.au", Keep, Some(Reason::Delivered)),
        ],
    },
    // ------------------------------------------------------------- Resend
    Case {
        name: "Resend email.bounced, Permanent/General, with the receiver's reply",
        body: r#"{"type":"email.bounced","created_at":"2026-03-02T12:00:00.000Z","data":{"created_at":"2026-03-02T11:59:58.000Z","email_id":"56761188-7520-42d8-8898-ff6fc54ce618","from":"Acme <news@sender.example>","to":["gone@example.nl"],"subject":"Spring","bounce":{"message":"550 5.1.1 The email account that you tried to reach does not exist.","subType":"General","type":"Permanent"}}}"#,
        expect: &[("gone@example.nl", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Resend email.bounced, Permanent/Suppressed (SES's global list)",
        body: r#"{"type":"email.bounced","created_at":"2026-03-02T12:00:01.000Z","data":{"email_id":"r-2","from":"news@sender.example","to":["listed@example.nl"],"bounce":{"message":"The recipient's email address is on the suppression list because it has a recent history of producing hard bounces.","subType":"Suppressed","type":"Permanent"}}}"#,
        expect: &[("listed@example.nl", Suppress, Some(Reason::UserUnknown))],
    },
    Case {
        name: "Resend email.bounced, Transient/MailboxFull",
        body: r#"{"type":"email.bounced","created_at":"2026-03-02T12:00:02.000Z","data":{"email_id":"r-3","from":"news@sender.example","to":["full@example.nl"],"bounce":{"message":"452 4.2.2 Mailbox full","subType":"MailboxFull","type":"Transient"}}}"#,
        expect: &[("full@example.nl", Soft, Some(Reason::MailboxFull))],
    },
    Case {
        name: "Resend email.bounced to two addressees: which one bounced is not said",
        body: r#"{"type":"email.bounced","created_at":"2026-03-02T12:00:03.000Z","data":{"email_id":"r-4","from":"news@sender.example","to":["a@example.nl","b@example.nl"],"bounce":{"message":"Amazon SES has received a general hard bounce","subType":"General","type":"Permanent"}}}"#,
        expect: &[("a@example.nl", Keep, None), ("b@example.nl", Keep, None)],
    },
    Case {
        name: "Resend delivered, delayed and complained",
        body: r#"[{"type":"email.delivered","created_at":"2026-03-02T12:00:04.000Z","data":{"email_id":"r-5","to":["ok@example.nl"]}},{"type":"email.delivery_delayed","created_at":"2026-03-02T12:00:05.000Z","data":{"email_id":"r-6","to":["later@example.nl"]}},{"type":"email.complained","created_at":"2026-03-02T12:00:06.000Z","data":{"email_id":"r-7","to":["angry@example.nl"]}}]"#,
        expect: &[
            ("ok@example.nl", Keep, Some(Reason::Delivered)),
            ("later@example.nl", Keep, None),
            ("angry@example.nl", Suppress, None),
        ],
    },
];
