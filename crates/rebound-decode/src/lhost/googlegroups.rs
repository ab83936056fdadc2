//! Google Groups: a post refused by a group (it does not exist, or the
//! sender may not post), reported by mailer-daemon@googlemail.com in the
//! sender's language with the group's address in `X-Failed-Recipients`.

use super::provider_helpers::{failed_recipients, from_lower, join_lines, mentions};
use crate::delivery::{Decoder, Delivery};
use crate::mail::Mail;
use crate::text::{Needle, SplitLines, text_before};

pub struct GoogleGroups;

impl Decoder for GoogleGroups {
    fn name(&self) -> &'static str {
        "GoogleGroups"
    }

    fn decode(&self, mail: &Mail) -> Option<Vec<Delivery>> {
        if !mail.headers.contains("x-failed-recipients") {
            return None;
        }
        let from = from_lower(mail);
        if !from.contains("mailer-daemon@googlemail.com")
            && !from.contains("mailer-daemon@google.com")
        {
            return None;
        }
        static GROUPS: Needle = Needle::new("groups.google.com");
        if !mentions(&mail.text, &GROUPS) {
            return None;
        }
        let body = text_before(&mail.text, &["----- Original message -----"]);
        let diagnostic = join_lines(body.split_lines().take(200));
        let out: Vec<Delivery> = failed_recipients(mail)
            .into_iter()
            .map(|recipient| Delivery {
                recipient,
                action: "failed".to_string(),
                diagnostic: diagnostic.clone(),
                ..Delivery::default()
            })
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_group_address() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n\
X-Failed-Recipients: somegroup@googlegroups.com\nSubject: Delivery Status Notification (Failure)\n\
Content-Type: text/plain; charset=UTF-8\n\n\
Hello a@example.org,\n\nThe group you tried to contact (somegroup) may not exist.\n\
Help: https://groups.google.com/support/\n\n----- Original message -----\n\nSubject: x\n\nbody\n";
        let mail = Mail::parse(raw.as_bytes()).unwrap();
        let d = GoogleGroups.decode(&mail).unwrap();
        assert_eq!(d[0].recipient, "somegroup@googlegroups.com");
        assert!(d[0].diagnostic.contains("groups.google.com/support"));
        assert!(!d[0].diagnostic.contains("Original message"));
        let plain = raw.replace("groups.google.com", "example.com");
        assert!(
            GoogleGroups
                .decode(&Mail::parse(plain.as_bytes()).unwrap())
                .is_none()
        );
    }
}
