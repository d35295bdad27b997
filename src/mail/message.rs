//! One `OutgoingMail` as a MIME message: multipart/alternative with the
//! plain text first and the HTML second, UTF-8, and the shop's headers.
//! Everything that comes from outside is sanitized or refused here, so
//! lettre never sees a value it would panic on or mangle.

use super::sanitize::{NAME_CHARS, SUBJECT_CHARS, header_text};
use super::{OutgoingMail, SendError};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};
use std::time::SystemTime;

/// What every mail of the shop carries, read once from the settings.
#[derive(Debug, Clone)]
pub(super) struct Letterhead {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
}

/// The local part of a Message-ID: 1 to this many ASCII letters, digits,
/// `-`, `_` and `.` (not at an end, never two in a row).
const MESSAGE_ID_CHARS: usize = 200;

pub(super) fn build(mail: &OutgoingMail, letterhead: &Letterhead) -> Result<Message, SendError> {
    let to = Mailbox::new(
        non_empty(header_text(&mail.to_name, NAME_CHARS)),
        recipient_address(&mail.to_address)?,
    );
    let message_id = message_id(&mail.message_id, letterhead.from.email.domain())?;
    let mut builder = Message::builder()
        .from(letterhead.from.clone())
        .to(to)
        .subject(header_text(&mail.subject, SUBJECT_CHARS))
        .date(SystemTime::from(crate::clock::now().assume_utc()))
        .message_id(Some(message_id))
        // RFC 3834: no vacation answers or other robots' replies, please.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    if let Some(reply_to) = &letterhead.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("the mail cannot be built: {e}")))
}

/// `Name <address>` from the settings, its name made safe like a shopper's.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    let mailbox: Mailbox = text
        .trim()
        .parse()
        .map_err(|e| format!("'{text}' is not an address like Shop <shop@example.com> ({e})"))?;
    let name = mailbox
        .name
        .and_then(|n| non_empty(header_text(&n, NAME_CHARS)));
    Ok(Mailbox::new(name, mailbox.email))
}

/// The shopper's address. An internationalized domain is sent in its
/// ASCII form, which every server takes; an address lettre cannot use can
/// never be sent, whatever the server.
fn recipient_address(text: &str) -> Result<Address, SendError> {
    let refused = |problem: String| {
        SendError::Permanent(format!("the recipient address is not usable: {problem}"))
    };
    let text = text.trim();
    let (user, domain) = text
        .rsplit_once('@')
        .ok_or_else(|| refused("it has no @".into()))?;
    let domain = if domain.is_ascii() {
        domain.to_owned()
    } else {
        match url::Host::parse(domain) {
            Ok(url::Host::Domain(ascii)) => ascii,
            _ => return Err(refused("its domain is not a domain name".into())),
        }
    };
    Address::new(user, domain).map_err(|e| refused(e.to_string()))
}

fn message_id(local: &str, domain: &str) -> Result<String, SendError> {
    let usable = (1..=MESSAGE_ID_CHARS).contains(&local.len())
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if usable {
        Ok(format!("<{local}@{domain}>"))
    } else {
        Err(SendError::Permanent(format!(
            "the message id must be 1 to {MESSAGE_ID_CHARS} ASCII letters, digits, '-', '_' or '.'"
        )))
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn letterhead() -> Letterhead {
        Letterhead {
            from: parse_mailbox("Kassa Demo Shop <shop@kassa.example>").unwrap(),
            reply_to: None,
        }
    }

    fn mail(name: &str, subject: &str) -> OutgoingMail {
        OutgoingMail {
            message_id: "evt-1".into(),
            to_name: name.into(),
            to_address: "anna@example.com".into(),
            subject: subject.into(),
            text: "Thank you.".into(),
            html: "<p>Thank you.</p>".into(),
        }
    }

    /// The header section, folded lines joined, as (lower-case name, value).
    fn headers(message: &Message) -> Vec<(String, String)> {
        let raw = String::from_utf8(message.formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
        head.split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
            .collect()
    }

    #[test]
    fn a_name_cannot_add_a_header() {
        let message = build(&mail("Eve\r\nBcc: x@y", "Hi\r\nBcc: z@y"), &letterhead()).unwrap();
        let headers = headers(&message);
        assert!(!headers.iter().any(|(n, _)| n == "bcc"), "{headers:?}");
        assert_eq!(headers.iter().filter(|(n, _)| n == "to").count(), 1);
        assert!(
            message
                .envelope()
                .to()
                .iter()
                .all(|a| a.to_string() == "anna@example.com")
        );
    }

    #[test]
    fn bad_addresses_and_ids_are_permanent() {
        for address in [
            "",
            "anna",
            "anna@",
            "@example.com",
            "an na@example.com",
            "a\r\nb@example.com",
            "a@exa\0mple.com",
        ] {
            let mut m = mail("Anna", "Hi");
            m.to_address = address.into();
            let err = build(&m, &letterhead()).unwrap_err();
            assert!(matches!(err, SendError::Permanent(_)), "{address:?}: {err}");
        }
        for id in ["", "a b", "a\r\nb", ".a", "a..b", "a>b", &"x".repeat(201)] {
            let mut m = mail("Anna", "Hi");
            m.message_id = id.into();
            assert!(
                matches!(build(&m, &letterhead()), Err(SendError::Permanent(_))),
                "{id:?}"
            );
        }
    }

    #[test]
    fn an_international_domain_goes_out_in_ascii() {
        let mut m = mail("Anna", "Hi");
        m.to_address = " anna@bücher.example ".into();
        let message = build(&m, &letterhead()).unwrap();
        assert_eq!(
            message.envelope().to()[0].to_string(),
            "anna@xn--bcher-kva.example"
        );
    }

    #[test]
    fn the_sender_name_from_the_settings_is_made_safe_too() {
        let from = parse_mailbox("Shop <shop@kassa.example>").unwrap();
        assert_eq!(from.name.as_deref(), Some("Shop"));
        assert!(parse_mailbox("not an address").is_err());
        assert!(parse_mailbox("shop@kassa.example").unwrap().name.is_none());
    }

    proptest! {
        /// Whatever the shopper typed: the mail is built, has one To and no
        /// Bcc, goes to the one recipient, and its name and subject read
        /// back as sanitized.
        #[test]
        fn any_name_and_subject_build_one_safe_mail(name in "\\PC{0,150}|[\\x00-\\x7f]{0,150}", subject in "\\PC{0,250}|[\\x00-\\x7f]{0,250}") {
            let message = build(&mail(&name, &subject), &letterhead()).unwrap();
            let headers = headers(&message);
            prop_assert!(!headers.iter().any(|(n, _)| n == "bcc" || n == "cc"), "{:?}", headers);
            prop_assert_eq!(headers.iter().filter(|(n, _)| n == "to").count(), 1);
            prop_assert_eq!(message.envelope().to().len(), 1);
            let raw = message.formatted();
            let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let to = parsed.to().and_then(|t| t.first()).unwrap();
            prop_assert_eq!(to.address(), Some("anna@example.com"));
            let expected_name = header_text(&name, NAME_CHARS);
            prop_assert_eq!(to.name().unwrap_or(""), expected_name.as_str());
            let expected_subject = header_text(&subject, SUBJECT_CHARS);
            prop_assert_eq!(parsed.subject().unwrap_or(""), expected_subject.as_str());
        }
    }
}
