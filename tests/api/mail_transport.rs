//! The mail transport on the wire: the real `Mailer` sends to the tests'
//! SMTP server (`smtp.rs`) or writes files, and every way a server can
//! fail is sorted into try-again-later or never.

use crate::smtp::{SmtpMode, SmtpServer};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use kassa::config::{MailSettings, MailTransportKind, Settings};
use kassa::mail::{Mailer, OutgoingMail, SendError};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const ARRIVES_WITHIN: Duration = Duration::from_secs(5);

fn smtp_settings(server: &SmtpServer) -> MailSettings {
    MailSettings {
        transport: MailTransportKind::Smtp,
        url: server.url(),
        ..Settings::default().mail
    }
}

fn mailer(settings: &MailSettings) -> (Mailer, TempDir) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mailer = Mailer::new(settings, data_dir.path()).expect("mailer");
    (mailer, data_dir)
}

fn order_mail(id: &str) -> OutgoingMail {
    OutgoingMail {
        message_id: id.into(),
        to_name: "Anna Schmidt".into(),
        to_address: "anna@example.com".into(),
        subject: "Your order KA-1001".into(),
        text: "Thank you for your order.\nTotal: 12.50 EUR\n.\nA line with a dot.".into(),
        html: "<p>Thank you for your order.</p>\n<p>Total: 12.50&nbsp;EUR</p>".into(),
    }
}

fn assert_transient(result: Result<(), SendError>, what: &str) {
    assert!(
        matches!(result, Err(SendError::Transient(_))),
        "{what}: expected Transient, got {result:?}"
    );
}

#[tokio::test]
async fn a_mail_arrives_as_text_and_html_with_the_shops_headers() {
    let server = SmtpServer::start().await;
    let mut settings = smtp_settings(&server);
    settings.reply_to = "Kassa Service <service@kassa.example>".into();
    let (mailer, _dir) = mailer(&settings);

    mailer.send(&order_mail("evt-0001")).await.expect("sent");

    let mail = server.wait_for_count(1, ARRIVES_WITHIN).await.remove(0);
    assert_eq!(mail.envelope_to, ["anna@example.com"]);
    assert_eq!(mail.to, "Anna Schmidt <anna@example.com>");
    assert_eq!(mail.subject, "Your order KA-1001");
    assert_eq!(mail.message_id, "evt-0001@kassa.example");
    assert_eq!(
        mail.header("From"),
        ["\"Kassa Demo Shop\" <shop@kassa.example>"]
    );
    assert_eq!(
        mail.header("Reply-To"),
        ["\"Kassa Service\" <service@kassa.example>"]
    );
    assert_eq!(mail.header("Auto-Submitted"), ["auto-generated"]);
    assert_eq!(mail.header("Date").len(), 1, "{:?}", mail.headers);
    assert_eq!(mail.header("MIME-Version"), ["1.0"]);
    let content_type = mail.header("Content-Type").join("");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    assert_eq!(
        mail.text.replace("\r\n", "\n"),
        "Thank you for your order.\nTotal: 12.50 EUR\n.\nA line with a dot.",
        "the lone dot survives SMTP's dot-stuffing"
    );
    assert!(
        mail.html.contains("<p>Total: 12.50&nbsp;EUR</p>"),
        "{:?}",
        mail.html
    );
    let raw = String::from_utf8_lossy(&mail.raw);
    let plain_at = raw
        .find("Content-Type: text/plain; charset=utf-8")
        .expect("a text part");
    let html_at = raw
        .find("Content-Type: text/html; charset=utf-8")
        .expect("an HTML part");
    assert!(
        plain_at < html_at,
        "text first, then HTML (the preferred last)"
    );
}

#[tokio::test]
async fn names_and_subjects_in_any_script_arrive_unchanged() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    let mut mail = order_mail("evt-unicode");
    mail.to_name = "Zoë Ångström-山田 \"the buyer\"".into();
    mail.subject = "Ihre Bestellung – 注文 ✓ 🎉".into();
    mail.text = "Grüße aus Köln — ありがとう".into();

    mailer.send(&mail).await.expect("sent");

    let got = server.wait_for_count(1, ARRIVES_WITHIN).await.remove(0);
    assert_eq!(got.to, "Zoë Ångström-山田 \"the buyer\" <anna@example.com>");
    assert_eq!(got.subject, "Ihre Bestellung – 注文 ✓ 🎉");
    assert!(
        got.text.contains("Grüße aus Köln — ありがとう"),
        "{:?}",
        got.text
    );
}

#[tokio::test]
async fn no_header_can_be_smuggled_in_through_name_or_subject() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    let mut mail = order_mail("evt-evil");
    mail.to_name = "Eve\r\nBcc: spy@evil.example\r\n\0".into();
    mail.subject = "Hi\r\nBcc: spy@evil.example\r\n\r\nfake body\u{2028}Cc: x@evil.example".into();

    mailer.send(&mail).await.expect("sent");

    let got = server.wait_for_count(1, ARRIVES_WITHIN).await.remove(0);
    assert_eq!(got.envelope_to, ["anna@example.com"], "nobody else gets it");
    assert!(
        got.header("Bcc").is_empty() && got.header("Cc").is_empty(),
        "{:?}",
        got.headers
    );
    assert_eq!(got.header("To").len(), 1);
    assert_eq!(got.to, "Eve Bcc: spy@evil.example <anna@example.com>");
    assert_eq!(
        got.subject,
        "Hi Bcc: spy@evil.example fake body Cc: x@evil.example"
    );
    assert!(
        got.text.starts_with("Thank you"),
        "the body is the mail's own"
    );
}

#[tokio::test]
async fn a_long_subject_is_cut_and_an_address_nobody_can_use_is_refused_for_good() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    let mut mail = order_mail("evt-long");
    mail.subject = "ä".repeat(1000);
    mailer.send(&mail).await.expect("sent");
    let got = server.wait_for_count(1, ARRIVES_WITHIN).await.remove(0);
    assert_eq!(got.subject.chars().count(), 200);
    assert!(got.subject.ends_with('…'));

    for address in ["anna", "anna@@example.com", "an\r\nna@example.com", ""] {
        let mut mail = order_mail("evt-bad-address");
        mail.to_address = address.into();
        let result = mailer.send(&mail).await;
        assert!(
            matches!(result, Err(SendError::Permanent(_))),
            "{address:?}: {result:?}"
        );
    }
    assert_eq!(server.received().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn a_busy_server_is_worth_another_try() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    server.set_mode(SmtpMode::Busy);
    assert_transient(mailer.send(&order_mail("evt-busy")).await, "busy");

    server.set_mode(SmtpMode::Accept);
    mailer
        .send(&order_mail("evt-busy"))
        .await
        .expect("sent on the next try");
    assert_eq!(server.wait_for_count(1, ARRIVES_WITHIN).await.len(), 1);
}

#[tokio::test]
async fn a_server_that_is_down_is_reported_at_once_and_used_again_when_back() {
    let server = SmtpServer::start().await;
    let mut settings = smtp_settings(&server);
    settings.timeout_ms = 20_000;
    let (mailer, _dir) = mailer(&settings);
    mailer.send(&order_mail("evt-before")).await.expect("sent");

    server.set_mode(SmtpMode::Down);
    let started = Instant::now();
    assert_transient(mailer.send(&order_mail("evt-down")).await, "down");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection is no reason to wait for the timeout: {:?}",
        started.elapsed()
    );

    server.set_mode(SmtpMode::Accept);
    mailer
        .send(&order_mail("evt-down"))
        .await
        .expect("sent once it is back");
    let ids: Vec<String> = server
        .wait_for_count(2, ARRIVES_WITHIN)
        .await
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(ids, ["evt-before@kassa.example", "evt-down@kassa.example"]);
}

#[tokio::test]
async fn a_connection_dropped_after_the_mail_is_worth_another_try() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    server.set_mode(SmtpMode::DropAfterData);
    assert_transient(mailer.send(&order_mail("evt-drop")).await, "dropped");
    server.set_mode(SmtpMode::Accept);
    mailer
        .send(&order_mail("evt-drop"))
        .await
        .expect("sent on the next try");
}

#[tokio::test]
async fn a_server_that_hangs_is_given_up_on_after_the_timeout() {
    let server = SmtpServer::start().await;
    let mut settings = smtp_settings(&server);
    settings.timeout_ms = 300;
    let (mailer, _dir) = mailer(&settings);
    server.set_mode(SmtpMode::Stall);

    let started = Instant::now();
    assert_transient(mailer.send(&order_mail("evt-hang")).await, "hanging");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    the_next_mails_are_answered_for_themselves(&server, &mailer).await;
}

#[tokio::test]
async fn a_send_the_caller_gives_up_on_leaves_no_half_answered_connection() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    server.set_mode(SmtpMode::Stall);
    let mail = order_mail("evt-hang");
    let abandoned = tokio::time::timeout(Duration::from_millis(300), mailer.send(&mail)).await;
    assert!(abandoned.is_err(), "the server never answered");
    the_next_mails_are_answered_for_themselves(&server, &mailer).await;
}

/// After a mail (`evt-hang`) was abandoned on a stalled server: its answers
/// arrive late (the mail is taken once the mode changes). On that
/// connection the next mail would take each answer for the one before, so
/// a server that drops it after its final dot would seem to have said yes.
async fn the_next_mails_are_answered_for_themselves(server: &SmtpServer, mailer: &Mailer) {
    // A moment passes, as between two mails: lettre puts a connection back
    // in its pool just after a send.
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.set_mode(SmtpMode::DropAfterData);
    assert_transient(
        mailer.send(&order_mail("evt-lost")).await,
        "dropped after an abandoned exchange",
    );
    server.set_mode(SmtpMode::Accept);
    mailer.send(&order_mail("evt-after")).await.expect("sent");
    let ids: Vec<String> = server
        .wait_for_count(2, ARRIVES_WITHIN)
        .await
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(ids, ["evt-hang@kassa.example", "evt-after@kassa.example"]);
}

#[tokio::test]
async fn a_refused_recipient_is_permanent() {
    let server = SmtpServer::start().await;
    let (mailer, _dir) = mailer(&smtp_settings(&server));
    let mut mail = order_mail("evt-refused");
    mail.to_address = "refuse-me@example.com".into();
    let result = mailer.send(&mail).await;
    assert!(
        matches!(&result, Err(SendError::Permanent(why)) if why.contains("550")),
        "{result:?}"
    );
    assert!(server.received().is_empty());

    mailer
        .send(&order_mail("evt-next"))
        .await
        .expect("the next mail goes out");
}

#[tokio::test]
async fn a_refused_login_is_no_verdict_on_the_mail() {
    let server = SmtpServer::start().await;
    let mut settings = smtp_settings(&server);
    settings.username = Some("refused-user".to_owned().into());
    settings.password = Some("wrong".to_owned().into());
    let (mailer, _dir) = mailer(&settings);
    let result = mailer.send(&order_mail("evt-login")).await;
    assert!(
        matches!(&result, Err(SendError::Transient(why)) if why.contains("535")),
        "the mail goes once the login is fixed: {result:?}"
    );
}

#[tokio::test]
async fn mails_share_pooled_connections_and_log_in() {
    let server = SmtpServer::start().await;
    let mut settings = smtp_settings(&server);
    settings.username = Some("shop-user".to_owned().into());
    settings.password = Some("s3cret-pass".to_owned().into());
    let (mailer, _dir) = mailer(&settings);
    let clone = mailer.clone();

    for n in 0..3 {
        mailer
            .send(&order_mail(&format!("evt-pool-{n}")))
            .await
            .expect("sent");
    }
    clone
        .send(&order_mail("evt-pool-clone"))
        .await
        .expect("sent");

    let received = server.wait_for_count(4, ARRIVES_WITHIN).await;
    assert!(
        received
            .iter()
            .all(|m| m.login.as_deref() == Some("shop-user"))
    );
    // lettre hands a connection back to its pool just after the send, so
    // the mail right after may open a second one; never one per mail.
    assert!(
        server.connections() <= 2,
        "{} connections for 4 mails",
        server.connections()
    );
    let described = format!("{} {mailer:?}", mailer.describe());
    assert!(
        described.contains(&server.url()["smtp://".len()..]),
        "{described}"
    );
    assert!(
        !described.contains("s3cret") && !described.contains("shop-user"),
        "{described}"
    );
}

#[tokio::test]
async fn the_file_transport_writes_one_readable_eml_per_mail() {
    let settings = Settings::default().mail;
    assert_eq!(settings.transport, MailTransportKind::File, "the default");
    let (mailer, data_dir) = mailer(&settings);
    let dir = data_dir.path().join("mail");
    assert!(mailer.describe().contains(&dir.display().to_string()));

    mailer
        .send(&order_mail("evt-file-1"))
        .await
        .expect("written");
    let mut second = order_mail("evt-file-2");
    second.subject = "Versand – Ihre Bestellung".into();
    mailer.send(&second).await.expect("written");

    let mut subjects: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("mail dir")
        .map(|entry| entry.expect("entry").path())
        .inspect(|path| assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml")))
        .map(|path| {
            let raw = std::fs::read(&path).expect("eml");
            let mail = mail_parser::MessageParser::default()
                .parse(&raw)
                .expect("readable");
            (
                mail.message_id().unwrap_or_default().to_owned(),
                mail.subject().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            (
                "evt-file-1@kassa.example".into(),
                "Your order KA-1001".into()
            ),
            (
                "evt-file-2@kassa.example".into(),
                "Versand – Ihre Bestellung".into()
            ),
        ]
    );
}

fn from_toml(toml: &str) -> Result<Settings, String> {
    Settings::from_figment(
        Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(toml)),
    )
    .map_err(|e| e.to_string())
}

/// The rest of `[mail]`'s checks are unit tests in `src/config.rs`.
#[test]
fn smtp_without_a_url_stops_start_up_naming_mail_url() {
    let err = from_toml("[mail]\ntransport = \"smtp\"").expect_err("no URL");
    assert!(err.contains("mail.url"), "{err}");
    let server_url = "smtps://mail.example.com:465";
    let ok = from_toml(&format!(
        "[mail]\ntransport = \"smtp\"\nurl = \"{server_url}\""
    ))
    .expect("a usable SMTP setting");
    assert_eq!(ok.mail.url, server_url);
}

#[tokio::test]
async fn mail_files_left_half_written_long_ago_are_removed_at_start() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let partial = data_dir.path().join("mail.partial");
    std::fs::create_dir_all(&partial).expect("partial dir");
    // Left by a node killed while writing, an hour ago...
    let abandoned = partial.join("abandoned.eml");
    std::fs::write(&abandoned, b"Subject: cut off").expect("written");
    std::fs::File::options()
        .write(true)
        .open(&abandoned)
        .and_then(|f| f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600)))
        .expect("made old");
    // ...and one another node may be writing now.
    let in_hand = partial.join("in-hand.eml");
    std::fs::write(&in_hand, b"Subject: being written").expect("written");

    let mailer = Mailer::new(&Settings::default().mail, data_dir.path()).expect("mailer");
    assert!(!abandoned.exists(), "the abandoned file is removed");
    assert!(in_hand.exists(), "a file written just now is left");
    mailer
        .send(&order_mail("evt-after"))
        .await
        .expect("written");
    assert_eq!(
        std::fs::read_dir(data_dir.path().join("mail"))
            .expect("mail dir")
            .count(),
        1
    );
}
