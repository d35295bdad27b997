//! Mails to shoppers, received by a real SMTP server: which mails each
//! payment method and back-office action sends, what they say, and that a
//! crash or a mail server that is down loses none and blocks nothing.

use crate::admin_pages::{order_page, press, signed_in_staff};
use crate::back_office::reserved_card_order;
use crate::helpers::*;
use crate::hosted::{choose, hosted_shop, to_the_provider, wait_for};
use crate::registration::wait_for_stat;
use crate::smtp::{ReceivedMail, SmtpMode, SmtpServer};
use kassa::application::fulfilment::{self, Command, Outcome};
use kassa::config::{CaptureMode, MailTransportKind, Settings};
use kassa::domain::fulfilment::DeliveryStatus;
use kassa::domain::mail::MailKind;
use kassa::store::mail::{MailRecord, MailStatus};
use std::time::Duration;

on_both_backends!(
    cash_on_delivery_is_confirmed_once_with_everything_the_shopper_needs,
    cash_in_advance_mails_the_bank_details_and_the_payment_received,
    a_card_order_mails_shipped_delivered_and_the_refund,
    an_expired_convenience_store_payment_mails_the_cancellation,
    a_store_payment_made_before_its_instructions_went_out_withdraws_them,
    a_staff_cancel_mails_why_and_the_money_back,
    a_mail_survives_a_crash_between_commit_and_send,
    a_mail_server_that_is_down_delays_mails_and_blocks_nothing_else,
    staff_see_each_mail_with_its_state_and_content_and_can_send_it_again,
    a_backlog_larger_than_a_batch_goes_out_before_the_next_poll,
);

const STAFF: &str = "admin@kassa.example";
const WITHIN: Duration = Duration::from_secs(10);

/// Mail through `smtp`, and a worker that looks often and retries soon.
pub(crate) fn mail_to(settings: &mut Settings, smtp: &SmtpServer) {
    settings.mail.transport = MailTransportKind::Smtp;
    settings.mail.url = smtp.url();
    settings.mail.timeout_ms = 2_000;
    // A mail claimed by a node that died is taken over after this.
    settings.outbox.lock_ms = 3_000;
    settings.outbox.poll_ms = 50;
    settings.outbox.retry_base_ms = 100;
    settings.outbox.retry_max_ms = 300;
}

async fn offline_order(app: &TestApp, method: &str) -> String {
    app.add_to_cart("hand-grinder", 1).await;
    let success = app
        .buy(&with(
            checkout_form(),
            "payment_method",
            &format!("offline:{method}"),
        ))
        .await;
    order_number(&success)
}

async fn mails_of(app: &TestApp, number: &str) -> Vec<MailRecord> {
    let order = app.order(number).await;
    app.shop.store().order_mails(&order.id).await.unwrap()
}

fn kinds(mails: &[MailRecord]) -> Vec<MailKind> {
    mails.iter().map(|m| m.kind).collect()
}

/// Waits until every mail of the order is sent, then returns them.
async fn all_sent(app: &TestApp, number: &str, count: usize) -> Vec<MailRecord> {
    wait_for("the mails sent", async || {
        let mails = mails_of(app, number).await;
        mails.len() == count && mails.iter().all(|m| m.status == MailStatus::Sent)
    })
    .await;
    mails_of(app, number).await
}

/// A worker that claimed a full batch claims the next at once: at more
/// orders a second than batches a poll, mail must not fall further and
/// further behind.
async fn a_backlog_larger_than_a_batch_goes_out_before_the_next_poll(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.jobs.run = false;
        s.outbox.batch = 2;
        s.outbox.poll_ms = 3_600_000;
    })
    .await;
    let mut numbers = Vec::new();
    for _ in 0..5 {
        numbers.push(offline_order(&app, "cash_on_delivery").await);
    }
    // Its first poll is at once; the next would be in an hour.
    let worker = tokio::spawn(kassa::application::mail::run(app.shop.clone()));
    for number in &numbers {
        all_sent(&app, number, 1).await;
    }
    worker.abort();
}

/// The received mail whose subject starts with `subject`.
fn received<'a>(mails: &'a [ReceivedMail], subject: &str) -> &'a ReceivedMail {
    mails
        .iter()
        .find(|m| m.subject.starts_with(subject))
        .unwrap_or_else(|| {
            let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
            panic!("no mail {subject:?} among {subjects:?}")
        })
}

async fn act(app: &TestApp, number: &str, command: Command) -> Outcome {
    fulfilment::act(&app.shop, number, None, &command, STAFF)
        .await
        .unwrap()
        .expect("order exists")
}

async fn cash_on_delivery_is_confirmed_once_with_everything_the_shopper_needs(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, |s| mail_to(s, &smtp)).await;
    app.add_to_cart("hand-grinder", 1).await;
    // Shopper text that HTML must escape (the form refuses markup and
    // line breaks in names; the mail's own header sanitizing has unit
    // tests in src/mail).
    let form = with(checkout_form(), "billing_first_name", "Zoë & Jo");
    let success = app
        .buy(&with(form, "payment_method", "offline:cash_on_delivery"))
        .await;
    let number = order_number(&success);
    let mails = all_sent(&app, &number, 1).await;
    assert_eq!(kinds(&mails), vec![MailKind::OrderConfirmation]);
    let got = smtp.wait_for_count(1, WITHIN).await;
    let mail = received(&got, &format!("Your order {number}"));
    assert_eq!(mail.envelope_to, vec!["ann@example.com".to_owned()]);
    assert_eq!(mail.message_id, format!("{}@kassa.example", mails[0].id));
    assert!(mail.header("Bcc").is_empty(), "{:?}", mail.headers);
    for part in [&mail.text, &mail.html] {
        for needed in [
            number.as_str(),
            "Hand grinder",
            "Cash on delivery",
            "Included VAT",
            "Invalidenstraße 117",
            "10115 Berlin",
            "Beispielstraße 1",
        ] {
            assert!(part.contains(needed), "{needed:?} missing in {part}");
        }
    }
    assert!(
        mail.html.contains("Hello Zoë &#38; Jo Lee,"),
        "{}",
        mail.html
    );
    assert!(mail.text.contains("Hello Zoë & Jo Lee,"), "{}", mail.text);
    assert_eq!(mail.to, "Zoë & Jo Lee <ann@example.com>");
    // The link in the mail opens the order, without logging in.
    let link = mail
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Your order, at any time: "))
        .expect("the order link")
        .to_owned();
    assert!(link.starts_with(&app.address), "{link}");
    let page = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert!(page.contains(&number), "{page}");
    // Nothing else arrives later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
}

async fn cash_in_advance_mails_the_bank_details_and_the_payment_received(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, |s| mail_to(s, &smtp)).await;
    let number = offline_order(&app, "cash_in_advance").await;
    let mails = all_sent(&app, &number, 2).await;
    assert_eq!(
        kinds(&mails),
        vec![MailKind::OrderConfirmation, MailKind::PaymentInstructions]
    );
    let got = smtp.wait_for_count(2, WITHIN).await;
    let how = received(&got, &format!("How to pay for order {number}"));
    for needed in [
        "DE02 1203 0000 0000 2020 51",
        "BYLADEM1001",
        "Kassa Demo Shop",
        &format!("Reference: {number}"),
        "within 14 days",
    ] {
        assert!(how.text.contains(needed), "{needed:?} in {}", how.text);
    }
    assert!(how.html.contains("DE02 1203 0000 0000 2020 51"));
    let confirmation = received(&got, &format!("Your order {number}"));
    assert!(
        confirmation.text.contains("IBAN: DE02"),
        "{}",
        confirmation.text
    );

    assert_eq!(act(&app, &number, Command::MarkPaid).await, Outcome::Done);
    let got = smtp.wait_for_count(3, WITHIN).await;
    let paid = received(&got, &format!("Payment received for order {number}"));
    assert!(paid.text.contains("we have received your payment"));
    // Marked paid again (another tab): refused, and no second mail.
    assert!(matches!(
        act(&app, &number, Command::MarkPaid).await,
        Outcome::Refused(_)
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 3);
}

async fn a_card_order_mails_shipped_delivered_and_the_refund(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = hosted_shop(backend, |s| {
        s.payment.hosted.capture = CaptureMode::Manual;
        mail_to(s, &smtp);
    })
    .await;
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    smtp.wait_for_count(1, WITHIN).await;
    let command = Command::CreateDelivery {
        lines: vec![(0, 1)],
        carrier: Some("DHL".into()),
        tracking_number: Some("JJD000123".into()),
    };
    assert_eq!(act(&app, &number, command).await, Outcome::Done);
    let sheet = fulfilment::order_sheet(&app.shop, &number)
        .await
        .unwrap()
        .unwrap();
    let delivery = sheet.stored.deliveries[0].id.clone();
    for to in [DeliveryStatus::Shipped, DeliveryStatus::Delivered] {
        let command = Command::MoveDelivery {
            delivery_id: delivery.clone(),
            to,
        };
        assert_eq!(act(&app, &number, command).await, Outcome::Done);
    }
    let got = smtp.wait_for_count(3, WITHIN).await;
    let shipped = received(&got, &format!("Order {number} is on its way"));
    for needed in [
        "1 x Hand grinder",
        "Carrier: DHL",
        "Tracking number: JJD000123",
    ] {
        assert!(
            shipped.text.contains(needed),
            "{needed:?} in {}",
            shipped.text
        );
    }
    assert!(shipped.html.contains("JJD000123"));
    received(&got, &format!("Order {number} was delivered"));

    wait_for("the capture", async || {
        app.order(&number).await.payment.unwrap().captured_minor > 0
    })
    .await;
    let refund = Command::Refund { amount_minor: 500 };
    assert_eq!(act(&app, &number, refund).await, Outcome::Done);
    let got = smtp.wait_for_count(4, WITHIN).await;
    let refunded = received(&got, "Refund of ");
    assert!(refunded.subject.contains(&number), "{}", refunded.subject);
    assert!(refunded.text.contains("5.00"), "{}", refunded.text);
    assert_eq!(
        kinds(&all_sent(&app, &number, 4).await),
        vec![
            MailKind::OrderConfirmation,
            MailKind::Shipped,
            MailKind::Delivered,
            MailKind::RefundIssued
        ]
    );
}

async fn an_expired_convenience_store_payment_mails_the_cancellation(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = hosted_shop(backend, |s| mail_to(s, &smtp)).await;
    let pay_url = to_the_provider(&app, "convenience_store").await;
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = choose(&app, &pay_url, "convenience_store").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    let number = order_number(&success);
    let got = smtp.wait_for_count(2, WITHIN).await;
    let how = received(&got, &format!("How to pay for order {number}"));
    assert!(
        how.text.contains("at any convenience store by "),
        "{}",
        how.text
    );
    let expire = format!(
        "{}/console/{session_id}/expire",
        app.sandbox.as_ref().unwrap()
    );
    app.client.post(expire).send().await.unwrap();
    let got = smtp.wait_for_count(3, WITHIN).await;
    let cancelled = received(&got, &format!("Order {number} was cancelled"));
    assert!(
        cancelled.text.contains("did not arrive in time"),
        "{}",
        cancelled.text
    );
    assert_eq!(
        kinds(&all_sent(&app, &number, 3).await),
        vec![
            MailKind::OrderConfirmation,
            MailKind::PaymentInstructions,
            MailKind::Cancelled
        ]
    );
}

async fn a_store_payment_made_before_its_instructions_went_out_withdraws_them(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.set_mode(SmtpMode::Down);
    let app = hosted_shop(backend, |s| mail_to(s, &smtp)).await;
    let pay_url = to_the_provider(&app, "convenience_store").await;
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();
    let back = choose(&app, &pay_url, "convenience_store").await;
    let success = location(&app.client.get(location(&back)).send().await.unwrap());
    let number = order_number(&success);
    wait_for("a failed try of the instructions", async || {
        mails_of(&app, &number)
            .await
            .iter()
            .any(|m| m.kind == MailKind::PaymentInstructions && m.attempts > 0)
    })
    .await;
    let paid = format!(
        "{}/console/{session_id}/paid",
        app.sandbox.as_ref().unwrap()
    );
    app.client.post(paid).send().await.unwrap();
    wait_for("the payment", async || {
        app.order(&number).await.status == kassa::domain::order::OrderStatus::Placed
    })
    .await;
    smtp.set_mode(SmtpMode::Accept);

    let got = smtp.wait_for_count(2, WITHIN).await;
    received(&got, &format!("Payment received for order {number}"));
    wait_for("the instructions withdrawn", async || {
        mails_of(&app, &number)
            .await
            .iter()
            .all(|m| m.status != MailStatus::Queued)
    })
    .await;
    let mails = mails_of(&app, &number).await;
    let instructions = mails
        .iter()
        .find(|m| m.kind == MailKind::PaymentInstructions)
        .unwrap();
    assert_eq!(instructions.status, MailStatus::Withdrawn);
    assert!(
        instructions.state_text().contains("no longer needed"),
        "{}",
        instructions.state_text()
    );
    assert!(
        mails
            .iter()
            .filter(|m| m.kind != MailKind::PaymentInstructions)
            .all(|m| m.status == MailStatus::Sent),
        "the others are sent"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = smtp.received();
    assert_eq!(got.len(), 2, "no instructions for a paid order");
    assert!(got.iter().all(|m| !m.subject.starts_with("How to pay")));
}

async fn a_staff_cancel_mails_why_and_the_money_back(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = hosted_shop(backend, |s| mail_to(s, &smtp)).await;
    // Captured at once: cancelling pays it back.
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    smtp.wait_for_count(1, WITHIN).await;
    assert_eq!(act(&app, &number, Command::Cancel).await, Outcome::Done);
    let got = smtp.wait_for_count(3, WITHIN).await;
    let cancelled = received(&got, &format!("Order {number} was cancelled"));
    assert!(
        cancelled.text.contains("we had to cancel"),
        "{}",
        cancelled.text
    );
    let total = app.order(&number).await.totals.total;
    let refunded = received(&got, &format!("Refund of {total}"));
    assert!(refunded.text.contains(&total.to_string()));
}

async fn a_mail_survives_a_crash_between_commit_and_send(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.set_mode(SmtpMode::Down);
    let app = spawn_app_with(backend, |s| mail_to(s, &smtp)).await;
    let number = offline_order(&app, "cash_on_delivery").await;
    // Committed with the order, not sent: the server is down.
    wait_for("a failed try", async || {
        mails_of(&app, &number)
            .await
            .first()
            .is_some_and(|m| m.attempts > 0 && m.last_error.is_some())
    })
    .await;
    let app = app.crash_and_restart().await;
    smtp.set_mode(SmtpMode::Accept);
    let got = smtp.wait_for_count(1, WITHIN).await;
    assert!(got[0].subject.contains(&number));
    let mails = all_sent(&app, &number, 1).await;
    assert!(mails[0].last_error.is_none());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1, "sent once");
}

async fn a_mail_server_that_is_down_delays_mails_and_blocks_nothing_else(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.set_mode(SmtpMode::Stall);
    let app = hosted_shop(backend, |s| {
        s.registration.enabled = true;
        mail_to(s, &smtp);
    })
    .await;
    // A mail server that hangs mid-mail: the shopper still checks out and
    // the customer system still hears of the order.
    let number = reserved_card_order(&app, &[("hand-grinder", 1)]).await;
    wait_for_stat(&app, "confirmed", 1).await;
    let second = offline_order(&app, "cash_on_delivery").await;
    smtp.set_mode(SmtpMode::Down);
    wait_for("the tries noted", async || {
        mails_of(&app, &second)
            .await
            .first()
            .is_some_and(|m| m.status == MailStatus::Queued && m.attempts > 0)
    })
    .await;
    smtp.set_mode(SmtpMode::Accept);
    all_sent(&app, &number, 1).await;
    all_sent(&app, &second, 1).await;
    let got = smtp.received();
    for number in [&number, &second] {
        let copies = got
            .iter()
            .filter(|m| m.subject.contains(number.as_str()))
            .count();
        assert!(
            (1..=2).contains(&copies),
            "{number}: {copies} copies (a stalled server may get one twice)"
        );
    }
}

async fn staff_see_each_mail_with_its_state_and_content_and_can_send_it_again(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, |s| mail_to(s, &smtp)).await;
    let number = offline_order(&app, "cash_on_delivery").await;
    let first = all_sent(&app, &number, 1).await;
    // A second order to an address the server refuses for good.
    app.add_to_cart("hand-grinder", 1).await;
    let refused = order_number(
        &app.buy(&with(checkout_form(), "email", "refuse-me@example.com"))
            .await,
    );
    wait_for("the refusal kept", async || {
        mails_of(&app, &refused)
            .await
            .first()
            .is_some_and(|m| m.status == MailStatus::Failed)
    })
    .await;

    let staff = signed_in_staff(&app).await;
    let page = order_page(&staff, &number).await;
    assert!(
        page.contains("Mail “Order confirmation” to ann@example.com: sent"),
        "{page}"
    );
    assert!(
        page.contains(&format!("Show “Your order {number} at Kassa Demo Shop”")),
        "the sent content is shown"
    );
    assert!(
        page.contains("Cash on delivery"),
        "the mail's text is on the page"
    );
    let page = order_page(&staff, &refused).await;
    assert!(
        page.contains("Mail “Order confirmation” to refuse-me@example.com: failed ("),
        "failed, with why: {page}"
    );

    let resend = format!("/mails/{}/resend", first[0].id);
    let response = press(&staff, &number, &resend, &[]).await;
    assert_redirect(
        &response,
        &format!("/admin/orders/{number}?done=mail_resent"),
    );
    let got = smtp.wait_for_count(2, WITHIN).await;
    assert_eq!(got[0].subject, got[1].subject);
    assert_eq!(got[0].text, got[1].text);
    assert_ne!(got[0].message_id, got[1].message_id, "a new mail");
    let mails = all_sent(&app, &number, 2).await;
    assert_eq!(mails[1].actor, STAFF);
    // Without the staff session's token nothing is sent.
    let forged = staff
        .client
        .post(staff.url(&format!("/admin/orders/{number}{resend}")))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error(), "{}", forged.status());
    // Another order's mail is not this order's to send.
    let elsewhere = press(&staff, &refused, &resend, &[]).await;
    assert_eq!(elsewhere.status(), reqwest::StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails_of(&app, &number).await.len(), 2);
}

#[tokio::test]
async fn cash_in_advance_is_not_offered_without_bank_details() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.payment.offline.account_holder.clear();
        s.payment.offline.iban.clear();
        s.payment.offline.bic.clear();
    })
    .await;
    app.add_to_cart("hand-grinder", 1).await;
    app.get("/checkout/start").await;
    let form = app.get_html("/checkout").await;
    assert!(form.contains("offline:cash_on_delivery"), "{form}");
    assert!(!form.contains("offline:cash_in_advance"), "{form}");
    let refused = app
        .submit_checkout(&with(
            checkout_form(),
            "payment_method",
            "offline:cash_in_advance",
        ))
        .await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.order_count().await, 0);
}
